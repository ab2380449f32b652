//! `sante bench`: storage and audit throughput beside raw database inserts.
//!
//! The raw figure is the limit we compare against: the same number of rows of the
//! same size inserted with plain SQL, one durable transaction per row, on the same
//! machine and backend. Results print as Markdown so they can be pasted into
//! docs/benchmarks.md.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use sante_store::{Backend, Db, Expect, StoreConfig};
use sante_types::{Clock, SystemClock};

use crate::progress;

struct Row {
    backend: &'static str,
    what: &'static str,
    ops: u64,
    seconds: f64,
}

pub async fn run(
    backend: &str,
    rows: u32,
    value_bytes: usize,
    pg_url: &str,
    markdown: Option<&Path>,
) -> anyhow::Result<std::process::ExitCode> {
    let backends: Vec<Backend> = match backend {
        "sqlite" => vec![Backend::Sqlite],
        "postgres" => vec![Backend::Postgres],
        "both" => vec![Backend::Sqlite, Backend::Postgres],
        other => bail!("--backend must be sqlite, postgres or both, not {other:?}"),
    };
    if rows == 0 {
        bail!("--rows must be at least 1");
    }
    let dir = tempfile_dir()?;
    let mut results = Vec::new();
    for backend in backends {
        let config = match backend {
            Backend::Sqlite => StoreConfig {
                url: format!("sqlite:{}", dir.join("bench.db").display()).into(),
                schema: None,
                max_connections: 8,
            },
            Backend::Postgres => StoreConfig {
                url: pg_url.into(),
                schema: Some(format!("bench_{}", std::process::id())),
                max_connections: 8,
            },
        };
        let db = Db::connect(&config)
            .await
            .with_context(|| format!("connecting to {}", backend.as_str()))?;
        db.migrate().await?;
        let name = backend.as_str();
        results.push(
            raw_inserts(&db, rows, value_bytes)
                .await
                .map(|(ops, s)| Row {
                    backend: name,
                    what: "raw SQL insert, 1 row per transaction",
                    ops,
                    seconds: s,
                })?,
        );
        results.push(
            store_writes(&db, rows, value_bytes, 1)
                .await
                .map(|(ops, s)| Row {
                    backend: name,
                    what: "store put, 1 writer",
                    ops,
                    seconds: s,
                })?,
        );
        results.push(
            store_writes(&db, rows, value_bytes, 8)
                .await
                .map(|(ops, s)| Row {
                    backend: name,
                    what: "store put, 8 writers",
                    ops,
                    seconds: s,
                })?,
        );
        results.push(store_reads(&db, rows).await.map(|(ops, s)| Row {
            backend: name,
            what: "store get, 8 readers",
            ops,
            seconds: s,
        })?);
        results.push(audit_appends(&db, rows, 1).await.map(|(ops, s)| Row {
            backend: name,
            what: "audit record, 1 caller",
            ops,
            seconds: s,
        })?);
        results.push(audit_appends(&db, rows, 32).await.map(|(ops, s)| Row {
            backend: name,
            what: "audit record, 32 callers",
            ops,
            seconds: s,
        })?);
        db.close().await;
        if let (Backend::Postgres, Some(schema)) = (backend, &config.schema) {
            drop_schema(pg_url, schema).await?;
        }
    }
    let mut table =
        "| backend | operation | ops | seconds | ops/s |\n|---|---|---:|---:|---:|\n".to_string();
    for r in &results {
        table.push_str(&format!(
            "| {} | {} | {} | {:.2} | {:.0} |\n",
            r.backend,
            r.what,
            r.ops,
            r.seconds,
            r.ops as f64 / r.seconds.max(1e-9)
        ));
    }
    println!("{table}");
    if let Some(path) = markdown {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(file, "{table}")?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(std::process::ExitCode::SUCCESS)
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("sante-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn value(value_bytes: usize, i: u64) -> Vec<u8> {
    let seed = i.to_le_bytes();
    (0..value_bytes).map(|j| seed[j % 8] ^ (j as u8)).collect()
}

async fn raw_inserts(db: &Db, rows: u32, value_bytes: usize) -> anyhow::Result<(u64, f64)> {
    db.bench_raw_reset().await?;
    let bar = progress::bar(u64::from(rows), "raw insert");
    let start = Instant::now();
    for i in 0..u64::from(rows) {
        db.bench_raw_insert(i as i64, &value(value_bytes, i))
            .await?;
        bar.inc(1);
    }
    let elapsed = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok((u64::from(rows), elapsed))
}

async fn store_writes(
    db: &Db,
    rows: u32,
    value_bytes: usize,
    writers: u64,
) -> anyhow::Result<(u64, f64)> {
    let collection = format!("bench-{writers}");
    let bar = progress::bar(u64::from(rows), &format!("store put x{writers}"));
    let per_writer = u64::from(rows) / writers;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let db = db.clone();
        let bar = bar.clone();
        let collection = collection.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                let n = w * per_writer + i;
                db.put(
                    &collection,
                    &format!("k{n:09}"),
                    &value(value_bytes, n),
                    Expect::Absent,
                    0,
                )
                .await?;
                bar.inc(1);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok((per_writer * writers, elapsed))
}

async fn store_reads(db: &Db, rows: u32) -> anyhow::Result<(u64, f64)> {
    let readers = 8u64;
    let per_reader = u64::from(rows) / readers;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for r in 0..readers {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_reader {
                let n = (r * per_reader + i) % per_reader.max(1);
                let found = db.get("bench-1", &format!("k{n:09}")).await?;
                if found.is_none() {
                    bail!("benchmark row k{n:09} missing");
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((per_reader * readers, start.elapsed().as_secs_f64()))
}

async fn audit_appends(db: &Db, rows: u32, callers: u64) -> anyhow::Result<(u64, f64)> {
    use sante_audit::{Action, Actor, AuditEvent, EventKind, Token};
    use sante_types::Service;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let log = sante_audit::AuditLog::open(
        db.clone(),
        sante_audit::CheckpointSigner::generate(),
        clock.clone(),
        sante_audit::SealPolicy::default(),
    )
    .await?;
    let per_caller = u64::from(rows) / callers;
    let bar = progress::bar(per_caller * callers, &format!("audit x{callers}"));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..callers {
        let log = log.clone();
        let clock = clock.clone();
        let bar = bar.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_caller {
                let event = AuditEvent::new(
                    EventKind::PortalPageViewed,
                    clock.now(),
                    Actor::platform(),
                    Service::Portal,
                    Action::Read,
                )
                .resource(
                    Token::new("http-route")?,
                    Token::new(format!("bench-{c}-{i}"))?,
                );
                log.record(event).await?;
                bar.inc(1);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok((per_caller * callers, elapsed))
}

async fn drop_schema(pg_url: &str, schema: &str) -> anyhow::Result<()> {
    let db = Db::connect(&StoreConfig {
        url: pg_url.into(),
        schema: None,
        max_connections: 1,
    })
    .await?;
    db.bench_drop_schema(schema).await?;
    db.close().await;
    Ok(())
}
