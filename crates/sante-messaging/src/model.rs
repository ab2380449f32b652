//! What the messaging service stores: mailboxes, their folders, the index of their
//! messages (the messages themselves are blobs), retired addresses, the outbound queue
//! and the metadata log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A mailbox's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailboxState {
    Open,
    /// The holder asked for closure (MSG-12): nothing comes in or goes out, nobody
    /// logs in, and the content is purged at `purge_due`.
    Closing,
    /// Purged: the record stays so that the address stays retired (MSG-2).
    Closed,
}

/// A professional's mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    pub id: String,
    /// The platform account (quality professional) that owns it.
    pub account: String,
    /// The professional's directory entry.
    pub professional: String,
    /// The address, `local@domain`, lower case.
    pub address: String,
    pub state: MailboxState,
    pub created: DateTime<Utc>,
    /// Bytes of every stored message, all folders.
    pub used_bytes: u64,
    /// The 90 % notice was sent and usage has not fallen back below since (MSG-11).
    pub quota_notice_sent: bool,
    /// The last UIDVALIDITY given to a folder: a recreated folder gets a greater one.
    pub last_uidvalidity: u32,
    /// The next folder number.
    pub next_folder: u32,
    pub closure_requested: Option<DateTime<Utc>>,
    pub purge_due: Option<DateTime<Utc>>,
    pub purged: Option<DateTime<Utc>>,
}

impl Mailbox {
    pub fn is_open(&self) -> bool {
        self.state == MailboxState::Open
    }
}

/// The special use of a folder (RFC 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecialUse {
    Sent,
    Drafts,
    Trash,
    Junk,
}

impl SpecialUse {
    /// The attribute as IMAP LIST shows it.
    pub fn attribute(self) -> &'static str {
        match self {
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Trash => "\\Trash",
            SpecialUse::Junk => "\\Junk",
        }
    }
}

/// A folder (an IMAP mailbox) of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folder {
    /// Stable number within the mailbox: messages are keyed by it, so a rename moves
    /// nothing.
    pub number: u32,
    /// The full name, hierarchy separated by `/`; `INBOX` for the inbox.
    pub name: String,
    pub uidvalidity: u32,
    pub uidnext: u32,
    /// The greatest modification sequence given in this folder (RFC 7162).
    pub highest_modseq: u64,
    pub subscribed: bool,
    pub special_use: Option<SpecialUse>,
}

/// The system flags (RFC 9051 §2.3.2) and keywords a message carries.
pub const SEEN: &str = "\\Seen";
pub const ANSWERED: &str = "\\Answered";
pub const FLAGGED: &str = "\\Flagged";
pub const DELETED: &str = "\\Deleted";
pub const DRAFT: &str = "\\Draft";

/// One message in a folder: its index entry; the bytes are a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEntry {
    pub uid: u32,
    /// The blob's name under the mailbox's owner.
    pub blob: String,
    pub size: u64,
    /// When it arrived (IMAP INTERNALDATE).
    pub internal_date: DateTime<Utc>,
    /// System flags and keywords, sorted, no duplicates.
    pub flags: Vec<String>,
    pub modseq: u64,
}

impl MessageEntry {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }
}

/// An address of the platform's domain, kept forever once given (MSG-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressRecord {
    pub address: String,
    pub mailbox: String,
    pub professional: String,
    pub assigned: DateTime<Utc>,
}

/// How a message reached the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A professional's mail program, authenticated (587, 465).
    Submission,
    /// A partner domain's server (25).
    Inbound,
    /// Saved by the holder into his own mailbox (IMAP APPEND).
    Append,
    /// Written by the platform (quota notice, delivery status notification).
    Platform,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Submission => "submission",
            Channel::Inbound => "inbound",
            Channel::Append => "append",
            Channel::Platform => "platform",
        }
    }
}

/// One attachment as the metadata log knows it: its type and size, never its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentMeta {
    pub content_type: String,
    pub size: u64,
}

/// One line of the metadata log (MSG-16): date, sender, recipients, size and the
/// attachments' types. No subject, no body, no file name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    pub channel: Channel,
    pub sender: String,
    pub recipients: Vec<String>,
    pub size: u64,
    pub attachments: Vec<AttachmentMeta>,
    /// `accepted`, or the refusal code.
    pub outcome: String,
}

/// A message waiting to be delivered to a partner domain's server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMessage {
    pub id: String,
    /// The sending mailbox (for the delivery status notification).
    pub mailbox: String,
    pub sender: String,
    pub domain: String,
    pub recipients: Vec<String>,
    /// The blob (under [`crate::service::QUEUE_OWNER`]).
    pub blob: String,
    pub size: u64,
    pub queued: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt: DateTime<Utc>,
    pub last_error: Option<String>,
}
