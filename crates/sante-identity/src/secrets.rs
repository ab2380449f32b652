//! The secret material of credentials: Argon2id password hashes, RFC 6238 one-time
//! passwords, random tokens and codes. Secrets are compared in constant time and
//! stored only as hashes, except the TOTP seed, which verification needs in clear.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::TOTP;
use zeroize::Zeroizing;

/// Shortest password accepted (ACC-2: a personal password, with a second factor for
/// patients).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted: Argon2 cost is per byte, and a megabyte password is an attack.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// TOTP parameters: the RFC 6238 defaults every authenticator application supports.
const TOTP_DIGITS: usize = 6;
const TOTP_STEP_SECS: u64 = 30;
/// Steps accepted either side of now, for clock drift between phone and server.
const TOTP_SKEW_STEPS: i64 = 1;

/// What a password must look like; the message names the rule broken.
pub fn check_password_policy(password: &str) -> Result<(), &'static str> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err("the password must have at least 12 characters");
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err("the password must have at most 256 characters");
    }
    let distinct: std::collections::HashSet<char> = password.chars().collect();
    if distinct.len() < 5 {
        return Err("the password repeats too few different characters");
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    // OWASP's second recommended set for Argon2id: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (`$argon2id$v=19$...`).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a password against its stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A hash that costs as much as a real verification, for unknown accounts: the time a
/// login takes must not reveal whether the login name exists.
pub fn burn_password_time(password: &str) {
    let _ = argon2().hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng));
}

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> Zeroizing<Vec<u8>> {
    let mut bytes = Zeroizing::new(vec![0u8; n]);
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A bearer secret (session, refresh): 256 random bits, URL-safe.
pub fn random_token() -> Zeroizing<String> {
    Zeroizing::new(hex::encode(random_bytes(32).as_slice()))
}

/// An activation code as printed on a letter: 16 characters from an alphabet without
/// look-alikes (no 0/O, 1/I/L), in groups of four; about 80 bits.
pub fn activation_code() -> Zeroizing<String> {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let bytes = random_bytes(16);
    let mut code = String::with_capacity(19);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
    }
    Zeroizing::new(code)
}

/// An application password: 28 characters from the same alphabet, in groups of four,
/// drawn without modulo bias; about 139 bits, so a fast hash is enough to store it.
pub fn application_password() -> Zeroizing<String> {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    // 248 = 8 × 31: bytes at or above it would favour the first letters.
    const LIMIT: u8 = 248;
    let mut out = Zeroizing::new(String::with_capacity(34));
    let mut taken = 0;
    while taken < 28 {
        for b in random_bytes(32).iter().filter(|b| **b < LIMIT) {
            if taken == 28 {
                break;
            }
            if taken > 0 && taken % 4 == 0 {
                out.push('-');
            }
            out.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
            taken += 1;
        }
    }
    out
}

/// The activation code as typed: case, spaces and dashes do not matter.
pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// SHA-256, hex: how bearer tokens and codes are stored (a stolen database gives no
/// usable session).
pub fn sha256_hex(data: &str) -> String {
    hex::encode(Sha256::digest(data.as_bytes()))
}

/// Constant-time equality of two strings.
pub fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A new TOTP seed (160 bits, as RFC 4226 recommends), base32 as authenticator
/// applications expect it.
pub fn new_totp_secret() -> String {
    base32_encode(&random_bytes(20))
}

fn base32_encode(bytes: &[u8]) -> String {
    totp_rs::Secret::Raw(bytes.to_vec())
        .to_encoded()
        .to_string()
}

fn totp(secret_base32: &str) -> Option<TOTP> {
    let raw = totp_rs::Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .ok()?;
    TOTP::new(
        totp_rs::Algorithm::SHA1,
        TOTP_DIGITS,
        0,
        TOTP_STEP_SECS,
        raw,
        Some("Sante".into()),
        String::new(),
    )
    .ok()
}

/// The code an authenticator shows at `unix_secs` (for tests and the demo's printout).
pub fn totp_code(secret_base32: &str, unix_secs: u64) -> Option<String> {
    totp(secret_base32).map(|t| t.generate(unix_secs))
}

/// Checks a one-time password at `unix_secs`; returns the time step it belongs to, so
/// the caller can refuse a code already used (RFC 6238 §5.2).
pub fn check_totp(secret_base32: &str, code: &str, unix_secs: u64) -> Option<u64> {
    let t = totp(secret_base32)?;
    let code = code.trim();
    if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now_step = (unix_secs / TOTP_STEP_SECS) as i64;
    (-TOTP_SKEW_STEPS..=TOTP_SKEW_STEPS)
        .map(|d| now_step + d)
        .filter(|s| *s >= 0)
        .find(|s| same(&t.generate(*s as u64 * TOTP_STEP_SECS), code))
        .map(|s| s as u64)
}

/// The `otpauth://` URI an authenticator application scans or imports.
pub fn otpauth_uri(secret_base32: &str, login: &str) -> String {
    format!(
        "otpauth://totp/Sante:{login}?secret={secret_base32}&issuer=Sante&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECS}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_wrong_ones_do_not() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse battery ", &phc));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn password_policy_names_the_rule() {
        assert!(check_password_policy("short").is_err());
        assert!(check_password_policy("aaaaaaaaaaaaaaaa").is_err());
        assert!(check_password_policy(&"ab3d!".repeat(60)).is_err());
        assert!(check_password_policy("correct horse battery").is_ok());
    }

    #[test]
    fn totp_matches_the_rfc_6238_test_vector() {
        // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", T = 59 s: 94287082
        // (8 digits); with 6 digits the code is its last six.
        let secret = base32_encode(b"12345678901234567890");
        assert_eq!(totp_code(&secret, 59).as_deref(), Some("287082"));
        assert_eq!(totp_code(&secret, 1111111109).as_deref(), Some("081804"));
        assert_eq!(check_totp(&secret, "287082", 59), Some(1));
        // One step of drift either way is accepted, two are not.
        assert_eq!(check_totp(&secret, "287082", 59 + 30), Some(1));
        assert_eq!(check_totp(&secret, "287082", 59 + 60), None);
        assert_eq!(check_totp(&secret, "28708", 59), None);
        assert_eq!(check_totp(&secret, "abcdef", 59), None);
    }

    #[test]
    fn activation_codes_are_grouped_and_normalised() {
        let code = activation_code();
        assert_eq!(code.len(), 19);
        assert_eq!(normalise_code(&code.to_lowercase()).len(), 16);
        assert_ne!(activation_code().as_str(), code.as_str());
    }
}
