//! The master keyring: the keys that wrap every per-owner data key.
//!
//! The keyring is a small TOML file readable by the server only (mode 0600). It holds
//! one *primary* key, used to wrap new data keys, and older keys kept until every data
//! key they wrapped has been re-wrapped under the primary ([`crate::blob::BlobStore::rewrap_all`]).
//! Rotation therefore never re-encrypts blobs and never stops the server: a running
//! server reloads the file when it changes or when it meets a key id it does not know.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{StoreError, StoreResult};

/// A 256-bit key, wiped from memory when dropped.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; 32]>);

impl Key {
    /// A fresh random key from the OS generator.
    pub fn generate() -> Key {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Key(bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> StoreResult<Key> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| {
            StoreError::Config(format!("a key must be 32 bytes, got {}", bytes.len()))
        })?;
        Ok(Key(Zeroizing::new(array)))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("Key(..)")
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    primary: String,
    keys: BTreeMap<String, String>,
}

impl Drop for KeyringFile {
    fn drop(&mut self) {
        for value in self.keys.values_mut() {
            value.zeroize();
        }
    }
}

/// The set of master keys, with the id of the primary one.
#[derive(Debug, Clone)]
pub struct Keyring {
    primary: String,
    keys: BTreeMap<String, Key>,
}

impl Keyring {
    /// A keyring with one fresh key, named after `now` (`mk-YYYYMMDDHHMMSS`).
    pub fn generate(now: chrono::DateTime<chrono::Utc>) -> Keyring {
        let id = key_id_at(now);
        let mut keys = BTreeMap::new();
        keys.insert(id.clone(), Key::generate());
        Keyring { primary: id, keys }
    }

    pub fn primary_id(&self) -> &str {
        &self.primary
    }

    /// The primary key, used to wrap new data keys.
    pub fn primary(&self) -> StoreResult<(&str, &Key)> {
        self.keys
            .get(&self.primary)
            .map(|k| (self.primary.as_str(), k))
            .ok_or_else(|| StoreError::KeyUnavailable(self.primary.clone()))
    }

    pub fn get(&self, id: &str) -> Option<&Key> {
        self.keys.get(id)
    }

    /// The ids of every key, primary included.
    pub fn ids(&self) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }

    /// Adds a fresh key and makes it primary; returns its id.
    pub fn rotate(&mut self, now: chrono::DateTime<chrono::Utc>) -> String {
        let mut id = key_id_at(now);
        let mut n = 1;
        while self.keys.contains_key(&id) {
            n += 1;
            id = format!("{}-{n}", key_id_at(now));
        }
        self.keys.insert(id.clone(), Key::generate());
        self.primary = id.clone();
        id
    }

    /// Removes a key that is not primary. The caller checks that no data key still
    /// depends on it.
    pub fn retire(&mut self, id: &str) -> StoreResult<()> {
        if id == self.primary {
            return Err(StoreError::Invalid {
                field: "key id",
                reason: "the primary key cannot be retired; rotate first".into(),
            });
        }
        self.keys
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| StoreError::NotFound(format!("master key {id}")))
    }

    /// Reads a keyring file, refusing one readable by other users.
    pub fn load(path: &Path) -> StoreResult<Keyring> {
        check_private(path)?;
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            StoreError::Config(format!(
                "cannot read master keyring {}: {e}",
                path.display()
            ))
        })?);
        let file: KeyringFile = toml::from_str(&text)
            .map_err(|e| StoreError::Config(format!("master keyring {}: {e}", path.display())))?;
        let mut keys = BTreeMap::new();
        for (id, encoded) in &file.keys {
            let bytes = Zeroizing::new(B64.decode(encoded.trim()).map_err(|e| {
                StoreError::Config(format!("master keyring {}: key {id}: {e}", path.display()))
            })?);
            keys.insert(id.clone(), Key::from_bytes(&bytes)?);
        }
        if !keys.contains_key(&file.primary) {
            return Err(StoreError::Config(format!(
                "master keyring {}: primary key {} is not in [keys]",
                path.display(),
                file.primary
            )));
        }
        Ok(Keyring {
            primary: file.primary.clone(),
            keys,
        })
    }

    /// Writes the keyring atomically (temp file, fsync, rename) with mode 0600.
    pub fn save(&self, path: &Path) -> StoreResult<()> {
        let file = KeyringFile {
            primary: self.primary.clone(),
            keys: self
                .keys
                .iter()
                .map(|(id, key)| (id.clone(), B64.encode(key.bytes())))
                .collect(),
        };
        let body = Zeroizing::new(
            toml::to_string(&file)
                .map_err(|e| StoreError::Config(format!("cannot encode keyring: {e}")))?,
        );
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.tmp",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("keyring")
        ));
        {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut out = options.open(&tmp)?;
            out.write_all(
                b"# Sante master keyring. Secret: readable by the server account only.\n\
                  # Rotate with `sante keys rotate`; never edit by hand while the server runs.\n",
            )?;
            out.write_all(body.as_bytes())?;
            out.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            // Make the rename itself durable.
            let _ = d.sync_all();
        }
        Ok(())
    }
}

