//! `sante bench-dsp`: the shared care record's IHE MHD figures on a national-size
//! store: ITI-67 (Find Document References) latency, p50 and p99, and ITI-65 (Provide
//! Document Bundle) documents per second, on SQLite and on PostgreSQL.
//!
//! The store is loaded through the DSP's import path (records, document metadata,
//! care relationships; no document contents, which ITI-67 never reads). The
//! measurements then go through the service exactly as a request does: the access
//! decision for a physician in a consultation, the search, the trace in the audit
//! trail and the holder's access history, and the FHIR rendering of the search set;
//! filings store their content in the encrypted blob store.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::Duration;
use rand::{Rng, SeedableRng};
use sante_audit::{AuditLog, CheckpointSigner, SealPolicy, Source};
use sante_directory::model::*;
use sante_dsp::category::DOCUMENT_TYPES;
use sante_dsp::model::{
    Author, CareKind, CareRecord, CareRelationship, Confidentiality, Controls, Item, ItemStatus,
    RecordState,
};
use sante_dsp::service::{ImportedRecord, ItemQuery, NewItem};
use sante_dsp::{Caller, DspService};
use sante_store::blob::{BlobBackend, BlobStore};
use sante_store::keyring::{Keyring, SharedKeyring};
use sante_store::{Backend, Db, StoreConfig};
use sante_types::{Clock, CredentialKind, LevelOfAssurance, Quality, SystemClock};

use crate::progress;

/// A scratch directory for one backend's store and blobs, removed afterwards.
struct BenchDir(std::path::PathBuf);

