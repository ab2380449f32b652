//! Reading Provide Document Bundles and search parameters: what is accepted, and what is
//! refused with the element named.

use super::*;

fn bundle(docs: Vec<Value>) -> Value {
    let mut entries = vec![json!({
        "fullUrl": "urn:uuid:set",
        "resource": {
            "resourceType": "List", "status": "current", "mode": "working",
            "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]},
            "subject": {"reference": "Patient/pat-1"}
        },
        "request": {"method": "POST", "url": "List"}
    })];
    for (i, d) in docs.into_iter().enumerate() {
        entries.push(json!({"fullUrl": format!("urn:uuid:doc-{i}"), "resource": d, "request": {"method": "POST", "url": "DocumentReference"}}));
    }
    entries.push(json!({"fullUrl": "urn:uuid:bin-0", "resource": {"resourceType": "Binary", "contentType": "application/pdf", "data": "JVBERi0xLjQ="}, "request": {"method": "POST", "url": "Binary"}}));
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

fn lab() -> Value {
    json!({
        "resourceType": "DocumentReference", "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
        "subject": {"reference": "Patient/pat-1"},
        "securityLabel": [{"coding": [{"system": CONFIDENTIALITY, "code": "R"}]}],
        "content": [{"attachment": {"contentType": "application/pdf", "url": "urn:uuid:bin-0"}}],
        "context": {"period": {"start": "2026-11-30"}}
    })
}

#[test]
fn a_provide_bundle_is_read_into_documents() {
    let parsed = provide_bundle(&bundle(vec![lab()])).unwrap();
    assert_eq!(parsed.patient, PatientRef::Id("pat-1".into()));
    let (url, doc) = &parsed.documents[0];
    assert_eq!(url, "urn:uuid:doc-0");
    assert_eq!(doc.content, b"%PDF-1.4");
    assert_eq!(doc.confidentiality, Confidentiality::Confidential);
    assert_eq!(doc.service_date, NaiveDate::from_ymd_opt(2026, 11, 30));
}

#[test]
fn bad_bundles_are_refused_naming_the_element() {
    let mut wrong_type = lab();
    wrong_type["type"]["coding"][0]["code"] = json!("0000-0");
    let mut wrong_category = lab();
    wrong_category["category"] = json!([{"coding": [{"code": "dsp-cat-02"}]}]);
    let mut other_patient = lab();
    other_patient["subject"]["reference"] = json!("Patient/pat-2");
    let mut dangling = lab();
    dangling["content"][0]["attachment"]["url"] = json!("urn:uuid:nowhere");
    for (doc, needle) in [
        (wrong_type, "type"),
        (wrong_category, "category"),
        (other_patient, "subject"),
        (dangling, "attachment.url"),
    ] {
        let err = provide_bundle(&bundle(vec![doc])).unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
    }
    let mut batch = bundle(vec![lab()]);
    batch["type"] = json!("batch");
    assert!(
        provide_bundle(&batch)
            .unwrap_err()
            .to_string()
            .contains("transaction")
    );
}

#[test]
fn searches_need_a_patient_and_refuse_what_is_unsupported() {
    let p = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect::<Vec<_>>()
    };
    let s = document_search(
        &p(&[
            ("patient", "Patient/x"),
            ("category", "dsp-cat-09"),
            ("date", "ge2026-01-01"),
        ]),
        false,
    )
    .unwrap();
    assert_eq!(s.query.categories, vec![DataCategory::Analyses]);
    assert!(document_search(&p(&[("category", "dsp-cat-09")]), false).is_err());
    assert!(matches!(
        document_search(&p(&[("patient", "Patient/x"), ("author", "y")]), false),
        Err(FhirError::NotSupported { .. })
    ));
    assert!(
        document_search(
            &p(&[("patient", "Patient/x"), ("date", "eq2026-01-01")]),
            false
        )
        .is_err()
    );
    // A value that starts with a character of more than one byte is refused, not cut
    // inside the character (found by fuzzing: it panicked).
    for odd in ["é", "gé2026-01-01", "\u{10348}"] {
        assert!(
            document_search(&p(&[("patient", "Patient/x"), ("date", odd)]), false).is_err(),
            "{odd}"
        );
    }
}
