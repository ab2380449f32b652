//! The configuration: one TOML file, overridden by `SANTE_<SECTION>__<KEY>` variables.
//!
//! Unknown keys and invalid values are refused at start-up with a message naming the
//! key, so a typo never silently falls back to a default. Relative paths are resolved
//! against the directory of the configuration file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The whole configuration tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub blobs: BlobsConfig,
    pub keys: KeysConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub portal: PortalConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub directory: DirectoryConfig,
    #[serde(default)]
    pub identity: IdentityConfig,
    /// Secure messaging; absent: the mail listeners are not started.
    pub messaging: Option<MessagingSection>,
    /// Settings for development and tests only, refused on a platform reachable from
    /// elsewhere than the machine itself.
    #[serde(default)]
    pub development: DevelopmentConfig,
    /// Directory of the configuration file, to resolve relative paths.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevelopmentConfig {
    /// Moves the platform's clock by this much: `"400d"`, `"-2h"`, `"90m"`, `"30s"`.
    pub clock_offset: Option<String>,
}

impl DevelopmentConfig {
    /// The clock offset, if one is set.
    pub fn clock_offset(&self) -> anyhow::Result<Option<chrono::Duration>> {
        let Some(text) = self.clock_offset.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let bad = || {
            anyhow::anyhow!(
                "key `development.clock_offset`: {text:?} is not a duration such as \"400d\", \"-2h\", \"90m\" or \"30s\""
            )
        };
        let split = text.len().checked_sub(1).ok_or_else(bad)?;
        let (number, unit) = text.split_at(split);
        let n: i64 = number.trim_start_matches('+').parse().map_err(|_| bad())?;
        let offset = match unit {
            "d" => chrono::Duration::try_days(n),
            "h" => chrono::Duration::try_hours(n),
            "m" => chrono::Duration::try_minutes(n),
            "s" => chrono::Duration::try_seconds(n),
            _ => None,
        }
        .filter(|d| d.num_days().abs() <= 100 * 366)
        .ok_or_else(bad)?;
        Ok(Some(offset))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the HTTPS listener.
    pub listen: SocketAddr,
    /// The URL users reach the portal at (must be https).
    pub public_url: String,
    /// Certificate chain (PEM) presented to clients.
    pub tls_cert: PathBuf,
    /// Private key (PEM) of that certificate.
    pub tls_key: PathBuf,
    /// Seconds to let in-flight requests finish on shutdown.
    #[serde(default = "default_grace")]
    pub shutdown_grace_secs: u64,
    /// Connections each HTTPS listener serves at once, and from one source address
    /// (an IPv6 /64); further ones are closed at once.
    #[serde(default = "default_https_connections")]
    pub max_connections: usize,
    #[serde(default = "default_https_per_address")]
    pub max_connections_per_address: usize,
    /// Address of a second HTTPS listener that asks clients for a certificate: the
    /// card login and establishment systems (mutual TLS). Needs `identity.client_ca_files`.
    pub mtls_listen: Option<SocketAddr>,
    /// The URL users reach that listener at (https).
    pub mtls_public_url: Option<String>,
    /// How large a request may be.
    #[serde(default)]
    pub limits: RequestLimitsConfig,
    /// Revocation lists (PEM or DER) the portal publishes at `/pki/<file name>`, the
    /// URLs its CAs' certificates name as CRL distribution points.
    #[serde(default)]
    pub revocation_lists: Vec<PathBuf>,
}

impl ServerConfig {
    /// The published revocation lists by the name they are served under, checked:
    /// each a distinct `*.crl` file name of letters, digits, `.`, `-` and `_`.
    pub fn published_revocation_lists(&self) -> anyhow::Result<Vec<(String, PathBuf)>> {
        let mut published: Vec<(String, PathBuf)> = Vec::new();
        for (i, path) in self.revocation_lists.iter().enumerate() {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| {
                    n.len() > 4
                        && n.ends_with(".crl")
                        && n.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                })
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "key `server.revocation_lists[{i}]`: {} must be a file named like `ca.crl` (letters, digits, `.`, `-`, `_`)",
                        path.display()
                    )
                })?;
            if published.iter().any(|(n, _)| n == name) {
                bail!(
                    "key `server.revocation_lists[{i}]`: a second list named {name}; each is published under its file name"
                );
            }
            published.push((name.to_owned(), path.clone()));
        }
        Ok(published)
    }
}

/// `[server.limits]`: the largest requests read, each with a safe default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestLimitsConfig {
    /// The header section of a request (431 past it), KiB; at least 8.
    pub max_header_kib: usize,
    /// A form of the portal or of the OpenID Connect endpoints, KiB.
    pub max_form_kib: usize,
    /// An MHD provide bundle, MiB.
    pub max_fhir_bundle_mb: usize,
}

