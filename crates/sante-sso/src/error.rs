//! What can go wrong, as OAuth 2.0 and OpenID Connect name it: the front end answers
//! each with its error code (RFC 6749 §5.2) and status.

use sante_audit::{PlatformError, RecordError};
use sante_identity::IdentityError;
use sante_store::StoreError;
use sante_types::{Coded, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// Malformed or missing parameter.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// Unknown client, wrong secret or certificate, suspended system.
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    /// A code, refresh token or assertion that is wrong, used, expired or not this
    /// client's, or whose session has ended.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// The person or the system may not reach what is asked.
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// A bearer token that is missing, malformed, expired, revoked or for another
    /// service (RFC 6750 `invalid_token`).
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// The redirect URI is not one registered for the client: never redirect there.
    #[error("the redirect URI is not registered for this client")]
    UnregisteredRedirect,
    /// Storage or the audit trail failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("identity: {0}")]
    Identity(IdentityError),
    #[error("signing: {0}")]
    Signing(String),
}

// Not `platform_error_conversions!`: the provider has no missing-record or conflict
// errors of its own to answer (a taken key is a refusal it names where it happens), so
// every storage failure is a platform one.
impl From<StoreError> for SsoError {
    fn from(e: StoreError) -> Self {
        SsoError::Platform(PlatformError::Store(e))
    }
}

impl From<RecordError> for SsoError {
    fn from(e: RecordError) -> Self {
        SsoError::Platform(PlatformError::Audit(e))
    }
}

impl From<IdentityError> for SsoError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Platform(p) => SsoError::Platform(p),
            other => SsoError::Identity(other),
        }
    }
}

impl Coded for SsoError {
    fn code(&self) -> &'static str {
        match self {
            SsoError::InvalidRequest(_) => "SSO001",
            SsoError::InvalidClient(_) => "SSO002",
            SsoError::InvalidGrant(_) => "SSO003",
            SsoError::UnauthorizedClient(_) => "SSO004",
            SsoError::UnsupportedGrantType(_) => "SSO005",
            SsoError::InvalidScope(_) => "SSO006",
            SsoError::AccessDenied(_) => "SSO007",
            SsoError::InvalidToken(_) => "SSO008",
            SsoError::UnregisteredRedirect => "SSO009",
            SsoError::Signing(_) => "SSO010",
            SsoError::Identity(e) => e.code(),
            SsoError::Platform(e) => e.code(),
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            // RFC 6749 §5.2 and RFC 6750 §3: a client that failed to authenticate
            // and a bad bearer token are answered 401; the rest of the request
            // errors 400.
            SsoError::InvalidClient(_) | SsoError::InvalidToken(_) => ErrorKind::Unauthenticated,
            SsoError::Identity(e) if e.kind().is_platform_fault() => e.kind(),
            SsoError::AccessDenied(_) | SsoError::Identity(_) => ErrorKind::Denied,
            SsoError::InvalidRequest(_)
            | SsoError::InvalidGrant(_)
            | SsoError::UnauthorizedClient(_)
            | SsoError::UnsupportedGrantType(_)
            | SsoError::InvalidScope(_)
            | SsoError::UnregisteredRedirect => ErrorKind::Invalid,
            // Signing covers the keys and the services the provider asks (terms of
            // use, back-channel logout): the request may succeed later. So may any
            // storage failure, a concurrent change included.
            SsoError::Platform(PlatformError::Store(_)) | SsoError::Signing(_) => {
                ErrorKind::Unavailable
            }
            SsoError::Platform(e) => e.kind(),
        }
    }
}

impl SsoError {
    /// The OAuth error code (RFC 6749 §5.2, RFC 6750 §3.1).
    pub fn oauth_code(&self) -> &'static str {
        match self {
            SsoError::InvalidRequest(_) | SsoError::UnregisteredRedirect => "invalid_request",
            SsoError::InvalidClient(_) => "invalid_client",
            SsoError::InvalidGrant(_) => "invalid_grant",
            SsoError::UnauthorizedClient(_) => "unauthorized_client",
            SsoError::UnsupportedGrantType(_) => "unsupported_grant_type",
            SsoError::InvalidScope(_) => "invalid_scope",
            SsoError::AccessDenied(_) => "access_denied",
            SsoError::InvalidToken(_) => "invalid_token",
            _ if self.is_internal() => "temporarily_unavailable",
            SsoError::Identity(_) => "access_denied",
            SsoError::Platform(_) | SsoError::Signing(_) => "temporarily_unavailable",
        }
    }

    /// Whether the platform, not the request, is at fault.
    pub fn is_internal(&self) -> bool {
        self.kind().is_platform_fault()
    }

    /// The description given to the client: never a secret, never internal detail.
    pub fn description(&self) -> String {
        match self {
            _ if self.is_internal() => "the service is temporarily unavailable".to_owned(),
            SsoError::Identity(e) => e.to_string(),
            other => {
                let text = other.to_string();
                text.split_once(": ")
                    .map(|(_, d)| d.to_owned())
                    .unwrap_or(text)
            }
        }
    }
}

pub type SsoResult<T> = Result<T, SsoError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_failures_keep_their_codes_and_are_unavailable_to_the_client() {
        let cases = [
            (
                SsoError::from(StoreError::Conflict("sso-assertion".into())),
                "STO002",
                ErrorKind::Unavailable,
            ),
            (
                SsoError::from(StoreError::NotFound("sso-client".into())),
                "STO001",
                ErrorKind::Unavailable,
            ),
            (
                SsoError::from(RecordError("down".into())),
                "AUD001",
                ErrorKind::Unavailable,
            ),
            (
                SsoError::from(IdentityError::from(RecordError("down".into()))),
                "AUD001",
                ErrorKind::Unavailable,
            ),
            (
                SsoError::from(IdentityError::Platform(PlatformError::corrupt("x"))),
                "PLT001",
                ErrorKind::Internal,
            ),
        ];
        for (error, code, kind) in cases {
            assert!(matches!(error, SsoError::Platform(_)), "{error:?}");
            assert_eq!((error.code(), error.kind()), (code, kind), "{error:?}");
            assert_eq!(error.oauth_code(), "temporarily_unavailable");
            assert_eq!(
                error.description(),
                "the service is temporarily unavailable"
            );
        }
        // The identity service's own refusals stay its own.
        let blocked = SsoError::from(IdentityError::Blocked);
        assert!(matches!(
            blocked,
            SsoError::Identity(IdentityError::Blocked)
        ));
        assert_eq!(blocked.kind(), ErrorKind::Denied);
        assert_eq!(blocked.oauth_code(), "access_denied");
    }
}
