//! The DSP's access history, for the holder and the professionals who may see it:
//! who acted, by name, and what was done and with what outcome, in words (DSP-27).

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use sante_dsp::model::HistoryEntry;
use sante_http::Layout;
use sante_types::Quality;

use crate::i18n::Msg;
use crate::names::{Names, action};
use crate::{DspPage, DspWeb};

struct HistoryRow {
    at: String,
    who: String,
    /// The action's code, kept for the page's machine readers (tests, scripts).
    code: String,
    action: Msg,
    /// A link to the document acted on, when the reader may follow it.
    document: Option<String>,
    allowed: bool,
    outcome: Msg,
}

#[derive(Template)]
#[template(path = "dsp_history.html")]
struct HistoryPage<'a> {
    layout: &'a Layout,
    entries: Vec<HistoryRow>,
    back: String,
}

/// The refusal in words; its reason only for the holder and his assistant (a
/// professional reading the history learns that an access was refused, not why).
fn outcome(code: &str, for_the_holder: bool) -> Msg {
    match code {
        "permit" => Msg::DspAllowed,
        _ if !for_the_holder => Msg::DspOutcomeRefused,
        "blocked_by_holder" => Msg::DspRefusedBlocked,
        "restricted_by_holder" => Msg::DspRefusedRestricted,
        "no_care_relationship" => Msg::DspRefusedNoCare,
        "dsp_closed" => Msg::DspRefusedClosed,
        "dsp_not_yet_open" => Msg::DspRefusedNotOpen,
        "authorisation_withdrawn" => Msg::DspRefusedWithdrawn,
        "assurance_too_low" => Msg::DspRefusedAssurance,
        "matrix" => Msg::DspRefusedMatrix,
        "holder_objects_to_filing" => Msg::DspRefusedObjection,
        _ => Msg::DspOutcomeRefused,
    }
}

pub async fn history_page(State(web): State<DspWeb>, page: DspPage) -> Response {
    let holder = page.holder();
    let entries = match web.dsp.history(&page.caller, &holder, 1_000).await {
        Ok(e) => e,
        Err(e) => return page.portal.failure(&e),
    };
    let professional = page.caller.quality == Quality::Professional;
    let (back, document_base) = if professional {
        (
            format!("/pro/dsp/patient?holder={holder}"),
            "/pro/dsp/document",
        )
    } else {
        (format!("/dsp?holder={holder}"), "/dsp/document")
    };
    let layout = &page.portal.layout;
    let mut names = Names::new(&web.directory, layout.lang);
    let mut rows = Vec::with_capacity(entries.len());
    for h in entries {
        let who = who(&mut names, layout, &page, &h).await;
        let allowed = h.outcome == "permit";
        rows.push(HistoryRow {
            at: h.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            who,
            action: action(&h.action),
            document: h
                .item
                .as_deref()
                .filter(|_| allowed)
                .map(|item| format!("{document_base}/{item}?holder={holder}")),
            allowed,
            outcome: outcome(&h.outcome, !professional),
            code: h.action,
        });
    }
    page.portal.personal_page(&HistoryPage {
        layout,
        entries: rows,
        back,
    })
}

/// Who acted, as the reader of the history says it.
async fn who(names: &mut Names<'_>, layout: &Layout, page: &DspPage, h: &HistoryEntry) -> String {
    if h.account == page.caller.account {
        return layout.t(Msg::DspWhoYou).to_owned();
    }
    if let Some(establishment) = &h.establishment {
        let name = match &h.professional {
            Some(p) => format!(
                "{} — {}",
                names.professional(p).await,
                names.establishment(establishment).await
            ),
            None => names.establishment(establishment).await,
        };
        return format!("{name}, {}", layout.t(Msg::DspViaSystem));
    }
    if let Some(p) = &h.professional {
        return names.professional(p).await;
    }
    let reader_is_holder = page.caller.entry == page.holder();
    layout
        .t(match h.role.as_str() {
            "holder" => Msg::DspWhoHolder,
            "assistant" if reader_is_holder => Msg::DspWhoYourAssistant,
            "assistant" => Msg::DspWhoAssistant,
            "agent" => Msg::DspWhoAgent,
            _ => Msg::DspWhoOtherPatient,
        })
        .to_owned()
}
