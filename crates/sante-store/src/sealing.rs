//! Records sealed at rest, and blind index terms (PLT-10).
//!
//! A database file or dump read raw must hold no health content, no mail and no
//! national number in clear. A [`Db`] opened with [`Sealing`] seals every record value
//! with AES-256-GCM before it is written and opens it when it is read, under a key of
//! its own for each record (derived from the store's record key by HMAC-SHA256 over
//! the collection and the key, so that no key seals more than one record's versions and
//! random nonces stay far from their bound), with the collection and the key as
//! associated data: a value moved to another record fails its integrity check.
//!
//! Search terms must stay comparable, so they cannot be sealed: the terms of the
//! fields named blind (national numbers, and the matching keys built from them) are
//! stored as an HMAC-SHA256 of the field and the value under the store's index key —
//! equal values still find each other, the file shows neither. A blind field is
//! searched exactly, never by prefix.
//!
//! Both keys are data keys like the blob store's: random, kept in `blob_keys` wrapped
//! by the master keyring, so a rotation of the master key re-wraps them with every
//! other data key (`sante keys rotate`) while values and terms keep their seal.
//!
//! Values written before sealing was enabled carry no seal and are read as they are;
//! they are sealed when next written, or all at once by [`crate::Db::reseal`]
//! (`sante keys reseal`), which also blinds the terms written in clear.

use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::blob::{RESERVED_OWNER_PREFIX, owner_key};
use crate::db::Db;
use crate::error::{StoreError, StoreResult};
use crate::keyring::{Key, SharedKeyring};
use sante_types::Clock;

/// A sealed value starts so; a value without it was written before sealing.
const MAGIC: &[u8; 5] = b"SNTR\x01";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// How many bytes sealing adds to a value.
pub const SEAL_OVERHEAD: usize = MAGIC.len() + NONCE_LEN + TAG_LEN;
/// A blind term: this prefix and 32 hexadecimal digits (128 bits of the HMAC).
const BLIND_PREFIX: &str = "h:";

/// How a [`Db`] seals: the keyring its keys are wrapped by, and the blind fields.
pub struct Sealing {
    keyring: SharedKeyring,
    clock: Arc<dyn Clock>,
    blind_fields: Vec<String>,
    keys: OnceCell<Keys>,
}

struct Keys {
    record: Key,
    index: Key,
}

impl std::fmt::Debug for Sealing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealing")
            .field("blind_fields", &self.blind_fields)
            .finish_non_exhaustive()
    }
}

impl Sealing {
    /// Seals under keys wrapped by `keyring`; the terms of `blind_fields` are blinded.
    pub fn new(keyring: SharedKeyring, clock: Arc<dyn Clock>, blind_fields: &[&str]) -> Sealing {
        Sealing {
            keyring,
            clock,
            blind_fields: blind_fields.iter().map(|f| (*f).to_owned()).collect(),
            keys: OnceCell::new(),
        }
    }

    /// The store's keys, created on first use (the database must be migrated).
    async fn keys(&self, db: &Db) -> StoreResult<&Keys> {
        self.keys
            .get_or_try_init(|| async {
                let now = self.clock.now().timestamp_micros();
                let owner = |name: &str| format!("{RESERVED_OWNER_PREFIX}{name}");
                let (_, record) =
                    owner_key(db, &self.keyring, &owner("records"), true, now).await?;
                let (_, index) = owner_key(db, &self.keyring, &owner("index"), true, now).await?;
                Ok::<Keys, StoreError>(Keys { record, index })
            })
            .await
    }

    pub(crate) fn blind_fields(&self) -> &[String] {
        &self.blind_fields
    }

    pub(crate) fn is_blind(&self, field: &str) -> bool {
        self.blind_fields.iter().any(|f| f == field)
    }

    /// What a reader or writer of `db` needs, the keys loaded.
    pub(crate) async fn ready<'a>(&'a self, db: &Db) -> StoreResult<Ready<'a>> {
        Ok(Ready {
            sealing: self,
            keys: self.keys(db).await?,
        })
    }
}

/// Whether a stored value carries the seal.
pub(crate) fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(MAGIC)
}

/// The sealing with its keys at hand: sealing, opening and blinding are then sync.
pub(crate) struct Ready<'a> {
    sealing: &'a Sealing,
    keys: &'a Keys,
}

impl Ready<'_> {
    fn cipher(&self, collection: &str, key: &str) -> StoreResult<Aes256Gcm> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.keys.record.bytes())
            .map_err(|_| StoreError::KeyUnavailable("bad record key length".into()))?;
        mac.update(b"sante-record-v1\0");
        mac.update(collection.as_bytes());
        mac.update(b"\0");
        mac.update(key.as_bytes());
        let subkey: zeroize::Zeroizing<[u8; 32]> =
            zeroize::Zeroizing::new(mac.finalize().into_bytes().into());
        Aes256Gcm::new_from_slice(subkey.as_slice())
            .map_err(|_| StoreError::KeyUnavailable("bad record key length".into()))
    }

    fn aad(collection: &str, key: &str) -> Vec<u8> {
        format!("{collection}\0{key}").into_bytes()
    }

    /// `value` sealed for the record `collection`/`key`.
    pub(crate) fn seal(&self, collection: &str, key: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher(collection, key)?
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: value,
                    aad: &Self::aad(collection, key),
                },
            )
            .map_err(|_| StoreError::Integrity("sealing failed".into()))?;
        let mut out = Vec::with_capacity(SEAL_OVERHEAD + value.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The value in clear of the record `collection`/`key` as stored.
    pub(crate) fn open(
        &self,
        collection: &str,
        key: &str,
        stored: Vec<u8>,
    ) -> StoreResult<Vec<u8>> {
        let Some(rest) = stored.strip_prefix(MAGIC.as_slice()) else {
            // Written before sealing was enabled.
            return Ok(stored);
        };
        let damaged = || {
            StoreError::Integrity(format!(
                "record {collection}/{key} failed its integrity check"
            ))
        };
        let nonce = rest.get(..NONCE_LEN).ok_or_else(damaged)?;
        let sealed = rest.get(NONCE_LEN..).unwrap_or_default();
        self.cipher(collection, key)?
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &Self::aad(collection, key),
                },
            )
            .map_err(|_| damaged())
    }

    /// The term stored for `value` of `field`: blinded when the field is blind.
    pub(crate) fn term(&self, field: &str, value: &str) -> String {
        if !self.sealing.is_blind(field) {
            return value.to_owned();
        }
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(self.keys.index.bytes()) else {
            // A 32-byte key is always accepted by HMAC.
            return String::new();
        };
        mac.update(b"sante-term-v1\0");
        mac.update(field.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("{BLIND_PREFIX}{}", hex::encode(&digest[..16]))
    }
}
