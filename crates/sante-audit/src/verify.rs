//! Verification of the whole trail: signatures, chain links, checkpoints, purges.
//!
//! Records are read page by page, so a trail of any size is verified in bounded memory.
//! Each problem names where it was found, so an investigator can go straight to it.

use std::fmt;

use sante_store::Db;
use sante_store::audit_log::{AuditRow, CheckpointRow};

use crate::AuditError;
use crate::chain::{CheckpointBody, GENESIS, PurgeBody, record_hash};
use crate::signer::VerifyingKeys;

/// Something wrong in the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The record's content no longer matches its hash: it was altered.
    Modified { stream: String, seq: i64 },
    /// Records are missing from the chain.
    Deleted {
        stream: String,
        from_seq: i64,
        to_seq: i64,
    },
    /// A record that does not belong to the chain was added.
    Inserted { stream: String, seq: i64 },
    /// A record sits at another position than the one it was chained at.
    Reordered {
        stream: String,
        seq: i64,
        chained_at: i64,
    },
    /// A record's link to its predecessor is broken (its predecessor was replaced).
    BrokenLink { stream: String, seq: i64 },
    /// A checkpoint's signature is invalid.
    BadSignature { stream: String, epoch: i64 },
    /// A checkpoint is signed by a key we do not know.
    UnknownKey {
        stream: String,
        epoch: i64,
        key_id: String,
    },
    /// A checkpoint does not match the records of its epoch.
    CheckpointMismatch {
        stream: String,
        epoch: i64,
        detail: String,
    },
    /// An epoch is missing without a signed purge marker covering it.
    EpochMissing { stream: String, epoch: i64 },
    /// A purge marker's signature is invalid.
    BadPurgeMarker { stream: String, through_epoch: i64 },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Modified { stream, seq } => write!(f, "{stream} record {seq}: modified"),
            Problem::Deleted {
                stream,
                from_seq,
                to_seq,
            } => {
                write!(f, "{stream} records {from_seq}..={to_seq}: deleted")
            }
            Problem::Inserted { stream, seq } => write!(f, "{stream} record {seq}: inserted"),
            Problem::Reordered {
                stream,
                seq,
                chained_at,
            } => {
                write!(
                    f,
                    "{stream} record {seq}: reordered (was chained at {chained_at})"
                )
            }
            Problem::BrokenLink { stream, seq } => {
                write!(
                    f,
                    "{stream} record {seq}: link to the previous record broken"
                )
            }
            Problem::BadSignature { stream, epoch } => {
                write!(f, "{stream} epoch {epoch}: checkpoint signature invalid")
            }
            Problem::UnknownKey {
                stream,
                epoch,
                key_id,
            } => {
                write!(f, "{stream} epoch {epoch}: signed by unknown key {key_id}")
            }
            Problem::CheckpointMismatch {
                stream,
                epoch,
                detail,
            } => {
                write!(
                    f,
                    "{stream} epoch {epoch}: checkpoint does not match records ({detail})"
                )
            }
            Problem::EpochMissing { stream, epoch } => {
                write!(
                    f,
                    "{stream} epoch {epoch}: missing, and no purge marker covers it"
                )
            }
            Problem::BadPurgeMarker {
                stream,
                through_epoch,
            } => {
                write!(
                    f,
                    "{stream} purge marker through epoch {through_epoch}: signature invalid"
                )
            }
        }
    }
}

/// The result of a verification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub records: u64,
    pub epochs: u64,
    pub purged_epochs: u64,
    /// Records chained but not yet sealed by a checkpoint.
    pub unsealed: u64,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            write!(
                f,
                "audit trail intact: {} records in {} sealed epochs verified, {} unsealed records chained, {} epochs purged by retention",
                self.records, self.epochs, self.unsealed, self.purged_epochs
            )
        } else {
            writeln!(f, "audit trail TAMPERED: {} problems", self.problems.len())?;
            for p in &self.problems {
                writeln!(f, "  - {p}")?;
            }
            Ok(())
        }
    }
}

const PAGE: u32 = 2_000;
/// How far a moved record is looked for.
const REORDER_WINDOW: i64 = 64;

/// Verifies every stream of the trail.
pub async fn verify(db: &Db, keys: &VerifyingKeys) -> Result<VerifyReport, AuditError> {
    let mut report = VerifyReport::default();
    for stream in db.audit_streams().await? {
        verify_stream(db, keys, &stream, &mut report).await?;
    }
    Ok(report)
}

struct Cursor {
    /// The next sequence number expected.
    seq: i64,
    /// The hash the next record must link to.
    hash: Vec<u8>,
}

