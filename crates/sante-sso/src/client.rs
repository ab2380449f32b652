//! Registered clients: the web applications people log in to through the platform
//! (relying parties), and the establishments' information systems with their
//! conformity attestation (ACC-3, ACC-4, DSP-31).

use chrono::{DateTime, Utc};
use sante_types::Service;
use serde::{Deserialize, Serialize};

use crate::error::{SsoError, SsoResult};

/// A registered client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Client {
    /// The `client_id`.
    pub id: String,
    pub name: String,
    pub kind: ClientKind,
    /// The services its access tokens may reach (their audiences).
    pub services: Vec<Service>,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ClientKind {
    /// A web application people log in to: the authorization code flow with PKCE.
    RelyingParty {
        redirect_uris: Vec<String>,
        /// SHA-256 of its secret (`client_secret_basic` or `_post`); `None`: a public
        /// client, which PKCE alone protects.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret_sha256: Option<String>,
        #[serde(default)]
        post_logout_redirect_uris: Vec<String>,
        /// Where OpenID Connect Back-Channel Logout tokens are posted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backchannel_logout_uri: Option<String>,
    },
    /// An establishment's information system: authenticates with its certificate over
    /// mutual TLS (RFC 8705, by certificate thumbprint) and acts for its staff.
    System {
        /// The establishment's directory identifier.
        establishment: String,
        /// SHA-256 of the system's certificate (DER), hex.
        certificate_sha256: String,
        attestation: Attestation,
    },
}

/// A system's conformity attestation (DSP-31): which services it was certified for,
/// until when, and whether the operator suspended it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attestation {
    /// The certification's reference, as the operator publishes it.
    pub reference: String,
    pub services: Vec<Service>,
    pub valid_until: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<Suspension>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Suspension {
    pub since: DateTime<Utc>,
    /// A code naming why.
    pub reason: String,
}

impl Attestation {
    /// Why the attestation does not let the system in now, if it does not.
    pub fn refusal(&self, now: DateTime<Utc>) -> Option<&'static str> {
        if self.suspended.is_some() {
            Some("attestation_suspended")
        } else if now > self.valid_until {
            Some("attestation_expired")
        } else {
            None
        }
    }
}

/// A relying party to register.
#[derive(Debug, Clone)]
pub struct NewRelyingParty {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub services: Vec<Service>,
    /// A confidential client gets a secret; a public one relies on PKCE.
    pub confidential: bool,
}

/// An establishment system to register.
#[derive(Debug, Clone)]
pub struct NewSystem {
    pub name: String,
    pub establishment: String,
    pub certificate_sha256: String,
    pub attestation_reference: String,
    pub services: Vec<Service>,
    pub valid_until: DateTime<Utc>,
}

/// Whether `uri` may receive codes or logout notices: https, or http on the loopback
/// interface (RFC 8252 §7.3, for applications on the user's own machine); never a
/// fragment, never credentials in it.
pub fn check_uri(uri: &str, key: &str) -> SsoResult<()> {
    let bad = |why: &str| SsoError::InvalidRequest(format!("{key} {uri:?}: {why}"));
    let rest = if let Some(rest) = uri.strip_prefix("https://") {
        rest
    } else if let Some(rest) = uri.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        if !matches!(host, "127.0.0.1" | "[::1]" | "localhost") {
            return Err(bad("must be https (http only on the loopback interface)"));
        }
        rest
    } else {
        return Err(bad("must be an https URL"));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(bad("has no host"));
    }
    if uri.contains('#') {
        return Err(bad("must not have a fragment"));
    }
    if authority.contains('@') {
        return Err(bad("must not carry credentials"));
    }
    if uri.len() > 512 || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("is not a plain URL"));
    }
    Ok(())
}

pub(crate) fn check_name(name: &str) -> SsoResult<String> {
    let name = name.trim();
    if name.is_empty()
        || name.len() > 80
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || " -_.'()".contains(c))
    {
        return Err(SsoError::InvalidRequest(
            "the client's name: 1 to 80 letters, digits, spaces and - _ . ' ( )".into(),
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_uris_are_registered() {
        assert!(check_uri("https://dsp.example.lu/callback", "k").is_ok());
        assert!(check_uri("http://127.0.0.1:8080/cb", "k").is_ok());
        assert!(check_uri("http://localhost/cb", "k").is_ok());
        for bad in [
            "http://dsp.example.lu/cb",
            "https://dsp.example.lu/cb#frag",
            "https://user:pw@dsp.example.lu/cb",
            "javascript:alert(1)",
            "https:///cb",
            "http://127.0.0.1.evil.example/cb",
        ] {
            assert!(check_uri(bad, "k").is_err(), "{bad}");
        }
    }
}
