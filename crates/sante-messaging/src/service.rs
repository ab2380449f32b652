//! The messaging service: who gets a mailbox, what is accepted from whom, where it is
//! stored, and what is traced. Front ends (SMTP, IMAP, POP3, the portal) authenticate
//! the user and speak their protocol; every decision is taken here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sante_audit::{
    Action, Actor, AuditEvent, EventKind, Outcome, PlatformError, Recorder, Source, Token,
};
use sante_directory::Directory;
use sante_store::blob::BlobStore;
use sante_store::{Db, Expect, Term, WriteOp};
use sante_types::{Clock, Coded, CredentialKind, ErrorKind, LevelOfAssurance, Quality, Service};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::antivirus::{Clamd, ScanError};
use crate::model::{Folder, Mailbox};
use crate::relay::Partner;

mod closure;
mod delivery;
mod folders;
mod mailbox;
mod messages;
mod metadata;
mod notices;
mod queue;

pub use closure::HousekeepingReport;
pub use delivery::{Accepted, Envelope, Origin, Route, has_bare_line_break};
pub use folders::SEPARATOR;
pub use messages::{FlagChange, FlagUpdate, normalise_flags};
pub use metadata::PersonalData;
pub use queue::DeliveryOutcome;

pub(crate) const MAILBOXES: &str = "msg-mailbox";
pub(crate) const ACCOUNTS: &str = "msg-account";
pub(crate) const ADDRESSES: &str = "msg-address";
pub(crate) const FOLDERS: &str = "msg-folder";
pub(crate) const MESSAGES: &str = "msg-message";
pub(crate) const METADATA: &str = "msg-metadata";
pub(crate) const QUEUE: &str = "msg-queue";
/// The blob owner of queued outbound messages.
pub const QUEUE_OWNER: &str = "msg-queue";

/// MSG-11: 100 MB per mailbox.
pub const DEFAULT_QUOTA_BYTES: u64 = 100 * 1000 * 1000;
/// The share of the quota at which the holder is notified (MSG-11).
pub const NOTICE_PERCENT: u64 = 90;

/// How the service is set up.
#[derive(Debug, Clone)]
pub struct MessagingConfig {
    /// The platform's mail domain: every mailbox's address is under it.
    pub domain: String,
    /// The name the platform's mail servers give themselves (greetings, `Received`).
    pub hostname: String,
    pub partners: Vec<Partner>,
    pub quota_bytes: u64,
    /// Largest message accepted (SMTP SIZE, IMAP APPEND).
    pub max_message_bytes: u64,
    /// Most recipients of one message.
    pub max_recipients: usize,
    /// MSG-12: a closure is carried out within this many working days.
    pub closure_working_days: u32,
    /// MSG-16: metadata log lines are kept this many days.
    pub metadata_retention_days: i64,
    /// Outbound delivery is retried for this long before the sender is told it failed.
    pub queue_lifetime: Duration,
}

impl MessagingConfig {
    /// The defaults for `domain`.
    pub fn new(domain: &str, hostname: &str) -> MessagingConfig {
        MessagingConfig {
            domain: domain.to_lowercase(),
            hostname: hostname.to_owned(),
            partners: Vec::new(),
            quota_bytes: DEFAULT_QUOTA_BYTES,
            max_message_bytes: 25 * 1024 * 1024,
            max_recipients: 100,
            closure_working_days: 5,
            metadata_retention_days: 365,
            queue_lifetime: Duration::from_secs(5 * 24 * 3600),
        }
    }

    pub fn partner(&self, domain: &str) -> Option<&Partner> {
        self.partners.iter().find(|p| p.domain == domain)
    }
}

/// Who uses the service, as the front end authenticated him.
#[derive(Debug, Clone)]
pub struct MailUser {
    pub account: String,
    pub quality: Quality,
    pub assurance: LevelOfAssurance,
    pub credential: CredentialKind,
    /// The person's directory entry in that quality.
    pub subject: String,
}

impl MailUser {
    pub(crate) fn actor(&self) -> Actor {
        Actor {
            person: Token::new(self.account.clone()).ok(),
            quality: Some(self.quality),
            credential: Some(self.credential),
            assurance: Some(self.assurance),
            ..Actor::default()
        }
    }
}

