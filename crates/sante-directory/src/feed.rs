//! Register feeds: the official registers as CSV files, one entry per line, loaded in
//! batches through the directory service.
//!
//! A feed is idempotent (an unchanged line writes nothing), resumable (the last line
//! committed is kept per file, so an interrupted import starts again after it), and
//! strict per line: a bad line is reported with its number and reason and never
//! half-imported, while the good lines around it are all loaded.
//!
//! Other formats (FHIR NDJSON) come through [`import_entries`] with their own parser.

use std::collections::HashMap;
use std::io::Read;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::access::Request;
use crate::model::*;
use crate::nin::NationalId;
use crate::service::{BatchOutcome, Directory, DirectoryError, DirectoryResult, Entry};
use sante_types::{Coded, ErrorKind};

/// Which register a file feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisterKind {
    Professionals,
    Establishments,
    Patients,
    Agents,
}

impl RegisterKind {
    pub fn parse(name: &str) -> Option<RegisterKind> {
        Some(match name {
            "professionals" => RegisterKind::Professionals,
            "establishments" => RegisterKind::Establishments,
            "patients" => RegisterKind::Patients,
            "agents" => RegisterKind::Agents,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            RegisterKind::Professionals => "professionals",
            RegisterKind::Establishments => "establishments",
            RegisterKind::Patients => "patients",
            RegisterKind::Agents => "agents",
        }
    }

    /// The CSV header of this register's files.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            RegisterKind::Professionals => PROFESSIONAL_COLUMNS,
            RegisterKind::Establishments => ESTABLISHMENT_COLUMNS,
            RegisterKind::Patients => PATIENT_COLUMNS,
            RegisterKind::Agents => AGENT_COLUMNS,
        }
    }
}

pub const PROFESSIONAL_COLUMNS: &[&str] = &[
    "id",
    "national_id",
    "family_name",
    "given_names",
    "sex",
    "profession",
    "specialities",
    "authorisation_status",
    "granted_on",
    "status_since",
    "suspended_until",
    "location_name",
    "street",
    "postcode",
    "town",
    "country",
    "phone",
    "email",
    "establishment",
    "affiliation_start",
    "affiliation_end",
];

pub const ESTABLISHMENT_COLUMNS: &[&str] = &[
    "id",
    "name",
    "kind",
    "identifier_system",
    "identifier_value",
    "site_id",
    "site_name",
    "street",
    "postcode",
    "town",
    "country",
    "phone",
    "email",
    "active",
];

pub const PATIENT_COLUMNS: &[&str] = &[
    "national_id",
    "birth_name",
    "used_name",
    "given_names",
    "sex",
    "birth_date",
    "birth_place",
    "street",
    "postcode",
    "town",
    "country",
    "insurer",
    "insured_from",
    "insured_until",
    "death_date",
    "representative_name",
    "representative_national_id",
    "representative_relationship",
];

pub const AGENT_COLUMNS: &[&str] = &[
    "id",
    "national_id",
    "family_name",
    "given_names",
    "organisation",
    "function",
    "requesting_organisation",
    "valid_from",
    "valid_until",
    "roles",
    "phone",
    "email",
];

/// A problem with the file as a whole (not with one line).
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the header lacks column {0:?}")]
    MissingColumn(&'static str),
    #[error("the header has unknown column {0:?}")]
    UnknownColumn(String),
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("{0}")]
    Directory(#[from] DirectoryError),
}

impl Coded for FeedError {
    fn code(&self) -> &'static str {
        match self {
            FeedError::MissingColumn(_) => "DIR030",
            FeedError::UnknownColumn(_) => "DIR031",
            FeedError::Csv(_) => "DIR032",
            FeedError::Directory(e) => e.code(),
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            FeedError::Directory(e) => e.kind(),
            _ => ErrorKind::Invalid,
        }
    }
}

/// One refused line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub line: u64,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Lines read in this run (after the resume point).
    pub lines: u64,
    /// Lines skipped because an earlier run had committed them.
    pub resumed_after: u64,
    pub outcome: BatchOutcome,
    pub rejections: Vec<Rejection>,
}

/// A CSV row by column name.
struct Row<'a> {
    record: &'a csv::StringRecord,
    index: &'a HashMap<&'static str, usize>,
}

