//! `sante messaging ...`: the operator's side of secure messaging: the usage
//! indicators of a period (MSG-17, from envelopes and MIME structure only), the
//! outbound queue (envelopes, never content), a closure the holder asked for
//! through the help desk (MSG-12), and the housekeeping on demand (closures due,
//! the metadata log's 12 months).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use sante_messaging::Messaging;

use crate::account_cmd::Opened;
use crate::commands::load;
use crate::config::Config;
use crate::platform;

fn service(config: &Config, opened: &Opened) -> anyhow::Result<Messaging> {
    let section = config
        .messaging
        .as_ref()
        .context("secure messaging is not configured (no [messaging] section)")?;
    crate::mail::service(
        section,
        &opened.storage,
        &opened.directory,
        &opened.audit,
        platform::clock(config),
        crate::mail::clamd_client(config, section)?,
    )
}

fn day(flag: &str, text: &str) -> anyhow::Result<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("{flag}: a date such as 2026-12-01, not {text:?}"))?;
    Ok(date.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// The usage indicators from `from` (inclusive) to `until` (exclusive), as JSON.
pub async fn indicators(config_path: &Path, from: &str, until: &str) -> anyhow::Result<ExitCode> {
    let (from, until) = (day("--from", from)?, day("--until", until)?);
    if until <= from {
        anyhow::bail!("--until must be after --from");
    }
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let result = async {
        let indicators = service(&config, &opened)?.indicators(from, until).await?;
        platform::trace_cli(
            &config,
            &opened.storage,
            sante_audit::EventKind::MessagingIndicatorsRead,
            sante_audit::Action::Read,
            Some(("Indicators", "messaging-usage")),
            sante_audit::Outcome::Success,
        )
        .await?;
        anyhow::Ok(indicators)
    }
    .await;
    opened.close().await;
    println!("{}", serde_json::to_string_pretty(&result?)?);
    Ok(ExitCode::SUCCESS)
}

/// The outbound queue: one line per message waiting for a partner's server.
pub async fn queue(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let result = async { anyhow::Ok(service(&config, &opened)?.queue().await?) }.await;
    opened.close().await;
    let queue = result?;
    for q in &queue {
        println!(
            "{}  to {} ({} recipient{})  {} bytes  queued {}  attempts {}  next {}{}",
            q.id,
            q.domain,
            q.recipients.len(),
            if q.recipients.len() == 1 { "" } else { "s" },
            q.size,
            q.queued.format("%Y-%m-%d %H:%M"),
            q.attempts,
            q.next_attempt.format("%Y-%m-%d %H:%M"),
            q.last_error
                .as_deref()
                .map(|e| format!("  last error: {e}"))
                .unwrap_or_default()
        );
    }
    println!("{} message(s) queued", queue.len());
    Ok(ExitCode::SUCCESS)
}

/// Records the closure a holder asked for through the help desk: the mailbox
/// closes at once and is purged within 5 working days; the address stays retired.
pub async fn close(config_path: &Path, address: &str) -> anyhow::Result<ExitCode> {
    let address = sante_messaging::address::Address::parse(address)
        .map_err(|e| anyhow::anyhow!("--address: {e}"))?;
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let operator = sante_audit::Actor {
        person: sante_audit::Token::new("operator").ok(),
        ..sante_audit::Actor::default()
    };
    let result = async {
        anyhow::Ok(
            service(&config, &opened)?
                .request_closure_for(&address, operator, &crate::account_cmd::cli_source())
                .await?,
        )
    }
    .await;
    opened.close().await;
    let mailbox = result?;
    match mailbox.purge_due {
        Some(due) => println!(
            "{address} is closed; its content will be purged by {} (the address stays retired)",
            due.format("%Y-%m-%d")
        ),
        None => println!("{address} was already closed"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Purges the mailboxes whose closure is due and the metadata past 12 months, as
/// the server does every hour.
pub async fn housekeeping(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let result = async { anyhow::Ok(service(&config, &opened)?.housekeeping().await?) }.await;
    opened.close().await;
    let report = result?;
    println!(
        "mailboxes purged: {}; metadata lines past retention deleted: {}",
        report.mailboxes_purged, report.metadata_purged
    );
    Ok(ExitCode::SUCCESS)
}
