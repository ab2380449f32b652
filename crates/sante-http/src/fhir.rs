//! The FHIR R4 API under `/fhir`: the directories as IHE mCSD (public) and IHE PDQm
//! (patients, authenticated services only), with `OperationOutcome` for every error
//! and a `CapabilityStatement` at `/fhir/metadata`.
//!
//! Who calls is established here, in one place ([`caller`]): a bearer token matching
//! a configured platform service, or nobody. What the caller may see is decided by
//! the directory's access policy, never here.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sante_audit::{EventKind, Outcome, Source, Token};
use sante_directory::access::{Caller as DirectoryCaller, Denied, Request as DirectoryRequest};
use sante_directory::matching::Decision;
use sante_directory::service::{EstablishmentQuery, ProfessionalQuery};
use sante_directory::{Directory, DirectoryError};
use sante_fhir::resources as res;
use sante_fhir::search::{self, PAGE_PARAM, Paging};
use sante_fhir::{FhirError, IssueCode, operation_outcome, searchset};
use sante_types::Service;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{Caller, HttpState, trace};

/// A platform service allowed to call the patient directory, authenticated by a
/// bearer token of which only the SHA-256 is configured.
#[derive(Clone)]
pub struct ServiceClient {
    pub name: String,
    pub service: Service,
    pub token_sha256: [u8; 32],
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient")
            .field("name", &self.name)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/fhir/metadata", get(metadata))
        .route("/fhir/Practitioner", get(search_practitioners))
        .route("/fhir/Practitioner/{id}", get(read_practitioner))
        .route("/fhir/PractitionerRole", get(search_roles))
        .route("/fhir/PractitionerRole/{id}", get(read_role))
        .route("/fhir/Organization", get(search_organizations))
        .route("/fhir/Organization/{id}", get(read_organization))
        .route("/fhir/Location", get(search_locations))
        .route("/fhir/Location/{id}", get(read_location))
        .route("/fhir/HealthcareService", get(search_services))
        .route("/fhir/HealthcareService/{id}", get(read_service))
        .route("/fhir/Patient", get(search_patients))
        .route("/fhir/Patient/$match", post(match_patients))
        .route("/fhir/Patient/{id}", get(read_patient))
        .route("/fhir/{*rest}", get(unsupported).post(unsupported))
}

/// A failed FHIR request: the status and the OperationOutcome.
struct Failure {
    status: StatusCode,
    code: IssueCode,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, code: IssueCode, message: impl Into<String>) -> Failure {
        Failure {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<FhirError> for Failure {
    fn from(e: FhirError) -> Failure {
        let code = match e {
            FhirError::NotSupported { .. } => IssueCode::NotSupported,
            _ => IssueCode::Invalid,
        };
        Failure::new(StatusCode::BAD_REQUEST, code, e.to_string())
    }
}

impl From<DirectoryError> for Failure {
    fn from(e: DirectoryError) -> Failure {
        match e {
            DirectoryError::Denied(Denied::NotAuthenticated) => Failure::new(
                StatusCode::UNAUTHORIZED,
                IssueCode::Login,
                "authentication is required",
            ),
            DirectoryError::Denied(d) => {
                Failure::new(StatusCode::FORBIDDEN, IssueCode::Forbidden, d.to_string())
            }
            DirectoryError::Invalid(i) => {
                Failure::new(StatusCode::BAD_REQUEST, IssueCode::Invalid, i.to_string())
            }
            DirectoryError::NotFound(what) => Failure::new(
                StatusCode::NOT_FOUND,
                IssueCode::NotFound,
                format!("{what} not found"),
            ),
            DirectoryError::Conflict(what) => {
                Failure::new(StatusCode::CONFLICT, IssueCode::Invalid, what)
            }
            other => {
                // Details to the log only.
                tracing::error!(error = %other, "directory request failed");
                Failure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    IssueCode::Transient,
                    "the directory is temporarily unavailable",
                )
            }
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut res = fhir_json(self.status, &operation_outcome(self.code, &self.message));
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sante\""),
            );
        }
        res
    }
}

type FhirResult = Result<Response, Failure>;

