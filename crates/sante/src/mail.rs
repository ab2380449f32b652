//! Wiring of secure messaging: the service, its anti-virus, the SMTP, IMAP and POP3
//! listeners, the outbound relay and the messaging housekeeping.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sante_mail::MailContext;
use sante_mail::imap::ImapServer;
use sante_mail::pop3::Pop3Server;
use sante_mail::smtp::{SmtpMode, SmtpServer};
use sante_messaging::Messaging;
use sante_messaging::antivirus::{Clamd, ClamdAddress, dev::DevClamd};
use sante_net::{Listener, ListenerSpec, SharedTlsConfig, TlsMode};
use sante_types::Clock;

use crate::config::{Config, MessagingSection};
use crate::platform::Storage;

/// The anti-virus the configuration names: the operator's clamd, or (`dev`) one
/// started here with test signatures.
pub fn antivirus(
    config: &Config,
    section: &MessagingSection,
) -> anyhow::Result<(Clamd, Option<DevClamd>)> {
    if section.clamd == "dev" {
        let dir = config.path(Path::new("data/clamd"));
        let dev = DevClamd::start(&dir, Duration::from_secs(120))
            .map_err(|e| anyhow::anyhow!("key `messaging.clamd` = \"dev\": {e}"))?;
        tracing::warn!(
            "development anti-virus: clamd with test signatures only (messaging.clamd = \"dev\")"
        );
        Ok((
            Clamd::new(dev.address(), Duration::from_secs(60)),
            Some(dev),
        ))
    } else {
        let address = ClamdAddress::parse(&section.clamd)
            .map_err(|e| anyhow::anyhow!("key `messaging.clamd`: {e}"))?;
        Ok((Clamd::new(address, Duration::from_secs(60)), None))
    }
}

/// A client of the configured anti-virus, without starting the development one:
/// for commands that manage mailboxes but scan nothing.
pub fn clamd_client(config: &Config, section: &MessagingSection) -> anyhow::Result<Clamd> {
    let address = if section.clamd == "dev" {
        ClamdAddress::Unix(config.path(Path::new("data/clamd/clamd.sock")))
    } else {
        ClamdAddress::parse(&section.clamd)
            .map_err(|e| anyhow::anyhow!("key `messaging.clamd`: {e}"))?
    };
    Ok(Clamd::new(address, Duration::from_secs(60)))
}

/// The messaging service over the platform's storage.
pub fn service(
    section: &MessagingSection,
    storage: &Storage,
    directory: &sante_directory::Directory,
    audit: &sante_audit::AuditLog,
    clock: Arc<dyn Clock>,
    clamd: Clamd,
) -> anyhow::Result<Messaging> {
    Ok(Messaging::new(
        storage.db.clone(),
        storage.blobs.clone(),
        directory.clone(),
        Arc::new(audit.clone()),
        clock,
        clamd,
        section.service_config()?,
    ))
}