impl Default for RequestLimitsConfig {
    fn default() -> RequestLimitsConfig {
        let body = sante_http::BodyLimits::default();
        RequestLimitsConfig {
            max_header_kib: sante_http::MAX_HEADER_BYTES / 1024,
            max_form_kib: body.form_bytes / 1024,
            max_fhir_bundle_mb: body.fhir_bundle_bytes / (1024 * 1024),
        }
    }
}

impl RequestLimitsConfig {
    /// The header bound, in bytes, checked.
    pub fn header_bytes(&self) -> anyhow::Result<usize> {
        if !(sante_http::MIN_HEADER_BYTES / 1024..=1024).contains(&self.max_header_kib) {
            bail!("key `server.limits.max_header_kib`: must be 8 to 1024");
        }
        Ok(self.max_header_kib * 1024)
    }

    /// The body bounds, checked.
    pub fn body_limits(&self) -> anyhow::Result<sante_http::BodyLimits> {
        if !(1..=1024).contains(&self.max_form_kib) {
            bail!("key `server.limits.max_form_kib`: must be 1 to 1024");
        }
        if !(1..=1024).contains(&self.max_fhir_bundle_mb) {
            bail!("key `server.limits.max_fhir_bundle_mb`: must be 1 to 1024");
        }
        Ok(sante_http::BodyLimits {
            form_bytes: self.max_form_kib * 1024,
            fhir_bundle_bytes: self.max_fhir_bundle_mb * 1024 * 1024,
        })
    }
}

fn default_grace() -> u64 {
    20
}

fn default_https_connections() -> usize {
    4096
}

fn default_https_per_address() -> usize {
    256
}

fn default_mail_connections() -> usize {
    1024
}

fn default_mail_per_address() -> usize {
    128
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `sqlite:PATH` (embedded default) or `postgres://USER@HOST:PORT/DB` (production).
    /// A secret: it may hold the database password.
    pub database_url: SecretString,
    /// PostgreSQL schema to use (created if missing).
    pub postgres_schema: Option<String>,
    #[serde(default = "default_connections")]
    pub max_connections: u32,
}

impl StorageConfig {
    /// The database URL as it may be shown: without its password.
    pub fn shown_url(&self) -> String {
        let url = self.database_url.expose_secret();
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.to_owned();
        };
        match rest.split_once('@') {
            Some((user_info, host)) => {
                let user = user_info.split(':').next().unwrap_or_default();
                let hidden = if user_info.contains(':') { ":***" } else { "" };
                format!("{scheme}://{user}{hidden}@{host}")
            }
            None => url.to_owned(),
        }
    }
}

fn default_connections() -> u32 {
    8
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum BlobBackendKind {
    Local,
    S3,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobsConfig {
    pub backend: BlobBackendKind,
    /// Local backend: the directory.
    pub path: Option<PathBuf>,
    /// S3 backend.
    pub bucket: Option<String>,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    #[serde(default)]
    pub allow_http: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// The master keyring wrapping every data key (mode 0600).
    pub master_keyring: PathBuf,
    /// Ed25519 key (PKCS#8 PEM) signing audit checkpoints (mode 0600).
    pub audit_signing_key: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Months platform traces are kept (PLT-7: at most 13).
    #[serde(default = "default_retention")]
    pub retention_months: u32,
    /// Months messaging traces are kept (PLT-7: at most 12).
    #[serde(default = "default_messaging_retention")]
    pub messaging_retention_months: u32,
    /// Seal an epoch once it holds this many records...
    #[serde(default = "default_seal_records")]
    pub seal_max_records: u64,
    /// ...or once it is this many minutes old.
    #[serde(default = "default_seal_minutes")]
    pub seal_max_age_minutes: u64,
    /// Optional RFC 5424 syslog-over-TLS collector (IHE ATNA).
    pub syslog: Option<SyslogConfig>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention_months: default_retention(),
            messaging_retention_months: default_messaging_retention(),
            seal_max_records: default_seal_records(),
            seal_max_age_minutes: default_seal_minutes(),
            syslog: None,
        }
    }
}

fn default_retention() -> u32 {
    13
}
fn default_messaging_retention() -> u32 {
    12
}
fn default_seal_records() -> u64 {
    10_000
}
fn default_seal_minutes() -> u64 {
    60
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    pub host: String,
    pub port: u16,
    /// CA certificate (PEM) that issued the collector's certificate.
    pub ca_file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// `fr` (authoritative), `de` or `en`.
    #[serde(default = "default_language")]
    pub default_language: String,
}

impl Default for PortalConfig {
    fn default() -> Self {
        PortalConfig {
            default_language: default_language(),
        }
    }
}

