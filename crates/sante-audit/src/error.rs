//! The audit trail's errors, and the failures every context shares.
//!
//! [`PlatformError`] is what storage, the audit trail and unreadable stored data do to
//! any service: each context's error enum holds it as one `Platform` variant, and
//! [`platform_error_conversions!`] writes that enum's conversions from the storage and
//! audit errors, so that a missing record, a concurrent change and an outage mean the
//! same thing in every context.

use sante_store::StoreError;
use sante_types::{Coded, ErrorKind};

/// What can go wrong with the audit trail.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit storage: {0}")]
    Store(#[from] StoreError),
    #[error("audit write failed: {0}")]
    Write(String),
    #[error("audit signing key: {0}")]
    Key(String),
    #[error("audit export: {0}")]
    Export(String),
    #[error("the audit log is closed")]
    Closed,
}

impl Coded for AuditError {
    fn code(&self) -> &'static str {
        match self {
            AuditError::Store(e) => e.code(),
            AuditError::Write(_) => "AUD002",
            AuditError::Key(_) => "AUD003",
            AuditError::Export(_) => "AUD004",
            AuditError::Closed => "AUD005",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            AuditError::Store(e) => e.kind(),
            AuditError::Key(_) => ErrorKind::Internal,
            AuditError::Write(_) | AuditError::Export(_) | AuditError::Closed => {
                ErrorKind::Unavailable
            }
        }
    }
}

/// Why an event could not be recorded. Callers must treat this as a failure of the
/// action itself: an untraced access is not allowed to proceed (PLT-6).
#[derive(Debug, thiserror::Error)]
#[error("audit trail unavailable: {0}")]
pub struct RecordError(pub String);

impl Coded for RecordError {
    fn code(&self) -> &'static str {
        "AUD001"
    }

    fn kind(&self) -> ErrorKind {
        ErrorKind::Unavailable
    }
}

/// The failures every context shares: none of them is the request's fault.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// Storage failed (other than a missing record or a concurrent change, which each
    /// context names itself).
    #[error("storage: {0}")]
    Store(#[source] StoreError),
    /// The audit trail could not record an event: the action must not proceed.
    #[error(transparent)]
    Audit(#[from] RecordError),
    /// Stored data of this context cannot be read back: altered, or written by a
    /// version that did not exist. The text names the record, never its content.
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
}

impl Coded for PlatformError {
    fn code(&self) -> &'static str {
        match self {
            PlatformError::Store(e) => e.code(),
            PlatformError::Audit(e) => e.code(),
            PlatformError::Corrupt(_) => "PLT001",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            PlatformError::Store(e) => e.kind(),
            PlatformError::Audit(e) => e.kind(),
            PlatformError::Corrupt(_) => ErrorKind::Internal,
        }
    }
}

impl PlatformError {
    /// Stored data named by `what` cannot be read.
    pub fn corrupt(what: impl Into<String>) -> PlatformError {
        PlatformError::Corrupt(what.into())
    }
}

#[doc(hidden)]
pub use sante_store::StoreError as __StoreError;

/// Writes the conversions of a context's error enum from [`sante_store::StoreError`],
/// [`RecordError`] and [`PlatformError`]: a missing record becomes the enum's
/// `NotFound(String)`, a concurrent change its `Conflict(String)`, anything else its
/// `Platform(PlatformError)`. The enum must have those three variants.
#[macro_export]
macro_rules! platform_error_conversions {
    ($error:ident) => {
        impl ::core::convert::From<$crate::error::__StoreError> for $error {
            fn from(e: $crate::error::__StoreError) -> Self {
                match e {
                    $crate::error::__StoreError::NotFound(what) => $error::NotFound(what),
                    $crate::error::__StoreError::Conflict(what) => $error::Conflict(what),
                    other => $error::Platform($crate::PlatformError::Store(other)),
                }
            }
        }

        impl ::core::convert::From<$crate::RecordError> for $error {
            fn from(e: $crate::RecordError) -> Self {
                $error::Platform($crate::PlatformError::Audit(e))
            }
        }

        impl ::core::convert::From<$crate::PlatformError> for $error {
            fn from(e: $crate::PlatformError) -> Self {
                $error::Platform(e)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Context {
        #[error("{0} not found")]
        NotFound(String),
        #[error("conflict: {0}")]
        Conflict(String),
        #[error(transparent)]
        Platform(PlatformError),
    }

    platform_error_conversions!(Context);

    #[test]
    fn store_errors_become_the_same_variants_in_every_context() {
        assert!(matches!(
            Context::from(StoreError::NotFound("r".into())),
            Context::NotFound(w) if w == "r"
        ));
        assert!(matches!(
            Context::from(StoreError::Conflict("r".into())),
            Context::Conflict(w) if w == "r"
        ));
        let outage = Context::from(StoreError::Config("x".into()));
        assert!(matches!(
            &outage,
            Context::Platform(PlatformError::Store(_))
        ));
        let audit = Context::from(RecordError("down".into()));
        let Context::Platform(p) = audit else {
            panic!("not a platform error")
        };
        assert_eq!(p.code(), "AUD001");
        assert_eq!(p.kind(), ErrorKind::Unavailable);
        assert_eq!(PlatformError::corrupt("x").kind(), ErrorKind::Internal);
    }
}
