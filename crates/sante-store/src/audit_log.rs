//! Persistence of the audit trail: the only place with audit SQL.
//!
//! The meaning (hashing, signing, verification, retention) belongs to `sante-audit`;
//! this module stores and returns rows, appends batches atomically, and purges whole
//! epochs together with the signed marker that records the purge.

use crate::db::{Db, Pool};
use crate::error::{StoreError, StoreResult};
use crate::records::on_pool;

/// One record of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub stream: String,
    pub seq: i64,
    pub epoch: i64,
    pub recorded_at: i64,
    pub event: Vec<u8>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// A signed checkpoint sealing one epoch of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    pub stream: String,
    pub epoch: i64,
    pub first_seq: i64,
    pub last_seq: i64,
    pub record_count: i64,
    pub start_hash: Vec<u8>,
    pub end_hash: Vec<u8>,
    pub last_recorded_at: i64,
    pub sealed_at: i64,
    pub prev_checkpoint_hash: Vec<u8>,
    pub checkpoint_hash: Vec<u8>,
    pub key_id: String,
    pub signature: Vec<u8>,
}

/// A signed marker of a retention purge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeRow {
    pub stream: String,
    pub purged_through_epoch: i64,
    pub last_seq: i64,
    pub last_end_hash: Vec<u8>,
    pub last_checkpoint_hash: Vec<u8>,
    pub purged_at: i64,
    pub key_id: String,
    pub signature: Vec<u8>,
}

/// What an epoch holds, from its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochSpan {
    pub epoch: i64,
    pub first_seq: i64,
    pub last_seq: i64,
    pub count: i64,
    pub first_recorded_at: i64,
    pub last_recorded_at: i64,
}

type RecordTuple = (String, i64, i64, i64, Vec<u8>, Vec<u8>, Vec<u8>);
type CheckpointTuple = (
    String,
    i64,
    i64,
    i64,
    i64,
    Vec<u8>,
    Vec<u8>,
    i64,
    i64,
    Vec<u8>,
    Vec<u8>,
    String,
    Vec<u8>,
);
type PurgeTuple = (String, i64, i64, Vec<u8>, Vec<u8>, i64, String, Vec<u8>);

fn record(t: RecordTuple) -> AuditRow {
    AuditRow {
        stream: t.0,
        seq: t.1,
        epoch: t.2,
        recorded_at: t.3,
        event: t.4,
        prev_hash: t.5,
        hash: t.6,
    }
}

fn checkpoint(t: CheckpointTuple) -> CheckpointRow {
    CheckpointRow {
        stream: t.0,
        epoch: t.1,
        first_seq: t.2,
        last_seq: t.3,
        record_count: t.4,
        start_hash: t.5,
        end_hash: t.6,
        last_recorded_at: t.7,
        sealed_at: t.8,
        prev_checkpoint_hash: t.9,
        checkpoint_hash: t.10,
        key_id: t.11,
        signature: t.12,
    }
}

fn purge(t: PurgeTuple) -> PurgeRow {
    PurgeRow {
        stream: t.0,
        purged_through_epoch: t.1,
        last_seq: t.2,
        last_end_hash: t.3,
        last_checkpoint_hash: t.4,
        purged_at: t.5,
        key_id: t.6,
        signature: t.7,
    }
}

const RECORD_COLUMNS: &str = "stream, seq, epoch, recorded_at, event, prev_hash, hash";
const CHECKPOINT_COLUMNS: &str = "stream, epoch, first_seq, last_seq, record_count, start_hash, \
     end_hash, last_recorded_at, sealed_at, prev_checkpoint_hash, checkpoint_hash, key_id, signature";
const PURGE_COLUMNS: &str = "stream, purged_through_epoch, last_seq, last_end_hash, \
     last_checkpoint_hash, purged_at, key_id, signature";

/// A unique-key violation means another writer took the same chain position.
fn conflict_or(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict("audit chain position taken by another writer".into())
        }
        _ => StoreError::Database(e),
    }
}

