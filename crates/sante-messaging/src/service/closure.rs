//! Closure on the holder's request (MSG-12): at once nothing comes in or goes out and
//! nobody logs in; within 5 working days every message and folder is deleted beyond
//! recovery (the mailbox's blob keys are destroyed); the address stays retired.

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use sante_audit::{Action, Actor, EventKind, Outcome, Source};
use sante_store::retry::{Retry, Step, on_conflict, settle};
use sante_store::{Expect, WriteOp};

use super::{FOLDERS, MAILBOXES, MESSAGES, MailUser, Messaging, MessagingError, MessagingResult};
use crate::model::{Folder, Mailbox, MailboxState, MessageEntry};

/// What one housekeeping run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HousekeepingReport {
    pub mailboxes_purged: u64,
    pub metadata_purged: u64,
}

/// `days` working days (Monday to Friday) after `from`. Public holidays are not
/// known to the platform and count as working days, which only makes it earlier.
pub fn add_working_days(from: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let mut at = from;
    let mut left = days;
    while left > 0 {
        at += Duration::days(1);
        if !matches!(at.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    at
}

impl Messaging {
    /// The holder asks for his mailbox to be closed. Effective at once for mail and
    /// logins; the purge follows within the configured working days.
    pub async fn request_closure(
        &self,
        user: &MailUser,
        source: &Source,
    ) -> MessagingResult<Mailbox> {
        let Some(current) = self.existing_mailbox(user).await? else {
            return Err(MessagingError::NotFound("mailbox".into()));
        };
        self.close(&current.id, user.actor(), source).await
    }

    /// The same request, made by the holder through the help desk (a signed letter)
    /// and recorded by an operator: traced as the operator acting for the holder.
    pub async fn request_closure_for(
        &self,
        address: &crate::address::Address,
        operator: Actor,
        source: &Source,
    ) -> MessagingResult<Mailbox> {
        let Some(mailbox) = self.mailbox_by_address(address).await? else {
            return Err(MessagingError::NotFound(format!("mailbox {address}")));
        };
        let actor = Actor {
            on_behalf_of: sante_audit::Token::new(mailbox.account.clone()).ok(),
            ..operator
        };
        self.close(&mailbox.id, actor, source).await
    }

    async fn close(&self, id: &str, actor: Actor, source: &Source) -> MessagingResult<Mailbox> {
        let this = self;
        let (mbx, requested) = on_conflict(Retry::CONTENDED, "closure", || async move {
            let (mut mbx, version): (Mailbox, i64) = this
                .get(MAILBOXES, id)
                .await?
                .ok_or_else(|| MessagingError::NotFound("mailbox".into()))?;
            if mbx.state != MailboxState::Open {
                return Ok(Step::Done((mbx, false)));
            }
            let now = this.now();
            mbx.state = MailboxState::Closing;
            mbx.closure_requested = Some(now);
            // The purge runs hourly: due one working day early, it is done in time.
            mbx.purge_due = Some(add_working_days(
                now,
                this.config.closure_working_days.saturating_sub(1),
            ));
            let written = this
                .db
                .write_batch(&Self::mailbox_ops(&mbx, version)?, this.micros())
                .await;
            Ok::<_, MessagingError>(settle(written, |_| (mbx, true))?)
        })
        .await?;
        if requested {
            self.changed(&mbx.id);
            self.trace(
                EventKind::MessagingClosureRequested,
                actor,
                Action::Update,
                Some(("Mailbox", &mbx.id)),
                source,
                Outcome::Success,
            )
            .await?;
        }
        Ok(mbx)
    }

    /// Purges the mailboxes whose closure is due and the metadata log's expired lines.
    pub async fn housekeeping(&self) -> MessagingResult<HousekeepingReport> {
        let mut report = HousekeepingReport::default();
        let closing = self
            .db
            .search(
                MAILBOXES,
                &[sante_store::TermQuery::exact("state", "closing")],
                None,
                10_000,
            )
            .await?;
        let now = self.now();
        for id in closing {
            let Some((mbx, _)) = self.get::<Mailbox>(MAILBOXES, &id).await? else {
                continue;
            };
            if mbx.state == MailboxState::Closing && mbx.purge_due.is_some_and(|d| d <= now) {
                self.purge(&mbx).await?;
                report.mailboxes_purged += 1;
            }
        }
        report.metadata_purged = self.purge_metadata().await?;
        Ok(report)
    }

    async fn purge(&self, mailbox: &Mailbox) -> MessagingResult<()> {
        // Keys first: the blobs become unreadable at once, whatever is left on disk.
        self.blobs.erase_owner(&mailbox.id).await?;
        let messages = self
            .scan_prefix::<MessageEntry>(MESSAGES, &format!("{}/", mailbox.id))
            .await?;
        for chunk in messages.chunks(500) {
            let ops: Vec<WriteOp> = chunk
                .iter()
                .map(|(k, _, _)| Self::delete_op(MESSAGES, k, Expect::Any))
                .collect();
            self.db.write_batch(&ops, self.micros()).await?;
        }
        let folders = self
            .scan_prefix::<Folder>(FOLDERS, &format!("{}/", mailbox.id))
            .await?;
        let ops: Vec<WriteOp> = folders
            .iter()
            .map(|(k, _, _)| Self::delete_op(FOLDERS, k, Expect::Any))
            .collect();
        if !ops.is_empty() {
            self.db.write_batch(&ops, self.micros()).await?;
        }
        let this = self;
        on_conflict(Retry::CONTENDED, "purge", || async move {
            let (mut mbx, version): (Mailbox, i64) = this
                .get(MAILBOXES, &mailbox.id)
                .await?
                .ok_or_else(|| MessagingError::NotFound("mailbox".into()))?;
            mbx.state = MailboxState::Closed;
            mbx.used_bytes = 0;
            mbx.purged = Some(this.now());
            let written = this
                .db
                .write_batch(&Self::mailbox_ops(&mbx, version)?, this.micros())
                .await;
            Ok::<_, MessagingError>(settle(written, |_| ())?)
        })
        .await?;
        self.trace(
            EventKind::MessagingMailboxPurged,
            Actor::platform(),
            Action::Delete,
            Some(("Mailbox", &mailbox.id)),
            &Source::default(),
            Outcome::Success,
        )
        .await?;
        tracing::info!(mailbox = %mailbox.id, "closed mailbox purged");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn working_days_skip_weekends() {
        // Friday 4 December 2026, noon.
        let friday = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        assert_eq!(
            add_working_days(friday, 1),
            Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
        );
        assert_eq!(
            add_working_days(friday, 4),
            Utc.with_ymd_and_hms(2026, 12, 10, 12, 0, 0).unwrap()
        );
        assert_eq!(add_working_days(friday, 0), friday);
    }
}
