//! The claims of the tokens the provider signs and of the assertions it accepts.

use sante_types::Quality;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Actingness {
    pub(super) sub: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Confirmation {
    #[serde(rename = "x5t#S256")]
    pub(super) x5t_s256: String,
}

/// An access token's claims (RFC 9068).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct AccessClaims {
    pub(super) iss: String,
    pub(super) sub: String,
    pub(super) aud: Vec<String>,
    pub(super) client_id: String,
    pub(super) exp: i64,
    pub(super) iat: i64,
    pub(super) jti: String,
    pub(super) scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) sid: Option<String>,
    /// The token family (one login at one client), revoked as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) fam: Option<String>,
    pub(super) quality: Quality,
    pub(super) acr: String,
    pub(super) amr: Vec<String>,
    /// The account's directory entry (the professional's identifier), for services.
    pub(super) entry: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) act: Option<Actingness>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) cnf: Option<Confirmation>,
}

/// An ID token's claims (OpenID Connect Core §2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct IdClaims {
    pub(super) iss: String,
    pub(super) sub: String,
    pub(super) aud: String,
    pub(super) exp: i64,
    pub(super) iat: i64,
    pub(super) auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) nonce: Option<String>,
    pub(super) acr: String,
    pub(super) amr: Vec<String>,
    pub(super) sid: String,
    pub(super) at_hash: String,
    pub(super) quality: Quality,
    pub(super) preferred_username: String,
}

/// A system's assertion for its staff member (RFC 7523 §3).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct AssertionClaims {
    pub(super) iss: String,
    pub(super) sub: String,
    pub(super) aud: serde_json::Value,
    pub(super) exp: i64,
    #[serde(default)]
    pub(super) iat: Option<i64>,
    pub(super) jti: String,
    #[serde(default)]
    pub(super) acr: Option<String>,
}
