//! `sante dsp ...`: the operator prints the DSPs' information letters (DSP-5), records
//! the referring doctors the insurer declared (DSP-15, until the referring-doctor
//! service feeds them), and runs the retention pass on demand.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use sante_dsp::DspService;
use sante_dsp::model::ReferentDeclaration;

use crate::account_cmd::{Opened, cli_source};
use crate::commands::load;

pub(crate) fn service(opened: &Opened) -> DspService {
    DspService::new(
        opened.storage.db.clone(),
        opened.storage.blobs.clone(),
        opened.directory.clone(),
        Arc::new(opened.audit.clone()),
        opened.clock.clone(),
    )
}

/// Writes the information letters waiting to be printed into `out` (one PDF per
/// holder, mode 0600) and takes them off the queue.
pub async fn letters(config_path: &Path, out: &Path, limit: u32) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let dsp = service(&opened);
    std::fs::create_dir_all(out)
        .with_context(|| format!("--out: cannot create {}", out.display()))?;
    let mut written = 0;
    let result: anyhow::Result<()> = async {
        for holder in dsp.letters_pending(limit).await? {
            let Ok(pdf) = dsp.letter(&holder).await else {
                continue;
            };
            crate::init::write_file(&out.join(format!("dsp-letter-{holder}.pdf")), &pdf, 0o600)?;
            dsp.letter_posted(&holder).await?;
            written += 1;
        }
        Ok(())
    }
    .await;
    opened.close().await;
    result?;
    println!("{written} information letters written to {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// Records the referring doctor the insurer declared for a holder.
pub async fn referent(
    config_path: &Path,
    holder: &str,
    professional: &str,
    from: &str,
) -> anyhow::Result<ExitCode> {
    let from = chrono::NaiveDate::parse_from_str(from, "%Y-%m-%d")
        .context("--from: a date such as 2026-12-01")?;
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let done = service(&opened)
        .declare_referent(
            holder,
            ReferentDeclaration {
                professional: professional.to_owned(),
                from,
                until: None,
            },
            &cli_source(),
        )
        .await;
    opened.close().await;
    done.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{professional} is the referring doctor of {holder} from {from}");
    Ok(ExitCode::SUCCESS)
}

/// The retention pass (DSP-10 to DSP-12), as the daily housekeeping runs it.
pub async fn housekeeping(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let report = service(&opened).housekeeping(&cli_source()).await;
    opened.close().await;
    let report = report.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "closed after ten idle years: {}; deleted ten years after closure: {}; documents past retention deleted: {}",
        report.closed_for_inactivity, report.deleted_after_closure, report.items_expired
    );
    Ok(ExitCode::SUCCESS)
}

/// The anonymised statistics for public-health bodies (DSP-33), as JSON.
pub async fn statistics(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let stats = service(&opened).statistics().await;
    crate::platform::trace_cli(
        &config,
        &opened.storage,
        sante_audit::EventKind::DspSearched,
        sante_audit::Action::Read,
        Some(("Statistics", "dsp-anonymised")),
        sante_audit::Outcome::Success,
    )
    .await?;
    opened.close().await;
    let stats = stats.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", serde_json::to_string_pretty(&stats)?);
    Ok(ExitCode::SUCCESS)
}
