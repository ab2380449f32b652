//! FHIR search parameters to directory queries. A parameter, modifier or value this
//! server does not support is refused with its name, never silently ignored: a client
//! that believes it filtered must not receive everything.

use chrono::NaiveDate;
use sante_directory::model::{AccessCategory, EstablishmentKind, Profession, Sex};
use sante_directory::service::{EstablishmentQuery, MAX_PAGE, PatientQuery, ProfessionalQuery};

use crate::{FhirError, systems};

/// The opaque paging parameter of next links.
pub const PAGE_PARAM: &str = "_page_after";
/// Results per page when `_count` is absent.
pub const DEFAULT_COUNT: u32 = 20;

pub const PRACTITIONER_PARAMS: &[(&str, &str)] = &[
    ("identifier", "token"),
    ("name", "string"),
    ("family", "string"),
    ("given", "string"),
];
pub const PRACTITIONER_ROLE_PARAMS: &[(&str, &str)] = &[
    ("practitioner", "reference"),
    ("organization", "reference"),
    ("role", "token"),
    ("specialty", "token"),
];
pub const ORGANIZATION_PARAMS: &[(&str, &str)] = &[
    ("identifier", "token"),
    ("name", "string"),
    ("type", "token"),
    ("active", "token"),
    ("address-city", "string"),
];
pub const LOCATION_PARAMS: &[(&str, &str)] = &[
    ("name", "string"),
    ("address-city", "string"),
    ("organization", "reference"),
];
pub const HEALTHCARE_SERVICE_PARAMS: &[(&str, &str)] = &[
    ("name", "string"),
    ("organization", "reference"),
    ("service-type", "token"),
    ("active", "token"),
];
pub const PATIENT_PARAMS: &[(&str, &str)] = &[
    ("identifier", "token"),
    ("family", "string"),
    ("given", "string"),
    ("birthdate", "date"),
    ("gender", "token"),
    ("address-city", "string"),
    ("address-postalcode", "string"),
];

/// Paging of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    pub count: u32,
    pub after: Option<String>,
}

/// A parsed search: the directory query, an `_id` when given, and paging.
#[derive(Debug, Clone)]
pub struct Search<Q> {
    pub query: Q,
    pub id: Option<String>,
    pub paging: Paging,
}

fn invalid(parameter: &str, reason: impl Into<String>) -> FhirError {
    FhirError::Invalid {
        parameter: parameter.to_owned(),
        reason: reason.into(),
    }
}

/// The resource-specific parameters of a search, the `_id` and the paging.
type Common<'a> = (Vec<(&'a str, &'a str)>, Option<String>, Paging);

/// Checks names against `allowed` plus the common ones, refuses modifiers, repeats
/// and empty values, and reads the common parameters.
fn common<'a>(
    params: &'a [(String, String)],
    allowed: &[(&str, &str)],
) -> Result<Common<'a>, FhirError> {
    let mut seen = std::collections::HashSet::new();
    let mut specific = Vec::new();
    let mut id = None;
    let mut paging = Paging {
        count: DEFAULT_COUNT,
        after: None,
    };
    for (name, value) in params {
        if name.contains(':') || name.contains('.') {
            return Err(FhirError::NotSupported {
                parameter: name.clone(),
            });
        }
        if !seen.insert(name.as_str()) {
            return Err(invalid(name, "may appear only once"));
        }
        let value = value.trim();
        if value.is_empty() {
            return Err(invalid(name, "has no value"));
        }
        match name.as_str() {
            "_format" => {
                if !matches!(value, "json" | "application/json" | "application/fhir+json") {
                    return Err(invalid(name, "only JSON is served"));
                }
            }
            "_count" => {
                let n: u32 = value
                    .parse()
                    .map_err(|_| invalid(name, "must be a positive integer"))?;
                if n == 0 {
                    return Err(invalid(name, "must be at least 1"));
                }
                paging.count = n.min(MAX_PAGE);
            }
            PAGE_PARAM => {
                sante_directory::model::check_id(PAGE_PARAM, value)
                    .map_err(|e| invalid(name, e.reason))?;
                paging.after = Some(value.to_owned());
            }
            "_id" => {
                sante_directory::model::check_id("_id", value)
                    .map_err(|e| invalid(name, e.reason))?;
                id = Some(value.to_owned());
            }
            other if allowed.iter().any(|(p, _)| *p == other) => specific.push((other, value)),
            _ => {
                return Err(FhirError::NotSupported {
                    parameter: name.clone(),
                });
            }
        }
    }
    Ok((specific, id, paging))
}

