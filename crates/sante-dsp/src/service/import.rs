//! Carrying existing DSPs over from another system (the pilot's DSP, a disaster
//! recovery copy): records, their documents (with or without content) and care
//! relationships are written as they are, in large batches, by the operator. The same
//! path loads the benchmarks' stores. Each batch is one trace.

use sante_audit::{Actor, AuditEvent, EventKind, Outcome, Source, Token};
use sante_store::{Expect, Term};
use sante_types::Service;

use super::*;
use crate::model::Item;

/// One DSP to carry over.
#[derive(Debug, Clone)]
pub struct ImportedRecord {
    pub record: CareRecord,
    /// Documents, with their content when the old system gave it.
    pub items: Vec<(Item, Option<Vec<u8>>)>,
    pub relationships: Vec<CareRelationship>,
}

impl DspService {
    /// Writes `batch` as it is (an existing DSP is refused, the whole batch with it).
    /// Returns how many documents were written.
    pub async fn import(&self, batch: &[ImportedRecord], source: &Source) -> DspResult<u64> {
        let mut ops = Vec::new();
        let mut documents = 0u64;
        for imported in batch {
            let holder = &imported.record.holder;
            ops.push(Self::put_op(
                RECORDS,
                holder,
                &imported.record,
                Expect::Absent,
            )?);
            ops.push(Self::index_op(
                RECORDS,
                holder,
                record_terms(&imported.record),
            ));
            for (item, content) in &imported.items {
                if &item.record != holder {
                    return Err(DspError::Invalid(format!(
                        "document {} is not of DSP {holder}",
                        item.id
                    )));
                }
                if let Some(content) = content {
                    self.blobs
                        .put(&blob_owner(holder), &item.id, content)
                        .await?;
                }
                ops.push(Self::put_op(ITEMS, &item.id, item, Expect::Absent)?);
                ops.push(Self::index_op(
                    ITEMS,
                    &item.id,
                    vec![
                        Term::new("record", holder.clone()),
                        Term::new("submission", item.submission_set.clone()),
                    ],
                ));
                documents += 1;
            }
            for r in &imported.relationships {
                let mut terms = vec![Term::new("record", r.record.clone())];
                if let Some(p) = &r.professional {
                    terms.push(Term::new("professional", p.clone()));
                }
                if let Some(e) = &r.establishment {
                    terms.push(Term::new("establishment", e.clone()));
                }
                ops.push(Self::put_op(RELATIONSHIPS, &r.id, r, Expect::Absent)?);
                ops.push(Self::index_op(RELATIONSHIPS, &r.id, terms));
            }
        }
        self.db.write_batch(&ops, self.micros()).await?;
        let event = AuditEvent::new(
            EventKind::DspRecordCreated,
            self.now(),
            Actor::platform(),
            Service::Dsp,
            sante_audit::Action::Create,
        )
        .source(source.clone())
        .resource(
            Token::code("ImportBatch"),
            Token::new(format!("{}-records-{documents}-documents", batch.len()))
                .unwrap_or(Token::code("batch")),
        )
        .outcome(Outcome::Success);
        self.recorder.record(event).await?;
        Ok(documents)
    }
}
