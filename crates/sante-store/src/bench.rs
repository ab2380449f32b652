//! The baseline the benchmarks compare against: plain SQL inserts of rows of the same
//! size, one durable transaction per row, with none of the store's checks.
//!
//! Used only by `sante bench`, against a database or schema made for the benchmark.

use crate::db::{Db, Pool};
use crate::error::{StoreError, StoreResult};
use crate::records::on_pool;

impl Db {
    /// Creates (or empties) the raw benchmark table.
    pub async fn bench_raw_reset(&self) -> StoreResult<()> {
        match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query("CREATE TABLE IF NOT EXISTS bench_raw (id BIGINT PRIMARY KEY, value BLOB NOT NULL)")
                    .execute(p)
                    .await?;
            }
            Pool::Postgres(p) => {
                sqlx::query("CREATE TABLE IF NOT EXISTS bench_raw (id BIGINT PRIMARY KEY, value BYTEA NOT NULL)")
                    .execute(p)
                    .await?;
            }
        }
        on_pool!(&self.pool, |p| sqlx::query("DELETE FROM bench_raw")
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// One plain `INSERT`, committed on its own.
    pub async fn bench_raw_insert(&self, id: i64, value: &[u8]) -> StoreResult<()> {
        on_pool!(&self.pool, |p| sqlx::query(
            "INSERT INTO bench_raw (id, value) VALUES ($1, $2)"
        )
        .bind(id)
        .bind(value)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Drops a PostgreSQL schema made for a benchmark.
    pub async fn bench_drop_schema(&self, schema: &str) -> StoreResult<()> {
        let Pool::Postgres(p) = &self.pool else {
            return Ok(());
        };
        if !schema.starts_with("bench_")
            || !schema
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(StoreError::Invalid {
                field: "schema",
                reason: "only bench_* schemas are dropped".into(),
            });
        }
        sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(p)
            .await?;
        Ok(())
    }
}
