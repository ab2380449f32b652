//! Fresh databases for tests, on either backend.
//!
//! Every test gets its own SQLite file or its own PostgreSQL schema, so tests run in
//! parallel without seeing each other's rows. PostgreSQL is reached at
//! `SANTE_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`, the
//! database every machine of this project's kind runs).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Backend, Db, StoreConfig, StoreResult};

/// The PostgreSQL URL tests use.
pub fn pg_url() -> String {
    std::env::var("SANTE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database that lives as long as this value (the SQLite file is in a temp dir; the
/// PostgreSQL schema is left behind under a unique name, as drops would race pools).
#[derive(Debug)]
pub struct TestDb {
    pub db: Db,
    pub config: StoreConfig,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique, valid schema name for one test.
pub fn unique_schema(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::UNIX_EPOCH
        .elapsed()
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "t_{prefix}_{}_{}_{n}",
        std::process::id(),
        nanos % 1_000_000_000
    )
}

/// A fresh, migrated database on `backend`.
pub async fn fresh(backend: Backend) -> StoreResult<TestDb> {
    let (config, dir) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir()?;
            let path = dir.path().join("sante.db");
            (
                StoreConfig {
                    url: format!("sqlite:{}", path.display()),
                    schema: None,
                    max_connections: 4,
                },
                Some(dir),
            )
        }
        Backend::Postgres => (
            StoreConfig {
                url: pg_url(),
                schema: Some(unique_schema("s")),
                max_connections: 4,
            },
            None,
        ),
    };
    let db = Db::connect(&config).await?;
    db.migrate().await?;
    Ok(TestDb {
        db,
        config,
        _dir: dir,
    })
}

/// Runs one async test body against every backend, each with a fresh database.
///
/// ```ignore
/// storage_test!(put_then_get, |db: Db| async move { ... });
/// ```
#[macro_export]
macro_rules! storage_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = $crate::testing::fresh($crate::Backend::Sqlite)
                    .await
                    .expect("fresh SQLite database");
                ($body)(t.db.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let t = $crate::testing::fresh($crate::Backend::Postgres)
                    .await
                    .expect("fresh PostgreSQL schema (is PostgreSQL running on 127.0.0.1:5432?)");
                ($body)(t.db.clone()).await;
            }
        }
    };
}

/// Runs raw SQL, with optional blob parameters bound as `$1`, `$2`...: for tests that
/// tamper with stored data behind the API's back.
pub async fn execute_raw(db: &Db, sql: &str, blobs: &[&[u8]]) -> StoreResult<u64> {
    use crate::db::Pool;
    Ok(match &db.pool {
        Pool::Sqlite(p) => {
            let mut q = sqlx::query(sql);
            for b in blobs {
                q = q.bind(*b);
            }
            q.execute(p).await?.rows_affected()
        }
        Pool::Postgres(p) => {
            let mut q = sqlx::query(sql);
            for b in blobs {
                q = q.bind(*b);
            }
            q.execute(p).await?.rows_affected()
        }
    })
}
