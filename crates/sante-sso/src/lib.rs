//! Single sign-on: the platform as an OpenID Connect provider over the security
//! directory (DIR-4, ACC-3, ACC-4).
//!
//! People log in once on the portal ([`sante_identity`] keeps the session); the
//! platform's services and registered applications get tokens from here: the
//! authorization code flow with PKCE (S256, always), ID and access tokens signed with a
//! rotating RSA key (RS256; access tokens per RFC 9068) carrying the quality, the
//! level of assurance (`acr`) and the methods (`amr`), refresh tokens rotated at each
//! use with reuse detection, revocation (RFC 7009), introspection (RFC 7662),
//! RP-initiated and back-channel logout.
//!
//! Establishment systems ([`client::ClientKind::System`]) authenticate with their
//! certificate over mutual TLS (RFC 8705) and carry a conformity attestation listing
//! the services they may reach; an administrator can suspend it, with effect on the
//! very next request. Such a system obtains tokens for its authenticated staff member
//! with a signed assertion (RFC 7523, as IHE IUA does): the token reaches only the
//! services both the system and the person may use.
//!
//! Every token is checked live when used ([`Provider::authenticate_bearer`]): the
//! session it came from must still be open, the system's attestation in force. So a
//! logout, a blocked account or a revoked credential reaches every service at once.
//!
//! Architecture invariant: knows nothing of HTTP; stores through `sante-store`; decides
//! who a token is for through `sante-identity` only; never stores a bearer secret
//! (codes, refresh tokens) in clear and never traces one.

pub mod client;
pub mod error;
pub mod keys;
pub mod provider;
mod store;

pub use client::{Attestation, Client, ClientKind, NewRelyingParty, NewSystem};
pub use error::{SsoError, SsoResult};
pub use provider::{
    AuthorizeOutcome, AuthorizeRequest, ClientCredentials, Introspection, LogoutOutcome, Provider,
    StaffDirectory, TokenCaller, TokenRequest, TokenResponse,
};

/// The `acr` value of a level of assurance.
pub fn acr(level: sante_types::LevelOfAssurance) -> String {
    format!("urn:sante:loa:{}", level.as_str())
}

/// The level of assurance of an `acr` value.
pub fn parse_acr(value: &str) -> Option<sante_types::LevelOfAssurance> {
    use sante_types::LevelOfAssurance::*;
    match value.strip_prefix("urn:sante:loa:")? {
        "low" => Some(Low),
        "substantial" => Some(Substantial),
        "high" => Some(High),
        _ => None,
    }
}

/// The audience naming a platform service in access tokens.
pub fn audience(service: sante_types::Service) -> String {
    format!("urn:sante:service:{}", service.as_str())
}