fn key_id_at(now: chrono::DateTime<chrono::Utc>) -> String {
    format!("mk-{}", now.format("%Y%m%d%H%M%S"))
}

fn check_private(path: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| {
            StoreError::Config(format!(
                "cannot read master keyring {}: {e}",
                path.display()
            ))
        })?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(StoreError::Config(format!(
                "master keyring {} is readable by other users; run chmod 600 on it",
                path.display()
            )));
        }
    }
    Ok(())
}

/// A keyring shared by a running server, reloaded from its file when the file changes
/// (after `sante keys rotate`) so that rotation needs no restart.
#[derive(Debug, Clone)]
pub struct SharedKeyring {
    inner: Arc<RwLock<Loaded>>,
}

#[derive(Debug)]
struct Loaded {
    keyring: Keyring,
    path: Option<PathBuf>,
    modified: Option<SystemTime>,
}

impl SharedKeyring {
    /// Loads the keyring file and watches it for changes.
    pub fn from_file(path: &Path) -> StoreResult<SharedKeyring> {
        let keyring = Keyring::load(path)?;
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        Ok(SharedKeyring {
            inner: Arc::new(RwLock::new(Loaded {
                keyring,
                path: Some(path.to_owned()),
                modified,
            })),
        })
    }

    /// A keyring held in memory only (tests, benchmarks).
    pub fn in_memory(keyring: Keyring) -> SharedKeyring {
        SharedKeyring {
            inner: Arc::new(RwLock::new(Loaded {
                keyring,
                path: None,
                modified: None,
            })),
        }
    }

    /// A snapshot of the current keyring, reloaded first if its file changed.
    pub fn current(&self) -> StoreResult<Keyring> {
        self.reload_if_changed()?;
        let loaded = self.inner.read().map_err(|_| poisoned())?;
        Ok(loaded.keyring.clone())
    }

    /// Replaces the keyring (and writes it to its file, if it has one).
    pub fn replace(&self, keyring: Keyring) -> StoreResult<()> {
        let mut loaded = self.inner.write().map_err(|_| poisoned())?;
        if let Some(path) = &loaded.path {
            keyring.save(path)?;
            loaded.modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        }
        loaded.keyring = keyring;
        Ok(())
    }

    fn reload_if_changed(&self) -> StoreResult<()> {
        let (path, seen) = {
            let loaded = self.inner.read().map_err(|_| poisoned())?;
            match &loaded.path {
                Some(p) => (p.clone(), loaded.modified),
                None => return Ok(()),
            }
        };
        let now = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if now != seen {
            let keyring = Keyring::load(&path)?;
            let mut loaded = self.inner.write().map_err(|_| poisoned())?;
            loaded.keyring = keyring;
            loaded.modified = now;
            tracing::info!(path = %path.display(), "master keyring reloaded");
        }
        Ok(())
    }
}

fn poisoned() -> StoreError {
    StoreError::KeyUnavailable("keyring lock poisoned".into())
}
