//! Following the directories' change feed: a subscriber (the accounts, the shared
//! care record...) keeps its own position in the feed and applies each change; the
//! one loop here reads the feed after that position in bounded batches and moves the
//! position after each batch, so a crash replays at most one batch. Subscribers'
//! changes must therefore be idempotent.

use std::future::Future;

use sante_types::{Coded, ErrorKind};

use crate::service::{ChangeEvent, Directory, DirectoryError};

/// Changes read per batch.
const BATCH: u32 = 500;
/// Batches per call at most: a long backlog is worked off over several calls (the
/// binary calls every minute) instead of holding one call for ever.
const MAX_BATCHES: usize = 100;

/// What follows the feed.
pub trait Subscriber: Sync {
    type Error: Coded + Send + 'static;

    /// The position after which changes are still to be applied.
    fn position(&self) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;

    /// Records that everything up to `cursor` has been applied.
    fn set_position(&self, cursor: &str) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Applies one change; `true` when it changed something.
    fn apply(&self, change: &ChangeEvent)
    -> impl Future<Output = Result<bool, Self::Error>> + Send;
}

/// Why following the feed stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError<E: Coded + 'static> {
    #[error("reading the directories' changes: {0}")]
    Directory(#[source] DirectoryError),
    #[error("applying a directory change: {0}")]
    Subscriber(#[source] E),
}

impl<E: Coded + 'static> Coded for FollowError<E> {
    fn code(&self) -> &'static str {
        match self {
            FollowError::Directory(e) => e.code(),
            FollowError::Subscriber(e) => e.code(),
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            FollowError::Directory(e) => e.kind(),
            FollowError::Subscriber(e) => e.kind(),
        }
    }
}

/// Applies the changes after `subscriber`'s position; returns how many changed
/// something.
pub async fn follow<S: Subscriber>(
    directory: &Directory,
    subscriber: &S,
) -> Result<usize, FollowError<S::Error>> {
    let mut applied = 0;
    let mut position = subscriber
        .position()
        .await
        .map_err(FollowError::Subscriber)?;
    for _ in 0..MAX_BATCHES {
        let changes = directory
            .changes_after(position.as_deref(), BATCH)
            .await
            .map_err(FollowError::Directory)?;
        let Some(last) = changes.last() else {
            break;
        };
        for change in &changes {
            if subscriber
                .apply(change)
                .await
                .map_err(FollowError::Subscriber)?
            {
                applied += 1;
            }
        }
        subscriber
            .set_position(&last.cursor)
            .await
            .map_err(FollowError::Subscriber)?;
        position = Some(last.cursor.clone());
    }
    Ok(applied)
}