async fn verify_stream(
    db: &Db,
    keys: &VerifyingKeys,
    stream: &str,
    report: &mut VerifyReport,
) -> Result<(), AuditError> {
    // Start after the last valid purge marker, if any.
    let mut cursor = Cursor {
        seq: 1,
        hash: GENESIS.to_vec(),
    };
    let mut expected_epoch = 0i64;
    let mut prev_checkpoint = GENESIS.to_vec();
    if let Some(marker) = db.audit_purges(stream).await?.pop() {
        let body = PurgeBody {
            stream,
            purged_through_epoch: marker.purged_through_epoch,
            last_seq: marker.last_seq,
            last_end_hash: &marker.last_end_hash,
            last_checkpoint_hash: &marker.last_checkpoint_hash,
            purged_at: marker.purged_at,
        };
        if keys.verify(&marker.key_id, &body.bytes(), &marker.signature) != Some(true) {
            report.problems.push(Problem::BadPurgeMarker {
                stream: stream.to_owned(),
                through_epoch: marker.purged_through_epoch,
            });
        }
        cursor = Cursor {
            seq: marker.last_seq + 1,
            hash: marker.last_end_hash.clone(),
        };
        expected_epoch = marker.purged_through_epoch + 1;
        prev_checkpoint = marker.last_checkpoint_hash.clone();
        report.purged_epochs += u64::try_from(expected_epoch).unwrap_or(0);
    }

    let checkpoints = db.audit_checkpoints(stream).await?;
    let mut pager = Pager::new(db, stream, cursor.seq - 1);
    for cp in &checkpoints {
        if cp.epoch < expected_epoch {
            // A checkpoint of a purged epoch left behind: harmless, not verified.
            continue;
        }
        while cp.epoch > expected_epoch {
            report.problems.push(Problem::EpochMissing {
                stream: stream.to_owned(),
                epoch: expected_epoch,
            });
            expected_epoch += 1;
        }
        check_checkpoint(keys, stream, cp, &prev_checkpoint, report);
        if cp.start_hash != cursor.hash {
            report.problems.push(Problem::CheckpointMismatch {
                stream: stream.to_owned(),
                epoch: cp.epoch,
                detail: "does not start where the previous epoch ended".into(),
            });
        }
        if cp.first_seq > cursor.seq {
            // Whole epochs of records gone, checkpoints included, are reported above;
            // here the records between are missing.
            report.problems.push(Problem::Deleted {
                stream: stream.to_owned(),
                from_seq: cursor.seq,
                to_seq: cp.first_seq - 1,
            });
            cursor.seq = cp.first_seq;
        }
        cursor.hash = cp.start_hash.clone();
        let mut count = 0i64;
        while let Some(row) = pager.peek_le(cp.last_seq).await? {
            count += 1;
            check_record(
                stream,
                &row,
                Some(cp.epoch),
                &mut cursor,
                &mut pager,
                report,
            )
            .await?;
            report.records += 1;
        }
        if cursor.seq <= cp.last_seq {
            report.problems.push(Problem::Deleted {
                stream: stream.to_owned(),
                from_seq: cursor.seq,
                to_seq: cp.last_seq,
            });
            cursor.seq = cp.last_seq + 1;
        }
        if count != cp.record_count {
            report.problems.push(Problem::CheckpointMismatch {
                stream: stream.to_owned(),
                epoch: cp.epoch,
                detail: format!("{count} records found, {} sealed", cp.record_count),
            });
        }
        if cursor.hash != cp.end_hash {
            report.problems.push(Problem::CheckpointMismatch {
                stream: stream.to_owned(),
                epoch: cp.epoch,
                detail: "chain does not end on the sealed hash".into(),
            });
        }
        // Continue from the sealed state, so one problem is not reported again and again.
        cursor.hash = cp.end_hash.clone();
        cursor.seq = cp.last_seq + 1;
        prev_checkpoint = cp.checkpoint_hash.clone();
        expected_epoch = cp.epoch + 1;
        report.epochs += 1;
    }
    // The unsealed tail: chained, not yet signed.
    while let Some(row) = pager.next().await? {
        if row.epoch < expected_epoch {
            report.problems.push(Problem::Inserted {
                stream: stream.to_owned(),
                seq: row.seq,
            });
            continue;
        }
        check_record(stream, &row, None, &mut cursor, &mut pager, report).await?;
        report.unsealed += 1;
    }
    Ok(())
}

