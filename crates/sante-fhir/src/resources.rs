//! Directory entries as FHIR R4 resources (IHE mCSD, IHE PDQm), and back for the bulk
//! feeds and `$match`.
//!
//! Ids: a Practitioner and an Organization keep the directory's identifier; a
//! practice location is Location `pl-{location}`, an establishment's site is Location
//! `site-{establishment}-{site}`, an establishment's service is HealthcareService
//! `hs-{establishment}`, and a professional's roles are PractitionerRole
//! `{professional}-loc-{n}` (a practice location) and `{professional}-aff-{n}` (an
//! affiliation).

use chrono::NaiveDate;
use sante_directory::model::*;
use sante_directory::nin::NationalId;
use serde_json::{Map, Value, json};

use crate::{FhirError, resource_error, systems};

const MCSD: &str = "https://profiles.ihe.net/ITI/mCSD/StructureDefinition";
const IDENTITY_STATUS: &str = "https://fhir.sante.lu/CodeSystem/identity-status";

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn profile(name: &str) -> Value {
    json!({ "profile": [format!("{MCSD}/{name}")] })
}

fn address(a: &Address) -> Value {
    let mut m = Map::new();
    if !a.lines.is_empty() {
        m.insert("line".into(), json!(a.lines));
    }
    if let Some(t) = &a.town {
        m.insert("city".into(), json!(t));
    }
    if let Some(p) = &a.postcode {
        m.insert("postalCode".into(), json!(p));
    }
    if let Some(c) = &a.country {
        m.insert("country".into(), json!(c));
    }
    Value::Object(m)
}

fn telecom(c: &Contact) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(p) = &c.phone {
        out.push(json!({"system": "phone", "value": p, "use": "work"}));
    }
    if let Some(e) = &c.email {
        out.push(json!({"system": "email", "value": e, "use": "work"}));
    }
    out
}

fn insert_nonempty(m: &mut Map<String, Value>, key: &str, values: Vec<Value>) {
    if !values.is_empty() {
        m.insert(key.into(), Value::Array(values));
    }
}

fn reference(kind: &str, id: &str) -> Value {
    json!({ "reference": format!("{kind}/{id}") })
}

/// The Location id of a professional's practice location.
pub fn practice_location_id(location: &PracticeLocation) -> String {
    format!("pl-{}", location.id)
}

/// The Location id of an establishment's site.
pub fn site_location_id(establishment: &Establishment, site: &Site) -> String {
    format!("site-{}-{}", establishment.id, site.id)
}

/// The HealthcareService id of an establishment.
pub fn healthcare_service_id(establishment: &Establishment) -> String {
    format!("hs-{}", establishment.id)
}

fn profession_coding(p: Profession) -> Value {
    json!({"system": systems::PROFESSION, "code": p.code()})
}

/// A Practitioner (mCSD). `today` decides `active` (authorisation in force).
pub fn practitioner(p: &Professional, today: NaiveDate) -> Value {
    let mut m = Map::new();
    m.insert("resourceType".into(), json!("Practitioner"));
    m.insert("id".into(), json!(p.id));
    m.insert("meta".into(), profile("IHE.mCSD.Practitioner"));
    m.insert(
        "identifier".into(),
        json!([{"system": systems::PROFESSIONAL_ID, "value": p.id}]),
    );
    m.insert("active".into(), json!(p.authorisation.in_force(today)));
    m.insert(
        "name".into(),
        json!([{"use": "official", "family": p.family_name, "given": p.given_names}]),
    );
    insert_nonempty(&mut m, "telecom", telecom(&p.contact));
    m.insert("gender".into(), json!(p.sex.code()));
    let mut codings = vec![
        profession_coding(p.profession),
        json!({"system": systems::AUTHORISATION_STATUS, "code": p.authorisation.status.code()}),
    ];
    for s in &p.specialities {
        codings.push(json!({"system": systems::SPECIALITY, "code": s}));
    }
    let mut period = Map::new();
    period.insert("start".into(), json!(date(p.authorisation.granted_on)));
    if p.authorisation.status == AuthorisationStatus::Withdrawn {
        period.insert("end".into(), json!(date(p.authorisation.status_since)));
    }
    m.insert(
        "qualification".into(),
        json!([{"code": {"coding": codings}, "period": period}]),
    );
    Value::Object(m)
}

