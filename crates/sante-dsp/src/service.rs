//! The DSP service: every public function takes the caller, gathers the facts, asks
//! [`crate::policy::decide`], traces the outcome (the platform's audit trail, and the
//! DSP's own access history the holder sees), and only then acts.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sante_audit::{
    Action, Actor, AuditEvent, EventKind, Outcome, PlatformError, Recorder, Source, Token,
};
use sante_directory::Directory;
use sante_store::blob::BlobStore;
use sante_store::retry::{Retry, on_conflict, settle};
use sante_store::{Db, Expect, StoreError, Term, TermQuery, WriteOp};
use sante_types::{Clock, Coded, CredentialKind, ErrorKind, LevelOfAssurance, Quality, Service};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::category::ProfessionalCategory;
use crate::model::{CareRecord, CareRelationship, HistoryEntry, Notice, NoticeKind};
use crate::policy::{Decision, Facts, Intent, ProfessionalFacts, Role, decide};

mod care;
mod controls;
mod directory_feed;
mod duties;
mod import;
mod items;
mod lifecycle;
mod statistics;

pub use care::AccessCode;
pub use controls::OrganDonation;
pub use duties::Overdue;
pub use import::ImportedRecord;
pub use items::{ItemQuery, NewItem, Retrieved, SearchPage};
pub use lifecycle::HousekeepingReport;
pub use statistics::{Count, DISCLOSURE_THRESHOLD, Statistics};

pub(crate) const RECORDS: &str = "dsp-record";
pub(crate) const ITEMS: &str = "dsp-item";
pub(crate) const RELATIONSHIPS: &str = "dsp-relationship";
pub(crate) const CODES: &str = "dsp-access-code";
/// Wrong access codes entered, by professional's account (guessing is throttled).
pub(crate) const CODE_FAILURES: &str = "dsp-access-code-failure";
pub(crate) const HISTORY: &str = "dsp-history";
pub(crate) const NOTICES: &str = "dsp-notice";
pub(crate) const REQUESTS: &str = "dsp-filing-request";
pub(crate) const FEEDS: &str = "dsp-feed";
/// The information letters (DSP-5) waiting to be printed.
pub(crate) const LETTER_OWNER: &str = "dsp-letters";

/// The search terms of a record: its state, and its assistants (to find the DSPs an
/// assistant manages).
pub(crate) fn record_terms(record: &CareRecord) -> Vec<Term> {
    let state = match record.state {
        crate::model::RecordState::Created => "created",
        crate::model::RecordState::Active => "active",
        crate::model::RecordState::Closed => "closed",
    };
    let mut terms = vec![Term::new("state", state)];
    for a in &record.controls.assistants {
        terms.push(Term::new("assistant", a.patient.clone()));
    }
    terms
}