fn fhir_json(status: StatusCode, value: &Value) -> Response {
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

fn ok(value: Value) -> FhirResult {
    Ok(fhir_json(StatusCode::OK, &value))
}

fn directory(state: &HttpState) -> Result<&Directory, Failure> {
    state.inner.directory.as_ref().ok_or_else(|| {
        Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            IssueCode::Transient,
            "no directory is configured",
        )
    })
}

fn base_url(state: &HttpState) -> String {
    format!(
        "{}/fhir",
        state.inner.config.public_url.trim_end_matches('/')
    )
}

fn today(state: &HttpState) -> chrono::NaiveDate {
    state.inner.clock.now().date_naive()
}

fn params(raw: Option<String>) -> Result<Vec<(String, String)>, Failure> {
    match raw {
        None => Ok(Vec::new()),
        Some(q) => serde_urlencoded::from_str(&q).map_err(|_| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                IssueCode::Invalid,
                "the query string cannot be read",
            )
        }),
    }
}

/// The query string of the next page: the same parameters, with the cursor.
fn next_query(params: &[(String, String)], next: Option<String>) -> Option<String> {
    let cursor = next?;
    let mut kept: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != PAGE_PARAM)
        .cloned()
        .collect();
    kept.push((PAGE_PARAM.to_owned(), cursor));
    serde_urlencoded::to_string(kept).ok()
}

fn self_query(params: &[(String, String)]) -> String {
    serde_urlencoded::to_string(params).unwrap_or_default()
}

/// A person's access token from single sign-on: checked live by the provider for the
/// directory service (session open, system attested, level enough for the quality);
/// agents carry their directory roles.
async fn sso_caller(
    state: &HttpState,
    token: &str,
    extensions: &http::Extensions,
    source: &Source,
) -> Result<Option<DirectoryCaller>, Failure> {
    let Some(sso) = state.inner.sso.as_ref() else {
        return Ok(None);
    };
    let certificate = extensions
        .get::<crate::ClientCertificate>()
        .map(|c| c.0.clone());
    let caller = match sso
        .authenticate_bearer(token, Service::Directory, certificate.as_deref(), source)
        .await
    {
        Ok(caller) => caller,
        Err(e) if e.is_internal() => {
            return Err(Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                IssueCode::Transient,
                "the access could not be checked",
            ));
        }
        Err(_) => return Ok(None),
    };
    let roles = match (caller.who.quality, state.inner.directory.as_ref()) {
        (sante_types::Quality::Agent, Some(directory)) => directory
            .agent(&caller.who.subject)
            .await
            .map(|a| a.roles)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Ok(Some(DirectoryCaller::Person {
        account: caller.who.account.clone(),
        quality: caller.who.quality,
        assurance: caller.who.assurance,
        credential: caller.who.credential,
        roles,
        system: caller.system.map(|(client, _)| client),
    }))
}

/// Who is calling: a configured platform service (bearer token), a person with an
/// access token from single sign-on, or nobody. A token that matches neither is
/// refused outright (and traced), not downgraded.
async fn caller(
    state: &HttpState,
    req_caller: &Caller,
    headers: &HeaderMap,
    extensions: &http::Extensions,
) -> Result<DirectoryCaller, Failure> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(DirectoryCaller::Anonymous);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let digest: Option<[u8; 32]> = token.map(|t| Sha256::digest(t.as_bytes()).into());
    let found = digest.and_then(|d| {
        state
            .inner
            .service_clients
            .iter()
            .find(|c| bool::from(c.token_sha256.ct_eq(&d)))
    });
    let person = match (found, token) {
        (None, Some(token)) if token.split('.').count() == 3 => {
            sso_caller(state, token, extensions, &req_caller.source()).await?
        }
        _ => None,
    };
    match found {
        Some(client) => Ok(DirectoryCaller::Service {
            name: client.name.clone(),
            service: client.service,
        }),
        None if person.is_some() => Ok(person.unwrap_or(DirectoryCaller::Anonymous)),
        None => {
            trace(
                state,
                req_caller,
                EventKind::HttpRequestDenied,
                "/fhir",
                Outcome::Denied(Token::code("bad-credentials")),
            )
            .await
            .map_err(|_| {
                Failure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    IssueCode::Transient,
                    "the access could not be traced",
                )
            })?;
            Err(Failure::new(
                StatusCode::UNAUTHORIZED,
                IssueCode::Login,
                "the credentials are not valid",
            ))
        }
    }
}

