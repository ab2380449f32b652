//! Terms of use (TOU-1, TOU-2): the general terms and each service's particular terms,
//! versioned, in French (authoritative), German and English; and each account's dated
//! acceptance of each version.
//!
//! A version applies from its publication: from then on, an account that has not
//! accepted it is refused the service concerned (the general terms concern every
//! service) until it does; the portal shows the new text at the next login. Particular
//! terms prevail over general ones, which is a matter of their texts: both must be
//! accepted.
//!
//! Architecture invariant: knows accounts by identifier only, nothing of HTTP; stores
//! through `sante-store`; every publication, acceptance and refusal is traced.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sante_audit::{
    Action, Actor, AuditEvent, EventKind, Outcome, PlatformError, Recorder, Source, Token,
};
use sante_store::{Db, Expect, StoreError, Term, TermQuery, WriteOp};
use sante_types::{Clock, Coded, ErrorKind, Service};
use serde::{Deserialize, Serialize};

const DOCUMENTS: &str = "terms-document";
const ACCEPTANCES: &str = "terms-acceptance";
/// A text is at most this long in one language.
const MAX_TEXT_BYTES: usize = 256 * 1024;

/// Which terms: the general ones, or a service's particular ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scope", content = "service")]
pub enum Document {
    General,
    Service(Service),
}

impl Document {
    /// The stable code: `general`, `dsp`, `messaging`, `referent`.
    pub fn code(self) -> &'static str {
        match self {
            Document::General => "general",
            Document::Service(s) => s.as_str(),
        }
    }

    pub fn parse(code: &str) -> Option<Document> {
        match code {
            "general" => Some(Document::General),
            other => match Service::parse(other)? {
                s @ (Service::Dsp | Service::Messaging | Service::Referent) => {
                    Some(Document::Service(s))
                }
                _ => None,
            },
        }
    }

    /// The documents that govern `service`: the general terms, then its own.
    pub fn governing(service: Service) -> Vec<Document> {
        match service {
            Service::Dsp | Service::Messaging | Service::Referent => {
                vec![Document::General, Document::Service(service)]
            }
            _ => vec![Document::General],
        }
    }
}

/// A text in the three languages; French is authoritative (TOU-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Texts {
    pub fr: String,
    pub de: String,
    pub en: String,
}

impl Texts {
    /// The text in `lang` (`fr`, `de`, `en`); French for anything else.
    pub fn get(&self, lang: &str) -> &str {
        match lang {
            "de" => &self.de,
            "en" => &self.en,
            _ => &self.fr,
        }
    }
}

/// One published version of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub document: Document,
    pub version: u32,
    pub published: DateTime<Utc>,
    pub title: Texts,
    pub body: Texts,
}

/// An account's acceptance of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    pub account: String,
    pub document: Document,
    pub version: u32,
    pub at: DateTime<Utc>,
    /// The language the holder read it in.
    pub lang: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TermsError {
    #[error("invalid terms: {0}")]
    Invalid(String),
    #[error("the terms were accepted in another version: accept the current one ({0})")]
    NotCurrent(String),
    #[error("the current terms of use must be accepted first")]
    NotAccepted(Vec<Version>),
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Platform(PlatformError),
}

sante_audit::platform_error_conversions!(TermsError);

impl Coded for TermsError {
    fn code(&self) -> &'static str {
        match self {
            TermsError::Invalid(_) => "TRM001",
            TermsError::NotCurrent(_) => "TRM002",
            TermsError::NotAccepted(_) => "TRM003",
            TermsError::NotFound(_) => "TRM004",
            TermsError::Conflict(_) => "TRM005",
            TermsError::Platform(e) => e.code(),
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            TermsError::Invalid(_) => ErrorKind::Invalid,
            // A newer version was published meanwhile: the same request cannot succeed.
            TermsError::NotCurrent(_) | TermsError::Conflict(_) => ErrorKind::Conflict,
            TermsError::NotAccepted(_) => ErrorKind::Denied,
            TermsError::NotFound(_) => ErrorKind::NotFound,
            TermsError::Platform(e) => e.kind(),
        }
    }
}

/// Stored terms that cannot be read back.
fn corrupt() -> TermsError {
    PlatformError::corrupt("terms").into()
}