/// The blob owner of a holder's documents: erased with the DSP.
pub(crate) fn blob_owner(holder: &str) -> String {
    format!("dsp:{holder}")
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum DspError {
    /// The access decision refused; the reason is its code.
    #[error("access refused: {0}")]
    Denied(&'static str),
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// Too many wrong access codes entered: wait before trying again.
    #[error("too many wrong access codes; try again in a quarter of an hour")]
    Throttled,
    /// The directories could not answer the DSP service.
    #[error("directory: {0}")]
    Directory(#[source] sante_directory::DirectoryError),
    #[error(transparent)]
    Platform(PlatformError),
}

sante_audit::platform_error_conversions!(DspError);

impl Coded for DspError {
    fn code(&self) -> &'static str {
        match self {
            DspError::Denied(_) => "DSP001",
            DspError::NotFound(_) => "DSP002",
            DspError::Invalid(_) => "DSP003",
            DspError::Conflict(_) => "DSP004",
            DspError::Directory(_) => "DSP005",
            DspError::Throttled => "DSP006",
            DspError::Platform(e) => e.code(),
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            DspError::Denied(_) => ErrorKind::Denied,
            DspError::NotFound(_) => ErrorKind::NotFound,
            DspError::Invalid(_) => ErrorKind::Invalid,
            DspError::Conflict(_) => ErrorKind::Conflict,
            DspError::Throttled => ErrorKind::Throttled,
            // The DSP asks the directories as a platform service: a refusal or a bad
            // answer there is the platform's fault, not the caller's.
            DspError::Directory(e) if e.kind() == ErrorKind::Unavailable => ErrorKind::Unavailable,
            DspError::Directory(_) => ErrorKind::Internal,
            DspError::Platform(e) => e.kind(),
        }
    }
}

pub type DspResult<T> = Result<T, DspError>;

/// Who calls the DSP, as the front end authenticated him.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account (of the quality the session carries).
    pub account: String,
    pub quality: Quality,
    pub assurance: LevelOfAssurance,
    pub credential: CredentialKind,
    /// The caller's directory entry in that quality: a patient's or a professional's
    /// identifier.
    pub entry: String,
    /// The establishment's system the professional acts through: its client id and
    /// its establishment; its token reached the DSP only because its attestation lists
    /// the DSP.
    pub system: Option<(String, String)>,
    /// Set when an assistant acts: the holder he acts for (traced as the assistant).
    pub source: Source,
}

impl Caller {
    fn actor(&self) -> Actor {
        Actor {
            person: Token::new(self.account.clone()).ok(),
            quality: Some(self.quality),
            credential: Some(self.credential),
            assurance: Some(self.assurance),
            client_system: self
                .system
                .as_ref()
                .and_then(|(c, _)| Token::new(c.clone()).ok()),
            establishment: self
                .system
                .as_ref()
                .and_then(|(_, e)| Token::new(e.clone()).ok()),
            on_behalf_of: None,
        }
    }
}

/// The DSP service.
#[derive(Clone)]
pub struct DspService {
    pub(crate) db: Db,
    pub(crate) blobs: BlobStore,
    pub(crate) directory: Directory,
    pub(crate) recorder: Arc<dyn Recorder>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DspService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DspService(..)")
    }
}

/// What the service resolved of a caller on one DSP.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub role: Role,
}

impl Resolved {
    /// The role as the history names it.
    pub fn role_code(&self) -> String {
        match &self.role {
            Role::Holder => "holder".into(),
            Role::Assistant => "assistant".into(),
            Role::OtherPatient => "patient".into(),
            Role::Agent => "agent".into(),
            Role::Professional(p) => serde_json::to_value(p.category)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "professional".into()),
        }
    }

    pub fn professional(&self) -> Option<&ProfessionalFacts> {
        match &self.role {
            Role::Professional(p) => Some(p),
            _ => None,
        }
    }
}