impl Db {
    /// The last record of a stream.
    pub async fn audit_head(&self, stream: &str) -> StoreResult<Option<AuditRow>> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM audit_records WHERE stream = $1 ORDER BY seq DESC LIMIT 1"
        );
        let row: Option<RecordTuple> = on_pool!(&self.pool, |p| sqlx::query_as(&sql)
            .bind(stream)
            .fetch_optional(p)
            .await?);
        Ok(row.map(record))
    }

    /// Gives `writer` the turn until `until` (unix microseconds) unless another
    /// writer holds one that has not expired at `now`. Returns whether it has it.
    pub async fn audit_take_turn(&self, writer: &str, now: i64, until: i64) -> StoreResult<bool> {
        let sql = "INSERT INTO audit_turn (id, holder, until) VALUES (1, $1, $2) \
                   ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, until = excluded.until \
                   WHERE audit_turn.holder = excluded.holder OR audit_turn.until < $3";
        let taken = on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(writer)
            .bind(until)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected());
        Ok(taken == 1)
    }

    /// Gives the turn back (nothing happens if `writer` does not hold it).
    pub async fn audit_give_turn(&self, writer: &str) -> StoreResult<()> {
        on_pool!(&self.pool, |p| sqlx::query(
            "DELETE FROM audit_turn WHERE holder = $1"
        )
        .bind(writer)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Appends records (and, optionally, checkpoints sealing epochs) in one transaction,
    /// for `writer` at `now` (unix microseconds). A position already taken, or the turn
    /// held by another writer, gives [`StoreError::Conflict`] and writes nothing.
    pub async fn audit_append(
        &self,
        writer: &str,
        now: i64,
        rows: &[AuditRow],
        checkpoints: &[CheckpointRow],
    ) -> StoreResult<()> {
        let insert_record = format!(
            "INSERT INTO audit_records ({RECORD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        );
        let insert_checkpoint = format!(
            "INSERT INTO audit_checkpoints ({CHECKPOINT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        let mut streams: Vec<&str> = rows
            .iter()
            .map(|r| r.stream.as_str())
            .chain(checkpoints.iter().map(|c| c.stream.as_str()))
            .collect();
        streams.sort_unstable();
        streams.dedup();
        let mut epochs: Vec<(&str, i64)> =
            rows.iter().map(|r| (r.stream.as_str(), r.epoch)).collect();
        epochs.dedup();
        let sealed_sql = "SELECT COUNT(*) FROM audit_checkpoints WHERE stream = $1 AND epoch = $2";
        let last_sql =
            "SELECT COALESCE(MAX(seq), 0) FROM audit_records WHERE stream = $1 AND epoch = $2";
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin_with(self.write_transaction()).await?;
            if self.backend() == crate::Backend::Postgres {
                // Serialise writers of a stream across processes for the checks below.
                for stream in &streams {
                    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('sante-audit:' || $1))")
                        .bind(*stream)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
            }
            // Another writer has the turn: wait for it.
            let turn: Option<String> = sqlx::query_scalar(
                "SELECT holder FROM audit_turn WHERE id = 1 AND until >= $1 AND holder <> $2",
            )
            .bind(now)
            .bind(writer)
            .fetch_optional(&mut *tx)
            .await?;
            if turn.is_some() {
                return Err(StoreError::Conflict(
                    "another audit writer has the turn".into(),
                ));
            }
            // A record must not land in an epoch another writer has sealed.
            for (stream, epoch) in &epochs {
                let sealed: i64 = sqlx::query_scalar(sealed_sql)
                    .bind(*stream)
                    .bind(*epoch)
                    .fetch_one(&mut *tx)
                    .await?;
                if sealed > 0 {
                    return Err(StoreError::Conflict(format!(
                        "audit epoch {stream}/{epoch} already sealed"
                    )));
                }
            }
            for r in rows {
                sqlx::query(&insert_record)
                    .bind(&r.stream)
                    .bind(r.seq)
                    .bind(r.epoch)
                    .bind(r.recorded_at)
                    .bind(&r.event)
                    .bind(&r.prev_hash)
                    .bind(&r.hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict_or)?;
            }
            for c in checkpoints {
                // A checkpoint must cover every record of its epoch, including any that
                // another writer added.
                let last: i64 = sqlx::query_scalar(last_sql)
                    .bind(&c.stream)
                    .bind(c.epoch)
                    .fetch_one(&mut *tx)
                    .await?;
                if last != c.last_seq {
                    return Err(StoreError::Conflict(format!(
                        "audit epoch {}/{} grew while being sealed",
                        c.stream, c.epoch
                    )));
                }
                sqlx::query(&insert_checkpoint)
                    .bind(&c.stream)
                    .bind(c.epoch)
                    .bind(c.first_seq)
                    .bind(c.last_seq)
                    .bind(c.record_count)
                    .bind(&c.start_hash)
                    .bind(&c.end_hash)
                    .bind(c.last_recorded_at)
                    .bind(c.sealed_at)
                    .bind(&c.prev_checkpoint_hash)
                    .bind(&c.checkpoint_hash)
                    .bind(&c.key_id)
                    .bind(&c.signature)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict_or)?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records of a stream with `seq > after_seq`, in chain order, at most `limit`.
    pub async fn audit_records(
        &self,
        stream: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRow>> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM audit_records WHERE stream = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        );
        let rows: Vec<RecordTuple> = on_pool!(&self.pool, |p| sqlx::query_as(&sql)
            .bind(stream)
            .bind(after_seq)
            .bind(i64::from(limit.clamp(1, 10_000)))
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().map(record).collect())
    }

    /// The streams that hold records, checkpoints or purge markers.
    pub async fn audit_streams(&self) -> StoreResult<Vec<String>> {
        let sql = "SELECT stream FROM audit_records UNION SELECT stream FROM audit_checkpoints \
                   UNION SELECT stream FROM audit_purges ORDER BY 1";
        let rows: Vec<(String,)> =
            on_pool!(&self.pool, |p| sqlx::query_as(sql).fetch_all(p).await?);
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// The epochs of a stream that hold records but no checkpoint, oldest first.
    pub async fn audit_open_epochs(&self, stream: &str) -> StoreResult<Vec<EpochSpan>> {
        let sql = "SELECT r.epoch, MIN(r.seq), MAX(r.seq), COUNT(*), MIN(r.recorded_at), \
                   MAX(r.recorded_at) FROM audit_records r WHERE r.stream = $1 AND NOT EXISTS \
                   (SELECT 1 FROM audit_checkpoints c WHERE c.stream = r.stream AND c.epoch = r.epoch) \
                   GROUP BY r.epoch ORDER BY r.epoch";
        let rows: Vec<(i64, i64, i64, i64, i64, i64)> =
            on_pool!(&self.pool, |p| sqlx::query_as(sql)
                .bind(stream)
                .fetch_all(p)
                .await?);
        Ok(rows
            .into_iter()
            .map(|r| EpochSpan {
                epoch: r.0,
                first_seq: r.1,
                last_seq: r.2,
                count: r.3,
                first_recorded_at: r.4,
                last_recorded_at: r.5,
            })
            .collect())
    }

    /// Every checkpoint of a stream, in epoch order.
    pub async fn audit_checkpoints(&self, stream: &str) -> StoreResult<Vec<CheckpointRow>> {
        let sql = format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE stream = $1 ORDER BY epoch"
        );
        let rows: Vec<CheckpointTuple> = on_pool!(&self.pool, |p| sqlx::query_as(&sql)
            .bind(stream)
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().map(checkpoint).collect())
    }

    /// The latest checkpoint of a stream.
    pub async fn audit_last_checkpoint(&self, stream: &str) -> StoreResult<Option<CheckpointRow>> {
        let sql = format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE stream = $1 \
             ORDER BY epoch DESC LIMIT 1"
        );
        let row: Option<CheckpointTuple> = on_pool!(&self.pool, |p| sqlx::query_as(&sql)
            .bind(stream)
            .fetch_optional(p)
            .await?);
        Ok(row.map(checkpoint))
    }

    /// Every purge marker of a stream, oldest first.
    pub async fn audit_purges(&self, stream: &str) -> StoreResult<Vec<PurgeRow>> {
        let sql = format!(
            "SELECT {PURGE_COLUMNS} FROM audit_purges WHERE stream = $1 ORDER BY purged_through_epoch"
        );
        let rows: Vec<PurgeTuple> = on_pool!(&self.pool, |p| sqlx::query_as(&sql)
            .bind(stream)
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().map(purge).collect())
    }

    /// Deletes every record and checkpoint of `marker.stream` up to and including
    /// `marker.purged_through_epoch`, and stores the marker, in one transaction.
    pub async fn audit_purge_through(&self, marker: &PurgeRow) -> StoreResult<u64> {
        let insert = format!(
            "INSERT INTO audit_purges ({PURGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        );
        let deleted = on_pool!(&self.pool, |p| {
            let mut tx = p.begin_with(self.write_transaction()).await?;
            let deleted =
                sqlx::query("DELETE FROM audit_records WHERE stream = $1 AND epoch <= $2")
                    .bind(&marker.stream)
                    .bind(marker.purged_through_epoch)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            sqlx::query("DELETE FROM audit_checkpoints WHERE stream = $1 AND epoch <= $2")
                .bind(&marker.stream)
                .bind(marker.purged_through_epoch)
                .execute(&mut *tx)
                .await?;
            sqlx::query(&insert)
                .bind(&marker.stream)
                .bind(marker.purged_through_epoch)
                .bind(marker.last_seq)
                .bind(&marker.last_end_hash)
                .bind(&marker.last_checkpoint_hash)
                .bind(marker.purged_at)
                .bind(&marker.key_id)
                .bind(&marker.signature)
                .execute(&mut *tx)
                .await
                .map_err(conflict_or)?;
            tx.commit().await?;
            deleted
        });
        Ok(deleted)
    }
}
