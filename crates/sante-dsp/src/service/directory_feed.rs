//! What the directories' changes do to the shared care records: an affiliation
//! creates the holder's DSP with its information letter (DSP-4, DSP-5), a reported
//! death closes it (DSP-11), a withdrawn authorisation ends the professional's rights
//! and tells the holders concerned (DSP-16). The DSP follows the feed with
//! [`sante_directory::follow::follow`].

use sante_audit::{Source, Token};
use sante_directory::follow::Subscriber;
use sante_directory::service::{ChangeEvent, ChangeKind, Register};

use super::{DspError, DspResult, DspService};

/// The DSP's position in the directories' change feed.
const DIRECTORY_FEED: &str = "directory-changes";

fn feed_source() -> Source {
    Source {
        channel: Token::new("directory-feed").ok(),
        ..Source::default()
    }
}

impl DspService {
    /// Applies one change of the directories; `true` when it changed a DSP.
    pub async fn apply_directory_change(&self, change: &ChangeEvent) -> DspResult<bool> {
        let source = feed_source();
        match (change.kind, change.register) {
            (ChangeKind::QualityGained, Register::Patient) => {
                match self.create(&change.entry, &source).await {
                    Ok(created) => Ok(created),
                    // A merged-away identity has no DSP of its own.
                    Err(DspError::NotFound(_)) => Ok(false),
                    Err(e) => Err(e),
                }
            }
            (ChangeKind::DeathReported, Register::Patient) => {
                self.holder_died(&change.entry, &source).await
            }
            (ChangeKind::AuthorisationWithdrawn, Register::Professional) => {
                Ok(self.professional_withdrawn(&change.entry, &source).await? > 0)
            }
            _ => Ok(false),
        }
    }
}

impl Subscriber for DspService {
    type Error = DspError;

    async fn position(&self) -> DspResult<Option<String>> {
        self.feed_position(DIRECTORY_FEED).await
    }

    async fn set_position(&self, cursor: &str) -> DspResult<()> {
        self.set_feed_position(DIRECTORY_FEED, cursor).await
    }

    async fn apply(&self, change: &ChangeEvent) -> DspResult<bool> {
        self.apply_directory_change(change).await
    }
}
