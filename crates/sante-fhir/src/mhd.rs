//! IHE MHD (Mobile access to Health Documents) on FHIR R4: the wire format of the DSP.
//!
//! - ITI-65 Provide Document Bundle: a `transaction` Bundle holding a submission set
//!   (`List`), `DocumentReference`s and their contents (`Binary`, or inline
//!   attachment data) is read into documents to file ([`provide_bundle`]); the answer
//!   is a `transaction-response` ([`provide_response`]).
//! - ITI-66 Find Document Lists and ITI-67 Find Document References: search
//!   parameters to a DSP query ([`document_search`]); items to resources
//!   ([`document_reference`], [`submission_set`]).
//! - ITI-68 Retrieve Document: the attachment URL, `Binary/{id}`.
//!
//! XDS semantics: `type` is the document type (LOINC where it has one), `category` the
//! DSP data category it maps to (DSP-2), `securityLabel` the confidentiality level
//! (DSP-32), `author` the professional, `date` the filing time, `context.period` the
//! care it documents, `relatesTo` `replaces` an earlier version (XDS RPLC), `status`
//! `current` / `superseded` / `entered-in-error` (deprecated).

use base64::Engine;
use chrono::NaiveDate;
use sante_dsp::category::{DataCategory, document_type};
use sante_dsp::model::{Author, Confidentiality, Item, ItemStatus};
use sante_dsp::service::{ItemQuery, NewItem};
use serde_json::{Value, json};

use crate::{FhirError, resource_error};

pub const MHD_PROFILE: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.DocumentReference";
pub const MHD_LIST_PROFILE: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.SubmissionSet";
pub const MHD_BUNDLE_PROFILE: &str =
    "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.ProvideBundle";
pub const LIST_TYPES: &str = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes";
pub const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
pub const DSP_CATEGORY: &str = "https://fhir.sante.lu/CodeSystem/dsp-category";

/// The search parameters of DocumentReference (ITI-67).
pub const DOCUMENT_REFERENCE_PARAMS: &[(&str, &str)] = &[
    ("patient", "reference"),
    ("patient.identifier", "token"),
    ("status", "token"),
    ("category", "token"),
    ("type", "token"),
    ("date", "date"),
    ("author.identifier", "token"),
];
/// The search parameters of List (ITI-66).
pub const LIST_PARAMS: &[(&str, &str)] = &[
    ("patient", "reference"),
    ("patient.identifier", "token"),
    ("code", "token"),
    ("status", "token"),
];

fn status(s: ItemStatus) -> &'static str {
    s.code()
}

/// A DSP document as an MHD DocumentReference.
pub fn document_reference(item: &Item, base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    let author = match &item.author {
        Author::Professional {
            professional,
            establishment,
        } => {
            let mut list = vec![json!({
                "reference": format!("Practitioner/{professional}"),
            })];
            if let Some(e) = establishment {
                list.push(json!({"reference": format!("Organization/{e}")}));
            }
            list
        }
        Author::Holder => vec![json!({
            "reference": format!("Patient/{}", item.record),
            "display": "the holder"
        })],
        Author::System { name } => vec![json!({"display": name})],
    };
    let mut doc = json!({
        "resourceType": "DocumentReference",
        "id": item.id,
        "meta": {"profile": [MHD_PROFILE]},
        "masterIdentifier": {
            "system": "urn:ietf:rfc:3986",
            "value": item.master_identifier.clone().unwrap_or_else(|| format!("urn:uuid:{}", item.id)),
        },
        "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", item.id)}],
        "status": status(item.status),
        "type": {"coding": [{"system": item.type_system, "code": item.type_code, "display": item.type_display}]},
        "category": [{"coding": [{"system": DSP_CATEGORY, "code": item.category.code(), "display": item.category.name()}]}],
        "subject": {"reference": format!("Patient/{}", item.record)},
        "date": item.filed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "author": author,
        "description": item.title,
        "securityLabel": [{"coding": [{"system": CONFIDENTIALITY, "code": item.confidentiality.hl7_code()}]}],
        "content": [{
            "attachment": {
                "contentType": item.mime_type,
                "url": format!("{base}/Binary/{}", item.id),
                "size": item.size,
                "title": item.title,
                "creation": item.filed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }
        }],
    });
    if let Some(day) = item.service_date {
        doc["context"] = json!({"period": {"start": day.to_string()}});
    }
    if let Some(old) = &item.replaces {
        doc["relatesTo"] = json!([{"code": "replaces", "target": {"reference": format!("DocumentReference/{old}")}}]);
    }
    doc
}