/// The roles of a professional (mCSD PractitionerRole): one per practice location and
/// one per establishment affiliation.
pub fn practitioner_roles(p: &Professional, today: NaiveDate) -> Vec<Value> {
    let code = json!([
        {"coding": [profession_coding(p.profession)]},
        {"coding": [{"system": systems::ACCESS_CATEGORY, "code": p.profession.access_category().code()}]}
    ]);
    let specialty: Vec<Value> = p
        .specialities
        .iter()
        .map(|s| json!({"coding": [{"system": systems::SPECIALITY, "code": s}]}))
        .collect();
    let in_force = p.authorisation.in_force(today);
    let mut out = Vec::new();
    for (n, l) in p.locations.iter().enumerate() {
        let mut m = Map::new();
        m.insert("resourceType".into(), json!("PractitionerRole"));
        m.insert("id".into(), json!(format!("{}-loc-{}", p.id, n + 1)));
        m.insert("meta".into(), profile("IHE.mCSD.PractitionerRole"));
        m.insert("active".into(), json!(in_force));
        m.insert("practitioner".into(), reference("Practitioner", &p.id));
        m.insert("code".into(), code.clone());
        insert_nonempty(&mut m, "specialty", specialty.clone());
        m.insert(
            "location".into(),
            json!([reference("Location", &practice_location_id(l))]),
        );
        insert_nonempty(&mut m, "telecom", telecom(&l.contact));
        out.push(Value::Object(m));
    }
    for (n, a) in p.affiliations.iter().enumerate() {
        let mut m = Map::new();
        m.insert("resourceType".into(), json!("PractitionerRole"));
        m.insert("id".into(), json!(format!("{}-aff-{}", p.id, n + 1)));
        m.insert("meta".into(), profile("IHE.mCSD.PractitionerRole"));
        m.insert("active".into(), json!(in_force && a.active_on(today)));
        let mut period = Map::new();
        period.insert("start".into(), json!(date(a.start)));
        if let Some(end) = a.end {
            period.insert("end".into(), json!(date(end)));
        }
        m.insert("period".into(), Value::Object(period));
        m.insert("practitioner".into(), reference("Practitioner", &p.id));
        m.insert(
            "organization".into(),
            reference("Organization", &a.establishment),
        );
        m.insert("code".into(), code.clone());
        insert_nonempty(&mut m, "specialty", specialty.clone());
        if let Some(site) = &a.site {
            m.insert(
                "location".into(),
                json!([reference(
                    "Location",
                    &format!("site-{}-{site}", a.establishment)
                )]),
            );
        }
        out.push(Value::Object(m));
    }
    out
}

/// A professional's practice location (mCSD Location).
pub fn practice_location(l: &PracticeLocation) -> Value {
    let mut m = Map::new();
    m.insert("resourceType".into(), json!("Location"));
    m.insert("id".into(), json!(practice_location_id(l)));
    m.insert("meta".into(), profile("IHE.mCSD.Location"));
    m.insert("status".into(), json!("active"));
    m.insert("name".into(), json!(l.name));
    m.insert("mode".into(), json!("instance"));
    insert_nonempty(&mut m, "telecom", telecom(&l.contact));
    m.insert("address".into(), address(&l.address));
    m.insert(
        "type".into(),
        json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "PROFF"}]}]),
    );
    Value::Object(m)
}

fn kind_coding(kind: EstablishmentKind) -> Value {
    json!({"coding": [{"system": systems::ESTABLISHMENT_KIND, "code": kind.code()}]})
}

/// An establishment (mCSD Organization).
pub fn organization(e: &Establishment) -> Value {
    let mut m = Map::new();
    m.insert("resourceType".into(), json!("Organization"));
    m.insert("id".into(), json!(e.id));
    m.insert("meta".into(), profile("IHE.mCSD.Organization"));
    let mut identifiers = vec![json!({"system": systems::ESTABLISHMENT_ID, "value": e.id})];
    for i in &e.identifiers {
        identifiers.push(json!({"system": i.system, "value": i.value}));
    }
    m.insert("identifier".into(), Value::Array(identifiers));
    m.insert("active".into(), json!(e.active));
    m.insert("type".into(), json!([kind_coding(e.kind)]));
    m.insert("name".into(), json!(e.name));
    insert_nonempty(&mut m, "telecom", telecom(&e.contact));
    if let Some(site) = e.sites.first() {
        m.insert("address".into(), json!([address(&site.address)]));
    }
    Value::Object(m)
}

