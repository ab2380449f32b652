//! The DSP's FHIR API, IHE MHD: ITI-65 Provide Document Bundle (`POST /fhir`, a
//! transaction), ITI-66 Find Document Lists (`GET /fhir/List`), ITI-67 Find Document
//! References (`GET /fhir/DocumentReference`), ITI-68 Retrieve Document
//! (`GET /fhir/Binary/{id}`, the attachments' URL).
//!
//! Who calls is established in one place, [`caller`]: a single sign-on access token for
//! the DSP (a patient, a professional, or an establishment system acting for its staff
//! member, whose token is bound to its certificate), checked live. Every decision is
//! the DSP service's. A search the caller may not make, or of a patient without a DSP,
//! answers the same empty result; a document he may not read answers 404: nothing
//! tells what he may not see.

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use sante_directory::access::{Caller as DirectoryCaller, Request as DirectoryRequest};
use sante_directory::service::PatientQuery;
use sante_dsp::{Caller, DspError, DspService};
use sante_fhir::mhd::{self, PatientRef};
use sante_fhir::{IssueCode, operation_outcome, searchset};
use sante_types::Service;
use serde_json::Value;

use crate::credentials::ClientCertificate;
use crate::{Caller as HttpCaller, HttpState};

/// A Provide Document Bundle is at most this large (20 MiB of content, base64).
const BUNDLE_LIMIT: usize = 32 * 1024 * 1024;

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/fhir", axum::routing::post(provide))
        .route("/fhir/", axum::routing::post(provide))
        .route("/fhir/DocumentReference", get(find_references))
        .route("/fhir/DocumentReference/{id}", get(read_reference))
        .route("/fhir/List", get(find_lists))
        .route("/fhir/Binary/{id}", get(retrieve))
        .route("/fhir/Encounter", axum::routing::post(register_stay))
        .route(
            "/fhir/Encounter/{operation}",
            axum::routing::post(unsupported_encounter),
        )
        .route(
            "/fhir/Encounter/{id}/{operation}",
            axum::routing::post(stay_operation),
        )
}

struct Failure(StatusCode, IssueCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut res = json(self.0, &operation_outcome(self.1, &self.2));
        if self.0 == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sante\", error=\"invalid_token\""),
            );
        }
        res
    }
}

fn json(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/fhir+json; charset=utf-8"),
        )],
        value.to_string(),
    )
        .into_response()
}

fn unavailable(what: &str) -> Failure {
    Failure(
        StatusCode::SERVICE_UNAVAILABLE,
        IssueCode::Transient,
        format!("{what} is temporarily unavailable"),
    )
}

fn dsp(state: &HttpState) -> Result<&DspService, Failure> {
    state
        .inner
        .dsp
        .as_ref()
        .ok_or_else(|| unavailable("the shared care record"))
}

/// The DSP caller behind the request's bearer token.
async fn caller(
    state: &HttpState,
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
) -> Result<Caller, Failure> {
    let source = HttpCaller::from(extensions).source();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Failure(
                StatusCode::UNAUTHORIZED,
                IssueCode::Login,
                "a bearer token for the DSP is required".into(),
            )
        })?;
    let sso = state
        .inner
        .sso
        .as_ref()
        .ok_or_else(|| unavailable("single sign-on"))?;
    let certificate = extensions.get::<ClientCertificate>().map(|c| c.0.clone());
    let who = sso
        .authenticate_bearer(token, Service::Dsp, certificate.as_deref(), &source)
        .await
        .map_err(|e| {
            if e.is_internal() {
                unavailable("single sign-on")
            } else {
                Failure(
                    StatusCode::UNAUTHORIZED,
                    IssueCode::Login,
                    format!("the token does not open the DSP: {}", e.description()),
                )
            }
        })?;
    Ok(Caller {
        account: who.who.account.clone(),
        quality: who.who.quality,
        assurance: who.who.assurance,
        credential: who.who.credential,
        entry: who.who.subject.clone(),
        system: who.system.clone(),
        source,
    })
}

/// The base of links: the listener the caller came through (a system on the
/// certificate listener gets links it can follow with its bound token).
fn base(state: &HttpState, extensions: &http::Extensions) -> String {
    let root = match (
        &state.inner.config.mtls_url,
        extensions.get::<ClientCertificate>(),
    ) {
        (Some(mtls), Some(_)) => mtls.clone(),
        _ => state.inner.config.public_url.clone(),
    };
    format!("{}/fhir", root.trim_end_matches('/'))
}

