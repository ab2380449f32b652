//! The storage error type.

use sante_types::{Coded, ErrorKind};

/// What can go wrong in storage. Callers act on `NotFound` and `Conflict`; the others
/// are reported with their source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// An optimistic-concurrency expectation did not hold, or a unique key is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller passed something the store refuses (empty key, oversized value...).
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The configuration names something unusable (bad URL, unknown scheme...).
    #[error("storage configuration: {0}")]
    Config(String),
    /// Stored data failed an integrity check: it was altered or damaged at rest.
    #[error("integrity check failed: {0}")]
    Integrity(String),
    /// A key needed to decrypt is missing from the keyring.
    #[error("key not available: {0}")]
    KeyUnavailable(String),
    /// The database's own message says what (locked, constraint...); it names tables
    /// and columns, never stored values.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("object store error")]
    ObjectStore(#[from] object_store::Error),
    #[error("i/o error")]
    Io(#[from] std::io::Error),
}

impl Coded for StoreError {
    fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound(_) => "STO001",
            StoreError::Conflict(_) => "STO002",
            StoreError::Invalid { .. } => "STO003",
            StoreError::Config(_) => "STO004",
            StoreError::Integrity(_) => "STO005",
            StoreError::KeyUnavailable(_) => "STO006",
            StoreError::Database(_) => "STO100",
            StoreError::Migrate(_) => "STO101",
            StoreError::ObjectStore(_) => "STO102",
            StoreError::Io(_) => "STO103",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            StoreError::NotFound(_) => ErrorKind::NotFound,
            StoreError::Conflict(_) => ErrorKind::Conflict,
            StoreError::Invalid { .. } => ErrorKind::Invalid,
            // Data altered at rest, a key gone, a configuration or schema that cannot
            // work: waiting will not help, the operator must look.
            StoreError::Config(_)
            | StoreError::Integrity(_)
            | StoreError::KeyUnavailable(_)
            | StoreError::Migrate(_) => ErrorKind::Internal,
            StoreError::Database(_) | StoreError::ObjectStore(_) | StoreError::Io(_) => {
                ErrorKind::Unavailable
            }
        }
    }
}

/// Result alias for storage operations.
pub type StoreResult<T> = Result<T, StoreError>;
