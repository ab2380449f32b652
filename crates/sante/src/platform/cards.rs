//! The listener that asks for client certificates (the card login and the systems'
//! mutual TLS), and its revocation lists: read from the files the configuration names,
//! loaded into the TLS configurations of the card and mail listeners, applied to the
//! bound certificates at start and again whenever a list file changes.

use std::sync::Arc;

use anyhow::Context;
use sante_types::Clock;

use crate::config::Config;

/// The HTTPS listener that asks for client certificates (the card login), with what
/// it needs to reload the revocation lists while it runs.
pub(super) struct CardListener {
    pub(super) listener: sante_net::Listener,
    pub(super) addr: std::net::SocketAddr,
    pub(super) watch: RevocationWatch,
}

/// The files of the trusted card CAs and their revocation lists, and the TLS
/// configuration to rebuild when a list changes.
pub(super) struct RevocationWatch {
    tls: sante_net::SharedTlsConfig,
    /// The same trust for the mail listeners (no ALPN): card certificates log mail
    /// programs in (SASL EXTERNAL).
    pub(super) mail_tls: sante_net::SharedTlsConfig,
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
    pub(super) async fn bind(
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
        let listener = sante_net::Listener::bind(super::https_spec(
            config,
            sante_net::ListenerSpec::https("https-mtls", addr, watch.tls.clone()),
        ))
        .await
        .with_context(|| format!("key `server.mtls_listen`: cannot listen on {addr}"))?;
        Ok(CardListener {
            addr: listener.local_addr(),
            listener,
            watch,
        })
    }

    pub(super) async fn apply_revocations(
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
    let mut event =
        super::platform_event(sante_audit::EventKind::IdentityRevocationListLoaded, clock);
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
pub(super) async fn watch_revocation_lists(
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