fn text(parameter: &str, value: &str) -> Result<String, FhirError> {
    if value.chars().count() > 100 {
        return Err(invalid(parameter, "is longer than 100 characters"));
    }
    Ok(value.to_owned())
}

/// A token `[system|]code`, checked against the allowed systems; returns the code.
fn token<'v>(
    parameter: &str,
    value: &'v str,
    systems: &[&str],
) -> Result<(Option<&'v str>, &'v str), FhirError> {
    match value.split_once('|') {
        Some((system, code)) => {
            if !systems.contains(&system) {
                return Err(invalid(
                    parameter,
                    format!("system {system:?} is not supported"),
                ));
            }
            Ok((Some(system), code))
        }
        None => Ok((None, value)),
    }
}

/// `Kind/id` or `id`.
fn reference(parameter: &str, value: &str, kind: &str) -> Result<String, FhirError> {
    let id = match value.split_once('/') {
        Some((k, id)) if k == kind => id,
        Some(_) => return Err(invalid(parameter, format!("must reference a {kind}"))),
        None => value,
    };
    sante_directory::model::check_id("reference", id)
        .map(|_| id.to_owned())
        .map_err(|e| invalid(parameter, e.reason))
}

fn boolean(parameter: &str, value: &str) -> Result<bool, FhirError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(parameter, "must be true or false")),
    }
}

pub fn practitioners(params: &[(String, String)]) -> Result<Search<ProfessionalQuery>, FhirError> {
    let (specific, id, paging) = common(params, PRACTITIONER_PARAMS)?;
    let mut q = ProfessionalQuery {
        id: id.clone(),
        ..ProfessionalQuery::default()
    };
    for (name, value) in specific {
        match name {
            "identifier" => {
                let (_, code) = token(name, value, &[systems::PROFESSIONAL_ID])?;
                q.id = Some(code.to_owned());
            }
            "name" => q.name = Some(text(name, value)?),
            "family" => q.family = Some(text(name, value)?),
            "given" => q.given = Some(text(name, value)?),
            _ => {
                return Err(FhirError::NotSupported {
                    parameter: name.into(),
                });
            }
        }
    }
    Ok(Search {
        query: q,
        id,
        paging,
    })
}

pub fn practitioner_roles(
    params: &[(String, String)],
) -> Result<Search<ProfessionalQuery>, FhirError> {
    let (specific, id, paging) = common(params, PRACTITIONER_ROLE_PARAMS)?;
    if id.is_some() {
        // Role ids are derived from the practitioner's; read them instead.
        return Err(FhirError::NotSupported {
            parameter: "_id".into(),
        });
    }
    let mut q = ProfessionalQuery::default();
    for (name, value) in specific {
        match name {
            "practitioner" => q.id = Some(reference(name, value, "Practitioner")?),
            "organization" => q.establishment = Some(reference(name, value, "Organization")?),
            "role" => {
                let (system, code) = token(
                    name,
                    value,
                    &[systems::PROFESSION, systems::ACCESS_CATEGORY],
                )?;
                match (system, Profession::parse(code), AccessCategory::parse(code)) {
                    (Some(systems::PROFESSION) | None, Some(p), _) => q.profession = Some(p),
                    (Some(systems::ACCESS_CATEGORY) | None, _, Some(c)) => q.category = Some(c),
                    _ => return Err(invalid(name, format!("unknown role {code:?}"))),
                }
            }
            "specialty" => {
                let (_, code) = token(name, value, &[systems::SPECIALITY])?;
                if !sante_directory::model::SPECIALITIES.contains(&code) {
                    return Err(invalid(name, format!("unknown speciality {code:?}")));
                }
                q.speciality = Some(code.to_owned());
            }
            _ => {
                return Err(FhirError::NotSupported {
                    parameter: name.into(),
                });
            }
        }
    }
    Ok(Search {
        query: q,
        id: None,
        paging,
    })
}

