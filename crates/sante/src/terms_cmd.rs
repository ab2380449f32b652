//! `sante terms ...`: the operator publishes a new version of the general or a
//! service's terms of use (French, German, English; French authoritative) and lists
//! the versions in force. The demo publishes the texts shipped with the binary.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use sante_terms::{Document, Terms, Texts};

use crate::account_cmd::{Opened, cli_source};
use crate::commands::load;

/// The texts shipped with the binary (`crates/sante/terms/`), version 1 of each.
const SHIPPED: &[(&str, [&str; 3])] = &[
    (
        "general",
        [
            include_str!("../terms/general.fr.md"),
            include_str!("../terms/general.de.md"),
            include_str!("../terms/general.en.md"),
        ],
    ),
    (
        "dsp",
        [
            include_str!("../terms/dsp.fr.md"),
            include_str!("../terms/dsp.de.md"),
            include_str!("../terms/dsp.en.md"),
        ],
    ),
    (
        "messaging",
        [
            include_str!("../terms/messaging.fr.md"),
            include_str!("../terms/messaging.de.md"),
            include_str!("../terms/messaging.en.md"),
        ],
    ),
    (
        "referent",
        [
            include_str!("../terms/referent.fr.md"),
            include_str!("../terms/referent.de.md"),
            include_str!("../terms/referent.en.md"),
        ],
    ),
];

/// A text file: its first line is the title, the rest the body.
fn split(text: &str) -> (String, String) {
    let text = text.trim();
    match text.split_once('\n') {
        Some((title, body)) => (title.trim().to_owned(), body.trim().to_owned()),
        None => (text.to_owned(), String::new()),
    }
}

fn texts(fr: &str, de: &str, en: &str) -> (Texts, Texts) {
    let (fr, de, en) = (split(fr), split(de), split(en));
    (
        Texts {
            fr: fr.0,
            de: de.0,
            en: en.0,
        },
        Texts {
            fr: fr.1,
            de: de.1,
            en: en.1,
        },
    )
}

/// Publishes the shipped texts of every document that has no version yet. Returns
/// how many were published.
pub async fn publish_shipped(terms: &Terms) -> anyhow::Result<usize> {
    let mut published = 0;
    for (code, [fr, de, en]) in SHIPPED {
        let document = Document::parse(code).context("shipped terms")?;
        if terms.current(document).await?.is_none() {
            let (title, body) = texts(fr, de, en);
            terms.publish(document, title, body, &cli_source()).await?;
            published += 1;
        }
    }
    Ok(published)
}

/// `sante terms publish --document D --fr F --de F --en F`.
pub async fn publish(
    config_path: &Path,
    document: &str,
    files: [&Path; 3],
) -> anyhow::Result<ExitCode> {
    let document = Document::parse(document).with_context(|| {
        format!("--document: {document:?} is not general, dsp, messaging or referent")
    })?;
    let read = |path: &Path, flag: &str| {
        std::fs::read_to_string(path)
            .with_context(|| format!("{flag}: cannot read {}", path.display()))
    };
    let (fr, de, en) = (
        read(files[0], "--fr")?,
        read(files[1], "--de")?,
        read(files[2], "--en")?,
    );
    let (title, body) = texts(&fr, &de, &en);
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let published = opened
        .terms()
        .publish(document, title, body, &cli_source())
        .await;
    opened.close().await;
    let version = published.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Published {} version {}: in force now; users accept it at their next login",
        document.code(),
        version.version
    );
    Ok(ExitCode::SUCCESS)
}

/// `sante terms list`: the versions in force.
pub async fn list(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let terms = opened.terms();
    for (code, _) in SHIPPED {
        let document = Document::parse(code).context("document")?;
        match terms.current(document).await? {
            Some(v) => println!(
                "{code}: version {} published {} — {}",
                v.version,
                v.published.format("%Y-%m-%d %H:%M UTC"),
                v.title.fr
            ),
            None => println!("{code}: none published"),
        }
    }
    opened.close().await;
    Ok(ExitCode::SUCCESS)
}
