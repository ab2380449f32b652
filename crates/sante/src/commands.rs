//! The subcommands: each loads the configuration, opens what it needs, and reports.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use sante_audit::{Action, EventKind, Outcome, Token};

use crate::config::Config;
use crate::platform::{self, open_storage, trace_cli};
use crate::progress;

pub fn load(path: &Path) -> anyhow::Result<Config> {
    Config::load(path, std::env::vars())
}

/// `sante migrate`.
pub async fn migrate(config: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config)?;
    let storage = open_storage(&config, platform::clock(&config)).await?;
    let applied = platform::migrate_traced(&config, &storage).await?;
    let status = storage.db.migration_status().await?;
    if applied.is_empty() {
        println!(
            "database is up to date (migration {})",
            status.applied.last().copied().unwrap_or(0)
        );
    } else {
        println!(
            "applied migrations {applied:?} on {}",
            storage.db.backend().as_str()
        );
    }
    storage.db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `sante keys rotate`: new primary master key, then every data key re-wrapped under it.
/// The server keeps running: it reloads the keyring file when it changes.
pub async fn keys_rotate(config: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config)?;
    let clock = platform::clock(&config);
    let storage = open_storage(&config, clock.clone()).await?;
    platform::migrate_traced(&config, &storage).await?;
    let mut keyring = storage.keyring.current()?;
    let new_id = keyring.rotate(clock.now());
    storage
        .keyring
        .replace(keyring)
        .context("writing the rotated keyring")?;
    println!("new primary master key: {new_id}");
    let bar = progress::bar(0, "re-wrapping data keys");
    let done = storage
        .blobs
        .rewrap_all(|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await?;
    bar.finish_and_clear();
    trace_cli(
        &config,
        &storage,
        EventKind::PlatformMasterKeyRotated,
        Action::Execute,
        Some(("master-key", &new_id)),
        Outcome::Success,
    )
    .await?;
    println!("re-wrapped {done} data keys under {new_id}");
    println!("older keys can be retired with `sante keys retire <id>` (see `sante keys status`)");
    storage.db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `sante keys reseal`: seals what an older version stored in clear. The server keeps
/// running; reads already accept both.
pub async fn keys_reseal(config: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config)?;
    let storage = open_storage(&config, platform::clock(&config)).await?;
    platform::migrate_traced(&config, &storage).await?;
    let bar = progress::bar(0, "sealing records");
    let (values, terms) = storage
        .db
        .reseal(|done| bar.set_position(done))
        .await
        .context("sealing the records written in clear")?;
    bar.finish_and_clear();
    trace_cli(
        &config,
        &storage,
        EventKind::PlatformRecordsResealed,
        Action::Update,
        None,
        Outcome::Success,
    )
    .await?;
    println!("sealed {values} records and blinded {terms} search terms written in clear");
    storage.db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `sante keys retire ID`: refused while a data key still depends on it.
pub async fn keys_retire(config: &Path, id: &str) -> anyhow::Result<ExitCode> {
    let config = load(config)?;
    let storage = open_storage(&config, platform::clock(&config)).await?;
    platform::migrate_traced(&config, &storage).await?;
    let usage = storage.blobs.master_key_usage().await?;
    if let Some((_, n)) = usage.iter().find(|(k, n)| k == id && *n > 0) {
        anyhow::bail!("master key {id} still wraps {n} data keys; run `sante keys rotate` first");
    }
    let mut keyring = storage.keyring.current()?;
    keyring.retire(id)?;
    storage.keyring.replace(keyring)?;
    trace_cli(
        &config,
        &storage,
        EventKind::PlatformMasterKeyRetired,
        Action::Delete,
        Some(("master-key", id)),
        Outcome::Success,
    )
    .await?;
    println!("retired master key {id}");
    storage.db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `sante keys status`.
pub async fn keys_status(config: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config)?;
    let storage = open_storage(&config, platform::clock(&config)).await?;
    platform::migrate_traced(&config, &storage).await?;
    let keyring = storage.keyring.current()?;
    let usage = storage.blobs.master_key_usage().await?;
    for id in keyring.ids() {
        let n = usage.iter().find(|(k, _)| *k == id).map_or(0, |(_, n)| *n);
        let primary = if id == keyring.primary_id() {
            " (primary)"
        } else {
            ""
        };
        println!("{id}{primary}: wraps {n} data keys");
    }
    storage.db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Sets up logging: JSON lines (or pretty on request) on standard error.
pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log.format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn serve_config(
    config: &Config,
    banner: impl FnOnce(&platform::Running),
) -> anyhow::Result<ExitCode> {
    init_logging(config);
    let running = platform::start(config).await?;
    tracing::info!(addr = %running.https_addr, "listening");
    banner(&running);
    wait_for_signal().await;
    tracing::info!("shutting down");
    running.stop().await?;
    Ok(ExitCode::SUCCESS)
}

/// The portal URL; a configured port 0 (any free port) is replaced by the bound one.
fn portal_url(config: &Config, running: &platform::Running) -> String {
    let url = config.server.public_url.trim_end_matches('/');
    match url.strip_suffix(":0") {
        Some(head) => format!("{head}:{}", running.https_addr.port()),
        None => url.to_owned(),
    }
}

/// The card login's URL (the listener asking for client certificates), if any.
fn card_url(config: &Config, running: &platform::Running) -> Option<String> {
    let url = config
        .server
        .mtls_public_url
        .as_deref()?
        .trim_end_matches('/');
    let addr = running.mtls_addr?;
    Some(match url.strip_suffix(":0") {
        Some(head) => format!("{head}:{}", addr.port()),
        None => url.to_owned(),
    })
}

/// `sante serve`.
pub async fn serve(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    serve_config(&config, |running| {
        if let Some(url) = card_url(&config, running) {
            println!("Card login (mutual TLS): {url}/login/certificate");
        }
        if let Some(mail) = &running.mail {
            for line in crate::mail::banner(mail) {
                println!("{line}");
            }
        }
        println!("Portal: {}", portal_url(&config, running));
    })
    .await
}

/// `sante demo`: initialise if needed, then serve and print how to reach everything.
pub async fn demo(
    dir: &Path,
    listen: std::net::SocketAddr,
    mtls_listen: std::net::SocketAddr,
) -> anyhow::Result<ExitCode> {
    let config_path = dir.join("sante.toml");
    if !config_path.exists() {
        // The mail listeners take the five ports after the card login's.
        let mail = std::net::SocketAddr::new(
            listen.ip(),
            if mtls_listen.port() == 0 {
                0
            } else {
                mtls_listen.port() + 1
            },
        );
        crate::init::run(dir, listen, mtls_listen, Some(mail), false)?;
        println!("Initialised a demo platform in {}", dir.display());
    }
    let token_file = crate::directory_cmd::demo_service_client(dir)?;
    let mut config = load(&config_path)?;
    let mut mail_notice = None;
    if config.messaging.as_ref().is_some_and(|m| m.clamd == "dev")
        && !["/usr/sbin/clamd", "/usr/bin/clamd"]
            .iter()
            .any(|p| Path::new(p).exists())
    {
        // Every message must be scanned: without clamd, no mail listener opens.
        config.messaging = None;
        mail_notice = Some(
            "Secure messaging: not started, the anti-virus is missing (Debian: apt install clamav-daemon, then run the demo again)",
        );
    }
    let demo = crate::directory_cmd::load_demo(&config).await?;
    {
        // Before the demo logins: the professional's mail program needs the terms
        // of messaging accepted.
        let opened = crate::account_cmd::Opened::new(&config).await?;
        let published = crate::terms_cmd::publish_shipped(&opened.terms()).await;
        opened.close().await;
        published?;
    }
    let logins = crate::account_cmd::demo_logins(&config).await?;
    let seeded = crate::demo_dsp::seed(&config).await?;
    serve_config(&config, |running| {
        let url = portal_url(&config, running);
        println!("Sante demo is running. Stop it with Ctrl-C.");
        if let Some(card) = card_url(&config, running) {
            println!("Card login (mutual TLS): {card}/login/certificate");
        }
        println!("Portal: {url}");
        println!("  in French (authoritative), German or English: the language form in the page header switches, the browser's language is the default");
        println!("Health: {url}/healthz   Readiness: {url}/readyz   Metrics: {url}/metrics");
        println!("Single sign-on (OpenID Connect): {url}/.well-known/openid-configuration   register applications with `sante --config {} sso register-client`", config_path.display());
        println!("HTTPS listener: {} (TLS certificate issued by the development CA)", running.https_addr);
        println!(
            "Trust the development CA to avoid browser warnings: {}",
            config.path(Path::new("tls/ca.crt")).display()
        );
        println!("Database: {}   Blobs: {}", config.storage.shown_url(), config.blobs.path.as_deref().map(|p| config.path(p).display().to_string()).unwrap_or_default());
        println!("Audit trail: sante --config {} audit verify | audit export", config_path.display());
        println!(
            "Directories (synthetic): {} professionals, {} establishments, {} patients",
            demo.professionals, demo.establishments, demo.patients
        );
        println!("  public professional search: {url}/directory");
        println!("  FHIR (IHE mCSD, public): {url}/fhir/metadata   {url}/fhir/Practitioner?name=schmit");
        if let Some(p) = &demo.sample_professional {
            println!(
                "  e.g. {}: {url}/directory?name={}   {url}/fhir/Practitioner/{}",
                p.display_name(),
                p.family_name.replace(' ', "+"),
                p.id
            );
        }
        println!(
            "  FHIR Patient (IHE PDQm) answers only authenticated services; the demo's DSP token is in {}:",
            token_file.display()
        );
        // A search names one patient (DIR-5): a family name with the birth date.
        let (family, born) = demo
            .sample_patient
            .clone()
            .unwrap_or_else(|| ("schmit".into(), chrono::NaiveDate::default()));
        println!(
            "    curl --cacert {} -H \"Authorization: Bearer $(cat {})\" '{url}/fhir/Patient?family={}&birthdate={born}'",
            config.path(Path::new("tls/ca.crt")).display(),
            token_file.display(),
            family.to_lowercase().replace(' ', "+"),
        );
        println!("Shared care record: {url}/dsp (patients: activate it, give an access code), {url}/pro/dsp (professionals: enter the code, file)");
        if let Some(seeded) = &seeded {
            println!(
                "  the demo patient's record now holds {} documents filed by {} (their cards: {})",
                seeded.documents,
                seeded.professionals.join(", "),
                config.path(Path::new("demo-cards/cards.txt")).display()
            );
        }
        println!("  FHIR (IHE MHD) with a single sign-on token: {url}/fhir/DocumentReference?patient=Patient/ID   (docs/dsp.md)");
        match &running.mail {
            Some(mail) => {
                for line in crate::mail::banner(mail) {
                    println!("{line}");
                }
            }
            None => {
                if let Some(notice) = mail_notice {
                    println!("{notice}");
                }
            }
        }
        println!("Demo logins (log in at {url}/login, your account at {url}/account):");
        print!("{logins}");
    })
    .await
}

/// `sante audit verify`: exit status 0 when the trail is intact, 1 with the problems.
pub async fn audit_verify(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let storage = open_storage(&config, platform::clock(&config)).await?;
    platform::migrate_traced(&config, &storage).await?;
    let signer = platform::audit_signer(&config)?;
    let keys = sante_audit::VerifyingKeys::from_signer(&signer);
    let spinner = progress::spinner("verifying audit trail");
    let report = sante_audit::verify(&storage.db, &keys).await?;
    spinner.finish_and_clear();
    println!("{report}");
    let outcome = if report.is_clean() {
        Outcome::Success
    } else {
        Outcome::Failure(Token::code("tampering-detected"))
    };
    trace_cli(
        &config,
        &storage,
        EventKind::AuditTrailVerified,
        Action::Execute,
        None,
        outcome,
    )
    .await?;
    storage.db.close().await;
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `sante audit export`.
pub async fn audit_export(
    config_path: &Path,
    format: &str,
    since: Option<&str>,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let since = since
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&chrono::Utc))
                .with_context(|| format!("--since {s:?} is not an RFC 3339 instant"))
        })
        .transpose()?;
    let storage = open_storage(&config, platform::clock(&config)).await?;
    platform::migrate_traced(&config, &storage).await?;
    let count = match format {
        "fhir" => match output {
            Some(path) => {
                let mut file = std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("cannot write {}", path.display()))?,
                );
                let n = sante_audit::export_fhir_ndjson(&storage.db, &mut file, since).await?;
                std::io::Write::flush(&mut file)?;
                n
            }
            None => {
                let mut out = std::io::stdout().lock();
                sante_audit::export_fhir_ndjson(&storage.db, &mut out, since).await?
            }
        },
        "syslog" => {
            let Some(syslog) = &config.audit.syslog else {
                anyhow::bail!(
                    "--format syslog needs an [audit.syslog] section in the configuration"
                );
            };
            let ca = std::fs::read(config.path(&syslog.ca_file))
                .with_context(|| "key `audit.syslog.ca_file`")?;
            let exporter = sante_audit::SyslogExporter::new(&syslog.host, syslog.port, &ca)
                .context("section [audit.syslog]")?;
            exporter.export(&storage.db, since).await?
        }
        other => anyhow::bail!("--format must be fhir or syslog, not {other:?}"),
    };
    trace_cli(
        &config,
        &storage,
        EventKind::AuditTrailExported,
        Action::Read,
        Some(("export-format", format)),
        Outcome::Success,
    )
    .await?;
    eprintln!("exported {count} audit events");
    storage.db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `sante audit seal`.
