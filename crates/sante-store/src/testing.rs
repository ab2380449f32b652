//! Fresh databases for tests, on either backend.
//!
//! Every test gets its own SQLite file or its own PostgreSQL schema, so tests run in
//! parallel without seeing each other's rows. PostgreSQL is reached at
//! `SANTE_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`, the
//! database every machine of this project's kind runs). When the variable is not set
//! and nothing answers at the default, the PostgreSQL half of each storage test is
//! skipped with a loud message, so that a fresh clone's `cargo test` is green on a
//! laptop; CI always sets the variable, so there a missing PostgreSQL fails.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Backend, Db, StoreConfig, StoreResult};

/// The variable naming the PostgreSQL of the tests.
pub const PG_URL_VAR: &str = "SANTE_TEST_PG_URL";

/// The PostgreSQL URL tests use.
pub fn pg_url() -> String {
    std::env::var(PG_URL_VAR)
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Whether the PostgreSQL half of a test runs: always when `SANTE_TEST_PG_URL` is set
/// (a PostgreSQL that does not answer then fails the test); otherwise only when the
/// default one answers, with a loud message when it does not.
pub async fn postgres_expected() -> bool {
    if std::env::var_os(PG_URL_VAR).is_some() {
        return true;
    }
    let reachable = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        tokio::net::TcpStream::connect("127.0.0.1:5432"),
    )
    .await
    .is_ok_and(|c| c.is_ok());
    if !reachable {
        eprintln!(
            "SKIPPED on PostgreSQL: no PostgreSQL at 127.0.0.1:5432 and {PG_URL_VAR} is not set \
             (set it to run the PostgreSQL half; CI does)"
        );
    }
    reachable
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

/// A unique, valid schema name for one test: the process and a counter tell tests of
/// one run apart, a random part tells runs apart (schemas are left behind).
pub fn unique_schema(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let run: u32 = rand::random();
    format!("t_{prefix}_{}_{run:08x}_{n}", std::process::id())
}

/// A fresh, migrated database on `backend`.
pub async fn fresh(backend: Backend) -> StoreResult<TestDb> {
    let (config, dir) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir()?;
            let path = dir.path().join("sante.db");
            (
                StoreConfig {
                    url: format!("sqlite:{}", path.display()).into(),
                    schema: None,
                    max_connections: 4,
                },
                Some(dir),
            )
        }
        Backend::Postgres => (
            StoreConfig {
                url: pg_url().into(),
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
                if !$crate::testing::postgres_expected().await {
                    return;
                }
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
