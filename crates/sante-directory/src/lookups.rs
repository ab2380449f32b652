//! How many patient identities each caller is shown (DIR-5). A professional or a
//! service identifies the patients it serves, a few at a time; one that looks up more
//! than its hourly allowance is refused until the hour turns, and the refusal is
//! traced and logged for the operator's watch. The directory's own staff (the
//! operator, identity vigilance) are not counted.
//!
//! Counted per process: several nodes each keep their own count, so a caller spread
//! over `n` nodes gets up to `n` allowances.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// The hourly allowances, by kind of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupLimits {
    /// A person (a professional, through the portal, the FHIR API or his
    /// establishment's system): a day of consultations is a few dozen patients.
    pub person_per_hour: u32,
    /// A platform service identifying the patients of many professionals.
    pub service_per_hour: u32,
}

impl Default for LookupLimits {
    fn default() -> Self {
        LookupLimits {
            person_per_hour: 200,
            service_per_hour: 20_000,
        }
    }
}

/// The counts of the current hour.
#[derive(Debug, Default)]
pub(crate) struct Lookups {
    pub(crate) limits: LookupLimits,
    hours: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// The hour counted (hours since the epoch); older counts are dropped when it
    /// changes, so the map holds one entry per caller of the current hour.
    hour: i64,
    by_caller: HashMap<String, u32>,
}

impl Lookups {
    pub(crate) fn new(limits: LookupLimits) -> Lookups {
        Lookups {
            limits,
            hours: Mutex::default(),
        }
    }

    fn counts(&self, now: DateTime<Utc>) -> std::sync::MutexGuard<'_, Counts> {
        let mut counts = self.hours.lock().unwrap_or_else(|e| e.into_inner());
        let hour = now.timestamp().div_euclid(3600);
        if counts.hour != hour {
            counts.hour = hour;
            counts.by_caller.clear();
        }
        counts
    }

    /// Whether `caller` has used up `per_hour` in the hour of `now`.
    pub(crate) fn exhausted(&self, caller: &str, per_hour: u32, now: DateTime<Utc>) -> bool {
        self.counts(now)
            .by_caller
            .get(caller)
            .is_some_and(|&n| n >= per_hour)
    }

    /// Counts `n` identities shown to `caller`.
    pub(crate) fn count(&self, caller: &str, n: usize, now: DateTime<Utc>) {
        let mut counts = self.counts(now);
        let seen = counts.by_caller.entry(caller.to_owned()).or_default();
        *seen = seen.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_allowance_lasts_an_hour_and_is_per_caller() {
        let lookups = Lookups::new(LookupLimits::default());
        let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap();
        assert!(!lookups.exhausted("pro-1", 3, at(9, 0)));
        lookups.count("pro-1", 2, at(9, 1));
        assert!(!lookups.exhausted("pro-1", 3, at(9, 2)));
        lookups.count("pro-1", 1, at(9, 3));
        assert!(lookups.exhausted("pro-1", 3, at(9, 59)));
        assert!(!lookups.exhausted("pro-2", 3, at(9, 59)), "another caller");
        assert!(!lookups.exhausted("pro-1", 3, at(10, 0)), "the next hour");
        assert_eq!(
            lookups.counts(at(10, 0)).by_caller.len(),
            0,
            "old counts dropped"
        );
    }
}
