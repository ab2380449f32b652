//! Connection to the relational backend, chosen by configuration.

use secrecy::{ExposeSecret, SecretString};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{StoreError, StoreResult};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Which relational backend a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite:PATH` (created if missing) or `postgres://USER:PASSWORD@HOST:PORT/DB`:
    /// a secret, since it may hold a password.
    pub url: SecretString,
    /// PostgreSQL only: the schema to work in (created if missing). Lets several
    /// platforms, or several tests, share one database.
    pub schema: Option<String>,
    /// Upper bound on pooled connections.
    pub max_connections: u32,
}

/// The relational store. Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Db {
    pub(crate) pool: Pool,
    /// Record values sealed and blind terms (see [`crate::sealing`]); `None`: in clear.
    pub(crate) sealing: Option<std::sync::Arc<crate::sealing::Sealing>>,
}

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    /// Connects to the configured backend. Does not run migrations: see [`Db::migrate`].
    pub async fn connect(config: &StoreConfig) -> StoreResult<Db> {
        let url = config.url.expose_secret().trim();
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.trim_start_matches("//");
            if path.is_empty() {
                return Err(StoreError::Config("sqlite URL has no file path".into()));
            }
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                // WAL lets readers run beside the writer; FULL syncs every commit so that
                // an acknowledged write survives a crash or a power loss.
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // 64 MiB of page cache per connection (the default is 2 MiB): the
                // directories' search terms are B-trees larger than memory pages, and
                // cache misses turn every insert into reads.
                .pragma("cache_size", "-65536");
            let pool = SqlitePoolOptions::new()
                .max_connections(config.max_connections.max(1))
                .connect_with(options)
                .await?;
            Ok(Db {
                sealing: None,
                pool: Pool::Sqlite(pool),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut options = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
            if let Some(schema) = &config.schema {
                validate_schema_name(schema)?;
                // Create the schema through a one-off connection, then pin every pooled
                // connection's search_path to it.
                let admin = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(options.clone())
                    .await?;
                sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                options = options.options([("search_path", schema.as_str())]);
            }
            let pool = PgPoolOptions::new()
                .max_connections(config.max_connections.max(1))
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Db {
                sealing: None,
                pool: Pool::Postgres(pool),
            })
        } else {
            Err(StoreError::Config(format!(
                "database URL must start with sqlite: or postgres://, got {:?}",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }

    /// Which backend this is.
    /// The statement opening a transaction that will write. On SQLite it takes the
    /// write lock at once (`BEGIN IMMEDIATE`): a deferred transaction that reads, then
    /// writes, fails with "database is locked" at once when another connection wrote
    /// meanwhile, without waiting out the busy timeout; an immediate one waits its turn.
    pub(crate) fn write_transaction(&self) -> &'static str {
        match self.backend() {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// This database with its record values sealed and the terms of `sealing`'s blind
    /// fields blinded (PLT-10): how the platform opens it.
    pub fn sealed(mut self, sealing: crate::sealing::Sealing) -> Db {
        self.sealing = Some(std::sync::Arc::new(sealing));
        self
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every migration not yet applied. Safe to run at every start.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// The versions of the migrations this binary knows, and of those already applied.
    pub async fn migration_status(&self) -> StoreResult<MigrationStatus> {
        let known: Vec<i64> = self.migrator().iter().map(|m| m.version).collect();
        let applied: Vec<i64> = match &self.pool {
            Pool::Sqlite(pool) => {
                let exists: Option<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
                )
                .fetch_optional(pool)
                .await?;
                if exists.is_none() {
                    Vec::new()
                } else {
                    sqlx::query_scalar(
                        "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
                    )
                    .fetch_all(pool)
                    .await?
                }
            }
            Pool::Postgres(pool) => {
                let exists: Option<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'",
                )
                .fetch_optional(pool)
                .await?;
                if exists.is_none() {
                    Vec::new()
                } else {
                    sqlx::query_scalar(
                        "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
                    )
                    .fetch_all(pool)
                    .await?
                }
            }
        };
        Ok(MigrationStatus { known, applied })
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.pool {
            Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
            Pool::Postgres(_) => &POSTGRES_MIGRATIONS,
        }
    }

    /// Checks that the database answers: used by `/readyz`.
    pub async fn ping(&self) -> StoreResult<()> {
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await?.rows_affected(),
            Pool::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await?.rows_affected(),
        };
        Ok(())
    }

    /// Closes every pooled connection, waiting for those in use.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

/// Which migrations exist and which have been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub known: Vec<i64>,
    pub applied: Vec<i64>,
}

impl MigrationStatus {
    /// Migrations this binary knows that the database has not applied yet.
    pub fn pending(&self) -> Vec<i64> {
        self.known
            .iter()
            .copied()
            .filter(|v| !self.applied.contains(v))
            .collect()
    }
}

fn validate_schema_name(schema: &str) -> StoreResult<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(StoreError::Config(format!(
            "PostgreSQL schema name {schema:?} must be 1-63 lowercase letters, digits or _"
        )))
    }
}