fn default_language() -> String {
    "fr".into()
}

/// The directories' API callers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// Platform services allowed to call the patient directory (FHIR PDQm) until
    /// accounts and single sign-on exist: each with a bearer token of which only the
    /// SHA-256 is kept here (`sante directory service-token` makes one).
    #[serde(default)]
    pub service_clients: Vec<ServiceClientConfig>,
    /// Patient identities a professional may be shown an hour (DIR-5): past it, his
    /// lookups are refused until the hour turns, traced and logged.
    #[serde(default)]
    pub patient_lookups_per_hour: Option<u32>,
    /// The same for a platform service, which identifies the patients of many.
    #[serde(default)]
    pub service_patient_lookups_per_hour: Option<u32>,
}

impl DirectoryConfig {
    pub fn lookup_limits(&self) -> sante_directory::lookups::LookupLimits {
        let default = sante_directory::lookups::LookupLimits::default();
        sante_directory::lookups::LookupLimits {
            person_per_hour: self
                .patient_lookups_per_hour
                .unwrap_or(default.person_per_hour),
            service_per_hour: self
                .service_patient_lookups_per_hour
                .unwrap_or(default.service_per_hour),
        }
    }
}

/// Accounts and logins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// Networks (CIDR) agents may log in and act from (ACC-2); empty: anywhere.
    #[serde(default)]
    pub agent_networks: Vec<String>,
    /// Certificates (PEM) of the CAs issuing the cards whose certificates log in.
    #[serde(default)]
    pub client_ca_files: Vec<PathBuf>,
    /// Their revocation lists (DER or PEM), one per CA at least; reloaded when changed.
    #[serde(default)]
    pub crl_files: Vec<PathBuf>,
    /// How often (seconds) the revocation list files are checked for a new version.
    #[serde(default = "default_crl_refresh")]
    pub crl_refresh_secs: u64,
    /// Failed logins and activations one source address may make in
    /// `failed_attempts_window_minutes` before it is refused (credential stuffing,
    /// password spraying, code guessing); the accounts it tried stay untouched.
    #[serde(default = "default_failed_attempts")]
    pub failed_attempts_per_address: u32,
    #[serde(default = "default_failed_attempts_window")]
    pub failed_attempts_window_minutes: u32,
}

fn default_crl_refresh() -> u64 {
    60
}

fn default_failed_attempts() -> u32 {
    sante_identity::AttemptLimits::default().failures_per_address
}

fn default_failed_attempts_window() -> u32 {
    u32::try_from(
        sante_identity::AttemptLimits::default()
            .window
            .num_minutes(),
    )
    .unwrap_or(15)
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            agent_networks: Vec::new(),
            client_ca_files: Vec::new(),
            crl_files: Vec::new(),
            crl_refresh_secs: default_crl_refresh(),
            failed_attempts_per_address: default_failed_attempts(),
            failed_attempts_window_minutes: default_failed_attempts_window(),
        }
    }
}

impl IdentityConfig {
    /// The allowance of failed attempts per source address; the error names the key.
    pub fn attempt_limits(&self) -> anyhow::Result<sante_identity::AttemptLimits> {
        if self.failed_attempts_per_address == 0 {
            bail!("key `identity.failed_attempts_per_address`: at least 1");
        }
        if !(1..=24 * 60).contains(&self.failed_attempts_window_minutes) {
            bail!("key `identity.failed_attempts_window_minutes`: 1 to 1440");
        }
        Ok(sante_identity::AttemptLimits {
            failures_per_address: self.failed_attempts_per_address,
            window: chrono::Duration::minutes(i64::from(self.failed_attempts_window_minutes)),
        })
    }

    /// The agents' networks, parsed; the error names the key.
    pub fn agent_networks(&self) -> anyhow::Result<Vec<ipnet::IpNet>> {
        self.agent_networks
            .iter()
            .enumerate()
            .map(|(i, n)| {
                n.trim()
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| n.trim().parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "key `identity.agent_networks[{i}]`: {n:?} is not a network such as 10.0.0.0/8"
                        )
                    })
            })
            .collect()
    }
}