fn establishment_kind(name: &str, value: &str) -> Result<EstablishmentKind, FhirError> {
    let (_, code) = token(name, value, &[systems::ESTABLISHMENT_KIND])?;
    EstablishmentKind::parse(code).ok_or_else(|| invalid(name, format!("unknown kind {code:?}")))
}

pub fn organizations(params: &[(String, String)]) -> Result<Search<EstablishmentQuery>, FhirError> {
    let (specific, id, paging) = common(params, ORGANIZATION_PARAMS)?;
    let mut q = EstablishmentQuery {
        id: id.clone(),
        ..EstablishmentQuery::default()
    };
    for (name, value) in specific {
        match name {
            "identifier" => match value.split_once('|') {
                Some((systems::ESTABLISHMENT_ID, code)) => q.id = Some(code.to_owned()),
                Some((system, code)) => q.identifier = Some(format!("{system}|{code}")),
                None => q.identifier = Some(value.to_owned()),
            },
            "name" => q.name = Some(text(name, value)?),
            "type" => q.kind = Some(establishment_kind(name, value)?),
            "active" => q.active = Some(boolean(name, value)?),
            "address-city" => q.town = Some(text(name, value)?),
            _ => {
                return Err(FhirError::NotSupported {
                    parameter: name.into(),
                });
            }
        }
    }
    Ok(Search {
        query: q,
        id,
        paging,
    })
}

/// Locations searched here are establishments' sites; practice locations are reached
/// from their PractitionerRole (read by id).
pub fn locations(params: &[(String, String)]) -> Result<Search<EstablishmentQuery>, FhirError> {
    let (specific, id, paging) = common(params, LOCATION_PARAMS)?;
    let mut q = EstablishmentQuery::default();
    for (name, value) in specific {
        match name {
            "name" => q.name = Some(text(name, value)?),
            "address-city" => q.town = Some(text(name, value)?),
            "organization" => q.id = Some(reference(name, value, "Organization")?),
            _ => {
                return Err(FhirError::NotSupported {
                    parameter: name.into(),
                });
            }
        }
    }
    Ok(Search {
        query: q,
        id,
        paging,
    })
}

pub fn healthcare_services(
    params: &[(String, String)],
) -> Result<Search<EstablishmentQuery>, FhirError> {
    let (specific, id, paging) = common(params, HEALTHCARE_SERVICE_PARAMS)?;
    let mut q = EstablishmentQuery::default();
    if let Some(id) = &id {
        let est = id
            .strip_prefix("hs-")
            .ok_or_else(|| invalid("_id", "is not a HealthcareService id"))?;
        q.id = Some(est.to_owned());
    }
    for (name, value) in specific {
        match name {
            "name" => q.name = Some(text(name, value)?),
            "organization" => q.id = Some(reference(name, value, "Organization")?),
            "service-type" => q.kind = Some(establishment_kind(name, value)?),
            "active" => q.active = Some(boolean(name, value)?),
            _ => {
                return Err(FhirError::NotSupported {
                    parameter: name.into(),
                });
            }
        }
    }
    Ok(Search {
        query: q,
        id,
        paging,
    })
}

