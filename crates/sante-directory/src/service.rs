//! The directory service: stores the entries, keeps their search terms, publishes
//! change events, and answers reads and searches after the access decision
//! ([`crate::access::authorise`]); every patient entry revealed is traced.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use sante_audit::{Action, AuditEvent, EventKind, Outcome, PlatformError, Recorder, Token};
use sante_store::{Db, Expect, Record, Term, TermQuery, WriteOp};
use sante_types::{Clock, Coded, ErrorKind, Service};
use serde::{Deserialize, Serialize};

use crate::access::{Denied, DirectoryAction, Request, authorise};
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

fn words(field: &str, text: &str, out: &mut Vec<Term>) {
    for w in normalise(text).split(' ').filter(|w| !w.is_empty()) {
        out.push(Term::new(field, w));
    }
}

impl Entry for Professional {
    const COLLECTION: &'static str = PROFESSIONALS;
    const REGISTER: Register = Register::Professional;
    fn key(&self) -> &str {
        &self.id
    }
    fn validate(&self) -> Result<(), InvalidEntry> {
        Professional::validate(self)
    }
    fn terms(&self) -> Vec<Term> {
        let mut t = Vec::new();
        t.push(Term::new("id", self.id.to_ascii_lowercase()));
        if let Some(nin) = &self.national_id {
            t.push(Term::new("nin", nin.as_str()));
        }
        words("family", &self.family_name, &mut t);
        for g in &self.given_names {
            words("given", g, &mut t);
        }
        words("name", &self.family_name, &mut t);
        for g in &self.given_names {
            words("name", g, &mut t);
        }
        t.push(Term::new("profession", self.profession.code()));
        t.push(Term::new(
            "category",
            self.profession.access_category().code(),
        ));
        for s in &self.specialities {
            t.push(Term::new("speciality", s.as_str()));
        }
        for l in &self.locations {
            t.push(Term::new("location", l.id.to_ascii_lowercase()));
            if let Some(town) = &l.address.town {
                words("town", town, &mut t);
            }
            if let Some(pc) = &l.address.postcode {
                t.push(Term::new("postcode", normalise(pc)));
            }
        }
        for a in &self.affiliations {
            t.push(Term::new(
                "establishment",
                a.establishment.to_ascii_lowercase(),
            ));
        }
        t.push(Term::new("authorisation", self.authorisation.status.code()));
        t
    }
    fn changes(old: Option<&Self>, new: &Self) -> Vec<(ChangeKind, Option<String>)> {
        use crate::model::AuthorisationStatus as S;
        let mut out = Vec::new();
        let Some(old) = old else {
            out.push((ChangeKind::QualityGained, None));
            for a in &new.affiliations {
                out.push((
                    ChangeKind::AffiliationStarted,
                    Some(a.establishment.clone()),
                ));
            }
            return out;
        };
        match (old.authorisation.status, new.authorisation.status) {
            (S::Active, S::Suspended) => out.push((ChangeKind::AuthorisationSuspended, None)),
            (S::Active | S::Suspended, S::Withdrawn) => {
                out.push((ChangeKind::AuthorisationWithdrawn, None));
                out.push((ChangeKind::QualityLost, None));
            }
            (S::Suspended | S::Withdrawn, S::Active) => {
                out.push((ChangeKind::AuthorisationRestored, None));
            }
            _ => {}
        }
        for a in &new.affiliations {
            let before = old
                .affiliations
                .iter()
                .find(|o| o.establishment == a.establishment && o.start == a.start);
            match before {
                None if a.end.is_none() => {
                    out.push((
                        ChangeKind::AffiliationStarted,
                        Some(a.establishment.clone()),
                    ));
                }
                Some(o) if o.end.is_none() && a.end.is_some() => {
                    out.push((ChangeKind::AffiliationEnded, Some(a.establishment.clone())));
                }
                _ => {}
            }
        }
        for o in &old.affiliations {
            let kept = new
                .affiliations
                .iter()
                .any(|a| a.establishment == o.establishment && a.start == o.start);
            if !kept && o.end.is_none() {
                out.push((ChangeKind::AffiliationEnded, Some(o.establishment.clone())));
            }
        }
        out
    }
}

impl Entry for Establishment {
    const COLLECTION: &'static str = ESTABLISHMENTS;
    const REGISTER: Register = Register::Establishment;
    fn key(&self) -> &str {
        &self.id
    }
    fn validate(&self) -> Result<(), InvalidEntry> {
        Establishment::validate(self)
    }
    fn terms(&self) -> Vec<Term> {
        let mut t = vec![
            Term::new("id", self.id.to_ascii_lowercase()),
            Term::new("kind", self.kind.code()),
            Term::new("active", if self.active { "true" } else { "false" }),
        ];
        words("name", &self.name, &mut t);
        for i in &self.identifiers {
            t.push(Term::new("identifier", format!("{}|{}", i.system, i.value)));
            t.push(Term::new("identifier", i.value.clone()));
        }
        for s in &self.sites {
            words("name", &s.name, &mut t);
            if let Some(town) = &s.address.town {
                words("town", town, &mut t);
            }
        }
        t
    }
    fn changes(old: Option<&Self>, new: &Self) -> Vec<(ChangeKind, Option<String>)> {
        match old {
            None => vec![(ChangeKind::QualityGained, None)],
            Some(o) if o.active && !new.active => vec![(ChangeKind::QualityLost, None)],
            _ => Vec::new(),
        }
    }
}