/// What the mail side of a running server holds.
pub struct MailRunning {
    pub messaging: Messaging,
    /// `(name, address)` of each listener bound.
    pub listeners: Vec<(&'static str, SocketAddr)>,
    /// Kept alive while the server runs (stopped on drop).
    pub dev_clamd: Option<DevClamd>,
}

/// Binds the configured mail listeners and starts the relay (the housekeeping is one
/// of the platform's jobs).
#[allow(clippy::too_many_arguments)]
pub async fn start(
    config: &Config,
    section: &MessagingSection,
    storage: &Storage,
    directory: &sante_directory::Directory,
    identity: &sante_identity::Identity,
    terms: &sante_terms::Terms,
    audit: &sante_audit::AuditLog,
    clock: Arc<dyn Clock>,
    tls: SharedTlsConfig,
    shutdown: &tokio_util::sync::CancellationToken,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> anyhow::Result<MailRunning> {
    let (clamd, dev_clamd) = antivirus(config, section)?;
    if let Err(e) = clamd.ping().await {
        // Mail is refused (temporarily) while the anti-virus is down; say it loudly.
        tracing::error!(error = %e, "the anti-virus does not answer: incoming mail will be refused until it does");
    }
    let messaging = service(section, storage, directory, audit, clock, clamd)?;
    let ctx = Arc::new(
        MailContext::new(messaging.clone(), identity.clone(), &section.hostname)
            .with_terms(terms.clone())
            .with_limits(section.limits.mail_limits()?),
    );
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let mut listeners = Vec::new();
    let specs: [(&'static str, Option<SocketAddr>, TlsMode, Option<SmtpMode>); 5] = [
        (
            "submission",
            section.submission_listen,
            TlsMode::Plain {
                starttls: Some(tls.clone()),
            },
            Some(SmtpMode::Submission),
        ),
        (
            "submissions",
            section.submissions_listen,
            TlsMode::Implicit(tls.clone()),
            Some(SmtpMode::Submission),
        ),
        (
            "smtp-inbound",
            section.inbound_listen,
            TlsMode::Plain {
                starttls: Some(tls.clone()),
            },
            Some(SmtpMode::Inbound {
                require_tls: section.inbound_require_tls,
            }),
        ),
        (
            "imap",
            section.imap_listen,
            TlsMode::Implicit(tls.clone()),
            None,
        ),
        (
            "pop3",
            section.pop3_listen,
            TlsMode::Implicit(tls.clone()),
            None,
        ),
    ];
    for (name, addr, mode, smtp) in specs {
        let Some(addr) = addr else { continue };
        let listener = Listener::bind(ListenerSpec {
            name: name.to_owned(),
            addr,
            tls: mode,
            max_connections: section.max_connections,
            max_per_address: section.max_connections_per_address,
            handshake_timeout: Duration::from_secs(10),
        })
        .await
        .with_context(|| format!("messaging listener {name}: cannot listen on {addr}"))?;
        listeners.push((name, listener.local_addr()));
        let token = shutdown.clone();
        match smtp {
            Some(smtp) => {
                let handler = SmtpServer::new(ctx.clone(), smtp);
                tasks.push(tokio::spawn(async move {
                    listener.serve(handler, token, grace).await;
                }));
            }
            None if name == "imap" => {
                let handler = ImapServer::new(ctx.clone());
                tasks.push(tokio::spawn(async move {
                    listener.serve(handler, token, grace).await;
                }));
            }
            None => {
                let handler = Pop3Server::new(ctx.clone());
                tasks.push(tokio::spawn(async move {
                    listener.serve(handler, token, grace).await;
                }));
            }
        }
    }

    // The outbound relay to partner domains.
    let mut ca_pem = Vec::new();
    for (i, path) in section.partner_ca_files.iter().enumerate() {
        let pem = std::fs::read(config.path(path)).with_context(|| {
            format!(
                "key `messaging.partner_ca_files[{i}]`: cannot read {}",
                path.display()
            )
        })?;
        ca_pem.extend_from_slice(&pem);
        ca_pem.push(b'\n');
    }
    let relay = sante_mail::relay::Relay::new(
        messaging.clone(),
        &section.hostname,
        sante_mail::relay::client_tls(&ca_pem).map_err(|e| anyhow::anyhow!(e))?,
    );
    tasks.push(tokio::spawn(relay.run(shutdown.clone())));

    Ok(MailRunning {
        messaging,
        listeners,
        dev_clamd,
    })
}

/// What mail programs are told by autoconfiguration: for each protocol served, the
/// configured public port, else the listener's own.
pub fn setup(
    section: &MessagingSection,
    mail: &MailRunning,
) -> sante_portal::mail_setup::MailSetup {
    let bound = |name: &str| {
        mail.listeners
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, addr)| addr.port())
    };
    let public = section.public_ports.as_ref();
    // Only what is served is announced.
    let port = |name: &str, announced: Option<u16>| bound(name).map(|own| announced.unwrap_or(own));
    sante_portal::mail_setup::MailSetup {
        domain: mail.messaging.config().domain.clone(),
        hostname: section.hostname.clone(),
        imap: port("imap", public.and_then(|p| p.imap)),
        pop3: port("pop3", public.and_then(|p| p.pop3)),
        submissions: port("submissions", public.and_then(|p| p.submissions)),
        submission: port("submission", public.and_then(|p| p.submission)),
    }
}

/// What `serve` and `demo` print of messaging.
pub fn banner(mail: &MailRunning) -> Vec<String> {
    let m = mail.messaging.config();
    let mut lines = vec![format!(
        "Secure messaging for professionals, addresses @{} (quota {} MB, anti-virus {}):",
        m.domain,
        m.quota_bytes / 1_000_000,
        match &mail.dev_clamd {
            Some(_) =>
                "development clamd with test signatures: the EICAR file is refused".to_owned(),
            None => mail.messaging.antivirus().address().to_string(),
        }
    )];
    for (name, addr) in &mail.listeners {
        let what = match *name {
            "submission" => "SMTP submission (STARTTLS, then AUTH)",
            "submissions" => "SMTP submission (implicit TLS)",
            "smtp-inbound" => "SMTP from partner domains",
            "imap" => "IMAP (implicit TLS)",
            "pop3" => "POP3 (implicit TLS)",
            other => other,
        };
        lines.push(format!("  {what}: {addr}"));
    }
    lines
}