/// The holder a request names, resolved in the patient directory.
async fn holder(
    state: &HttpState,
    patient: &PatientRef,
    caller: &Caller,
) -> Result<Option<String>, Failure> {
    match patient {
        PatientRef::Id(id) => Ok(Some(id.clone())),
        PatientRef::NationalId(nin) => {
            let directory = state
                .inner
                .directory
                .as_ref()
                .ok_or_else(|| unavailable("the directory"))?;
            let req = DirectoryRequest::new(
                DirectoryCaller::Service {
                    name: "dsp".into(),
                    service: Service::Dsp,
                },
                caller.source.clone(),
            );
            let page = directory
                .search_patients(
                    &req,
                    &PatientQuery {
                        national_id: Some(nin.clone()),
                        ..PatientQuery::default()
                    },
                    None,
                    1,
                )
                .await
                .map_err(|_| unavailable("the directory"))?;
            Ok(page.items.into_iter().next().map(|p| p.id))
        }
    }
}

fn dsp_failure(e: DspError, reveal: bool) -> Failure {
    match e {
        DspError::Denied(reason) if reveal => Failure(
            StatusCode::FORBIDDEN,
            IssueCode::Forbidden,
            format!("access refused: {reason}"),
        ),
        DspError::Denied(_) | DspError::NotFound(_) => Failure(
            StatusCode::NOT_FOUND,
            IssueCode::NotFound,
            "no such document".into(),
        ),
        DspError::Invalid(m) => Failure(StatusCode::BAD_REQUEST, IssueCode::Invalid, m),
        DspError::Conflict(m) => Failure(StatusCode::CONFLICT, IssueCode::Invalid, m),
        other => {
            tracing::error!(error = %other, "DSP request failed");
            unavailable("the shared care record")
        }
    }
}

fn params(raw: Option<String>) -> Result<Vec<(String, String)>, Failure> {
    match raw {
        None => Ok(Vec::new()),
        Some(q) => serde_urlencoded::from_str(&q).map_err(|_| {
            Failure(
                StatusCode::BAD_REQUEST,
                IssueCode::Invalid,
                "the query string cannot be read".into(),
            )
        }),
    }
}

/// ITI-65: files the bundle's documents as one submission set, or none.
async fn provide(State(state): State<HttpState>, req: Request) -> Result<Response, Failure> {
    let (parts, body) = req.into_parts();
    let service = dsp(&state)?;
    let caller = caller(&state, &parts.headers, &parts.extensions).await?;
    let bytes = axum::body::to_bytes(body, BUNDLE_LIMIT)
        .await
        .map_err(|_| {
            Failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                IssueCode::TooCostly,
                "the bundle is too large".into(),
            )
        })?;
    let bundle: Value = serde_json::from_slice(&bytes).map_err(|_| {
        Failure(
            StatusCode::BAD_REQUEST,
            IssueCode::Invalid,
            "the body is not JSON".into(),
        )
    })?;
    let provided = mhd::provide_bundle(&bundle)
        .map_err(|e| Failure(StatusCode::BAD_REQUEST, IssueCode::Invalid, e.to_string()))?;
    let Some(holder) = holder(&state, &provided.patient, &caller).await? else {
        return Err(Failure(
            StatusCode::NOT_FOUND,
            IssueCode::NotFound,
            "no such patient in the patient directory".into(),
        ));
    };
    let urls: Vec<String> = provided.documents.iter().map(|(u, _)| u.clone()).collect();
    let items = service
        .file_set(
            &caller,
            &holder,
            provided.documents.into_iter().map(|(_, d)| d).collect(),
        )
        .await
        .map_err(|e| match e {
            // A filer is told why (he knows whom he treats), but not whether a DSP
            // exists apart from his right to it.
            DspError::NotFound(_) => Failure(
                StatusCode::FORBIDDEN,
                IssueCode::Forbidden,
                "access refused: no_dsp_access".into(),
            ),
            other => dsp_failure(other, true),
        })?;
    let set = items
        .first()
        .map(|i| i.submission_set.clone())
        .unwrap_or_default();
    let filed: Vec<(String, sante_dsp::model::Item)> = urls.into_iter().zip(items).collect();
    Ok(json(
        StatusCode::OK,
        &mhd::provide_response(&set, &filed, &provided.submission_set),
    ))
}