pub type TermsResult<T> = Result<T, TermsError>;

/// The terms-of-use service.
#[derive(Clone)]
pub struct Terms {
    db: Db,
    recorder: Arc<dyn Recorder>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Terms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Terms(..)")
    }
}

fn version_key(document: Document, version: u32) -> String {
    format!("{}:{version:06}", document.code())
}

fn acceptance_key(account: &str, document: Document, version: u32) -> String {
    format!("{account}:{}:{version:06}", document.code())
}

impl Terms {
    pub fn new(db: Db, recorder: Arc<dyn Recorder>, clock: Arc<dyn Clock>) -> Terms {
        Terms {
            db,
            recorder,
            clock,
        }
    }

    async fn trace(
        &self,
        kind: EventKind,
        actor: Actor,
        document: Document,
        version: u32,
        source: &Source,
        outcome: Outcome,
    ) -> TermsResult<()> {
        let resource = Token::new(version_key(document, version))
            .map_err(|_| TermsError::Invalid("document".into()))?;
        let event = AuditEvent::new(
            kind,
            self.clock.now(),
            actor,
            Service::Portal,
            Action::Update,
        )
        .resource(Token::code("TermsOfUse"), resource)
        .source(source.clone())
        .outcome(outcome);
        self.recorder.record(event).await?;
        Ok(())
    }

