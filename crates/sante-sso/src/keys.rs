//! The token-signing keys: RSA 2048 (RS256, which every OpenID Connect library
//! accepts), the private halves in the encrypted blob store, the public halves
//! published as a JWK set. Rotation makes a new current key; the previous ones stay
//! published a day, longer than any token they signed lives.

use std::sync::RwLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use sante_store::Db;
use sante_store::blob::BlobStore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{SsoError, SsoResult};
use crate::store::{self, KEYS};

/// The blob owner under which private keys are sealed.
const KEY_OWNER: &str = "sso-signing-keys";
/// How long a replaced key stays published (tokens live minutes).
const RETIRED_KEEP_HOURS: i64 = 24;
/// A key older than this is replaced by the housekeeping.
pub const ROTATE_AFTER_DAYS: i64 = 90;
/// Tolerated clock difference with the services that present our tokens.
const CLOCK_LEEWAY_SECONDS: i64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    created: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired: Option<DateTime<Utc>>,
    /// Modulus and exponent, base64url: the public half.
    n: String,
    e: String,
}

struct LoadedKey {
    meta: StoredKey,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// The signing keys, loaded.
pub struct Keys {
    loaded: RwLock<Vec<LoadedKey>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

fn signing(e: impl std::fmt::Display) -> SsoError {
    SsoError::Signing(e.to_string())
}

impl Keys {
    pub fn empty() -> Keys {
        Keys {
            loaded: RwLock::new(Vec::new()),
        }
    }

    /// Reads the keys from storage, making the first one if there is none.
    pub async fn load(&self, db: &Db, blobs: &BlobStore, now: DateTime<Utc>) -> SsoResult<()> {
        let mut stored: Vec<StoredKey> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = db.list(KEYS, after.as_deref(), 100).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for record in &page {
                if let Ok(key) = serde_json::from_slice::<StoredKey>(&record.value) {
                    stored.push(key);
                }
            }
            if page.len() < 100 {
                break;
            }
        }
        if !stored.iter().any(|k| k.retired.is_none()) {
            stored.push(generate(db, blobs, now).await?);
        }
        let mut loaded = Vec::new();
        for meta in stored {
            if meta
                .retired
                .is_some_and(|r| now - r > Duration::hours(RETIRED_KEEP_HOURS))
            {
                continue;
            }
            let private = blobs.get(KEY_OWNER, &meta.kid).await?;
            let encoding = EncodingKey::from_rsa_der(&private);
            let decoding = DecodingKey::from_rsa_components(&meta.n, &meta.e).map_err(signing)?;
            loaded.push(LoadedKey {
                meta,
                encoding,
                decoding,
            });
        }
        loaded.sort_by_key(|k| std::cmp::Reverse(k.meta.created));
        match self.loaded.write() {
            Ok(mut guard) => *guard = loaded,
            Err(poisoned) => *poisoned.into_inner() = loaded,
        }
        Ok(())
    }

    /// Makes a new current key and retires the others; returns its id.
    pub async fn rotate(
        &self,
        db: &Db,
        blobs: &BlobStore,
        now: DateTime<Utc>,
    ) -> SsoResult<String> {
        let mut after: Option<String> = None;
        loop {
            let page = db.list(KEYS, after.as_deref(), 100).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for record in &page {
                let Ok(mut key) = serde_json::from_slice::<StoredKey>(&record.value) else {
                    continue;
                };
                if key.retired.is_none() {
                    key.retired = Some(now);
                    store::put(
                        db,
                        KEYS,
                        &key.kid,
                        &key,
                        sante_store::Expect::Version(record.version),
                        now,
                        None,
                    )
                    .await?;
                } else if key
                    .retired
                    .is_some_and(|r| now - r > Duration::hours(RETIRED_KEEP_HOURS))
                {
                    blobs.delete(KEY_OWNER, &key.kid).await?;
                    db.delete(KEYS, &key.kid, sante_store::Expect::Any).await?;
                }
            }
            if page.len() < 100 {
                break;
            }
        }
        let key = generate(db, blobs, now).await?;
        self.load(db, blobs, now).await?;
        Ok(key.kid)
    }

