//! Anonymised statistics for public-health bodies (DSP-33): counts only, never a
//! holder, a professional or a document; every count below the disclosure threshold is
//! suppressed, so that no small group can be singled out.

use std::collections::BTreeMap;

use crate::model::{Item, RecordState};

use super::*;

/// Counts below this are not published (small-cell suppression).
pub const DISCLOSURE_THRESHOLD: u64 = 10;

/// A count as published: the number, or suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Count {
    Value(u64),
    /// Fewer than the threshold (and more than zero).
    Suppressed(&'static str),
}

fn publish(n: u64) -> Count {
    if n == 0 || n >= DISCLOSURE_THRESHOLD {
        Count::Value(n)
    } else {
        Count::Suppressed("<10")
    }
}

/// The anonymised figures of the DSP.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Statistics {
    pub records_by_state: BTreeMap<String, Count>,
    pub documents_by_category: BTreeMap<String, Count>,
    /// Documents filed per month (`YYYY-MM`).
    pub filings_by_month: BTreeMap<String, Count>,
    pub disclosure_threshold: u64,
}

impl DspService {
    /// Computes the anonymised statistics over every DSP (a batch job of the operator).
    pub async fn statistics(&self) -> DspResult<Statistics> {
        let mut states: BTreeMap<String, u64> = BTreeMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.db.list(RECORDS, after.as_deref(), 5_000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for r in &page {
                if let Ok(record) = serde_json::from_slice::<CareRecord>(&r.value) {
                    let state = match record.state {
                        RecordState::Created => "created",
                        RecordState::Active => "active",
                        RecordState::Closed => "closed",
                    };
                    *states.entry(state.to_owned()).or_default() += 1;
                }
            }
            if page.len() < 5_000 {
                break;
            }
        }
        let mut categories: BTreeMap<String, u64> = BTreeMap::new();
        let mut months: BTreeMap<String, u64> = BTreeMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.db.list(ITEMS, after.as_deref(), 5_000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for r in &page {
                if let Ok(item) = serde_json::from_slice::<Item>(&r.value) {
                    *categories
                        .entry(format!("{} {}", item.category.code(), item.category.name()))
                        .or_default() += 1;
                    *months
                        .entry(item.filed_at.format("%Y-%m").to_string())
                        .or_default() += 1;
                }
            }
            if page.len() < 5_000 {
                break;
            }
        }
        let publish_all =
            |m: BTreeMap<String, u64>| m.into_iter().map(|(k, v)| (k, publish(v))).collect();
        Ok(Statistics {
            records_by_state: publish_all(states),
            documents_by_category: publish_all(categories),
            filings_by_month: publish_all(months),
            disclosure_threshold: DISCLOSURE_THRESHOLD,
        })
    }
}
