//! The holder's controls on his DSP: professionals he blocks, documents he hides, his
//! objections to filing, the risks he acknowledged, his assistant.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use sante_http::{HttpError, Layout};

use crate::i18n::Msg;
use crate::{DspForm, DspPage, DspWeb, HolderForm};

struct CareRow {
    id: String,
    kind: &'static str,
    who: String,
    until: String,
    objected: bool,
}

#[derive(Template)]
#[template(path = "dsp_controls.html")]
struct ControlsPage<'a> {
    layout: &'a Layout,
    holder: &'a str,
    is_holder: bool,
    blocked: Vec<String>,
    acknowledged: Option<String>,
    restrictions: Vec<(String, String)>,
    care: Vec<CareRow>,
    assistants: Vec<String>,
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
    page.portal.personal_page(&ControlsPage {
        layout: &page.portal.layout,
        holder: &holder,
        is_holder: page.caller.entry == holder,
        blocked: controls.blocked.clone(),
        acknowledged: controls
            .risk_acknowledged
            .map(|a| a.format("%Y-%m-%d").to_string()),
        restrictions: controls
            .restrictions
            .iter()
            .map(|r| (r.item.clone(), r.professional.clone()))
            .collect(),
        care: care
            .iter()
            .map(|r| CareRow {
                id: r.id.clone(),
                kind: r.kind.code(),
                who: r
                    .professional
                    .clone()
                    .or(r.establishment.clone())
                    .unwrap_or_default(),
                until: r.end.format("%Y-%m-%d %H:%M").to_string(),
                objected: controls.filing_objections.contains(&r.id),
            })
            .collect(),
        assistants: controls
            .assistants
            .iter()
            .map(|a| a.patient.clone())
            .collect(),
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
            .appoint_assistant(c, &holder, form.patient.trim())
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
        Err(e) => page.portal.failure(&e),
    }
}