pub fn patients(params: &[(String, String)]) -> Result<Search<PatientQuery>, FhirError> {
    let (specific, id, paging) = common(params, PATIENT_PARAMS)?;
    let mut q = PatientQuery::default();
    for (name, value) in specific {
        match name {
            "identifier" => {
                let (system, code) =
                    token(name, value, &[systems::NATIONAL_ID, systems::PATIENT_ID])?;
                if system == Some(systems::PATIENT_ID) {
                    return Err(invalid(name, "use _id for the platform's patient id"));
                }
                sante_directory::nin::NationalId::parse(code)
                    .map_err(|e| invalid(name, format!("national id: {e}")))?;
                q.national_id = Some(code.to_owned());
            }
            "family" => q.family = Some(text(name, value)?),
            "given" => q.given = Some(text(name, value)?),
            "birthdate" => {
                let day = value.strip_prefix("eq").unwrap_or(value);
                q.birth_date = Some(
                    NaiveDate::parse_from_str(day, "%Y-%m-%d")
                        .map_err(|_| invalid(name, "must be a full date YYYY-MM-DD (eq only)"))?,
                );
            }
            "gender" => {
                q.sex = Some(
                    Sex::parse(value)
                        .ok_or_else(|| invalid(name, "must be female, male, other or unknown"))?,
                );
            }
            "address-city" => q.town = Some(text(name, value)?),
            "address-postalcode" => q.postcode = Some(text(name, value)?),
            _ => {
                return Err(FhirError::NotSupported {
                    parameter: name.into(),
                });
            }
        }
    }
    Ok(Search {
        query: q,
        id,
        paging,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn practitioner_parameters_become_a_query() {
        let s = practitioners(&p(&[("name", "weber"), ("_count", "5")])).unwrap();
        assert_eq!(s.query.name.as_deref(), Some("weber"));
        assert_eq!(s.paging.count, 5);
        let s = practitioners(&p(&[("_count", "100000")])).unwrap();
        assert_eq!(s.paging.count, MAX_PAGE);
    }

    #[test]
    fn unknown_parameters_and_modifiers_are_refused_by_name() {
        let err = practitioners(&p(&[("shoe-size", "42")])).unwrap_err();
        assert_eq!(
            err,
            FhirError::NotSupported {
                parameter: "shoe-size".into()
            }
        );
        let err = practitioners(&p(&[("name:exact", "x")])).unwrap_err();
        assert!(matches!(err, FhirError::NotSupported { .. }));
        let err = practitioners(&p(&[("name", "a"), ("name", "b")])).unwrap_err();
        assert!(matches!(err, FhirError::Invalid { .. }));
        let err = practitioners(&p(&[("_count", "zero")])).unwrap_err();
        assert!(err.to_string().contains("_count"));
        let err = patients(&p(&[("birthdate", "gt2000-01-01")])).unwrap_err();
        assert!(err.to_string().contains("birthdate"));
        let err = patients(&p(&[("identifier", "urn:other|123")])).unwrap_err();
        assert!(err.to_string().contains("urn:other"));
        let err = patients(&p(&[("identifier", "1234567890123")])).unwrap_err();
        assert!(err.to_string().contains("national id"));
    }

    #[test]
    fn roles_accept_professions_and_categories() {
        let s = practitioner_roles(&p(&[("role", "dentist")])).unwrap();
        assert_eq!(s.query.profession, Some(Profession::Dentist));
        let s = practitioner_roles(&p(&[(
            "role",
            "https://fhir.sante.lu/CodeSystem/access-category|expert_health_professional",
        )]))
        .unwrap();
        assert_eq!(
            s.query.category,
            Some(AccessCategory::ExpertHealthProfessional)
        );
        assert!(practitioner_roles(&p(&[("role", "astronaut")])).is_err());
        let s = practitioner_roles(&p(&[("organization", "Organization/est-1")])).unwrap();
        assert_eq!(s.query.establishment.as_deref(), Some("est-1"));
        assert!(practitioner_roles(&p(&[("organization", "Patient/x")])).is_err());
    }
}
