//! The directory service: stores the entries, keeps their search terms, publishes
//! change events, and answers reads and searches after the access decision
//! ([`crate::access::authorise`]); every patient entry revealed is traced.
//!
//! This module holds the service, its errors and the change feed's vocabulary; its
//! jobs are in submodules: `index` (entries' search terms and changes), `import`
//! (writes and registers' imports), `search` (queries and public reads), `reads`
//! (traced patient reads), `vigilance` (search before create, review, merges),
//! `changes` (the feed) and `retention` (DIR-7).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use sante_audit::{Action, AuditEvent, EventKind, Outcome, PlatformError, Recorder, Token};
use sante_store::{Db, Expect, Record, Term, TermQuery, WriteOp};
use sante_types::{Clock, Coded, ErrorKind, Service};
use serde::{Deserialize, Serialize};

use crate::access::{Denied, DirectoryAction, Request, authorise};
use crate::lookups::{LookupLimits, Lookups};
use crate::matching::{Decision, IdentityFields, Matcher, Prepared, normalise};
use crate::model::{
    AccessCategory, Agent, Establishment, EstablishmentKind, IdentityStatus, InvalidEntry, Patient,
    Profession, Professional,
};
use crate::nin::NationalId;

pub const PROFESSIONALS: &str = "dir-professional";
pub const ESTABLISHMENTS: &str = "dir-establishment";
pub const PATIENTS: &str = "dir-patient";
pub const AGENTS: &str = "dir-agent";
pub const CHANGES: &str = "dir-change";
pub const REVIEWS: &str = "dir-review";
pub const MERGES: &str = "dir-merge";
pub const IMPORTS: &str = "dir-import";

/// Largest page a search returns.
pub const MAX_PAGE: u32 = 500;
/// Candidates compared per identity at most (blocking keeps them few).
const MAX_CANDIDATES: u32 = 2_000;

/// What can go wrong in the directory.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("access denied: {0}")]
    Denied(#[from] Denied),
    #[error("invalid entry: {0}")]
    Invalid(#[from] InvalidEntry),
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A professional's or a service's patient search that does not name one person.
    #[error(
        "identify the patient: give the national number, or the family name with the birth date"
    )]
    Undiscriminating,
    /// The caller has looked up its hourly allowance of patient identities.
    #[error("too many patient identities looked up this hour; try again later")]
    Throttled,
    #[error(transparent)]
    Platform(PlatformError),
}

sante_audit::platform_error_conversions!(DirectoryError);

impl Coded for DirectoryError {
    fn code(&self) -> &'static str {
        match self {
            DirectoryError::Denied(_) => "DIR001",
            DirectoryError::Invalid(_) => "DIR002",
            DirectoryError::NotFound(_) => "DIR003",
            DirectoryError::Conflict(_) => "DIR004",
            DirectoryError::Undiscriminating => "DIR005",
            DirectoryError::Throttled => "DIR006",
            DirectoryError::Platform(e) => e.code(),
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            DirectoryError::Denied(Denied::NotAuthenticated) => ErrorKind::Unauthenticated,
            DirectoryError::Denied(_) => ErrorKind::Denied,
            DirectoryError::Invalid(_) => ErrorKind::Invalid,
            DirectoryError::NotFound(_) => ErrorKind::NotFound,
            DirectoryError::Conflict(_) => ErrorKind::Conflict,
            DirectoryError::Undiscriminating => ErrorKind::Invalid,
            DirectoryError::Throttled => ErrorKind::Throttled,
            DirectoryError::Platform(e) => e.kind(),
        }
    }
}

pub type DirectoryResult<T> = Result<T, DirectoryError>;

/// Which register an entry or a change belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Register {
    Professional,
    Establishment,
    Patient,
    Agent,
}

/// What changed, for the services that subscribe (DSP, messaging, accounts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    QualityGained,
    QualityLost,
    AuthorisationWithdrawn,
    AuthorisationSuspended,
    AuthorisationRestored,
    AffiliationStarted,
    AffiliationEnded,
    DeathReported,
    IdentityMerged,
    IdentityUnmerged,
}

