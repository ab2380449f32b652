//! The platform's periodic jobs in one registry: each job has a name and a period,
//! one task runs the due jobs in turn, and one place logs what they did or why they
//! failed. A failing job is retried at its next period; the others go on.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often the registry looks for due jobs: the shortest period of any job, so that
/// none waits more than this beyond its own period.
const TICK: Duration = Duration::from_secs(60);

/// A minute: what must follow quickly (the directories' changes, the audit seals and
/// their forwarding, expired single sign-on codes).
pub const EVERY_MINUTE: Duration = Duration::from_secs(60);
/// An hour: mailbox closures due (counted in working days) and the metadata log.
pub const EVERY_HOUR: Duration = Duration::from_secs(3600);
/// A day: retention (counted in months or years, PLT-7, DSP-10 to DSP-12, DIR-7).
pub const EVERY_DAY: Duration = Duration::from_secs(24 * 3600);

/// What a run of a job did, to log when it did something.
pub type JobResult = anyhow::Result<Option<String>>;
type JobFuture = Pin<Box<dyn Future<Output = JobResult> + Send>>;

struct Job {
    name: &'static str,
    every: Duration,
    run: Box<dyn Fn() -> JobFuture + Send + Sync>,
    last: Option<Instant>,
}

/// The registry: jobs in the order they run within a tick.
#[derive(Default)]
pub struct Jobs {
    jobs: Vec<Job>,
}

impl Jobs {
    /// Adds `run`, every `every` (the first run at the first tick, when the server
    /// starts).
    pub fn every<F, Fut>(mut self, every: Duration, name: &'static str, run: F) -> Jobs
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        self.jobs.push(Job {
            name,
            every,
            run: Box::new(move || Box::pin(run())),
            last: None,
        });
        self
    }

    /// Runs the due jobs at each tick until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            self.run_due(Instant::now()).await;
        }
    }

    /// Runs every job due at `now`, in order; returns the names of those that ran.
    async fn run_due(&mut self, now: Instant) -> Vec<&'static str> {
        let mut ran = Vec::new();
        for job in &mut self.jobs {
            if job
                .last
                .is_some_and(|last| now.duration_since(last) < job.every)
            {
                continue;
            }
            job.last = Some(now);
            ran.push(job.name);
            match (job.run)().await {
                Ok(None) => {}
                Ok(Some(done)) => tracing::info!(job = job.name, "{done}"),
                Err(e) => tracing::error!(job = job.name, error = %format!("{e:#}"), "job failed"),
            }
        }
        ran
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn jobs_run_at_their_period_and_a_failure_stops_no_other() {
        let daily_runs = Arc::new(AtomicU32::new(0));
        let counted = daily_runs.clone();
        let mut jobs = Jobs::default()
            .every(EVERY_MINUTE, "failing", || async { anyhow::bail!("down") })
            .every(EVERY_DAY, "daily", move || {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::Relaxed);
                    Ok(Some("done".to_owned()))
                }
            });
        let start = Instant::now();
        assert_eq!(jobs.run_due(start).await, ["failing", "daily"]);
        assert_eq!(jobs.run_due(start + EVERY_MINUTE).await, ["failing"]);
        assert_eq!(jobs.run_due(start + EVERY_HOUR).await, ["failing"]);
        assert_eq!(jobs.run_due(start + EVERY_DAY).await, ["failing", "daily"]);
        assert_eq!(daily_runs.load(Ordering::Relaxed), 2);
    }
}
