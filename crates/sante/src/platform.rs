//! Wiring: from a [`Config`] to running parts. [`Platform::build`] opens storage, the
//! audit trail and every context and service; [`Platform::start`] binds the listeners,
//! composes the web areas and starts the periodic jobs ([`jobs`]). The rules of what
//! a directory change does are the services' own; [`feeds`] only connects them.

mod cards;
mod feeds;
mod jobs;

use std::sync::Arc;

use anyhow::Context;
use sante_store::blob::{BlobBackend, BlobStore};
use sante_store::keyring::SharedKeyring;
use sante_store::{Db, StoreConfig};
use sante_types::{Clock, SystemClock};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{BlobBackendKind, Config};

/// The storage parts every command needs.
#[derive(Debug, Clone)]
pub struct Storage {
    pub db: Db,
    pub blobs: BlobStore,
    pub keyring: SharedKeyring,
}

/// The real clock: the binary is the one place that reads it.
pub fn clock(config: &Config) -> Arc<dyn Clock> {
    match config.development.clock_offset() {
        // Checked when the configuration was loaded, and only on loopback.
        Ok(Some(offset)) => Arc::new(sante_types::OffsetClock::new(offset)),
        _ => Arc::new(SystemClock),
    }
}

/// An HTTPS listener with the configured connection limits.
pub(crate) fn https_spec(
    config: &Config,
    mut spec: sante_net::ListenerSpec,
) -> sante_net::ListenerSpec {
    spec.max_connections = config.server.max_connections;
    spec.max_per_address = config.server.max_connections_per_address;
    spec
}

/// The search fields whose terms are national numbers or built from them: stored
/// blind, looked up exactly.
const BLIND_TERMS: &[&str] = &["nin", "block"];

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
    // Every record sealed, national numbers (and the matching keys built from them)
    // indexed blind: the database read raw shows neither (PLT-10).
    let db = db.sealed(sante_store::sealing::Sealing::new(
        keyring.clone(),
        clock.clone(),
        BLIND_TERMS,
    ));
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
            secret_access_key: config
                .blobs
                .secret_access_key
                .clone()
                .unwrap_or_else(|| SecretString::from("")),
            allow_http: config.blobs.allow_http,
        },
    };
    let blobs = BlobStore::open(&backend, db.clone(), keyring.clone(), clock)
        .context("section [blobs]: cannot open the blob store")?;
    Ok(Storage { db, blobs, keyring })
}