/// Secure messaging (MSG-1 to MSG-20): the mail domain, the listeners, the anti-virus
/// and the partner domains.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagingSection {
    /// The platform's mail domain: every professional's address is under it.
    pub domain: String,
    /// Connections each mail listener serves at once, and from one source address
    /// (an IPv6 /64); further ones are closed at once.
    #[serde(default = "default_mail_connections")]
    pub max_connections: usize,
    #[serde(default = "default_mail_per_address")]
    pub max_connections_per_address: usize,
    /// The name the mail servers give themselves (greetings, `Received`, autoconfig).
    pub hostname: String,
    /// SMTP submission with STARTTLS (587).
    pub submission_listen: Option<SocketAddr>,
    /// SMTP submission over implicit TLS (465).
    pub submissions_listen: Option<SocketAddr>,
    /// SMTP for partner domains' servers (25).
    pub inbound_listen: Option<SocketAddr>,
    /// IMAP over implicit TLS (993).
    pub imap_listen: Option<SocketAddr>,
    /// POP3 over implicit TLS (995).
    pub pop3_listen: Option<SocketAddr>,
    /// The ports mail programs are told to use (autoconfig), when the listeners are
    /// behind a port mapping; default: the listeners' own.
    #[serde(default)]
    pub public_ports: Option<PublicMailPorts>,
    /// clamd's socket: `unix:/run/clamav/clamd.ctl` or `tcp:host:port`; `dev` starts
    /// a clamd of the platform's own with test signatures only (demo, development).
    pub clamd: String,
    /// MSG-11: 100 MB.
    #[serde(default = "default_quota_mb")]
    pub quota_mb: u64,
    #[serde(default = "default_max_message_mb")]
    pub max_message_mb: u64,
    /// Refuse mail from partner servers that do not STARTTLS first.
    #[serde(default = "default_true")]
    pub inbound_require_tls: bool,
    /// CAs (PEM) partners' servers' certificates are checked against.
    #[serde(default)]
    pub partner_ca_files: Vec<PathBuf>,
    #[serde(default)]
    pub partners: Vec<PartnerConfig>,
    /// What a mail client may do before it is refused or its session closed.
    #[serde(default)]
    pub limits: MailLimitsConfig,
}

/// `[messaging.limits]`: each limit a mail client meets, with a safe default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailLimitsConfig {
    /// Most recipients of one message (SMTP answers 452 past it).
    pub max_recipients: usize,
    /// Refused or malformed commands before a session is closed.
    pub max_errors: u32,
    /// Failed authentications before a session is closed.
    pub max_auth_failures: u32,
    /// IMAP sessions one mailbox keeps open at once.
    pub imap_sessions_per_mailbox: usize,
    /// Seconds a client has to send each command, per protocol once logged in, and
    /// before login.
    pub smtp_idle_secs: u64,
    pub imap_idle_secs: u64,
    pub pop3_idle_secs: u64,
    pub unauthenticated_idle_secs: u64,
}

impl Default for MailLimitsConfig {
    fn default() -> MailLimitsConfig {
        let limits = sante_mail::MailLimits::default();
        MailLimitsConfig {
            max_recipients: 100,
            max_errors: limits.max_errors,
            max_auth_failures: limits.max_auth_failures,
            imap_sessions_per_mailbox: limits.imap_sessions_per_mailbox,
            smtp_idle_secs: limits.smtp_idle.as_secs(),
            imap_idle_secs: limits.imap_idle.as_secs(),
            pop3_idle_secs: limits.pop3_idle.as_secs(),
            unauthenticated_idle_secs: limits.unauthenticated_idle.as_secs(),
        }
    }
}

impl MailLimitsConfig {
    /// The limits for the mail front ends; a zero would refuse every client.
    pub fn mail_limits(&self) -> anyhow::Result<sante_mail::MailLimits> {
        let positive = [
            ("max_recipients", self.max_recipients as u64),
            ("max_errors", u64::from(self.max_errors)),
            ("max_auth_failures", u64::from(self.max_auth_failures)),
            (
                "imap_sessions_per_mailbox",
                self.imap_sessions_per_mailbox as u64,
            ),
            ("smtp_idle_secs", self.smtp_idle_secs),
            ("imap_idle_secs", self.imap_idle_secs),
            ("pop3_idle_secs", self.pop3_idle_secs),
            ("unauthenticated_idle_secs", self.unauthenticated_idle_secs),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            bail!("key `messaging.limits.{key}`: must be at least 1");
        }
        let secs = std::time::Duration::from_secs;
        Ok(sante_mail::MailLimits {
            smtp_idle: secs(self.smtp_idle_secs),
            imap_idle: secs(self.imap_idle_secs),
            pop3_idle: secs(self.pop3_idle_secs),
            unauthenticated_idle: secs(self.unauthenticated_idle_secs),
            max_errors: self.max_errors,
            max_auth_failures: self.max_auth_failures,
            imap_sessions_per_mailbox: self.imap_sessions_per_mailbox,
        })
    }
}

/// The ports announced to mail programs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicMailPorts {
    pub submission: Option<u16>,
    pub submissions: Option<u16>,
    pub imap: Option<u16>,
    pub pop3: Option<u16>,
}

