//! What the directories' changes do to accounts: a quality lost closes the account of
//! that quality only (PLT-4), once the loss has taken effect; and how far the accounts
//! have followed the feed.

use chrono::{DateTime, NaiveDate, Utc};
use sante_audit::Source;
use sante_types::Quality;

use sante_store::Expect;

use super::{FEEDS, Identity, IdentityResult};

impl Identity {
    /// How far the identity service has applied a feed it follows.
    pub async fn feed_position(&self, feed: &str) -> IdentityResult<Option<String>> {
        Ok(self
            .db
            .get(FEEDS, feed)
            .await?
            .and_then(|r| String::from_utf8(r.value).ok()))
    }

    /// Records that everything up to `cursor` of `feed` has been applied.
    pub async fn set_feed_position(&self, feed: &str, cursor: &str) -> IdentityResult<()> {
        self.db
            .put(FEEDS, feed, cursor.as_bytes(), Expect::Any, self.micros())
            .await?;
        Ok(())
    }

    /// The directory of `quality` says `subject` loses it from `effective` (announced
    /// at `announced`): the account of that quality is closed, with its sessions,
    /// when the loss has taken effect; the person's other accounts stay. `true` when
    /// an account was closed.
    pub async fn quality_lost(
        &self,
        quality: Quality,
        subject: &str,
        effective: NaiveDate,
        announced: DateTime<Utc>,
        source: &Source,
    ) -> IdentityResult<bool> {
        // A mission's end may be announced ahead: close only once it is past.
        if effective > announced.date_naive() {
            return Ok(false);
        }
        self.close_quality(quality, subject, source).await
    }
}
