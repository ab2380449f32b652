//! CSRF protection for every portal form.
//!
//! Each browser gets a random value in a `__Host-` cookie (Secure, HttpOnly,
//! SameSite=Strict, Path=/); each form carries `HMAC-SHA256(server secret, cookie)` in a
//! hidden field. A POST is accepted only when the field matches the cookie, compared in
//! constant time: another site can make the browser send the cookie, but cannot read it
//! to compute the field.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The cookie holding the browser's CSRF value.
pub const COOKIE: &str = "__Host-sante-csrf";

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
pub fn set_cookie(value: &str) -> String {
    format!("{COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict")
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