/// A submission set as an MHD List.
pub fn submission_set(
    id: &str,
    holder: &str,
    date: chrono::DateTime<chrono::Utc>,
    items: &[Item],
) -> Value {
    json!({
        "resourceType": "List",
        "id": id,
        "meta": {"profile": [MHD_LIST_PROFILE]},
        "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{id}")}],
        "status": "current",
        "mode": "working",
        "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]},
        "subject": {"reference": format!("Patient/{holder}")},
        "date": date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "entry": items.iter().map(|i| json!({"item": {"reference": format!("DocumentReference/{}", i.id)}})).collect::<Vec<_>>(),
    })
}

/// The patient a request names: a `Patient/{id}` reference, or a national
/// identification number (`system|value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientRef {
    Id(String),
    NationalId(String),
}

fn patient_from_reference(reference: &str, element: &str) -> Result<PatientRef, FhirError> {
    let id = reference
        .rsplit_once("Patient/")
        .map(|(_, id)| id)
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| resource_error(element, "must reference Patient/{id}"))?;
    Ok(PatientRef::Id(id.to_owned()))
}

fn patient_from_identifier(token: &str, element: &str) -> Result<PatientRef, FhirError> {
    let (system, value) = token
        .split_once('|')
        .ok_or_else(|| resource_error(element, "system|value expected"))?;
    if system != crate::systems::NATIONAL_ID || value.is_empty() {
        return Err(resource_error(
            element,
            format!(
                "the national identification number ({})",
                crate::systems::NATIONAL_ID
            ),
        ));
    }
    Ok(PatientRef::NationalId(value.to_owned()))
}

