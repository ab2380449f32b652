//! The provider's rules of refusal, apart from its I/O. Each check of a client, a
//! grant, an assertion or a bearer token takes what was loaded and the time, and
//! answers what to go on with or a [`Refusal`] naming the stable reason the audit trail
//! records; the provider carries out every refusal at one place
//! ([`Provider::refused`](super::Provider::refused)).
//!
//! Within a function the checks come in the order they are answered: when two things
//! are wrong, the first one checked is the one refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use sante_identity::{Authenticated, IdentityError, authorise_service};
use sante_types::{PeerCertificate, Service};
use sha2::{Digest, Sha256};

use super::claims::{AccessClaims, AssertionClaims};
use super::{
    ASSERTION_SECONDS, AuthorizeRequest, ClientCredentials, Grant, StoredCode, TokenRequest, same,
    sha256,
};
use crate::audience;
use crate::client::{Attestation, Client, ClientKind};
use crate::error::{SsoError, SsoResult};

/// Why a request is refused: the reason traced, the error answered and, for a refresh
/// token stolen or outliving its session, the token family that dies with it.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) code: &'static str,
    pub(super) error: SsoError,
    pub(super) ends_family: Option<String>,
}

impl Refusal {
    fn new(code: &'static str, error: SsoError) -> Refusal {
        Refusal {
            code,
            error,
            ends_family: None,
        }
    }

    fn ending(self, family: &str) -> Refusal {
        Refusal {
            ends_family: Some(family.to_owned()),
            ..self
        }
    }
}

fn invalid_client(why: &str) -> SsoError {
    SsoError::InvalidClient(why.to_owned())
}

fn invalid_grant(why: &str) -> SsoError {
    SsoError::InvalidGrant(why.to_owned())
}

fn invalid_token(why: &str) -> SsoError {
    SsoError::InvalidToken(why.to_owned())
}

fn access_denied(why: &str) -> SsoError {
    SsoError::AccessDenied(why.to_owned())
}

// ----- authorization ----------------------------------------------------------

/// The client of an authorization request: a registered relying party, and the
/// redirect URI one it registered. Refused here, the request is answered to the
/// browser, never sent to the URI.
pub(super) fn authorize_client<'c>(
    client: Option<&'c Client>,
    redirect_uri: &str,
) -> Result<&'c Client, Refusal> {
    let Some(client) = client else {
        return Err(Refusal::new(
            "unknown_client",
            invalid_client("unknown client"),
        ));
    };
    let ClientKind::RelyingParty { redirect_uris, .. } = &client.kind else {
        return Err(Refusal::new(
            "not_a_relying_party",
            SsoError::UnauthorizedClient("systems do not use the browser flow".into()),
        ));
    };
    if !redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(Refusal::new(
            "unregistered_redirect",
            SsoError::UnregisteredRedirect,
        ));
    }
    Ok(client)
}

/// An error sent back to the client's redirect URI (OpenID Connect Core §3.1.2.6). Not
/// traced: the client asked wrongly, and is told so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Redirected {
    pub(super) error: &'static str,
    pub(super) description: &'static str,
}