/// A partner domain (MSG-13).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerConfig {
    pub domain: String,
    /// Its server for outbound mail, `host:port`; absent: inbound only.
    pub relay: Option<String>,
    #[serde(default = "default_true")]
    pub tls: bool,
    /// Networks its servers connect from (CIDR); empty: anywhere.
    #[serde(default)]
    pub networks: Vec<String>,
}

fn default_quota_mb() -> u64 {
    100
}
fn default_max_message_mb() -> u64 {
    25
}
fn default_true() -> bool {
    true
}

impl MessagingSection {
    /// The service's configuration; the error names the key.
    pub fn service_config(&self) -> anyhow::Result<sante_messaging::MessagingConfig> {
        sante_messaging::address::normalise_domain(&self.domain)
            .map_err(|e| anyhow::anyhow!("key `messaging.domain`: {e}"))?;
        let mut config = sante_messaging::MessagingConfig::new(&self.domain, &self.hostname);
        if self.quota_mb == 0 {
            bail!("key `messaging.quota_mb`: must be at least 1");
        }
        if self.max_message_mb == 0 || self.max_message_mb > self.quota_mb {
            bail!("key `messaging.max_message_mb`: must be 1 to messaging.quota_mb");
        }
        config.quota_bytes = self.quota_mb * 1_000_000;
        config.max_message_bytes = self.max_message_mb * 1_000_000;
        config.max_recipients = self.limits.max_recipients;
        for (i, p) in self.partners.iter().enumerate() {
            let mut partner = sante_messaging::relay::Partner::new(&p.domain)
                .map_err(|e| anyhow::anyhow!("key `messaging.partners[{i}].domain`: {e}"))?;
            if partner.domain == config.domain {
                bail!("key `messaging.partners[{i}].domain`: the platform's own domain");
            }
            if let Some(relay) = &p.relay
                && !relay.contains(':')
            {
                bail!("key `messaging.partners[{i}].relay`: must be host:port");
            }
            partner.relay = p.relay.clone();
            partner.tls = p.tls;
            for (j, n) in p.networks.iter().enumerate() {
                partner
                    .networks
                    .push(sante_messaging::relay::Network::parse(n).map_err(|e| {
                        anyhow::anyhow!("key `messaging.partners[{i}].networks[{j}]`: {e}")
                    })?);
            }
            config.partners.push(partner);
        }
        Ok(config)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceClientConfig {
    pub name: String,
    /// `dsp`, `identity`, `referent` or `directory` (services that need patients).
    pub service: String,
    /// Hex SHA-256 of the bearer token.
    pub token_sha256: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `json` (structured, for collectors) or `pretty` (for a terminal).
    #[serde(default = "default_log_format")]
    pub format: String,
    /// A tracing filter, e.g. `info` or `info,sante_http=debug`.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: default_log_format(),
            level: default_log_level(),
        }
    }
}

fn default_log_format() -> String {
    "json".into()
}
fn default_log_level() -> String {
    "info".into()
}

/// Variables with this prefix and a `__` separator override keys of the file.
pub const ENV_PREFIX: &str = "SANTE_";

