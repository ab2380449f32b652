//! `sante sso ...`: the operator registers the applications that use single sign-on
//! and the establishments' systems with their attestations, suspends and restores
//! those, and rotates the token-signing key.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use sante_sso::{ClientKind, NewRelyingParty, NewSystem};
use sante_types::Service;

use crate::account_cmd::{Opened, cli_source};
use crate::commands::load;

fn services(names: &[String]) -> anyhow::Result<Vec<Service>> {
    if names.is_empty() {
        anyhow::bail!("--service: name at least one service (dsp, messaging, referent, directory)");
    }
    names
        .iter()
        .map(|n| match Service::parse(n) {
            Some(
                s @ (Service::Dsp | Service::Messaging | Service::Referent | Service::Directory),
            ) => Ok(s),
            _ => anyhow::bail!("--service: {n:?} is not dsp, messaging, referent or directory"),
        })
        .collect()
}

/// What the operator says of a relying party.
pub struct RelyingPartyArgs<'a> {
    pub name: &'a str,
    pub redirect_uris: &'a [String],
    pub post_logout_uris: &'a [String],
    pub backchannel_logout_uri: Option<&'a str>,
    pub services: &'a [String],
    pub public: bool,
}

pub async fn register_client(
    config_path: &Path,
    args: RelyingPartyArgs<'_>,
) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let sso = opened.sso(&config).await?;
    let registered = sso
        .register_relying_party(
            NewRelyingParty {
                name: args.name.to_owned(),
                redirect_uris: args.redirect_uris.to_vec(),
                post_logout_redirect_uris: args.post_logout_uris.to_vec(),
                backchannel_logout_uri: args.backchannel_logout_uri.map(str::to_owned),
                services: services(args.services)?,
                confidential: !args.public,
            },
            &cli_source(),
        )
        .await;
    opened.close().await;
    let (client, secret) = registered.map_err(|e| anyhow::anyhow!("{}", e.description()))?;
    println!("Registered {} ({})", client.name, client.id);
    println!("client_id: {}", client.id);
    match secret {
        Some(secret) => println!("client_secret: {}   (shown once)", secret.as_str()),
        None => println!("public client: no secret, PKCE protects the code"),
    }
    println!("issuer: {}", config.server.public_url.trim_end_matches('/'));
    Ok(ExitCode::SUCCESS)
}

/// What the operator says of an establishment's system.
pub struct SystemArgs<'a> {
    pub name: &'a str,
    pub establishment: &'a str,
    pub certificate: &'a Path,
    pub services: &'a [String],
    pub attestation: &'a str,
    pub valid_until: &'a str,
}

pub async fn register_system(config_path: &Path, args: SystemArgs<'_>) -> anyhow::Result<ExitCode> {
    let pem = std::fs::read(args.certificate)
        .with_context(|| format!("--certificate: cannot read {}", args.certificate.display()))?;
    let der = rustls_pemfile::certs(&mut &pem[..])
        .next()
        .context("--certificate: no certificate in the PEM file")?
        .context("--certificate: not PEM")?;
    let cert = sante_net::pki::read_certificate(&der).context("--certificate")?;
    let valid_until = chrono::NaiveDate::parse_from_str(args.valid_until, "%Y-%m-%d")
        .context("--valid-until: a date such as 2027-12-31")?
        .and_hms_opt(23, 59, 59)
        .context("--valid-until")?
        .and_utc();
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    opened
        .directory
        .establishment(args.establishment)
        .await
        .with_context(|| {
            format!(
                "--establishment: no establishment {:?} in the directory",
                args.establishment
            )
        })?;
    let sso = opened.sso(&config).await?;
    let registered = sso
        .register_system(
            NewSystem {
                name: args.name.to_owned(),
                establishment: args.establishment.to_owned(),
                certificate_sha256: cert.sha256.clone(),
                attestation_reference: args.attestation.to_owned(),
                services: services(args.services)?,
                valid_until,
            },
            &cli_source(),
        )
        .await;
    opened.close().await;
    let client = registered.map_err(|e| anyhow::anyhow!("{}", e.description()))?;
    println!("Registered system {} ({})", client.name, client.id);
    println!("client_id: {}", client.id);
    println!("certificate sha256: {}", cert.sha256);
    Ok(ExitCode::SUCCESS)
}

pub async fn set_suspended(
    config_path: &Path,
    client: &str,
    reason: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let sso = opened.sso(&config).await?;
    let done = sso
        .set_suspended(
            client,
            reason,
            sante_audit::Actor::platform(),
            &cli_source(),
        )
        .await;
    opened.close().await;
    done.map_err(|e| anyhow::anyhow!("{}", e.description()))?;
    match reason {
        Some(_) => println!("{client}: attestation suspended; its tokens are refused from now on"),
        None => println!("{client}: attestation restored"),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn rotate_key(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let sso = opened.sso(&config).await?;
    let kid = sso.rotate_key(&cli_source()).await;
    opened.close().await;
    let kid = kid.map_err(|e| anyhow::anyhow!("{}", e.description()))?;
    println!("New signing key {kid}; the previous one stays published for a day");
    Ok(ExitCode::SUCCESS)
}

pub async fn list(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let sso = opened.sso(&config).await?;
    let clients = sso.clients().await;
    opened.close().await;
    for c in clients.map_err(|e| anyhow::anyhow!("{}", e.description()))? {
        let services: Vec<&str> = c.services.iter().map(|s| s.as_str()).collect();
        let kind = match &c.kind {
            ClientKind::RelyingParty { secret_sha256, .. } => if secret_sha256.is_some() {
                "application (confidential)"
            } else {
                "application (public)"
            }
            .to_owned(),
            ClientKind::System {
                establishment,
                attestation,
                ..
            } => format!(
                "system of {establishment}, attestation {} until {}{}",
                attestation.reference,
                attestation.valid_until.format("%Y-%m-%d"),
                if attestation.suspended.is_some() {
                    ", SUSPENDED"
                } else {
                    ""
                }
            ),
        };
        println!("{}  {}  [{}]  {kind}", c.id, c.name, services.join(","));
    }
    Ok(ExitCode::SUCCESS)
}