/// One published change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// Position in the feed: subscribers resume after the last one they handled.
    #[serde(skip)]
    pub cursor: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub kind: ChangeKind,
    pub register: Register,
    pub entry: String,
    /// The establishment (affiliations) or the surviving identity (merges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<String>,
}

/// An entry kept in one of the registers.
pub trait Entry: Serialize + for<'de> Deserialize<'de> + Clone + PartialEq {
    const COLLECTION: &'static str;
    const REGISTER: Register;
    fn key(&self) -> &str;
    fn validate(&self) -> Result<(), InvalidEntry>;
    fn terms(&self) -> Vec<Term>;
    /// The changes from `old` (absent when new) to `self`, with the related entry.
    fn changes(old: Option<&Self>, new: &Self) -> Vec<(ChangeKind, Option<String>)>;
}

/// What a batch of register lines did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// New patient identities that resemble another and went to the review queue.
    pub sent_to_review: u64,
}

impl std::ops::AddAssign for BatchOutcome {
    fn add_assign(&mut self, o: BatchOutcome) {
        self.created += o.created;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.sent_to_review += o.sent_to_review;
    }
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Give it back to get the next page; `None` on the last.
    pub next: Option<String>,
    pub total: u64,
}

/// The directory service.
#[derive(Clone)]
pub struct Directory {
    db: Db,
    recorder: Arc<dyn Recorder>,
    clock: Arc<dyn Clock>,
    matcher: Arc<Matcher>,
    sequence: Arc<std::sync::atomic::AtomicU64>,
    lookups: Arc<Lookups>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

fn decode<T: for<'de> Deserialize<'de>>(record: &Record) -> DirectoryResult<T> {
    serde_json::from_slice(&record.value)
        .map_err(|_| DirectoryError::from(PlatformError::corrupt(record.key.clone())))
}

fn encode<T: Serialize>(value: &T) -> DirectoryResult<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| DirectoryError::from(PlatformError::corrupt(e.to_string())))
}

fn token(value: &str) -> Token {
    Token::or_invalid(value)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Directory {
    pub fn new(db: Db, recorder: Arc<dyn Recorder>, clock: Arc<dyn Clock>) -> Directory {
        Directory {
            db,
            recorder,
            clock,
            matcher: Arc::new(Matcher::default()),
            sequence: Arc::default(),
            lookups: Arc::new(Lookups::new(LookupLimits::default())),
        }
    }

    /// The hourly allowances of patient identities shown to each caller (DIR-5).
    pub fn with_lookup_limits(mut self, limits: LookupLimits) -> Directory {
        self.lookups = Arc::new(Lookups::new(limits));
        self
    }

    fn now_micros(&self) -> i64 {
        self.clock.now().timestamp_micros()
    }

    pub fn today(&self) -> NaiveDate {
        self.clock.now().date_naive()
    }

    fn event(&self, req: &Request, kind: EventKind, action: Action) -> AuditEvent {
        AuditEvent::new(
            kind,
            self.clock.now(),
            req.caller.actor(),
            Service::Directory,
            action,
        )
        .source(req.source.clone())
    }

    /// Decides access; a refusal is traced before it is returned.
    async fn check(
        &self,
        req: &Request,
        action: DirectoryAction,
        audit_action: Action,
    ) -> DirectoryResult<()> {
        if let Err(denied) = authorise(&req.caller, action) {
            self.trace_refusal(req, audit_action, denied.reason())
                .await?;
            return Err(denied.into());
        }
        Ok(())
    }

    /// Traces a refusal with its reason (the caller is told less).
    async fn trace_refusal(
        &self,
        req: &Request,
        audit_action: Action,
        reason: &'static str,
    ) -> DirectoryResult<()> {
        let event = self
            .event(req, EventKind::DirectoryAccessDenied, audit_action)
            .outcome(Outcome::Denied(Token::code(reason)));
        self.recorder.record(event).await?;
        Ok(())
    }
}

mod changes;
mod import;
mod index;
mod reads;
mod retention;
mod search;
mod vigilance;

pub use import::PatientInput;
pub use index::identity_fields;
pub use reads::ConfirmedPatient;
pub use search::{EstablishmentQuery, PatientQuery, ProfessionalQuery};
pub use vigilance::{Creation, MergeRecord, ReviewDecision, ReviewItem};

#[cfg(test)]
mod tests;
