//! Usage indicators for misuse controls (MSG-17), computed from the metadata log only:
//! volumes, flows between domains, frequency, attachment formats and volumes, message
//! sizes. Nothing here can see a subject or a body: its input is [`MetadataEntry`].

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};
use serde::Serialize;

use crate::model::MetadataEntry;

/// Upper bounds of the size classes, in bytes (the last class is everything above).
pub const SIZE_CLASSES: [u64; 6] = [
    10 * 1024,
    100 * 1024,
    1024 * 1024,
    5 * 1024 * 1024,
    10 * 1024 * 1024,
    25 * 1024 * 1024,
];

/// The indicators over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Indicators {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Messages and bytes accepted, by channel (`submission`, `inbound`...).
    pub accepted: BTreeMap<String, Volume>,
    /// Messages refused, by refusal code.
    pub refused: BTreeMap<String, u64>,
    /// Accepted messages from one domain to another: `(sender's, recipient's)`.
    pub flows: BTreeMap<String, u64>,
    /// Accepted messages per hour of the day (UTC), 0 to 23.
    pub by_hour: Vec<u64>,
    /// Accepted messages per day, `YYYY-MM-DD`.
    pub by_day: BTreeMap<String, u64>,
    /// Attachments by MIME type.
    pub attachments: BTreeMap<String, Volume>,
    /// Accepted messages per size class (see [`SIZE_CLASSES`]; one more class above).
    pub sizes: Vec<u64>,
    /// The senders with the most accepted messages, most first (at most 20).
    pub top_senders: Vec<(String, Volume)>,
}

/// A count and a number of bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Volume {
    pub messages: u64,
    pub bytes: u64,
}

impl Volume {
    fn add(&mut self, bytes: u64) {
        self.messages += 1;
        self.bytes += bytes;
    }
}

fn domain(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("-")
}

/// Computes the indicators of `entries`.
pub fn compute<'a>(entries: impl IntoIterator<Item = &'a MetadataEntry>) -> Indicators {
    let mut out = Indicators {
        by_hour: vec![0; 24],
        sizes: vec![0; SIZE_CLASSES.len() + 1],
        ..Indicators::default()
    };
    let mut senders: BTreeMap<String, Volume> = BTreeMap::new();
    for e in entries {
        out.from = Some(out.from.map_or(e.at, |f| f.min(e.at)));
        out.until = Some(out.until.map_or(e.at, |u| u.max(e.at)));
        if e.outcome != "accepted" {
            *out.refused.entry(e.outcome.clone()).or_default() += 1;
            continue;
        }
        out.accepted
            .entry(e.channel.as_str().to_owned())
            .or_default()
            .add(e.size);
        let mut recipient_domains: Vec<&str> = e.recipients.iter().map(|r| domain(r)).collect();
        recipient_domains.sort_unstable();
        recipient_domains.dedup();
        for d in recipient_domains {
            *out.flows
                .entry(format!("{} -> {d}", domain(&e.sender)))
                .or_default() += 1;
        }
        out.by_hour[e.at.hour() as usize] += 1;
        *out.by_day
            .entry(e.at.format("%Y-%m-%d").to_string())
            .or_default() += 1;
        for a in &e.attachments {
            out.attachments
                .entry(a.content_type.clone())
                .or_default()
                .add(a.size);
        }
        let class = SIZE_CLASSES
            .iter()
            .position(|&limit| e.size <= limit)
            .unwrap_or(SIZE_CLASSES.len());
        out.sizes[class] += 1;
        senders.entry(e.sender.clone()).or_default().add(e.size);
    }
    let mut top: Vec<(String, Volume)> = senders.into_iter().collect();
    top.sort_by(|a, b| b.1.messages.cmp(&a.1.messages).then(a.0.cmp(&b.0)));
    top.truncate(20);
    out.top_senders = top;
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::model::{AttachmentMeta, Channel};

    fn entry(hour: u32, sender: &str, to: &[&str], size: u64, outcome: &str) -> MetadataEntry {
        MetadataEntry {
            id: format!("m{hour}{size}"),
            at: Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0).unwrap(),
            channel: Channel::Submission,
            sender: sender.into(),
            recipients: to.iter().map(|s| (*s).to_owned()).collect(),
            size,
            attachments: vec![AttachmentMeta {
                content_type: "application/pdf".into(),
                size: size / 2,
            }],
            outcome: outcome.into(),
        }
    }

    #[test]
    fn indicators_count_volumes_flows_hours_formats_and_sizes() {
        let entries = [
            entry(
                9,
                "a@mss.example",
                &["b@mss.example", "c@partner.example"],
                4000,
                "accepted",
            ),
            entry(9, "a@mss.example", &["b@mss.example"], 200_000, "accepted"),
            entry(
                14,
                "d@partner.example",
                &["a@mss.example"],
                30_000_000,
                "accepted",
            ),
            entry(
                15,
                "x@elsewhere.example",
                &["a@mss.example"],
                100,
                "relay_denied",
            ),
        ];
        let i = compute(&entries);
        assert_eq!(
            i.accepted["submission"],
            Volume {
                messages: 3,
                bytes: 30_204_000
            }
        );
        assert_eq!(i.refused["relay_denied"], 1);
        assert_eq!(i.flows["mss.example -> mss.example"], 2);
        assert_eq!(i.flows["mss.example -> partner.example"], 1);
        assert_eq!(i.flows["partner.example -> mss.example"], 1);
        assert_eq!(i.by_hour[9], 2);
        assert_eq!(i.by_hour[14], 1);
        assert_eq!(i.by_day["2026-12-01"], 3);
        assert_eq!(i.attachments["application/pdf"].messages, 3);
        assert_eq!(i.sizes, vec![1, 0, 1, 0, 0, 0, 1]);
        assert_eq!(i.top_senders[0].0, "a@mss.example");
        assert_eq!(i.top_senders[0].1.messages, 2);
    }
}
