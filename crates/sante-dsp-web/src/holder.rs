//! The holder's DSP page (the timeline, his notices, the organ-donation question, the
//! access code he gives) and his actions on the DSP.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use sante_dsp::DspError;
use sante_dsp::model::{CareRecord, NoticeKind, RecordState};
use sante_dsp::service::OrganDonation;
use sante_http::{HttpError, Layout};
use sante_types::Quality;

use crate::i18n::Msg;
use crate::{DspForm, DspPage, DspWeb, HolderForm, ItemRow, categories, filters, param, rows};

struct NoticeRow {
    at: String,
    text: Msg,
    who: String,
}

#[derive(Template)]
#[template(path = "dsp.html")]
struct HolderPage<'a> {
    layout: &'a Layout,
    holder: &'a str,
    state: Option<&'static str>,
    refused: Option<&'a str>,
    assisted: Vec<sante_dsp::service::Assisted>,
    organ_question: bool,
    notices: Vec<NoticeRow>,
    access_code: Option<String>,
    categories: Vec<(String, String)>,
    category: &'a str,
    author: &'a str,
    from: &'a str,
    until: &'a str,
    items: Vec<ItemRow>,
    document_base: &'a str,
}

fn state_code(r: &CareRecord) -> &'static str {
    match r.state {
        RecordState::Created => "created",
        RecordState::Active => "active",
        RecordState::Closed => "closed",
    }
}

async fn holder_view(
    web: &DspWeb,
    page: &DspPage,
    pairs: &[(String, String)],
    access_code: Option<String>,
) -> Response {
    let portal = &page.portal;
    let caller = &page.caller;
    let holder = match param(pairs, "holder") {
        "" => caller.entry.clone(),
        h => h.to_owned(),
    };
    let assisted = match web.dsp.assisted(caller).await {
        Ok(list) => list,
        Err(e) => return portal.failure(&e),
    };
    let (record, refused) = match web.dsp.record(caller, &holder).await {
        Ok(r) => (Some(r), None),
        Err(DspError::NotFound(_)) => (None, None),
        Err(DspError::Denied(reason)) => (None, Some(reason)),
        Err(e) => return portal.failure(&e),
    };
    let mut notices = Vec::new();
    let mut items = Vec::new();
    let mut organ_question = false;
    if let Some(r) = record.as_ref().filter(|r| r.state != RecordState::Closed) {
        organ_question = !r.organ_donation_asked && caller.entry == holder;
        let listed = match web.dsp.notices(caller, &holder).await {
            Ok(list) => list,
            // The notices are the holder's own: whoever else reads the DSP sees none.
            Err(DspError::Denied(_)) => Vec::new(),
            Err(e) => return portal.failure(&e),
        };
        let mut names = crate::names::Names::new(&web.directory, portal.layout.lang);
        for n in listed.into_iter().take(20) {
            let (text, who) = match n.kind {
                NoticeKind::FirstProfessionalAccess { professional } => (
                    Msg::DspNoticeFirstAccess,
                    names.professional(&professional).await,
                ),
                NoticeKind::ProfessionalWithdrawn { professional } => (
                    Msg::DspNoticeWithdrawn,
                    names.professional(&professional).await,
                ),
                NoticeKind::Closed => (Msg::DspNoticeClosed, String::new()),
            };
            notices.push(NoticeRow {
                at: n.at.format("%Y-%m-%d %H:%M").to_string(),
                text,
                who,
            });
        }
        match web
            .dsp
            .search(caller, &holder, &filters(pairs), 0, 200)
            .await
        {
            Ok(found) => items = found.items,
            Err(e) => return portal.failure(&e),
        }
    }
    portal.personal_page(&HolderPage {
        layout: &portal.layout,
        holder: &holder,
        state: record.as_ref().map(state_code),
        refused,
        assisted,
        organ_question,
        notices,
        access_code,
        categories: categories(portal.layout.lang),
        category: param(pairs, "category"),
        author: param(pairs, "author"),
        from: param(pairs, "from"),
        until: param(pairs, "until"),
        items: rows(web, page, &items, param(pairs, "author")).await,
        document_base: "/dsp/document",
    })
}

pub async fn holder_page(State(web): State<DspWeb>, page: DspPage) -> Response {
    if page.caller.quality == Quality::Professional {
        return page.portal.redirect("/pro/dsp");
    }
    holder_view(&web, &page, &page.query, None).await
}

/// The holder's actions on his DSP: each one, then back to the DSP page.
pub async fn holder_action(
    State(web): State<DspWeb>,
    Path(action): Path<String>,
    DspForm { page, form }: DspForm<HolderForm>,
) -> Response {
    let holder = form.holder(&page);
    let c = &page.caller;
    let d = &web.dsp;
    let result: Result<(), DspError> = match action.as_str() {
        "create" if holder == c.entry => d.create(&holder, &c.source).await.map(|_| ()),
        "activate" => d.activate(c, &holder).await.map(|_| ()),
        "object" => d.object(c, &holder).await,
        "close" => d.close(c, &holder).await,
        "reopen" => d.reopen(c, &holder).await.map(|_| ()),
        "code" => match d.issue_access_code(c, &holder).await {
            Ok(code) => {
                let pairs = [("holder".to_owned(), holder)];
                return holder_view(&web, &page, &pairs, Some(code.code)).await;
            }
            Err(e) => Err(e),
        },
        "organ-donation" => {
            let answer = match form.answer.as_str() {
                "consents" => OrganDonation::Consents,
                "objects" => OrganDonation::Objects,
                _ => OrganDonation::NoAnswer,
            };
            d.answer_organ_donation(c, &holder, answer).await
        }
        "personal" => d
            .write_personal(c, &holder, &form.kind, &form.title, &form.text)
            .await
            .map(|_| ()),
        _ => return page.portal.error(HttpError::NotFound),
    };
    match result {
        Ok(()) => page.portal.redirect(&format!("/dsp?holder={holder}")),
        Err(e) => page.portal.failure(&e),
    }
}