async fn directory_request(state: &HttpState, req: &Parts) -> Result<DirectoryRequest, Failure> {
    let who = Caller::from(&req.extensions);
    let caller = caller(state, &who, &req.headers, &req.extensions).await?;
    Ok(DirectoryRequest::new(
        caller,
        Source {
            ip: who.ip,
            request_id: who.request_id.clone(),
            channel: Token::new("https").ok(),
        },
    ))
}

async fn metadata(State(state): State<HttpState>) -> FhirResult {
    ok(sante_fhir::capability_statement(
        &base_url(&state),
        env!("CARGO_PKG_VERSION"),
        &today(&state).format("%Y-%m-%d").to_string(),
    ))
}

async fn unsupported() -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        IssueCode::NotSupported,
        "this resource type or interaction is not supported; see /fhir/metadata",
    )
}

// --- mCSD: public -------------------------------------------------------------------

async fn search_practitioners(
    State(state): State<HttpState>,
    RawQuery(raw): RawQuery,
) -> FhirResult {
    let params = params(raw)?;
    let s = search::practitioners(&params)?;
    let page = directory(&state)?
        .search_professionals(&s.query, s.paging.after.as_deref(), s.paging.count)
        .await?;
    let day = today(&state);
    let items = page
        .items
        .iter()
        .map(|p| res::practitioner(p, day))
        .collect();
    ok(searchset(
        &base_url(&state),
        "Practitioner",
        items,
        Vec::new(),
        Some(page.total),
        &self_query(&params),
        next_query(&params, page.next).as_deref(),
    ))
}

async fn read_practitioner(State(state): State<HttpState>, Path(id): Path<String>) -> FhirResult {
    let p = directory(&state)?.professional(&id).await?;
    ok(res::practitioner(&p, today(&state)))
}

async fn search_roles(State(state): State<HttpState>, RawQuery(raw): RawQuery) -> FhirResult {
    let params = params(raw)?;
    let s = search::practitioner_roles(&params)?;
    let page = directory(&state)?
        .search_professionals(&s.query, s.paging.after.as_deref(), s.paging.count)
        .await?;
    let day = today(&state);
    let organization = s.query.establishment.clone();
    let items = page
        .items
        .iter()
        .flat_map(|p| res::practitioner_roles(p, day))
        .filter(|role| match &organization {
            Some(org) => role["organization"]["reference"] == format!("Organization/{org}"),
            None => true,
        })
        .collect();
    ok(searchset(
        &base_url(&state),
        "PractitionerRole",
        items,
        Vec::new(),
        None,
        &self_query(&params),
        next_query(&params, page.next).as_deref(),
    ))
}

async fn read_role(State(state): State<HttpState>, Path(id): Path<String>) -> FhirResult {
    let not_found = || {
        Failure::new(
            StatusCode::NOT_FOUND,
            IssueCode::NotFound,
            format!("PractitionerRole/{id} not found"),
        )
    };
    let professional = id
        .rsplit_once("-loc-")
        .or_else(|| id.rsplit_once("-aff-"))
        .map(|(p, _)| p.to_owned())
        .ok_or_else(not_found)?;
    let p = match directory(&state)?.professional(&professional).await {
        Err(DirectoryError::NotFound(_)) => return Err(not_found()),
        other => other?,
    };
    res::practitioner_roles(&p, today(&state))
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .map_or_else(|| Err(not_found()), ok)
}

async fn search_organizations(
    State(state): State<HttpState>,
    RawQuery(raw): RawQuery,
) -> FhirResult {
    let params = params(raw)?;
    let s = search::organizations(&params)?;
    let page = directory(&state)?
        .search_establishments(&s.query, s.paging.after.as_deref(), s.paging.count)
        .await?;
    let items = page.items.iter().map(res::organization).collect();
    ok(searchset(
        &base_url(&state),
        "Organization",
        items,
        Vec::new(),
        Some(page.total),
        &self_query(&params),
        next_query(&params, page.next).as_deref(),
    ))
}

