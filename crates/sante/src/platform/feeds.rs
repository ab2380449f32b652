//! The directories as the other contexts see them: the accounts follow the
//! directories' change feed (the rules are the identity service's, this adapter only
//! names the quality of each register and the date a loss takes effect), and single
//! sign-on asks whether a professional works at an establishment.

use std::sync::Arc;

use sante_audit::{Source, Token};
use sante_directory::follow::Subscriber;
use sante_directory::service::{ChangeEvent, ChangeKind, Register};
use sante_directory::{Directory, DirectoryError};
use sante_identity::{Identity, IdentityError, IdentityResult};
use sante_types::{Clock, Quality};

/// The identity service's position in the directories' change feed.
const DIRECTORY_FEED: &str = "directory-changes";

/// The accounts, following the directories' change feed.
pub struct AccountsFollower {
    pub identity: Identity,
    pub directory: Directory,
}

impl Subscriber for AccountsFollower {
    type Error = IdentityError;

    async fn position(&self) -> IdentityResult<Option<String>> {
        self.identity.feed_position(DIRECTORY_FEED).await
    }

    async fn set_position(&self, cursor: &str) -> IdentityResult<()> {
        self.identity
            .set_feed_position(DIRECTORY_FEED, cursor)
            .await
    }

    async fn apply(&self, change: &ChangeEvent) -> IdentityResult<bool> {
        if change.kind != ChangeKind::QualityLost {
            return Ok(false);
        }
        let announced = change.at;
        let (quality, effective) = match change.register {
            Register::Patient => (Quality::Patient, announced.date_naive()),
            Register::Professional => (Quality::Professional, announced.date_naive()),
            // An agent loses his quality at the end of his mission; an entry gone
            // from the register has no mission left.
            Register::Agent => match self.directory.agent(&change.entry).await {
                Ok(agent) => (
                    Quality::Agent,
                    agent.valid_until.unwrap_or(announced.date_naive()),
                ),
                Err(_) => (Quality::Agent, announced.date_naive()),
            },
            Register::Establishment => return Ok(false),
        };
        let source = Source {
            channel: Token::new("directory-feed").ok(),
            ..Source::default()
        };
        self.identity
            .quality_lost(quality, &change.entry, effective, announced, &source)
            .await
    }
}

/// Whether a professional works at an establishment today, from the directories: what
/// single sign-on asks before letting an establishment's system act for him (ACC-3).
pub struct DirectoryStaff {
    pub directory: Directory,
    pub clock: Arc<dyn Clock>,
}

impl sante_sso::StaffDirectory for DirectoryStaff {
    fn works_at<'a>(
        &'a self,
        professional: &'a str,
        establishment: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, String>> + Send + 'a>>
    {
        Box::pin(async move {
            let today = self.clock.now().date_naive();
            match self.directory.professional(professional).await {
                Ok(p) => Ok(p.authorisation.in_force(today)
                    && p.affiliations
                        .iter()
                        .any(|a| a.establishment == establishment && a.active_on(today))),
                Err(DirectoryError::NotFound(_)) => Ok(false),
                Err(e) => Err(e.to_string()),
            }
        })
    }
}