/// The parameters of an authorization request from a known client: the code flow, the
/// openid scope and no unknown one, PKCE with S256 (always), a state and a nonce of
/// reasonable size. Returns the scopes.
pub(super) fn authorize_request(req: &AuthorizeRequest) -> Result<Vec<&str>, Redirected> {
    let wrong = |error, description| Err(Redirected { error, description });
    if req.response_type != "code" {
        return wrong("unsupported_response_type", "only the code flow is offered");
    }
    let scopes: Vec<&str> = req.scope.split_whitespace().collect();
    if !scopes.contains(&"openid") {
        return wrong("invalid_scope", "the openid scope is required");
    }
    if scopes
        .iter()
        .any(|s| !["openid", "offline_access"].contains(s))
    {
        return wrong("invalid_scope", "unknown scope");
    }
    let challenge_ok = req.code_challenge_method.as_deref() == Some("S256")
        && req.code_challenge.as_deref().is_some_and(|c| {
            c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !challenge_ok {
        return wrong("invalid_request", "PKCE with S256 is required");
    }
    if req.nonce.as_deref().is_some_and(|n| n.len() > 256)
        || req.state.as_deref().is_some_and(|s| s.len() > 512)
    {
        return wrong("invalid_request", "state or nonce too long");
    }
    Ok(scopes)
}

// ----- client authentication --------------------------------------------------

/// Who the client says it is, and its secret: HTTP Basic when given, else the form.
pub(super) fn presented_client<'a>(
    form_id: Option<&'a str>,
    form_secret: Option<&'a str>,
    creds: &'a ClientCredentials,
) -> Result<(&'a str, Option<&'a str>), Refusal> {
    let (id, secret) = match &creds.basic {
        Some((id, secret)) => (Some(id.as_str()), Some(secret.as_str())),
        None => (form_id, form_secret),
    };
    let Some(id) = id.filter(|i| !i.is_empty() && i.len() <= 80) else {
        return Err(Refusal::new(
            "no_client_id",
            invalid_client("client authentication is required"),
        ));
    };
    Ok((id, secret))
}

/// The client presented (`client`, as registered): a confidential relying party with
/// its secret, a public one with none, a system with its certificate and an
/// attestation in force.
pub(super) fn client_authenticated(
    client: Option<Client>,
    secret: Option<&str>,
    certificate: Option<&PeerCertificate>,
    now: DateTime<Utc>,
) -> Result<Client, Refusal> {
    let Some(client) = client else {
        return Err(Refusal::new(
            "unknown_client",
            invalid_client("unknown client"),
        ));
    };
    match &client.kind {
        ClientKind::RelyingParty {
            secret_sha256: Some(expected),
            ..
        } => {
            if !secret.is_some_and(|s| same(&sha256(s), expected)) {
                return Err(Refusal::new(
                    "wrong_client_secret",
                    invalid_client("wrong client secret"),
                ));
            }
        }
        ClientKind::RelyingParty {
            secret_sha256: None,
            ..
        } => {
            if secret.is_some() {
                return Err(Refusal::new(
                    "public_client_secret",
                    invalid_client("a public client has no secret"),
                ));
            }
        }
        ClientKind::System {
            certificate_sha256,
            attestation,
            ..
        } => {
            let presented = certificate.map(|c| c.sha256.as_str());
            if !presented.is_some_and(|p| same(p, certificate_sha256)) {
                return Err(Refusal::new(
                    "wrong_client_certificate",
                    invalid_client(
                        "the system authenticates with its registered certificate over mutual TLS",
                    ),
                ));
            }
            if let Some(code) = attestation.refusal(now) {
                return Err(Refusal::new(
                    code,
                    invalid_client("the system's attestation is not in force"),
                ));
            }
        }
    }
    Ok(client)
}

// ----- code exchange ------------------------------------------------------------

/// An authorization code (`taken`: found and spent by this request): issued to this
/// client for this redirect URI, not expired, and the PKCE verifier its challenge's.
pub(super) fn code_grant(
    taken: Option<StoredCode>,
    client: &str,
    req: &TokenRequest,
    now: DateTime<Utc>,
) -> Result<StoredCode, Refusal> {
    let Some(stored) = taken else {
        return Err(Refusal::new(
            "unknown_code",
            invalid_grant("the code is wrong, used or expired"),
        ));
    };
    if stored.client != client || req.redirect_uri.as_deref() != Some(stored.redirect_uri.as_str())
    {
        return Err(Refusal::new(
            "code_mismatch",
            invalid_grant("the code was issued to another client or redirect URI"),
        ));
    }
    if now > stored.expires {
        return Err(Refusal::new(
            "code_expired",
            invalid_grant("the code expired"),
        ));
    }
    let verifier = req.code_verifier.as_deref().unwrap_or_default();
    let verifier_ok = (43..=128).contains(&verifier.len())
        && same(
            &B64.encode(Sha256::digest(verifier.as_bytes())),
            &stored.challenge,
        );
    if !verifier_ok {
        return Err(Refusal::new(
            "pkce_mismatch",
            invalid_grant("the PKCE verifier does not match"),
        ));
    }
    Ok(stored)
}

/// The login a code was issued in: its session (`session`, if still open) is still
/// the same person's.
pub(super) fn code_session(
    stored: &StoredCode,
    session: Option<Authenticated>,
) -> Result<Authenticated, Refusal> {
    session
        .filter(|who| who.account == stored.account)
        .ok_or_else(|| {
            Refusal::new(
                "session_ended",
                invalid_grant("the login session has ended"),
            )
        })
}

// ----- refresh --------------------------------------------------------------------

/// A refresh token (`taken`: found live and spent by this request).
pub(super) fn refresh_token(taken: Option<Grant>) -> Result<Grant, Refusal> {
    taken.ok_or_else(|| {
        Refusal::new(
            "unknown_refresh_token",
            invalid_grant("the refresh token is wrong, used or expired"),
        )
    })
}

/// A live refresh token, presented by its own client before it expired. Another
/// client holding it stole it: its family dies.
pub(super) fn refresh_grant(
    grant: &Grant,
    client: &str,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if grant.client != client {
        return Err(Refusal::new(
            "refresh_other_client",
            invalid_grant("the refresh token belongs to another client"),
        )
        .ending(&grant.family));
    }
    if now > grant.expires {
        return Err(Refusal::new(
            "refresh_expired",
            invalid_grant("the refresh token expired"),
        ));
    }
    Ok(())
}

/// The login a refresh token continues: its session (`session`, if still open) still
/// the same person's, or the family dies; and the services decided again, since a
/// quality or a level may have changed.
pub(super) fn refreshed(
    grant: &Grant,
    session: Option<Authenticated>,
) -> Result<(Authenticated, Vec<Service>), Refusal> {
    let Some(who) = session.filter(|who| who.account == grant.account) else {
        return Err(Refusal::new(
            "session_ended",
            invalid_grant("the login session has ended"),
        )
        .ending(&grant.family));
    };
    let services: Vec<Service> = grant
        .services
        .iter()
        .copied()
        .filter(|s| authorise_service(&who, *s).is_ok())
        .collect();
    if services.is_empty() {
        return Err(Refusal::new(
            "service_refused",
            access_denied("no service left for this login"),
        ));
    }
    Ok((who, services))
}

// ----- system assertion -----------------------------------------------------------

/// Only an establishment system presents assertions: its establishment and
/// attestation.
pub(super) fn assertion_client(client: &Client) -> Result<(&str, &Attestation), Refusal> {
    match &client.kind {
        ClientKind::System {
            establishment,
            attestation,
            ..
        } => Ok((establishment, attestation)),
        ClientKind::RelyingParty { .. } => Err(Refusal::new(
            "not_a_system",
            SsoError::UnauthorizedClient("only establishment systems present assertions".into()),
        )),
    }
}

/// A system's assertion (RFC 7523 §3): signed with the key of the certificate the
/// system authenticated with (so it signs with the key of its attested certificate),
/// issued by the system `client` for one of the provider's token `endpoints`, expiring
/// within the accepted lifetime but not yet, not made in the future (both with 30
/// seconds of tolerance for clocks), and with an identifier.
pub(super) fn assertion(
    assertion: &str,
    cert: &PeerCertificate,
    client: &str,
    endpoints: &[String],
    now: DateTime<Utc>,
) -> Result<AssertionClaims, Refusal> {
    let claims = signed_assertion(assertion, cert)
        .map_err(|why| Refusal::new("bad_assertion", invalid_grant(&why)))?;
    let aud_ok = match &claims.aud {
        serde_json::Value::String(a) => endpoints.contains(a),
        serde_json::Value::Array(list) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| endpoints.iter().any(|e| e == a))),
        _ => false,
    };
    let fresh = claims.exp > now.timestamp()
        && claims.exp <= (now + Duration::seconds(ASSERTION_SECONDS)).timestamp() + 30
        && claims.iat.is_none_or(|iat| iat <= now.timestamp() + 30);
    if claims.iss != client || !aud_ok || !fresh || claims.jti.is_empty() || claims.jti.len() > 128
    {
        return Err(Refusal::new(
            "assertion_claims",
            invalid_grant("the assertion's issuer, audience, expiry or id is wrong"),
        ));
    }
    Ok(claims)
}

