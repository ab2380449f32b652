//! Versioned records: the generic part of the storage API.
//!
//! A record is an opaque value under `(collection, key)` with a version that grows by
//! one at every write. Writers state what they expect to find ([`Expect`]) so that
//! concurrent updates never overwrite each other silently. Several writes can be
//! committed atomically with [`Db::write_batch`].

use crate::db::{Db, Pool};
use crate::error::{StoreError, StoreResult};

/// Largest value accepted in a record; larger content belongs in the blob store.
pub const MAX_VALUE_BYTES: usize = 4 * 1024 * 1024;
const MAX_KEY_BYTES: usize = 512;
const MAX_LIST_LIMIT: u32 = 10_000;

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: String,
    pub version: i64,
    pub value: Vec<u8>,
    /// Unix microseconds of the last write.
    pub updated_at: i64,
}

/// What a writer expects to find before its write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No record under the key: create only.
    Absent,
    /// The record exists at exactly this version.
    Version(i64),
    /// Whatever is there (last writer wins).
    Any,
}

/// One write in a batch.
#[derive(Debug, Clone)]
pub enum WriteOp {
    Put {
        collection: String,
        key: String,
        value: Vec<u8>,
        expect: Expect,
    },
    Delete {
        collection: String,
        key: String,
        expect: Expect,
    },
}

/// Runs the same sqlx expression against whichever pool or transaction is held.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

fn check_key(collection: &str, key: &str) -> StoreResult<()> {
    if collection.is_empty() || collection.len() > MAX_KEY_BYTES {
        return Err(StoreError::Invalid {
            field: "collection",
            reason: format!("must be 1 to {MAX_KEY_BYTES} bytes"),
        });
    }
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(StoreError::Invalid {
            field: "key",
            reason: format!("must be 1 to {MAX_KEY_BYTES} bytes"),
        });
    }
    Ok(())
}

fn check_value(value: &[u8]) -> StoreResult<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(StoreError::Invalid {
            field: "value",
            reason: format!(
                "{} bytes exceeds the {MAX_VALUE_BYTES}-byte limit; store it as a blob",
                value.len()
            ),
        });
    }
    Ok(())
}

type Row = (String, i64, Vec<u8>, i64);

fn to_record((key, version, value, updated_at): Row) -> Record {
    Record {
        key,
        version,
        value,
        updated_at,
    }
}

/// Generates one write step for a given sqlx executor type; shared by the single-write
/// methods and by batches so the rules live in one place.
macro_rules! apply_write {
    ($conn:expr, $op:expr, $now:expr) => {{
        match $op {
            WriteOp::Put {
                collection,
                key,
                value,
                expect,
            } => {
                check_key(collection, key)?;
                check_value(value)?;
                let version: Option<i64> =
                    match expect {
                        Expect::Absent => {
                            let done = sqlx::query(
                                "INSERT INTO records (collection, key, version, value, updated_at) \
                             VALUES ($1, $2, 1, $3, $4) ON CONFLICT (collection, key) DO NOTHING",
                            )
                            .bind(collection.as_str())
                            .bind(key.as_str())
                            .bind(value.as_slice())
                            .bind($now)
                            .execute(&mut *$conn)
                            .await?;
                            (done.rows_affected() == 1).then_some(1)
                        }
                        Expect::Version(expected) => sqlx::query_scalar(
                            "UPDATE records SET version = version + 1, value = $3, updated_at = $4 \
                         WHERE collection = $1 AND key = $2 AND version = $5 RETURNING version",
                        )
                        .bind(collection.as_str())
                        .bind(key.as_str())
                        .bind(value.as_slice())
                        .bind($now)
                        .bind(*expected)
                        .fetch_optional(&mut *$conn)
                        .await?,
                        Expect::Any => Some(
                            sqlx::query_scalar(
                                "INSERT INTO records (collection, key, version, value, updated_at) \
                             VALUES ($1, $2, 1, $3, $4) ON CONFLICT (collection, key) DO UPDATE \
                             SET version = records.version + 1, value = excluded.value, \
                             updated_at = excluded.updated_at RETURNING version",
                            )
                            .bind(collection.as_str())
                            .bind(key.as_str())
                            .bind(value.as_slice())
                            .bind($now)
                            .fetch_one(&mut *$conn)
                            .await?,
                        ),
                    };
                version.ok_or_else(|| {
                    StoreError::Conflict(format!("{collection}/{key}: expected {expect:?}"))
                })
            }
            WriteOp::Delete {
                collection,
                key,
                expect,
            } => {
                check_key(collection, key)?;
                let done = match expect {
                    Expect::Version(expected) => sqlx::query(
                        "DELETE FROM records WHERE collection = $1 AND key = $2 AND version = $3",
                    )
                    .bind(collection.as_str())
                    .bind(key.as_str())
                    .bind(*expected)
                    .execute(&mut *$conn)
                    .await?,
                    Expect::Any | Expect::Absent => {
                        sqlx::query("DELETE FROM records WHERE collection = $1 AND key = $2")
                            .bind(collection.as_str())
                            .bind(key.as_str())
                            .execute(&mut *$conn)
                            .await?
                    }
                };
                match (expect, done.rows_affected()) {
                    (Expect::Version(_), 0) => Err(StoreError::Conflict(format!(
                        "{collection}/{key}: expected {expect:?}"
                    ))),
                    (Expect::Absent, 1) => Err(StoreError::Conflict(format!(
                        "{collection}/{key}: expected absent"
                    ))),
                    _ => Ok(0),
                }
            }
        }
    }};
}

