//! Search-set Bundles with paging links, and the server's
//! CapabilityStatement.

use serde_json::{Value, json};

/// A search-set Bundle. `total` is left out when the server cannot count matches
/// without reading them all (roles and sites flattened from their owners).
/// `self_query` and `next_query` are the query strings (without
/// `?`) of this page and of the next one; links and `fullUrl`s are absolute.
pub fn searchset(
    base_url: &str,
    resource_type: &str,
    matches: Vec<Value>,
    includes: Vec<Value>,
    total: Option<u64>,
    self_query: &str,
    next_query: Option<&str>,
) -> Value {
    let base = base_url.trim_end_matches('/');
    let link_to = |query: &str| {
        if query.is_empty() {
            format!("{base}/{resource_type}")
        } else {
            format!("{base}/{resource_type}?{query}")
        }
    };
    let mut links = vec![json!({"relation": "self", "url": link_to(self_query)})];
    if let Some(next) = next_query {
        links.push(json!({"relation": "next", "url": link_to(next)}));
    }
    let entry = |resource: Value, mode: &str| {
        let url = format!(
            "{base}/{}/{}",
            resource["resourceType"].as_str().unwrap_or_default(),
            resource["id"].as_str().unwrap_or_default()
        );
        json!({"fullUrl": url, "resource": resource, "search": {"mode": mode}})
    };
    let entries: Vec<Value> = matches
        .into_iter()
        .map(|r| entry(r, "match"))
        .chain(includes.into_iter().map(|r| entry(r, "include")))
        .collect();
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
    });
    if let Some(total) = total {
        bundle["total"] = json!(total);
    }
    if !entries.is_empty() {
        bundle["entry"] = Value::Array(entries);
    }
    bundle
}

fn params(list: &[(&str, &str)]) -> Vec<Value> {
    list.iter()
        .map(|(name, kind)| json!({"name": name, "type": kind}))
        .collect()
}

/// The CapabilityStatement of the FHIR endpoint (`GET /fhir/metadata`).
pub fn capability_statement(base_url: &str, software_version: &str, date: &str) -> Value {
    let common = [("_id", "token"), ("_count", "number")];
    let resource = |kind: &str, profile: &str, search: &[(&str, &str)]| {
        let mut all = params(&common);
        all.extend(params(search));
        json!({
            "type": kind,
            "supportedProfile": [profile],
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": all,
        })
    };
    let mcsd = "https://profiles.ihe.net/ITI/mCSD/StructureDefinition";
    let mut patient = resource(
        "Patient",
        "https://profiles.ihe.net/ITI/PDQm/StructureDefinition/IHE.PDQm.Patient",
        crate::search::PATIENT_PARAMS,
    );
    patient["operation"] = json!([{
        "name": "match",
        "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match",
    }]);
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "Sante",
        "kind": "instance",
        "instantiates": [
            "https://profiles.ihe.net/ITI/mCSD/CapabilityStatement/IHE.mCSD.Directory",
            "https://profiles.ihe.net/ITI/PDQm/CapabilityStatement/IHE.PDQm.Supplier",
            "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient",
            "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentResponder",
        ],
        "software": {"name": "Sante", "version": software_version},
        "implementation": {"description": "Sante directories and shared care record", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": {
                "description": "Practitioner, PractitionerRole, Organization, Location and HealthcareService are public. Patient and $match answer authenticated platform services and professionals at high assurance (bearer token); every patient entry returned is recorded in the audit trail. DocumentReference, List, Binary and transactions (IHE MHD) answer single sign-on access tokens for the shared care record; every access is decided by the DSP's access matrix and traced."
            },
            "interaction": [{"code": "transaction", "documentation": "ITI-65 Provide Document Bundle"}],
            "resource": [
                resource("Practitioner", &format!("{mcsd}/IHE.mCSD.Practitioner"), crate::search::PRACTITIONER_PARAMS),
                resource("PractitionerRole", &format!("{mcsd}/IHE.mCSD.PractitionerRole"), crate::search::PRACTITIONER_ROLE_PARAMS),
                resource("Organization", &format!("{mcsd}/IHE.mCSD.Organization"), crate::search::ORGANIZATION_PARAMS),
                resource("Location", &format!("{mcsd}/IHE.mCSD.Location"), crate::search::LOCATION_PARAMS),
                resource("HealthcareService", &format!("{mcsd}/IHE.mCSD.HealthcareService"), crate::search::HEALTHCARE_SERVICE_PARAMS),
                patient,
                {
                    "type": "DocumentReference",
                    "supportedProfile": [crate::mhd::MHD_PROFILE],
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(crate::mhd::DOCUMENT_REFERENCE_PARAMS),
                },
                {
                    "type": "List",
                    "supportedProfile": [crate::mhd::MHD_LIST_PROFILE],
                    "interaction": [{"code": "search-type"}],
                    "searchParam": params(crate::mhd::LIST_PARAMS),
                },
                {
                    "type": "Binary",
                    "interaction": [{"code": "read", "documentation": "ITI-68 Retrieve Document: the document's own bytes and content type"}],
                },
            ],
        }],
    })
}
