//! Matching: unit cases for each kind of register error, and the FEBRL benchmark data.

use std::collections::{HashMap, HashSet};

use super::*;

fn person(given: &str, surname: &str, birth: (i32, u32, u32)) -> IdentityFields {
    IdentityFields {
        national_id: None,
        surname: Some(surname.into()),
        birth_name: None,
        given_names: Some(given.into()),
        birth_date: NaiveDate::from_ymd_opt(birth.0, birth.1, birth.2),
        sex: Some("F".into()),
        street: Some("12 rue de la Gare".into()),
        postcode: Some("L-1611".into()),
        town: Some("Luxembourg".into()),
    }
}

fn decide(a: &IdentityFields, b: &IdentityFields) -> Decision {
    Matcher::default()
        .assess(&Prepared::new(a), &Prepared::new(b))
        .1
}

#[test]
fn normalisation_removes_case_diacritics_and_punctuation() {
    assert_eq!(normalise("Müller-Lüdenscheidt"), "muller ludenscheidt");
    assert_eq!(normalise("  JOÃO  da SILVA "), "joao da silva");
    assert_eq!(normalise("Wéber"), normalise("WEBER"));
}

#[test]
fn identical_and_variant_identities_link() {
    let base = person("Marie Anne", "Schmit", (1978, 4, 9));
    assert_eq!(decide(&base, &base), Decision::Link);
    let accents = person("Marie Anne", "Schmít", (1978, 4, 9));
    assert_eq!(decide(&base, &accents), Decision::Link);
    let typo = person("Marie Anne", "Schmitt", (1978, 4, 9));
    assert_eq!(decide(&base, &typo), Decision::Link);
    let transposed = person("Anne Marie", "Schmit", (1978, 4, 9));
    assert_eq!(decide(&base, &transposed), Decision::Link);
    let swapped_date = person("Marie Anne", "Schmit", (1978, 9, 4));
    assert_ne!(decide(&base, &swapped_date), Decision::Distinct);
    let mut missing = person("Marie Anne", "Schmit", (1978, 4, 9));
    missing.street = None;
    missing.town = None;
    assert_eq!(decide(&base, &missing), Decision::Link);
}

#[test]
fn different_people_stay_distinct() {
    let a = person("Marie", "Schmit", (1978, 4, 9));
    let sibling = person("Paul", "Schmit", (1981, 2, 17));
    assert_eq!(decide(&a, &sibling), Decision::Distinct);
    let mut stranger = person("Luca", "Ferreira", (1990, 1, 1));
    stranger.street = Some("3 route d'Arlon".into());
    stranger.postcode = Some("L-8009".into());
    stranger.town = Some("Strassen".into());
    assert_eq!(decide(&a, &stranger), Decision::Distinct);
}

#[test]
fn twins_are_not_merged_automatically() {
    // Same surname, birth date and address: only the given name differs.
    let a = person("Lena", "Hoffmann", (2010, 6, 1));
    let b = person("Mia", "Hoffmann", (2010, 6, 1));
    assert_ne!(decide(&a, &b), Decision::Link);
}

#[test]
fn two_valid_national_numbers_are_two_registrations() {
    let birth = NaiveDate::from_ymd_opt(1978, 4, 9).unwrap();
    let number = |serial| {
        crate::nin::NationalId::from_parts(birth, serial)
            .map(String::from)
            .unwrap()
    };
    let mut a = person("Marie", "Schmit", (1978, 4, 9));
    a.national_id = Some(number(120));
    // Everything else the same: a namesake born the same day, or one person registered
    // twice; either way a person of the identity-vigilance team decides.
    let mut namesake = a.clone();
    namesake.national_id = Some(number(457));
    assert_eq!(decide(&a, &namesake), Decision::Review);
    // The same number with one digit mistyped fails its check digits: a typo.
    let mut typo = a.clone();
    let mut digits: Vec<u8> = number(120).into_bytes();
    digits[9] = if digits[9] == b'9' {
        b'0'
    } else {
        digits[9] + 1
    };
    typo.national_id = Some(String::from_utf8(digits).unwrap());
    assert!(crate::nin::NationalId::parse(typo.national_id.as_deref().unwrap()).is_err());
    assert_eq!(decide(&a, &typo), Decision::Link);
    assert_eq!(decide(&a, &a.clone()), Decision::Link);
}

#[test]
fn blocking_brings_typo_pairs_together() {
    let records: Vec<Prepared> = [
        person("Marie", "Schmit", (1978, 4, 9)),
        person("Marie", "Schmitt", (1978, 4, 9)),
        person("Marie", "Schmit", (1978, 9, 4)),
        person("Paul", "Ferreira", (1950, 1, 1)),
    ]
    .iter()
    .map(Prepared::new)
    .collect();
    let pairs = candidate_pairs(&records);
    assert!(pairs.contains(&(0, 1)));
    assert!(pairs.contains(&(0, 2)));
    assert!(!pairs.iter().any(|&(i, j)| i == 3 || j == 3));
}

/// Loads a FEBRL file and its truth as indexes.
fn febrl(name: &str) -> (Vec<Prepared>, HashSet<(usize, usize)>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mpi");
    let text = std::fs::read_to_string(dir.join(format!("{name}.csv"))).unwrap();
    let mut index = HashMap::new();
    let mut records = Vec::new();
    for (n, line) in text.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |i: usize| f.get(i).filter(|s| !s.is_empty()).map(|s| s.to_string());
        index.insert(f[0].to_owned(), n);
        let street = match (get(3), get(4)) {
            (Some(no), Some(st)) => Some(format!("{no} {st}")),
            (None, st) => st,
            (no, None) => no,
        };
        records.push(Prepared::new(&IdentityFields {
            national_id: get(10),
            surname: get(2),
            birth_name: None,
            given_names: get(1),
            birth_date: get(9).and_then(|d| NaiveDate::parse_from_str(&d, "%Y%m%d").ok()),
            sex: None,
            street,
            postcode: get(7),
            town: get(6),
        }));
    }
    let truth_text = std::fs::read_to_string(dir.join(format!("{name}_truth.csv"))).unwrap();
    let truth = truth_text
        .lines()
        .skip(1)
        .map(|l| {
            let (a, b) = l.split_once(',').unwrap();
            let (i, j) = (index[a.trim()], index[b.trim()]);
            (i.min(j), i.max(j))
        })
        .collect();
    (records, truth)
}

#[test]
fn febrl_development_data_is_matched_accurately() {
    for name in ["febrl1", "febrl2"] {
        let (records, truth) = febrl(name);
        let metrics = evaluate(&Matcher::default(), &records, &truth);
        eprintln!(
            "{name}: precision {:.4} recall {:.4} F1 {:.4} ({metrics:?})",
            metrics.precision(),
            metrics.recall(),
            metrics.f1()
        );
        assert!(metrics.f1() >= 0.99, "{name}: {metrics:?}");
        assert!(metrics.precision() >= 0.999, "{name}: {metrics:?}");
    }
}
