//! The platform a test stands on (feature `testing`): a fresh database, a clock moved
//! by hand, a real audit trail and an encrypted blob store in a temporary directory.
//! Every service's tests build on it instead of assembling their own copy.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sante_store::Db;
use sante_store::blob::{BlobBackend, BlobStore};
use sante_store::keyring::{Keyring, SharedKeyring};
use sante_types::ManualClock;

use crate::{AuditEvent, AuditLog, CheckpointSigner, Recorder, SealPolicy};

/// A database with what every service needs beside it.
pub struct TestPlatform {
    pub db: Db,
    pub clock: Arc<ManualClock>,
    pub audit: AuditLog,
    pub blobs: BlobStore,
    _blob_dir: tempfile::TempDir,
}

impl TestPlatform {
    /// The platform over `db`, its clock at `start`.
    ///
    /// # Panics
    /// When the trail or the blob store cannot be opened: a test cannot go on.
    pub async fn new(db: Db, start: DateTime<Utc>) -> TestPlatform {
        let clock = Arc::new(ManualClock::new(start));
        #[allow(clippy::expect_used)] // A fixture that cannot be built fails the test.
        let audit = AuditLog::open(
            db.clone(),
            CheckpointSigner::generate(),
            clock.clone(),
            SealPolicy::default(),
        )
        .await
        .expect("the audit trail opens");
        #[allow(clippy::expect_used)]
        let blob_dir = tempfile::tempdir().expect("a temporary directory");
        #[allow(clippy::expect_used)]
        let blobs = BlobStore::open(
            &BlobBackend::Local {
                path: blob_dir.path().to_owned(),
            },
            db.clone(),
            SharedKeyring::in_memory(Keyring::generate(start)),
            clock.clone(),
        )
        .expect("the blob store opens");
        TestPlatform {
            db,
            clock,
            audit,
            blobs,
            _blob_dir: blob_dir,
        }
    }

    /// The trail, as services take it.
    pub fn recorder(&self) -> Arc<dyn Recorder> {
        Arc::new(self.audit.clone())
    }

    /// The events of `stream` recorded so far, oldest first.
    ///
    /// # Panics
    /// When the trail cannot be read back.
    pub async fn events(&self, stream: &str) -> Vec<AuditEvent> {
        #[allow(clippy::expect_used)]
        let records = self
            .db
            .audit_records(stream, 0, 100_000)
            .await
            .expect("the trail can be read");
        records
            .iter()
            .filter_map(|r| serde_json::from_slice(&r.event).ok())
            .collect()
    }
}