impl Row<'_> {
    fn text(&self, column: &'static str) -> Option<String> {
        self.index
            .get(column)
            .and_then(|&i| self.record.get(i))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    fn required(&self, column: &'static str) -> Result<String, String> {
        self.text(column)
            .ok_or_else(|| format!("{column}: is required"))
    }

    fn date(&self, column: &'static str) -> Result<Option<NaiveDate>, String> {
        self.text(column)
            .map(|t| {
                NaiveDate::parse_from_str(&t, "%Y-%m-%d")
                    .map_err(|_| format!("{column}: {t:?} is not a date (YYYY-MM-DD)"))
            })
            .transpose()
    }

    fn required_date(&self, column: &'static str) -> Result<NaiveDate, String> {
        self.date(column)?
            .ok_or_else(|| format!("{column}: is required"))
    }

    fn nin(&self, column: &'static str) -> Result<Option<NationalId>, String> {
        self.text(column)
            .map(|t| NationalId::parse(&t).map_err(|e| format!("{column}: {e}")))
            .transpose()
    }

    fn list(&self, column: &'static str) -> Vec<String> {
        self.text(column)
            .map(|t| {
                t.split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn sex(&self) -> Result<Sex, String> {
        let code = self.text("sex").unwrap_or_default();
        Sex::from_register(&code).ok_or_else(|| format!("sex: unknown code {code:?}"))
    }

    fn address(&self) -> Option<Address> {
        let address = Address {
            lines: self.text("street").into_iter().collect(),
            postcode: self.text("postcode"),
            town: self.text("town"),
            country: self.text("country"),
        };
        (address != Address::default()).then_some(address)
    }

    fn contact(&self) -> Contact {
        Contact {
            phone: self.text("phone"),
            email: self.text("email"),
        }
    }
}

fn coded<T>(
    row: &Row<'_>,
    column: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, String> {
    let code = row.required(column)?;
    parse(&code).ok_or_else(|| format!("{column}: unknown code {code:?}"))
}

fn professional(row: &Row<'_>) -> Result<Professional, String> {
    let id = row.required("id")?;
    let granted_on = row.required_date("granted_on")?;
    let locations = match row.text("location_name") {
        Some(name) => vec![PracticeLocation {
            id: format!("{id}-1"),
            name,
            address: row.address().unwrap_or_default(),
            contact: Contact::default(),
        }],
        None => Vec::new(),
    };
    let affiliations = match row.text("establishment") {
        Some(establishment) => vec![Affiliation {
            establishment,
            site: None,
            start: row.required_date("affiliation_start")?,
            end: row.date("affiliation_end")?,
        }],
        None => Vec::new(),
    };
    Ok(Professional {
        national_id: row.nin("national_id")?,
        family_name: row.required("family_name")?,
        given_names: row.list("given_names"),
        sex: row.sex()?,
        profession: coded(row, "profession", Profession::parse)?,
        specialities: row.list("specialities"),
        authorisation: Authorisation {
            status: coded(row, "authorisation_status", AuthorisationStatus::parse)?,
            granted_on,
            status_since: row.date("status_since")?.unwrap_or(granted_on),
            suspended_until: row.date("suspended_until")?,
        },
        locations,
        affiliations,
        contact: row.contact(),
        id,
    })
}

fn establishment(row: &Row<'_>) -> Result<Establishment, String> {
    let identifiers = match (row.text("identifier_system"), row.text("identifier_value")) {
        (Some(system), Some(value)) => vec![Identifier { system, value }],
        (None, None) => Vec::new(),
        _ => return Err("identifier_system and identifier_value go together".into()),
    };
    let sites = match row.text("site_id") {
        Some(site) => vec![Site {
            id: site,
            name: row.required("site_name")?,
            address: row.address().unwrap_or_default(),
        }],
        None => Vec::new(),
    };
    let active = match row.text("active").as_deref() {
        None | Some("true") | Some("1") | Some("yes") => true,
        Some("false") | Some("0") | Some("no") => false,
        Some(other) => return Err(format!("active: {other:?} is not true or false")),
    };
    Ok(Establishment {
        id: row.required("id")?,
        name: row.required("name")?,
        kind: coded(row, "kind", EstablishmentKind::parse)?,
        identifiers,
        sites,
        contact: row.contact(),
        active,
    })
}

fn patient(row: &Row<'_>) -> Result<Patient, String> {
    let national_id = row
        .nin("national_id")?
        .ok_or("national_id: is required in the national register")?;
    let insurance = match row.text("insurer") {
        Some(insurer) => Some(InsuranceAffiliation {
            insurer,
            start: row.required_date("insured_from")?,
            end: row.date("insured_until")?,
        }),
        None => None,
    };
    let legal_representative = match row.text("representative_name") {
        Some(name) => Some(LegalRepresentative {
            name,
            national_id: row.nin("representative_national_id")?,
            relationship: row.required("representative_relationship")?,
        }),
        None => None,
    };
    Ok(Patient {
        id: String::new(),
        birth_date: row.date("birth_date")?.or_else(|| national_id.birth_date()),
        national_id: Some(national_id),
        birth_name: row.required("birth_name")?,
        used_name: row.text("used_name"),
        given_names: row.list("given_names"),
        sex: row.sex()?,
        birth_place: row.text("birth_place"),
        address: row.address(),
        insurance,
        death_date: row.date("death_date")?,
        legal_representative,
        // The social-security register is the reference: its identities are qualified.
        status: IdentityStatus::Qualified,
        doubtful: false,
        homonym: false,
        merged_into: None,
    })
}

fn agent(row: &Row<'_>) -> Result<Agent, String> {
    let roles = row
        .list("roles")
        .iter()
        .map(|r| AgentRole::parse(r).ok_or_else(|| format!("roles: unknown role {r:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Agent {
        id: row.required("id")?,
        national_id: row.nin("national_id")?,
        family_name: row.required("family_name")?,
        given_names: row.list("given_names"),
        organisation: row.required("organisation")?,
        function: row.required("function")?,
        requesting_organisation: row.required("requesting_organisation")?,
        valid_from: row.required_date("valid_from")?,
        valid_until: row.date("valid_until")?,
        roles,
        contact: row.contact(),
    })
}

/// An entry read from one line, or why the line was refused.
pub type Parsed<E> = (u64, Result<E, String>);

/// Reads a register CSV file into entries. The header must hold exactly the
/// register's columns (in any order); line numbers count the header as line 1.
pub fn read_csv<E: 'static>(
    input: impl Read,
    kind: RegisterKind,
    parse: fn(&csv::StringRecord, &HashMap<&'static str, usize>) -> Result<E, String>,
) -> Result<impl Iterator<Item = Parsed<E>>, FeedError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers = reader.headers()?.clone();
    let columns = kind.columns();
    let mut index = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim();
        let known = columns
            .iter()
            .find(|c| **c == h)
            .ok_or_else(|| FeedError::UnknownColumn(h.to_owned()))?;
        index.insert(*known, i);
    }
    for c in columns {
        if !index.contains_key(c) {
            return Err(FeedError::MissingColumn(c));
        }
    }
    let width = headers.len();
    Ok(reader.into_records().enumerate().map(move |(n, record)| {
        let line = n as u64 + 2;
        let entry = match record {
            Err(e) => Err(format!("unreadable line: {e}")),
            Ok(r) if r.len() != width => Err(format!(
                "has {} fields where the header has {width}",
                r.len()
            )),
            Ok(r) => parse(&r, &index),
        };
        (line, entry)
    }))
}

macro_rules! row_parser {
    ($name:ident, $entry:ty, $build:ident) => {
        /// Parses one row of this register's CSV layout.
        pub fn $name(
            record: &csv::StringRecord,
            index: &HashMap<&'static str, usize>,
        ) -> Result<$entry, String> {
            $build(&Row { record, index })
        }
    };
}

row_parser!(professional_row, Professional, professional);
row_parser!(establishment_row, Establishment, establishment);
row_parser!(patient_row, Patient, patient);
row_parser!(agent_row, Agent, agent);

/// How an import finds what it has already done for one file.
pub trait Progress {
    /// Called after each committed batch with the number of lines done so far.
    fn lines_done(&mut self, done: u64);
}

impl<F: FnMut(u64)> Progress for F {
    fn lines_done(&mut self, done: u64) {
        self(done)
    }
}

/// Loads parsed entries in batches. `source` identifies the file (its content hash),
/// so a second run of an interrupted import resumes after the last committed line.
/// The key of an entry identifies duplicates inside the file: the second line naming
/// the same entry is refused, naming the first.
pub async fn import_entries<E, K>(
    directory: &Directory,
    req: &Request,
    source: &str,
    entries: impl Iterator<Item = Parsed<E>>,
    batch_size: usize,
    key_of: impl Fn(&E) -> K,
    mut progress: impl Progress,
) -> Result<ImportReport, FeedError>
where
    E: Entry + Loadable,
    K: std::hash::Hash + Eq,
{
    let resume = directory.import_checkpoint(source).await?;
    let mut report = ImportReport {
        resumed_after: resume,
        ..ImportReport::default()
    };
    let mut first_seen: HashMap<K, u64> = HashMap::new();
    let mut batch: Vec<E> = Vec::with_capacity(batch_size);
    let mut last_line = resume;
    for (line, parsed) in entries {
        if line <= resume {
            continue;
        }
        report.lines += 1;
        last_line = line;
        let checked = parsed.and_then(|e| {
            let mut probe = e.clone();
            probe.prepare_for_check();
            probe.validate().map_err(|err| err.to_string())?;
            Ok(e)
        });
        match checked {
            Err(reason) => report.rejections.push(Rejection { line, reason }),
            Ok(e) => match first_seen.get(&key_of(&e)) {
                Some(first) => report.rejections.push(Rejection {
                    line,
                    reason: format!("the same entry as line {first}"),
                }),
                None => {
                    first_seen.insert(key_of(&e), line);
                    batch.push(e);
                }
            },
        }
        if batch.len() >= batch_size {
            report.outcome += E::load(directory, req, &batch).await?;
            batch.clear();
            directory.set_import_checkpoint(source, line).await?;
            progress.lines_done(line);
        }
    }
    if !batch.is_empty() {
        report.outcome += E::load(directory, req, &batch).await?;
    }
    if last_line > resume {
        directory.set_import_checkpoint(source, last_line).await?;
    }
    progress.lines_done(last_line);
    Ok(report)
}

/// How a kind of entry is loaded (patients go through identity vigilance).
pub trait Loadable: Sized {
    /// Fills what a register line does not carry, so that validation can run.
    fn prepare_for_check(&mut self) {}
    fn load(
        directory: &Directory,
        req: &Request,
        batch: &[Self],
    ) -> impl std::future::Future<Output = DirectoryResult<BatchOutcome>> + Send;
}

macro_rules! loadable_register {
    ($t:ty) => {
        impl Loadable for $t {
            async fn load(
                directory: &Directory,
                req: &Request,
                batch: &[Self],
            ) -> DirectoryResult<BatchOutcome> {
                directory.upsert(req, batch).await
            }
        }
    };
}

loadable_register!(Professional);
loadable_register!(Establishment);
loadable_register!(Agent);

impl Loadable for Patient {
    fn prepare_for_check(&mut self) {
        self.id = "new".into();
    }

    async fn load(
        directory: &Directory,
        req: &Request,
        batch: &[Self],
    ) -> DirectoryResult<BatchOutcome> {
        directory.upsert_patients(req, batch).await
    }
}

/// Writes entries in the register's CSV layout (the synthetic registers, exports).
pub struct CsvWriter<W: std::io::Write> {
    inner: csv::Writer<W>,
}

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

impl<W: std::io::Write> CsvWriter<W> {
    pub fn new(out: W, kind: RegisterKind) -> Result<CsvWriter<W>, FeedError> {
        let mut inner = csv::Writer::from_writer(out);
        inner.write_record(kind.columns())?;
        Ok(CsvWriter { inner })
    }

    pub fn patient(&mut self, p: &Patient) -> Result<(), FeedError> {
        let a = p.address.clone().unwrap_or_default();
        let i = p.insurance.as_ref();
        let r = p.legal_representative.as_ref();
        self.inner.write_record([
            p.national_id
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
            p.birth_name.clone(),
            p.used_name.clone().unwrap_or_default(),
            p.given_names.join(";"),
            p.sex.code().to_owned(),
            date(p.birth_date),
            p.birth_place.clone().unwrap_or_default(),
            a.lines.first().cloned().unwrap_or_default(),
            a.postcode.unwrap_or_default(),
            a.town.unwrap_or_default(),
            a.country.unwrap_or_default(),
            i.map(|i| i.insurer.clone()).unwrap_or_default(),
            date(i.map(|i| i.start)),
            date(i.and_then(|i| i.end)),
            date(p.death_date),
            r.map(|r| r.name.clone()).unwrap_or_default(),
            r.and_then(|r| r.national_id.as_ref().map(|n| n.as_str().to_owned()))
                .unwrap_or_default(),
            r.map(|r| r.relationship.clone()).unwrap_or_default(),
        ])?;
        Ok(())
    }

    pub fn professional(&mut self, p: &Professional) -> Result<(), FeedError> {
        let loc = p.locations.first();
        let a = loc.map(|l| l.address.clone()).unwrap_or_default();
        let aff = p.affiliations.first();
        self.inner.write_record([
            p.id.clone(),
            p.national_id
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
            p.family_name.clone(),
            p.given_names.join(";"),
            p.sex.code().to_owned(),
            p.profession.code().to_owned(),
            p.specialities.join(";"),
            p.authorisation.status.code().to_owned(),
            date(Some(p.authorisation.granted_on)),
            date(Some(p.authorisation.status_since)),
            date(p.authorisation.suspended_until),
            loc.map(|l| l.name.clone()).unwrap_or_default(),
            a.lines.first().cloned().unwrap_or_default(),
            a.postcode.unwrap_or_default(),
            a.town.unwrap_or_default(),
            a.country.unwrap_or_default(),
            p.contact.phone.clone().unwrap_or_default(),
            p.contact.email.clone().unwrap_or_default(),
            aff.map(|a| a.establishment.clone()).unwrap_or_default(),
            date(aff.map(|a| a.start)),
            date(aff.and_then(|a| a.end)),
        ])?;
        Ok(())
    }

    pub fn establishment(&mut self, e: &Establishment) -> Result<(), FeedError> {
        let id = e.identifiers.first();
        let site = e.sites.first();
        let a = site.map(|s| s.address.clone()).unwrap_or_default();
        self.inner.write_record([
            e.id.clone(),
            e.name.clone(),
            e.kind.code().to_owned(),
            id.map(|i| i.system.clone()).unwrap_or_default(),
            id.map(|i| i.value.clone()).unwrap_or_default(),
            site.map(|s| s.id.clone()).unwrap_or_default(),
            site.map(|s| s.name.clone()).unwrap_or_default(),
            a.lines.first().cloned().unwrap_or_default(),
            a.postcode.unwrap_or_default(),
            a.town.unwrap_or_default(),
            a.country.unwrap_or_default(),
            e.contact.phone.clone().unwrap_or_default(),
            e.contact.email.clone().unwrap_or_default(),
            e.active.to_string(),
        ])?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<W, FeedError> {
        self.inner.flush().map_err(csv::Error::from)?;
        self.inner
            .into_inner()
            .map_err(|e| FeedError::Csv(csv::Error::from(e.into_error())))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use sante_audit::{AuditLog, CheckpointSigner, SealPolicy};
    use sante_store::{Db, storage_test};
    use sante_types::ManualClock;

    use super::*;
    use crate::synthetic::{ErrorRates, Generator};

    async fn directory(db: Db) -> Directory {
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        ));
        let log = AuditLog::open(
            db.clone(),
            CheckpointSigner::generate(),
            clock.clone(),
            SealPolicy::default(),
        )
        .await
        .unwrap();
        Directory::new(db, Arc::new(log), clock)
    }

    fn patients_csv(people: usize) -> (Vec<u8>, usize) {
        let mut g = Generator::new(7, ErrorRates::default());
        let lines = g.patient_register(people);
        let mut w = CsvWriter::new(Vec::new(), RegisterKind::Patients).unwrap();
        for p in &lines {
            w.patient(p).unwrap();
        }
        (w.finish().unwrap(), lines.len())
    }

    async fn import_patients(dir: &Directory, csv: &[u8], source: &str) -> ImportReport {
        let entries = read_csv(csv, RegisterKind::Patients, patient_row).unwrap();
        import_entries(
            dir,
            &Request::operator(),
            source,
            entries,
            50,
            |p: &Patient| p.national_id.clone(),
            |_| {},
        )
        .await
        .unwrap()
    }

    storage_test!(
        a_register_imports_once_and_reports_its_bad_lines,
        |db: Db| async move {
            let dir = directory(db).await;
            let (mut csv, lines) = patients_csv(300);
            // A line with a broken number and one with a bad date, at the end.
            let mut extra = CsvWriter::new(Vec::new(), RegisterKind::Patients).unwrap();
            let mut g = Generator::new(99, ErrorRates::default());
            let mut bad = g.patient_entry();
            bad.birth_place = Some("Wiltz".into());
            extra.patient(&bad).unwrap();
            let tail = String::from_utf8(extra.finish().unwrap()).unwrap();
            let row = tail.lines().nth(1).unwrap();
            let nin = bad.national_id.as_ref().unwrap().as_str().to_owned();
            let broken = row.replacen(&nin, &format!("{}0", &nin[..12]), 1);
            let undated = row.to_owned();
            let undated =
                undated.replacen(&format!(",{},", bad.birth_date.unwrap()), ",1999-02-31,", 1);
            csv.extend_from_slice(format!("{broken}\n{undated}\n").as_bytes());

            let first = import_patients(&dir, &csv, "file-a").await;
            assert_eq!(first.lines as usize, lines + 2);
            let rejected: Vec<u64> = first.rejections.iter().map(|r| r.line).collect();
            assert!(
                rejected.contains(&(lines as u64 + 2)),
                "{:?}",
                first.rejections
            );
            assert!(
                rejected.contains(&(lines as u64 + 3)),
                "{:?}",
                first.rejections
            );
            assert!(
                first
                    .rejections
                    .iter()
                    .any(|r| r.reason.contains("check digit"))
            );
            assert!(
                first
                    .rejections
                    .iter()
                    .any(|r| r.reason.contains("birth_date"))
            );
            let stored = dir.counts().await.unwrap()[2].1;
            assert_eq!(
                stored + first.rejections.len() as u64,
                first.lines,
                "every line is either stored or reported"
            );
            assert_eq!(stored, first.outcome.created);

            // Same file again under a new name: nothing changes.
            let changes = dir.changes_after(None, 10_000).await.unwrap().len();
            let again = import_patients(&dir, &csv, "file-a-again").await;
            assert_eq!(again.outcome.created + again.outcome.updated, 0);
            assert_eq!(again.outcome.unchanged, stored);
            assert_eq!(again.rejections, first.rejections);
            assert_eq!(
                dir.changes_after(None, 10_000).await.unwrap().len(),
                changes
            );

            // Same file under its first name: already done, nothing read.
            let resumed = import_patients(&dir, &csv, "file-a").await;
            assert_eq!(resumed.lines, 0);
            assert_eq!(resumed.resumed_after, lines as u64 + 3);
        }
    );

    storage_test!(
        an_interrupted_import_resumes_after_the_last_batch,
        |db: Db| async move {
            let dir = directory(db).await;
            let (csv, lines) = patients_csv(200);
            // The first run stops after 120 lines (as if killed).
            let entries = read_csv(&csv[..], RegisterKind::Patients, patient_row)
                .unwrap()
                .take(120);
            let partial = import_entries(
                &dir,
                &Request::operator(),
                "file-b",
                entries,
                50,
                |p: &Patient| p.national_id.clone(),
                |_| {},
            )
            .await
            .unwrap();
            let resumed = import_patients(&dir, &csv, "file-b").await;
            assert_eq!(resumed.resumed_after, 121);
            assert_eq!(partial.lines + resumed.lines, lines as u64);
            let fresh = import_patients(&dir, &csv, "file-b-check").await;
            assert_eq!(fresh.outcome.created, 0, "the two runs loaded everything");
        }
    );

    #[test]
    fn a_file_with_a_wrong_header_is_refused_whole() {
        let err = read_csv(
            &b"national_id,birth_name\n"[..],
            RegisterKind::Patients,
            patient_row,
        )
        .err()
        .unwrap();
        assert!(matches!(err, FeedError::MissingColumn("used_name")));
        let mut header = PATIENT_COLUMNS.join(",");
        header.push_str(",shoe_size\n");
        let err = read_csv(header.as_bytes(), RegisterKind::Patients, patient_row)
            .err()
            .unwrap();
        assert!(matches!(err, FeedError::UnknownColumn(c) if c == "shoe_size"));
    }

    #[test]
    fn synthetic_professionals_and_establishments_are_valid_and_round_trip() {
        let mut g = Generator::new(3, ErrorRates::default());
        let est = g.establishments(10);
        let pros: Vec<Professional> = (0..200).map(|n| g.professional_entry(n, &est)).collect();
        let mut w = CsvWriter::new(Vec::new(), RegisterKind::Professionals).unwrap();
        for p in &pros {
            p.validate().unwrap();
            w.professional(p).unwrap();
        }
        let csv = w.finish().unwrap();
        let back: Vec<Professional> =
            read_csv(&csv[..], RegisterKind::Professionals, professional_row)
                .unwrap()
                .map(|(_, p)| p.unwrap())
                .collect();
        assert_eq!(back.len(), pros.len());
        for (b, p) in back.iter().zip(&pros) {
            assert_eq!(b, p);
        }
        let mut w = CsvWriter::new(Vec::new(), RegisterKind::Establishments).unwrap();
        for e in &est {
            e.validate().unwrap();
            w.establishment(e).unwrap();
        }
        let csv = w.finish().unwrap();
        let back: Vec<Establishment> =
            read_csv(&csv[..], RegisterKind::Establishments, establishment_row)
                .unwrap()
                .map(|(_, e)| e.unwrap())
                .collect();
        assert_eq!(back, est);
    }
}
