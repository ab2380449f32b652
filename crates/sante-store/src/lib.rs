//! Storage for Sante: the only crate that knows SQL and object storage.
//!
//! Two relational backends sit behind one API, chosen by configuration: SQLite (the
//! embedded default, WAL mode, every commit synced to disk) and PostgreSQL (production).
//! Both have versioned migrations under `migrations/`. Blobs (documents, mail bodies) go
//! to an object store, a local directory or S3, always encrypted with per-owner data keys
//! wrapped by the master key ([`blob`]).
//!
//! Architecture invariant: this crate knows nothing of HTTP, mail, FHIR or of any
//! service's rules. It stores bytes and rows; the meaning belongs to the contexts above.

pub mod audit_log;
mod bench;
pub mod blob;
mod db;
mod error;
pub mod keyring;
mod records;
pub mod retry;
pub mod sealing;

pub use db::{Backend, Db, MigrationStatus, StoreConfig};
pub use error::{StoreError, StoreResult};
pub use records::{Expect, Record, Term, TermQuery, WriteOp};

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests;
