//! The hash chain and the checkpoint format: what is hashed and signed, byte for byte.
//!
//! Changing anything here makes every existing trail fail verification, so each
//! format carries a version tag.

use sha2::{Digest, Sha256};

/// The hash before the first record of a stream.
pub const GENESIS: [u8; 32] = [0; 32];

/// The hash of one record: binds the stream, its position, its epoch, the previous
/// hash and the event bytes as stored.
pub fn record_hash(stream: &str, seq: i64, epoch: i64, prev_hash: &[u8], event: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"sante-audit-record-v1\0");
    h.update(stream.as_bytes());
    h.update([0]);
    h.update(seq.to_be_bytes());
    h.update(epoch.to_be_bytes());
    h.update((prev_hash.len() as u32).to_be_bytes());
    h.update(prev_hash);
    h.update(Sha256::digest(event));
    h.finalize().into()
}

/// The fields of a checkpoint that are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointBody<'a> {
    pub stream: &'a str,
    pub epoch: i64,
    pub first_seq: i64,
    pub last_seq: i64,
    pub record_count: i64,
    pub start_hash: &'a [u8],
    pub end_hash: &'a [u8],
    pub last_recorded_at: i64,
    pub sealed_at: i64,
    pub prev_checkpoint_hash: &'a [u8],
}

impl CheckpointBody<'_> {
    /// The canonical bytes that are hashed and signed.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(200);
        out.extend_from_slice(b"sante-audit-checkpoint-v1\0");
        out.extend_from_slice(self.stream.as_bytes());
        out.push(0);
        for n in [
            self.epoch,
            self.first_seq,
            self.last_seq,
            self.record_count,
            self.last_recorded_at,
            self.sealed_at,
        ] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        for h in [self.start_hash, self.end_hash, self.prev_checkpoint_hash] {
            out.extend_from_slice(&(h.len() as u32).to_be_bytes());
            out.extend_from_slice(h);
        }
        out
    }

    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.bytes()).into()
    }
}

/// The fields of a purge marker that are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeBody<'a> {
    pub stream: &'a str,
    pub purged_through_epoch: i64,
    pub last_seq: i64,
    pub last_end_hash: &'a [u8],
    pub last_checkpoint_hash: &'a [u8],
    pub purged_at: i64,
}

impl PurgeBody<'_> {
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(b"sante-audit-purge-v1\0");
        out.extend_from_slice(self.stream.as_bytes());
        out.push(0);
        for n in [self.purged_through_epoch, self.last_seq, self.purged_at] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        for h in [self.last_end_hash, self.last_checkpoint_hash] {
            out.extend_from_slice(&(h.len() as u32).to_be_bytes());
            out.extend_from_slice(h);
        }
        out
    }
}