/// The sites of an establishment (mCSD Location).
pub fn site_locations(e: &Establishment) -> Vec<Value> {
    e.sites
        .iter()
        .map(|s| {
            json!({
                "resourceType": "Location",
                "id": site_location_id(e, s),
                "meta": profile("IHE.mCSD.Location"),
                "status": if e.active { "active" } else { "inactive" },
                "name": s.name,
                "mode": "instance",
                "address": address(&s.address),
                "managingOrganization": reference("Organization", &e.id),
            })
        })
        .collect()
}

/// What an establishment offers (mCSD HealthcareService).
pub fn healthcare_service(e: &Establishment) -> Value {
    let locations: Vec<Value> = e
        .sites
        .iter()
        .map(|s| reference("Location", &site_location_id(e, s)))
        .collect();
    let mut m = Map::new();
    m.insert("resourceType".into(), json!("HealthcareService"));
    m.insert("id".into(), json!(healthcare_service_id(e)));
    m.insert("meta".into(), profile("IHE.mCSD.HealthcareService"));
    m.insert("active".into(), json!(e.active));
    m.insert("providedBy".into(), reference("Organization", &e.id));
    m.insert("type".into(), json!([kind_coding(e.kind)]));
    insert_nonempty(&mut m, "location", locations);
    m.insert("name".into(), json!(e.name));
    insert_nonempty(&mut m, "telecom", telecom(&e.contact));
    Value::Object(m)
}

/// A patient identity (PDQm Patient).
pub fn patient(p: &Patient) -> Value {
    let mut m = Map::new();
    m.insert("resourceType".into(), json!("Patient"));
    m.insert("id".into(), json!(p.id));
    m.insert(
        "meta".into(),
        json!({"tag": [{"system": IDENTITY_STATUS, "code": p.status.code()}]}),
    );
    let mut identifiers = Vec::new();
    if let Some(nin) = &p.national_id {
        identifiers.push(
            json!({"use": "official", "system": systems::NATIONAL_ID, "value": nin.as_str()}),
        );
    }
    identifiers.push(json!({"use": "secondary", "system": systems::PATIENT_ID, "value": p.id}));
    m.insert("identifier".into(), Value::Array(identifiers));
    m.insert("active".into(), json!(p.merged_into.is_none()));
    let mut names =
        vec![json!({"use": "official", "family": p.birth_name, "given": p.given_names})];
    if let Some(used) = &p.used_name {
        names.push(json!({"use": "usual", "family": used, "given": p.given_names}));
    }
    m.insert("name".into(), Value::Array(names));
    m.insert("gender".into(), json!(p.sex.code()));
    if let Some(b) = p.birth_date {
        m.insert("birthDate".into(), json!(date(b)));
    }
    if let Some(d) = p.death_date {
        m.insert("deceasedDateTime".into(), json!(date(d)));
    }
    if let Some(a) = &p.address {
        m.insert("address".into(), json!([address(a)]));
    }
    if let Some(r) = &p.legal_representative {
        m.insert(
            "contact".into(),
            json!([{
                "relationship": [{"text": r.relationship}],
                "name": {"text": r.name},
            }]),
        );
    }
    if let Some(survivor) = &p.merged_into {
        m.insert(
            "link".into(),
            json!([{"other": reference("Patient", survivor), "type": "replaced-by"}]),
        );
    }
    Value::Object(m)
}

// --- From FHIR -------------------------------------------------------------------

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn expect_type(v: &Value, wanted: &str) -> Result<(), FhirError> {
    match str_at(v, "resourceType") {
        Some(t) if t == wanted => Ok(()),
        Some(t) => Err(resource_error(
            "resourceType",
            format!("{t:?} where {wanted} was expected"),
        )),
        None => Err(resource_error("resourceType", "is missing")),
    }
}

fn parse_date(element: &str, text: &str) -> Result<NaiveDate, FhirError> {
    // A dateTime keeps its date part.
    let day = text.get(..10).unwrap_or(text);
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_err(|_| resource_error(element, format!("{text:?} is not a full date")))
}

