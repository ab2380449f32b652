//! The encrypted blob store: documents and mail bodies, never stored in clear.
//!
//! Blobs go to an object store through the `object_store` crate: a local directory by
//! default, an S3-compatible service in production. Each owner (a patient's record, a
//! mailbox) has its own random 256-bit data key; the data key is stored in the database
//! wrapped (AES-256-GCM) by the current master key of the [`crate::keyring`]. Each blob
//! is sealed with AES-256-GCM under its owner's data key, with the owner and the object
//! name as associated data, so a blob altered, truncated or moved to another owner or
//! name fails its integrity check on read.
//!
//! Deleting an owner's data key makes every blob of that owner unreadable at once
//! (crypto-erasure), which retention rules use.

use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{Db, Pool};
use crate::error::{StoreError, StoreResult};
use crate::keyring::{Key, SharedKeyring};
use crate::records::on_pool;
use sante_types::Clock;

const MAGIC: &[u8; 4] = b"SNTB";
const FORMAT_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
/// Largest blob accepted in one piece.
pub const MAX_BLOB_BYTES: usize = 256 * 1024 * 1024;

/// Where blobs are kept.
#[derive(Debug, Clone)]
pub enum BlobBackend {
    /// A directory on the local file system (created if missing).
    Local { path: std::path::PathBuf },
    /// An S3-compatible service.
    S3 {
        bucket: String,
        /// e.g. `https://s3.example.lu`; `None` for AWS itself.
        endpoint: Option<String>,
        region: String,
        access_key_id: String,
        secret_access_key: SecretString,
        /// Allow `http://` endpoints: only for a service on loopback.
        allow_http: bool,
    },
}

/// What was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub name: String,
    /// Size of the content in clear.
    pub size: u64,
    /// SHA-256 of the content in clear, hex: lets callers deduplicate and cite content.
    pub sha256: String,
}

/// The encrypted blob store. Cheap to clone.
#[derive(Clone)]
pub struct BlobStore {
    objects: Arc<dyn ObjectStore>,
    db: Db,
    keyring: SharedKeyring,
    clock: Arc<dyn Clock>,
    /// Unwrapped data keys by owner, to avoid a database read per blob.
    cache: Arc<Mutex<HashMap<String, (String, Key)>>>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("objects", &self.objects.to_string())
            .finish_non_exhaustive()
    }
}

const CACHE_LIMIT: usize = 10_000;

