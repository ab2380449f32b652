//! The DSP as IHE MHD: ITI-65 Provide Document Bundle (`POST /fhir`, a transaction),
//! ITI-66 Find Document Lists (`GET /fhir/List`), ITI-67 Find Document References
//! (`GET /fhir/DocumentReference`), ITI-68 Retrieve Document (`GET /fhir/Binary/{id}`,
//! the attachments' URL). A search the caller may not make, or of a patient without
//! a DSP, answers the same empty result; a document he may not read answers 404:
//! nothing tells what he may not see.

use axum::extract::{Path, RawQuery, Request, State};
use axum::response::IntoResponse;
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use sante_directory::access::{Caller as DirectoryCaller, Request as DirectoryRequest};
use sante_directory::service::PatientQuery;
use sante_dsp::{Caller, DspError};
use sante_fhir::mhd::{self, PatientRef};
use sante_fhir::searchset;
use sante_http::ApiFailure;
use sante_http::error::fhir_json;
use sante_types::{ErrorKind, Service};
use serde_json::Value;

use crate::{FhirApi, FhirResult, fhir_failure, params, read_json};

/// The holder a request names, resolved in the patient directory as the DSP service.
pub(crate) async fn holder(
    api: &FhirApi,
    patient: &PatientRef,
    caller: &Caller,
) -> Result<Option<String>, ApiFailure> {
    match patient {
        PatientRef::Id(id) => Ok(Some(id.clone())),
        PatientRef::NationalId(nin) => {
            let req = DirectoryRequest::new(
                DirectoryCaller::Service {
                    name: "dsp".into(),
                    service: Service::Dsp,
                },
                caller.source.clone(),
            );
            let query = PatientQuery {
                national_id: Some(nin.clone()),
                ..PatientQuery::default()
            };
            let page = api.directory.search_patients(&req, &query, None, 1).await?;
            Ok(page.items.into_iter().next().map(|p| p.id))
        }
    }
}

/// A DSP refusal as the MHD actors are told it: a filer is told why (he knows whom he
/// treats); a reader is told nothing of what he may not see.
pub(crate) fn dsp_failure(e: DspError, reveal: bool) -> ApiFailure {
    match e {
        DspError::Denied(reason) if reveal => {
            ApiFailure::new(ErrorKind::Denied, format!("access refused: {reason}"))
        }
        DspError::Denied(_) | DspError::NotFound(_) => {
            ApiFailure::new(ErrorKind::NotFound, "no such document")
        }
        other => ApiFailure::from_error(&other),
    }
}

/// A filing refused for a patient without a DSP: the filer is told he has no access,
/// not whether a DSP exists apart from his right to it.
pub(crate) fn filing_failure(e: DspError) -> ApiFailure {
    match e {
        DspError::NotFound(_) => {
            ApiFailure::new(ErrorKind::Denied, "access refused: no_dsp_access")
        }
        other => dsp_failure(other, true),
    }
}

pub(crate) fn no_such_patient() -> ApiFailure {
    ApiFailure::new(
        ErrorKind::NotFound,
        "no such patient in the patient directory",
    )
}

/// ITI-65: files the bundle's documents as one submission set, or none.
pub async fn provide(State(api): State<FhirApi>, req: Request) -> FhirResult {
    let (parts, body) = req.into_parts();
    let caller = api.dsp_caller(&parts).await?;
    let bundle = read_json(body, api.kernel.config().limits.fhir_bundle_bytes).await?;
    let provided = mhd::provide_bundle(&bundle).map_err(|e| fhir_failure(&e))?;
    let Some(holder) = holder(&api, &provided.patient, &caller).await? else {
        return Err(no_such_patient());
    };
    let urls: Vec<String> = provided.documents.iter().map(|(u, _)| u.clone()).collect();
    let items = api
        .dsp
        .file_set(
            &caller,
            &holder,
            provided.documents.into_iter().map(|(_, d)| d).collect(),
        )
        .await
        .map_err(filing_failure)?;
    let set = items
        .first()
        .map(|i| i.submission_set.clone())
        .unwrap_or_default();
    let filed: Vec<(String, sante_dsp::model::Item)> = urls.into_iter().zip(items).collect();
    Ok(fhir_json(
        StatusCode::OK,
        &mhd::provide_response(&set, &filed, &provided.submission_set),
    ))
}

