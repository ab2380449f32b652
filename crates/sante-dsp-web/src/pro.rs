//! The professional's DSP pages: the patients he cares for and his overdue filings,
//! the access code a holder gives him, a patient's DSP as he may see it, and filing.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use sante_dsp::DspError;
use sante_dsp::category::{DOCUMENT_TYPES, DataCategory};
use sante_dsp::service::{NewItem, Overdue};
use sante_http::{HttpError, Layout};
use sante_types::{Coded, Quality};

use crate::i18n::Msg;
use crate::{DspForm, DspPage, DspWeb, ItemRow, categories, filters, param, rows};

/// A refusal shown on the page itself, with the status of its kind.
struct Refusal<'a> {
    status: StatusCode,
    reason: &'a str,
}

impl<'a> Refusal<'a> {
    /// The access decision's refusal, named by its reason; `None` for other errors.
    fn denied(e: &'a DspError) -> Option<Refusal<'a>> {
        let DspError::Denied(reason) = e else {
            return None;
        };
        Some(Refusal {
            status: sante_http::error::status(e.kind()),
            reason,
        })
    }
}

#[derive(Template)]
#[template(path = "dsp_pro.html")]
struct ProPage<'a> {
    layout: &'a Layout,
    error: Option<&'a str>,
    patients: Vec<(String, String)>,
    overdue: Vec<(Msg, String, String)>,
}

/// The name and birth date of a holder the DSP lets this professional reach (a care
/// relationship it holds), looked up by the DSP; his identifier when it cannot be read.
async fn patient_name(web: &DspWeb, page: &DspPage, holder: &str) -> String {
    match web
        .directory
        .patient(&page.care_directory_request(), holder)
        .await
    {
        Ok(p) => format!(
            "{} {} ({})",
            p.given_names.join(" "),
            p.family_name(),
            p.birth_date.map(|d| d.to_string()).unwrap_or_default()
        ),
        Err(_) => holder.to_owned(),
    }
}

async fn pro_view(web: &DspWeb, page: &DspPage, refusal: Option<Refusal<'_>>) -> Response {
    let portal = &page.portal;
    let in_care = match web.dsp.patients_in_care(&page.caller).await {
        Ok(list) => list,
        Err(e) => return portal.failure(&e),
    };
    let mut patients = Vec::new();
    for holder in in_care.into_iter().take(200) {
        let name = patient_name(web, page, &holder).await;
        patients.push((holder, name));
    }
    let overdue = match web.dsp.overdue(&page.caller).await {
        Ok(list) => list,
        Err(e) => return portal.failure(&e),
    };
    let overdue = overdue
        .into_iter()
        .map(|o| match o {
            Overdue::Request(r) => (
                Msg::DspProOverdueRequest,
                r.due.format("%Y-%m-%d").to_string(),
                format!("{} — {}", r.record, r.what),
            ),
            Overdue::EndOfCare { record, ended, .. } => (
                Msg::DspProOverdueCare,
                ended.format("%Y-%m-%d").to_string(),
                record,
            ),
        })
        .collect();
    let status = refusal.as_ref().map_or(StatusCode::OK, |r| r.status);
    portal.render(
        &ProPage {
            layout: &portal.layout,
            error: refusal.as_ref().map(|r| r.reason),
            patients,
            overdue,
        },
        status,
    )
}

pub async fn pro_page(State(web): State<DspWeb>, page: DspPage) -> Response {
    if page.caller.quality != Quality::Professional {
        return page.portal.redirect("/dsp");
    }
    pro_view(&web, &page, None).await
}

#[derive(serde::Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn pro_redeem(
    State(web): State<DspWeb>,
    DspForm { page, form }: DspForm<CodeForm>,
) -> Response {
    match web.dsp.redeem_access_code(&page.caller, &form.code).await {
        Ok(r) => page
            .portal
            .redirect(&format!("/pro/dsp/patient?holder={}", r.record)),
        Err(e) => match Refusal::denied(&e) {
            Some(refusal) => pro_view(&web, &page, Some(refusal)).await,
            None => page.portal.failure(&e),
        },
    }
}

#[derive(Template)]
#[template(path = "dsp_pro_patient.html")]
struct ProPatientPage<'a> {
    layout: &'a Layout,
    holder: &'a str,
    name: String,
    error: Option<&'a str>,
    reachable: bool,
    categories: Vec<(String, String)>,
    category: &'a str,
    author: &'a str,
    from: &'a str,
    until: &'a str,
    items: Vec<ItemRow>,
    types: Vec<(String, String)>,
}

