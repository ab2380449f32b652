//! Client certificates over mutual TLS: the verifier a listener asks certificates
//! with (trusted issuing CAs, revocation lists), and the reading of a presented
//! certificate and of a revocation list into the few facts the platform keeps.
//!
//! The verifier asks for a certificate without requiring one: the routes that need a
//! certificate (certificate login, establishment systems) refuse requests without; the
//! others ignore it. A certificate that is presented must chain to a trusted CA, must
//! not be listed in that CA's current revocation list, and that list must not be past
//! its next update: a CA without a list, or with a stale one, fails the handshake.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use der::Decode;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use sante_types::PeerCertificate;
use sha2::{Digest, Sha256};

use crate::NetError;

/// The certificates clients may present: trusted issuing CAs and their revocation lists.
#[derive(Debug, Clone, Default)]
pub struct ClientTrust {
    /// PEM data of the issuing CAs' certificates.
    pub ca_pem: Vec<u8>,
    /// The CAs' revocation lists, each DER or PEM.
    pub crls: Vec<Vec<u8>>,
}

/// A revocation list, as the platform uses it: who issued it and what it revokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationList {
    pub issuer: String,
    /// Revoked serial numbers, lowercase hex without leading zeros.
    pub serials: Vec<String>,
    pub this_update: DateTime<Utc>,
    pub next_update: Option<DateTime<Utc>>,
}

/// A revocation list given as DER or PEM, as DER: what a distribution point serves
/// (RFC 5280 §4.2.1.13).
pub fn revocation_list_der(data: &[u8]) -> Result<Vec<u8>, NetError> {
    if data.starts_with(b"-----BEGIN") {
        let mut reader = data;
        match rustls_pemfile::read_one(&mut reader) {
            Ok(Some(rustls_pemfile::Item::Crl(der))) => Ok(der.to_vec()),
            _ => Err(NetError::Certificate(
                "the PEM data holds no X509 CRL".into(),
            )),
        }
    } else {
        Ok(data.to_vec())
    }
}

/// The verifier of client certificates for `trust`. Fails when no CA is given, when a
/// list does not parse, or when a CA has no list.
pub fn client_verifier(trust: &ClientTrust) -> Result<Arc<dyn ClientCertVerifier>, NetError> {
    let mut roots = rustls::RootCertStore::empty();
    let mut issuers = Vec::new();
    for cert in rustls_pemfile::certs(&mut &trust.ca_pem[..]) {
        let cert = cert.map_err(|e| NetError::Certificate(e.to_string()))?;
        issuers.push(read_certificate(&cert)?.subject);
        roots
            .add(cert)
            .map_err(|e| NetError::Certificate(format!("issuing CA: {e}")))?;
    }
    if roots.is_empty() {
        return Err(NetError::Certificate(
            "no issuing CA certificate for client certificates".into(),
        ));
    }
    let mut crls = Vec::new();
    let mut listed = Vec::new();
    for data in &trust.crls {
        let der = revocation_list_der(data)?;
        listed.push(read_crl(&der)?.issuer);
        crls.push(CertificateRevocationListDer::from(der));
    }
    if let Some(missing) = issuers.iter().find(|i| !listed.contains(i)) {
        return Err(NetError::Certificate(format!(
            "no revocation list for the issuing CA {missing}"
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .with_crls(crls)
        .enforce_revocation_expiration()
        .allow_unauthenticated()
        .build()
        .map_err(|e| NetError::Certificate(format!("client certificate verifier: {e}")))
}

fn serial_hex(bytes: &[u8]) -> String {
    let text = hex::encode(bytes);
    let trimmed = text.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn time(t: x509_cert::time::Time) -> DateTime<Utc> {
    let d = t.to_unix_duration();
    DateTime::from_timestamp(i64::try_from(d.as_secs()).unwrap_or(i64::MAX), 0)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Reads the facts the platform keeps of a certificate (DER).
pub fn read_certificate(der: &[u8]) -> Result<PeerCertificate, NetError> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| NetError::Certificate(format!("certificate does not parse: {e}")))?;
    let tbs = &cert.tbs_certificate;
    let spki = &tbs.subject_public_key_info;
    let public_key = spki.subject_public_key.raw_bytes().to_vec();
    let key_algorithm = match spki.algorithm.oid.to_string().as_str() {
        // id-ecPublicKey with the prime256v1 curve.
        "1.2.840.10045.2.1"
            if spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                .is_some_and(|c| c.to_string() == "1.2.840.10045.3.1.7") =>
        {
            "ec-p256"
        }
        "1.2.840.113549.1.1.1" => "rsa",
        _ => "other",
    }
    .to_owned();
    Ok(PeerCertificate {
        sha256: hex::encode(Sha256::digest(der)),
        issuer: tbs.issuer.to_string(),
        serial: serial_hex(tbs.serial_number.as_bytes()),
        subject: tbs.subject.to_string(),
        not_before: time(tbs.validity.not_before),
        not_after: time(tbs.validity.not_after),
        public_key,
        key_algorithm,
    })
}

/// Reads a revocation list (DER or PEM).
pub fn read_revocation_list(data: &[u8]) -> Result<RevocationList, NetError> {
    read_crl(&revocation_list_der(data)?)
}

fn read_crl(der: &[u8]) -> Result<RevocationList, NetError> {
    let crl = x509_cert::crl::CertificateList::from_der(der)
        .map_err(|e| NetError::Certificate(format!("revocation list does not parse: {e}")))?;
    let tbs = &crl.tbs_cert_list;
    Ok(RevocationList {
        issuer: tbs.issuer.to_string(),
        serials: tbs
            .revoked_certificates
            .iter()
            .flatten()
            .map(|r| serial_hex(r.serial_number.as_bytes()))
            .collect(),
        this_update: time(tbs.this_update),
        next_update: tbs.next_update.map(time),
    })
}

/// The leaf certificate a TLS session's client presented, read; `None` without one.
pub fn peer_leaf(certs: Option<&[CertificateDer<'_>]>) -> Option<PeerCertificate> {
    let leaf = certs?.first()?;
    match read_certificate(leaf) {
        Ok(cert) => Some(cert),
        Err(e) => {
            // The TLS layer verified it, so this cannot happen with a sane parser.
            tracing::warn!(error = %e, "a verified client certificate could not be read");
            None
        }
    }
}