async fn find(api: &FhirApi, parts: &Parts, raw: Option<&str>, lists: bool) -> FhirResult {
    let caller = api.dsp_caller(parts).await?;
    let params = params(raw)?;
    let search = mhd::document_search(&params, lists).map_err(|e| fhir_failure(&e))?;
    let base = api.base(&parts.extensions);
    let resource = if lists { "List" } else { "DocumentReference" };
    let self_query = serde_urlencoded::to_string(&params).unwrap_or_default();
    let empty = || {
        fhir_json(
            StatusCode::OK,
            &searchset(&base, resource, vec![], vec![], Some(0), &self_query, None),
        )
    };
    let Some(holder) = holder(api, &search.patient, &caller).await? else {
        return Ok(empty());
    };
    if lists {
        let sets = match api.dsp.submission_sets(&caller, &holder).await {
            Ok(sets) => sets,
            Err(DspError::Denied(_) | DspError::NotFound(_)) => return Ok(empty()),
            Err(e) => return Err(dsp_failure(e, false)),
        };
        let total = sets.len() as u64;
        let resources: Vec<Value> = sets
            .iter()
            .skip(search.offset)
            .take(search.count)
            .map(|(id, at, items)| mhd::submission_set(id, &holder, *at, items))
            .collect();
        return Ok(fhir_json(
            StatusCode::OK,
            &searchset(
                &base,
                resource,
                resources,
                vec![],
                Some(total),
                &self_query,
                None,
            ),
        ));
    }
    let page = match api
        .dsp
        .search(&caller, &holder, &search.query, search.offset, search.count)
        .await
    {
        Ok(page) => page,
        Err(DspError::Denied(_) | DspError::NotFound(_)) => return Ok(empty()),
        Err(e) => return Err(dsp_failure(e, false)),
    };
    let next = (search.offset + page.items.len() < page.total).then(|| {
        let mut kept: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k != mhd::OFFSET_PARAM)
            .cloned()
            .collect();
        kept.push((
            mhd::OFFSET_PARAM.to_owned(),
            (search.offset + search.count).to_string(),
        ));
        serde_urlencoded::to_string(kept).unwrap_or_default()
    });
    let resources = page
        .items
        .iter()
        .map(|i| mhd::document_reference(i, &base))
        .collect();
    Ok(fhir_json(
        StatusCode::OK,
        &searchset(
            &base,
            resource,
            resources,
            vec![],
            Some(page.total as u64),
            &self_query,
            next.as_deref(),
        ),
    ))
}

pub async fn find_references(
    State(api): State<FhirApi>,
    RawQuery(raw): RawQuery,
    req: Request,
) -> FhirResult {
    let (parts, _) = req.into_parts();
    find(&api, &parts, raw.as_deref(), false).await
}

pub async fn find_lists(
    State(api): State<FhirApi>,
    RawQuery(raw): RawQuery,
    req: Request,
) -> FhirResult {
    let (parts, _) = req.into_parts();
    find(&api, &parts, raw.as_deref(), true).await
}

pub async fn read_reference(
    State(api): State<FhirApi>,
    Path(id): Path<String>,
    req: Request,
) -> FhirResult {
    let (parts, _) = req.into_parts();
    let caller = api.dsp_caller(&parts).await?;
    let item = api
        .dsp
        .item_metadata(&caller, &id)
        .await
        .map_err(|e| dsp_failure(e, false))?;
    Ok(fhir_json(
        StatusCode::OK,
        &mhd::document_reference(&item, &api.base(&parts.extensions)),
    ))
}

/// ITI-68: the document's bytes with its content type, decrypted and checked.
pub async fn retrieve(
    State(api): State<FhirApi>,
    Path(id): Path<String>,
    req: Request,
) -> FhirResult {
    let (parts, _) = req.into_parts();
    let caller = api.dsp_caller(&parts).await?;
    let doc = api
        .dsp
        .retrieve(&caller, &id)
        .await
        .map_err(|e| dsp_failure(e, false))?;
    let mime = HeaderValue::from_str(&doc.item.mime_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        doc.content,
    )
        .into_response())
}
