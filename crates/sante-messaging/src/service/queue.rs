//! The outbound queue to partner domains: durable (a queued message survives a
//! crash), retried with growing delays, and reported to the sender by a delivery
//! status notification when it fails for good or for too long.

use chrono::Duration;
use sante_audit::{Action, Actor, EventKind, Outcome, Source, Token};
use sante_store::Expect;

use super::notices::Undelivered;
use super::{Messaging, MessagingResult, QUEUE, QUEUE_OWNER};
use crate::model::QueuedMessage;

/// Delays between attempts; the last repeats.
const RETRY_MINUTES: [i64; 7] = [1, 5, 15, 30, 60, 120, 240];

/// What one delivery attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Try again later (connection refused, 4xx reply).
    Temporary(String),
    /// The partner refused for good (5xx reply): `status` per RFC 3463.
    Permanent {
        status: String,
        diagnostic: String,
    },
    /// Delivered to some recipients; these were refused: `(recipient, status,
    /// diagnostic)`.
    Partial {
        refused: Vec<(String, String, String)>,
    },
}

enum Failure {
    All(String, String),
    Some(Vec<(String, String, String)>),
}

impl Messaging {
    /// The queued messages due for an attempt now, oldest first.
    pub async fn due_deliveries(&self, limit: usize) -> MessagingResult<Vec<QueuedMessage>> {
        let now = self.now();
        let mut due: Vec<QueuedMessage> = self
            .scan_prefix::<QueuedMessage>(QUEUE, "")
            .await?
            .into_iter()
            .map(|(_, q, _)| q)
            .filter(|q| q.next_attempt <= now)
            .collect();
        due.sort_by_key(|q| q.next_attempt);
        due.truncate(limit);
        Ok(due)
    }

    /// Every queued message (for the operator).
    pub async fn queue(&self) -> MessagingResult<Vec<QueuedMessage>> {
        Ok(self
            .scan_prefix::<QueuedMessage>(QUEUE, "")
            .await?
            .into_iter()
            .map(|(_, q, _)| q)
            .collect())
    }

    pub async fn queued_body(&self, queued: &QueuedMessage) -> MessagingResult<Vec<u8>> {
        Ok(self.blobs.get(QUEUE_OWNER, &queued.blob).await?)
    }

    /// Records the result of an attempt.
    pub async fn delivery_done(
        &self,
        queued: &QueuedMessage,
        outcome: DeliveryOutcome,
    ) -> MessagingResult<()> {
        let Some((mut current, version)) = self.get::<QueuedMessage>(QUEUE, &queued.id).await?
        else {
            return Ok(());
        };
        let now = self.now();
        let expired = now - current.queued
            > Duration::from_std(self.config.queue_lifetime).unwrap_or(Duration::days(5));
        let failure = match outcome {
            DeliveryOutcome::Delivered => {
                self.finish(&current, version).await?;
                self.trace(
                    EventKind::MessagingMessageRelayed,
                    Actor::platform(),
                    Action::Create,
                    Some(("Message", &current.id)),
                    &Source::default(),
                    Outcome::Success,
                )
                .await?;
                return Ok(());
            }
            DeliveryOutcome::Temporary(reason) if !expired => {
                let step = RETRY_MINUTES[(current.attempts as usize).min(RETRY_MINUTES.len() - 1)];
                current.attempts += 1;
                current.next_attempt = now + Duration::minutes(step);
                current.last_error = Some(reason.chars().take(300).collect());
                self.db
                    .write_batch(
                        &[Self::put_op(
                            QUEUE,
                            &current.id,
                            &current,
                            Expect::Version(version),
                        )?],
                        self.micros(),
                    )
                    .await?;
                return Ok(());
            }
            DeliveryOutcome::Temporary(reason) => Failure::All(
                "4.4.7".to_owned(),
                format!(
                    "delivery time expired after {} attempts; last error: {reason}",
                    current.attempts + 1
                ),
            ),
            DeliveryOutcome::Permanent { status, diagnostic } => Failure::All(status, diagnostic),
            DeliveryOutcome::Partial { refused } => Failure::Some(refused),
        };
        let original = self.queued_body(&current).await.unwrap_or_default();
        let undelivered: Vec<Undelivered> = match failure {
            Failure::All(status, diagnostic) => current
                .recipients
                .iter()
                .map(|r| Undelivered {
                    recipient: r.clone(),
                    status: status.clone(),
                    diagnostic: diagnostic.clone(),
                })
                .collect(),
            Failure::Some(refused) => refused
                .into_iter()
                .map(|(recipient, status, diagnostic)| Undelivered {
                    recipient,
                    status,
                    diagnostic,
                })
                .collect(),
        };
        self.notify_sender(
            Some(&current.sender),
            &undelivered,
            &original,
            current.queued,
        )
        .await?;
        self.finish(&current, version).await?;
        self.trace(
            EventKind::MessagingDeliveryFailed,
            Actor::platform(),
            Action::Create,
            Some(("Message", &current.id)),
            &Source::default(),
            Outcome::Failure(Token::code("undeliverable")),
        )
        .await
    }

    async fn finish(&self, queued: &QueuedMessage, version: i64) -> MessagingResult<()> {
        self.db
            .write_batch(
                &[Self::delete_op(QUEUE, &queued.id, Expect::Version(version))],
                self.micros(),
            )
            .await?;
        // The blob is shared by the copies for each partner domain.
        let still_used = self
            .scan_prefix::<QueuedMessage>(QUEUE, "")
            .await?
            .iter()
            .any(|(_, q, _)| q.blob == queued.blob);
        if !still_used {
            self.blobs.delete(QUEUE_OWNER, &queued.blob).await?;
        }
        Ok(())
    }
}