/// What an ITI-65 bundle asks to file.
#[derive(Debug, Clone)]
pub struct ProvideBundle {
    pub patient: PatientRef,
    /// Each document with the `fullUrl` it had in the bundle (for the response).
    pub documents: Vec<(String, NewItem)>,
    /// The submission set's `fullUrl`.
    pub submission_set: String,
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// Reads an ITI-65 Provide Document Bundle. Refuses, naming the element, anything it
/// cannot file faithfully.
pub fn provide_bundle(bundle: &Value) -> Result<ProvideBundle, FhirError> {
    if bundle["resourceType"] != "Bundle" {
        return Err(resource_error("Bundle", "a Bundle is expected"));
    }
    if bundle["type"] != "transaction" {
        return Err(resource_error(
            "Bundle.type",
            "must be transaction (ITI-65)",
        ));
    }
    let entries = bundle["entry"]
        .as_array()
        .ok_or_else(|| resource_error("Bundle.entry", "no entries"))?;
    let full_url = |e: &Value, i: usize| -> Result<String, FhirError> {
        str_at(e, "/fullUrl")
            .map(str::to_owned)
            .ok_or_else(|| resource_error(&format!("Bundle.entry[{i}].fullUrl"), "required"))
    };
    let mut binaries: Vec<(String, Value)> = Vec::new();
    let mut lists = Vec::new();
    let mut references = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let resource = &e["resource"];
        let method = str_at(e, "/request/method").unwrap_or_default();
        match resource["resourceType"].as_str() {
            Some("Binary") => binaries.push((full_url(e, i)?, resource.clone())),
            Some("List") => lists.push((full_url(e, i)?, resource.clone())),
            Some("DocumentReference") => {
                if method != "POST" {
                    return Err(resource_error(
                        &format!("Bundle.entry[{i}].request.method"),
                        "POST",
                    ));
                }
                references.push((i, full_url(e, i)?, resource.clone()));
            }
            Some("Patient") => {
                return Err(resource_error(
                    &format!("Bundle.entry[{i}]"),
                    "patients are identified in the patient directory, not created here",
                ));
            }
            other => {
                return Err(resource_error(
                    &format!("Bundle.entry[{i}].resource"),
                    format!(
                        "{} is not part of a Provide Document Bundle",
                        other.unwrap_or("(none)")
                    ),
                ));
            }
        }
    }
    let [(set_url, list)] = lists.as_slice() else {
        return Err(resource_error(
            "Bundle.entry",
            "exactly one List (the submission set)",
        ));
    };
    let is_submission = list["code"]["coding"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["code"] == "submissionset"));
    if !is_submission {
        return Err(resource_error("List.code", "must be submissionset"));
    }
    if references.is_empty() {
        return Err(resource_error(
            "Bundle.entry",
            "at least one DocumentReference",
        ));
    }
    let subject = |v: &Value, element: &str| -> Result<PatientRef, FhirError> {
        if let Some(reference) = str_at(v, "/subject/reference") {
            patient_from_reference(reference, element)
        } else if let (Some(system), Some(value)) = (
            str_at(v, "/subject/identifier/system"),
            str_at(v, "/subject/identifier/value"),
        ) {
            patient_from_identifier(&format!("{system}|{value}"), element)
        } else {
            Err(resource_error(element, "the patient is required"))
        }
    };
    let patient = subject(list, "List.subject")?;
    let mut documents = Vec::new();
    for (i, url, doc) in references {
        let element = |name: &str| format!("Bundle.entry[{i}].resource.{name}");
        if subject(&doc, &element("subject"))? != patient {
            return Err(resource_error(
                &element("subject"),
                "every document is of the submission set's patient",
            ));
        }
        let coding = doc["type"]["coding"]
            .as_array()
            .and_then(|c| c.first())
            .ok_or_else(|| resource_error(&element("type"), "required"))?;
        let (system, code) = (
            coding["system"].as_str().unwrap_or_default(),
            coding["code"].as_str().unwrap_or_default(),
        );
        let doc_type = document_type(system, code).ok_or_else(|| {
            resource_error(
                &element("type"),
                format!("{system}|{code} is not a document type of the DSP"),
            )
        })?;
        // A category given must be the one the type maps to: no filing into another
        // category than the operator's mapping says (DSP-2).
        if let Some(given) = doc["category"][0]["coding"][0]["code"].as_str()
            && DataCategory::parse_code(given) != Some(doc_type.category)
        {
            return Err(resource_error(
                &element("category"),
                format!(
                    "{code} files in {} ({})",
                    doc_type.category.code(),
                    doc_type.category.name()
                ),
            ));
        }
        let attachment = &doc["content"][0]["attachment"];
        let mime = attachment["contentType"]
            .as_str()
            .ok_or_else(|| {
                resource_error(&element("content[0].attachment.contentType"), "required")
            })?
            .to_owned();
        let b64 = base64::engine::general_purpose::STANDARD;
        let content = if let Some(data) = attachment["data"].as_str() {
            b64.decode(data)
                .map_err(|_| resource_error(&element("content[0].attachment.data"), "not base64"))?
        } else {
            let target = attachment["url"].as_str().ok_or_else(|| {
                resource_error(&element("content[0].attachment"), "data or url is required")
            })?;
            let (_, binary) = binaries.iter().find(|(u, _)| u == target).ok_or_else(|| {
                resource_error(
                    &element("content[0].attachment.url"),
                    "no Binary of the bundle has this fullUrl",
                )
            })?;
            b64.decode(binary["data"].as_str().unwrap_or_default())
                .map_err(|_| resource_error("Binary.data", "not base64"))?
        };
        let confidentiality = doc["securityLabel"][0]["coding"][0]["code"]
            .as_str()
            .map(|c| {
                Confidentiality::from_hl7(c).ok_or_else(|| {
                    resource_error(
                        &element("securityLabel"),
                        format!("{c} is not a confidentiality code"),
                    )
                })
            })
            .transpose()?
            .unwrap_or(Confidentiality::Restricted);
        let service_date = match str_at(&doc, "/context/period/start") {
            Some(s) => Some(
                NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d")
                    .map_err(|_| resource_error(&element("context.period.start"), "a date"))?,
            ),
            None => None,
        };
        let replaces = match doc["relatesTo"].as_array() {
            Some(rel) => {
                let mut found = None;
                for r in rel {
                    if r["code"] != "replaces" {
                        return Err(resource_error(
                            &element("relatesTo.code"),
                            "only replaces is supported",
                        ));
                    }
                    let target = r["target"]["reference"].as_str().unwrap_or_default();
                    let id = target
                        .strip_prefix("DocumentReference/")
                        .filter(|id| !id.is_empty())
                        .ok_or_else(|| {
                            resource_error(&element("relatesTo.target"), "DocumentReference/{id}")
                        })?;
                    found = Some(id.to_owned());
                }
                found
            }
            None => None,
        };
        let title = doc["description"]
            .as_str()
            .or(attachment["title"].as_str())
            .unwrap_or(doc_type.display)
            .to_owned();
        documents.push((
            url,
            NewItem {
                type_system: system.to_owned(),
                type_code: code.to_owned(),
                title,
                mime_type: mime,
                content,
                service_date,
                confidentiality,
                replaces,
                master_identifier: str_at(&doc, "/masterIdentifier/value").map(str::to_owned),
            },
        ));
    }
    Ok(ProvideBundle {
        patient,
        documents,
        submission_set: set_url.clone(),
    })
}

