//! Registers as CSV files, in the FEBRL layout used by the development data
//! (`rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode,
//! state, date_of_birth, soc_sec_id`), with truth files of `rec_id_a, rec_id_b` pairs:
//! what the matching score command and the benchmarks read and write.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::time::Instant;

use chrono::NaiveDate;

use crate::matching::{IdentityFields, Matcher, Metrics, Prepared, evaluate};
use crate::synthetic::SyntheticRecord;
use sante_types::{Coded, ErrorKind};

/// A problem with a register or truth file, naming the line.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("line {line}: {reason}")]
    Line { line: u64, reason: String },
    #[error("missing column {0}")]
    MissingColumn(&'static str),
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl Coded for FileError {
    fn code(&self) -> &'static str {
        match self {
            FileError::Line { .. } => "DIR040",
            FileError::MissingColumn(_) => "DIR041",
            FileError::Csv(_) => "DIR042",
            FileError::Io(_) => "DIR043",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            FileError::Io(_) => ErrorKind::Unavailable,
            _ => ErrorKind::Invalid,
        }
    }
}

/// A register read from a file: record ids and their fields, in file order.
#[derive(Debug, Default)]
pub struct Register {
    pub ids: Vec<String>,
    pub fields: Vec<IdentityFields>,
}

fn column(headers: &csv::StringRecord, name: &'static str) -> Result<usize, FileError> {
    headers
        .iter()
        .position(|h| h.trim() == name)
        .ok_or(FileError::MissingColumn(name))
}

/// Reads a FEBRL-layout register.
pub fn read_register(input: impl Read) -> Result<Register, FileError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = reader.headers()?.clone();
    let c = |n| column(&headers, n);
    let (id, given, surname, number, street, suburb, postcode, dob, ssn) = (
        c("rec_id")?,
        c("given_name")?,
        c("surname")?,
        c("street_number")?,
        c("address_1")?,
        c("suburb")?,
        c("postcode")?,
        c("date_of_birth")?,
        c("soc_sec_id")?,
    );
    let mut register = Register::default();
    for (n, row) in reader.records().enumerate() {
        let row = row?;
        let line = n as u64 + 2;
        let get = |i: usize| row.get(i).filter(|s| !s.is_empty()).map(str::to_owned);
        let record_id = get(id).ok_or_else(|| FileError::Line {
            line,
            reason: "empty rec_id".into(),
        })?;
        let birth_date = match get(dob) {
            None => None,
            // Registers hold impossible dates; they count as missing, not as errors.
            Some(d) => NaiveDate::parse_from_str(&d, "%Y%m%d").ok(),
        };
        let street = match (get(number), get(street)) {
            (Some(no), Some(st)) => Some(format!("{no} {st}")),
            (None, st) => st,
            (no, None) => no,
        };
        register.ids.push(record_id);
        register.fields.push(IdentityFields {
            national_id: get(ssn),
            surname: get(surname),
            birth_name: None,
            given_names: get(given),
            birth_date,
            sex: None,
            street,
            postcode: get(postcode),
            town: get(suburb),
        });
    }
    Ok(register)
}

/// Reads `rec_id_a, rec_id_b` pairs as index pairs into `register`.
pub fn read_truth(
    input: impl Read,
    register: &Register,
) -> Result<HashSet<(usize, usize)>, FileError> {
    let index: HashMap<&str, usize> = register
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut truth = HashSet::new();
    for (n, row) in reader.records().enumerate() {
        let row = row?;
        let line = n as u64 + 2;
        let lookup = |i: usize| {
            let id = row.get(i).unwrap_or_default();
            index.get(id).copied().ok_or_else(|| FileError::Line {
                line,
                reason: format!("record {id:?} is not in the register"),
            })
        };
        let (a, b) = (lookup(0)?, lookup(1)?);
        truth.insert((a.min(b), a.max(b)));
    }
    Ok(truth)
}

/// Writes a synthetic register and its truth in the FEBRL layout.
pub fn write_register(
    records: &[SyntheticRecord],
    register: impl Write,
    truth: impl Write,
) -> Result<(), FileError> {
    let mut out = csv::Writer::from_writer(register);
    out.write_record([
        "rec_id",
        "given_name",
        "surname",
        "street_number",
        "address_1",
        "address_2",
        "suburb",
        "postcode",
        "state",
        "date_of_birth",
        "soc_sec_id",
    ])?;
    let mut by_person: HashMap<u64, Vec<&str>> = HashMap::new();
    for r in records {
        let f = &r.fields;
        let (number, street) = match f.street.as_deref().and_then(|s| s.split_once(' ')) {
            Some((n, s)) if n.chars().all(|c| c.is_ascii_digit()) => (n.to_owned(), s.to_owned()),
            _ => (String::new(), f.street.clone().unwrap_or_default()),
        };
        let surname = f.surname.clone().unwrap_or_default();
        out.write_record([
            r.record_id.as_str(),
            f.given_names.as_deref().unwrap_or_default(),
            surname.as_str(),
            number.as_str(),
            street.as_str(),
            "",
            f.town.as_deref().unwrap_or_default(),
            f.postcode.as_deref().unwrap_or_default(),
            "",
            &f.birth_date
                .map(|d| d.format("%Y%m%d").to_string())
                .unwrap_or_default(),
            f.national_id.as_deref().unwrap_or_default(),
        ])?;
        by_person.entry(r.person).or_default().push(&r.record_id);
    }
    out.flush()?;
    let mut truth_out = csv::Writer::from_writer(truth);
    truth_out.write_record(["rec_id_a", "rec_id_b"])?;
    for ids in by_person.values() {
        for (n, a) in ids.iter().enumerate() {
            for b in &ids[n + 1..] {
                truth_out.write_record([*a, *b])?;
            }
        }
    }
    truth_out.flush()?;
    Ok(())
}

/// The score of a matching run and how long it took.
#[derive(Debug, Clone, Copy)]
pub struct Score {
    pub records: usize,
    pub metrics: Metrics,
    pub seconds: f64,
}

/// Matches a register and scores it against its truth.
pub fn score(register: &Register, truth: &HashSet<(usize, usize)>, matcher: &Matcher) -> Score {
    // The measured time covers preparation, blocking and comparison.
    let started = Instant::now();
    let prepared: Vec<Prepared> = register.fields.iter().map(Prepared::new).collect();
    let metrics = evaluate(matcher, &prepared, truth);
    Score {
        records: register.ids.len(),
        metrics,
        seconds: started.elapsed().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{ErrorRates, Generator};

    #[test]
    fn generated_registers_round_trip_through_files() {
        let records = Generator::new(3, ErrorRates::default()).register(500);
        let (mut reg, mut truth) = (Vec::new(), Vec::new());
        write_register(&records, &mut reg, &mut truth).unwrap();
        let register = read_register(&reg[..]).unwrap();
        assert_eq!(register.ids.len(), records.len());
        let truth = read_truth(&truth[..], &register).unwrap();
        let s = score(&register, &truth, &Matcher::default());
        assert!(s.metrics.f1() > 0.95, "{s:?}");
    }

    #[test]
    fn bad_truth_lines_are_named() {
        let register = read_register("rec_id,given_name,surname,street_number,address_1,address_2,suburb,postcode,state,date_of_birth,soc_sec_id\nr1,a,b,,,,,,,19800101,1\n".as_bytes()).unwrap();
        let err = read_truth("rec_id_a,rec_id_b\nr1,r9\n".as_bytes(), &register).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: record \"r9\" is not in the register"
        );
        let err = read_register("rec_id,surname\n".as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "missing column given_name");
    }
}