    /// Whether the current key is old enough to be replaced.
    pub fn rotation_due(&self, now: DateTime<Utc>) -> bool {
        self.read(|keys| {
            keys.iter()
                .find(|k| k.meta.retired.is_none())
                .is_none_or(|k| now - k.meta.created > Duration::days(ROTATE_AFTER_DAYS))
        })
    }

    fn read<T>(&self, f: impl FnOnce(&[LoadedKey]) -> T) -> T {
        match self.loaded.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// The public keys, as a JWK set.
    pub fn jwks(&self) -> serde_json::Value {
        self.read(|keys| {
            serde_json::json!({
                "keys": keys.iter().map(|k| serde_json::json!({
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": k.meta.kid,
                    "n": k.meta.n,
                    "e": k.meta.e,
                })).collect::<Vec<_>>()
            })
        })
    }

    /// Signs `claims` with the current key; `typ` is the JOSE type (`JWT`, `at+jwt`,
    /// `logout+jwt`).
    pub fn sign<T: Serialize>(&self, claims: &T, typ: &str) -> SsoResult<String> {
        self.read(|keys| {
            let key = keys
                .iter()
                .find(|k| k.meta.retired.is_none())
                .ok_or_else(|| SsoError::Signing("no current signing key".into()))?;
            let mut header = Header::new(Algorithm::RS256);
            header.kid = Some(key.meta.kid.clone());
            header.typ = Some(typ.to_owned());
            jsonwebtoken::encode(&header, claims, &key.encoding).map_err(signing)
        })
    }

    /// Checks a token's signature with the key its header names, and its expiry
    /// against `now` (the platform's clock, not the host's; `None` for logout hints,
    /// which may be expired), and returns its claims.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        issuer: &str,
        now: Option<DateTime<Utc>>,
    ) -> SsoResult<T> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| SsoError::InvalidToken("not a signed token".into()))?;
        if header.alg != Algorithm::RS256 || header.typ.as_deref() != Some(typ) {
            return Err(SsoError::InvalidToken("not a token of this kind".into()));
        }
        let kid = header
            .kid
            .ok_or_else(|| SsoError::InvalidToken("no key id".into()))?;
        self.read(|keys| {
            let key = keys
                .iter()
                .find(|k| k.meta.kid == kid)
                .ok_or_else(|| SsoError::InvalidToken("signed by an unknown key".into()))?;
            let mut validation = Validation::new(Algorithm::RS256);
            validation.set_issuer(&[issuer]);
            validation.validate_aud = false;
            // Dates are checked below against the platform's clock.
            validation.validate_exp = false;
            validation.required_spec_claims.remove("exp");
            let claims =
                jsonwebtoken::decode::<serde_json::Value>(token, &key.decoding, &validation)
                    .map(|d| d.claims)
                    .map_err(|e| SsoError::InvalidToken(e.to_string()))?;
            if let Some(now) = now {
                let exp = claims.get("exp").and_then(serde_json::Value::as_i64);
                if exp.is_none_or(|exp| exp + CLOCK_LEEWAY_SECONDS < now.timestamp()) {
                    return Err(SsoError::InvalidToken("the token has expired".into()));
                }
            }
            serde_json::from_value(claims).map_err(|e| SsoError::InvalidToken(e.to_string()))
        })
    }
}

async fn generate(db: &Db, blobs: &BlobStore, now: DateTime<Utc>) -> SsoResult<StoredKey> {
    // Key generation takes a moment: off the async threads.
    let private =
        tokio::task::spawn_blocking(|| rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048))
            .await
            .map_err(signing)?
            .map_err(signing)?;
    let der = private.to_pkcs1_der().map_err(signing)?;
    let kid = format!(
        "{}-{}",
        now.format("%Y%m%d"),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let meta = StoredKey {
        kid: kid.clone(),
        created: now,
        retired: None,
        n: B64.encode(private.n().to_bytes_be()),
        e: B64.encode(private.e().to_bytes_be()),
    };
    blobs.put(KEY_OWNER, &kid, der.as_bytes()).await?;
    store::put(
        db,
        KEYS,
        &kid,
        &meta,
        sante_store::Expect::Absent,
        now,
        None,
    )
    .await?;
    Ok(meta)
}