async fn find(
    state: &HttpState,
    parts: &http::request::Parts,
    raw: Option<String>,
    lists: bool,
) -> Result<Response, Failure> {
    let service = dsp(state)?;
    let caller = caller(state, &parts.headers, &parts.extensions).await?;
    let params = params(raw)?;
    let search = mhd::document_search(&params, lists).map_err(|e| {
        let code = if matches!(e, sante_fhir::FhirError::NotSupported { .. }) {
            IssueCode::NotSupported
        } else {
            IssueCode::Invalid
        };
        Failure(StatusCode::BAD_REQUEST, code, e.to_string())
    })?;
    let base = base(state, &parts.extensions);
    let resource = if lists { "List" } else { "DocumentReference" };
    let self_query = serde_urlencoded::to_string(&params).unwrap_or_default();
    let empty = || {
        json(
            StatusCode::OK,
            &searchset(&base, resource, vec![], vec![], Some(0), &self_query, None),
        )
    };
    let Some(holder) = holder(state, &search.patient, &caller).await? else {
        return Ok(empty());
    };
    if lists {
        let sets = match service.submission_sets(&caller, &holder).await {
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
        return Ok(json(
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
    let page = match service
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
    Ok(json(
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

async fn find_references(
    State(state): State<HttpState>,
    RawQuery(raw): RawQuery,
    req: Request,
) -> Result<Response, Failure> {
    let (parts, _) = req.into_parts();
    find(&state, &parts, raw, false).await
}

async fn find_lists(
    State(state): State<HttpState>,
    RawQuery(raw): RawQuery,
    req: Request,
) -> Result<Response, Failure> {
    let (parts, _) = req.into_parts();
    find(&state, &parts, raw, true).await
}

async fn read_reference(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, Failure> {
    let (parts, _) = req.into_parts();
    let service = dsp(&state)?;
    let caller = caller(&state, &parts.headers, &parts.extensions).await?;
    let item = service
        .item_metadata(&caller, &id)
        .await
        .map_err(|e| dsp_failure(e, false))?;
    Ok(json(
        StatusCode::OK,
        &mhd::document_reference(&item, &base(&state, &parts.extensions)),
    ))
}

/// ITI-68: the document's bytes with its content type, decrypted and checked.
async fn retrieve(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, Failure> {
    let (parts, _) = req.into_parts();
    let service = dsp(&state)?;
    let caller = caller(&state, &parts.headers, &parts.extensions).await?;
    let doc = service
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

async fn read_json(body: axum::body::Body) -> Result<Value, Failure> {
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.map_err(|_| {
        Failure(
            StatusCode::PAYLOAD_TOO_LARGE,
            IssueCode::TooCostly,
            "the body is too large".into(),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|_| {
        Failure(
            StatusCode::BAD_REQUEST,
            IssueCode::Invalid,
            "the body is not JSON".into(),
        )
    })
}

/// An establishment's system registers an admission or an emergency (DSP-14): its
/// staff reach the patient's DSP through it for the period.
async fn register_stay(State(state): State<HttpState>, req: Request) -> Result<Response, Failure> {
    let (parts, body) = req.into_parts();
    let service = dsp(&state)?;
    let caller = caller(&state, &parts.headers, &parts.extensions).await?;
    let encounter = read_json(body).await?;
    let (patient, kind) = sante_fhir::encounter::stay_from_fhir(&encounter)
        .map_err(|e| Failure(StatusCode::BAD_REQUEST, IssueCode::Invalid, e.to_string()))?;
    let Some(holder) = holder(&state, &patient, &caller).await? else {
        return Err(Failure(
            StatusCode::NOT_FOUND,
            IssueCode::NotFound,
            "no such patient in the patient directory".into(),
        ));
    };
    let stay = service
        .register_stay(&caller, &holder, kind)
        .await
        .map_err(|e| match e {
            DspError::NotFound(_) => Failure(
                StatusCode::FORBIDDEN,
                IssueCode::Forbidden,
                "access refused: no_dsp_access".into(),
            ),
            other => dsp_failure(other, true),
        })?;
    let mut res = json(
        StatusCode::CREATED,
        &sante_fhir::encounter::encounter(&stay),
    );
    if let Ok(location) = HeaderValue::from_str(&format!(
        "{}/Encounter/{}",
        base(&state, &parts.extensions),
        stay.id
    )) {
        res.headers_mut().insert(header::LOCATION, location);
    }
    Ok(res)
}

async fn unsupported_encounter() -> Failure {
    Failure(
        StatusCode::NOT_FOUND,
        IssueCode::NotSupported,
        "Encounter supports POST (register a stay), $extend and $finish".into(),
    )
}

/// `$extend` (an admission, by at most 30 days while the stay lasts) and `$finish`.
async fn stay_operation(
    State(state): State<HttpState>,
    Path((id, operation)): Path<(String, String)>,
    req: Request,
) -> Result<Response, Failure> {
    let (parts, body) = req.into_parts();
    let service = dsp(&state)?;
    let caller = caller(&state, &parts.headers, &parts.extensions).await?;
    let stay = match operation.as_str() {
        "$extend" => {
            let days = sante_fhir::encounter::extension_days(&read_json(body).await?)
                .map_err(|e| Failure(StatusCode::BAD_REQUEST, IssueCode::Invalid, e.to_string()))?;
            service.renew_stay(&caller, &id, days).await
        }
        "$finish" => service.end_stay(&caller, &id).await,
        _ => return Err(unsupported_encounter().await),
    }
    .map_err(|e| dsp_failure(e, true))?;
    Ok(json(
        StatusCode::OK,
        &sante_fhir::encounter::encounter(&stay),
    ))
}