async fn pro_patient_view(
    web: &DspWeb,
    page: &DspPage,
    holder: &str,
    pairs: &[(String, String)],
    refusal: Option<Refusal<'_>>,
) -> Response {
    let (reachable, items) = match web
        .dsp
        .search(&page.caller, holder, &filters(pairs), 0, 200)
        .await
    {
        Ok(found) => (true, found.items),
        // Refused, closed or absent: the same page.
        Err(DspError::Denied(_) | DspError::NotFound(_)) => (false, Vec::new()),
        Err(e) => return page.portal.failure(&e),
    };
    let status = refusal.as_ref().map_or(StatusCode::OK, |r| r.status);
    let mut res = page.portal.render(
        &ProPatientPage {
            layout: &page.portal.layout,
            holder,
            // A professional learns who the patient is only within a care
            // relationship: otherwise the page names nobody, whatever identifier or
            // national number the address carries.
            name: if reachable {
                patient_name(web, page, holder).await
            } else {
                page.portal.layout.t(Msg::DspProPatient).to_owned()
            },
            error: refusal.as_ref().map(|r| r.reason),
            reachable,
            categories: categories(page.portal.layout.lang),
            category: param(pairs, "category"),
            author: param(pairs, "author"),
            from: param(pairs, "from"),
            until: param(pairs, "until"),
            items: rows(web, page, &items, param(pairs, "author")).await,
            types: DOCUMENT_TYPES
                .iter()
                .filter(|t| t.category != DataCategory::PersonalExpression)
                .map(|t| {
                    (
                        format!("{}|{}", t.system, t.code),
                        format!("{} ({})", t.display, t.category.number()),
                    )
                })
                .collect(),
        },
        status,
    );
    res.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    res
}

pub async fn pro_patient(State(web): State<DspWeb>, page: DspPage) -> Response {
    let mut holder = page.param("holder").to_owned();
    let nin = page.param("nin");
    if holder.is_empty() && !nin.is_empty() {
        // Identification by national number through the patient directory (DIR-5).
        let query = sante_directory::service::PatientQuery {
            national_id: Some(nin.chars().filter(char::is_ascii_digit).collect()),
            ..Default::default()
        };
        match web
            .directory
            .search_patients(&page.directory_request(), &query, None, 1)
            .await
        {
            Ok(found) => {
                if let Some(p) = found.items.into_iter().next() {
                    holder = p.id;
                }
            }
            Err(e) if e.kind().is_platform_fault() => return page.portal.failure(&e),
            // Refused or malformed: the same answer as a number nobody has.
            Err(_) => {}
        }
    }
    if holder.is_empty() {
        let refusal = Refusal {
            status: StatusCode::NOT_FOUND,
            reason: "no_such_patient",
        };
        return pro_view(&web, &page, Some(refusal)).await;
    }
    pro_patient_view(&web, &page, &holder, &page.query, None).await
}

#[derive(serde::Deserialize)]
pub struct FileForm {
    #[serde(default, rename = "type")]
    doc_type: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
}

pub async fn pro_file(
    State(web): State<DspWeb>,
    Path(holder): Path<String>,
    DspForm { page, form }: DspForm<FileForm>,
) -> Response {
    let Some((system, code)) = form.doc_type.split_once('|') else {
        return page.portal.error(HttpError::BadRequest);
    };
    let item = NewItem {
        type_system: system.to_owned(),
        type_code: code.to_owned(),
        title: form.title.clone(),
        mime_type: "text/plain".into(),
        content: form.text.as_bytes().to_vec(),
        service_date: None,
        confidentiality: sante_dsp::model::Confidentiality::Restricted,
        replaces: None,
        master_identifier: None,
    };
    let back = [("holder".to_owned(), holder.clone())];
    match web.dsp.file(&page.caller, &holder, item).await {
        Ok(_) => page
            .portal
            .redirect(&format!("/pro/dsp/patient?holder={holder}")),
        Err(DspError::Invalid(_)) => {
            let refusal = Refusal {
                status: StatusCode::BAD_REQUEST,
                reason: "invalid_document",
            };
            pro_patient_view(&web, &page, &holder, &back, Some(refusal)).await
        }
        Err(e) => match Refusal::denied(&e) {
            Some(refusal) => pro_patient_view(&web, &page, &holder, &back, Some(refusal)).await,
            None => page.portal.failure(&e),
        },
    }
}
