//! `sante import` and the directory tools that need the platform's storage: loading
//! register files, writing synthetic registers, and the demo's directories.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use sha2::{Digest, Sha256};

use sante_audit::{Action, EventKind, Outcome};
use sante_directory::feed::{
    self, CsvWriter, FeedError, ImportReport, Parsed, RegisterKind, agent_row, establishment_row,
    patient_row, professional_row,
};
use sante_directory::model::{Agent, AgentRole, Contact, Establishment, Patient, Professional};
use sante_directory::synthetic::{ErrorRates, Generator};
use sante_directory::{Directory, Request};

use crate::config::Config;
use crate::platform::{self, Storage, open_storage, trace_cli};
use crate::progress;

/// Lines loaded per transaction.
const BATCH: usize = 500;

/// The identity of a register file: its content hash (so a renamed copy resumes,
/// and an edited file is a new import), and its number of lines.
fn fingerprint(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)
        .with_context(|| format!("cannot read register file {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut lines = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
    Ok((hex_string(&hasher.finalize()), lines))
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The directory service over the platform's storage and audit trail.
pub async fn open_directory(
    config: &Config,
    storage: &Storage,
) -> anyhow::Result<(Directory, sante_audit::AuditLog)> {
    let clock = platform::clock(config);
    let audit = platform::open_audit(config, storage, clock.clone()).await?;
    let directory = Directory::new(storage.db.clone(), Arc::new(audit.clone()), clock);
    Ok((directory, audit))
}

/// A register file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    /// FHIR bulk data: one resource per line.
    Ndjson,
}

impl Format {
    pub fn parse(name: &str) -> anyhow::Result<Format> {
        match name {
            "csv" => Ok(Format::Csv),
            "ndjson" => Ok(Format::Ndjson),
            other => anyhow::bail!("--format: {other:?} is not csv or ndjson"),
        }
    }
}

fn ndjson<E>(
    input: impl Read,
    parse: impl Fn(&serde_json::Value) -> Result<E, String>,
) -> impl Iterator<Item = Parsed<E>> {
    BufReader::new(input)
        .lines()
        .enumerate()
        .filter(|(_, line)| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(move |(n, line)| {
            let number = n as u64 + 1;
            let entry = match line {
                Err(e) => Err(format!("unreadable line: {e}")),
                Ok(l) => serde_json::from_str::<serde_json::Value>(&l)
                    .map_err(|e| format!("not JSON: {e}"))
                    .and_then(|v| parse(&v)),
            };
            (number, entry)
        })
}

/// `sante import REGISTER FILE`.
pub async fn import(
    config_path: &Path,
    register: &str,
    file: &Path,
    format: &str,
    report_path: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let kind = RegisterKind::parse(register).with_context(|| {
        format!("register {register:?}: use professionals, establishments, patients or agents")
    })?;
    let format = Format::parse(format)?;
    let config = Config::load(config_path, std::env::vars())?;
    let storage = open_storage(&config, platform::clock(&config)).await?;
    platform::migrate_traced(&config, &storage).await?;
    let (directory, audit) = open_directory(&config, &storage).await?;

    let (source, lines) = fingerprint(file)?;
    let bar = progress::bar(lines, &format!("importing {}", kind.name()));
    let input = std::fs::File::open(file)
        .with_context(|| format!("cannot read register file {}", file.display()))?;
    let input = BufReader::with_capacity(1 << 20, input);
    let req = Request::operator();
    let on_progress = |done: u64| bar.set_position(done);
    let result: Result<ImportReport, FeedError> = match (kind, format) {
        (RegisterKind::Patients, Format::Csv) => {
            let entries = feed::read_csv(input, kind, patient_row)?;
            feed::import_entries(
                &directory,
                &req,
                &source,
                entries,
                BATCH,
                |p: &Patient| p.national_id.clone(),
                on_progress,
            )
            .await
        }
        (RegisterKind::Professionals, Format::Csv) => {
            let entries = feed::read_csv(input, kind, professional_row)?;
            feed::import_entries(
                &directory,
                &req,
                &source,
                entries,
                BATCH,
                |p: &Professional| p.id.clone(),
                on_progress,
            )
            .await
        }
        (RegisterKind::Establishments, Format::Csv) => {
            let entries = feed::read_csv(input, kind, establishment_row)?;
            feed::import_entries(
                &directory,
                &req,
                &source,
                entries,
                BATCH,
                |e: &Establishment| e.id.clone(),
                on_progress,
            )
            .await
        }
        (RegisterKind::Agents, Format::Csv) => {
            let entries = feed::read_csv(input, kind, agent_row)?;
            feed::import_entries(
                &directory,
                &req,
                &source,
                entries,
                BATCH,
                |a: &Agent| a.id.clone(),
                on_progress,
            )
            .await
        }
        (RegisterKind::Patients, Format::Ndjson) => {
            let entries = ndjson(input, |v| {
                let mut p = sante_fhir::patient_from_fhir(v).map_err(|e| e.to_string())?;
                // Bulk files come from the national register: its identities are
                // qualified.
                p.status = sante_directory::model::IdentityStatus::Qualified;
                Ok(p)
            });
            feed::import_entries(
                &directory,
                &req,
                &source,
                entries,
                BATCH,
                |p: &Patient| p.national_id.clone(),
                on_progress,
            )
            .await
        }
        (RegisterKind::Professionals, Format::Ndjson) => {
            let entries = ndjson(input, |v| {
                sante_fhir::practitioner_from_fhir(v).map_err(|e| e.to_string())
            });
            feed::import_entries(
                &directory,
                &req,
                &source,
                entries,
                BATCH,
                |p: &Professional| p.id.clone(),
                on_progress,
            )
            .await
        }
        (RegisterKind::Establishments, Format::Ndjson) => {
            let entries = ndjson(input, |v| {
                sante_fhir::organization_from_fhir(v).map_err(|e| e.to_string())
            });
            feed::import_entries(
                &directory,
                &req,
                &source,
                entries,
                BATCH,
                |e: &Establishment| e.id.clone(),
                on_progress,
            )
            .await
        }
        (RegisterKind::Agents, Format::Ndjson) => {
            anyhow::bail!("agents have no FHIR bulk format: use --format csv")
        }
    };
    bar.finish_and_clear();
    let outcome = match &result {
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure(sante_audit::Token::code("import-failed")),
    };
    audit.close().await;
    trace_cli(
        &config,
        &storage,
        EventKind::DirectoryRegisterImported,
        Action::Update,
        Some(("register-file", &source[..16])),
        outcome,
    )
    .await?;
    let report = result.with_context(|| format!("importing {}", file.display()))?;

    let report_path = report_path.map(Path::to_path_buf).unwrap_or_else(|| {
        let mut p = file.as_os_str().to_owned();
        p.push(".rejections.csv");
        p.into()
    });
    write_rejections(&report_path, &report)?;
    let o = report.outcome;
    if report.resumed_after > 0 {
        println!(
            "resumed after line {} (committed by an earlier run)",
            report.resumed_after
        );
    }
    println!(
        "{}: {} lines read, {} created, {} updated, {} unchanged, {} rejected",
        kind.name(),
        report.lines,
        o.created,
        o.updated,
        o.unchanged,
        report.rejections.len()
    );
    if o.sent_to_review > 0 {
        println!(
            "{} new identities resemble existing ones and wait in the identity-vigilance review queue",
            o.sent_to_review
        );
    }
    if report_path.exists() {
        println!("rejection report: {}", report_path.display());
    }
    storage.db.close().await;
    Ok(ExitCode::SUCCESS)
}

fn write_rejections(path: &Path, report: &ImportReport) -> anyhow::Result<()> {
    if report.resumed_after > 0 {
        // A resumed run continues the earlier run's report: the lines that run
        // rejected are still rejected, and are not read again.
        if report.rejections.is_empty() {
            return Ok(());
        }
        let existed = path.exists();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut out = csv::Writer::from_writer(file);
        if !existed {
            out.write_record(["line", "reason"])?;
        }
        for r in &report.rejections {
            out.write_record([r.line.to_string(), r.reason.clone()])?;
        }
        out.flush()?;
        return Ok(());
    }
    if report.rejections.is_empty() {
        // An old report would describe another file's run.
        let _ = std::fs::remove_file(path);
        return Ok(());
    }
    let mut out = csv_writer(path)?;
    out.write_record(["line", "reason"])?;
    for r in &report.rejections {
        out.write_record([r.line.to_string(), r.reason.clone()])?;
    }
    out.flush()?;
    Ok(())
}

fn csv_writer(path: &Path) -> anyhow::Result<csv::Writer<std::fs::File>> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(csv::Writer::from_writer(file))
}

/// `sante directory registers`: synthetic register files in the import layout.
pub fn write_registers(
    out_dir: &Path,
    patients: usize,
    professionals: usize,
    establishments: usize,
    seed: u64,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let mut g = Generator::new(seed, ErrorRates::default());
    let est = g.establishments(establishments);
    let open = |name: &str| -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
        let path = out_dir.join(name);
        Ok(std::io::BufWriter::new(
            std::fs::File::create(&path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        ))
    };
    let mut w = CsvWriter::new(open("establishments.csv")?, RegisterKind::Establishments)?;
    for e in &est {
        w.establishment(e)?;
    }
    w.finish()?.flush()?;

    let bar = progress::bar(professionals as u64, "professionals");
    let mut w = CsvWriter::new(open("professionals.csv")?, RegisterKind::Professionals)?;
    for n in 0..professionals {
        w.professional(&g.professional_entry(n, &est))?;
        if n % 1000 == 0 {
            bar.set_position(n as u64);
        }
    }
    w.finish()?.flush()?;
    bar.finish_and_clear();

    let bar = progress::bar(patients as u64, "patients");
    let mut w = CsvWriter::new(open("patients.csv")?, RegisterKind::Patients)?;
    let mut lines = 0usize;
    let mut done = 0usize;
    // In chunks, so a million people never sit in memory at once.
    while done < patients {
        let chunk = (patients - done).min(10_000);
        for p in g.patient_register(chunk) {
            w.patient(&p)?;
            lines += 1;
        }
        done += chunk;
        bar.set_position(done as u64);
    }
    w.finish()?.flush()?;
    bar.finish_and_clear();
    println!(
        "wrote {} establishments, {professionals} professionals and {lines} patient lines ({patients} people, with the register's duplicates) to {}",
        est.len(),
        out_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// What `sante demo` loads into an empty directory.
pub struct DemoDirectory {
    pub professionals: u64,
    pub establishments: u64,
    pub patients: u64,
    pub sample_professional: Option<Professional>,
    /// A synthetic patient to show a PDQm search with: (family name, birth date).
    pub sample_patient: Option<(String, chrono::NaiveDate)>,
}

/// Loads synthetic directories into an empty platform (the demo's data).
pub async fn load_demo(config: &Config) -> anyhow::Result<DemoDirectory> {
    let storage = open_storage(config, platform::clock(config)).await?;
    platform::migrate_traced(config, &storage).await?;
    let (directory, audit) = open_directory(config, &storage).await?;
    let req = Request::operator();
    let counts = directory.counts().await?;
    let empty = counts.iter().all(|(_, n)| *n == 0);
    if empty {
        let spinner = progress::spinner("loading demo directories");
        let mut g = Generator::new(2026, ErrorRates::default());
        let est = g.establishments(40);
        directory.upsert(&req, &est).await?;
        let pros: Vec<Professional> = (0..1_000).map(|n| g.professional_entry(n, &est)).collect();
        for chunk in pros.chunks(BATCH) {
            directory.upsert(&req, chunk).await?;
        }
        let mut patients = Vec::with_capacity(5_000);
        for _ in 0..5_000 {
            patients.push(g.patient_entry());
        }
        patients.sort_by(|a, b| a.national_id.cmp(&b.national_id));
        patients.dedup_by(|a, b| a.national_id == b.national_id);
        for chunk in patients.chunks(BATCH) {
            directory.upsert_patients(&req, chunk).await?;
        }
        directory
            .upsert(
                &req,
                &[
                    Agent {
                        id: "agent-iv-1".into(),
                        national_id: None,
                        family_name: "Kieffer".into(),
                        given_names: vec!["Claude".into()],
                        organisation: "Agence eSanté".into(),
                        function: "identity-vigilance officer".into(),
                        requesting_organisation: "Agence eSanté".into(),
                        valid_from: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default(),
                        valid_until: None,
                        roles: vec![AgentRole::IdentityVigilance],
                        contact: Contact::default(),
                    },
                    Agent {
                        id: "agent-admin-1".into(),
                        national_id: None,
                        family_name: "Weber".into(),
                        given_names: vec!["Anne".into()],
                        organisation: "Agence eSanté".into(),
                        function: "platform administrator".into(),
                        requesting_organisation: "Agence eSanté".into(),
                        valid_from: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default(),
                        valid_until: None,
                        roles: vec![AgentRole::Administrator],
                        contact: Contact::default(),
                    },
                ],
            )
            .await?;
        spinner.finish_and_clear();
    }
    let counts = directory.counts().await?;
    let count = |r: sante_directory::service::Register| {
        counts.iter().find(|(k, _)| *k == r).map_or(0, |(_, n)| *n)
    };
    let sample = directory
        .search_professionals(
            &sante_directory::service::ProfessionalQuery {
                speciality: Some("general_practice".into()),
                ..Default::default()
            },
            None,
            1,
        )
        .await?
        .items
        .into_iter()
        .next();
    let sample_patient = directory
        .search_patients(
            &req,
            &sante_directory::service::PatientQuery {
                sex: Some(sante_directory::model::Sex::Female),
                ..Default::default()
            },
            None,
            1,
        )
        .await?
        .items
        .into_iter()
        .find_map(|p| Some((p.family_name().to_owned(), p.birth_date?)));
    audit.close().await;
    storage.db.close().await;
    use sante_directory::service::Register as R;
    Ok(DemoDirectory {
        professionals: count(R::Professional),
        establishments: count(R::Establishment),
        patients: count(R::Patient),
        sample_professional: sample,
        sample_patient,
    })
}

/// A new bearer token for a platform service and the SHA-256 the configuration keeps.
pub fn new_service_token() -> (String, String) {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let digest = hex_string(&Sha256::digest(token.as_bytes()));
    (token, digest)
}

/// The configuration lines declaring a service client.
pub fn service_client_toml(name: &str, service: &str, digest: &str) -> String {
    format!(
        "\n[[directory.service_clients]]\nname = \"{name}\"\nservice = \"{service}\"\ntoken_sha256 = \"{digest}\"\n"
    )
}

/// `sante directory service-token`: a token for a platform service that needs the
/// patient directory. The token is printed once; only its hash goes in the configuration.
pub fn service_token(name: &str, service: &str) -> anyhow::Result<ExitCode> {
    if sante_types::Service::parse(service).is_none() {
        anyhow::bail!(
            "--service: {service:?} is not a service (dsp, identity, referent, directory...)"
        );
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        anyhow::bail!("--name: letters, digits, '-' and '_' only");
    }
    let (token, digest) = new_service_token();
    println!("Bearer token for {name} (shown once; give it to the service, keep it secret):");
    println!("{token}");
    println!();
    println!("Add to the configuration:");
    print!("{}", service_client_toml(name, service, &digest));
    Ok(ExitCode::SUCCESS)
}

/// Gives the demo a DSP-like service client, so the patient directory can be tried
/// with curl. Returns the token file. Only for `sante demo`.
pub fn demo_service_client(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let token_path = dir.join("demo-service-token");
    if token_path.exists() {
        return Ok(token_path);
    }
    let (token, digest) = new_service_token();
    let config_path = dir.join("sante.toml");
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&config_path)
        .with_context(|| format!("cannot update {}", config_path.display()))?;
    config.write_all(service_client_toml("demo-dsp", "dsp", &digest).as_bytes())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&token_path)
        .with_context(|| format!("cannot write {}", token_path.display()))?;
    file.write_all(token.as_bytes())?;
    Ok(token_path)
}
