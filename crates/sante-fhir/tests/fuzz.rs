//! Fuzz targets of the FHIR wire format (issue 14, item 6): resources as clients send
//! them (Patient, Practitioner, Organization, an MHD provide bundle, an Encounter) and
//! search parameters as a query string. Corpora in `fuzz/<target>/`.

use sante_fhir::search::Search;
use sante_fuzz::target;

const JSON_TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"1e999",
    b"-0",
    b"\\u0000",
    b"\"resourceType\":",
    b"\"Patient\"",
    b"\"Bundle\"",
    b"\"entry\":[",
    b"\"identifier\":[",
    b"\"system\":",
    b"\"value\":",
    b"\"birthDate\":\"",
    b"\"data\":\"",
    b"\"extension\":[",
];

#[test]
fn fhir_resources() {
    target!("fhir_resources").tokens(JSON_TOKENS).run(|input| {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(input) else {
            return;
        };
        let _ = sante_fhir::patient_from_fhir(&value);
        let _ = sante_fhir::practitioner_from_fhir(&value);
        let _ = sante_fhir::organization_from_fhir(&value);
        let _ = sante_fhir::mhd::provide_bundle(&value);
        let _ = sante_fhir::encounter::stay_from_fhir(&value);
    });
}

fn bounded<Q>(search: Result<Search<Q>, sante_fhir::FhirError>) {
    if let Ok(search) = search {
        assert!(
            (1..=500).contains(&search.paging.count),
            "{}",
            search.paging.count
        );
    }
}

#[test]
fn fhir_search_parameters() {
    // A query string as the API splits it: `&` between parameters, the first `=`.
    target!("fhir_search_parameters")
        .tokens(&[
            b"&",
            b"=",
            b"_count=",
            b"_id=",
            b"identifier=",
            b"|",
            b",",
            b":exact",
            b":contains",
            b"birthdate=",
            b"ge",
            b"le",
            b"name=",
            b"given=",
            b"family=",
            b"_include=",
            b"*",
            b"patient.identifier=",
            b"status=",
            b"date=",
            b"_sort=",
            b"%00",
            b"-",
        ])
        .run(|input| {
            let text = String::from_utf8_lossy(input);
            let params: Vec<(String, String)> = text
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, v)) => (k.to_owned(), v.to_owned()),
                    None => (pair.to_owned(), String::new()),
                })
                .collect();
            bounded(sante_fhir::search::practitioners(&params));
            bounded(sante_fhir::search::practitioner_roles(&params));
            bounded(sante_fhir::search::organizations(&params));
            bounded(sante_fhir::search::locations(&params));
            bounded(sante_fhir::search::healthcare_services(&params));
            bounded(sante_fhir::search::patients(&params));
            let _ = sante_fhir::mhd::document_search(&params, false);
            let _ = sante_fhir::mhd::document_search(&params, true);
        });
}