/// Why a message, a recipient or a sender was refused; front ends map each to their
/// protocol's reply (SMTP codes, IMAP response codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A recipient outside the platform's and the partners' domains (MSG-13).
    RelayDenied,
    /// No mailbox has this address on the platform's domain.
    UnknownRecipient,
    /// The recipient's mailbox is closing or closed.
    RecipientDisabled,
    /// The envelope sender is not the authenticated user's address.
    SenderMismatch,
    /// Inbound mail whose sender is not from a partner domain, or from a partner's
    /// domain but not from its servers.
    SenderNotPartner,
    /// The recipient's mailbox is full (MSG-11).
    RecipientFull,
    /// The sender's own mailbox is full: he may not send (MSG-11).
    SenderFull,
    /// Bigger than the largest message accepted.
    TooBig,
    TooManyRecipients,
    /// The anti-virus found something (its signature's name).
    Infected(String),
    /// The anti-virus could not scan: try again later.
    ScanUnavailable,
    /// An attachment's archive expands past what the anti-virus scans (a zip bomb):
    /// what lay beyond would pass unscanned.
    UnscannableArchive,
    /// The message is not a message (no header section, 8-bit where not allowed...).
    Malformed(&'static str),
    /// A line ends in a bare CR or LF rather than CRLF: a server further on that reads
    /// such an ending as the end of data would see a second message smuggled in the
    /// first (CVE-2023-51764). The SMTP session ends with this refusal, as Postfix's
    /// does, so that nothing after it is read as commands.
    BareLineBreak,
}

impl Refusal {
    /// The stable code traced and logged.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::RelayDenied => "relay_denied",
            Refusal::UnknownRecipient => "unknown_recipient",
            Refusal::RecipientDisabled => "recipient_disabled",
            Refusal::SenderMismatch => "sender_mismatch",
            Refusal::SenderNotPartner => "sender_not_partner",
            Refusal::RecipientFull => "recipient_full",
            Refusal::SenderFull => "sender_full",
            Refusal::TooBig => "too_big",
            Refusal::TooManyRecipients => "too_many_recipients",
            Refusal::Infected(_) => "virus_found",
            Refusal::ScanUnavailable => "scan_unavailable",
            Refusal::UnscannableArchive => "unscannable_archive",
            Refusal::Malformed(_) => "malformed",
            Refusal::BareLineBreak => "bare_line_break",
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Refusal::ScanUnavailable)
    }

    /// What kind of failure the refusal is, for front ends without reply codes of
    /// their own.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Refusal::UnknownRecipient => ErrorKind::NotFound,
            Refusal::RelayDenied
            | Refusal::RecipientDisabled
            | Refusal::SenderMismatch
            | Refusal::SenderNotPartner
            | Refusal::Infected(_)
            | Refusal::UnscannableArchive => ErrorKind::Denied,
            Refusal::RecipientFull | Refusal::SenderFull => ErrorKind::Conflict,
            Refusal::TooBig
            | Refusal::TooManyRecipients
            | Refusal::Malformed(_)
            | Refusal::BareLineBreak => ErrorKind::Invalid,
            Refusal::ScanUnavailable => ErrorKind::Unavailable,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::RelayDenied => f.write_str("relaying to this domain is not permitted"),
            Refusal::UnknownRecipient => f.write_str("no such mailbox"),
            Refusal::RecipientDisabled => f.write_str("mailbox disabled"),
            Refusal::SenderMismatch => {
                f.write_str("the sender must be the authenticated user's own address")
            }
            Refusal::SenderNotPartner => {
                f.write_str("mail is accepted from the platform's partner domains only")
            }
            Refusal::RecipientFull => f.write_str("mailbox full"),
            Refusal::SenderFull => {
                f.write_str("your mailbox is full: delete messages before sending")
            }
            Refusal::TooBig => f.write_str("message too big"),
            Refusal::TooManyRecipients => f.write_str("too many recipients"),
            Refusal::Infected(name) => write!(f, "message refused: virus found ({name})"),
            Refusal::ScanUnavailable => {
                f.write_str("the message could not be scanned for viruses; try again later")
            }
            Refusal::UnscannableArchive => f.write_str(
                "message refused: an attached archive expands beyond what can be scanned for viruses",
            ),
            Refusal::Malformed(why) => write!(f, "malformed message: {why}"),
            Refusal::BareLineBreak => {
                f.write_str("a line ends in a bare CR or LF, not CRLF: closing the session")
            }
        }
    }
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    /// MSG-1: the service is for professionals logged in at high assurance.
    #[error("secure messaging is not available to this account: {0}")]
    NotEntitled(&'static str),
    #[error("the mailbox is closed")]
    MailboxClosed,
    #[error("refused: {0}")]
    Refused(Refusal),
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The professional directory could not answer the messaging service.
    #[error("directory: {0}")]
    Directory(#[source] sante_directory::DirectoryError),
    #[error("anti-virus: {0}")]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Platform(PlatformError),
}

sante_audit::platform_error_conversions!(MessagingError);

impl Coded for MessagingError {
    fn code(&self) -> &'static str {
        match self {
            MessagingError::NotEntitled(_) => "MSG001",
            MessagingError::MailboxClosed => "MSG002",
            MessagingError::Refused(_) => "MSG003",
            MessagingError::NotFound(_) => "MSG004",
            MessagingError::Invalid(_) => "MSG005",
            MessagingError::Exists(_) => "MSG006",
            MessagingError::Conflict(_) => "MSG007",
            MessagingError::Directory(_) => "MSG008",
            MessagingError::Scan(e) => e.code(),
            MessagingError::Platform(e) => e.code(),
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            MessagingError::NotEntitled(_) | MessagingError::MailboxClosed => ErrorKind::Denied,
            MessagingError::Refused(r) => r.kind(),
            MessagingError::NotFound(_) => ErrorKind::NotFound,
            MessagingError::Invalid(_) => ErrorKind::Invalid,
            MessagingError::Exists(_) | MessagingError::Conflict(_) => ErrorKind::Conflict,
            // Messaging asks the directory as a platform service: its failure is ours.
            MessagingError::Directory(e) if e.kind() == ErrorKind::Unavailable => {
                ErrorKind::Unavailable
            }
            MessagingError::Directory(_) => ErrorKind::Internal,
            MessagingError::Scan(e) => e.kind(),
            MessagingError::Platform(e) => e.kind(),
        }
    }
}