pub async fn audit_seal(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let clock = platform::clock(&config);
    let storage = open_storage(&config, clock.clone()).await?;
    platform::migrate_traced(&config, &storage).await?;
    let audit = platform::open_audit(&config, &storage, clock).await?;
    let sealed = audit.seal_now().await?;
    for epoch in &sealed {
        let id = format!("{}:{}", epoch.stream.as_str(), epoch.epoch);
        let event =
            platform::platform_event(EventKind::AuditEpochSealed, &*platform::clock(&config))
                .resource(Token::code("AuditEpoch"), Token::new(id)?);
        audit.record(event).await?;
    }
    println!("sealed {} epochs", sealed.len());
    audit.close().await;
    storage.db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `sante audit purge`.
pub async fn audit_purge(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let clock = platform::clock(&config);
    let storage = open_storage(&config, clock.clone()).await?;
    platform::migrate_traced(&config, &storage).await?;
    let audit = platform::open_audit(&config, &storage, clock).await?;
    let report = audit.purge_expired(&platform::retention(&config)).await?;
    println!("{report:?}");
    audit.close().await;
    storage.db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `sante directory generate`.
pub fn directory_generate(
    people: usize,
    seed: u64,
    records: &Path,
    truth: &Path,
) -> anyhow::Result<ExitCode> {
    use sante_directory::synthetic::{ErrorRates, Generator};
    let spinner = progress::spinner("generating register");
    let register = Generator::new(seed, ErrorRates::default()).register(people);
    spinner.set_message("writing register");
    let out = std::io::BufWriter::new(
        std::fs::File::create(records)
            .with_context(|| format!("cannot write {}", records.display()))?,
    );
    let truth_out = std::io::BufWriter::new(
        std::fs::File::create(truth)
            .with_context(|| format!("cannot write {}", truth.display()))?,
    );
    sante_directory::register_file::write_register(&register, out, truth_out)?;
    spinner.finish_and_clear();
    println!(
        "wrote {} records of {people} people to {}",
        register.len(),
        records.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `sante directory score`.
pub fn directory_score(records: &Path, truth: &Path) -> anyhow::Result<ExitCode> {
    use sante_directory::register_file::{read_register, read_truth, score};
    let register = read_register(std::io::BufReader::new(
        std::fs::File::open(records)
            .with_context(|| format!("cannot read {}", records.display()))?,
    ))
    .with_context(|| format!("register {}", records.display()))?;
    let truth_pairs = read_truth(
        std::io::BufReader::new(
            std::fs::File::open(truth)
                .with_context(|| format!("cannot read {}", truth.display()))?,
        ),
        &register,
    )
    .with_context(|| format!("truth {}", truth.display()))?;
    let spinner = progress::spinner("matching");
    let s = score(
        &register,
        &truth_pairs,
        &sante_directory::matching::Matcher::default(),
    );
    spinner.finish_and_clear();
    let m = s.metrics;
    println!("records:          {}", s.records);
    println!("true pairs:       {}", truth_pairs.len());
    println!("candidate pairs:  {}", m.candidate_pairs);
    println!("linked correctly: {}", m.true_positives);
    println!("linked wrongly:   {}", m.false_positives);
    println!("missed:           {}", m.false_negatives);
    println!("to review:        {}", m.review);
    println!("precision:        {:.4}", m.precision());
    println!("recall:           {:.4}", m.recall());
    println!("F1:               {:.4}", m.f1());
    println!("time:             {:.2} s", s.seconds);
    Ok(ExitCode::SUCCESS)
}