impl Entry for Agent {
    const COLLECTION: &'static str = AGENTS;
    const REGISTER: Register = Register::Agent;
    fn key(&self) -> &str {
        &self.id
    }
    fn validate(&self) -> Result<(), InvalidEntry> {
        Agent::validate(self)
    }
    fn terms(&self) -> Vec<Term> {
        let mut t = Vec::new();
        if let Some(due) = self.purge_due() {
            t.push(Term::new("purge_due", due.format("%Y-%m-%d").to_string()));
        }
        if let Some(nin) = &self.national_id {
            t.push(Term::new("nin", nin.as_str()));
        }
        t
    }
    fn changes(old: Option<&Self>, new: &Self) -> Vec<(ChangeKind, Option<String>)> {
        match old {
            None => vec![(ChangeKind::QualityGained, None)],
            Some(o) if o.valid_until.is_none() && new.valid_until.is_some() => {
                vec![(ChangeKind::QualityLost, None)]
            }
            Some(o) if o.valid_until.is_some() && new.valid_until.is_none() => {
                vec![(ChangeKind::QualityGained, None)]
            }
            _ => Vec::new(),
        }
    }
}

/// The identity fields matching compares, from a patient entry.
pub fn identity_fields(p: &Patient) -> IdentityFields {
    let address = p.address.as_ref();
    IdentityFields {
        national_id: p.national_id.as_ref().map(|n| n.as_str().to_owned()),
        surname: Some(p.family_name().to_owned()),
        birth_name: p.used_name.as_ref().map(|_| p.birth_name.clone()),
        given_names: Some(p.given_names.join(" ")),
        birth_date: p.birth_date,
        sex: Some(
            match p.sex {
                crate::model::Sex::Female => "F",
                crate::model::Sex::Male => "M",
                _ => "",
            }
            .to_owned(),
        )
        .filter(|s| !s.is_empty()),
        street: address.and_then(|a| a.lines.first().cloned()),
        postcode: address.and_then(|a| a.postcode.clone()),
        town: address.and_then(|a| a.town.clone()),
    }
}

impl Entry for Patient {
    const COLLECTION: &'static str = PATIENTS;
    const REGISTER: Register = Register::Patient;
    fn key(&self) -> &str {
        &self.id
    }
    fn validate(&self) -> Result<(), InvalidEntry> {
        Patient::validate(self)
    }
    fn terms(&self) -> Vec<Term> {
        let mut t = Vec::new();
        if let Some(nin) = &self.national_id {
            t.push(Term::new("nin", nin.as_str()));
        }
        words("family", &self.birth_name, &mut t);
        if let Some(u) = &self.used_name {
            words("family", u, &mut t);
        }
        for g in &self.given_names {
            words("given", g, &mut t);
        }
        if let Some(d) = self.birth_date {
            t.push(Term::new("birthdate", d.format("%Y-%m-%d").to_string()));
        }
        t.push(Term::new("gender", self.sex.code()));
        if let Some(a) = &self.address {
            if let Some(pc) = &a.postcode {
                t.push(Term::new("postcode", normalise(pc)));
            }
            if let Some(town) = &a.town {
                words("town", town, &mut t);
            }
        }
        if self.merged_into.is_none() {
            // Merged entries are not candidates any more: matching finds the survivor.
            for key in Prepared::new(&identity_fields(self)).blocking_keys() {
                t.push(Term::new("block", key));
            }
        }
        t
    }
    fn changes(old: Option<&Self>, new: &Self) -> Vec<(ChangeKind, Option<String>)> {
        let mut out = Vec::new();
        let insured = |p: &Patient| p.insurance.as_ref().is_some_and(|i| i.end.is_none());
        match old {
            None => {
                if insured(new) {
                    out.push((ChangeKind::QualityGained, None));
                }
                if new.death_date.is_some() {
                    out.push((ChangeKind::DeathReported, None));
                }
            }
            Some(o) => {
                if insured(o) && !insured(new) {
                    out.push((ChangeKind::QualityLost, None));
                }
                if !insured(o) && insured(new) {
                    out.push((ChangeKind::QualityGained, None));
                }
                if o.death_date.is_none() && new.death_date.is_some() {
                    out.push((ChangeKind::DeathReported, None));
                }
            }
        }
        out
    }
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

/// A patient identity as a feed or a care provider gives it: no platform id yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientInput {
    pub entry: Patient,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Give it back to get the next page; `None` on the last.
    pub next: Option<String>,
    pub total: u64,
}

/// Criteria of a professional search (mCSD, the public search page).
#[derive(Debug, Clone, Default)]
pub struct ProfessionalQuery {
    pub id: Option<String>,
    /// Words of the given or family names, each matched as a prefix.
    pub name: Option<String>,
    pub family: Option<String>,
    pub given: Option<String>,
    pub profession: Option<Profession>,
    pub category: Option<AccessCategory>,
    pub speciality: Option<String>,
    pub town: Option<String>,
    pub postcode: Option<String>,
    pub establishment: Option<String>,
    /// A practice location's id.
    pub location: Option<String>,
}

/// Criteria of an establishment search.
#[derive(Debug, Clone, Default)]
pub struct EstablishmentQuery {
    pub id: Option<String>,
    pub name: Option<String>,
    pub kind: Option<EstablishmentKind>,
    pub town: Option<String>,
    pub identifier: Option<String>,
    pub active: Option<bool>,
}

/// Criteria of a patient search (PDQm).
#[derive(Debug, Clone, Default)]
pub struct PatientQuery {
    pub national_id: Option<String>,
    pub family: Option<String>,
    pub given: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<crate::model::Sex>,
    pub postcode: Option<String>,
    pub town: Option<String>,
}