/// The `transaction-response` of a filed bundle: each entry's new location.
pub fn provide_response(set: &str, filed: &[(String, Item)], set_url: &str) -> Value {
    let mut entries = vec![json!({
        "fullUrl": set_url,
        "response": {"status": "201 Created", "location": format!("List/{set}")}
    })];
    for (url, item) in filed {
        entries.push(json!({
            "fullUrl": url,
            "response": {
                "status": "201 Created",
                "location": format!("DocumentReference/{}/_history/1", item.id),
                "lastModified": item.filed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }
        }));
    }
    json!({"resourceType": "Bundle", "type": "transaction-response", "entry": entries})
}

/// A parsed ITI-67 or ITI-66 search.
#[derive(Debug, Clone)]
pub struct DocumentSearch {
    pub patient: PatientRef,
    pub query: ItemQuery,
    pub count: usize,
    pub offset: usize,
}

/// The offset paging parameter of next links.
pub const OFFSET_PARAM: &str = "_offset";

/// Reads ITI-67 (and ITI-66) search parameters; the patient is required, anything
/// unsupported is refused by name.
pub fn document_search(
    params: &[(String, String)],
    lists: bool,
) -> Result<DocumentSearch, FhirError> {
    let invalid = |p: &str, r: &str| FhirError::Invalid {
        parameter: p.to_owned(),
        reason: r.to_owned(),
    };
    let mut patient = None;
    let mut query = ItemQuery::default();
    let mut count = 20;
    let mut offset = 0;
    for (name, value) in params {
        match name.as_str() {
            "patient" | "subject" => {
                patient = Some(
                    patient_from_reference(value, name)
                        .map_err(|_| invalid(name, "Patient/{id}"))?,
                )
            }
            "patient.identifier" | "subject.identifier" => {
                patient = Some(
                    patient_from_identifier(value, name)
                        .map_err(|e| invalid(name, &e.to_string()))?,
                )
            }
            "status" => {
                for s in value.split(',') {
                    query.statuses.push(match s {
                        "current" => ItemStatus::Current,
                        "superseded" => ItemStatus::Superseded,
                        "entered-in-error" => ItemStatus::Deprecated,
                        _ => return Err(invalid(name, "current, superseded or entered-in-error")),
                    });
                }
            }
            "category" if !lists => {
                for c in value.split(',') {
                    let code = c.rsplit('|').next().unwrap_or(c);
                    query
                        .categories
                        .push(DataCategory::parse_code(code).ok_or_else(|| {
                            invalid(name, "a DSP category, dsp-cat-01 to dsp-cat-19")
                        })?);
                }
            }
            "type" if !lists => {
                query.type_code = Some(value.rsplit('|').next().unwrap_or(value).to_owned())
            }
            "author.identifier" if !lists => {
                query.author = Some(value.rsplit('|').next().unwrap_or(value).to_owned())
            }
            "date" if !lists => {
                let parse = |d: &str| {
                    NaiveDate::parse_from_str(d, "%Y-%m-%d")
                        .map_err(|_| invalid(name, "ge|lt followed by YYYY-MM-DD"))
                };
                // By prefix, not by byte offset: a value may start with any character
                // (`date=é` split at byte 2 panicked; found by fuzzing).
                if let Some(day) = value.strip_prefix("ge") {
                    query.from = Some(parse(day)?);
                } else if let Some(day) = value.strip_prefix("lt") {
                    query.until = Some(parse(day)?);
                } else {
                    return Err(invalid(name, "only the ge and lt prefixes"));
                }
            }
            "code" if lists => {
                if value.rsplit('|').next() != Some("submissionset") {
                    return Err(invalid(name, "submissionset"));
                }
            }
            "_count" => {
                count = value
                    .parse::<usize>()
                    .ok()
                    .filter(|c| (1..=500).contains(c))
                    .ok_or_else(|| invalid(name, "1 to 500"))?
            }
            OFFSET_PARAM => {
                offset = value
                    .parse::<usize>()
                    .map_err(|_| invalid(name, "a number"))?
            }
            "_format" => {}
            other => {
                return Err(FhirError::NotSupported {
                    parameter: other.to_owned(),
                });
            }
        }
    }
    let patient = patient.ok_or_else(|| {
        invalid(
            "patient",
            "the patient is required (patient or patient.identifier)",
        )
    })?;
    Ok(DocumentSearch {
        patient,
        query,
        count,
        offset,
    })
}

#[cfg(test)]
mod tests;
