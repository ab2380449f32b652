//! The holder's controls on his DSP: professionals he blocks, documents he hides, his
//! objections to filing, the risks he acknowledged, his assistant.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use sante_dsp::DspError;
use sante_http::{HttpError, Layout};

use crate::i18n::Msg;
use crate::names::{Names, candidates, care_kind};
use crate::{DspForm, DspPage, DspWeb, HolderForm};

struct CareRow {
    id: String,
    kind: &'static str,
    kind_words: Msg,
    who: String,
    until: String,
    objected: bool,
}

/// A document hidden from a professional: the link to it, and whom from.
struct Restriction {
    item: String,
    professional: String,
    name: String,
}

#[derive(Template)]
#[template(path = "dsp_controls.html")]
struct ControlsPage<'a> {
    layout: &'a Layout,
    holder: &'a str,
    is_holder: bool,
    blocked: Vec<(String, String)>,
    acknowledged: Option<String>,
    restrictions: Vec<Restriction>,
    care: Vec<CareRow>,
    /// `(patient id, name, since)`.
    assistants: Vec<(String, String, String)>,
    /// The professionals the holder may pick to forbid: those of his care, then those
    /// his search found.
    candidates: Vec<(String, String)>,
    find: &'a str,
    town: &'a str,
    found_none: bool,
    /// The assistant named was not found (name and number do not match a patient).
    assistant_unknown: bool,
}

pub async fn controls_page(State(web): State<DspWeb>, page: DspPage) -> Response {
    let holder = page.holder();
    let record = match web.dsp.record(&page.caller, &holder).await {
        Ok(r) => r,
        Err(e) => return page.portal.failure(&e),
    };
    let care = match web.dsp.care_relationships(&page.caller, &holder).await {
        Ok(list) => list,
        Err(e) => return page.portal.failure(&e),
    };
    let controls = &record.controls;
    let layout = &page.portal.layout;
    let mut names = Names::new(&web.directory, layout.lang);
    let mut blocked = Vec::new();
    for id in &controls.blocked {
        blocked.push((id.clone(), names.professional(id).await));
    }
    let mut restrictions = Vec::new();
    for r in &controls.restrictions {
        restrictions.push(Restriction {
            item: r.item.clone(),
            professional: r.professional.clone(),
            name: names.professional(&r.professional).await,
        });
    }
    let mut rows = Vec::new();
    for r in &care {
        let who = match (&r.professional, &r.establishment) {
            (Some(p), _) => names.professional(p).await,
            (None, Some(e)) => names.establishment(e).await,
            (None, None) => String::new(),
        };
        rows.push(CareRow {
            id: r.id.clone(),
            kind: r.kind.code(),
            kind_words: care_kind(r.kind),
            who,
            until: r.end.format("%Y-%m-%d %H:%M").to_string(),
            objected: controls.filing_objections.contains(&r.id),
        });
    }
    let (find, town) = (page.param("find"), page.param("town"));
    let known = care
        .iter()
        .filter_map(|r| r.professional.clone())
        .filter(|p| !controls.blocked.contains(p))
        .collect::<Vec<_>>();
    let known_count = known.len();
    let candidates = candidates(&mut names, known, find, town).await;
    page.portal.personal_page(&ControlsPage {
        layout,
        holder: &holder,
        is_holder: page.caller.entry == holder,
        blocked,
        acknowledged: controls
            .risk_acknowledged
            .map(|a| a.format("%Y-%m-%d").to_string()),
        restrictions,
        care: rows,
        assistants: controls
            .assistants
            .iter()
            .map(|a| {
                (
                    a.patient.clone(),
                    a.name
                        .clone()
                        .unwrap_or_else(|| names.says(Msg::DspWhoAssistant)),
                    a.since.format("%Y-%m-%d").to_string(),
                )
            })
            .collect(),
        found_none: !find.trim().is_empty() && candidates.len() == known_count,
        assistant_unknown: page.param("assistant") == "unknown",
        candidates,
        find,
        town,
    })
}

pub async fn controls_action(
    State(web): State<DspWeb>,
    Path(action): Path<String>,
    DspForm { page, form }: DspForm<HolderForm>,
) -> Response {
    let holder = form.holder(&page);
    let (c, d) = (&page.caller, &web.dsp);
    let pro = form.professional.trim();
    let result = match action.as_str() {
        "block" => d.block(c, &holder, pro).await.map(|_| ()),
        "unblock" => d.unblock(c, &holder, pro).await.map(|_| ()),
        "acknowledge" => d.acknowledge_risks(c, &holder).await.map(|_| ()),
        "unrestrict" => d.unrestrict(c, &holder, &form.item, pro).await.map(|_| ()),
        "object-filing" => d
            .object_to_filing(c, &holder, &form.relationship, form.objects == "yes")
            .await
            .map(|_| ()),
        "assistant" => d
            .appoint_assistant_named(c, &holder, &form.national_id, &form.family_name)
            .await
            .map(|_| ()),
        "assistant-revoke" => d
            .revoke_assistant(c, &holder, form.patient.trim())
            .await
            .map(|_| ()),
        _ => return page.portal.error(HttpError::NotFound),
    };
    match result {
        Ok(()) => page
            .portal
            .redirect(&format!("/dsp/controls?holder={holder}")),
        // Nobody with this name and number: said at the form, in words.
        Err(DspError::Invalid(_)) if action == "assistant" => page.portal.redirect(&format!(
            "/dsp/controls?holder={holder}&assistant=unknown#assistant-heading"
        )),
        Err(e) => page.portal.failure(&e),
    }
}