/// The claims of an assertion signed with the certificate's key.
fn signed_assertion(assertion: &str, cert: &PeerCertificate) -> Result<AssertionClaims, String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let header =
        jsonwebtoken::decode_header(assertion).map_err(|_| "not a signed assertion".to_owned())?;
    let (key, allowed) = match cert.key_algorithm.as_str() {
        "ec-p256" => (DecodingKey::from_ec_der(&cert.public_key), Algorithm::ES256),
        "rsa" => (
            DecodingKey::from_rsa_der(&cert.public_key),
            Algorithm::RS256,
        ),
        _ => return Err("the certificate's key cannot sign assertions".into()),
    };
    if header.alg != allowed {
        return Err("the assertion is not signed with the certificate's key".into());
    }
    let mut validation = Validation::new(allowed);
    validation.validate_aud = false;
    // Freshness is checked by the caller against the platform's clock.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| format!("the assertion's signature or dates are wrong: {e}"))
}

/// Each assertion serves once: `first_use` is whether its identifier was new.
pub(super) fn assertion_unused(first_use: bool) -> Result<(), Refusal> {
    if !first_use {
        return Err(Refusal::new(
            "assertion_replayed",
            invalid_grant("this assertion was already used"),
        ));
    }
    Ok(())
}

/// The professional works at the system's establishment today (`works_here`, as the
/// directories say).
pub(super) fn staff_member(works_here: bool) -> Result<(), Refusal> {
    if !works_here {
        return Err(Refusal::new(
            "not_staff",
            access_denied("this professional does not work at the system's establishment"),
        ));
    }
    Ok(())
}