impl From<Refusal> for MessagingError {
    fn from(r: Refusal) -> Self {
        MessagingError::Refused(r)
    }
}

pub type MessagingResult<T> = Result<T, MessagingError>;

/// The messaging service.
#[derive(Clone)]
pub struct Messaging {
    pub(crate) db: Db,
    pub(crate) blobs: BlobStore,
    pub(crate) directory: Directory,
    pub(crate) recorder: Arc<dyn Recorder>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) antivirus: Clamd,
    pub(crate) config: Arc<MessagingConfig>,
    /// One channel per mailbox in use, bumped at every change: IMAP IDLE waits on it.
    pub(crate) changes: Arc<Mutex<HashMap<String, watch::Sender<u64>>>>,
    /// One lock per mailbox being written: writers in this process take turns
    /// instead of all failing their optimistic writes at once (32 SMTP sessions
    /// delivering to one mailbox); other processes are still caught by the versions.
    pub(crate) turns: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl std::fmt::Debug for Messaging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messaging")
            .field("domain", &self.config.domain)
            .finish_non_exhaustive()
    }
}

impl Messaging {
    pub fn new(
        db: Db,
        blobs: BlobStore,
        directory: Directory,
        recorder: Arc<dyn Recorder>,
        clock: Arc<dyn Clock>,
        antivirus: Clamd,
        config: MessagingConfig,
    ) -> Messaging {
        Messaging {
            db,
            blobs,
            directory,
            recorder,
            clock,
            antivirus,
            config: Arc::new(config),
            changes: Arc::new(Mutex::new(HashMap::new())),
            turns: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Waits for this process's turn to write these mailboxes (taken in sorted order,
    /// so that two deliveries to the same recipients never wait on each other).
    pub(crate) async fn write_turn(
        &self,
        mailboxes: &[&str],
    ) -> Vec<tokio::sync::OwnedMutexGuard<()>> {
        let mut ids: Vec<&str> = mailboxes.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let locks: Vec<Arc<tokio::sync::Mutex<()>>> = {
            let mut map = match self.turns.lock() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            map.retain(|_, lock| Arc::strong_count(lock) > 1);
            ids.iter()
                .map(|id| map.entry((*id).to_owned()).or_default().clone())
                .collect()
        };
        let mut guards = Vec::with_capacity(locks.len());
        for lock in locks {
            guards.push(lock.lock_owned().await);
        }
        guards
    }

    pub fn config(&self) -> &MessagingConfig {
        &self.config
    }

    pub fn antivirus(&self) -> &Clamd {
        &self.antivirus
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) fn micros(&self) -> i64 {
        self.now().timestamp_micros()
    }

    /// A receiver that changes whenever `mailbox` does (new message, flags, expunge).
    pub fn watch(&self, mailbox: &str) -> watch::Receiver<u64> {
        let mut map = match self.changes.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.retain(|_, tx| tx.receiver_count() > 0);
        map.entry(mailbox.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    pub(crate) fn changed(&self, mailbox: &str) {
        let map = match self.changes.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(tx) = map.get(mailbox) {
            tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        collection: &str,
        key: &str,
    ) -> MessagingResult<Option<(T, i64)>> {
        match self.db.get(collection, key).await? {
            Some(r) => Ok(Some((decode(collection, &r.value)?, r.version))),
            None => Ok(None),
        }
    }

    /// Every record of `collection` whose key starts with `prefix`, in key order.
    pub(crate) async fn scan_prefix<T: DeserializeOwned>(
        &self,
        collection: &str,
        prefix: &str,
    ) -> MessagingResult<Vec<(String, T, i64)>> {
        let mut out = Vec::new();
        let mut after = prefix.to_owned();
        loop {
            let page = self.db.list(collection, Some(&after), 5000).await?;
            let n = page.len();
            for r in page {
                if !r.key.starts_with(prefix) {
                    return Ok(out);
                }
                after = r.key.clone();
                out.push((r.key, decode(collection, &r.value)?, r.version));
            }
            if n < 5000 {
                return Ok(out);
            }
        }
    }

    pub(crate) fn put_op<T: Serialize>(
        collection: &str,
        key: &str,
        value: &T,
        expect: Expect,
    ) -> MessagingResult<WriteOp> {
        Ok(WriteOp::Put {
            collection: collection.into(),
            key: key.into(),
            value: serde_json::to_vec(value)
                .map_err(|_| MessagingError::from(PlatformError::corrupt(collection)))?,
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

    pub(crate) fn delete_op(collection: &str, key: &str, expect: Expect) -> WriteOp {
        WriteOp::Delete {
            collection: collection.into(),
            key: key.into(),
            expect,
        }
    }

    /// Records an event in the messaging stream (kept 12 months, PLT-7).
    pub(crate) async fn trace(
        &self,
        kind: EventKind,
        actor: Actor,
        action: Action,
        resource: Option<(&'static str, &str)>,
        source: &Source,
        outcome: Outcome,
    ) -> MessagingResult<()> {
        let mut event = AuditEvent::new(kind, self.now(), actor, Service::Messaging, action)
            .source(source.clone())
            .outcome(outcome);
        if let Some((kind, id)) = resource {
            event = event.resource_id(kind, id);
        }
        self.recorder.record(event).await?;
        Ok(())
    }

    /// Scans a message: `Ok` when clean.
    pub(crate) async fn scan(&self, raw: &[u8]) -> MessagingResult<()> {
        self.screen(raw).await.map_err(MessagingError::from)
    }

    /// What the anti-virus says of a message, an attachment it could not scan whole
    /// (an archive that expands past its limits) refused before it is asked.
    pub(crate) async fn screen(&self, raw: &[u8]) -> Result<(), Refusal> {
        if crate::mime::unscannable_archive(raw) {
            tracing::warn!("message refused: an archive expands past what can be scanned");
            return Err(Refusal::UnscannableArchive);
        }
        match self.antivirus.scan(raw).await {
            Ok(crate::antivirus::Verdict::Clean) => Ok(()),
            Ok(crate::antivirus::Verdict::Infected(name)) => {
                tracing::warn!(signature = %name, "infected message refused");
                Err(Refusal::Infected(name))
            }
            Err(e) => {
                tracing::error!(error = %e, "anti-virus unavailable; message refused for now");
                Err(Refusal::ScanUnavailable)
            }
        }
    }

    /// The mailbox `id`, refused unless open.
    pub(crate) async fn open(&self, id: &str) -> MessagingResult<(Mailbox, i64)> {
        let (mailbox, version): (Mailbox, i64) = self
            .get(MAILBOXES, id)
            .await?
            .ok_or_else(|| MessagingError::NotFound(format!("mailbox {id}")))?;
        if !mailbox.is_open() {
            return Err(MessagingError::MailboxClosed);
        }
        Ok((mailbox, version))
    }
}

pub(crate) fn decode<T: DeserializeOwned>(collection: &str, bytes: &[u8]) -> MessagingResult<T> {
    serde_json::from_slice(bytes)
        .map_err(|_| MessagingError::from(PlatformError::corrupt(collection.to_owned())))
}

/// The key of a folder record.
pub(crate) fn folder_key(mailbox: &str, number: u32) -> String {
    format!("{mailbox}/{number:05}")
}

/// The key of a message record: sorted by folder, then UID.
pub(crate) fn message_key(mailbox: &str, folder: u32, uid: u32) -> String {
    format!("{mailbox}/{folder:05}/{uid:010}")
}

pub(crate) fn folder_prefix(mailbox: &str, folder: &Folder) -> String {
    format!("{mailbox}/{:05}/", folder.number)
}

#[cfg(test)]
mod tests;
