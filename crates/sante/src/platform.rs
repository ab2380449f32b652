//! Wiring: from a [`Config`] to running parts (database, blobs, audit trail, listeners).

use std::sync::Arc;

use anyhow::Context;
use sante_store::blob::{BlobBackend, BlobStore};
use sante_store::keyring::SharedKeyring;
use sante_store::{Db, StoreConfig};
use sante_types::{Clock, SystemClock};

use crate::config::{BlobBackendKind, Config};

/// The storage parts every command needs.
#[derive(Debug, Clone)]
pub struct Storage {
    pub db: Db,
    pub blobs: BlobStore,
    pub keyring: SharedKeyring,
}

/// The real clock: the binary is the one place that reads it.
pub fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// The directories' change feed, as the identity service follows it.
const DIRECTORY_FEED: &str = "directory-changes";

/// Applies the directories' changes to the accounts since the last position: a quality
/// lost closes the account of that quality only (PLT-4). Returns the accounts closed.
/// The position moves after each batch, so a crash replays at most one batch, and
/// closing an account twice is harmless.
pub async fn apply_directory_changes(
    directory: &sante_directory::Directory,
    identity: &sante_identity::Identity,
) -> anyhow::Result<usize> {
    use sante_directory::service::{ChangeKind, Register};
    let source = sante_audit::Source {
        channel: sante_audit::Token::new("directory-feed").ok(),
        ..sante_audit::Source::default()
    };
    let mut closed = 0;
    let mut position = identity.feed_position(DIRECTORY_FEED).await?;
    // Bounded: at most 100 batches per call; the next tick continues.
    for _ in 0..100 {
        let changes = directory.changes_after(position.as_deref(), 500).await?;
        let Some(last) = changes.last() else {
            break;
        };
        for change in changes.iter().filter(|c| c.kind == ChangeKind::QualityLost) {
            let quality = match change.register {
                Register::Patient => sante_types::Quality::Patient,
                Register::Professional => sante_types::Quality::Professional,
                Register::Agent => {
                    // A mission's end may be announced ahead: close only once it is past.
                    let ended = match directory.agent(&change.entry).await {
                        Ok(agent) => agent
                            .valid_until
                            .is_some_and(|end| end <= change.at.date_naive()),
                        Err(_) => true,
                    };
                    if !ended {
                        continue;
                    }
                    sante_types::Quality::Agent
                }
                Register::Establishment => continue,
            };
            if identity
                .close_quality(quality, &change.entry, &source)
                .await?
            {
                closed += 1;
            }
        }
        identity
            .set_feed_position(DIRECTORY_FEED, &last.cursor)
            .await?;
        position = Some(last.cursor.clone());
    }
    Ok(closed)
}

/// Applies the directories' changes to the shared care records since the last
/// position: an affiliation creates the holder's DSP with its information letter
/// (DSP-4, DSP-5), a reported death closes it (DSP-11), a withdrawn authorisation ends
/// the professional's rights and tells the holders concerned (DSP-16). Bounded per
/// call; the position moves after each batch.
pub async fn apply_directory_changes_to_dsp(
    directory: &sante_directory::Directory,
    dsp: &sante_dsp::DspService,
) -> anyhow::Result<usize> {
    use sante_directory::service::{ChangeKind, Register};
    let source = sante_audit::Source {
        channel: sante_audit::Token::new("directory-feed").ok(),
        ..sante_audit::Source::default()
    };
    let mut applied = 0;
    let mut position = dsp.feed_position(DIRECTORY_FEED).await?;
    for _ in 0..100 {
        let changes = directory.changes_after(position.as_deref(), 500).await?;
        let Some(last) = changes.last() else {
            break;
        };
        for change in &changes {
            let done = match (change.kind, change.register) {
                (ChangeKind::QualityGained, Register::Patient) => {
                    match dsp.create(&change.entry, &source).await {
                        Ok(created) => created,
                        // A merged-away identity has no DSP of its own.
                        Err(sante_dsp::DspError::NotFound(_)) => false,
                        Err(e) => return Err(e.into()),
                    }
                }
                (ChangeKind::DeathReported, Register::Patient) => {
                    dsp.holder_died(&change.entry, &source).await?
                }
                (ChangeKind::AuthorisationWithdrawn, Register::Professional) => {
                    dsp.professional_withdrawn(&change.entry, &source).await? > 0
                }
                _ => false,
            };
            if done {
                applied += 1;
            }
        }
        dsp.set_feed_position(DIRECTORY_FEED, &last.cursor).await?;
        position = Some(last.cursor.clone());
    }
    Ok(applied)
}

