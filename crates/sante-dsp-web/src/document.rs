//! A document of the DSP, for the holder and for a professional: its page, its
//! content, and the holder's controls on it (keep it beyond ten years, hide it from a
//! professional). What the caller may not read does not exist for him: a refusal is
//! answered as a document not found, as the FHIR API answers it.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use sante_dsp::DspError;
use sante_dsp::model::ItemStatus;
use sante_http::{HttpError, Layout};

use crate::i18n::Msg;
use crate::{DspForm, DspPage, DspWeb, HolderForm, author};

#[derive(Template)]
#[template(path = "dsp_document.html")]
struct DocumentPage<'a> {
    layout: &'a Layout,
    id: &'a str,
    holder: &'a str,
    title: &'a str,
    category: &'a str,
    date: String,
    author: String,
    status: Msg,
    text: Option<String>,
    content_url: String,
    holder_view: bool,
    kept: Option<String>,
    back: String,
    /// Whom the holder may hide the document from: the professionals of his care,
    /// then those his search found.
    candidates: Vec<(String, String)>,
    find: &'a str,
    town: &'a str,
}

/// What a refused read answers: nothing tells the caller that the document exists.
fn unreadable(page: &DspPage, e: DspError) -> Response {
    match e {
        DspError::Denied(_) | DspError::NotFound(_) => page.portal.error(HttpError::NotFound),
        e => page.portal.failure(&e),
    }
}

async fn document_view(web: &DspWeb, page: DspPage, id: &str, professional: bool) -> Response {
    let retrieved = match web.dsp.retrieve(&page.caller, id).await {
        Ok(r) => r,
        Err(e) => return unreadable(&page, e),
    };
    let item = &retrieved.item;
    let text = (item.mime_type == "text/plain")
        .then(|| String::from_utf8_lossy(&retrieved.content).into_owned());
    let prefix = if professional { "/pro/dsp" } else { "/dsp" };
    let back = if professional {
        format!("/pro/dsp/patient?holder={}", item.record)
    } else {
        format!("/dsp?holder={}", item.record)
    };
    let layout = &page.portal.layout;
    let mut names = crate::names::Names::new(&web.directory, layout.lang);
    let author = author(&mut names, item, page.caller.entry == item.record).await;
    let (find, town) = (page.param("find"), page.param("town"));
    let candidates = if professional {
        Vec::new()
    } else {
        let known: Vec<String> = match web.dsp.care_relationships(&page.caller, &item.record).await
        {
            Ok(list) => list.into_iter().filter_map(|r| r.professional).collect(),
            Err(e) => return page.portal.failure(&e),
        };
        crate::names::candidates(&mut names, known, find, town).await
    };
    page.portal.personal_page(&DocumentPage {
        layout,
        id: &item.id,
        holder: &item.record,
        title: &item.title,
        category: layout.lang.pick(item.category.titles()),
        date: item.filed_at.format("%Y-%m-%d %H:%M").to_string(),
        author,
        status: match item.status {
            ItemStatus::Current => Msg::DspStatusCurrent,
            ItemStatus::Superseded => Msg::DspStatusSuperseded,
            ItemStatus::Deprecated => Msg::DspStatusDeprecated,
        },
        text,
        content_url: format!("{prefix}/document/{}/content", item.id),
        holder_view: !professional,
        kept: item.keep_agreed.map(|k| k.format("%Y-%m-%d").to_string()),
        back,
        candidates,
        find,
        town,
    })
}

pub async fn holder_document(
    State(web): State<DspWeb>,
    Path(id): Path<String>,
    page: DspPage,
) -> Response {
    document_view(&web, page, &id, false).await
}

pub async fn pro_document(
    State(web): State<DspWeb>,
    Path(id): Path<String>,
    page: DspPage,
) -> Response {
    document_view(&web, page, &id, true).await
}

/// A document's bytes, as a download the browser opens.
pub async fn document_content(
    State(web): State<DspWeb>,
    Path(id): Path<String>,
    page: DspPage,
) -> Response {
    match web.dsp.retrieve(&page.caller, &id).await {
        Ok(doc) => {
            let mime = HeaderValue::from_str(&doc.item.mime_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, mime),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_static("inline"),
                    ),
                ],
                doc.content,
            )
                .into_response()
        }
        Err(e) => unreadable(&page, e),
    }
}

/// The holder's controls on one document: keep it beyond ten years, hide it from a
/// professional.
pub async fn document_action(
    State(web): State<DspWeb>,
    Path((id, action)): Path<(String, String)>,
    DspForm { page, form }: DspForm<HolderForm>,
) -> Response {
    let holder = form.holder(&page);
    let caller = &page.caller;
    let result = match action.as_str() {
        "keep" => web
            .dsp
            .agree_to_keep(caller, &holder, &id)
            .await
            .map(|_| ()),
        "restrict" => web
            .dsp
            .restrict(caller, &holder, &id, form.professional.trim())
            .await
            .map(|_| ()),
        _ => return page.portal.error(HttpError::NotFound),
    };
    match result {
        Ok(()) => page
            .portal
            .redirect(&format!("/dsp/document/{id}?holder={holder}")),
        Err(e) => page.portal.failure(&e),
    }
}
