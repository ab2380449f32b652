//! The audit trail: every crate records what happened through this one typed API.
//!
//! Architecture invariant: events hold identifiers and codes, never health content or
//! secrets (see [`event::Token`]). The trail is append-only and tamper-evident.

mod chain;
pub mod error;
pub mod event;
mod export;
mod log;
mod signer;
#[cfg(feature = "testing")]
pub mod testing;
mod verify;

pub use error::{AuditError, PlatformError, RecordError};
pub use export::{
    EventsAbout, SyslogExporter, Trail, export_fhir_ndjson, to_fhir_audit_event, to_syslog,
};
pub use log::{AuditLog, PurgeReport, Retention, SealPolicy, SealedEpoch};
pub use signer::{CheckpointSigner, VerifyingKeys};
pub use verify::{Problem, VerifyReport, verify};

pub use event::{
    Action, Actor, AuditEvent, EventKind, Outcome, ResourceRef, Source, Stream, Token, TokenError,
};

use std::future::Future;
use std::pin::Pin;

/// Something that durably records audit events. Implemented by the real trail; front
/// ends and services take an `Arc<dyn Recorder>` so that they do not care how.
pub trait Recorder: Send + Sync + std::fmt::Debug {
    /// Records one event; when the future resolves with `Ok`, the event is durable.
    fn record(
        &self,
        event: AuditEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), RecordError>> + Send + '_>>;
}

#[cfg(test)]
mod tests;