fn prefix_words(field: &str, text: &Option<String>, out: &mut Vec<TermQuery>) {
    if let Some(text) = text {
        for w in normalise(text).split(' ').filter(|w| !w.is_empty()) {
            out.push(TermQuery::prefix(field, w));
        }
    }
}

fn exact(field: &str, value: Option<String>, out: &mut Vec<TermQuery>) {
    if let Some(v) = value {
        out.push(TermQuery::exact(field, v));
    }
}

impl ProfessionalQuery {
    fn terms(&self) -> Vec<TermQuery> {
        let mut q = Vec::new();
        exact(
            "id",
            self.id.as_ref().map(|s| s.to_ascii_lowercase()),
            &mut q,
        );
        prefix_words("name", &self.name, &mut q);
        prefix_words("family", &self.family, &mut q);
        prefix_words("given", &self.given, &mut q);
        exact(
            "profession",
            self.profession.map(|p| p.code().into()),
            &mut q,
        );
        exact("category", self.category.map(|c| c.code().into()), &mut q);
        exact("speciality", self.speciality.clone(), &mut q);
        prefix_words("town", &self.town, &mut q);
        exact("postcode", self.postcode.as_deref().map(normalise), &mut q);
        exact(
            "establishment",
            self.establishment.as_ref().map(|s| s.to_ascii_lowercase()),
            &mut q,
        );
        exact(
            "location",
            self.location.as_ref().map(|s| s.to_ascii_lowercase()),
            &mut q,
        );
        q
    }
}

impl EstablishmentQuery {
    fn terms(&self) -> Vec<TermQuery> {
        let mut q = Vec::new();
        exact(
            "id",
            self.id.as_ref().map(|s| s.to_ascii_lowercase()),
            &mut q,
        );
        prefix_words("name", &self.name, &mut q);
        exact("kind", self.kind.map(|k| k.code().into()), &mut q);
        prefix_words("town", &self.town, &mut q);
        exact("identifier", self.identifier.clone(), &mut q);
        exact(
            "active",
            self.active.map(|a| if a { "true" } else { "false" }.into()),
            &mut q,
        );
        q
    }
}

impl PatientQuery {
    fn terms(&self) -> Vec<TermQuery> {
        let mut q = Vec::new();
        exact(
            "nin",
            self.national_id
                .as_ref()
                .map(|n| n.chars().filter(char::is_ascii_digit).collect()),
            &mut q,
        );
        prefix_words("family", &self.family, &mut q);
        prefix_words("given", &self.given, &mut q);
        exact(
            "birthdate",
            self.birth_date.map(|d| d.format("%Y-%m-%d").to_string()),
            &mut q,
        );
        exact("gender", self.sex.map(|s| s.code().into()), &mut q);
        exact("postcode", self.postcode.as_deref().map(normalise), &mut q);
        prefix_words("town", &self.town, &mut q);
        q
    }
}

/// A pair of identities waiting for identity vigilance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    #[serde(skip)]
    pub id: String,
    pub new_identity: String,
    pub existing_identity: String,
    pub score: f64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    pub decision: Option<ReviewDecision>,
}

/// What identity vigilance decided about a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// Two different people who look alike: both are flagged homonyms.
    Distinct,
    /// The same person: the new identity was merged into the existing one.
    Merged,
}

/// One merge, kept so it can be undone exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeRecord {
    #[serde(skip)]
    pub id: String,
    pub survivor: String,
    pub merged: String,
    pub by: String,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The merged entry as it was before, restored by an unmerge.
    pub before: Patient,
    #[serde(default)]
    pub undone_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// How a patient creation ended (search before create).
#[derive(Debug, Clone, PartialEq)]
pub enum Creation {
    /// The identity already existed (same national identifier, or a certain match):
    /// no new entry, here is the existing one.
    Existing(Patient),
    /// A new entry was created.
    Created(Patient),
    /// A new entry was created, flagged doubtful, and sent to review with these
    /// existing identities.
    CreatedForReview(Patient, Vec<String>),
}