impl Config {
    /// Reads the file at `path`, applies the environment overrides in `env`, and checks
    /// every value.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration file {}", path.display()))?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Config::parse(&text, env, base_dir)
            .with_context(|| format!("configuration {}", path.display()))
    }

    /// Parses configuration text with environment overrides.
    pub fn parse(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
        base_dir: PathBuf,
    ) -> anyhow::Result<Config> {
        let mut tree: toml::Table = toml::from_str(text).context("invalid TOML")?;
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if !rest.contains("__") {
                // SANTE_CONFIG, SANTE_TEST_* and the like are not overrides.
                continue;
            }
            apply_override(&mut tree, rest, &value)
                .with_context(|| format!("environment variable {name}"))?;
        }
        let deserializer = toml::Value::Table(tree);
        let mut config: Config = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            anyhow::anyhow!("key `{path}`: {}", e.into_inner())
        })?;
        config.base_dir = base_dir;
        config.validate()?;
        Ok(config)
    }

    /// Whether nobody but this machine can reach the platform: its listeners and its
    /// public URLs are all on loopback.
    fn only_on_this_machine(&self) -> bool {
        let loopback_url = |url: &str| {
            let host = url
                .trim_start_matches("https://")
                .split(['/', '?'])
                .next()
                .unwrap_or_default();
            let host = host
                .rsplit_once(':')
                .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
                .map_or(host, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        };
        self.server.listen.ip().is_loopback()
            && self.server.mtls_listen.is_none_or(|a| a.ip().is_loopback())
            && loopback_url(&self.server.public_url)
            && self
                .server
                .mtls_public_url
                .as_deref()
                .is_none_or(loopback_url)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !self.server.public_url.starts_with("https://") {
            bail!("key `server.public_url`: must be an https:// URL");
        }
        let url = self.storage.database_url.expose_secret();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            bail!("key `storage.database_url`: must start with sqlite: or postgres://");
        }
        self.identity.agent_networks()?;
        self.identity.attempt_limits()?;
        if self.server.max_connections == 0 || self.server.max_connections_per_address == 0 {
            bail!(
                "keys `server.max_connections` and `server.max_connections_per_address`: at least 1"
            );
        }
        if self
            .messaging
            .as_ref()
            .is_some_and(|m| m.max_connections == 0 || m.max_connections_per_address == 0)
        {
            bail!(
                "keys `messaging.max_connections` and `messaging.max_connections_per_address`: at least 1"
            );
        }
        if self.development.clock_offset()?.is_some() && !self.only_on_this_machine() {
            bail!(
                "key `development.clock_offset`: only for a platform that listens and answers on loopback (development, tests); this one answers at {}",
                self.server.public_url
            );
        }
        if let Some(addr) = self.server.mtls_listen {
            if self
                .server
                .mtls_public_url
                .as_deref()
                .is_none_or(|u| !u.starts_with("https://"))
            {
                bail!(
                    "key `server.mtls_public_url`: an https:// URL is needed with server.mtls_listen"
                );
            }
            if self.identity.client_ca_files.is_empty() {
                bail!(
                    "key `identity.client_ca_files`: server.mtls_listen needs the CAs issuing client certificates"
                );
            }
            if addr == self.server.listen && addr.port() != 0 {
                bail!("key `server.mtls_listen`: must differ from server.listen");
            }
        }
        self.server.limits.header_bytes()?;
        self.server.limits.body_limits()?;
        self.server.published_revocation_lists()?;
        if let Some(m) = &self.messaging {
            m.service_config()?;
            m.limits.mail_limits()?;
            if m.clamd != "dev" {
                sante_messaging::antivirus::ClamdAddress::parse(&m.clamd)
                    .map_err(|e| anyhow::anyhow!("key `messaging.clamd`: {e}"))?;
            }
            if m.hostname.trim().is_empty() {
                bail!("key `messaging.hostname`: required");
            }
        }
        if self.identity.crl_refresh_secs == 0 {
            bail!("key `identity.crl_refresh_secs`: must be at least 1");
        }
        if self.storage.max_connections == 0 {
            bail!("key `storage.max_connections`: must be at least 1");
        }
        match self.blobs.backend {
            BlobBackendKind::Local => {
                if self.blobs.path.is_none() {
                    bail!("key `blobs.path`: required when blobs.backend = \"local\"");
                }
            }
            BlobBackendKind::S3 => {
                let secret = self.blobs.secret_access_key.as_ref();
                for (key, value) in [
                    ("bucket", self.blobs.bucket.as_deref()),
                    ("region", self.blobs.region.as_deref()),
                    ("access_key_id", self.blobs.access_key_id.as_deref()),
                    ("secret_access_key", secret.map(|s| s.expose_secret())),
                ] {
                    if value.is_none_or(str::is_empty) {
                        bail!("key `blobs.{key}`: required when blobs.backend = \"s3\"");
                    }
                }
                if let Some(endpoint) = &self.blobs.endpoint
                    && endpoint.starts_with("http://")
                    && !self.blobs.allow_http
                {
                    bail!(
                        "key `blobs.endpoint`: http:// needs blobs.allow_http = true (loopback only)"
                    );
                }
            }
        }
        if !(1..=13).contains(&self.audit.retention_months) {
            bail!(
                "key `audit.retention_months`: must be 1 to 13 (PLT-7 keeps traces at most 13 months)"
            );
        }
        if !(1..=12).contains(&self.audit.messaging_retention_months) {
            bail!(
                "key `audit.messaging_retention_months`: must be 1 to 12 (PLT-7 keeps messaging traces at most 12 months)"
            );
        }
        if self.audit.seal_max_records == 0 {
            bail!("key `audit.seal_max_records`: must be at least 1");
        }
        if self.audit.seal_max_age_minutes == 0 {
            bail!("key `audit.seal_max_age_minutes`: must be at least 1");
        }
        if !["fr", "de", "en"].contains(&self.portal.default_language.as_str()) {
            bail!("key `portal.default_language`: must be fr, de or en");
        }
        if !["json", "pretty"].contains(&self.log.format.as_str()) {
            bail!("key `log.format`: must be json or pretty");
        }
        for (i, client) in self.directory.service_clients.iter().enumerate() {
            if client.name.is_empty()
                || !client
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                bail!(
                    "key `directory.service_clients[{i}].name`: letters, digits, '-' and '_' only"
                );
            }
            if sante_types::Service::parse(&client.service).is_none() {
                bail!(
                    "key `directory.service_clients[{i}].service`: unknown service {:?}",
                    client.service
                );
            }
            if client.token_sha256.len() != 64
                || !client.token_sha256.bytes().all(|b| b.is_ascii_hexdigit())
            {
                bail!(
                    "key `directory.service_clients[{i}].token_sha256`: must be 64 hexadecimal digits"
                );
            }
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            bail!("key `log.level`: not a valid filter (e.g. info, or info,sante_http=debug)");
        }
        Ok(())
    }

    /// Resolves a configured path against the configuration's directory.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// Sets `section.key` (from `SECTION__KEY`) in the tree. The value is read as a TOML
