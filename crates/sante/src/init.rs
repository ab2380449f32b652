//! `sante init`: a ready-to-run directory with configuration, development PKI and keys.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{Datelike, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use sante_store::keyring::Keyring;

use crate::config;

/// What `init` wrote.
#[derive(Debug)]
pub struct Initialised {
    pub config_path: PathBuf,
    pub ca_cert: PathBuf,
}

/// Writes `dir/sante.toml`, `dir/tls/{ca,server}.{crt,key}`, `dir/keys/master.keys` and
/// `dir/keys/audit-signing.pem`. Refuses to overwrite an existing configuration unless
/// `force` is set, because that would orphan data encrypted under the old keys.
pub fn run(dir: &Path, listen: SocketAddr, force: bool) -> anyhow::Result<Initialised> {
    let config_path = dir.join("sante.toml");
    if config_path.exists() && !force {
        bail!(
            "{} already exists; refusing to overwrite it and its keys (use --force on a directory you mean to reset)",
            config_path.display()
        );
    }
    std::fs::create_dir_all(dir.join("tls"))?;
    std::fs::create_dir_all(dir.join("keys"))?;
    std::fs::create_dir_all(dir.join("data"))?;

    let host = if listen.ip().is_loopback() || listen.ip().is_unspecified() {
        "localhost".to_owned()
    } else {
        listen.ip().to_string()
    };
    let public_url = format!("https://{host}:{}", listen.port());
    write_file(
        &config_path,
        config::example(listen, &public_url).as_bytes(),
        0o644,
    )?;

    let (ca_pem, ca_key_pem, server_pem, server_key_pem) = development_pki()?;
    let ca_cert = dir.join("tls/ca.crt");
    write_file(&ca_cert, ca_pem.as_bytes(), 0o644)?;
    write_file(&dir.join("tls/ca.key"), ca_key_pem.as_bytes(), 0o600)?;
    // The server presents its certificate followed by the CA, a complete chain.
    write_file(
        &dir.join("tls/server.crt"),
        format!("{server_pem}{ca_pem}").as_bytes(),
        0o644,
    )?;
    write_file(
        &dir.join("tls/server.key"),
        server_key_pem.as_bytes(),
        0o600,
    )?;

    Keyring::generate(now()).save(&dir.join("keys/master.keys"))?;
    let signing = sante_audit::CheckpointSigner::generate();
    write_file(
        &dir.join("keys/audit-signing.pem"),
        signing.to_pem()?.as_bytes(),
        0o600,
    )?;
    Ok(Initialised {
        config_path,
        ca_cert,
    })
}

#[allow(clippy::disallowed_methods)]
fn now() -> chrono::DateTime<Utc> {
    // The binary is where the real clock is read.
    Utc::now()
}

/// A development CA and a server certificate for localhost and 127.0.0.1, valid 397
/// days (browsers refuse longer server certificates).
fn development_pki() -> anyhow::Result<(String, String, String, String)> {
    let today = now();
    let (y, m, d) = (today.year(), today.month() as u8, today.day().min(28) as u8);

    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "Sante development CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "Sante (development only)");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = rcgen::date_time_ymd(y - 1, m, d);
    ca.not_after = rcgen::date_time_ymd(y + 5, m, d);
    let ca_cert = ca.self_signed(&ca_key)?;

    let server_key = KeyPair::generate().context("generating the server key")?;
    let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.not_before = rcgen::date_time_ymd(y, m, d) - std::time::Duration::from_secs(86_400);
    server.not_after = rcgen::date_time_ymd(y, m, d) + std::time::Duration::from_secs(396 * 86_400);
    let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key)?;

    Ok((
        ca_cert.pem(),
        ca_key.serialize_pem(),
        server_cert.pem(),
        server_key.serialize_pem(),
    ))
}

fn write_file(path: &Path, content: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(content)?;
    file.sync_all()?;
    // An existing file keeps its old mode on open: set it explicitly.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
    Ok(())
}