async fn read_organization(State(state): State<HttpState>, Path(id): Path<String>) -> FhirResult {
    let e = directory(&state)?.establishment(&id).await?;
    ok(res::organization(&e))
}

async fn search_locations(State(state): State<HttpState>, RawQuery(raw): RawQuery) -> FhirResult {
    let params = params(raw)?;
    let s = search::locations(&params)?;
    if let Some(id) = &s.id {
        return read_location_value(&state, id)
            .await
            .map(|loc| {
                fhir_json(
                    StatusCode::OK,
                    &searchset(
                        &base_url(&state),
                        "Location",
                        vec![loc],
                        Vec::new(),
                        Some(1),
                        &self_query(&params),
                        None,
                    ),
                )
            })
            .or_else(|f| {
                if f.status == StatusCode::NOT_FOUND {
                    ok(searchset(
                        &base_url(&state),
                        "Location",
                        Vec::new(),
                        Vec::new(),
                        Some(0),
                        &self_query(&params),
                        None,
                    ))
                } else {
                    Err(f)
                }
            });
    }
    let page = directory(&state)?
        .search_establishments(&s.query, s.paging.after.as_deref(), s.paging.count)
        .await?;
    let items = page.items.iter().flat_map(res::site_locations).collect();
    ok(searchset(
        &base_url(&state),
        "Location",
        items,
        Vec::new(),
        None,
        &self_query(&params),
        next_query(&params, page.next).as_deref(),
    ))
}

async fn read_location_value(state: &HttpState, id: &str) -> Result<Value, Failure> {
    let not_found = || {
        Failure::new(
            StatusCode::NOT_FOUND,
            IssueCode::NotFound,
            format!("Location/{id} not found"),
        )
    };
    let dir = directory(state)?;
    if let Some(location) = id.strip_prefix("pl-") {
        let query = ProfessionalQuery {
            location: Some(location.to_owned()),
            ..ProfessionalQuery::default()
        };
        let page = dir.search_professionals(&query, None, 1).await?;
        return page
            .items
            .iter()
            .flat_map(|p| p.locations.iter())
            .find(|l| l.id == location)
            .map(res::practice_location)
            .ok_or_else(not_found);
    }
    if let Some(rest) = id.strip_prefix("site-") {
        // Establishment and site ids both may hold '-': try each split.
        for (i, _) in rest.match_indices('-') {
            let (est, site) = (&rest[..i], &rest[i + 1..]);
            let query = EstablishmentQuery {
                id: Some(est.to_owned()),
                ..EstablishmentQuery::default()
            };
            let page = dir.search_establishments(&query, None, 1).await?;
            if let Some(e) = page.items.first()
                && let Some(loc) = res::site_locations(e)
                    .into_iter()
                    .zip(&e.sites)
                    .find(|(_, s)| s.id == site)
                    .map(|(l, _)| l)
            {
                return Ok(loc);
            }
        }
    }
    Err(not_found())
}

async fn read_location(State(state): State<HttpState>, Path(id): Path<String>) -> FhirResult {
    ok(read_location_value(&state, &id).await?)
}

async fn search_services(State(state): State<HttpState>, RawQuery(raw): RawQuery) -> FhirResult {
    let params = params(raw)?;
    let s = search::healthcare_services(&params)?;
    let page = directory(&state)?
        .search_establishments(&s.query, s.paging.after.as_deref(), s.paging.count)
        .await?;
    let items = page.items.iter().map(res::healthcare_service).collect();
    ok(searchset(
        &base_url(&state),
        "HealthcareService",
        items,
        Vec::new(),
        Some(page.total),
        &self_query(&params),
        next_query(&params, page.next).as_deref(),
    ))
}

async fn read_service(State(state): State<HttpState>, Path(id): Path<String>) -> FhirResult {
    let est = id.strip_prefix("hs-").ok_or_else(|| {
        Failure::new(
            StatusCode::NOT_FOUND,
            IssueCode::NotFound,
            format!("HealthcareService/{id} not found"),
        )
    })?;
    let e = directory(&state)?.establishment(est).await?;
    ok(res::healthcare_service(&e))
}

// --- PDQm: authenticated services only ------------------------------------------------