fn identifier_value<'a>(v: &'a Value, system: &str) -> Option<&'a str> {
    array(v, "identifier")
        .iter()
        .find(|i| str_at(i, "system") == Some(system))
        .and_then(|i| str_at(i, "value"))
}

fn gender(v: &Value) -> Result<Sex, FhirError> {
    match str_at(v, "gender") {
        None => Ok(Sex::Unknown),
        Some(code) => Sex::parse(code)
            .ok_or_else(|| resource_error("gender", format!("unknown code {code:?}"))),
    }
}

fn human_name<'a>(v: &'a Value, wanted_use: &str) -> Option<&'a Value> {
    let names = array(v, "name");
    names
        .iter()
        .find(|n| str_at(n, "use") == Some(wanted_use))
        .or_else(|| (wanted_use == "official").then(|| names.first()).flatten())
}

fn given(name: &Value) -> Vec<String> {
    array(name, "given")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn address_from(v: &Value) -> Address {
    Address {
        lines: array(v, "line")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        postcode: str_at(v, "postalCode").map(str::to_owned),
        town: str_at(v, "city").map(str::to_owned),
        country: str_at(v, "country").map(str::to_owned),
    }
}

fn contact_from(v: &Value) -> Contact {
    let find = |system: &str| {
        array(v, "telecom")
            .iter()
            .find(|t| str_at(t, "system") == Some(system))
            .and_then(|t| str_at(t, "value"))
            .map(str::to_owned)
    };
    Contact {
        phone: find("phone"),
        email: find("email"),
    }
}

/// A Patient resource as an identity to match or to load. The platform id is left
/// empty and the status provisional: the directory decides both.
pub fn patient_from_fhir(v: &Value) -> Result<Patient, FhirError> {
    expect_type(v, "Patient")?;
    let national_id = identifier_value(v, systems::NATIONAL_ID)
        .map(|n| {
            NationalId::parse(n)
                .map_err(|e| resource_error("identifier (national id)", e.to_string()))
        })
        .transpose()?;
    let official =
        human_name(v, "official").ok_or_else(|| resource_error("name", "a name is required"))?;
    let birth_name = str_at(official, "family")
        .ok_or_else(|| resource_error("name.family", "is required"))?
        .to_owned();
    let used_name = human_name(v, "usual")
        .filter(|n| !std::ptr::eq(*n, official))
        .and_then(|n| str_at(n, "family"))
        .map(str::to_owned)
        .filter(|u| *u != birth_name);
    let birth_date = str_at(v, "birthDate")
        .map(|d| parse_date("birthDate", d))
        .transpose()?;
    let death_date = str_at(v, "deceasedDateTime")
        .map(|d| parse_date("deceasedDateTime", d))
        .transpose()?;
    Ok(Patient {
        id: String::new(),
        national_id,
        birth_name,
        used_name,
        given_names: given(official),
        sex: gender(v)?,
        birth_date,
        birth_place: None,
        address: array(v, "address").first().map(address_from),
        insurance: None,
        death_date,
        legal_representative: None,
        status: IdentityStatus::Provisional,
        doubtful: false,
        homonym: false,
        merged_into: None,
    })
}

/// A Practitioner resource of the national register's bulk file. The profession,
/// the authorisation status and the specialities come from `qualification.code`
/// codings in Sante's code systems; the authorisation date from
/// `qualification.period.start`. Practice locations and affiliations are not part of
/// a Practitioner and are fed separately.
pub fn practitioner_from_fhir(v: &Value) -> Result<Professional, FhirError> {
    expect_type(v, "Practitioner")?;
    let id = identifier_value(v, systems::PROFESSIONAL_ID)
        .or_else(|| str_at(v, "id"))
        .ok_or_else(|| resource_error("identifier", "the professional identifier is required"))?
        .to_owned();
    let name =
        human_name(v, "official").ok_or_else(|| resource_error("name", "a name is required"))?;
    let qualification = array(v, "qualification")
        .iter()
        .find(|q| {
            array(&q["code"], "coding")
                .iter()
                .any(|c| str_at(c, "system") == Some(systems::PROFESSION))
        })
        .ok_or_else(|| resource_error("qualification", "a profession coding is required"))?;
    let codings = array(&qualification["code"], "coding");
    let code_of = |system: &str| {
        codings
            .iter()
            .filter(|c| str_at(c, "system") == Some(system))
            .filter_map(|c| str_at(c, "code"))
            .collect::<Vec<_>>()
    };
    let profession_code = code_of(systems::PROFESSION)
        .first()
        .copied()
        .unwrap_or_default();
    let profession = Profession::parse(profession_code).ok_or_else(|| {
        resource_error(
            "qualification.code",
            format!("unknown profession {profession_code:?}"),
        )
    })?;
    let status = match code_of(systems::AUTHORISATION_STATUS).first() {
        Some(code) => AuthorisationStatus::parse(code).ok_or_else(|| {
            resource_error(
                "qualification.code",
                format!("unknown authorisation status {code:?}"),
            )
        })?,
        None if v.get("active") == Some(&Value::Bool(false)) => AuthorisationStatus::Withdrawn,
        None => AuthorisationStatus::Active,
    };
    let granted_on = qualification
        .get("period")
        .and_then(|p| str_at(p, "start"))
        .map(|d| parse_date("qualification.period.start", d))
        .transpose()?
        .ok_or_else(|| resource_error("qualification.period.start", "is required"))?;
    let status_since = qualification
        .get("period")
        .and_then(|p| str_at(p, "end"))
        .map(|d| parse_date("qualification.period.end", d))
        .transpose()?
        .unwrap_or(granted_on);
    Ok(Professional {
        national_id: None,
        family_name: str_at(name, "family")
            .ok_or_else(|| resource_error("name.family", "is required"))?
            .to_owned(),
        given_names: given(name),
        sex: gender(v)?,
        profession,
        specialities: code_of(systems::SPECIALITY)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        authorisation: Authorisation {
            status,
            granted_on,
            status_since,
            suspended_until: None,
        },
        locations: Vec::new(),
        affiliations: Vec::new(),
        contact: contact_from(v),
        id,
    })
}

/// An Organization resource of the establishments' bulk file.
pub fn organization_from_fhir(v: &Value) -> Result<Establishment, FhirError> {
    expect_type(v, "Organization")?;
    let id = identifier_value(v, systems::ESTABLISHMENT_ID)
        .or_else(|| str_at(v, "id"))
        .ok_or_else(|| resource_error("identifier", "the establishment identifier is required"))?
        .to_owned();
    let kind_code = array(v, "type")
        .iter()
        .flat_map(|t| array(t, "coding"))
        .find(|c| str_at(c, "system") == Some(systems::ESTABLISHMENT_KIND))
        .and_then(|c| str_at(c, "code"))
        .ok_or_else(|| resource_error("type", "an establishment-kind coding is required"))?;
    let kind = EstablishmentKind::parse(kind_code)
        .ok_or_else(|| resource_error("type", format!("unknown kind {kind_code:?}")))?;
    let identifiers = array(v, "identifier")
        .iter()
        .filter(|i| str_at(i, "system") != Some(systems::ESTABLISHMENT_ID))
        .filter_map(|i| {
            Some(Identifier {
                system: str_at(i, "system")?.to_owned(),
                value: str_at(i, "value")?.to_owned(),
            })
        })
        .collect();
    let sites = array(v, "address")
        .first()
        .map(|a| {
            vec![Site {
                id: "main".into(),
                name: str_at(v, "name").unwrap_or_default().to_owned(),
                address: address_from(a),
            }]
        })
        .unwrap_or_default();
    Ok(Establishment {
        name: str_at(v, "name")
            .ok_or_else(|| resource_error("name", "is required"))?
            .to_owned(),
        kind,
        identifiers,
        sites,
        contact: contact_from(v),
        active: v.get("active").and_then(Value::as_bool).unwrap_or(true),
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn pro() -> Professional {
        Professional {
            id: "pro-1".into(),
            national_id: NationalId::from_parts(day(1970, 1, 1), 5),
            family_name: "Weber".into(),
            given_names: vec!["Anne".into(), "Marie".into()],
            sex: Sex::Female,
            profession: Profession::Physician,
            specialities: vec!["paediatrics".into()],
            authorisation: Authorisation {
                status: AuthorisationStatus::Active,
                granted_on: day(2000, 1, 1),
                status_since: day(2000, 1, 1),
                suspended_until: None,
            },
            locations: vec![PracticeLocation {
                id: "pro-1-1".into(),
                name: "Cabinet Weber".into(),
                address: Address {
                    lines: vec!["1 rue de la Gare".into()],
                    postcode: Some("L-1611".into()),
                    town: Some("Luxembourg".into()),
                    country: Some("LU".into()),
                },
                contact: Contact::default(),
            }],
            affiliations: vec![Affiliation {
                establishment: "est-1".into(),
                site: Some("main".into()),
                start: day(2010, 1, 1),
                end: None,
            }],
            contact: Contact {
                phone: Some("+352 123456".into()),
                email: Some("a.weber@example.lu".into()),
            },
        }
    }

    #[test]
    fn a_practitioner_never_shows_the_national_id() {
        let v = practitioner(&pro(), day(2026, 1, 1));
        let text = v.to_string();
        assert!(!text.contains("1970010100"), "{text}");
        assert_eq!(v["active"], true);
        assert_eq!(v["name"][0]["given"][1], "Marie");
    }

    #[test]
    fn practitioners_round_trip_through_fhir() {
        let mut p = pro();
        let back = practitioner_from_fhir(&practitioner(&p, day(2026, 1, 1))).unwrap();
        p.national_id = None;
        p.locations.clear();
        p.affiliations.clear();
        assert_eq!(back, p);
    }

    #[test]
    fn roles_point_to_locations_and_organizations() {
        let roles = practitioner_roles(&pro(), day(2026, 1, 1));
        assert_eq!(roles.len(), 2);
        assert_eq!(roles[0]["location"][0]["reference"], "Location/pl-pro-1-1");
        assert_eq!(roles[1]["organization"]["reference"], "Organization/est-1");
        assert_eq!(
            roles[1]["location"][0]["reference"],
            "Location/site-est-1-main"
        );
        assert_eq!(roles[0]["code"][1]["coding"][0]["code"], "physician");
    }

    #[test]
    fn patients_round_trip_and_refuse_bad_numbers() {
        let p = Patient {
            id: "abc".into(),
            national_id: NationalId::from_parts(day(1980, 5, 17), 123),
            birth_name: "Weber".into(),
            used_name: Some("Schmit".into()),
            given_names: vec!["Anne".into()],
            sex: Sex::Female,
            birth_date: Some(day(1980, 5, 17)),
            birth_place: None,
            address: Some(Address {
                lines: vec!["1 rue".into()],
                postcode: Some("L-1111".into()),
                town: Some("Luxembourg".into()),
                country: None,
            }),
            insurance: None,
            death_date: Some(day(2025, 1, 2)),
            legal_representative: None,
            status: IdentityStatus::Provisional,
            doubtful: false,
            homonym: false,
            merged_into: None,
        };
        let v = patient(&p);
        let mut back = patient_from_fhir(&v).unwrap();
        back.id = p.id.clone();
        assert_eq!(back, p);
        let mut bad = v.clone();
        bad["identifier"][0]["value"] = json!("1980051712300");
        let err = patient_from_fhir(&bad).unwrap_err();
        assert!(err.to_string().contains("identifier"), "{err}");
        let mut bad = v;
        bad["birthDate"] = json!("17/05/1980");
        assert!(
            patient_from_fhir(&bad)
                .unwrap_err()
                .to_string()
                .contains("birthDate")
        );
        assert!(patient_from_fhir(&json!({"resourceType": "Practitioner"})).is_err());
    }

    #[test]
    fn organizations_round_trip() {
        let e = Establishment {
            id: "est-1".into(),
            name: "Centre hospitalier".into(),
            kind: EstablishmentKind::Hospital,
            identifiers: vec![Identifier {
                system: "urn:x".into(),
                value: "42".into(),
            }],
            sites: vec![Site {
                id: "main".into(),
                name: "Centre hospitalier".into(),
                address: Address::default(),
            }],
            contact: Contact::default(),
            active: true,
        };
        assert_eq!(organization_from_fhir(&organization(&e)).unwrap(), e);
        let mut v = organization(&e);
        v["type"][0]["coding"][0]["code"] = json!("spaceport");
        assert!(
            organization_from_fhir(&v)
                .unwrap_err()
                .to_string()
                .contains("spaceport")
        );
    }
}