/// The professional a system acts for has an active account (`found`: the identity
/// service's answer); the trace says why not.
pub(super) fn acting_account(
    found: Result<Authenticated, IdentityError>,
) -> Result<Authenticated, Refusal> {
    found.map_err(|e| {
        let code = match e {
            IdentityError::Blocked => "account_blocked",
            IdentityError::Closed => "account_closed",
            IdentityError::NotActivated => "account_not_activated",
            _ => "no_account",
        };
        Refusal::new(
            code,
            access_denied("the professional has no active account"),
        )
    })
}

/// ACC-4: a system's token reaches only what both the system (its attestation and its
/// registration) and the person may reach.
pub(super) fn shared_services(
    client: &Client,
    attestation: &Attestation,
    who: &Authenticated,
) -> Result<Vec<Service>, Refusal> {
    let shared: Vec<Service> = attestation
        .services
        .iter()
        .copied()
        .filter(|s| client.services.contains(s) && authorise_service(who, *s).is_ok())
        .collect();
    if shared.is_empty() {
        return Err(Refusal::new(
            "service_refused",
            access_denied("neither the system nor the person may reach a service together"),
        ));
    }
    Ok(shared)
}

/// TOU-1: of the services reachable, those whose current terms the person accepted
/// (`accepted`); none, and the token is refused.
pub(super) fn terms_accepted(accepted: Vec<Service>) -> Result<Vec<Service>, Refusal> {
    if accepted.is_empty() {
        return Err(Refusal::new(
            "terms_not_accepted",
            access_denied("the professional has not accepted the current terms of use"),
        ));
    }
    Ok(accepted)
}

// ----- bearer tokens ----------------------------------------------------------------

/// An access token signed by the provider and unexpired (`verified`: the keys'
/// answer, whose error is the one given).
pub(super) fn access_token(verified: SsoResult<AccessClaims>) -> Result<AccessClaims, Refusal> {
    verified.map_err(|e| Refusal::new("bad_access_token", e))
}