/// The directory service.
#[derive(Clone)]
pub struct Directory {
    db: Db,
    recorder: Arc<dyn Recorder>,
    clock: Arc<dyn Clock>,
    matcher: Arc<Matcher>,
    sequence: Arc<std::sync::atomic::AtomicU64>,
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
    Token::new(value).unwrap_or_else(|_| Token::code("invalid"))
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
        }
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
            let event = self
                .event(req, EventKind::DirectoryAccessDenied, audit_action)
                .outcome(Outcome::Denied(Token::code(denied.reason())));
            self.recorder.record(event).await?;
            return Err(denied.into());
        }
        Ok(())
    }

    fn change_op(
        &self,
        kind: ChangeKind,
        register: Register,
        entry: &str,
        related: Option<String>,
    ) -> DirectoryResult<WriteOp> {
        let now = self.clock.now();
        let event = ChangeEvent {
            cursor: String::new(),
            at: now,
            kind,
            register,
            entry: entry.to_owned(),
            related,
        };
        // Time, then this process's sequence, so the feed reads in order; the random
        // part keeps other processes' writers from colliding.
        let seq = self
            .sequence
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let key = format!(
            "{:020}-{seq:012}-{}",
            now.timestamp_micros(),
            &new_id()[..8]
        );
        Ok(WriteOp::Put {
            collection: CHANGES.into(),
            key,
            value: encode(&event)?,
            expect: Expect::Absent,
        })
    }

    /// The write operations that store `new` over `old` (at `version`), with its terms
    /// and change events.
    fn entry_ops<E: Entry>(
        &self,
        old: Option<(&E, i64)>,
        new: &E,
        ops: &mut Vec<WriteOp>,
    ) -> DirectoryResult<()> {
        ops.push(WriteOp::Put {
            collection: E::COLLECTION.into(),
            key: new.key().to_owned(),
            value: encode(new)?,
            expect: old.map_or(Expect::Absent, |(_, v)| Expect::Version(v)),
        });
        ops.push(WriteOp::Index {
            collection: E::COLLECTION.into(),
            key: new.key().to_owned(),
            terms: new.terms(),
        });
        for (kind, related) in E::changes(old.map(|(e, _)| e), new) {
            ops.push(self.change_op(kind, E::REGISTER, new.key(), related)?);
        }
        Ok(())
    }

    /// Loads a batch of register entries (professionals, establishments, agents):
    /// validated first, then written in one transaction with their change events.
    /// An entry equal to the stored one writes nothing, so re-running a feed is a no-op.
    pub async fn upsert<E: Entry>(
        &self,
        req: &Request,
        entries: &[E],
    ) -> DirectoryResult<BatchOutcome> {
        self.check(req, DirectoryAction::ImportRegisters, Action::Update)
            .await?;
        for e in entries {
            e.validate()?;
        }
        let keys: Vec<String> = entries.iter().map(|e| e.key().to_owned()).collect();
        let unique: HashSet<&String> = keys.iter().collect();
        if unique.len() != keys.len() {
            return Err(DirectoryError::Conflict(
                "the same entry appears twice in one batch".into(),
            ));
        }
        let stored = self.db.get_many(E::COLLECTION, &keys).await?;
        let mut old: HashMap<String, (E, i64)> = HashMap::with_capacity(stored.len());
        for r in &stored {
            old.insert(r.key.clone(), (decode(r)?, r.version));
        }
        let mut outcome = BatchOutcome::default();
        let mut ops = Vec::new();
        for e in entries {
            match old.get(e.key()) {
                Some((o, _)) if o == e => outcome.unchanged += 1,
                Some((o, v)) => {
                    outcome.updated += 1;
                    self.entry_ops(Some((o, *v)), e, &mut ops)?;
                }
                None => {
                    outcome.created += 1;
                    self.entry_ops(None, e, &mut ops)?;
                }
            }
        }
        if !ops.is_empty() {
            self.db.write_batch(&ops, self.now_micros()).await?;
        }
        Ok(outcome)
    }

    /// Loads a batch of patients from the national register, keyed by national
    /// identification number (required). A known number updates its entry (keeping
    /// the platform id and the identity-vigilance state); a new one is matched against
    /// the directory first, and a resemblance sends the pair to review.
    pub async fn upsert_patients(
        &self,
        req: &Request,
        inputs: &[Patient],
    ) -> DirectoryResult<BatchOutcome> {
        self.check(req, DirectoryAction::ImportRegisters, Action::Update)
            .await?;
        let mut nins = Vec::with_capacity(inputs.len());
        for p in inputs {
            // Register lines carry no platform id yet; one is given on creation.
            let mut probe = p.clone();
            probe.id = "new".into();
            probe.validate()?;
            let nin = p.national_id.as_ref().ok_or_else(|| InvalidEntry {
                field: "national_id",
                reason: "the national register keys patients by it".into(),
            })?;
            nins.push(nin.as_str().to_owned());
        }
        if nins.iter().collect::<HashSet<_>>().len() != nins.len() {
            return Err(DirectoryError::Conflict(
                "the same national identifier appears twice in one batch".into(),
            ));
        }
        let by_nin: HashMap<String, String> = self
            .db
            .find_terms(PATIENTS, "nin", &nins, u32::MAX)
            .await?
            .into_iter()
            .collect();
        let known_keys: Vec<String> = by_nin.values().cloned().collect();
        let mut old: HashMap<String, (Patient, i64)> = HashMap::new();
        for r in self.db.get_many(PATIENTS, &known_keys).await? {
            old.insert(r.key.clone(), (decode(&r)?, r.version));
        }

        let mut outcome = BatchOutcome::default();
        let mut ops = Vec::new();
        let mut fresh = Vec::new();
        for (p, nin) in inputs.iter().zip(&nins) {
            match by_nin.get(nin).and_then(|k| old.get(k)) {
                Some((o, v)) => {
                    let mut updated = p.clone();
                    updated.id = o.id.clone();
                    updated.doubtful = o.doubtful;
                    updated.homonym = o.homonym;
                    updated.merged_into = o.merged_into.clone();
                    if updated == *o {
                        outcome.unchanged += 1;
                    } else {
                        outcome.updated += 1;
                        self.entry_ops(Some((o, *v)), &updated, &mut ops)?;
                    }
                }
                None => {
                    let mut created = p.clone();
                    created.id = new_id();
                    fresh.push(created);
                }
            }
        }
        // Search before create, for the whole batch at once.
        let similar = self.similar_identities(&fresh).await?;
        for (mut p, lookalikes) in fresh.into_iter().zip(similar) {
            outcome.created += 1;
            if !lookalikes.is_empty() {
                p.doubtful = true;
                outcome.sent_to_review += 1;
                for (existing, score) in &lookalikes {
                    ops.push(self.review_op(&p.id, existing, *score)?);
                }
            }
            self.entry_ops(None, &p, &mut ops)?;
        }
        if !ops.is_empty() {
            self.db.write_batch(&ops, self.now_micros()).await?;
        }
        Ok(outcome)
    }

    fn review_op(&self, new: &str, existing: &str, score: f64) -> DirectoryResult<WriteOp> {
        let item = ReviewItem {
            id: String::new(),
            new_identity: new.to_owned(),
            existing_identity: existing.to_owned(),
            score,
            created_at: self.clock.now(),
            decision: None,
        };
        Ok(WriteOp::Put {
            collection: REVIEWS.into(),
            key: format!("{:020}-{}", self.now_micros(), new_id()),
            value: encode(&item)?,
            expect: Expect::Absent,
        })
    }

    /// For each identity, the stored ones that score at least the review threshold
    /// (other national identifiers: the same number is the same person).
    async fn similar_identities(
        &self,
        identities: &[Patient],
    ) -> DirectoryResult<Vec<Vec<(String, f64)>>> {
        let scored = self.score_candidates(identities).await?;
        Ok(scored
            .into_iter()
            .map(|list| {
                list.into_iter()
                    .filter(|(_, score, decision)| {
                        *decision != Decision::Distinct && score.is_finite()
                    })
                    .map(|(p, score, _)| (p.id, score))
                    .collect()
            })
            .collect())
    }

    /// Candidates by blocking keys, scored, best first.
    async fn score_candidates(
        &self,
        identities: &[Patient],
    ) -> DirectoryResult<Vec<Vec<(Patient, f64, Decision)>>> {
        let prepared: Vec<Prepared> = identities
            .iter()
            .map(|p| Prepared::new(&identity_fields(p)))
            .collect();
        let keys: Vec<Vec<String>> = prepared.iter().map(Prepared::blocking_keys).collect();
        let mut all: Vec<String> = keys.iter().flatten().cloned().collect();
        all.sort();
        all.dedup();
        let pairs = self
            .db
            .find_terms(PATIENTS, "block", &all, MAX_CANDIDATES * 16)
            .await?;
        let mut by_key: HashMap<String, Vec<String>> = HashMap::new();
        for (term, key) in pairs {
            by_key.entry(term).or_default().push(key);
        }
        let mut wanted: Vec<String> = by_key.values().flatten().cloned().collect();
        wanted.sort();
        wanted.dedup();
        let mut stored: HashMap<String, (Patient, Prepared)> = HashMap::new();
        for r in self.db.get_many(PATIENTS, &wanted).await? {
            let p: Patient = decode(&r)?;
            let prep = Prepared::new(&identity_fields(&p));
            stored.insert(r.key, (p, prep));
        }
        let mut out = Vec::with_capacity(identities.len());
        for ((identity, prep), keys) in identities.iter().zip(&prepared).zip(&keys) {
            let mut seen = HashSet::new();
            let mut found = Vec::new();
            for k in keys {
                for cand in by_key.get(k).into_iter().flatten() {
                    if cand == &identity.id || !seen.insert(cand.clone()) {
                        continue;
                    }
                    let Some((p, cp)) = stored.get(cand) else {
                        continue;
                    };
                    if p.merged_into.is_some() {
                        continue;
                    }
                    let same_nin =
                        identity.national_id.is_some() && identity.national_id == p.national_id;
                    let (score, decision) = if same_nin {
                        (f64::INFINITY, Decision::Link)
                    } else {
                        self.matcher.assess(prep, cp)
                    };
                    found.push((p.clone(), score, decision));
                }
            }
            found.sort_by(|a, b| b.1.total_cmp(&a.1));
            out.push(found);
        }
        Ok(out)
    }

    /// Creates a patient identity from a care provider's declaration, searching before
    /// creating (DIR-6): an existing national identifier or a certain match returns the
    /// existing entry; a resemblance creates a provisional, doubtful entry and sends
    /// the pair to the review queue.
    pub async fn create_patient(&self, req: &Request, input: Patient) -> DirectoryResult<Creation> {
        self.check(req, DirectoryAction::WritePatients, Action::Create)
            .await?;
        let mut p = input;
        p.id = new_id();
        p.merged_into = None;
        p.validate()?;
        let candidates = self
            .score_candidates(std::slice::from_ref(&p))
            .await?
            .pop()
            .unwrap_or_default();
        let creation = match candidates.first() {
            Some((existing, _, Decision::Link)) => Creation::Existing(existing.clone()),
            _ => {
                let review: Vec<(String, f64)> = candidates
                    .iter()
                    .filter(|(_, _, d)| *d == Decision::Review)
                    .map(|(c, s, _)| (c.id.clone(), *s))
                    .collect();
                let mut ops = Vec::new();
                if !review.is_empty() {
                    p.doubtful = true;
                    for (existing, score) in &review {
                        ops.push(self.review_op(&p.id, existing, *score)?);
                    }
                }
                self.entry_ops(None, &p, &mut ops)?;
                self.db.write_batch(&ops, self.now_micros()).await?;
                if review.is_empty() {
                    Creation::Created(p.clone())
                } else {
                    Creation::CreatedForReview(
                        p.clone(),
                        review.into_iter().map(|(id, _)| id).collect(),
                    )
                }
            }
        };
        let (kind, patient) = match &creation {
            Creation::Existing(e) => (EventKind::DirectoryPatientRead, e),
            Creation::Created(c) | Creation::CreatedForReview(c, _) => {
                (EventKind::DirectoryPatientCreated, c)
            }
        };
        let event = self
            .event(req, kind, Action::Create)
            .resource(Token::code("Patient"), token(&patient.id))
            .patient(token(&patient.id));
        self.recorder.record(event).await?;
        Ok(creation)
    }

    /// Records one read event per patient entry revealed.
    async fn trace_reads(&self, req: &Request, patients: &[Patient]) -> DirectoryResult<()> {
        let events = patients.iter().map(|p| {
            self.recorder.record(
                self.event(req, EventKind::DirectoryPatientRead, Action::Read)
                    .resource(Token::code("Patient"), token(&p.id))
                    .patient(token(&p.id)),
            )
        });
        for result in futures::future::join_all(events).await {
            result?;
        }
        Ok(())
    }

    /// Reads a patient entry, following merges to the surviving identity. Traced.
    pub async fn patient(&self, req: &Request, id: &str) -> DirectoryResult<Patient> {
        self.check(req, DirectoryAction::ReadPatients, Action::Read)
            .await?;
        let mut current = self.load_patient(id).await?;
        let mut hops = 0;
        while let Some(next) = current.merged_into.clone() {
            hops += 1;
            if hops > 8 {
                return Err(PlatformError::corrupt(id).into());
            }
            current = self.load_patient(&next).await?;
        }
        self.trace_reads(req, std::slice::from_ref(&current))
            .await?;
        Ok(current)
    }

    async fn load_patient(&self, id: &str) -> DirectoryResult<Patient> {
        crate::model::check_id("id", id)?;
        let record = self
            .db
            .get(PATIENTS, id)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(format!("Patient/{id}")))?;
        decode(&record)
    }

    /// Searches the patient directory (PDQm). At least one criterion is required: the
    /// directory is never listed whole. Merged entries are left out. Every entry
    /// returned is traced.
    pub async fn search_patients(
        &self,
        req: &Request,
        query: &PatientQuery,
        after: Option<&str>,
        limit: u32,
    ) -> DirectoryResult<Page<Patient>> {
        self.check(req, DirectoryAction::ReadPatients, Action::Read)
            .await?;
        let terms = query.terms();
        if terms.is_empty() {
            return Err(InvalidEntry {
                field: "search",
                reason: "give at least one criterion".into(),
            }
            .into());
        }
        let event = self.event(req, EventKind::DirectoryPatientSearched, Action::Execute);
        self.recorder.record(event).await?;
        let mut page: Page<Patient> = self.search_page(PATIENTS, terms, after, limit).await?;
        page.items.retain(|p| p.merged_into.is_none());
        self.trace_reads(req, &page.items).await?;
        Ok(page)
    }

    /// Scores the stored identities against `candidate` (PDQm `$match`): best first,
    /// with the matcher's score and decision. Every entry returned is traced.
    pub async fn match_patient(
        &self,
        req: &Request,
        candidate: &Patient,
        limit: usize,
    ) -> DirectoryResult<Vec<(Patient, f64, Decision)>> {
        self.check(req, DirectoryAction::ReadPatients, Action::Read)
            .await?;
        let event = self.event(req, EventKind::DirectoryPatientSearched, Action::Execute);
        self.recorder.record(event).await?;
        let mut found = self
            .score_candidates(std::slice::from_ref(candidate))
            .await?
            .pop()
            .unwrap_or_default();
        found.retain(|(_, _, d)| *d != Decision::Distinct);
        found.truncate(limit);
        let patients: Vec<Patient> = found.iter().map(|(p, _, _)| p.clone()).collect();
        self.trace_reads(req, &patients).await?;
        Ok(found)
    }

    async fn search_page<E: Entry>(
        &self,
        collection: &str,
        terms: Vec<TermQuery>,
        after: Option<&str>,
        limit: u32,
    ) -> DirectoryResult<Page<E>> {
        let limit = limit.clamp(1, MAX_PAGE);
        // One more than asked tells whether there is a next page.
        let (keys, total) = if terms.is_empty() {
            let records = self.db.list(collection, after, limit + 1).await?;
            let keys: Vec<String> = records.iter().map(|r| r.key.clone()).collect();
            (keys, self.db.count(collection).await?)
        } else {
            let keys = self.db.search(collection, &terms, after, limit + 1).await?;
            (keys, self.db.search_count(collection, &terms).await?)
        };
        let more = keys.len() > limit as usize;
        let keys: Vec<String> = keys.into_iter().take(limit as usize).collect();
        let records = self.db.get_many(collection, &keys).await?;
        let items = records
            .iter()
            .map(decode)
            .collect::<DirectoryResult<Vec<E>>>()?;
        Ok(Page {
            next: if more { keys.last().cloned() } else { None },
            items,
            total,
        })
    }

    /// A professional by national identifier (public).
    pub async fn professional(&self, id: &str) -> DirectoryResult<Professional> {
        self.public_entry(id).await
    }

    /// An establishment by identifier (public).
    pub async fn establishment(&self, id: &str) -> DirectoryResult<Establishment> {
        self.public_entry(id).await
    }

    async fn public_entry<E: Entry>(&self, id: &str) -> DirectoryResult<E> {
        crate::model::check_id("id", id)?;
        let record = self
            .db
            .get(E::COLLECTION, id)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(id.to_owned()))?;
        decode(&record)
    }

    /// Searches the professional directory (public, DIR-1).
    pub async fn search_professionals(
        &self,
        query: &ProfessionalQuery,
        after: Option<&str>,
        limit: u32,
    ) -> DirectoryResult<Page<Professional>> {
        self.search_page(PROFESSIONALS, query.terms(), after, limit)
            .await
    }

    /// Searches establishments (public, DIR-1).
    pub async fn search_establishments(
        &self,
        query: &EstablishmentQuery,
        after: Option<&str>,
        limit: u32,
    ) -> DirectoryResult<Page<Establishment>> {
        self.search_page(ESTABLISHMENTS, query.terms(), after, limit)
            .await
    }

    /// The agents entry by id, for the accounts and the identity-vigilance checks.
    pub async fn agent(&self, id: &str) -> DirectoryResult<Agent> {
        self.public_entry(id).await
    }

    /// Change events after `cursor` (exclusive), oldest first.
    pub async fn changes_after(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> DirectoryResult<Vec<ChangeEvent>> {
        let records = self.db.list(CHANGES, cursor, limit).await?;
        records
            .iter()
            .map(|r| {
                let mut e: ChangeEvent = decode(r)?;
                e.cursor = r.key.clone();
                Ok(e)
            })
            .collect()
    }

    /// The last line committed by an import of the file identified by `source`.
    pub async fn import_checkpoint(&self, source: &str) -> DirectoryResult<u64> {
        Ok(match self.db.get(IMPORTS, source).await? {
            Some(r) => decode(&r)?,
            None => 0,
        })
    }

    /// Records that an import of `source` committed every line up to `line`.
    pub async fn set_import_checkpoint(&self, source: &str, line: u64) -> DirectoryResult<()> {
        self.db
            .put(
                IMPORTS,
                source,
                &encode(&line)?,
                Expect::Any,
                self.now_micros(),
            )
            .await?;
        Ok(())
    }

    /// Entry counts per register, for the operator.
    pub async fn counts(&self) -> DirectoryResult<Vec<(Register, u64)>> {
        let mut out = Vec::new();
        for (register, collection) in [
            (Register::Professional, PROFESSIONALS),
            (Register::Establishment, ESTABLISHMENTS),
            (Register::Patient, PATIENTS),
            (Register::Agent, AGENTS),
        ] {
            out.push((register, self.db.count(collection).await?));
        }
        Ok(out)
    }

    /// The open items of the review queue (identity vigilance only).
    pub async fn review_queue(
        &self,
        req: &Request,
        limit: u32,
    ) -> DirectoryResult<Vec<ReviewItem>> {
        self.check(req, DirectoryAction::IdentityVigilance, Action::Read)
            .await?;
        let mut open = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.db.list(REVIEWS, after.as_deref(), 1000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for r in &page {
                let mut item: ReviewItem = decode(r)?;
                item.id = r.key.clone();
                if item.decision.is_none() {
                    open.push(item);
                    if open.len() >= limit as usize {
                        return Ok(open);
                    }
                }
            }
        }
        Ok(open)
    }

    /// Merges `merged` into `survivor` (identity vigilance only): reads of the merged
    /// identity lead to the survivor; the history keeps what is needed to undo it.
    pub async fn merge(
        &self,
        req: &Request,
        survivor: &str,
        merged: &str,
    ) -> DirectoryResult<String> {
        self.check(req, DirectoryAction::IdentityVigilance, Action::Update)
            .await?;
        if survivor == merged {
            return Err(DirectoryError::Conflict(
                "an identity cannot be merged into itself".into(),
            ));
        }
        let (s, _) = self.patient_with_version(survivor).await?;
        let (m, m_version) = self.patient_with_version(merged).await?;
        if s.merged_into.is_some() || m.merged_into.is_some() {
            return Err(DirectoryError::Conflict(
                "one of the identities is already merged".into(),
            ));
        }
        let mut after = m.clone();
        after.merged_into = Some(s.id.clone());
        let record = MergeRecord {
            id: String::new(),
            survivor: s.id.clone(),
            merged: m.id.clone(),
            by: req
                .caller
                .actor()
                .person
                .map(|t| t.to_string())
                .unwrap_or_default(),
            at: self.clock.now(),
            before: m.clone(),
            undone_at: None,
        };
        let merge_id = format!("{:020}-{}", self.now_micros(), new_id());
        let mut ops = vec![WriteOp::Put {
            collection: MERGES.into(),
            key: merge_id.clone(),
            value: encode(&record)?,
            expect: Expect::Absent,
        }];
        self.entry_ops(Some((&m, m_version)), &after, &mut ops)?;
        ops.push(self.change_op(
            ChangeKind::IdentityMerged,
            Register::Patient,
            &m.id,
            Some(s.id.clone()),
        )?);
        self.db.write_batch(&ops, self.now_micros()).await?;
        let event = self
            .event(req, EventKind::DirectoryIdentityMerged, Action::Update)
            .resource(Token::code("Patient"), token(&m.id))
            .patient(token(&s.id));
        self.recorder.record(event).await?;
        Ok(merge_id)
    }

    /// Undoes a merge exactly (identity vigilance only).
    pub async fn unmerge(&self, req: &Request, merge_id: &str) -> DirectoryResult<()> {
        self.check(req, DirectoryAction::IdentityVigilance, Action::Update)
            .await?;
        let record = self
            .db
            .get(MERGES, merge_id)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(format!("merge {merge_id}")))?;
        let mut merge: MergeRecord = decode(&record)?;
        if merge.undone_at.is_some() {
            return Err(DirectoryError::Conflict(
                "this merge was already undone".into(),
            ));
        }
        let (current, version) = self.patient_with_version(&merge.merged).await?;
        if current.merged_into.as_deref() != Some(merge.survivor.as_str()) {
            return Err(DirectoryError::Conflict(
                "the identity changed since the merge".into(),
            ));
        }
        merge.undone_at = Some(self.clock.now());
        let mut ops = vec![WriteOp::Put {
            collection: MERGES.into(),
            key: merge_id.to_owned(),
            value: encode(&merge)?,
            expect: Expect::Version(record.version),
        }];
        self.entry_ops(Some((&current, version)), &merge.before, &mut ops)?;
        ops.push(self.change_op(
            ChangeKind::IdentityUnmerged,
            Register::Patient,
            &merge.merged,
            Some(merge.survivor.clone()),
        )?);
        self.db.write_batch(&ops, self.now_micros()).await?;
        let event = self
            .event(req, EventKind::DirectoryIdentityUnmerged, Action::Update)
            .resource(Token::code("Patient"), token(&merge.merged))
            .patient(token(&merge.survivor));
        self.recorder.record(event).await?;
        Ok(())
    }

    /// Decides a review item (identity vigilance only): `Merged` merges the new
    /// identity into the existing one; `Distinct` flags both as homonyms and clears
    /// the doubt.
    pub async fn decide_review(
        &self,
        req: &Request,
        item_id: &str,
        decision: ReviewDecision,
    ) -> DirectoryResult<()> {
        self.check(req, DirectoryAction::IdentityVigilance, Action::Update)
            .await?;
        let record = self
            .db
            .get(REVIEWS, item_id)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(format!("review {item_id}")))?;
        let mut item: ReviewItem = decode(&record)?;
        if item.decision.is_some() {
            return Err(DirectoryError::Conflict("already decided".into()));
        }
        match decision {
            ReviewDecision::Merged => {
                self.merge(req, &item.existing_identity, &item.new_identity)
                    .await?;
            }
            ReviewDecision::Distinct => {
                let mut ops = Vec::new();
                for id in [&item.new_identity, &item.existing_identity] {
                    let (p, v) = self.patient_with_version(id).await?;
                    let mut after = p.clone();
                    after.homonym = true;
                    after.doubtful = false;
                    if after != p {
                        self.entry_ops(Some((&p, v)), &after, &mut ops)?;
                    }
                }
                if !ops.is_empty() {
                    self.db.write_batch(&ops, self.now_micros()).await?;
                }
            }
        }
        item.decision = Some(decision);
        self.db
            .put(
                REVIEWS,
                item_id,
                &encode(&item)?,
                Expect::Version(record.version),
                self.now_micros(),
            )
            .await?;
        let event = self
            .event(req, EventKind::DirectoryReviewDecided, Action::Update)
            .resource(Token::code("Patient"), token(&item.new_identity))
            .patient(token(&item.existing_identity));
        self.recorder.record(event).await?;
        Ok(())
    }

    /// Sets the identity status (identity vigilance only).
    pub async fn set_identity_status(
        &self,
        req: &Request,
        id: &str,
        status: IdentityStatus,
    ) -> DirectoryResult<Patient> {
        self.check(req, DirectoryAction::IdentityVigilance, Action::Update)
            .await?;
        let (p, v) = self.patient_with_version(id).await?;
        let mut after = p.clone();
        after.status = status;
        if after != p {
            let mut ops = Vec::new();
            self.entry_ops(Some((&p, v)), &after, &mut ops)?;
            self.db.write_batch(&ops, self.now_micros()).await?;
        }
        Ok(after)
    }

    async fn patient_with_version(&self, id: &str) -> DirectoryResult<(Patient, i64)> {
        crate::model::check_id("id", id)?;
        let record = self
            .db
            .get(PATIENTS, id)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(format!("Patient/{id}")))?;
        Ok((decode(&record)?, record.version))
    }

    /// Deletes the agents whose mission ended more than 12 months ago (DIR-7).
    /// Returns how many were deleted; each deletion is traced.
    pub async fn purge_agents(&self, req: &Request) -> DirectoryResult<u64> {
        self.check(req, DirectoryAction::Purge, Action::Delete)
            .await?;
        let today = self.today();
        let mut due = Vec::new();
        let mut after: Option<String> = None;
        let with_end = [TermQuery::prefix("purge_due", "")];
        loop {
            let keys = self
                .db
                .search(AGENTS, &with_end, after.as_deref(), 1000)
                .await?;
            let Some(last) = keys.last() else { break };
            after = Some(last.clone());
            for r in self.db.get_many(AGENTS, &keys).await? {
                let agent: Agent = decode(&r)?;
                if agent.purge_due().is_some_and(|d| d <= today) {
                    due.push(r.key);
                }
            }
        }
        let mut purged = 0;
        for key in due {
            self.db.delete(AGENTS, &key, Expect::Any).await?;
            let event = self
                .event(req, EventKind::DirectoryAgentPurged, Action::Delete)
                .resource(Token::code("Agent"), token(&key));
            self.recorder.record(event).await?;
            purged += 1;
        }
        Ok(purged)
    }

    /// The qualities a person holds today, by national identification number: each
    /// register decides on its own (PLT-4).
    pub async fn qualities_of(&self, nin: &NationalId) -> DirectoryResult<Vec<Register>> {
        let today = self.today();
        let mut out = Vec::new();
        let nin = vec![nin.as_str().to_owned()];
        let patients: Vec<String> = self
            .db
            .find_terms(PATIENTS, "nin", &nin, 10)
            .await?
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        for r in self.db.get_many(PATIENTS, &patients).await? {
            let p: Patient = decode(&r)?;
            if p.merged_into.is_none() && p.affiliated_on(today) {
                out.push(Register::Patient);
            }
        }
        let pros: Vec<String> = self
            .db
            .find_terms(PROFESSIONALS, "nin", &nin, 10)
            .await?
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        for r in self.db.get_many(PROFESSIONALS, &pros).await? {
            let p: Professional = decode(&r)?;
            if p.authorisation.in_force(today) {
                out.push(Register::Professional);
            }
        }
        let agents: Vec<String> = self
            .db
            .find_terms(AGENTS, "nin", &nin, 10)
            .await?
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        for r in self.db.get_many(AGENTS, &agents).await? {
            let a: Agent = decode(&r)?;
            if a.active_on(today) {
                out.push(Register::Agent);
            }
        }
        out.dedup();
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
