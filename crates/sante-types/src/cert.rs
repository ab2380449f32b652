//! What the platform retains of an X.509 certificate a client presented over mutual
//! TLS: enough to bind it to an account, find it in a revocation list, and bind tokens
//! to it (RFC 8705), without any crate above the network layer parsing DER.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A client certificate that passed the TLS layer's chain and revocation checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerCertificate {
    /// SHA-256 of the certificate's DER, lowercase hex: the binding key of a credential
    /// and, base64url-encoded, the `x5t#S256` confirmation of RFC 8705.
    pub sha256: String,
    /// The issuer's distinguished name (RFC 4514 string).
    pub issuer: String,
    /// The serial number, lowercase hex without leading zeros.
    pub serial: String,
    /// The subject's distinguished name (RFC 4514 string), shown to the holder.
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// The subject's public key, to check signatures made with the same key (an
    /// establishment system's signed assertions): for `ec-p256` the uncompressed point,
    /// for `rsa` the PKCS#1 `RSAPublicKey` DER.
    #[serde(with = "hex_bytes")]
    pub public_key: Vec<u8>,
    /// `ec-p256`, `rsa` or `other`.
    pub key_algorithm: String,
}

impl PeerCertificate {
    /// The key under which revocation lists name this certificate: issuer and serial.
    pub fn revocation_key(&self) -> String {
        revocation_key(&self.issuer, &self.serial)
    }
}

/// The key of a certificate in revocation lists: its issuer and its serial number.
pub fn revocation_key(issuer: &str, serial: &str) -> String {
    format!("{issuer}#{serial}")
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let mut out = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            out.push_str(&format!("{b:02x}"));
        }
        s.serialize_str(&out)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() % 2 != 0 {
            return Err(serde::de::Error::custom("odd hex length"));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(&text[i..i + 2], 16)
                    .map_err(|_| serde::de::Error::custom("not hex"))
            })
            .collect()
    }
}