/// Connects to the database (without migrating) and opens the blob store.
pub async fn open_storage(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Storage> {
    let db = Db::connect(&StoreConfig {
        url: resolve_sqlite_url(config),
        schema: config.storage.postgres_schema.clone(),
        max_connections: config.storage.max_connections,
    })
    .await
    .context("key `storage.database_url`: cannot open the database")?;
    let keyring_path = config.path(&config.keys.master_keyring);
    let keyring = SharedKeyring::from_file(&keyring_path).context("key `keys.master_keyring`")?;
    let backend = match config.blobs.backend {
        BlobBackendKind::Local => BlobBackend::Local {
            path: config.path(
                config
                    .blobs
                    .path
                    .as_deref()
                    .unwrap_or(std::path::Path::new("blobs")),
            ),
        },
        BlobBackendKind::S3 => BlobBackend::S3 {
            bucket: config.blobs.bucket.clone().unwrap_or_default(),
            endpoint: config.blobs.endpoint.clone(),
            region: config.blobs.region.clone().unwrap_or_default(),
            access_key_id: config.blobs.access_key_id.clone().unwrap_or_default(),
            secret_access_key: config.blobs.secret_access_key.clone().unwrap_or_default(),
            allow_http: config.blobs.allow_http,
        },
    };
    let blobs = BlobStore::open(&backend, db.clone(), keyring.clone(), clock)
        .context("section [blobs]: cannot open the blob store")?;
    Ok(Storage { db, blobs, keyring })
}

/// A relative SQLite path is relative to the configuration file, like every other path.
fn resolve_sqlite_url(config: &Config) -> String {
    let url = &config.storage.database_url;
    match url.strip_prefix("sqlite:") {
        Some(path) if !path.starts_with('/') => {
            let path = config.path(std::path::Path::new(path.trim_start_matches("//")));
            if let Some(parent) = path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            format!("sqlite:{}", path.display())
        }
        _ => url.clone(),
    }
}

/// Everything a running server holds.
pub struct Running {
    pub storage: Storage,
    pub audit: sante_audit::AuditLog,
    pub https_addr: std::net::SocketAddr,
    /// The listener asking for client certificates, when configured.
    pub mtls_addr: Option<std::net::SocketAddr>,
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Secure messaging, when configured.
    pub mail: Option<crate::mail::MailRunning>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    forwarder: Option<Arc<sante_audit::SyslogExporter>>,
}

/// Whether a professional works at an establishment today, from the directories: what
/// single sign-on asks before letting an establishment's system act for him (ACC-3).
struct DirectoryStaff {
    directory: sante_directory::Directory,
    clock: Arc<dyn Clock>,
}

impl sante_sso::StaffDirectory for DirectoryStaff {
    fn works_at<'a>(
        &'a self,
        professional: &'a str,
        establishment: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, String>> + Send + 'a>>
    {
        Box::pin(async move {
            let today = self.clock.now().date_naive();
            match self.directory.professional(professional).await {
                Ok(p) => Ok(p.authorisation.in_force(today)
                    && p.affiliations
                        .iter()
                        .any(|a| a.establishment == establishment && a.active_on(today))),
                Err(sante_directory::DirectoryError::NotFound(_)) => Ok(false),
                Err(e) => Err(e.to_string()),
            }
        })
    }
}

/// The OpenID Connect provider over the configured storage.
pub async fn open_sso(
    config: &Config,
    storage: &Storage,
    identity: &sante_identity::Identity,
    directory: &sante_directory::Directory,
    audit: &sante_audit::AuditLog,
    terms: &sante_terms::Terms,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<sante_sso::Provider> {
    Ok(sante_sso::Provider::open(
        storage.db.clone(),
        storage.blobs.clone(),
        identity.clone(),
        Arc::new(audit.clone()),
        clock.clone(),
        &config.server.public_url,
    )
    .await
    .context("opening single sign-on (signing keys)")?
    .with_mtls_base(config.server.mtls_public_url.clone())
    .with_terms(terms.clone())
    .with_staff_directory(Arc::new(DirectoryStaff {
        directory: directory.clone(),
        clock,
    })))
}

/// The HTTPS listener that asks for client certificates (the card login), with what
/// it needs to reload the revocation lists while it runs.
struct CardListener {
    listener: sante_net::Listener,
    addr: std::net::SocketAddr,
    watch: RevocationWatch,
}

/// The files of the trusted card CAs and their revocation lists, and the TLS
/// configuration to rebuild when a list changes.
struct RevocationWatch {
    tls: sante_net::SharedTlsConfig,
    /// The same trust for the mail listeners (no ALPN): card certificates log mail
    /// programs in (SASL EXTERNAL).
    mail_tls: sante_net::SharedTlsConfig,
    cert: Vec<u8>,
    key: Vec<u8>,
    ca_files: Vec<std::path::PathBuf>,
    crl_files: Vec<std::path::PathBuf>,
    every: std::time::Duration,
    /// Modification times of the lists last loaded.
    seen: Vec<Option<std::time::SystemTime>>,
}

impl RevocationWatch {
    fn trust(&self) -> anyhow::Result<sante_net::pki::ClientTrust> {
        let mut ca_pem = Vec::new();
        for (i, path) in self.ca_files.iter().enumerate() {
            let pem = std::fs::read(path).with_context(|| {
                format!(
                    "key `identity.client_ca_files[{i}]`: cannot read {}",
                    path.display()
                )
            })?;
            ca_pem.extend_from_slice(&pem);
            ca_pem.push(b'\n');
        }
        let crls = self
            .crl_files
            .iter()
            .enumerate()
            .map(|(i, path)| {
                std::fs::read(path).with_context(|| {
                    format!(
                        "key `identity.crl_files[{i}]`: cannot read {}",
                        path.display()
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(sante_net::pki::ClientTrust { ca_pem, crls })
    }

    fn modified(&self) -> Vec<Option<std::time::SystemTime>> {
        self.crl_files
            .iter()
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect()
    }

    /// Loads the current files into both TLS configurations; returns the
    /// certificates they revoke.
    fn load(&mut self) -> anyhow::Result<Vec<String>> {
        let trust = self.trust()?;
        let verifier = sante_net::pki::client_verifier(&trust)
            .context("keys `identity.client_ca_files` / `identity.crl_files`")?;
        let https = sante_net::server_tls_config_with_clients(
            &self.cert,
            &self.key,
            sante_http::ALPN,
            Some(verifier.clone()),
        )?;
        let mail =
            sante_net::server_tls_config_with_clients(&self.cert, &self.key, &[], Some(verifier))?;
        let keys = revocation_keys(&trust)?;
        self.tls.replace(https);
        self.mail_tls.replace(mail);
        self.seen = self.modified();
        Ok(keys)
    }
}

impl CardListener {
    async fn bind(
        config: &Config,
        addr: std::net::SocketAddr,
        cert: &[u8],
        key: &[u8],
    ) -> anyhow::Result<CardListener> {
        let mut watch = RevocationWatch {
            tls: sante_net::SharedTlsConfig::new(sante_net::server_tls_config(
                cert,
                key,
                sante_http::ALPN,
            )?),
            mail_tls: sante_net::SharedTlsConfig::new(sante_net::server_tls_config(
                cert,
                key,
                &[],
            )?),
            cert: cert.to_vec(),
            key: key.to_vec(),
            ca_files: config
                .identity
                .client_ca_files
                .iter()
                .map(|p| config.path(p))
                .collect(),
            crl_files: config
                .identity
                .crl_files
                .iter()
                .map(|p| config.path(p))
                .collect(),
            every: std::time::Duration::from_secs(config.identity.crl_refresh_secs),
            seen: Vec::new(),
        };
        watch.load()?;
        let listener = sante_net::Listener::bind(sante_net::ListenerSpec::https(
            "https-mtls",
            addr,
            watch.tls.clone(),
        ))
        .await
        .with_context(|| format!("key `server.mtls_listen`: cannot listen on {addr}"))?;
        Ok(CardListener {
            addr: listener.local_addr(),
            listener,
            watch,
        })
    }

    async fn apply_revocations(
        &self,
        identity: &sante_identity::Identity,
        audit: &sante_audit::AuditLog,
        clock: &dyn Clock,
    ) -> anyhow::Result<()> {
        let keys = revocation_keys(&self.watch.trust()?)?;
        revoke_listed(identity, audit, clock, &keys).await
    }
}

/// What the revocation lists of `trust` revoke, as [`sante_types::revocation_key`]s.
fn revocation_keys(trust: &sante_net::pki::ClientTrust) -> anyhow::Result<Vec<String>> {
    let mut keys = Vec::new();
    for (i, data) in trust.crls.iter().enumerate() {
        let list = sante_net::pki::read_revocation_list(data)
            .with_context(|| format!("key `identity.crl_files[{i}]`"))?;
        keys.extend(
            list.serials
                .iter()
                .map(|s| sante_types::revocation_key(&list.issuer, s)),
        );
    }
    Ok(keys)
}

/// Revokes the bound certificates a revocation list names and traces the loading.
async fn revoke_listed(
    identity: &sante_identity::Identity,
    audit: &sante_audit::AuditLog,
    clock: &dyn Clock,
    keys: &[String],
) -> anyhow::Result<()> {
    let source = sante_audit::Source {
        channel: sante_audit::Token::new("crl").ok(),
        ..sante_audit::Source::default()
    };
    let revoked = identity
        .revoke_listed_certificates(keys, &source)
        .await
        .context("revoking the certificates of the revocation lists")?;
    let mut event = platform_event(sante_audit::EventKind::IdentityRevocationListLoaded, clock);
    event.service = sante_types::Service::Identity;
    audit.record(event).await?;
    if revoked > 0 {
        tracing::info!(revoked, "bound certificates revoked by a revocation list");
    }
    Ok(())
}

/// Reloads the revocation lists when their files change: the card listener's TLS
/// configuration for the next handshakes, and the bound certificates' credentials
/// (their sessions end at once). A list that fails to load keeps the previous one in
/// force and is reported until fixed.
async fn watch_revocation_lists(
    mut watch: RevocationWatch,
    identity: sante_identity::Identity,
    audit: sante_audit::AuditLog,
    clock: Arc<dyn Clock>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut tick = tokio::time::interval(watch.every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        if watch.modified() == watch.seen {
            continue;
        }
        match watch.load() {
            Ok(keys) => {
                if let Err(e) = revoke_listed(&identity, &audit, &*clock, &keys).await {
                    tracing::error!(error = %format!("{e:#}"), "applying a revocation list failed");
                } else {
                    tracing::info!("revocation lists reloaded");
                }
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "a revocation list could not be loaded; the previous one stays in force")
            }
        }
    }
}

/// Readiness of the server: the database and the blob store answer.
#[derive(Debug, Clone)]
struct StorageReadiness {
    storage: Storage,
}

impl sante_http::Readiness for StorageReadiness {
    fn check(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            self.storage
                .db
                .ping()
                .await
                .map_err(|e| format!("database: {e}"))?;
            self.storage
                .blobs
                .ping()
                .await
                .map_err(|e| format!("blob store: {e}"))?;
            Ok(())
        })
    }
}

/// Reads the audit signing key named by the configuration.
pub fn audit_signer(config: &Config) -> anyhow::Result<sante_audit::CheckpointSigner> {
    let path = config.path(&config.keys.audit_signing_key);
    let pem = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "key `keys.audit_signing_key`: cannot read {}",
            path.display()
        )
    })?;
    sante_audit::CheckpointSigner::from_pem(&pem)
        .with_context(|| format!("key `keys.audit_signing_key`: {}", path.display()))
}

/// The sealing policy from the configuration.
pub fn seal_policy(config: &Config) -> sante_audit::SealPolicy {
    sante_audit::SealPolicy {
        max_records: config.audit.seal_max_records,
        max_age: chrono::Duration::minutes(
            i64::try_from(config.audit.seal_max_age_minutes).unwrap_or(60),
        ),
    }
}

/// Retention from the configuration (PLT-7).
pub fn retention(config: &Config) -> sante_audit::Retention {
    sante_audit::Retention {
        platform_months: config.audit.retention_months,
        messaging_months: config.audit.messaging_retention_months,
    }
}

/// Opens the audit trail as the configuration says (signing key, sealing policy).
pub async fn open_audit(
    config: &Config,
    storage: &Storage,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<sante_audit::AuditLog> {
    sante_audit::AuditLog::open(
        storage.db.clone(),
        audit_signer(config)?,
        clock,
        seal_policy(config),
    )
    .await
    .context("opening the audit trail")
}

/// Starts the whole platform: migrations, audit trail, HTTPS listener, housekeeping.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    let clock = clock();
    let storage = open_storage(config, clock.clone()).await?;
    storage
        .db
        .migrate()
        .await
        .context("applying database migrations")?;
    let audit = open_audit(config, &storage, clock.clone()).await?;
    let directory =
        sante_directory::Directory::new(storage.db.clone(), Arc::new(audit.clone()), clock.clone());
    let identity =
        sante_identity::Identity::new(storage.db.clone(), Arc::new(audit.clone()), clock.clone())
            .with_agent_networks(config.identity.agent_networks()?)
            .with_webauthn(&config.server.public_url)
            .context("key `server.public_url`: the passkeys' relying party")?;

    let cert = std::fs::read(config.path(&config.server.tls_cert))
        .with_context(|| "key `server.tls_cert`: cannot read the certificate chain")?;
    let key = std::fs::read(config.path(&config.server.tls_key))
        .with_context(|| "key `server.tls_key`: cannot read the private key")?;
    let tls = sante_net::server_tls_config(&cert, &key, sante_http::ALPN)
        .context("keys `server.tls_cert` / `server.tls_key`")?;

    let terms = sante_terms::Terms::new(storage.db.clone(), Arc::new(audit.clone()), clock.clone());
    let dsp = sante_dsp::DspService::new(
        storage.db.clone(),
        storage.blobs.clone(),
        directory.clone(),
        Arc::new(audit.clone()),
        clock.clone(),
    );
    let sso = open_sso(
        config,
        &storage,
        &identity,
        &directory,
        &audit,
        &terms,
        clock.clone(),
    )
    .await?;

    let shutdown = tokio_util::sync::CancellationToken::new();
    let listener = sante_net::Listener::bind(sante_net::ListenerSpec::https(
        "https",
        config.server.listen,
        tls,
    ))
    .await
    .with_context(|| {
        format!(
            "key `server.listen`: cannot listen on {}",
            config.server.listen
        )
    })?;
    let https_addr = listener.local_addr();
    let cards = match config.server.mtls_listen {
        Some(addr) => Some(CardListener::bind(config, addr, &cert, &key).await?),
        None => None,
    };
    let mtls_addr = cards.as_ref().map(|c| c.addr);
    let mail_tls = match &cards {
        Some(c) => c.watch.mail_tls.clone(),
        None => sante_net::SharedTlsConfig::new(sante_net::server_tls_config(&cert, &key, &[])?),
    };

    let mut tasks = Vec::new();
    let mail = match &config.messaging {
        Some(section) => Some(
            crate::mail::start(
                config,
                section,
                &storage,
                &directory,
                &identity,
                &terms,
                &audit,
                clock.clone(),
                mail_tls,
                &shutdown,
                &mut tasks,
            )
            .await
            .context("starting secure messaging")?,
        ),
        None => None,
    };
    let kernel = sante_http::Kernel::new(sante_http::KernelParts {
        config: sante_http::HttpConfig {
            public_url: config.server.public_url.clone(),
            default_lang: config.portal.default_language.clone(),
            cookie_secure: true,
            secret: http_secret(config)?,
            mtls_url: config.server.mtls_public_url.clone(),
        },
        readiness: Arc::new(StorageReadiness {
            storage: storage.clone(),
        }),
        recorder: Arc::new(audit.clone()),
        clock: clock.clone(),
        identity: identity.clone(),
        terms: terms.clone(),
        nav: [sante_portal::nav(), sante_dsp_web::nav()].concat(),
    });
    let mut areas = vec![
        sante_portal::routes(sante_portal::PortalArea::new(
            kernel.clone(),
            directory.clone(),
            sso.clone(),
        )),
        sante_dsp_web::routes(sante_dsp_web::DspWeb::new(
            kernel.clone(),
            dsp.clone(),
            directory.clone(),
        )),
        sante_fhir_api::routes(sante_fhir_api::FhirApi::new(
            kernel.clone(),
            directory.clone(),
            dsp.clone(),
            sso.clone(),
            service_clients(config)?,
        )),
        sante_oidc_web::routes(sante_oidc_web::OidcWeb::new(kernel.clone(), sso.clone())),
    ];
    if let (Some(section), Some(mail)) = (&config.messaging, &mail) {
        areas.push(sante_portal::mail_setup::routes(crate::mail::setup(
            section, mail,
        )));
    }
    let handler = sante_http::HttpsHandler::new(sante_http::app(&kernel, areas));

    let grace = std::time::Duration::from_secs(config.server.shutdown_grace_secs);
    if let Some(cards) = cards {
        // Revocations published while the server was down apply before the first login.
        cards.apply_revocations(&identity, &audit, &*clock).await?;
        let token = shutdown.clone();
        let handler = handler.clone();
        let listener = cards.listener;
        tasks.push(tokio::spawn(async move {
            listener.serve(handler, token, grace).await;
        }));
        tasks.push(tokio::spawn(watch_revocation_lists(
            cards.watch,
            identity.clone(),
            audit.clone(),
            clock.clone(),
            shutdown.clone(),
        )));
    }
    let token = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        listener.serve(handler, token, grace).await;
    }));

    // IHE ATNA: forward the trail to the configured collector as it grows.
    let forwarder = match &config.audit.syslog {
        Some(syslog) => {
            let ca = std::fs::read(config.path(&syslog.ca_file))
                .with_context(|| "key `audit.syslog.ca_file`: cannot read the collector's CA")?;
            Some(Arc::new(
                sante_audit::SyslogExporter::new(&syslog.host, syslog.port, &ca)
                    .context("section [audit.syslog]")?,
            ))
        }
        None => None,
    };

    // Housekeeping: seal due epochs and forward new events every minute, apply
    // retention (audit trail, agents' data) once a day.
    let housekeeping = audit.clone();
    let purge_directory = directory.clone();
    let follow_directory = directory.clone();
    let follow_identity = identity.clone();
    let forward_db = storage.db.clone();
    let forward_clock = clock.clone();
    let tick_forwarder = forwarder.clone();
    let tick_sso = sso.clone();
    let tick_dsp = dsp.clone();
    let tick_identity = identity.clone();
    let token = shutdown.clone();
    let retention = retention(config);
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        let mut ticks: u64 = 0;
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tick.tick() => {}
            }
            if let Err(e) = housekeeping.seal_due().await {
                tracing::error!(error = %e, "sealing audit epochs failed");
            }
            if let Some(forwarder) = &tick_forwarder {
                // A collector that is down loses nothing: the position is only moved
                // past what was delivered.
                match forwarder
                    .forward_new(&forward_db, forward_clock.now().timestamp_micros())
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(events = n, "audit events forwarded to the syslog collector")
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "audit syslog forwarding failed; will retry")
                    }
                }
            }
            let housekeeping_source = sante_audit::Source {
                channel: sante_audit::Token::new("housekeeping").ok(),
                ..sante_audit::Source::default()
            };
            if let Err(e) = tick_sso.housekeeping(&housekeeping_source).await {
                tracing::error!(error = %e, "single sign-on housekeeping failed");
            }
            if let Err(e) = tick_identity.purge_ceremonies().await {
                tracing::error!(error = %e, "purging passkey ceremonies failed");
            }
            match apply_directory_changes_to_dsp(&follow_directory, &tick_dsp).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(changes = n, "directory changes applied to the shared care records"),
                Err(e) => tracing::error!(error = %format!("{e:#}"), "following the directories' changes (DSP) failed"),
            }
            if ticks.is_multiple_of(24 * 60) {
                match tick_dsp.housekeeping(&housekeeping_source).await {
                    Ok(r) if r == sante_dsp::service::HousekeepingReport::default() => {}
                    Ok(r) => tracing::info!(closed = r.closed_for_inactivity, deleted = r.deleted_after_closure, expired = r.items_expired, "DSP retention applied"),
                    Err(e) => tracing::error!(error = %e, "DSP housekeeping failed"),
                }
            }
            match apply_directory_changes(&follow_directory, &follow_identity).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(accounts = n, "accounts of lost qualities closed (PLT-4)"),
                Err(e) => tracing::error!(error = %e, "following the directories' changes failed"),
            }
            if ticks.is_multiple_of(24 * 60)
                && let Err(e) = housekeeping.purge_expired(&retention).await
            {
                tracing::error!(error = %e, "audit retention purge failed");
            }
            if ticks.is_multiple_of(24 * 60) {
                match purge_directory
                    .purge_agents(&sante_directory::Request::operator())
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(agents = n, "agents past retention deleted (DIR-7)"),
                    Err(e) => tracing::error!(error = %e, "agent retention purge failed"),
                }
            }
            ticks += 1;
        }
    }));

    audit
        .record(platform_event(
            sante_audit::EventKind::PlatformServerStarted,
            &*clock,
        ))
        .await
        .context("recording the start in the audit trail")?;
    Ok(Running {
        storage,
        audit,
        https_addr,
        mtls_addr,
        shutdown,
        mail,
        tasks,
        forwarder,
    })
}

