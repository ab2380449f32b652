//! Optimistic writes that meet a concurrent one are retried here, and only here: the
//! number of attempts, the pause between them and what is undone when they run out
//! are written once, as named policies with the reason for their numbers.
//!
//! An attempt reads, decides and writes; it ends with [`settle`], which turns the
//! write's result into [`Step::Done`] or, when a concurrent write won
//! ([`StoreError::Conflict`]), [`Step::Raced`]: the next attempt reads again. Anything
//! else the attempt returns as an error ends the retries at once. What must follow a
//! committed write (a notice, a wake-up) is done by the caller after
//! [`on_conflict`] returns, so that its failure cannot be mistaken for the write's.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use crate::error::{StoreError, StoreResult};

/// How an operation is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first one included.
    pub attempts: u32,
    pub pause: Pause,
}

/// The pause between two attempts. Pauses are on real time: the writers that collide
/// are other tasks and other processes, which an injected clock does not move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pause {
    /// Retry at once: collisions are rare and the second read settles them.
    None,
    /// A random pause between the two bounds, so that writers colliding in step
    /// spread out.
    Jitter { min: Duration, max: Duration },
    /// A random pause up to a ceiling doubling at each attempt from `first`, capped at
    /// `cap`: for writers that keep colliding while another catches up.
    Doubling { first: Duration, cap: Duration },
}

impl Retry {
    /// Records that many writers change at once: a mailbox receives from every SMTP
    /// session delivering to it while IMAP sessions change flags. 32 SMTP sessions
    /// writing to one mailbox exhausted 16 attempts in the benchmark; 64, with a pause
    /// of 0.2 to 5 ms, let every writer through, and the worst wait (about 320 ms) is
    /// far below the protocols' timeouts.
    pub const CONTENDED: Retry = Retry {
        attempts: 64,
        pause: Pause::Jitter {
            min: Duration::from_micros(200),
            max: Duration::from_millis(5),
        },
    };

    /// Records one person changes (an account, a DSP), which meet another write only
    /// when a background job or a second window touches them at the same moment: a
    /// fresh read settles it, and five attempts never ran out in the tests.
    pub const RARE: Retry = Retry {
        attempts: 5,
        pause: Pause::None,
    };

    /// The audit chain, appended to by the server and by an operator's command at once:
    /// the loser catches up with the winner's records between attempts, and after a few
    /// lost races takes the turn; sixteen attempts with a doubling pause capped at a
    /// quarter of a second leave the turn's holder time to finish.
    pub const AUDIT_CHAIN: Retry = Retry {
        attempts: 16,
        pause: Pause::Doubling {
            first: Duration::from_millis(2),
            cap: Duration::from_millis(256),
        },
    };

    /// The pause after the failed attempt number `attempt` (from 0).
    pub fn delay(&self, attempt: u32) -> Duration {
        let mut rng = rand::thread_rng();
        match self.pause {
            Pause::None => Duration::ZERO,
            Pause::Jitter { min, max } => rng.gen_range(min..=max),
            Pause::Doubling { first, cap } => {
                let ceiling = first
                    .checked_mul(1u32 << attempt.min(16))
                    .unwrap_or(cap)
                    .min(cap);
                rng.gen_range(Duration::from_micros(1)..=ceiling.max(Duration::from_micros(1)))
            }
        }
    }

    /// Waits the pause after the failed attempt number `attempt`.
    pub async fn pause(&self, attempt: u32) {
        let delay = self.delay(attempt);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<T> {
    Done(T),
    /// A concurrent write won: read again and retry.
    Raced,
}

/// The step after an optimistic write: done (with `then` of the write's result), or
/// raced when a concurrent write won; other storage errors are errors.
pub fn settle<R, T>(written: StoreResult<R>, then: impl FnOnce(R) -> T) -> StoreResult<Step<T>> {
    match written {
        Ok(r) => Ok(Step::Done(then(r))),
        Err(StoreError::Conflict(_)) => Ok(Step::Raced),
        Err(e) => Err(e),
    }
}

/// Runs `attempt` until it is done, fails, or has raced `policy.attempts` times; then
/// the error is a [`StoreError::Conflict`] naming `operation`, in the caller's error
/// type.
pub async fn on_conflict<T, E, F, Fut>(
    policy: Retry,
    operation: &str,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Step<T>, E>>,
    E: From<StoreError>,
{
    for n in 0..policy.attempts {
        match attempt().await? {
            Step::Done(value) => return Ok(value),
            Step::Raced if n + 1 < policy.attempts => policy.pause(n).await,
            Step::Raced => {}
        }
    }
    Err(StoreError::Conflict(format!(
        "{operation}: still changing after {} attempts",
        policy.attempts
    ))
    .into())
}

/// [`on_conflict`], then `undo` when it did not succeed, whatever the reason: what the
/// operation prepared before its attempts (blobs written ahead) must not outlive it.
pub async fn on_conflict_or_undo<T, E, F, Fut, U, UFut>(
    policy: Retry,
    operation: &str,
    attempt: F,
    undo: U,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Step<T>, E>>,
    E: From<StoreError>,
    U: FnOnce() -> UFut,
    UFut: Future<Output = ()>,
{
    let result = on_conflict(policy, operation, attempt).await;
    if result.is_err() {
        undo().await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_stay_within_their_policy() {
        for attempt in 0..64 {
            let d = Retry::CONTENDED.delay(attempt);
            assert!(d >= Duration::from_micros(200) && d <= Duration::from_millis(5));
            assert!(Retry::AUDIT_CHAIN.delay(attempt) <= Duration::from_millis(256));
            assert_eq!(Retry::RARE.delay(attempt), Duration::ZERO);
        }
        // The doubling ceiling: the first pauses are short.
        assert!(Retry::AUDIT_CHAIN.delay(0) <= Duration::from_millis(2));
    }

    #[tokio::test]
    async fn a_race_is_retried_an_error_is_not_and_giving_up_is_a_conflict() {
        let mut raced = 0;
        let done: StoreResult<u32> = on_conflict(Retry::RARE, "test", || {
            raced += 1;
            let step = if raced < 3 {
                Step::Raced
            } else {
                Step::Done(raced)
            };
            async move { Ok(step) }
        })
        .await;
        assert_eq!(done.unwrap(), 3);

        let mut calls = 0;
        let failed: StoreResult<()> = on_conflict(Retry::RARE, "test", || {
            calls += 1;
            async { Err(StoreError::Config("broken".into())) }
        })
        .await;
        assert!(matches!(failed, Err(StoreError::Config(_))));
        assert_eq!(calls, 1, "an error is not retried");

        let mut undone = false;
        let gave_up: StoreResult<()> = on_conflict_or_undo(
            Retry::RARE,
            "copy",
            || async { Ok(Step::Raced) },
            || {
                undone = true;
                async {}
            },
        )
        .await;
        assert!(
            matches!(&gave_up, Err(StoreError::Conflict(what)) if what.contains("copy")),
            "{gave_up:?}"
        );
        assert!(undone, "what the operation prepared is undone");
    }

    #[test]
    fn a_write_that_lost_a_race_is_raced() {
        assert_eq!(settle(Ok(7), |n| n + 1).unwrap(), Step::Done(8));
        assert_eq!(
            settle::<(), ()>(Err(StoreError::Conflict("x".into())), |_| ()).unwrap(),
            Step::Raced
        );
        assert!(settle::<(), ()>(Err(StoreError::Config("x".into())), |_| ()).is_err());
    }
}
