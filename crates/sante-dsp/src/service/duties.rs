//! Filing duties (DSP-25, DSP-26): the holder may ask a professional in his care to
//! file a datum, due within 15 days; at the latest 15 days after the end of care the
//! author files the results, summaries and reports. What is overdue is listed for the
//! professional concerned.

use chrono::Duration;
use sante_store::{Expect, Term};

use super::*;
use crate::category::DataCategory;
use crate::model::{Author, CareKind, FilingRequest, Item};

const REQUEST_DAYS: i64 = 15;
const AFTER_CARE_DAYS: i64 = 15;
/// Ended care is watched this long after the deadline, then dropped from the list.
const WATCH_DAYS: i64 = 90;

/// Something a professional should have filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overdue {
    /// The holder's request, past its 15 days.
    Request(FilingRequest),
    /// Care that ended more than 15 days ago with none of the end-of-care documents
    /// (results, clinical summary or discharge report, imaging report) filed.
    EndOfCare {
        record: String,
        relationship: String,
        ended: DateTime<Utc>,
    },
}

/// The categories DSP-26 asks at the end of care.
const END_OF_CARE: &[DataCategory] = &[
    DataCategory::Syntheses,
    DataCategory::Imaging,
    DataCategory::Analyses,
];

impl DspService {
    /// The holder asks `professional`, who is in his care, to file a datum (DSP-25).
    pub async fn request_filing(
        &self,
        caller: &Caller,
        holder: &str,
        professional: &str,
        what: &str,
    ) -> DspResult<FilingRequest> {
        let (record, _) = self.load(holder).await?;
        let resolved = self
            .gate(caller, &record, Intent::HolderControls, None)
            .await?;
        let what: String = what
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        if what.is_empty() {
            return Err(DspError::Invalid("say what should be filed".into()));
        }
        let now = self.now();
        let in_care = self
            .relationships(holder)
            .await?
            .iter()
            .any(|r| r.in_force(now) && r.professional.as_deref() == Some(professional));
        if !in_care {
            return Err(DspError::Invalid(
                "this professional is not in a care relationship with you".into(),
            ));
        }
        let request = FilingRequest {
            id: uuid::Uuid::new_v4().to_string(),
            record: holder.to_owned(),
            professional: professional.to_owned(),
            what,
            asked: now,
            due: now + Duration::days(REQUEST_DAYS),
            fulfilled: None,
        };
        self.db
            .write_batch(
                &[
                    Self::put_op(REQUESTS, &request.id, &request, Expect::Absent)?,
                    Self::index_op(
                        REQUESTS,
                        &request.id,
                        vec![
                            Term::new("record", holder),
                            Term::new("professional", professional),
                        ],
                    ),
                ],
                self.micros(),
            )
            .await?;
        self.note(
            caller,
            &resolved,
            holder,
            EventKind::DspControlChanged,
            "request_filing",
            None,
            Decision::Permit,
        )
        .await?;
        Ok(request)
    }

    /// A filing by `professional` fulfils the holder's oldest open request to him.
    pub(crate) async fn fulfil_requests(&self, holder: &str, professional: &str) -> DspResult<()> {
        let mut open: Vec<FilingRequest> = self
            .all_with::<FilingRequest>(REQUESTS, "record", holder, 1_000)
            .await?
            .into_iter()
            .filter(|r| r.professional == professional && r.fulfilled.is_none())
            .collect();
        open.sort_by_key(|r| r.asked);
        if let Some(mut first) = open.into_iter().next() {
            first.fulfilled = Some(self.now());
            self.db
                .write_batch(
                    &[Self::put_op(REQUESTS, &first.id, &first, Expect::Any)?],
                    self.micros(),
                )
                .await?;
        }
        Ok(())
    }

    /// What the calling professional should have filed and has not (DSP-25, DSP-26).
    pub async fn overdue(&self, caller: &Caller) -> DspResult<Vec<Overdue>> {
        if caller.quality != Quality::Professional {
            return Err(DspError::Denied("professionals_only"));
        }
        let now = self.now();
        let mut out = Vec::new();
        let requests: Vec<FilingRequest> = self
            .all_with(REQUESTS, "professional", &caller.entry, 10_000)
            .await?;
        out.extend(
            requests
                .into_iter()
                .filter(|r| r.fulfilled.is_none() && now > r.due)
                .map(Overdue::Request),
        );
        let relationships: Vec<CareRelationship> = self
            .all_with(RELATIONSHIPS, "professional", &caller.entry, 10_000)
            .await?;
        for r in relationships
            .iter()
            .filter(|r| r.kind == CareKind::Consultation)
        {
            let ended = r.revoked.unwrap_or(r.end);
            let deadline = ended + Duration::days(AFTER_CARE_DAYS);
            if now <= deadline || now > deadline + Duration::days(WATCH_DAYS) || r.revoked.is_some()
            {
                continue;
            }
            let items: Vec<Item> = self.all_with(ITEMS, "record", &r.record, 100_000).await?;
            let filed = items.iter().any(|i| {
                END_OF_CARE.contains(&i.category)
                    && i.filed_at >= r.start
                    && i.filed_at <= deadline
                    && matches!(&i.author, Author::Professional { professional, .. } if professional == &caller.entry)
            });
            if !filed {
                out.push(Overdue::EndOfCare {
                    record: r.record.clone(),
                    relationship: r.id.clone(),
                    ended,
                });
            }
        }
        Ok(out)
    }
}