impl Running {
    /// Stops accepting, lets in-flight work finish, records the stop, seals and closes.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        let clock = clock();
        self.audit
            .record(platform_event(
                sante_audit::EventKind::PlatformServerStopped,
                &*clock,
            ))
            .await
            .context("recording the stop in the audit trail")?;
        self.audit
            .seal_now()
            .await
            .context("sealing the audit trail")?;
        self.audit.close().await;
        if let Some(forwarder) = &self.forwarder
            && let Err(e) = forwarder
                .forward_new(&self.storage.db, clock.now().timestamp_micros())
                .await
        {
            tracing::warn!(error = %e, "last audit syslog forwarding failed; the next start resumes it");
        }
        self.storage.db.close().await;
        Ok(())
    }
}

pub fn platform_event(kind: sante_audit::EventKind, clock: &dyn Clock) -> sante_audit::AuditEvent {
    sante_audit::AuditEvent::new(
        kind,
        clock.now(),
        sante_audit::Actor::platform(),
        sante_types::Service::Platform,
        sante_audit::Action::Execute,
    )
    .source(sante_audit::Source {
        ip: None,
        request_id: None,
        channel: sante_audit::Token::new("cli").ok(),
    })
}

/// The platform services allowed to call the patient directory.
pub fn service_clients(config: &Config) -> anyhow::Result<Vec<sante_fhir_api::ServiceClient>> {
    config
        .directory
        .service_clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(&c.token_sha256, &mut digest)
                .with_context(|| format!("key `directory.service_clients[{i}].token_sha256`"))?;
            Ok(sante_fhir_api::ServiceClient {
                name: c.name.clone(),
                service: sante_types::Service::parse(&c.service)
                    .with_context(|| format!("key `directory.service_clients[{i}].service`"))?,
                token_sha256: digest,
            })
        })
        .collect()
}

