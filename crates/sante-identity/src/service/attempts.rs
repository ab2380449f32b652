//! Failed attempts per source address: credential stuffing and password spraying
//! across accounts, and activation-code guessing, are slowed where they come from.
//!
//! The lock-out of an account (see `login.rs`) stops guessing one account's password,
//! but an attacker who tries one password on many accounts never trips it, and one who
//! tries many on a victim's account locks the victim out. Counting failures per source
//! address as well, and refusing that address (before any account is looked at) once
//! it is past its allowance, stops both from one place without touching the victims'
//! accounts. IPv6 addresses count by their /64, which one subscriber usually holds.
//!
//! The counts are kept in memory, per node, for a fixed window: a restart forgets
//! them, and N nodes allow N times the allowance (noted in `docs/security.md`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// How many failures one address may have in one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    pub failures_per_address: u32,
    pub window: Duration,
}

impl Default for AttemptLimits {
    /// 30 failures in 15 minutes: more than a person mistyping on a shared network
    /// (a hospital's outgoing address), far less than a list of passwords.
    fn default() -> AttemptLimits {
        AttemptLimits {
            failures_per_address: 30,
            window: Duration::minutes(15),
        }
    }
}

/// Addresses past this many are forgotten at once rather than grow memory without
/// bound (a flood from many addresses then starts from zero, as after a restart).
const MAX_ADDRESSES: usize = 100_000;

/// The failures of each source address in its current window.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    limits: AttemptLimits,
    by_address: Mutex<HashMap<IpAddr, (DateTime<Utc>, u32)>>,
}

impl Attempts {
    pub(crate) fn new(limits: AttemptLimits) -> Attempts {
        Attempts {
            limits,
            by_address: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` has used its allowance of failures at `now`.
    pub(crate) fn exhausted(&self, ip: Option<IpAddr>, now: DateTime<Utc>) -> bool {
        let Some(ip) = ip else {
            // Operator commands have no address.
            return false;
        };
        let Ok(map) = self.by_address.lock() else {
            return false;
        };
        map.get(&sante_types::subscriber_address(ip))
            .is_some_and(|(since, failures)| {
                now < *since + self.limits.window && *failures >= self.limits.failures_per_address
            })
    }

    /// Counts a failure from `ip` at `now`.
    pub(crate) fn failed(&self, ip: Option<IpAddr>, now: DateTime<Utc>) {
        let Some(ip) = ip else {
            return;
        };
        let Ok(mut map) = self.by_address.lock() else {
            return;
        };
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&sante_types::subscriber_address(ip)) {
            map.clear();
        }
        let entry = map
            .entry(sante_types::subscriber_address(ip))
            .or_insert((now, 0));
        if now >= entry.0 + self.limits.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_address_past_its_allowance_waits_for_the_window_to_end() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        let attempts = Attempts::new(AttemptLimits {
            failures_per_address: 3,
            window: Duration::minutes(15),
        });
        let attacker: IpAddr = "203.0.113.7".parse().unwrap();
        let neighbour: IpAddr = "203.0.113.8".parse().unwrap();
        for _ in 0..3 {
            assert!(!attempts.exhausted(Some(attacker), t0));
            attempts.failed(Some(attacker), t0);
        }
        assert!(attempts.exhausted(Some(attacker), t0 + Duration::minutes(14)));
        assert!(!attempts.exhausted(Some(neighbour), t0));
        assert!(
            !attempts.exhausted(None, t0),
            "operator commands are not counted"
        );
        assert!(!attempts.exhausted(Some(attacker), t0 + Duration::minutes(15)));
    }

    #[test]
    fn an_ipv6_subscriber_counts_as_one_address() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        let attempts = Attempts::new(AttemptLimits {
            failures_per_address: 2,
            window: Duration::minutes(15),
        });
        attempts.failed(Some("2001:db8:1:2::1".parse().unwrap()), t0);
        attempts.failed(Some("2001:db8:1:2:ffff::9".parse().unwrap()), t0);
        assert!(attempts.exhausted(Some("2001:db8:1:2::77".parse().unwrap()), t0));
        assert!(!attempts.exhausted(Some("2001:db8:1:3::1".parse().unwrap()), t0));
    }
}
