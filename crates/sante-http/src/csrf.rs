//! CSRF protection for every portal form.
//!
//! Each browser gets a random value in a `__Host-` cookie (Secure, HttpOnly,
//! SameSite=Strict, Path=/); each form carries `HMAC-SHA256(server secret, cookie)` in a
//! hidden field. A POST is accepted only when the field matches the cookie, compared in
//! constant time: another site can make the browser send the cookie, but cannot read it
//! to compute the field.
//!
//! Handlers take a [`CsrfForm<T>`] instead of `Form<T>`: the check, the refusal page and
//! the audit event are then the same for every form, and a form cannot forget them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use axum::extract::{FromRef, FromRequest, MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use sante_audit::{EventKind, Outcome, Token};
use sante_types::ErrorKind;
use serde::de::DeserializeOwned;

use crate::error::ScriptFailure;
use crate::i18n::Msg;
use crate::kernel::language;
use crate::{HttpError, Kernel, Origin, Portal};

/// The cookie holding the browser's CSRF value.
pub const COOKIE: &str = "__Host-sante-csrf";

/// Its name without `Secure`: browsers refuse a `__Host-` cookie that is not `Secure`.
pub const COOKIE_INSECURE: &str = "sante-csrf";

/// The field of every form that carries the token.
pub const FIELD: &str = "csrf";

/// The cookie name for this deployment.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { COOKIE } else { COOKIE_INSECURE }
}

/// A fresh cookie value.
pub fn new_cookie_value() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    B64.encode(bytes)
}

/// The form token for a cookie value.
pub fn token(secret: &[u8; 32], cookie_value: &str) -> String {
    // A 32-byte key is always accepted by HMAC.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(b"sante-csrf-v1\0");
    mac.update(cookie_value.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// Whether `submitted` is the right token for `cookie_value`.
pub fn verify(secret: &[u8; 32], cookie_value: Option<&str>, submitted: Option<&str>) -> bool {
    let (Some(cookie), Some(submitted)) = (cookie_value, submitted) else {
        return false;
    };
    if cookie.len() < 16 {
        return false;
    }
    let expected = token(secret, cookie);
    expected.as_bytes().ct_eq(submitted.as_bytes()).into()
}

/// The `Set-Cookie` value for a new CSRF cookie.
pub fn set_cookie(value: &str, secure: bool) -> String {
    strict_cookie(cookie_name(secure), Some(value), secure)
}

/// A `Set-Cookie` value for a secret cookie of the portal: Path=/, HttpOnly,
/// SameSite=Strict, Secure when deployed over TLS; `None` clears it.
pub fn strict_cookie(name: &str, value: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match value {
        Some(v) => format!("{name}={v}; Path=/{secure}; HttpOnly; SameSite=Strict"),
        None => format!("{name}=; Path=/{secure}; HttpOnly; SameSite=Strict; Max-Age=0"),
    }
}

/// Reads a cookie from a `Cookie` header.
pub fn read_cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A form body whose CSRF token has been checked; `T` is the form without the token
/// (unknown fields, the token among them, are ignored by serde).
///
/// A missing or wrong token answers 403 with the localized refusal page and records a
/// `PortalFormRejected` event (resource: the route template); if that event cannot be
/// recorded the answer is 503, as for any untraced access.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    Kernel: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let kernel = Kernel::from_ref(state);
        let (parts, body) = req.into_parts();
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "unmatched".to_owned());
        let origin = Origin::of(&parts.extensions);
        let refuse = |error: HttpError| Portal::new(kernel.clone(), &parts).error(error);
        let Ok(bytes) = axum::body::to_bytes(body, kernel.config().limits.form_bytes).await else {
            return Err(refuse(HttpError::BadRequest));
        };
        let fields: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        let submitted = fields
            .iter()
            .find(|(k, _)| k == FIELD)
            .map(|(_, v)| v.as_str());
        let secure = kernel.config().cookie_secure;
        let cookie = read_cookie(&parts.headers, cookie_name(secure));
        if !verify(kernel.config().secret.bytes(), cookie, submitted) {
            tracing::warn!(route = %route, "form refused: CSRF token missing or wrong");
            let outcome = Outcome::Denied(Token::code("csrf-token-invalid"));
            let traced = kernel
                .trace(&origin, EventKind::PortalFormRejected, &route, outcome)
                .await;
            return Err(refuse(traced.err().unwrap_or(HttpError::FormRefused)));
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(CsrfForm)
            .map_err(|_| refuse(HttpError::BadRequest))
    }
}

/// The header a script sends the form token in, for JSON requests.
pub const HEADER: &str = "x-csrf-token";

/// A JSON body of a script on a portal page, whose CSRF token (in the
/// [`HEADER`] header) has been checked like a form's. Refusals are JSON
/// `{"error": ...}` answers and are traced like a form's.
#[derive(Debug)]
pub struct CsrfJson<T>(pub T);

impl<S, T> FromRequest<S> for CsrfJson<T>
where
    Kernel: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let kernel = Kernel::from_ref(state);
        let (parts, body) = req.into_parts();
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "unmatched".to_owned());
        let origin = Origin::of(&parts.extensions);
        let lang = language(&kernel, &parts.headers);
        let refuse =
            |kind: ErrorKind, msg: Msg| ScriptFailure::new(kind, lang.t(msg)).into_response();
        let submitted = parts.headers.get(HEADER).and_then(|v| v.to_str().ok());
        let secure = kernel.config().cookie_secure;
        let cookie = read_cookie(&parts.headers, cookie_name(secure));
        if !verify(kernel.config().secret.bytes(), cookie, submitted) {
            tracing::warn!(route = %route, "script request refused: CSRF token missing or wrong");
            let outcome = Outcome::Denied(Token::code("csrf-token-invalid"));
            let traced = kernel
                .trace(&origin, EventKind::PortalFormRejected, &route, outcome)
                .await;
            return Err(match traced {
                Ok(()) => refuse(ErrorKind::Denied, Msg::ForbiddenText),
                Err(_) => refuse(ErrorKind::Unavailable, Msg::UnavailableText),
            });
        }
        let Ok(bytes) = axum::body::to_bytes(body, kernel.config().limits.form_bytes).await else {
            return Err(refuse(ErrorKind::Invalid, Msg::BadRequestText));
        };
        serde_json::from_slice(&bytes)
            .map(CsrfJson)
            .map_err(|_| refuse(ErrorKind::Invalid, Msg::BadRequestText))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_to_the_cookie_and_the_secret() {
        let secret = [7u8; 32];
        let cookie = new_cookie_value();
        let t = token(&secret, &cookie);
        assert!(verify(&secret, Some(&cookie), Some(&t)));
        assert!(!verify(&secret, Some(&new_cookie_value()), Some(&t)));
        assert!(!verify(&[8u8; 32], Some(&cookie), Some(&t)));
        assert!(!verify(&secret, None, Some(&t)));
        assert!(!verify(&secret, Some(&cookie), None));
        assert!(!verify(
            &secret,
            Some("short"),
            Some(&token(&secret, "short"))
        ));
    }
}
