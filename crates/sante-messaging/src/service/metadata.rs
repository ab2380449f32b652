//! The metadata log (MSG-16): date, sender, recipients, size and attachment types of
//! every message that transits, kept 12 months; the usage indicators computed from it
//! (MSG-17); and what the service holds about a user (MSG-20).

use chrono::{DateTime, Duration, Utc};
use sante_audit::{Action, Actor, EventKind, Outcome, Source};
use sante_store::{Expect, Term, TermQuery, WriteOp};

use super::{METADATA, MailUser, Messaging, MessagingResult};
use crate::indicators::{Indicators, compute};
use crate::mime;
use crate::model::{AddressRecord, Channel, Mailbox, MetadataEntry};

/// Longest address kept in the log; longer ones are cut.
const MAX_LOGGED_ADDRESS: usize = 254;
/// Most metadata lines a user is shown at once (newest first).
const MAX_PERSONAL_LINES: u32 = 1000;

/// What the service processes about a user (MSG-20).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PersonalData {
    pub mailbox: Option<Mailbox>,
    pub quota_bytes: u64,
    /// Every address ever given to him (none is ever given to anyone else).
    pub addresses: Vec<AddressRecord>,
    /// The metadata log's lines where one of his addresses is the sender or a
    /// recipient, newest first.
    pub metadata: Vec<MetadataEntry>,
}

/// An address as the log keeps it: printable, no spaces, lower-case domain.
fn logged_address(address: &str) -> String {
    let cleaned: String = address
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .take(MAX_LOGGED_ADDRESS)
        .collect();
    match cleaned.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => cleaned,
    }
}

/// The key of a line: its time first, so that the log is read and purged in order.
fn metadata_key(entry: &MetadataEntry) -> String {
    format!("{}-{}", entry.at.format("%Y%m%d%H%M%S%6f"), entry.id)
}

impl Messaging {
    pub(crate) fn metadata_entry(
        &self,
        channel: Channel,
        from: Option<&str>,
        recipients: &[String],
        size: u64,
        raw: &[u8],
        outcome: &str,
    ) -> MetadataEntry {
        MetadataEntry {
            id: uuid::Uuid::now_v7().simple().to_string(),
            at: self.now(),
            channel,
            sender: from.map(logged_address).unwrap_or_default(),
            recipients: recipients.iter().map(|r| logged_address(r)).collect(),
            size,
            attachments: mime::attachments(raw),
            outcome: outcome.to_owned(),
        }
    }

    pub(crate) fn metadata_ops(&self, entry: &MetadataEntry) -> MessagingResult<Vec<WriteOp>> {
        let key = metadata_key(entry);
        let mut terms: Vec<Term> = entry
            .recipients
            .iter()
            .map(|r| Term::new("address", r.to_lowercase()))
            .collect();
        if !entry.sender.is_empty() {
            terms.push(Term::new("address", entry.sender.to_lowercase()));
        }
        terms.sort();
        terms.dedup();
        terms.truncate(200);
        Ok(vec![
            Self::put_op(METADATA, &key, entry, Expect::Absent)?,
            Self::index_op(METADATA, &key, terms),
        ])
    }

    /// The log's lines from `from` (inclusive) to `until` (exclusive), oldest first,
    /// at most `limit`.
    pub async fn metadata_between(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> MessagingResult<Vec<MetadataEntry>> {
        // Keys are `<time>-<id>`: every key of `from` or later sorts after `from`'s
        // time alone, and every key before `until` sorts before `until`'s.
        let mut after = from.format("%Y%m%d%H%M%S%6f").to_string();
        let end = until.format("%Y%m%d%H%M%S%6f").to_string();
        let mut out = Vec::new();
        loop {
            let page = self.db.list(METADATA, Some(&after), 2000).await?;
            let n = page.len();
            for r in page {
                if r.key.as_str() >= end.as_str() {
                    return Ok(out);
                }
                after = r.key.clone();
                out.push(super::decode(METADATA, &r.value)?);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            if n < 2000 {
                return Ok(out);
            }
        }
    }

    /// The usage indicators between two instants (MSG-17).
    pub async fn indicators(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> MessagingResult<Indicators> {
        let entries = self.metadata_between(from, until, usize::MAX).await?;
        Ok(compute(&entries))
    }

    /// What the service processes about the user (MSG-20).
    pub async fn personal_data(&self, user: &MailUser) -> MessagingResult<PersonalData> {
        let mailbox = self.existing_mailbox(user).await?;
        let addresses = self.addresses_of(&user.subject).await?;
        let mut keys: Vec<String> = Vec::new();
        for a in &addresses {
            keys.extend(
                self.db
                    .search(
                        METADATA,
                        &[TermQuery::exact("address", a.address.to_lowercase())],
                        None,
                        10_000,
                    )
                    .await?,
            );
        }
        keys.sort();
        keys.dedup();
        keys.reverse();
        keys.truncate(MAX_PERSONAL_LINES as usize);
        let mut metadata: Vec<MetadataEntry> = Vec::new();
        for r in self.db.get_many(METADATA, &keys).await? {
            metadata.push(super::decode(METADATA, &r.value)?);
        }
        metadata.sort_by_key(|m| std::cmp::Reverse(m.at));
        Ok(PersonalData {
            mailbox,
            quota_bytes: self.config.quota_bytes,
            addresses,
            metadata,
        })
    }

    /// Deletes the lines older than the retention period. Returns how many.
    pub async fn purge_metadata(&self) -> MessagingResult<u64> {
        let cutoff = (self.now() - Duration::days(self.config.metadata_retention_days))
            .format("%Y%m%d%H%M%S%6f")
            .to_string();
        let mut purged = 0u64;
        loop {
            let page = self.db.list(METADATA, None, 500).await?;
            let old: Vec<WriteOp> = page
                .iter()
                .filter(|r| r.key.as_str() < cutoff.as_str())
                .map(|r| Self::delete_op(METADATA, &r.key, Expect::Version(r.version)))
                .collect();
            if old.is_empty() {
                break;
            }
            let n = old.len();
            self.db.write_batch(&old, self.micros()).await?;
            purged += n as u64;
            if n < page.len() {
                break;
            }
        }
        if purged > 0 {
            self.trace(
                EventKind::MessagingMetadataPurged,
                Actor::platform(),
                Action::Delete,
                None,
                &Source::default(),
                Outcome::Success,
            )
            .await?;
        }
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_addresses_are_single_tokens() {
        assert_eq!(logged_address("Anne@MSS.Example"), "Anne@mss.example");
        assert_eq!(logged_address("a b\r\n@x.example"), "ab@x.example");
    }
}
