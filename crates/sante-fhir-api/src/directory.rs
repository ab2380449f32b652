//! The directories as FHIR: IHE mCSD (Practitioner, PractitionerRole, Organization,
//! Location, HealthcareService; public) and IHE PDQm (Patient; authenticated callers
//! only, and only what the directory's access policy lets them see), and the
//! CapabilityStatement.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use http::StatusCode;
use http::header;
use http::request::Parts;
use sante_directory::DirectoryError;
use sante_directory::matching::Decision;
use sante_directory::service::{EstablishmentQuery, ProfessionalQuery};
use sante_fhir::resources as res;
use sante_fhir::search::{self, PAGE_PARAM, Paging};
use sante_fhir::searchset;
use sante_http::ApiFailure;
use sante_http::error::fhir_json;
use sante_types::ErrorKind;
use serde_json::{Value, json};

use crate::{FhirApi, FhirResult, fhir_failure, ok, params};

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

pub async fn metadata(State(api): State<FhirApi>) -> FhirResult {
    ok(sante_fhir::capability_statement(
        &api.public_base(),
        env!("CARGO_PKG_VERSION"),
        &api.today().format("%Y-%m-%d").to_string(),
    ))
}

// --- mCSD: public -------------------------------------------------------------------

pub async fn search_practitioners(
    State(api): State<FhirApi>,
    RawQuery(raw): RawQuery,
) -> FhirResult {
    let params = params(raw.as_deref())?;
    let s = search::practitioners(&params).map_err(|e| fhir_failure(&e))?;
    let page = api
        .directory
        .search_professionals(&s.query, s.paging.after.as_deref(), s.paging.count)
        .await?;
    let day = api.today();
    let items = page
        .items
        .iter()
        .map(|p| res::practitioner(p, day))
        .collect();
    ok(searchset(
        &api.public_base(),
        "Practitioner",
        items,
        Vec::new(),
        Some(page.total),
        &self_query(&params),
        next_query(&params, page.next).as_deref(),
    ))
}

pub async fn read_practitioner(State(api): State<FhirApi>, Path(id): Path<String>) -> FhirResult {
    let p = api.directory.professional(&id).await?;
    ok(res::practitioner(&p, api.today()))
}

pub async fn search_roles(State(api): State<FhirApi>, RawQuery(raw): RawQuery) -> FhirResult {
    let params = params(raw.as_deref())?;
    let s = search::practitioner_roles(&params).map_err(|e| fhir_failure(&e))?;
    let page = api
        .directory
        .search_professionals(&s.query, s.paging.after.as_deref(), s.paging.count)
        .await?;
    let day = api.today();
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
        &api.public_base(),
        "PractitionerRole",
        items,
        Vec::new(),
        None,
        &self_query(&params),
        next_query(&params, page.next).as_deref(),
    ))
}

pub async fn read_role(State(api): State<FhirApi>, Path(id): Path<String>) -> FhirResult {
    let not_found = || {
        ApiFailure::new(
            ErrorKind::NotFound,
            format!("PractitionerRole/{id} not found"),
        )
    };
    let professional = id
        .rsplit_once("-loc-")
        .or_else(|| id.rsplit_once("-aff-"))
        .map(|(p, _)| p.to_owned())
        .ok_or_else(not_found)?;
    let p = match api.directory.professional(&professional).await {
        Err(DirectoryError::NotFound(_)) => return Err(not_found()),
        other => other?,
    };
    res::practitioner_roles(&p, api.today())
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .map_or_else(|| Err(not_found()), ok)
}

pub async fn search_organizations(
    State(api): State<FhirApi>,
    RawQuery(raw): RawQuery,
) -> FhirResult {
    let params = params(raw.as_deref())?;
    let s = search::organizations(&params).map_err(|e| fhir_failure(&e))?;
    let page = api
        .directory
        .search_establishments(&s.query, s.paging.after.as_deref(), s.paging.count)
        .await?;
    let items = page.items.iter().map(res::organization).collect();
    ok(searchset(
        &api.public_base(),
        "Organization",
        items,
        Vec::new(),
        Some(page.total),
        &self_query(&params),
        next_query(&params, page.next).as_deref(),
    ))
}

pub async fn read_organization(State(api): State<FhirApi>, Path(id): Path<String>) -> FhirResult {
    let e = api.directory.establishment(&id).await?;
    ok(res::organization(&e))
}

