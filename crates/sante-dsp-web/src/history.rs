//! The DSP's access history, for the holder and the professionals who may see it.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use sante_http::Layout;
use sante_types::Quality;

use crate::i18n::Msg;
use crate::{DspPage, DspWeb};

struct HistoryRow {
    at: String,
    who: String,
    role: String,
    establishment: String,
    action: String,
    item: String,
    outcome: String,
}

#[derive(Template)]
#[template(path = "dsp_history.html")]
struct HistoryPage<'a> {
    layout: &'a Layout,
    entries: Vec<HistoryRow>,
    back: String,
}

pub async fn history_page(State(web): State<DspWeb>, page: DspPage) -> Response {
    let holder = page.holder();
    let entries = match web.dsp.history(&page.caller, &holder, 1_000).await {
        Ok(e) => e,
        Err(e) => return page.portal.failure(&e),
    };
    let back = if page.caller.quality == Quality::Professional {
        format!("/pro/dsp/patient?holder={holder}")
    } else {
        format!("/dsp?holder={holder}")
    };
    page.portal.personal_page(&HistoryPage {
        layout: &page.portal.layout,
        entries: entries
            .into_iter()
            .map(|h| HistoryRow {
                at: h.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                who: h.professional.unwrap_or(h.account),
                role: h.role,
                establishment: h.establishment.unwrap_or_default(),
                action: h.action,
                item: h.item.unwrap_or_default(),
                outcome: h.outcome,
            })
            .collect(),
        back,
    })
}