impl Db {
    /// Reads one record.
    pub async fn get(&self, collection: &str, key: &str) -> StoreResult<Option<Record>> {
        check_key(collection, key)?;
        let sql = "SELECT key, version, value, updated_at FROM records \
                   WHERE collection = $1 AND key = $2";
        let row: Option<Row> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(collection)
            .bind(key)
            .fetch_optional(p)
            .await?);
        Ok(row.map(to_record))
    }

    /// Writes one record and returns its new version.
    pub async fn put(
        &self,
        collection: &str,
        key: &str,
        value: &[u8],
        expect: Expect,
        now_micros: i64,
    ) -> StoreResult<i64> {
        let op = WriteOp::Put {
            collection: collection.to_owned(),
            key: key.to_owned(),
            value: value.to_vec(),
            expect,
        };
        let mut versions = self
            .write_batch(std::slice::from_ref(&op), now_micros)
            .await?;
        versions
            .pop()
            .ok_or_else(|| StoreError::Conflict("empty batch result".into()))
    }

    /// Deletes one record. With [`Expect::Any`], deleting a missing record is not an error.
    pub async fn delete(&self, collection: &str, key: &str, expect: Expect) -> StoreResult<()> {
        let op = WriteOp::Delete {
            collection: collection.to_owned(),
            key: key.to_owned(),
            expect,
        };
        self.write_batch(std::slice::from_ref(&op), 0).await?;
        Ok(())
    }

    /// Applies every write or none. Returns, per operation, the new version (0 for deletes).
    /// The batch is durable when this returns.
    pub async fn write_batch(&self, ops: &[WriteOp], now_micros: i64) -> StoreResult<Vec<i64>> {
        let mut versions = Vec::with_capacity(ops.len());
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            for op in ops {
                let version: i64 = apply_write!(tx, op, now_micros)?;
                versions.push(version);
            }
            tx.commit().await?;
        });
        Ok(versions)
    }

    /// Lists a collection in key order, after `after` (exclusive), at most `limit` records.
    pub async fn list(
        &self,
        collection: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Record>> {
        check_key(collection, "-")?;
        let limit = i64::from(limit.clamp(1, MAX_LIST_LIMIT));
        let sql = "SELECT key, version, value, updated_at FROM records \
                   WHERE collection = $1 AND key > $2 ORDER BY key LIMIT $3";
        let rows: Vec<Row> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(collection)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(p)
            .await?);
        Ok(rows.into_iter().map(to_record).collect())
    }

    /// Counts the records of a collection.
    pub async fn count(&self, collection: &str) -> StoreResult<u64> {
        check_key(collection, "-")?;
        let sql = "SELECT COUNT(*) FROM records WHERE collection = $1";
        let n: i64 = on_pool!(&self.pool, |p| sqlx::query_scalar(sql)
            .bind(collection)
            .fetch_one(p)
            .await?);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
