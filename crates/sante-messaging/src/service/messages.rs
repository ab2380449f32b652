//! Messages in folders: placing them (with UIDs, modification sequences and the
//! quota), reading them, flags, expunge, copy and move.

use chrono::{DateTime, Utc};
use sante_audit::{Action, EventKind, Outcome, Source};
use sante_store::retry::{Retry, Step, on_conflict, on_conflict_or_undo, settle};
use sante_store::{Expect, WriteOp};
use sante_types::Coded;

use super::{
    FOLDERS, MAILBOXES, MESSAGES, MailUser, Messaging, MessagingError, MessagingResult, Refusal,
    folder_key, message_key,
};
use crate::model::{Channel, DELETED, Folder, Mailbox, MessageEntry};

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagChange {
    Add,
    Remove,
    Replace,
}

/// What a flag change did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagUpdate {
    /// The messages as they are now (changed or not).
    pub entries: Vec<MessageEntry>,
    /// The UIDs not changed because they were modified after `unchanged_since`
    /// (RFC 7162 `MODIFIED`).
    pub modified: Vec<u32>,
}

/// Flags as stored: system flags in their canonical case, keywords as atoms, sorted,
/// no duplicates; `\Recent` is a session's, never stored.
pub fn normalise_flags(flags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = flags
        .iter()
        .filter_map(|f| {
            let canonical = match f.to_ascii_lowercase().as_str() {
                "\\seen" => "\\Seen".to_owned(),
                "\\answered" => "\\Answered".to_owned(),
                "\\flagged" => "\\Flagged".to_owned(),
                "\\deleted" => "\\Deleted".to_owned(),
                "\\draft" => "\\Draft".to_owned(),
                "\\recent" => return None,
                _ if f.starts_with('\\') => return None,
                _ => f.clone(),
            };
            (!canonical.is_empty()
                && canonical.len() <= 64
                && !canonical
                    .chars()
                    .any(|c| c.is_control() || c == ' ' || "(){%*\"]".contains(c)))
            .then_some(canonical)
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    out.truncate(64);
    out
}

/// A folder being added to in one batch, with the mailbox whose quota it uses.
pub(crate) struct Placement {
    pub mailbox: Mailbox,
    pub mailbox_version: i64,
    pub folder: Folder,
    pub folder_version: i64,
    pub placed: Vec<MessageEntry>,
}

impl Placement {
    pub(crate) fn place(
        &mut self,
        blob: String,
        size: u64,
        flags: Vec<String>,
        internal_date: DateTime<Utc>,
        counts_toward_quota: bool,
    ) -> MessageEntry {
        let uid = self.folder.uidnext;
        self.folder.uidnext += 1;
        self.folder.highest_modseq += 1;
        if counts_toward_quota {
            self.mailbox.used_bytes += size;
        }
        let entry = MessageEntry {
            uid,
            blob,
            size,
            internal_date,
            flags,
            modseq: self.folder.highest_modseq,
        };
        self.placed.push(entry.clone());
        entry
    }

    pub(crate) fn ops(&self, mailbox_ops: bool) -> MessagingResult<Vec<WriteOp>> {
        let id = &self.mailbox.id;
        let mut ops = vec![Messaging::put_op(
            FOLDERS,
            &folder_key(id, self.folder.number),
            &self.folder,
            Expect::Version(self.folder_version),
        )?];
        for e in &self.placed {
            ops.push(Messaging::put_op(
                MESSAGES,
                &message_key(id, self.folder.number, e.uid),
                e,
                Expect::Absent,
            )?);
        }
        if mailbox_ops {
            ops.extend(Messaging::mailbox_ops(&self.mailbox, self.mailbox_version)?);
        }
        Ok(ops)
    }
}

impl Messaging {
    /// The folder as it is now and its messages, by UID.
    pub async fn messages(
        &self,
        mailbox: &str,
        folder: u32,
    ) -> MessagingResult<(Folder, Vec<MessageEntry>)> {
        self.open(mailbox).await?;
        let (folder, _) = self.folder_by_number(mailbox, folder).await?;
        let entries = self
            .entries(mailbox, &folder)
            .await?
            .into_iter()
            .map(|(_, e, _)| e)
            .collect();
        Ok((folder, entries))
    }

    /// Only the messages `uids` of a folder (those that still exist), by UID: what a
    /// FETCH of a few messages needs without reading the whole folder's index.
    pub async fn messages_by_uid(
        &self,
        mailbox: &str,
        folder: u32,
        uids: &[u32],
    ) -> MessagingResult<Vec<MessageEntry>> {
        self.open(mailbox).await?;
        Ok(self
            .selected(mailbox, folder, uids)
            .await?
            .into_iter()
            .map(|(_, e, _)| e)
            .collect())
    }

    /// The bytes of a message.
    pub async fn body(&self, mailbox: &str, entry: &MessageEntry) -> MessagingResult<Vec<u8>> {
        Ok(self.blobs.get(mailbox, &entry.blob).await?)
    }

    /// Bytes used and the quota.
    pub async fn quota(&self, mailbox: &str) -> MessagingResult<(u64, u64)> {
        let (mbx, _) = self.open(mailbox).await?;
        Ok((mbx.used_bytes, self.config.quota_bytes))
    }

    /// Whether `bytes` more would go beyond the quota.
    pub(crate) fn over_quota(&self, mailbox: &Mailbox, bytes: u64) -> bool {
        mailbox.used_bytes.saturating_add(bytes) > self.config.quota_bytes
    }

    pub(crate) fn reset_notice(&self, mailbox: &mut Mailbox) {
        if mailbox.used_bytes.saturating_mul(100)
            < self
                .config
                .quota_bytes
                .saturating_mul(super::NOTICE_PERCENT)
        {
            mailbox.quota_notice_sent = false;
        }
    }

    pub(crate) async fn placement(&self, mailbox: &str, folder: u32) -> MessagingResult<Placement> {
        let (mbx, mailbox_version) = self.open(mailbox).await?;
        let (folder, folder_version) = self.folder_by_number(mailbox, folder).await?;
        Ok(Placement {
            mailbox: mbx,
            mailbox_version,
            folder,
            folder_version,
            placed: Vec::new(),
        })
    }

    /// IMAP APPEND: the holder saves a message in one of his folders. Scanned and
    /// counted like any other. Returns the folder's UIDVALIDITY and the new UID.
    #[allow(clippy::too_many_arguments)]
    pub async fn append(
        &self,
        user: &MailUser,
        mailbox: &str,
        folder: &str,
        flags: &[String],
        internal_date: Option<DateTime<Utc>>,
        raw: &[u8],
        source: &Source,
    ) -> MessagingResult<(u32, u32)> {
        let result = self
            .append_inner(mailbox, folder, flags, internal_date, raw)
            .await;
        let outcome = match &result {
            Ok(_) => Outcome::Success,
            Err(MessagingError::Refused(r)) => Outcome::Denied(sante_audit::Token::code(r.code())),
            Err(_) => return result,
        };
        let kind = if result.is_ok() {
            EventKind::MessagingMessageAccepted
        } else {
            EventKind::MessagingMessageRefused
        };
        self.trace(
            kind,
            user.actor(),
            Action::Create,
            Some(("Mailbox", mailbox)),
            &Source {
                channel: Some(sante_audit::Token::code(Channel::Append.as_str())),
                ..source.clone()
            },
            outcome,
        )
        .await?;
        result
    }

    async fn append_inner(
        &self,
        mailbox: &str,
        folder: &str,
        flags: &[String],
        internal_date: Option<DateTime<Utc>>,
        raw: &[u8],
    ) -> MessagingResult<(u32, u32)> {
        let size = raw.len() as u64;
        if size > self.config.max_message_bytes {
            return Err(Refusal::TooBig.into());
        }
        let (mbx, _) = self.open(mailbox).await?;
        if self.over_quota(&mbx, size) {
            return Err(Refusal::RecipientFull.into());
        }
        let (target, _) = self.folder(mailbox, folder).await?;
        self.scan(raw).await?;
        let blob = uuid::Uuid::now_v7().simple().to_string();
        self.blobs.put(mailbox, &blob, raw).await?;
        let flags = &normalise_flags(flags);
        let date = internal_date.unwrap_or_else(|| self.now());
        let (this, blob_name) = (self, &blob);
        let placed = on_conflict_or_undo(
            Retry::CONTENDED,
            "append",
            || async move {
                let _turn = this.write_turn(&[mailbox]).await;
                let mut p = this.placement(mailbox, target.number).await?;
                if this.over_quota(&p.mailbox, size) {
                    return Err(Refusal::RecipientFull.into());
                }
                let entry = p.place(blob_name.clone(), size, flags.clone(), date, true);
                let written = this.db.write_batch(&p.ops(true)?, this.micros()).await;
                Ok::<_, MessagingError>(settle(written, |_| (p.folder.uidvalidity, entry.uid))?)
            },
            || self.forget_blobs(mailbox, std::slice::from_ref(blob_name)),
        )
        .await?;
        self.changed(mailbox);
        self.notice_after_write(mailbox).await;
        Ok(placed)
    }

    /// STORE: changes the flags of the messages `uids` of a folder. With
    /// `unchanged_since`, messages modified after it are left alone and reported.
    pub async fn set_flags(
        &self,
        mailbox: &str,
        folder: u32,
        uids: &[u32],
        change: FlagChange,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> MessagingResult<FlagUpdate> {
        let flags = &normalise_flags(flags);
        let _turn = self.write_turn(&[mailbox]).await;
        let this = self;
        let (update, wrote) = on_conflict(Retry::CONTENDED, "flags", || async move {
            this.open(mailbox).await?;
            let (mut f, folder_version) = this.folder_by_number(mailbox, folder).await?;
            let keys: Vec<String> = uids
                .iter()
                .map(|u| message_key(mailbox, folder, *u))
                .collect();
            let records = this.db.get_many(MESSAGES, &keys).await?;
            let mut update = FlagUpdate::default();
            let mut ops = Vec::new();
            for r in records {
                let mut e: MessageEntry = super::decode(MESSAGES, &r.value)?;
                if let Some(since) = unchanged_since
                    && e.modseq > since
                {
                    update.modified.push(e.uid);
                    update.entries.push(e);
                    continue;
                }
                let new = match change {
                    FlagChange::Replace => flags.clone(),
                    FlagChange::Add => {
                        let mut all = e.flags.clone();
                        all.extend(flags.iter().cloned());
                        normalise_flags(&all)
                    }
                    FlagChange::Remove => e
                        .flags
                        .iter()
                        .filter(|x| !flags.iter().any(|f| f.eq_ignore_ascii_case(x)))
                        .cloned()
                        .collect(),
                };
                if new != e.flags {
                    f.highest_modseq += 1;
                    e.flags = new;
                    e.modseq = f.highest_modseq;
                    ops.push(Self::put_op(
                        MESSAGES,
                        &r.key,
                        &e,
                        Expect::Version(r.version),
                    )?);
                }
                update.entries.push(e);
            }
            update.entries.sort_by_key(|e| e.uid);
            if ops.is_empty() {
                return Ok(Step::Done((update, false)));
            }
            ops.push(Self::put_op(
                FOLDERS,
                &folder_key(mailbox, folder),
                &f,
                Expect::Version(folder_version),
            )?);
            let written = this.db.write_batch(&ops, this.micros()).await;
            Ok::<_, MessagingError>(settle(written, |_| (update, true))?)
        })
        .await?;
        if wrote {
            self.changed(mailbox);
        }
        Ok(update)
    }

    /// EXPUNGE: removes the messages flagged `\Deleted` (only those among `uids` when
    /// given). Returns the UIDs removed.
    pub async fn expunge(
        &self,
        user: &MailUser,
        mailbox: &str,
        folder: u32,
        uids: Option<&[u32]>,
        source: &Source,
    ) -> MessagingResult<Vec<u32>> {
        self.remove(
            user,
            mailbox,
            folder,
            |e| e.has_flag(DELETED) && uids.is_none_or(|u| u.contains(&e.uid)),
            source,
        )
        .await
    }

    async fn remove(
        &self,
        user: &MailUser,
        mailbox: &str,
        folder: u32,
        which: impl Fn(&MessageEntry) -> bool,
        source: &Source,
    ) -> MessagingResult<Vec<u32>> {
        let (this, which) = (self, &which);
        let gone = on_conflict(Retry::CONTENDED, "expunge", || async move {
            let (mut mbx, mailbox_version) = this.open(mailbox).await?;
            let (mut f, folder_version) = this.folder_by_number(mailbox, folder).await?;
            let gone: Vec<(String, MessageEntry, i64)> = this
                .entries(mailbox, &f)
                .await?
                .into_iter()
                .filter(|(_, e, _)| which(e))
                .collect();
            if gone.is_empty() {
                return Ok(Step::Done(gone));
            }
            let freed: u64 = gone.iter().map(|(_, e, _)| e.size).sum();
            mbx.used_bytes = mbx.used_bytes.saturating_sub(freed);
            this.reset_notice(&mut mbx);
            f.highest_modseq += 1;
            let mut ops: Vec<WriteOp> = gone
                .iter()
                .map(|(k, _, v)| Self::delete_op(MESSAGES, k, Expect::Version(*v)))
                .collect();
            ops.push(Self::put_op(
                FOLDERS,
                &folder_key(mailbox, folder),
                &f,
                Expect::Version(folder_version),
            )?);
            ops.extend(Self::mailbox_ops(&mbx, mailbox_version)?);
            let written = this.db.write_batch(&ops, this.micros()).await;
            Ok::<_, MessagingError>(settle(written, |_| gone)?)
        })
        .await?;
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        for (_, e, _) in &gone {
            self.blobs.delete(mailbox, &e.blob).await?;
        }
        self.changed(mailbox);
        self.trace(
            EventKind::MessagingMessagesDeleted,
            user.actor(),
            Action::Delete,
            Some(("Mailbox", mailbox)),
            source,
            Outcome::Success,
        )
        .await?;
        Ok(gone.into_iter().map(|(_, e, _)| e.uid).collect())
    }

    /// COPY: copies messages to another folder (each copy counts toward the quota).
    /// Returns the target's UIDVALIDITY and `(source UID, new UID)` pairs.
    pub async fn copy(
        &self,
        mailbox: &str,
        folder: u32,
        uids: &[u32],
        target: &str,
    ) -> MessagingResult<(u32, Vec<(u32, u32)>)> {
        let (target, _) = self.folder(mailbox, target).await?;
        let sources = self.selected(mailbox, folder, uids).await?;
        let total: u64 = sources.iter().map(|(_, e, _)| e.size).sum();
        let (mbx, _) = self.open(mailbox).await?;
        if self.over_quota(&mbx, total) {
            return Err(Refusal::RecipientFull.into());
        }
        // Each copy is its own blob, so that expunging one leaves the other.
        let mut blobs = Vec::with_capacity(sources.len());
        for (_, e, _) in &sources {
            let copied = async {
                let bytes = self.blobs.get(mailbox, &e.blob).await?;
                let name = uuid::Uuid::now_v7().simple().to_string();
                self.blobs.put(mailbox, &name, &bytes).await?;
                Ok::<_, MessagingError>(name)
            };
            match copied.await {
                Ok(name) => blobs.push(name),
                Err(e) => {
                    self.forget_blobs(mailbox, &blobs).await;
                    return Err(e);
                }
            }
        }
        let (this, sources, names) = (self, &sources, &blobs);
        let copied = on_conflict_or_undo(
            Retry::CONTENDED,
            "copy",
            || async move {
                let mut p = this.placement(mailbox, target.number).await?;
                if this.over_quota(&p.mailbox, total) {
                    return Err(Refusal::RecipientFull.into());
                }
                let mut pairs = Vec::new();
                for ((_, e, _), blob) in sources.iter().zip(names) {
                    let new = p.place(blob.clone(), e.size, e.flags.clone(), e.internal_date, true);
                    pairs.push((e.uid, new.uid));
                }
                let written = this.db.write_batch(&p.ops(true)?, this.micros()).await;
                Ok::<_, MessagingError>(settle(written, |_| (p.folder.uidvalidity, pairs))?)
            },
            || self.forget_blobs(mailbox, names),
        )
        .await?;
        self.changed(mailbox);
        self.notice_after_write(mailbox).await;
        Ok(copied)
    }

    /// MOVE (RFC 6851): the messages leave `folder` for `target` in one transaction;
    /// the quota is unchanged.
    pub async fn move_messages(
        &self,
        mailbox: &str,
        folder: u32,
        uids: &[u32],
        target: &str,
    ) -> MessagingResult<(u32, Vec<(u32, u32)>)> {
        let (target, _) = self.folder(mailbox, target).await?;
        if target.number == folder {
            return Err(MessagingError::Invalid(
                "the target is the folder itself".into(),
            ));
        }
        let this = self;
        let (moved, wrote) = on_conflict(Retry::CONTENDED, "move", || async move {
            let sources = this.selected(mailbox, folder, uids).await?;
            let (mut from, from_version) = this.folder_by_number(mailbox, folder).await?;
            let mut p = this.placement(mailbox, target.number).await?;
            let mut pairs = Vec::new();
            for (_, e, _) in &sources {
                let new = p.place(
                    e.blob.clone(),
                    e.size,
                    e.flags.clone(),
                    e.internal_date,
                    false,
                );
                pairs.push((e.uid, new.uid));
            }
            if pairs.is_empty() {
                return Ok(Step::Done(((p.folder.uidvalidity, pairs), false)));
            }
            from.highest_modseq += 1;
            let mut ops = p.ops(false)?;
            for (k, _, v) in &sources {
                ops.push(Self::delete_op(MESSAGES, k, Expect::Version(*v)));
            }
            ops.push(Self::put_op(
                FOLDERS,
                &folder_key(mailbox, folder),
                &from,
                Expect::Version(from_version),
            )?);
            let written = this.db.write_batch(&ops, this.micros()).await;
            Ok::<_, MessagingError>(settle(written, |_| ((p.folder.uidvalidity, pairs), true))?)
        })
        .await?;
        if wrote {
            self.changed(mailbox);
        }
        Ok(moved)
    }

    async fn selected(
        &self,
        mailbox: &str,
        folder: u32,
        uids: &[u32],
    ) -> MessagingResult<Vec<(String, MessageEntry, i64)>> {
        let keys: Vec<String> = uids
            .iter()
            .map(|u| message_key(mailbox, folder, *u))
            .collect();
        let mut out = Vec::new();
        for r in self.db.get_many(MESSAGES, &keys).await? {
            let e: MessageEntry = super::decode(MESSAGES, &r.value)?;
            out.push((r.key, e, r.version));
        }
        out.sort_by_key(|(_, e, _)| e.uid);
        Ok(out)
    }

    /// Sends the 90 % notice once usage reaches it (MSG-11), and remembers it was
    /// sent until usage falls back below. The notice and the mark are written in one
    /// transaction: neither is lost nor doubled.
    pub(crate) async fn quota_notice_if_due(&self, mailbox: &str) -> MessagingResult<()> {
        let due = |m: &Mailbox| {
            m.is_open()
                && !m.quota_notice_sent
                && m.used_bytes.saturating_mul(100)
                    >= self
                        .config
                        .quota_bytes
                        .saturating_mul(super::NOTICE_PERCENT)
        };
        let Some((mbx, _)) = self.get::<Mailbox>(MAILBOXES, mailbox).await? else {
            return Ok(());
        };
        if !due(&mbx) {
            return Ok(());
        }
        let notice = self.quota_notice(&mbx);
        let blob = uuid::Uuid::now_v7().simple().to_string();
        self.blobs.put(mailbox, &blob, notice.as_bytes()).await?;
        let inbox = self.folder(mailbox, "INBOX").await?.0;
        let (this, due, blob_name, notice) = (self, &due, &blob, &notice);
        let sent = on_conflict_or_undo(
            Retry::CONTENDED,
            "quota notice",
            || async move {
                let mut p = this.placement(mailbox, inbox.number).await?;
                if !due(&p.mailbox) {
                    return Ok(Step::Done(false));
                }
                p.mailbox.quota_notice_sent = true;
                p.place(
                    blob_name.clone(),
                    notice.len() as u64,
                    Vec::new(),
                    this.now(),
                    true,
                );
                let written = this.db.write_batch(&p.ops(true)?, this.micros()).await;
                Ok::<_, MessagingError>(settle(written, |_| true)?)
            },
            || self.forget_blobs(mailbox, std::slice::from_ref(blob_name)),
        )
        .await?;
        if !sent {
            // Another writer sent it meanwhile: this copy is not needed.
            self.forget_blobs(mailbox, std::slice::from_ref(blob_name))
                .await;
            return Ok(());
        }
        self.changed(mailbox);
        self.trace(
            EventKind::MessagingQuotaNotified,
            sante_audit::Actor::platform(),
            Action::Create,
            Some(("Mailbox", mailbox)),
            &Source::default(),
            Outcome::Success,
        )
        .await?;
        Ok(())
    }

    /// The 90 % notice after a committed write: its failure does not undo the write,
    /// which the caller is told succeeded; the mark stays unset, so the next write
    /// sends the notice.
    pub(crate) async fn notice_after_write(&self, mailbox: &str) {
        if let Err(e) = self.quota_notice_if_due(mailbox).await {
            tracing::warn!(code = e.code(), error = %e, "the 90 % notice could not be sent now; the next write sends it");
        }
    }

    /// Deletes blobs an operation wrote ahead and did not keep. A blob that cannot be
    /// deleted now is only space: it is logged, the operation's own answer stands.
    pub(crate) async fn forget_blobs(&self, mailbox: &str, names: &[String]) {
        for name in names {
            if let Err(e) = self.blobs.delete(mailbox, name).await {
                tracing::warn!(code = e.code(), error = %e, "a blob written ahead could not be deleted");
            }
        }
    }

    /// Delivers a message written by the platform into a mailbox's inbox, whatever
    /// its quota (it is small, and it tells the holder his mailbox is full).
    pub(crate) async fn deliver_platform_message(
        &self,
        mailbox: &str,
        raw: &[u8],
    ) -> MessagingResult<()> {
        let blob = uuid::Uuid::now_v7().simple().to_string();
        self.blobs.put(mailbox, &blob, raw).await?;
        let inbox = self.folder(mailbox, "INBOX").await?.0;
        let (this, blob_name) = (self, &blob);
        on_conflict_or_undo(
            Retry::CONTENDED,
            "platform message",
            || async move {
                let mut p = this.placement(mailbox, inbox.number).await?;
                p.place(
                    blob_name.clone(),
                    raw.len() as u64,
                    Vec::new(),
                    this.now(),
                    true,
                );
                let written = this.db.write_batch(&p.ops(true)?, this.micros()).await;
                Ok::<_, MessagingError>(settle(written, |_| ())?)
            },
            || self.forget_blobs(mailbox, std::slice::from_ref(blob_name)),
        )
        .await?;
        self.changed(mailbox);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_normalised() {
        let f =
            |v: &[&str]| normalise_flags(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(
            f(&[
                "\\seen",
                "\\Seen",
                "$Label1",
                "\\Recent",
                "\\Unknown",
                "\\DELETED"
            ]),
            vec!["$Label1", "\\Deleted", "\\Seen"]
        );
        assert!(f(&["bad flag", "x(y"]).is_empty());
    }
}