/// value when it parses as one (numbers, booleans), as a string otherwise.
fn apply_override(tree: &mut toml::Table, path: &str, raw: &str) -> anyhow::Result<()> {
    let segments: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
    if segments.iter().any(String::is_empty) {
        bail!("empty key segment in {path}");
    }
    let value = parse_scalar(raw);
    let (last, parents) = segments
        .split_last()
        .ok_or_else(|| anyhow::anyhow!("empty key"))?;
    let mut table = tree;
    for segment in parents {
        let entry = table
            .entry(segment.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            _ => bail!("key `{segment}` is not a section"),
        };
    }
    table.insert(last.clone(), value);
    Ok(())
}

fn parse_scalar(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match raw {
        "true" => return toml::Value::Boolean(true),
        "false" => return toml::Value::Boolean(false),
        _ => {}
    }
    toml::Value::String(raw.to_owned())
}

/// The commented configuration written by `sante init`.
pub fn example(
    listen: SocketAddr,
    public_url: &str,
    mtls_listen: SocketAddr,
    mtls_url: &str,
    mail: Option<SocketAddr>,
) -> String {
    let messaging = match mail {
        Some(first) => demo_messaging(first),
        None => PRODUCTION_MESSAGING.to_owned(),
    };
    let main = format!(
        r#"# Sante configuration.
# Every key can be overridden by an environment variable SANTE_<SECTION>__<KEY>,
# e.g. SANTE_SERVER__LISTEN=127.0.0.1:9443. Unknown keys are refused.
# Relative paths are relative to this file's directory.

[server]
# Address of the HTTPS listener (portal, FHIR, OpenID Connect).
listen = "{listen}"
# The URL users reach the portal at.
public_url = "{public_url}"
# Certificate chain and key (PEM). `sante init` wrote a development CA and a server
# certificate; in production point these at certificates from a trusted CA.
tls_cert = "tls/server.crt"
tls_key = "tls/server.key"
# Seconds in-flight requests get to finish on shutdown.
shutdown_grace_secs = 20
# Connections served at once by each HTTPS listener, and from one source address (an
# IPv6 /64); an establishment's workstations may share one address.
# max_connections = 4096
# max_connections_per_address = 256
# A second listener asks clients for a certificate: login with the professional's card
# and establishment systems (mutual TLS). The certificates must come from a CA of
# identity.client_ca_files, and not be in its revocation list.
mtls_listen = "{mtls_listen}"
mtls_public_url = "{mtls_url}"
# Revocation lists published at {public_url}/pki/<file name>, where the certificates
# of the platform's CAs say they are (the development CA's, and its card CA's).
revocation_lists = ["tls/ca.crl", "tls/smartcard.crl"]
# [server.limits]                       # the largest requests read
# max_header_kib = 64                    # the header section; 431 past it
# max_form_kib = 64                      # portal and OpenID Connect forms
# max_fhir_bundle_mb = 32                # MHD provide bundles (413 past it)

[storage]
# Embedded default: SQLite in WAL mode, every commit synced.
# Production: database_url = "postgres://sante@db.example.lu:5432/sante"
database_url = "sqlite:data/sante.db"
# postgres_schema = "sante"
max_connections = 8

[blobs]
# Documents and mail bodies, always encrypted at rest (AES-256-GCM, per-owner keys).
backend = "local"
path = "data/blobs"
# Production, S3-compatible:
# backend = "s3"
# bucket = "sante"
# endpoint = "https://s3.example.lu"
# region = "eu-central-1"
# access_key_id = "..."
# secret_access_key = "..."   # better: SANTE_BLOBS__SECRET_ACCESS_KEY

[keys]
# Master keyring (mode 0600). Rotate with `sante keys rotate`, without downtime.
master_keyring = "keys/master.keys"
# Ed25519 key signing audit checkpoints (mode 0600).
audit_signing_key = "keys/audit-signing.pem"

[audit]
# PLT-7: traces kept at most 13 months, 12 for messaging. Whole epochs are purged.
retention_months = 13
messaging_retention_months = 12
# An epoch is sealed (signed checkpoint) after this many records or minutes.
seal_max_records = 10000
seal_max_age_minutes = 60
# IHE ATNA: forward traces as RFC 5424 syslog over TLS, every minute, at least once.
# [audit.syslog]
# host = "collector.example.lu"
# port = 6514
# ca_file = "tls/collector-ca.crt"

[portal]
# fr (authoritative), de or en.
default_language = "fr"

# Development and tests only: moves the platform's clock (e.g. "400d", "-2h") so that
# care-relationship windows, token lifetimes and retention purges can be tried on a
# running server. Refused unless every listener and public URL is on loopback.
# [development]
# clock_offset = "30d"

[identity]
# Networks (CIDR) health agents may log in and act from; empty: anywhere (ACC-2).
# agent_networks = ["10.20.0.0/16"]
# Failed logins and activations one source address may make per window before it is
# refused (credential stuffing, password spraying); the accounts it tried stay open.
# failed_attempts_per_address = 30
# failed_attempts_window_minutes = 15
# CAs issuing the cards (qualified certificates) that log in, and their revocation
# lists, checked every crl_refresh_secs: a revoked card is refused at the handshake and
# its sessions end at once. `sante init` wrote a development card CA; `sante dev-pki
# issue` makes cards from it and `sante dev-pki revoke` revokes them.
client_ca_files = ["tls/smartcard-ca.crt"]
crl_files = ["tls/smartcard.crl"]
crl_refresh_secs = 60

[log]
# json for collectors, pretty for a terminal. Logs never hold health content or secrets.
format = "json"
level = "info"
"#
    );
    format!("{main}\n{messaging}")
}

