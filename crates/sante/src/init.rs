//! `sante init`: a ready-to-run directory with configuration, development PKI and keys;
//! `sante dev-pki`: the development card CA's certificates and revocation list.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::Utc;
use sante_net::devpki::{DevCa, SERVER_CA_NAME, SMARTCARD_CA_NAME};
use sante_store::keyring::Keyring;

use crate::config;

/// What `init` wrote.
#[derive(Debug)]
pub struct Initialised {
    pub config_path: PathBuf,
    pub ca_cert: PathBuf,
}

/// Days the development CAs' revocation lists stay valid: a list past its next update
/// fails every card login, so the development one is long-lived and rewritten by
/// every `sante dev-pki revoke`; the server CA's lasts as long as the certificate.
const CRL_DAYS: i64 = 397;

/// The listener that asks for client certificates, by default the next port.
pub fn default_mtls(listen: SocketAddr) -> SocketAddr {
    let port = if listen.port() == 0 {
        0
    } else {
        listen.port().saturating_add(1)
    };
    SocketAddr::new(listen.ip(), port)
}

fn public_host(listen: SocketAddr) -> String {
    if listen.ip().is_loopback() || listen.ip().is_unspecified() {
        "localhost".to_owned()
    } else {
        listen.ip().to_string()
    }
}