pub async fn search_locations(State(api): State<FhirApi>, RawQuery(raw): RawQuery) -> FhirResult {
    let params = params(raw.as_deref())?;
    let s = search::locations(&params).map_err(|e| fhir_failure(&e))?;
    if let Some(id) = &s.id {
        return read_location_value(&api, id)
            .await
            .map(|loc| {
                fhir_json(
                    StatusCode::OK,
                    &searchset(
                        &api.public_base(),
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
                if f.status() == StatusCode::NOT_FOUND {
                    ok(searchset(
                        &api.public_base(),
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
    let page = api
        .directory
        .search_establishments(&s.query, s.paging.after.as_deref(), s.paging.count)
        .await?;
    let items = page.items.iter().flat_map(res::site_locations).collect();
    ok(searchset(
        &api.public_base(),
        "Location",
        items,
        Vec::new(),
        None,
        &self_query(&params),
        next_query(&params, page.next).as_deref(),
    ))
}

pub async fn read_location_value(api: &FhirApi, id: &str) -> Result<Value, ApiFailure> {
    let not_found = || ApiFailure::new(ErrorKind::NotFound, format!("Location/{id} not found"));
    let dir = &api.directory;
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

pub async fn read_location(State(api): State<FhirApi>, Path(id): Path<String>) -> FhirResult {
    ok(read_location_value(&api, &id).await?)
}

pub async fn search_services(State(api): State<FhirApi>, RawQuery(raw): RawQuery) -> FhirResult {
    let params = params(raw.as_deref())?;
    let s = search::healthcare_services(&params).map_err(|e| fhir_failure(&e))?;
    let page = api
        .directory
        .search_establishments(&s.query, s.paging.after.as_deref(), s.paging.count)
        .await?;
    let items = page.items.iter().map(res::healthcare_service).collect();
    ok(searchset(
        &api.public_base(),
        "HealthcareService",
        items,
        Vec::new(),
        Some(page.total),
        &self_query(&params),
        next_query(&params, page.next).as_deref(),
    ))
}

pub async fn read_service(State(api): State<FhirApi>, Path(id): Path<String>) -> FhirResult {
    let est = id.strip_prefix("hs-").ok_or_else(|| {
        ApiFailure::new(
            ErrorKind::NotFound,
            format!("HealthcareService/{id} not found"),
        )
    })?;
    let e = api.directory.establishment(est).await?;
    ok(res::healthcare_service(&e))
}

// --- PDQm: authenticated services only ------------------------------------------------

pub async fn search_patients(State(api): State<FhirApi>, req: Parts) -> FhirResult {
    let dreq = api.directory_request(&req).await?;
    let params = params(req.uri.query())?;
    let dir = &api.directory;
    let s = search::patients(&params).map_err(|e| fhir_failure(&e))?;
    if let Some(id) = &s.id {
        let found = match dir.patient(&dreq, id).await {
            Ok(p) => vec![res::patient(&p)],
            Err(DirectoryError::NotFound(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let total = found.len() as u64;
        return ok(searchset(
            &api.public_base(),
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
        &api.public_base(),
        "Patient",
        items,
        Vec::new(),
        Some(page.total),
        &self_query(&params),
        next_query(&params, page.next).as_deref(),
    ))
}

pub async fn read_patient(
    State(api): State<FhirApi>,
    Path(id): Path<String>,
    req: Parts,
) -> FhirResult {
    let dreq = api.directory_request(&req).await?;
    let p = api.directory.patient(&dreq, &id).await?;
    ok(res::patient(&p))
}

/// `$match` (ITI-119 style): a Parameters resource holding the Patient to match,
/// optional `count` and `onlyCertainMatches`.
pub async fn match_patients(State(api): State<FhirApi>, req: Parts, body: Bytes) -> FhirResult {
    let dreq = api.directory_request(&req).await?;
    // Who asks is settled before the body is read: nobody learns from a parse error
    // what the operation would accept.
    if matches!(dreq.caller, sante_directory::access::Caller::Anonymous) {
        return Err(ApiFailure::new(
            ErrorKind::Unauthenticated,
            "a bearer token is required to match patients",
        ));
    }
    let json_body = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/fhir+json") || ct.starts_with("application/json")
        });
    if !json_body {
        return Err(ApiFailure::unsupported_media_type(
            "send a Parameters resource as application/fhir+json",
        ));
    }
    if body.len() > 1 << 20 {
        return Err(ApiFailure::too_large("the body is larger than 1 MiB"));
    }
    let parameters: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiFailure::new(ErrorKind::Invalid, format!("the body is not JSON: {e}")))?;
    if parameters["resourceType"] != "Parameters" {
        return Err(ApiFailure::new(
            ErrorKind::Invalid,
            "the body must be a Parameters resource",
        ));
    }
    let list = parameters["parameter"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let find = |name: &str| list.iter().find(|p| p["name"] == name);
    let patient = find("resource").map(|p| &p["resource"]).ok_or_else(|| {
        ApiFailure::new(
            ErrorKind::Invalid,
            "parameter resource (the Patient to match) is required",
        )
    })?;
    let candidate = sante_fhir::patient_from_fhir(patient).map_err(|e| fhir_failure(&e))?;
    let count = match find("count") {
        None => 10,
        Some(p) => p["valueInteger"]
            .as_u64()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ApiFailure::new(
                    ErrorKind::Invalid,
                    "parameter count: an integer from 1 to 100",
                )
            })? as usize,
    };
    let only_certain = match find("onlyCertainMatches") {
        None => false,
        Some(p) => p["valueBoolean"].as_bool().ok_or_else(|| {
            ApiFailure::new(
                ErrorKind::Invalid,
                "parameter onlyCertainMatches: a boolean",
            )
        })?,
    };
    let mut found = api
        .directory
        .match_patient(&dreq, &candidate, count)
        .await?;
    if only_certain {
        found.retain(|(_, _, d)| *d == Decision::Link);
    }
    let base = api.public_base();
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