async fn search_patients(State(state): State<HttpState>, req: Parts) -> FhirResult {
    let dreq = directory_request(&state, &req).await?;
    let params = params(req.uri.query().map(str::to_owned))?;
    let dir = directory(&state)?;
    let s = search::patients(&params)?;
    if let Some(id) = &s.id {
        let found = match dir.patient(&dreq, id).await {
            Ok(p) => vec![res::patient(&p)],
            Err(DirectoryError::NotFound(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let total = found.len() as u64;
        return ok(searchset(
            &base_url(&state),
            "Patient",
            found,
            Vec::new(),
            Some(total),
            &self_query(&params),
            None,
        ));
    }
    let Paging { count, after } = s.paging;
    let page = dir
        .search_patients(&dreq, &s.query, after.as_deref(), count)
        .await?;
    let items = page.items.iter().map(res::patient).collect();
    ok(searchset(
        &base_url(&state),
        "Patient",
        items,
        Vec::new(),
        Some(page.total),
        &self_query(&params),
        next_query(&params, page.next).as_deref(),
    ))
}

async fn read_patient(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    req: Parts,
) -> FhirResult {
    let dreq = directory_request(&state, &req).await?;
    let p = directory(&state)?.patient(&dreq, &id).await?;
    ok(res::patient(&p))
}

/// `$match` (ITI-119 style): a Parameters resource holding the Patient to match,
/// optional `count` and `onlyCertainMatches`.
async fn match_patients(State(state): State<HttpState>, req: Parts, body: Bytes) -> FhirResult {
    let dreq = directory_request(&state, &req).await?;
    let json_body = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/fhir+json") || ct.starts_with("application/json")
        });
    if !json_body {
        return Err(Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IssueCode::NotSupported,
            "send a Parameters resource as application/fhir+json",
        ));
    }
    if body.len() > 1 << 20 {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            IssueCode::TooCostly,
            "the body is larger than 1 MiB",
        ));
    }
    let parameters: Value = serde_json::from_slice(&body).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            IssueCode::Invalid,
            format!("the body is not JSON: {e}"),
        )
    })?;
    if parameters["resourceType"] != "Parameters" {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            IssueCode::Invalid,
            "the body must be a Parameters resource",
        ));
    }
    let list = parameters["parameter"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let find = |name: &str| list.iter().find(|p| p["name"] == name);
    let patient = find("resource").map(|p| &p["resource"]).ok_or_else(|| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            IssueCode::Invalid,
            "parameter resource (the Patient to match) is required",
        )
    })?;
    let candidate = sante_fhir::patient_from_fhir(patient)?;
    let count = match find("count") {
        None => 10,
        Some(p) => p["valueInteger"]
            .as_u64()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                Failure::new(
                    StatusCode::BAD_REQUEST,
                    IssueCode::Invalid,
                    "parameter count: an integer from 1 to 100",
                )
            })? as usize,
    };
    let only_certain = match find("onlyCertainMatches") {
        None => false,
        Some(p) => p["valueBoolean"].as_bool().ok_or_else(|| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                IssueCode::Invalid,
                "parameter onlyCertainMatches: a boolean",
            )
        })?,
    };
    let mut found = directory(&state)?
        .match_patient(&dreq, &candidate, count)
        .await?;
    if only_certain {
        found.retain(|(_, _, d)| *d == Decision::Link);
    }
    let base = base_url(&state);
    let entries: Vec<Value> = found
        .iter()
        .map(|(p, score, decision)| {
            // The match weight mapped to 0..1 around the review threshold.
            let probability = if score.is_finite() {
                1.0 / (1.0 + (-(score - 11.0) / 2.0).exp())
            } else {
                1.0
            };
            let grade = if *decision == Decision::Link {
                "certain"
            } else {
                "possible"
            };
            json!({
                "fullUrl": format!("{base}/Patient/{}", p.id),
                "resource": res::patient(p),
                "search": {
                    "mode": "match",
                    "score": (probability * 1000.0).round() / 1000.0,
                    "extension": [{
                        "url": "http://hl7.org/fhir/StructureDefinition/match-grade",
                        "valueCode": grade,
                    }],
                },
            })
        })
        .collect();
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": entries.len(),
    });
    if !entries.is_empty() {
        bundle["entry"] = Value::Array(entries);
    }
    ok(bundle)
}