impl DspService {
    pub fn new(
        db: Db,
        blobs: BlobStore,
        directory: Directory,
        recorder: Arc<dyn Recorder>,
        clock: Arc<dyn Clock>,
    ) -> DspService {
        DspService {
            db,
            blobs,
            directory,
            recorder,
            clock,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) fn micros(&self) -> i64 {
        self.now().timestamp_micros()
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        collection: &str,
        key: &str,
    ) -> DspResult<Option<(T, i64)>> {
        match self.db.get(collection, key).await? {
            Some(r) => Ok(Some((
                serde_json::from_slice(&r.value)
                    .map_err(|_| DspError::from(PlatformError::corrupt(collection.to_owned())))?,
                r.version,
            ))),
            None => Ok(None),
        }
    }

    pub(crate) fn put_op<T: Serialize>(
        collection: &str,
        key: &str,
        value: &T,
        expect: Expect,
    ) -> DspResult<WriteOp> {
        Ok(WriteOp::Put {
            collection: collection.into(),
            key: key.into(),
            value: serde_json::to_vec(value)
                .map_err(|_| DspError::from(PlatformError::corrupt(collection)))?,
            expect,
        })
    }

    pub(crate) fn index_op(collection: &str, key: &str, terms: Vec<Term>) -> WriteOp {
        WriteOp::Index {
            collection: collection.into(),
            key: key.into(),
            terms,
        }
    }

    pub(crate) async fn all_with<T: DeserializeOwned>(
        &self,
        collection: &str,
        field: &str,
        value: &str,
        limit: u32,
    ) -> DspResult<Vec<T>> {
        let keys = self
            .db
            .search(collection, &[TermQuery::exact(field, value)], None, limit)
            .await?;
        let records = self.db.get_many(collection, &keys).await?;
        records
            .iter()
            .map(|r| {
                serde_json::from_slice(&r.value)
                    .map_err(|_| DspError::from(PlatformError::corrupt(collection.to_owned())))
            })
            .collect()
    }

    /// The DSP of `holder` and its version.
    pub(crate) async fn load(&self, holder: &str) -> DspResult<(CareRecord, i64)> {
        self.get::<CareRecord>(RECORDS, holder)
            .await?
            .ok_or_else(|| DspError::NotFound("DSP".into()))
    }

    /// The writes that save `record` over `version`.
    fn save_ops(record: &CareRecord, version: i64) -> DspResult<Vec<WriteOp>> {
        Ok(vec![
            Self::put_op(RECORDS, &record.holder, record, Expect::Version(version))?,
            Self::index_op(RECORDS, &record.holder, record_terms(record)),
        ])
    }

    /// Applies `change` to the holder's DSP, rereading on a concurrent write.
    pub(crate) async fn update<F>(&self, holder: &str, change: F) -> DspResult<CareRecord>
    where
        F: Fn(&mut CareRecord) -> DspResult<()>,
    {
        let (this, change) = (self, &change);
        on_conflict(Retry::RARE, "DSP update", || async move {
            let (mut record, version) = this.load(holder).await?;
            change(&mut record)?;
            let ops = Self::save_ops(&record, version)?;
            Ok(settle(
                this.db.write_batch(&ops, this.micros()).await,
                |_| record,
            )?)
        })
        .await
    }

    /// The care relationships of a DSP (all of them; the decision keeps those in
    /// force).
    pub(crate) async fn relationships(&self, holder: &str) -> DspResult<Vec<CareRelationship>> {
        self.all_with(RELATIONSHIPS, "record", holder, 10_000).await
    }

    /// Who the caller is for this DSP.
    pub(crate) async fn resolve(
        &self,
        caller: &Caller,
        record: &CareRecord,
    ) -> DspResult<Resolved> {
        let role = match caller.quality {
            Quality::Patient if caller.entry == record.holder => Role::Holder,
            Quality::Patient if record.has_assistant(&caller.entry) => Role::Assistant,
            Quality::Patient => Role::OtherPatient,
            Quality::Agent => Role::Agent,
            Quality::Professional => {
                let today = self.now().date_naive();
                let p = match self.directory.professional(&caller.entry).await {
                    Ok(p) => p,
                    Err(sante_directory::DirectoryError::NotFound(_)) => {
                        return Ok(Resolved { role: Role::Agent });
                    }
                    Err(e) => return Err(DspError::Directory(e)),
                };
                let via = caller.system.as_ref().map(|(_, e)| e.clone());
                let affiliated = via.as_ref().is_some_and(|e| {
                    p.affiliations
                        .iter()
                        .any(|a| &a.establishment == e && a.active_on(today))
                });
                Role::Professional(ProfessionalFacts {
                    id: p.id.clone(),
                    category: ProfessionalCategory::of(p.profession.access_category()),
                    authorised: p.authorisation.in_force(today),
                    via_establishment: via,
                    affiliated,
                    system_attested_for_dsp: caller.system.is_some(),
                })
            }
        };
        Ok(Resolved { role })
    }

    /// Decides, traces and records in the history. A refusal is returned as
    /// [`DspError::Denied`] after being traced.
    pub(crate) async fn gate(
        &self,
        caller: &Caller,
        record: &CareRecord,
        intent: Intent<'_>,
        item: Option<&str>,
    ) -> DspResult<Resolved> {
        let resolved = self.resolve(caller, record).await?;
        let relationships = match &resolved.role {
            Role::Professional(_) => self.relationships(&record.holder).await?,
            _ => Vec::new(),
        };
        let decision = decide(
            &Facts {
                role: resolved.role.clone(),
                assurance: caller.assurance,
                record,
                relationships: &relationships,
                now: self.now(),
            },
            intent,
        );
        if let Decision::Deny(reason) = decision {
            self.note(
                caller,
                &resolved,
                &record.holder,
                EventKind::DspAccessDenied,
                intent.code(),
                item,
                decision,
            )
            .await?;
            return Err(DspError::Denied(reason));
        }
        Ok(resolved)
    }

    /// Traces an access or action on a DSP: the platform's audit event (with the
    /// patient) and the DSP's own history entry (DSP-27, DSP-28).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn note(
        &self,
        caller: &Caller,
        resolved: &Resolved,
        holder: &str,
        kind: EventKind,
        action: &str,
        item: Option<&str>,
        decision: Decision,
    ) -> DspResult<()> {
        let mut actor = caller.actor();
        if resolved.role == Role::Assistant {
            actor.on_behalf_of = Token::new(holder.to_owned()).ok();
        }
        let verb = match action {
            "file" | "replace" => Action::Create,
            "read" | "search" | "history" => Action::Read,
            "delete" | "deprecate" => Action::Delete,
            _ => Action::Update,
        };
        let mut event = AuditEvent::new(kind, self.now(), actor, Service::Dsp, verb)
            .source(caller.source.clone())
            .outcome(match decision {
                Decision::Permit => Outcome::Success,
                Decision::Deny(reason) => Outcome::Denied(Token::code(reason)),
            });
        if let Ok(patient) = Token::new(holder.to_owned()) {
            event = event.patient(patient);
        }
        if let Some(id) = item.and_then(|i| Token::new(i.to_owned()).ok()) {
            event = event.resource(Token::code("DocumentReference"), id);
        }
        self.recorder.record(event).await?;
        let entry = HistoryEntry {
            at: self.now(),
            account: caller.account.clone(),
            role: resolved.role_code(),
            professional: resolved.professional().map(|p| p.id.clone()),
            establishment: caller.system.as_ref().map(|(_, e)| e.clone()),
            system: caller.system.as_ref().map(|(c, _)| c.clone()),
            action: action.to_owned(),
            item: item.map(str::to_owned),
            outcome: decision.code().to_owned(),
        };
        self.append_history(holder, &entry).await
    }

