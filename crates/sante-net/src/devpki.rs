//! The development PKI: a CA for the server certificate, and a "smartcard" CA issuing
//! client certificates that stand in for the professionals' qualified cards, with its
//! revocation list. For `sante init`, the demo and the tests; never for production,
//! where the certificates come from the country's qualified trust service providers.
//!
//! A CA is kept as its key and its distinguished name: re-creating its certificate
//! parameters from them signs exactly as the original (same issuer name, same key
//! identifier), so a CA can issue and revoke across runs without parsing its own
//! certificate.

use chrono::{DateTime, Datelike, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SerialNumber,
};

use crate::NetError;

/// The common name of the development smartcard CA. Browser tests select client
/// certificates by this issuer name.
pub const SMARTCARD_CA_NAME: &str = "Sante development smartcard CA";
/// The common name of the development server CA.
pub const SERVER_CA_NAME: &str = "Sante development CA";
const ORGANISATION: &str = "Sante (development only)";

fn err(e: impl std::fmt::Display) -> NetError {
    NetError::Certificate(e.to_string())
}

fn offset(t: DateTime<Utc>) -> Result<time::OffsetDateTime, NetError> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(err)
}

/// A certificate authority of the development PKI.
pub struct DevCa {
    pub name: String,
    key: KeyPair,
    cert: rcgen::Certificate,
}

/// A certificate and its private key, PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: Vec<u8>,
    pub serial: String,
}

fn ca_params(name: &str, now: DateTime<Utc>) -> Result<CertificateParams, NetError> {
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.distinguished_name.push(DnType::CommonName, name);
    ca.distinguished_name
        .push(DnType::OrganizationName, ORGANISATION);
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.key_identifier_method = KeyIdMethod::Sha256;
    let (y, m, d) = (now.year(), now.month() as u8, now.day().min(28) as u8);
    ca.not_before = rcgen::date_time_ymd(y - 1, m, d);
    ca.not_after = rcgen::date_time_ymd(y + 5, m, d);
    Ok(ca)
}

impl DevCa {
    /// A new CA named `name`, valid from a year ago to five years ahead.
    pub fn generate(name: &str, now: DateTime<Utc>) -> Result<DevCa, NetError> {
        let key = KeyPair::generate().map_err(err)?;
        let cert = ca_params(name, now)?.self_signed(&key).map_err(err)?;
        Ok(DevCa {
            name: name.to_owned(),
            key,
            cert,
        })
    }

    /// The CA named `name` with the private key `key_pem`, as written by
    /// [`DevCa::key_pem`]. Its certificate is the one written by [`DevCa::cert_pem`].
    pub fn load(name: &str, key_pem: &str, now: DateTime<Utc>) -> Result<DevCa, NetError> {
        let key = KeyPair::from_pem(key_pem).map_err(err)?;
        let cert = ca_params(name, now)?.self_signed(&key).map_err(err)?;
        Ok(DevCa {
            name: name.to_owned(),
            key,
            cert,
        })
    }

    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// Signs `params` with a new key. `serial: None` takes 16 bytes derived from the
    /// new key (unpredictable, as the CA/Browser Forum asks of server certificates).
    fn sign(
        &self,
        mut params: CertificateParams,
        serial: Option<u64>,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> Result<Issued, NetError> {
        let key = KeyPair::generate().map_err(err)?;
        let serial = match serial {
            Some(serial) => SerialNumber::from(serial),
            None => {
                use sha2::{Digest, Sha256};
                let mut bytes = Sha256::digest(key.public_key_der())[..16].to_vec();
                // Positive, and sixteen bytes long once encoded.
                bytes[0] = (bytes[0] & 0x7f) | 0x40;
                SerialNumber::from_slice(&bytes)
            }
        };
        let serial_hex = hex::encode(serial.as_ref());
        params.serial_number = Some(serial);
        params.not_before = offset(not_before)?;
        params.not_after = offset(not_after)?;
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.cert, &self.key).map_err(err)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
            serial: serial_hex.trim_start_matches('0').to_owned(),
        })
    }

    /// A server certificate for `names` (DNS names or IP addresses), valid 397 days
    /// from yesterday (browsers refuse longer ones). `revocation_list_url`, where this
    /// CA's revocation list is published, goes in its CRL distribution points: a
    /// client can then learn that the certificate was revoked.
    pub fn issue_server(
        &self,
        names: &[&str],
        revocation_list_url: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Issued, NetError> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .map_err(err)?;
        if let Some(url) = revocation_list_url {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![url.to_owned()],
            }];
        }
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.sign(
            params,
            None,
            now - Duration::days(1),
            now + Duration::days(396),
        )
    }

    /// A client certificate for the person named `common_name` with serial `serial`,
    /// valid `days` from yesterday: a development stand-in for a qualified card.
    pub fn issue_client(
        &self,
        common_name: &str,
        serial: u64,
        now: DateTime<Utc>,
        days: i64,
    ) -> Result<Issued, NetError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORGANISATION);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.sign(
            params,
            Some(serial),
            now - Duration::days(1),
            now + Duration::days(days),
        )
    }

    /// The CA's revocation list naming `revoked` serials (hex), issued now and valid
    /// `days` (a list past its next update fails every handshake), PEM.
    pub fn revocation_list(
        &self,
        revoked: &[String],
        number: u64,
        now: DateTime<Utc>,
        days: i64,
    ) -> Result<String, NetError> {
        let revoked_certs = revoked
            .iter()
            .map(|serial| {
                let value = u64::from_str_radix(serial, 16)
                    .map_err(|_| err(format!("serial {serial} is not hexadecimal")))?;
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from(value),
                    revocation_time: offset(now)?,
                    reason_code: None,
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>, NetError>>()?;
        let params = CertificateRevocationListParams {
            this_update: offset(now - Duration::minutes(5))?,
            next_update: offset(now + Duration::days(days))?,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params
            .signed_by(&self.cert, &self.key)
            .map_err(err)?
            .pem()
            .map_err(err)
    }
}

/// A PKCS#12 file holding `issued` and its issuing CA's certificate, protected by
/// `password`: what a browser or a mail program imports.
pub fn pkcs12(
    issued: &Issued,
    ca_cert_pem: &str,
    alias: &str,
    password: &str,
) -> Result<Vec<u8>, NetError> {
    let key_der = rustls_pemfile::private_key(&mut issued.key_pem.as_bytes())
        .map_err(err)?
        .ok_or_else(|| err("no private key"))?;
    let key = p12_keystore::PrivateKey::from_der(key_der.secret_der()).map_err(err)?;
    let leaf = p12_keystore::Certificate::from_der(&issued.cert_der).map_err(err)?;
    let mut chain = vec![leaf];
    for ca in rustls_pemfile::certs(&mut ca_cert_pem.as_bytes()) {
        let ca = ca.map_err(err)?;
        chain.push(p12_keystore::Certificate::from_der(&ca).map_err(err)?);
    }
    let local_id = sha2_id(&issued.cert_der);
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        alias,
        p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
            local_id, key, chain,
        )),
    );
    store.writer(password).write().map_err(err)
}

fn sha2_id(der: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::digest(der)[..20].to_vec()
}