/// The HMAC key for CSRF tokens, derived from the master keyring's primary key so that
/// no extra secret file is needed and restarts keep forms valid.
fn http_secret(config: &Config) -> anyhow::Result<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let keyring = sante_store::keyring::Keyring::load(&config.path(&config.keys.master_keyring))?;
    let (_, key) = keyring.primary()?;
    let mut hasher = Sha256::new();
    hasher.update(b"sante-http-csrf-v1");
    hasher.update(key.bytes());
    Ok(hasher.finalize().into())
}

/// Records an operator command in the audit trail (channel `cli`): migrations, key
/// rotation, verification and export of the trail are accesses like any other.
pub async fn trace_cli(
    config: &Config,
    storage: &Storage,
    kind: sante_audit::EventKind,
    action: sante_audit::Action,
    resource: Option<(&'static str, &str)>,
    outcome: sante_audit::Outcome,
) -> anyhow::Result<()> {
    let clock = clock();
    let log = open_audit(config, storage, clock.clone()).await?;
    let mut event = platform_event(kind, &*clock).outcome(outcome);
    event.action = action;
    if let Some((kind, id)) = resource {
        event = event.resource(
            sante_audit::Token::code(kind),
            sante_audit::Token::new(id).context("audit resource id")?,
        );
    }
    let recorded = log.record(event).await;
    log.close().await;
    recorded.context("recording the command in the audit trail")
}

/// Applies pending migrations and records them in the audit trail.
pub async fn migrate_traced(config: &Config, storage: &Storage) -> anyhow::Result<Vec<i64>> {
    let pending = storage.db.migration_status().await?.pending();
    storage
        .db
        .migrate()
        .await
        .context("applying database migrations")?;
    if let Some(last) = pending.last() {
        trace_cli(
            config,
            storage,
            sante_audit::EventKind::PlatformMigrationApplied,
            sante_audit::Action::Update,
            Some(("migration", &last.to_string())),
            sante_audit::Outcome::Success,
        )
        .await?;
    }
    Ok(pending)
}

#[cfg(test)]
mod tests;