/// A relative SQLite path is relative to the configuration file, like every other path.
fn resolve_sqlite_url(config: &Config) -> SecretString {
    let url = config.storage.database_url.expose_secret();
    match url.strip_prefix("sqlite:") {
        Some(path) if !path.starts_with('/') => {
            let path = config.path(std::path::Path::new(path.trim_start_matches("//")));
            if let Some(parent) = path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            format!("sqlite:{}", path.display()).into()
        }
        _ => url.into(),
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
    clock: Arc<dyn Clock>,
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
    .with_staff_directory(Arc::new(feeds::DirectoryStaff {
        directory: directory.clone(),
        clock,
    })))
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

/// The platform's contexts and services over one storage, before anything listens.
pub struct Platform {
    pub storage: Storage,
    pub audit: sante_audit::AuditLog,
    pub clock: Arc<dyn Clock>,
    pub directory: sante_directory::Directory,
    pub identity: sante_identity::Identity,
    pub terms: sante_terms::Terms,
    pub dsp: sante_dsp::DspService,
    pub sso: sante_sso::Provider,
}

impl Platform {
    /// Opens storage (migrated), the audit trail and every context and service.
    pub async fn build(config: &Config) -> anyhow::Result<Platform> {
        let clock = clock(config);
        if let Ok(Some(offset)) = config.development.clock_offset() {
            tracing::warn!(
                offset_seconds = offset.num_seconds(),
                now = %clock.now(),
                "development clock offset: the platform's clock is moved (key development.clock_offset)"
            );
        }
        let storage = open_storage(config, clock.clone()).await?;
        storage
            .db
            .migrate()
            .await
            .context("applying database migrations")?;
        let audit = open_audit(config, &storage, clock.clone()).await?;
        let recorder = || -> Arc<dyn sante_audit::Recorder> { Arc::new(audit.clone()) };
        let directory =
            sante_directory::Directory::new(storage.db.clone(), recorder(), clock.clone())
                .with_lookup_limits(config.directory.lookup_limits());
        let identity = sante_identity::Identity::new(storage.db.clone(), recorder(), clock.clone())
            .with_agent_networks(config.identity.agent_networks()?)
            .with_attempt_limits(config.identity.attempt_limits()?)
            .with_webauthn(&config.server.public_url)
            .context("key `server.public_url`: the passkeys' relying party")?;
        let terms = sante_terms::Terms::new(storage.db.clone(), recorder(), clock.clone());
        let dsp = sante_dsp::DspService::new(
            storage.db.clone(),
            storage.blobs.clone(),
            directory.clone(),
            recorder(),
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
        Ok(Platform {
            storage,
            audit,
            clock,
            directory,
            identity,
            terms,
            dsp,
            sso,
        })
    }

    /// The web areas, composed on the kernel: the portal, the DSP's pages, the FHIR
    /// API, OpenID Connect, and mail programs' set-up when messaging runs.
    fn web(
        &self,
        config: &Config,
        mail_setup: Option<sante_portal::mail_setup::MailSetup>,
        messaging: Option<&sante_messaging::Messaging>,
    ) -> anyhow::Result<sante_http::App> {
        let mut personal_data: Vec<Arc<dyn sante_http::PersonalData>> = vec![Arc::new(
            sante_dsp_web::DspPersonalData::new(self.dsp.clone(), self.directory.clone()),
        )];
        if let Some(messaging) = messaging {
            personal_data.push(Arc::new(crate::personal_data::MessagingPersonalData::new(
                messaging.clone(),
            )));
        }
        let kernel = sante_http::Kernel::new(sante_http::KernelParts {
            config: sante_http::HttpConfig {
                public_url: config.server.public_url.clone(),
                default_lang: config.portal.default_language.clone(),
                cookie_secure: true,
                secret: sante_http::CsrfKey::new(http_secret(config)?),
                mtls_url: config.server.mtls_public_url.clone(),
                limits: config.server.limits.body_limits()?,
            },
            readiness: Arc::new(StorageReadiness {
                storage: self.storage.clone(),
            }),
            recorder: Arc::new(self.audit.clone()),
            clock: self.clock.clone(),
            identity: self.identity.clone(),
            terms: self.terms.clone(),
            nav: [sante_portal::nav(), sante_dsp_web::nav()].concat(),
        });
        let mut areas = vec![
            sante_portal::routes(
                sante_portal::PortalArea::new(
                    kernel.clone(),
                    self.directory.clone(),
                    self.sso.clone(),
                    sante_audit::Trail::new(self.storage.db.clone()),
                )
                .with_messaging(mail_setup.is_some())
                .with_personal_data(personal_data),
            ),
            sante_dsp_web::routes(sante_dsp_web::DspWeb::new(
                kernel.clone(),
                self.dsp.clone(),
                self.directory.clone(),
            )),
            sante_fhir_api::routes(sante_fhir_api::FhirApi::new(
                kernel.clone(),
                self.directory.clone(),
                self.dsp.clone(),
                self.sso.clone(),
                service_clients(config)?,
            )),
            sante_oidc_web::routes(sante_oidc_web::OidcWeb::new(
                kernel.clone(),
                self.sso.clone(),
            )),
        ];
        if let Some(setup) = mail_setup {
            areas.push(sante_portal::mail_setup::routes(setup));
        }
        areas.push(sante_portal::pki::routes(published_revocation_lists(
            config,
        )?));
        Ok(sante_http::app(&kernel, areas))
    }

    /// The periodic jobs of a running server.
    fn jobs(
        &self,
        config: &Config,
        forwarder: Option<Arc<sante_audit::SyslogExporter>>,
        messaging: Option<sante_messaging::Messaging>,
    ) -> jobs::Jobs {
        let housekeeping = || sante_audit::Source {
            channel: sante_audit::Token::new("housekeeping").ok(),
            ..sante_audit::Source::default()
        };
        let (audit, db, clock) = (
            self.audit.clone(),
            self.storage.db.clone(),
            self.clock.clone(),
        );
        let sealing = audit.clone();
        let mut registry = jobs::Jobs::default()
            .every(jobs::EVERY_MINUTE, "audit-seal", move || {
                let audit = sealing.clone();
                async move {
                    audit.seal_due().await?;
                    Ok(None)
                }
            })
            .every(jobs::EVERY_MINUTE, "audit-forward", move || {
                let (forwarder, db, clock) = (forwarder.clone(), db.clone(), clock.clone());
                async move {
                    let Some(forwarder) = forwarder else {
                        return Ok(None);
                    };
                    // A collector that is down loses nothing: the position is only
                    // moved past what was delivered.
                    let n = forwarder
                        .forward_new(&db, clock.now().timestamp_micros())
                        .await?;
                    Ok((n > 0)
                        .then(|| format!("{n} audit events forwarded to the syslog collector")))
                }
            });
        let sso = self.sso.clone();
        registry = registry.every(jobs::EVERY_MINUTE, "sso-housekeeping", move || {
            let sso = sso.clone();
            async move {
                sso.housekeeping(&housekeeping()).await?;
                Ok(None)
            }
        });
        let identity = self.identity.clone();
        registry = registry.every(jobs::EVERY_MINUTE, "passkey-ceremonies", move || {
            let identity = identity.clone();
            async move {
                identity.purge_ceremonies().await?;
                Ok(None)
            }
        });
        let (directory, dsp) = (self.directory.clone(), self.dsp.clone());
        registry = registry.every(jobs::EVERY_MINUTE, "directory-feed-dsp", move || {
            let (directory, dsp) = (directory.clone(), dsp.clone());
            async move {
                let n = sante_directory::follow::follow(&directory, &dsp).await?;
                Ok((n > 0)
                    .then(|| format!("{n} directory changes applied to the shared care records")))
            }
        });
        let dsp = self.dsp.clone();
        registry = registry.every(jobs::EVERY_DAY, "dsp-retention", move || {
            let dsp = dsp.clone();
            async move {
                let r = dsp.housekeeping(&housekeeping()).await?;
                Ok((r != sante_dsp::service::HousekeepingReport::default()).then(|| {
                    format!(
                        "DSP retention applied: {} closed for inactivity, {} deleted after closure, {} items expired",
                        r.closed_for_inactivity, r.deleted_after_closure, r.items_expired
                    )
                }))
            }
        });
        let accounts = Arc::new(feeds::AccountsFollower {
            identity: self.identity.clone(),
            directory: self.directory.clone(),
        });
        let directory = self.directory.clone();
        registry = registry.every(jobs::EVERY_MINUTE, "directory-feed-accounts", move || {
            let (directory, accounts) = (directory.clone(), accounts.clone());
            async move {
                let n = sante_directory::follow::follow(&directory, &*accounts).await?;
                Ok((n > 0).then(|| format!("{n} accounts of lost qualities closed (PLT-4)")))
            }
        });
        let retention = retention(config);
        registry = registry.every(jobs::EVERY_DAY, "audit-retention", move || {
            let audit = audit.clone();
            async move {
                audit.purge_expired(&retention).await?;
                Ok(None)
            }
        });
        let directory = self.directory.clone();
        registry = registry.every(jobs::EVERY_DAY, "agent-retention", move || {
            let directory = directory.clone();
            async move {
                let n = directory
                    .purge_agents(&sante_directory::Request::operator())
                    .await?;
                Ok((n > 0).then(|| format!("{n} agents past retention deleted (DIR-7)")))
            }
        });
        if let Some(messaging) = messaging {
            registry = registry.every(jobs::EVERY_HOUR, "messaging-housekeeping", move || {
                let messaging = messaging.clone();
                async move {
                    let r = messaging.housekeeping().await?;
                    Ok((r != sante_messaging::HousekeepingReport::default()).then(|| {
                        format!(
                            "messaging housekeeping: {} mailboxes purged, {} metadata entries purged",
                            r.mailboxes_purged, r.metadata_purged
                        )
                    }))
                }
            });
        }
        registry
    }

    /// Binds the listeners (HTTPS, the card listener, mail) and starts the jobs.
    pub async fn start(self, config: &Config) -> anyhow::Result<Running> {
        let cert = std::fs::read(config.path(&config.server.tls_cert))
            .with_context(|| "key `server.tls_cert`: cannot read the certificate chain")?;
        let key = std::fs::read(config.path(&config.server.tls_key))
            .with_context(|| "key `server.tls_key`: cannot read the private key")?;
        let tls = sante_net::server_tls_config(&cert, &key, sante_http::ALPN)
            .context("keys `server.tls_cert` / `server.tls_key`")?;
        let shutdown = tokio_util::sync::CancellationToken::new();
        let listener = sante_net::Listener::bind(https_spec(
            config,
            sante_net::ListenerSpec::https("https", config.server.listen, tls),
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
            Some(addr) => Some(cards::CardListener::bind(config, addr, &cert, &key).await?),
            None => None,
        };
        let mtls_addr = cards.as_ref().map(|c| c.addr);
        let mail_tls = match &cards {
            Some(c) => c.watch.mail_tls.clone(),
            None => {
                sante_net::SharedTlsConfig::new(sante_net::server_tls_config(&cert, &key, &[])?)
            }
        };

        let mut tasks = Vec::new();
        let mail = match &config.messaging {
            Some(section) => Some(
                crate::mail::start(
                    config,
                    section,
                    &self.storage,
                    &self.directory,
                    &self.identity,
                    &self.terms,
                    &self.audit,
                    self.clock.clone(),
                    mail_tls,
                    &shutdown,
                    &mut tasks,
                )
                .await
                .context("starting secure messaging")?,
            ),
            None => None,
        };
        let mail_setup = config
            .messaging
            .as_ref()
            .zip(mail.as_ref())
            .map(|(section, mail)| crate::mail::setup(section, mail));
        let web = self.web(config, mail_setup, mail.as_ref().map(|m| &m.messaging))?;
        let handler = sante_http::HttpsHandler::new(web.router)
            .with_max_header_bytes(config.server.limits.header_bytes()?);

        let grace = std::time::Duration::from_secs(config.server.shutdown_grace_secs);
        if let Some(cards) = cards {
            // Revocations published while the server was down apply before the first
            // login.
            cards
                .apply_revocations(&self.identity, &self.audit, &*self.clock)
                .await?;
            let token = shutdown.clone();
            let handler = handler.clone();
            let listener = cards.listener;
            tasks.push(tokio::spawn(async move {
                listener.serve(handler, token, grace).await;
            }));
            tasks.push(tokio::spawn(cards::watch_revocation_lists(
                cards.watch,
                self.identity.clone(),
                self.audit.clone(),
                self.clock.clone(),
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
                let ca = std::fs::read(config.path(&syslog.ca_file)).with_context(
                    || "key `audit.syslog.ca_file`: cannot read the collector's CA",
                )?;
                Some(Arc::new(
                    sante_audit::SyslogExporter::new(&syslog.host, syslog.port, &ca)
                        .context("section [audit.syslog]")?,
                ))
            }
            None => None,
        };
        let jobs = self.jobs(
            config,
            forwarder.clone(),
            mail.as_ref().map(|m| m.messaging.clone()),
        );
        tasks.push(tokio::spawn(jobs.run(shutdown.clone())));

        self.audit
            .record(platform_event(
                sante_audit::EventKind::PlatformServerStarted,
                &*self.clock,
            ))
            .await
            .context("recording the start in the audit trail")?;
        Ok(Running {
            storage: self.storage,
            audit: self.audit,
            https_addr,
            mtls_addr,
            shutdown,
            mail,
            tasks,
            forwarder,
            clock: self.clock,
        })
    }
}

/// Starts the whole platform: migrations, audit trail, listeners, jobs.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    Platform::build(config).await?.start(config).await
}

impl Running {
    /// Stops accepting, lets in-flight work finish, records the stop, seals and closes.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        let clock = self.clock;
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

/// The revocation lists the portal publishes, each read once here so that a missing
/// or broken file stops the start naming its key.
fn published_revocation_lists(
    config: &Config,
) -> anyhow::Result<sante_portal::pki::RevocationLists> {
    let mut lists = Vec::new();
    for (i, (name, path)) in config
        .server
        .published_revocation_lists()?
        .into_iter()
        .enumerate()
    {
        let path = config.path(&path);
        std::fs::read(&path)
            .map_err(anyhow::Error::from)
            .and_then(|data| Ok(sante_net::pki::read_revocation_list(&data)?))
            .with_context(|| {
                format!(
                    "key `server.revocation_lists[{i}]`: {} is not a readable revocation list",
                    path.display()
                )
            })?;
        lists.push((name, path));
    }
    Ok(sante_portal::pki::RevocationLists::new(lists))
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
    let clock = clock(config);
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
mod access_suite;
#[cfg(test)]
mod tests;