/// The token names the service among its audiences.
pub(super) fn bearer_audience(claims: &AccessClaims, service: Service) -> Result<(), Refusal> {
    if !claims.aud.contains(&audience(service)) {
        return Err(Refusal::new(
            "wrong_audience",
            invalid_token("the token is not for this service"),
        ));
    }
    Ok(())
}

/// A token the userinfo endpoint answers for: a login's, not revoked.
pub(super) fn userinfo_token(claims: &AccessClaims, revoked: bool) -> Result<&str, Refusal> {
    if revoked {
        return Err(Refusal::new(
            "token_revoked",
            invalid_token("the token was revoked"),
        ));
    }
    claims
        .sid
        .as_deref()
        .ok_or_else(|| Refusal::new("not_login_token", invalid_token("not a login's token")))
}

/// Whether a client may learn of an access token by introspection (RFC 7662 §4):
/// its own tokens, or those issued for it as their audience. Of any other, it learns
/// only that it is not active.
pub(super) fn may_introspect(claims: &AccessClaims, asker: &str) -> bool {
    claims.client_id == asker || claims.aud.iter().any(|a| a == asker)
}

/// Whom a bearer token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bearer<'c> {
    /// A login: its session.
    Login { sid: &'c str },
    /// An establishment system acting for a person: its client id.
    System { system: &'c str },
}

/// A bearer token not revoked (`revoked`: its id or its family is), presented with the
/// certificate it is bound to if it is bound, and either a login's or a system's,
/// never both.
pub(super) fn bearer_use<'c>(
    claims: &'c AccessClaims,
    revoked: bool,
    certificate: Option<&PeerCertificate>,
) -> Result<Bearer<'c>, Refusal> {
    if revoked {
        return Err(Refusal::new(
            "token_revoked",
            invalid_token("the token was revoked"),
        ));
    }
    if let Some(cnf) = &claims.cnf {
        let presented = certificate.map(|c| B64.encode(hex::decode(&c.sha256).unwrap_or_default()));
        if presented.as_deref() != Some(cnf.x5t_s256.as_str()) {
            return Err(Refusal::new(
                "certificate_binding",
                invalid_token("the token is bound to another certificate"),
            ));
        }
    }
    match (&claims.sid, &claims.act) {
        (Some(sid), None) => Ok(Bearer::Login { sid }),
        (None, Some(act)) => Ok(Bearer::System { system: &act.sub }),
        _ => Err(Refusal::new(
            "bad_access_token",
            invalid_token("malformed token"),
        )),
    }
}

/// A login's token: its session (`session`, if still open) is still the token's
/// person's.
pub(super) fn bearer_session(
    claims: &AccessClaims,
    session: Option<Authenticated>,
) -> Result<Authenticated, Refusal> {
    session
        .filter(|who| who.account == claims.sub)
        .ok_or_else(|| {
            Refusal::new(
                "session_ended",
                invalid_token("the login session has ended"),
            )
        })
}

/// A system's token: the system (`system`, as registered) is still an establishment
/// system with its attestation in force. Returns its id and establishment.
pub(super) fn bearer_system(
    system: Option<&Client>,
    now: DateTime<Utc>,
) -> Result<(&str, &str), Refusal> {
    let Some(Client {
        id,
        kind:
            ClientKind::System {
                establishment,
                attestation,
                ..
            },
        ..
    }) = system
    else {
        return Err(Refusal::new(
            "unknown_system",
            invalid_token("unknown system"),
        ));
    };
    if let Some(code) = attestation.refusal(now) {
        return Err(Refusal::new(
            code,
            invalid_token("the system's attestation is not in force"),
        ));
    }
    Ok((id, establishment))
}

/// The person a system's token is for: his account still active (`found`, if it is)
/// and still the token's.
pub(super) fn bearer_acting(
    claims: &AccessClaims,
    found: Option<Authenticated>,
) -> Result<Authenticated, Refusal> {
    found
        .filter(|who| who.account == claims.sub)
        .ok_or_else(|| {
            Refusal::new(
                "account_not_active",
                invalid_token("the professional's account is not active"),
            )
        })
}

#[cfg(test)]
mod tests;