    pub(crate) async fn append_history(&self, holder: &str, entry: &HistoryEntry) -> DspResult<()> {
        let key = format!("{holder}|{}", uuid::Uuid::now_v7());
        self.db
            .write_batch(
                &[
                    Self::put_op(HISTORY, &key, entry, Expect::Absent)?,
                    Self::index_op(HISTORY, &key, vec![Term::new("record", holder)]),
                ],
                self.micros(),
            )
            .await?;
        Ok(())
    }

    /// After a permitted access: the last access moves on (at most daily, so reads
    /// are not writes), and the holder is told of the first professional access
    /// (DSP-8).
    pub(crate) async fn after_access(
        &self,
        record: &CareRecord,
        resolved: &Resolved,
    ) -> DspResult<()> {
        let now = self.now();
        let first_professional =
            resolved.professional().is_some() && record.first_professional_access.is_none();
        if !first_professional && now - record.last_access < Duration::days(1) {
            return Ok(());
        }
        self.update(&record.holder, |r| {
            r.last_access = now;
            if first_professional && r.first_professional_access.is_none() {
                r.first_professional_access = Some(now);
            }
            Ok(())
        })
        .await?;
        if let (true, Some(pro)) = (first_professional, resolved.professional()) {
            self.notify(
                &record.holder,
                NoticeKind::FirstProfessionalAccess {
                    professional: pro.id.clone(),
                },
            )
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn notify(&self, holder: &str, kind: NoticeKind) -> DspResult<()> {
        let key = format!("{holder}|{}", uuid::Uuid::now_v7());
        let notice = Notice {
            id: key.clone(),
            record: holder.to_owned(),
            at: self.now(),
            kind,
        };
        self.db
            .write_batch(
                &[
                    Self::put_op(NOTICES, &key, &notice, Expect::Absent)?,
                    Self::index_op(NOTICES, &key, vec![Term::new("record", holder)]),
                ],
                self.micros(),
            )
            .await?;
        Ok(())
    }

    /// The holder's DSP as he (or his assistant) sees it: its state and controls.
    pub async fn record(&self, caller: &Caller, holder: &str) -> DspResult<CareRecord> {
        let (record, _) = self.load(holder).await?;
        let resolved = self.resolve(caller, &record).await?;
        match resolved.role {
            Role::Holder | Role::Assistant if caller.assurance >= LevelOfAssurance::Substantial => {
                Ok(record)
            }
            _ => {
                // Whether a DSP exists is itself not told to others.
                let decision = Decision::Deny("holder_only");
                self.note(
                    caller,
                    &resolved,
                    holder,
                    EventKind::DspAccessDenied,
                    "record",
                    None,
                    decision,
                )
                .await?;
                Err(DspError::Denied("holder_only"))
            }
        }
    }

    /// The access history of the DSP (DSP-28), newest first: the holder's and his
    /// assistant's, and the referring doctor's traces dashboard.
    pub async fn history(
        &self,
        caller: &Caller,
        holder: &str,
        limit: usize,
    ) -> DspResult<Vec<HistoryEntry>> {
        let (record, _) = self.load(holder).await?;
        let resolved = self.gate(caller, &record, Intent::History, None).await?;
        let mut entries: Vec<HistoryEntry> =
            self.all_with(HISTORY, "record", holder, 10_000).await?;
        entries.reverse();
        entries.truncate(limit.clamp(1, 10_000));
        self.note(
            caller,
            &resolved,
            holder,
            EventKind::DspHistoryRead,
            "history",
            None,
            Decision::Permit,
        )
        .await?;
        Ok(entries)
    }

    /// The notices to the holder, newest first.
    pub async fn notices(&self, caller: &Caller, holder: &str) -> DspResult<Vec<Notice>> {
        let (record, _) = self.load(holder).await?;
        self.gate(caller, &record, Intent::HolderControls, None)
            .await?;
        let mut notices: Vec<Notice> = self.all_with(NOTICES, "record", holder, 1_000).await?;
        notices.reverse();
        Ok(notices)
    }

    /// How far the DSP has applied a feed it follows (the directories' changes).
    pub async fn feed_position(&self, feed: &str) -> DspResult<Option<String>> {
        Ok(self
            .db
            .get(FEEDS, feed)
            .await?
            .and_then(|r| String::from_utf8(r.value).ok()))
    }

    /// Records that everything up to `cursor` of `feed` has been applied.
    pub async fn set_feed_position(&self, feed: &str, cursor: &str) -> DspResult<()> {
        self.db
            .put(FEEDS, feed, cursor.as_bytes(), Expect::Any, self.micros())
            .await?;
        Ok(())
    }

    /// The DSPs an assistant (a patient) manages for their holders.
    pub async fn assisted(&self, caller: &Caller) -> DspResult<Vec<Assisted>> {
        if caller.quality != Quality::Patient {
            return Ok(Vec::new());
        }
        let keys = self
            .db
            .search(
                RECORDS,
                &[TermQuery::exact("assistant", caller.entry.clone())],
                None,
                100,
            )
            .await?;
        let mut out = Vec::new();
        for holder in keys {
            let (record, _) = self.load(&holder).await?;
            let name = record
                .controls
                .assistants
                .iter()
                .find(|a| a.patient == caller.entry)
                .and_then(|a| a.holder_name.clone());
            out.push(Assisted { holder, name });
        }
        Ok(out)
    }
}

/// A holder the caller assists: his record, and his name as the appointment gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assisted {
    pub holder: String,
    pub name: Option<String>,
}

#[cfg(test)]
mod tests;