impl BenchDir {
    fn new(backend: Backend) -> anyhow::Result<BenchDir> {
        let dir = std::env::temp_dir().join(format!(
            "sante-bench-dsp-{}-{}",
            backend.as_str(),
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(BenchDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one run measured.
struct Figures {
    backend: &'static str,
    patients: u64,
    documents: u64,
    load_seconds: f64,
    queries: usize,
    p50_ms: f64,
    p99_ms: f64,
    mean_results: f64,
    filings: usize,
    filings_per_second: f64,
    filings_4_per_second: f64,
}

const PHYSICIAN: &str = "bench-phy-1";

fn physician() -> Professional {
    let day = chrono::NaiveDate::from_ymd_opt(2010, 1, 1).unwrap_or_default();
    Professional {
        id: PHYSICIAN.into(),
        national_id: None,
        family_name: "Bench".into(),
        given_names: vec!["Anne".into()],
        sex: Sex::Female,
        profession: Profession::Physician,
        specialities: vec![],
        authorisation: Authorisation {
            status: AuthorisationStatus::Active,
            granted_on: day,
            status_since: day,
            suspended_until: None,
        },
        locations: vec![],
        affiliations: vec![],
        contact: Contact::default(),
    }
}

fn caller() -> Caller {
    Caller {
        account: "bench-account".into(),
        quality: Quality::Professional,
        assurance: LevelOfAssurance::High,
        credential: CredentialKind::ClientCertificate,
        entry: PHYSICIAN.into(),
        system: None,
        source: Source::default(),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    backend: &str,
    patients: u64,
    documents: u64,
    queries: usize,
    filings: usize,
    pg_url: &str,
    markdown: Option<&Path>,
) -> anyhow::Result<std::process::ExitCode> {
    let backends: Vec<Backend> = match backend {
        "sqlite" => vec![Backend::Sqlite],
        "postgres" => vec![Backend::Postgres],
        "both" => vec![Backend::Sqlite, Backend::Postgres],
        other => bail!("--backend must be sqlite, postgres or both, not {other:?}"),
    };
    if patients == 0 || queries == 0 || filings == 0 || queries as u64 > patients {
        bail!(
            "--patients, --queries and --filings must be at least 1, and --queries at most --patients"
        );
    }
    let mut all = Vec::new();
    for backend in backends {
        all.push(one(backend, patients, documents, queries, filings, pg_url).await?);
    }
    let mut text = String::from(
        "| backend | patients | document references | load | ITI-67 p50 | ITI-67 p99 | results per search | ITI-65, 1 filer | ITI-65, 4 filers |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for f in &all {
        text.push_str(&format!(
            "| {} | {} | {} | {:.0} s | {:.1} ms | {:.1} ms | {:.1} | {:.0} docs/s | {:.0} docs/s |\n",
            f.backend, f.patients, f.documents, f.load_seconds, f.p50_ms, f.p99_ms, f.mean_results, f.filings_per_second, f.filings_4_per_second
        ));
    }
    println!("{text}");
    println!(
        "({} searches and {} filings per backend; each search decides, traces and renders a FHIR search set of at most 20 DocumentReferences)",
        all.first().map_or(0, |f| f.queries),
        all.first().map_or(0, |f| f.filings)
    );
    if let Some(path) = markdown {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("--markdown: cannot open {}", path.display()))?;
        file.write_all(text.as_bytes())?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn one(
    backend: Backend,
    patients: u64,
    documents: u64,
    queries: usize,
    filings: usize,
    pg_url: &str,
) -> anyhow::Result<Figures> {
    let dir = BenchDir::new(backend)?;
    let config = match backend {
        Backend::Sqlite => StoreConfig {
            url: format!("sqlite:{}", dir.path().join("bench-dsp.db").display()).into(),
            schema: None,
            max_connections: 8,
        },
        Backend::Postgres => StoreConfig {
            url: pg_url.into(),
            schema: Some(format!("bench_dsp_{}", std::process::id())),
            max_connections: 8,
        },
    };
    let db = Db::connect(&config)
        .await
        .with_context(|| format!("connecting to {}", backend.as_str()))?;
    db.migrate().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let log = Arc::new(
        AuditLog::open(
            db.clone(),
            CheckpointSigner::generate(),
            clock.clone(),
            SealPolicy::default(),
        )
        .await?,
    );
    let directory = sante_directory::Directory::new(db.clone(), log.clone(), clock.clone());
    directory
        .upsert(&sante_directory::Request::operator(), &[physician()])
        .await?;
    let blobs = BlobStore::open(
        &BlobBackend::Local {
            path: dir.path().join("blobs"),
        },
        db.clone(),
        SharedKeyring::in_memory(Keyring::generate(clock.now())),
        clock.clone(),
    )?;
    let dsp = DspService::new(db.clone(), blobs, directory, log.clone(), clock.clone());

    // The sampled holders, who consult the bench physician.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut sampled: Vec<u64> = (0..queries as u64)
        .map(|_| rng.gen_range(0..patients))
        .collect();
    sampled.sort_unstable();
    sampled.dedup();
    let now = clock.now();
    let types: Vec<_> = DOCUMENT_TYPES
        .iter()
        .filter(|t| t.category.number() > 1)
        .collect();
    let per_patient = documents as f64 / patients as f64;
    let bar = progress::bar(patients, &format!("{}: loading", backend.as_str()));
    let started = Instant::now();
    let mut loaded_docs = 0u64;
    let mut batch = Vec::new();
    let mut batch_docs = 0usize;
    for p in 0..patients {
        let holder = format!("bench-pat-{p:08}");
        // The documents of this holder: as many as the share left asks, so the total
        // is what was asked for.
        let target = ((p + 1) as f64 * per_patient).round() as u64;
        let n = target.saturating_sub(loaded_docs);
        let mut items = Vec::with_capacity(n as usize);
        for i in 0..n {
            let t = types[rng.gen_range(0..types.len())];
            let filed = now - Duration::days(rng.gen_range(0..1800));
            items.push((
                Item {
                    id: format!("{holder}-{i:03}"),
                    record: holder.clone(),
                    category: t.category,
                    type_system: t.system.into(),
                    type_code: t.code.into(),
                    type_display: t.display.into(),
                    title: format!("{} {i}", t.display),
                    mime_type: "application/pdf".into(),
                    size: 40_000,
                    sha256: String::new(),
                    author: Author::Professional {
                        professional: format!("bench-phy-{}", rng.gen_range(1..100)),
                        establishment: None,
                    },
                    filed_by: "imported".into(),
                    filed_at: filed,
                    service_date: Some(filed.date_naive()),
                    confidentiality: Confidentiality::Restricted,
                    status: ItemStatus::Current,
                    replaces: None,
                    replaced_by: None,
                    submission_set: format!("{holder}-set-{}", i / 3),
                    retention_until: filed + Duration::days(3650),
                    keep_agreed: None,
                    relationship: None,
                    master_identifier: None,
                },
                None,
            ));
        }
        loaded_docs += n;
        let relationships = if sampled.binary_search(&p).is_ok() {
            vec![CareRelationship {
                id: format!("{holder}-consultation"),
                record: holder.clone(),
                kind: CareKind::Consultation,
                professional: Some(PHYSICIAN.into()),
                establishment: None,
                start: now - Duration::days(1),
                end: now + Duration::days(14),
                renewals: 0,
                stay_ended: None,
                revoked: None,
            }]
        } else {
            Vec::new()
        };
        batch_docs += items.len();
        batch.push(ImportedRecord {
            record: CareRecord {
                holder: holder.clone(),
                state: RecordState::Active,
                created: now - Duration::days(2000),
                letter_sent: now - Duration::days(2000),
                activated: Some(now - Duration::days(1990)),
                closure: None,
                last_access: now,
                organ_donation_asked: true,
                first_professional_access: Some(now - Duration::days(1000)),
                controls: Controls::default(),
                referents: vec![],
            },
            items,
            relationships,
        });
        if batch_docs >= 2_000 || batch.len() >= 500 {
            dsp.import(&batch, &Source::default()).await?;
            bar.inc(batch.len() as u64);
            batch.clear();
            batch_docs = 0;
        }
    }
    if !batch.is_empty() {
        dsp.import(&batch, &Source::default()).await?;
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    let load_seconds = started.elapsed().as_secs_f64();

    // ITI-67: a search per sampled holder, as a request does it.
    let caller = caller();
    let base = "https://sante.example.lu/fhir";
    let mut latencies = Vec::with_capacity(queries);
    let mut results = 0usize;
    for i in 0..queries {
        let holder = format!("bench-pat-{:08}", sampled[i % sampled.len()]);
        let t = Instant::now();
        let page = dsp
            .search(&caller, &holder, &ItemQuery::default(), 0, 20)
            .await?;
        let resources: Vec<_> = page
            .items
            .iter()
            .map(|i| sante_fhir::mhd::document_reference(i, base))
            .collect();
        let bundle = sante_fhir::searchset(
            base,
            "DocumentReference",
            resources,
            vec![],
            Some(page.total as u64),
            "",
            None,
        );
        let body = bundle.to_string();
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        results += page.items.len();
        std::hint::black_box(body);
    }
    latencies.sort_by(f64::total_cmp);

    // ITI-65: one document of 4 KiB per submission, one filer then four at once.
    let content = vec![b'%'; 4096];
    let file = |n: usize, offset: usize| {
        let dsp = dsp.clone();
        let caller = caller.clone();
        let content = content.clone();
        let sampled = sampled.clone();
        async move {
            for i in 0..n {
                let holder = format!("bench-pat-{:08}", sampled[(offset + i) % sampled.len()]);
                dsp.file(
                    &caller,
                    &holder,
                    NewItem {
                        type_system: "http://loinc.org".into(),
                        type_code: "11502-2".into(),
                        title: "Laboratory report".into(),
                        mime_type: "application/pdf".into(),
                        content: content.clone(),
                        service_date: None,
                        confidentiality: Confidentiality::Restricted,
                        replaces: None,
                        master_identifier: None,
                    },
                )
                .await?;
            }
            anyhow::Ok(())
        }
    };
    let t = Instant::now();
    file(filings, 0).await?;
    let filings_per_second = filings as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let quarter = filings.div_ceil(4);
    let tasks: Vec<_> = (0..4)
        .map(|k| tokio::spawn(file(quarter, k * quarter + filings)))
        .collect();
    for task in tasks {
        task.await??;
    }
    let filings_4_per_second = (quarter * 4) as f64 / t.elapsed().as_secs_f64();
    log.close().await;
    db.close().await;
    Ok(Figures {
        backend: backend.as_str(),
        patients,
        documents: loaded_docs,
        load_seconds,
        queries,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        mean_results: results as f64 / queries as f64,
        filings,
        filings_per_second,
        filings_4_per_second,
    })
}
