//! What the directories' changes do to accounts: a quality lost closes the account of
//! that quality only (PLT-4), once the loss has taken effect.

use chrono::{DateTime, NaiveDate, Utc};
use sante_audit::Source;
use sante_types::Quality;

use super::{Identity, IdentityResult};

impl Identity {
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