    /// The current version of `document`, if any was published.
    pub async fn current(&self, document: Document) -> TermsResult<Option<Version>> {
        let keys = self
            .db
            .search(
                DOCUMENTS,
                &[TermQuery::exact("document", document.code())],
                None,
                10_000,
            )
            .await?;
        // Keys sort by zero-padded version: the last is the current one.
        let Some(last) = keys.last() else {
            return Ok(None);
        };
        let Some(record) = self.db.get(DOCUMENTS, last).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&record.value)
            .map(Some)
            .map_err(|_| corrupt())
    }

    /// A given version of `document`.
    pub async fn version(&self, document: Document, version: u32) -> TermsResult<Option<Version>> {
        match self
            .db
            .get(DOCUMENTS, &version_key(document, version))
            .await?
        {
            Some(record) => serde_json::from_slice(&record.value)
                .map(Some)
                .map_err(|_| corrupt()),
            None => Ok(None),
        }
    }

    /// Publishes a new version of `document`, in force at once (TOU-1). Every
    /// language is required and none may be empty.
    pub async fn publish(
        &self,
        document: Document,
        title: Texts,
        body: Texts,
        source: &Source,
    ) -> TermsResult<Version> {
        for (lang, text) in [
            ("fr", &body.fr),
            ("de", &body.de),
            ("en", &body.en),
            ("fr title", &title.fr),
            ("de title", &title.de),
            ("en title", &title.en),
        ] {
            if text.trim().is_empty() {
                return Err(TermsError::Invalid(format!("the {lang} text is empty")));
            }
            if text.len() > MAX_TEXT_BYTES {
                return Err(TermsError::Invalid(format!("the {lang} text is too long")));
            }
        }
        let version = self.current(document).await?.map_or(1, |v| v.version + 1);
        let published = Version {
            document,
            version,
            published: self.clock.now(),
            title,
            body,
        };
        let key = version_key(document, version);
        let value = serde_json::to_vec(&published).map_err(|_| corrupt())?;
        self.db
            .write_batch(
                &[
                    WriteOp::Put {
                        collection: DOCUMENTS.into(),
                        key: key.clone(),
                        value,
                        expect: Expect::Absent,
                    },
                    WriteOp::Index {
                        collection: DOCUMENTS.into(),
                        key,
                        terms: vec![Term::new("document", document.code())],
                    },
                ],
                self.clock.now().timestamp_micros(),
            )
            .await?;
        self.trace(
            EventKind::TermsPublished,
            Actor::platform(),
            document,
            version,
            source,
            Outcome::Success,
        )
        .await?;
        Ok(published)
    }

    /// The account's acceptance of a version, if it accepted it.
    pub async fn acceptance(
        &self,
        account: &str,
        document: Document,
        version: u32,
    ) -> TermsResult<Option<Acceptance>> {
        match self
            .db
            .get(ACCEPTANCES, &acceptance_key(account, document, version))
            .await?
        {
            Some(record) => serde_json::from_slice(&record.value)
                .map(Some)
                .map_err(|_| corrupt()),
            None => Ok(None),
        }
    }

    /// Every version of every document the account accepted, with when and in which
    /// language, oldest first (PRV-1).
    pub async fn acceptances(&self, account: &str) -> TermsResult<Vec<(Version, Acceptance)>> {
        let mut out = Vec::new();
        let documents = [Document::General]
            .into_iter()
            .chain([Service::Dsp, Service::Messaging, Service::Referent].map(Document::Service));
        for document in documents {
            let Some(current) = self.current(document).await? else {
                continue;
            };
            for version in 1..=current.version {
                if let Some(accepted) = self.acceptance(account, document, version).await?
                    && let Some(text) = self.version(document, version).await?
                {
                    out.push((text, accepted));
                }
            }
        }
        out.sort_by_key(|(_, a)| a.at);
        Ok(out)
    }

    /// The current versions governing `service` that `account` has not accepted yet,
    /// general terms first.
    pub async fn pending(&self, account: &str, service: Service) -> TermsResult<Vec<Version>> {
        let mut out = Vec::new();
        for document in Document::governing(service) {
            if let Some(current) = self.current(document).await?
                && self
                    .acceptance(account, document, current.version)
                    .await?
                    .is_none()
            {
                out.push(current);
            }
        }
        Ok(out)
    }

    /// Whether `account` had accepted an earlier version of `document`: the portal
    /// then says a new version was published rather than asking a first acceptance.
    pub async fn accepted_before(
        &self,
        account: &str,
        document: Document,
        version: u32,
    ) -> TermsResult<bool> {
        for earlier in (1..version).rev() {
            if self.acceptance(account, document, earlier).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Records that `account` accepted `version` of `document`, read in `lang`. Only
    /// the current version can be accepted.
    pub async fn accept(
        &self,
        actor: Actor,
        account: &str,
        document: Document,
        version: u32,
        lang: &str,
        source: &Source,
    ) -> TermsResult<Acceptance> {
        let current = self
            .current(document)
            .await?
            .ok_or_else(|| TermsError::Invalid("no terms are published".into()))?;
        if current.version != version {
            return Err(TermsError::NotCurrent(format!(
                "{} version {}",
                document.code(),
                current.version
            )));
        }
        let lang = match lang {
            "de" | "en" => lang,
            _ => "fr",
        };
        let acceptance = Acceptance {
            account: account.to_owned(),
            document,
            version,
            at: self.clock.now(),
            lang: lang.to_owned(),
        };
        let value = serde_json::to_vec(&acceptance).map_err(|_| corrupt())?;
        match self
            .db
            .put(
                ACCEPTANCES,
                &acceptance_key(account, document, version),
                &value,
                Expect::Absent,
                self.clock.now().timestamp_micros(),
            )
            .await
        {
            Ok(_) => {}
            // Accepted twice (two tabs): the first acceptance stands.
            Err(StoreError::Conflict(_)) => {
                return self
                    .acceptance(account, document, version)
                    .await?
                    .ok_or_else(corrupt);
            }
            Err(e) => return Err(e.into()),
        }
        self.trace(
            EventKind::TermsAccepted,
            actor,
            document,
            version,
            source,
            Outcome::Success,
        )
        .await?;
        Ok(acceptance)
    }

    /// Refuses `service` to `account` while current terms governing it are not
    /// accepted (TOU-1); the refusal is traced and names the versions to accept.
    pub async fn require(
        &self,
        actor: Actor,
        account: &str,
        service: Service,
        source: &Source,
    ) -> TermsResult<()> {
        let pending = self.pending(account, service).await?;
        let Some(first) = pending.first() else {
            return Ok(());
        };
        self.trace(
            EventKind::TermsRequired,
            actor,
            first.document,
            first.version,
            source,
            Outcome::Denied(Token::code("terms_not_accepted")),
        )
        .await?;
        Err(TermsError::NotAccepted(pending))
    }
}

#[cfg(test)]
mod tests;