impl BlobStore {
    /// Opens the configured object store.
    pub fn open(
        backend: &BlobBackend,
        db: Db,
        keyring: SharedKeyring,
        clock: Arc<dyn Clock>,
    ) -> StoreResult<BlobStore> {
        let objects: Arc<dyn ObjectStore> = match backend {
            BlobBackend::Local { path } => {
                std::fs::create_dir_all(path)?;
                Arc::new(object_store::local::LocalFileSystem::new_with_prefix(path)?)
            }
            BlobBackend::S3 {
                bucket,
                endpoint,
                region,
                access_key_id,
                secret_access_key,
                allow_http,
            } => {
                let mut builder = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_access_key_id(access_key_id)
                    .with_secret_access_key(secret_access_key.expose_secret())
                    .with_allow_http(*allow_http);
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false);
                }
                Arc::new(builder.build()?)
            }
        };
        Ok(BlobStore {
            objects,
            db,
            keyring,
            clock,
            cache: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Encrypts and stores `content` under `owner` and `name`, replacing any previous
    /// content of that name. Durable when this returns.
    pub async fn put(&self, owner: &str, name: &str, content: &[u8]) -> StoreResult<BlobMeta> {
        check_name("owner", owner)?;
        check_name("name", name)?;
        if content.len() > MAX_BLOB_BYTES {
            return Err(StoreError::Invalid {
                field: "content",
                reason: format!("{} bytes exceeds {MAX_BLOB_BYTES}", content.len()),
            });
        }
        let (key_id, key) = self.data_key(owner, true).await?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let header = header(&key_id)?;
        let aad = associated_data(&header, owner, name);
        let cipher = Aes256Gcm::new_from_slice(key.bytes())
            .map_err(|_| StoreError::KeyUnavailable("bad data key length".into()))?;
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: content,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Integrity("encryption failed".into()))?;
        let mut body = Vec::with_capacity(header.len() + NONCE_LEN + sealed.len());
        body.extend_from_slice(&header);
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&sealed);
        self.objects
            .put(&object_path(owner, name), PutPayload::from(body))
            .await?;
        Ok(BlobMeta {
            name: name.to_owned(),
            size: content.len() as u64,
            sha256: hex::encode(Sha256::digest(content)),
        })
    }

    /// Reads, checks and decrypts a blob.
    pub async fn get(&self, owner: &str, name: &str) -> StoreResult<Vec<u8>> {
        check_name("owner", owner)?;
        check_name("name", name)?;
        let body = match self.objects.get(&object_path(owner, name)).await {
            Ok(result) => result.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(StoreError::NotFound(format!("blob {name}")));
            }
            Err(e) => return Err(e.into()),
        };
        let (key_id, header_len) = parse_header(&body)?;
        let (stored_key_id, key) = self.data_key(owner, false).await?;
        if stored_key_id != key_id {
            return Err(StoreError::Integrity(format!(
                "blob {name} names data key {key_id}, owner's key is {stored_key_id}"
            )));
        }
        let header = body.get(..header_len).unwrap_or_default();
        let nonce = body
            .get(header_len..header_len + NONCE_LEN)
            .ok_or_else(|| StoreError::Integrity(format!("blob {name} is truncated")))?;
        let sealed = body.get(header_len + NONCE_LEN..).unwrap_or_default();
        let aad = associated_data(header, owner, name);
        let cipher = Aes256Gcm::new_from_slice(key.bytes())
            .map_err(|_| StoreError::KeyUnavailable("bad data key length".into()))?;
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Integrity(format!("blob {name} failed its integrity check")))
    }

    /// Deletes a blob; deleting a missing blob is not an error.
    pub async fn delete(&self, owner: &str, name: &str) -> StoreResult<()> {
        check_name("owner", owner)?;
        check_name("name", name)?;
        match self.objects.delete(&object_path(owner, name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Destroys the owner's data key: every blob of that owner becomes unreadable.
    pub async fn erase_owner(&self, owner: &str) -> StoreResult<()> {
        check_name("owner", owner)?;
        on_pool!(&self.db.pool, |p| sqlx::query(
            "DELETE FROM blob_keys WHERE owner = $1"
        )
        .bind(owner)
        .execute(p)
        .await?
        .rows_affected());
        self.lock_cache()?.remove(owner);
        Ok(())
    }

    /// Re-wraps, under the current primary master key, every data key wrapped by another
    /// master key. Runs while the server serves; returns how many keys were re-wrapped.
    pub async fn rewrap_all(&self, mut progress: impl FnMut(u64, u64)) -> StoreResult<u64> {
        let keyring = self.keyring.current()?;
        let (primary_id, primary) = keyring.primary()?;
        let now_micros = self.clock.now().timestamp_micros();
        let total: i64 = on_pool!(&self.db.pool, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM blob_keys WHERE master_key_id <> $1"
        )
        .bind(primary_id)
        .fetch_one(p)
        .await?);
        let total = u64::try_from(total).unwrap_or(0);
        let mut done = 0u64;
        loop {
            let batch: Vec<(String, String, String, Vec<u8>)> = on_pool!(&self.db.pool, |p| {
                sqlx::query_as(
                    "SELECT key_id, owner, master_key_id, wrapped FROM blob_keys \
                     WHERE master_key_id <> $1 ORDER BY key_id LIMIT 500",
                )
                .bind(primary_id)
                .fetch_all(p)
                .await?
            });
            if batch.is_empty() {
                break;
            }
            for (key_id, owner, master_id, wrapped) in batch {
                let master = keyring
                    .get(&master_id)
                    .ok_or_else(|| StoreError::KeyUnavailable(master_id.clone()))?;
                let data_key = unwrap_key(master, &master_id, &owner, &wrapped)?;
                let rewrapped = wrap_key(primary, primary_id, &owner, &data_key)?;
                // Only replace what we read: a concurrent change wins and is seen next pass.
                on_pool!(&self.db.pool, |p| sqlx::query(
                    "UPDATE blob_keys SET master_key_id = $1, wrapped = $2, rewrapped_at = $3 \
                     WHERE key_id = $4 AND master_key_id = $5"
                )
                .bind(primary_id)
                .bind(rewrapped.as_slice())
                .bind(now_micros)
                .bind(key_id.as_str())
                .bind(master_id.as_str())
                .execute(p)
                .await?
                .rows_affected());
                done += 1;
                progress(done, total.max(done));
            }
        }
        Ok(done)
    }

    /// How many data keys each master key wraps.
    pub async fn master_key_usage(&self) -> StoreResult<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = on_pool!(&self.db.pool, |p| {
            sqlx::query_as(
            "SELECT master_key_id, COUNT(*) FROM blob_keys GROUP BY master_key_id ORDER BY master_key_id"
        )
        .fetch_all(p)
        .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    /// Checks the object store answers: used by `/readyz`.
    pub async fn ping(&self) -> StoreResult<()> {
        match self
            .objects
            .head(&ObjectPath::from("readiness-probe"))
            .await
        {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn lock_cache(&self) -> StoreResult<std::sync::MutexGuard<'_, HashMap<String, (String, Key)>>> {
        self.cache
            .lock()
            .map_err(|_| StoreError::KeyUnavailable("data key cache lock poisoned".into()))
    }

    /// The owner's data key (its id and the key in clear), created if `create` is set.
    async fn data_key(&self, owner: &str, create: bool) -> StoreResult<(String, Key)> {
        if let Some(hit) = self.lock_cache()?.get(owner) {
            return Ok(hit.clone());
        }
        let now = self.clock.now().timestamp_micros();
        let entry = owner_key(&self.db, &self.keyring, owner, create, now).await?;
        let mut cache = self.lock_cache()?;
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(owner.to_owned(), entry.clone());
        Ok(entry)
    }
}

/// Owners the store keeps for itself (the keys sealing records and blinding index
/// terms): no blob owner may take their names, so erasing a blob owner never erases
/// them.
pub(crate) const RESERVED_OWNER_PREFIX: &str = "sante-store:";

/// The data key of `owner` (its id and the key in clear), wrapped in `blob_keys` by a
/// master key of the keyring, created (at `now`, in microseconds) if `create` is set.
pub(crate) async fn owner_key(
    db: &Db,
    keyring: &SharedKeyring,
    owner: &str,
    create: bool,
    now: i64,
) -> StoreResult<(String, Key)> {
    let row: Option<(String, String, Vec<u8>)> = on_pool!(&db.pool, |p| {
        sqlx::query_as("SELECT key_id, master_key_id, wrapped FROM blob_keys WHERE owner = $1")
            .bind(owner)
            .fetch_optional(p)
            .await?
    });
    let current = keyring.current()?;
    match row {
        Some((key_id, master_id, wrapped)) => {
            let master = current.get(&master_id).ok_or_else(|| {
                StoreError::KeyUnavailable(format!("master key {master_id} not in keyring"))
            })?;
            Ok((key_id, unwrap_key(master, &master_id, owner, &wrapped)?))
        }
        None if create => {
            let (master_id, master) = current.primary()?;
            let key_id = format!("dk-{}", uuid::Uuid::now_v7().simple());
            let data_key = Key::generate();
            let wrapped = wrap_key(master, master_id, owner, &data_key)?;
            let inserted = on_pool!(&db.pool, |p| sqlx::query(
                "INSERT INTO blob_keys (key_id, owner, master_key_id, wrapped, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner) DO NOTHING"
            )
            .bind(key_id.as_str())
            .bind(owner)
            .bind(master_id)
            .bind(wrapped.as_slice())
            .bind(now)
            .execute(p)
            .await?
            .rows_affected());
            if inserted == 0 {
                // Another writer created the owner's key first: use theirs.
                return Box::pin(owner_key(db, keyring, owner, false, now)).await;
            }
            Ok((key_id, data_key))
        }
        None => Err(StoreError::NotFound(format!("data key of owner {owner}"))),
    }
}

fn check_name(field: &'static str, value: &str) -> StoreResult<()> {
    let ok = !value.is_empty()
        && !value.starts_with(RESERVED_OWNER_PREFIX)
        && value.len() <= 200
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-@".contains(&b))
        && !value.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field,
            reason: "1-200 characters among letters, digits and ._:-@, not starting with '.'"
                .into(),
        })
    }
}

/// Object names do not reveal owners (which may be patient identifiers): the owner
/// part of the path is a hash.
fn object_path(owner: &str, name: &str) -> ObjectPath {
    let digest = Sha256::digest(owner.as_bytes());
    let prefix = hex::encode(digest.get(..16).unwrap_or_default());
    ObjectPath::from(format!("{prefix}/{name}"))
}

fn header(key_id: &str) -> StoreResult<Vec<u8>> {
    let len = u8::try_from(key_id.len()).map_err(|_| StoreError::Invalid {
        field: "key id",
        reason: "longer than 255 bytes".into(),
    })?;
    let mut out = Vec::with_capacity(6 + key_id.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.push(len);
    out.extend_from_slice(key_id.as_bytes());
    Ok(out)
}

fn parse_header(body: &[u8]) -> StoreResult<(String, usize)> {
    let bad = || StoreError::Integrity("blob header is damaged".into());
    if body.get(..4) != Some(MAGIC.as_slice()) || body.get(4) != Some(&FORMAT_VERSION) {
        return Err(bad());
    }
    let len = usize::from(*body.get(5).ok_or_else(bad)?);
    let id = body.get(6..6 + len).ok_or_else(bad)?;
    let id = std::str::from_utf8(id).map_err(|_| bad())?;
    Ok((id.to_owned(), 6 + len))
}

fn associated_data(header: &[u8], owner: &str, name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + owner.len() + name.len() + 2);
    aad.extend_from_slice(header);
    aad.extend_from_slice(owner.as_bytes());
    aad.push(0);
    aad.extend_from_slice(name.as_bytes());
    aad
}

fn wrap_aad(master_id: &str, owner: &str) -> Vec<u8> {
    format!("sante-data-key\0{master_id}\0{owner}").into_bytes()
}

fn wrap_key(master: &Key, master_id: &str, owner: &str, data_key: &Key) -> StoreResult<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(master.bytes())
        .map_err(|_| StoreError::KeyUnavailable("bad master key length".into()))?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let aad = wrap_aad(master_id, owner);
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: data_key.bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| StoreError::Integrity("key wrapping failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn unwrap_key(master: &Key, master_id: &str, owner: &str, wrapped: &[u8]) -> StoreResult<Key> {
    let cipher = Aes256Gcm::new_from_slice(master.bytes())
        .map_err(|_| StoreError::KeyUnavailable("bad master key length".into()))?;
    let nonce = wrapped
        .get(..NONCE_LEN)
        .ok_or_else(|| StoreError::Integrity("wrapped data key is truncated".into()))?;
    let sealed = wrapped.get(NONCE_LEN..).unwrap_or_default();
    let aad = wrap_aad(master_id, owner);
    let clear = zeroize::Zeroizing::new(
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                StoreError::Integrity(format!("data key of {owner} failed its integrity check"))
            })?,
    );
    Key::from_bytes(&clear)
}