fn check_checkpoint(
    keys: &VerifyingKeys,
    stream: &str,
    cp: &CheckpointRow,
    prev_checkpoint: &[u8],
    report: &mut VerifyReport,
) {
    let body = CheckpointBody {
        stream,
        epoch: cp.epoch,
        first_seq: cp.first_seq,
        last_seq: cp.last_seq,
        record_count: cp.record_count,
        start_hash: &cp.start_hash,
        end_hash: &cp.end_hash,
        last_recorded_at: cp.last_recorded_at,
        sealed_at: cp.sealed_at,
        prev_checkpoint_hash: &cp.prev_checkpoint_hash,
    };
    match keys.verify(&cp.key_id, &body.bytes(), &cp.signature) {
        Some(true) => {}
        Some(false) => report.problems.push(Problem::BadSignature {
            stream: stream.to_owned(),
            epoch: cp.epoch,
        }),
        None => report.problems.push(Problem::UnknownKey {
            stream: stream.to_owned(),
            epoch: cp.epoch,
            key_id: cp.key_id.clone(),
        }),
    }
    if body.hash().as_slice() != cp.checkpoint_hash.as_slice()
        || cp.prev_checkpoint_hash != prev_checkpoint
    {
        report.problems.push(Problem::CheckpointMismatch {
            stream: stream.to_owned(),
            epoch: cp.epoch,
            detail: "not chained to the previous checkpoint".into(),
        });
    }
}

async fn check_record(
    stream: &str,
    row: &AuditRow,
    epoch: Option<i64>,
    cursor: &mut Cursor,
    pager: &mut Pager<'_>,
    report: &mut VerifyReport,
) -> Result<(), AuditError> {
    let problem = |p: Problem, report: &mut VerifyReport| report.problems.push(p);
    if row.seq > cursor.seq {
        problem(
            Problem::Deleted {
                stream: stream.to_owned(),
                from_seq: cursor.seq,
                to_seq: row.seq - 1,
            },
            report,
        );
        // The deleted records' hashes are unknown: continue from this record's link.
        cursor.hash = row.prev_hash.clone();
    }
    if epoch.is_some_and(|e| e != row.epoch) {
        problem(
            Problem::Inserted {
                stream: stream.to_owned(),
                seq: row.seq,
            },
            report,
        );
        cursor.seq = row.seq + 1;
        return Ok(());
    }
    let own = record_hash(stream, row.seq, row.epoch, &row.prev_hash, &row.event);
    if own.as_slice() != row.hash.as_slice() {
        // Is it a record chained at another position?
        let moved = (1..=REORDER_WINDOW)
            .flat_map(|d| [row.seq - d, row.seq + d])
            .find(|&s| {
                record_hash(stream, s, row.epoch, &row.prev_hash, &row.event).as_slice()
                    == row.hash.as_slice()
            });
        match moved {
            Some(chained_at) => problem(
                Problem::Reordered {
                    stream: stream.to_owned(),
                    seq: row.seq,
                    chained_at,
                },
                report,
            ),
            None => problem(
                Problem::Modified {
                    stream: stream.to_owned(),
                    seq: row.seq,
                },
                report,
            ),
        }
    } else if row.prev_hash != cursor.hash {
        // A self-consistent record that does not link: if the next record links to
        // what came before this one, this one was slipped in.
        let next_links_over = pager
            .peek()
            .await?
            .is_some_and(|next| next.prev_hash == cursor.hash);
        problem(
            if next_links_over {
                Problem::Inserted {
                    stream: stream.to_owned(),
                    seq: row.seq,
                }
            } else {
                Problem::BrokenLink {
                    stream: stream.to_owned(),
                    seq: row.seq,
                }
            },
            report,
        );
        if next_links_over {
            // Skip the intruder: the chain continues as if it were not there.
            cursor.seq = row.seq + 1;
            return Ok(());
        }
    }
    cursor.hash = row.hash.clone();
    cursor.seq = row.seq + 1;
    Ok(())
}

/// Reads a stream's records page by page, with one record of look-ahead.
struct Pager<'a> {
    db: &'a Db,
    stream: &'a str,
    after: i64,
    buffer: std::collections::VecDeque<AuditRow>,
    done: bool,
}

impl<'a> Pager<'a> {
    fn new(db: &'a Db, stream: &'a str, after: i64) -> Pager<'a> {
        Pager {
            db,
            stream,
            after,
            buffer: Default::default(),
            done: false,
        }
    }

    async fn fill(&mut self) -> Result<(), AuditError> {
        if self.buffer.is_empty() && !self.done {
            let page = self.db.audit_records(self.stream, self.after, PAGE).await?;
            if page.is_empty() {
                self.done = true;
            }
            if let Some(last) = page.last() {
                self.after = last.seq;
            }
            self.buffer.extend(page);
        }
        Ok(())
    }

    async fn peek(&mut self) -> Result<Option<&AuditRow>, AuditError> {
        self.fill().await?;
        Ok(self.buffer.front())
    }

    async fn next(&mut self) -> Result<Option<AuditRow>, AuditError> {
        self.fill().await?;
        Ok(self.buffer.pop_front())
    }

    /// The next record if its seq is at most `last`.
    async fn peek_le(&mut self, last: i64) -> Result<Option<AuditRow>, AuditError> {
        self.fill().await?;
        if self.buffer.front().is_some_and(|r| r.seq <= last) {
            Ok(self.buffer.pop_front())
        } else {
            Ok(None)
        }
    }
}