/// The messaging section `init` writes, commented out: a production platform opens
/// its mail ports once the operator has set the domain and clamd up.
const PRODUCTION_MESSAGING: &str = r#"# Secure messaging for professionals (MSG-1 to MSG-20). Mail programs log in with
# the application passwords professionals make on the portal after a card login, or
# with their card (SASL EXTERNAL); every connection is TLS.
# [messaging]
# domain = "mss.sante.example.lu"        # every professional's address is under it
# hostname = "mail.sante.example.lu"     # must match the server certificate
# submission_listen = "0.0.0.0:587"      # STARTTLS, authentication required
# submissions_listen = "0.0.0.0:465"     # implicit TLS
# inbound_listen = "0.0.0.0:25"          # partner domains' servers only
# imap_listen = "0.0.0.0:993"
# pop3_listen = "0.0.0.0:995"
# clamd = "unix:/run/clamav/clamd.ctl"   # Debian's clamav-daemon; every message is scanned
# quota_mb = 100                         # MSG-11
# max_message_mb = 25
# inbound_require_tls = true
# partner_ca_files = ["tls/partners-ca.crt"]
# [messaging.limits]                    # past one, the session is refused or closed
# max_recipients = 100                   # per message (452)
# max_errors = 20                        # refused commands per session (Postfix's hard limit)
# max_auth_failures = 3
# imap_sessions_per_mailbox = 10
# smtp_idle_secs = 300                   # per command (RFC 5321)
# imap_idle_secs = 1800                  # RFC 9051: at least 30 minutes
# pop3_idle_secs = 600                   # RFC 1939: at least 10 minutes
# unauthenticated_idle_secs = 60         # before login
# [[messaging.partners]]
# domain = "hopital-nord.example.lu"
# relay = "mx.hopital-nord.example.lu:25"
# networks = ["192.0.2.0/24"]
"#;

/// The demo's messaging section: five ports from `first`, and a clamd of its own
/// with test signatures.
fn demo_messaging(first: SocketAddr) -> String {
    let at = |n: u16| {
        let port = if first.port() == 0 {
            0
        } else {
            first.port() + n
        };
        SocketAddr::new(first.ip(), port)
    };
    format!(
        r#"# Secure messaging for professionals (MSG-1 to MSG-20). Mail programs log in with
# the application passwords professionals make on the portal after a card login, or
# with their card (SASL EXTERNAL); every connection is TLS. Production: the domain,
# ports 587, 465, 25, 993, 995 and clamd = "unix:/run/clamav/clamd.ctl".
[messaging]
domain = "mss.sante.example"
hostname = "localhost"
submission_listen = "{}"
submissions_listen = "{}"
inbound_listen = "{}"
imap_listen = "{}"
pop3_listen = "{}"
# A clamd of the platform's own with test signatures only (the EICAR test file and
# SANTE-ANTIVIRUS-TEST-SIGNATURE-1c4f9e): the demo cannot download virus databases.
clamd = "dev"
quota_mb = 100
max_message_mb = 25
"#,
        at(0),
        at(1),
        at(2),
        at(3),
        at(4)
    )
}

#[cfg(test)]
mod tests;
