//! The Ed25519 keys that sign checkpoints and purge markers.
//!
//! The key id is derived from the public key, so a checkpoint names the key that can
//! verify it; after a signer rotation, the old public keys stay in [`VerifyingKeys`].

use std::collections::BTreeMap;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::AuditError;

/// The private key that signs; never printed.
pub struct CheckpointSigner {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

fn key_id(public: &VerifyingKey) -> String {
    let digest = Sha256::digest(public.as_bytes());
    format!(
        "ed25519:{}",
        hex::encode(digest.get(..8).unwrap_or_default())
    )
}

impl CheckpointSigner {
    /// A fresh key from the OS generator.
    pub fn generate() -> CheckpointSigner {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let key_id = key_id(&key.verifying_key());
        CheckpointSigner { key, key_id }
    }

    /// Reads a PKCS#8 PEM private key.
    pub fn from_pem(pem: &str) -> Result<CheckpointSigner, AuditError> {
        let key = SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| AuditError::Key(format!("not an Ed25519 PKCS#8 PEM key: {e}")))?;
        let key_id = key_id(&key.verifying_key());
        Ok(CheckpointSigner { key, key_id })
    }

    /// The PKCS#8 PEM form, for writing to a 0600 file.
    pub fn to_pem(&self) -> Result<String, AuditError> {
        self.key
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| AuditError::Key(format!("cannot encode key: {e}")))
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn sign(&self, bytes: &[u8]) -> Vec<u8> {
        self.key.sign(bytes).to_bytes().to_vec()
    }
}

/// The public keys that verify, by key id.
#[derive(Debug, Clone, Default)]
pub struct VerifyingKeys {
    keys: BTreeMap<String, VerifyingKey>,
}

impl VerifyingKeys {
    pub fn from_signer(signer: &CheckpointSigner) -> VerifyingKeys {
        let mut keys = VerifyingKeys::default();
        keys.add(signer.verifying_key());
        keys
    }

    pub fn add(&mut self, key: VerifyingKey) {
        self.keys.insert(key_id(&key), key);
    }

    /// Whether `signature` by key `key_id` is valid for `bytes`: `None` if the key is
    /// unknown.
    pub fn verify(&self, key_id: &str, bytes: &[u8], signature: &[u8]) -> Option<bool> {
        let key = self.keys.get(key_id)?;
        let Ok(signature) = Signature::from_slice(signature) else {
            return Some(false);
        };
        Some(key.verify(bytes, &signature).is_ok())
    }
}