/// Writes `dir/sante.toml`, `dir/tls/{ca,server}.{crt,key}` and the development CA's
/// revocation list `dir/tls/ca.crl`, the development card CA
/// (`dir/tls/smartcard-ca.{crt,key}`, `dir/tls/smartcard.crl`), `dir/keys/master.keys`
/// and `dir/keys/audit-signing.pem`. Refuses to overwrite an existing configuration
/// unless `force` is set, because that would orphan data encrypted under the old keys.
pub fn run(
    dir: &Path,
    listen: SocketAddr,
    mtls_listen: SocketAddr,
    mail: Option<SocketAddr>,
    force: bool,
) -> anyhow::Result<Initialised> {
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

    let public_url = format!("https://{}:{}", public_host(listen), listen.port());
    let mtls_url = format!(
        "https://{}:{}",
        public_host(mtls_listen),
        mtls_listen.port()
    );
    write_file(
        &config_path,
        config::example(listen, &public_url, mtls_listen, &mtls_url, mail).as_bytes(),
        0o644,
    )?;

    let today = now();
    let ca = DevCa::generate(SERVER_CA_NAME, today).context("generating the development CA")?;
    // The server certificate says where its CA's revocation list is: the portal
    // publishes it (`server.revocation_lists`), so a client can check it.
    let server = ca
        .issue_server(
            &["localhost", "127.0.0.1"],
            Some(&format!("{public_url}/pki/ca.crl")),
            today,
        )
        .context("issuing the server certificate")?;
    let ca_cert = dir.join("tls/ca.crt");
    write_file(&ca_cert, ca.cert_pem().as_bytes(), 0o644)?;
    write_file(&dir.join("tls/ca.key"), ca.key_pem().as_bytes(), 0o600)?;
    write_file(
        &dir.join("tls/ca.crl"),
        ca.revocation_list(&[], 1, today, CRL_DAYS)?.as_bytes(),
        0o644,
    )?;
    // The server presents its certificate followed by the CA, a complete chain.
    write_file(
        &dir.join("tls/server.crt"),
        format!("{}{}", server.cert_pem, ca.cert_pem()).as_bytes(),
        0o644,
    )?;
    write_file(
        &dir.join("tls/server.key"),
        server.key_pem.as_bytes(),
        0o600,
    )?;

    let cards = DevCa::generate(SMARTCARD_CA_NAME, today).context("generating the card CA")?;
    write_file(
        &dir.join("tls/smartcard-ca.crt"),
        cards.cert_pem().as_bytes(),
        0o644,
    )?;
    write_file(
        &dir.join("tls/smartcard-ca.key"),
        cards.key_pem().as_bytes(),
        0o600,
    )?;
    write_file(&dir.join("tls/smartcard-revoked.txt"), b"", 0o644)?;
    write_file(
        &dir.join("tls/smartcard.crl"),
        cards.revocation_list(&[], 1, today, CRL_DAYS)?.as_bytes(),
        0o644,
    )?;

    Keyring::generate(today).save(&dir.join("keys/master.keys"))?;
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

#[expect(clippy::disallowed_methods)]
fn now() -> chrono::DateTime<Utc> {
    // The binary is where the real clock is read.
    Utc::now()
}

/// The development card CA of an initialised directory.
fn card_ca(dir: &Path) -> anyhow::Result<DevCa> {
    let key_path = dir.join("tls/smartcard-ca.key");
    let key = std::fs::read_to_string(&key_path).with_context(|| {
        format!(
            "cannot read {} (is {} a directory written by `sante init`?)",
            key_path.display(),
            dir.display()
        )
    })?;
    Ok(DevCa::load(SMARTCARD_CA_NAME, &key, now())?)
}

/// A card issued by the development card CA.
pub struct DevCard {
    pub serial: String,
    pub sha256: String,
    pub cert_der: Vec<u8>,
}

/// Issues a development card for `name`: a client certificate valid `days`, written as
/// PKCS#12 (with the CA) to `out` protected by `password`, and as PEM beside it.
pub fn issue_card(
    dir: &Path,
    name: &str,
    days: i64,
    out: &Path,
    password: &str,
) -> anyhow::Result<DevCard> {
    if name.trim().is_empty() || name.len() > 64 {
        bail!("--name: the card holder's name, 1 to 64 characters");
    }
    if !(1..=825).contains(&days) {
        bail!("--days: 1 to 825");
    }
    let ca = card_ca(dir)?;
    // Time-ordered and unique enough for a development CA: microseconds since 1970.
    let serial = u64::try_from(now().timestamp_micros()).unwrap_or(1);
    let issued = ca.issue_client(name.trim(), serial, now(), days)?;
    let p12 = sante_net::devpki::pkcs12(&issued, &ca.cert_pem(), name.trim(), password)?;
    write_file(out, &p12, 0o600)?;
    let pem_path = out.with_extension("pem");
    write_file(
        &pem_path,
        format!("{}{}", issued.cert_pem, issued.key_pem).as_bytes(),
        0o600,
    )?;
    let read = sante_net::pki::read_certificate(&issued.cert_der)?;
    Ok(DevCard {
        serial: issued.serial,
        sha256: read.sha256,
        cert_der: issued.cert_der,
    })
}

/// Revokes a development card by serial (hexadecimal): the card CA's revocation list
/// is rewritten; a running server loads it within `identity.crl_refresh_secs`.
pub fn revoke_card(dir: &Path, serial: &str) -> anyhow::Result<usize> {
    let serial = serial.trim().trim_start_matches("0x").to_ascii_lowercase();
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_hexdigit()) || serial.len() > 16 {
        bail!("the serial must be hexadecimal (as `sante dev-pki issue` printed it)");
    }
    let ca = card_ca(dir)?;
    let list_path = dir.join("tls/smartcard-revoked.txt");
    let mut revoked: Vec<String> = std::fs::read_to_string(&list_path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if !revoked.contains(&serial) {
        revoked.push(serial);
    }
    let number = u64::try_from(revoked.len()).unwrap_or(0) + 1;
    let crl = ca.revocation_list(&revoked, number, now(), CRL_DAYS)?;
    write_file(
        &list_path,
        format!("{}\n", revoked.join("\n")).as_bytes(),
        0o644,
    )?;
    // Written whole to a temporary file and renamed: the server never reads half a list.
    let crl_path = dir.join("tls/smartcard.crl");
    let tmp = dir.join("tls/smartcard.crl.tmp");
    write_file(&tmp, crl.as_bytes(), 0o644)?;
    std::fs::rename(&tmp, &crl_path)
        .with_context(|| format!("cannot replace {}", crl_path.display()))?;
    Ok(revoked.len())
}

pub fn write_file(path: &Path, content: &[u8], mode: u32) -> anyhow::Result<()> {
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
