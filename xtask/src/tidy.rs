//! Architecture checks: allowed dependency edges between our crates, module docs, and
//! no printing from library crates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// For each crate of the workspace, the internal crates it may depend on (normal
/// dependencies; dev-dependencies are free, but nothing may depend on the testkit
/// outside tests). The layering is: types ← store ← audit ← platform contexts ←
/// services ← front ends ← the `sante` binary (see ARCHITECTURE.md). A crate missing
/// from this table fails the check: adding a crate is a decision, written down here.
pub const ALLOWED_EDGES: &[(&str, &[&str])] = &[
    ("sante-types", &[]),
    ("sante-store", &["sante-types"]),
    ("sante-audit", &["sante-types", "sante-store"]),
    ("sante-net", &["sante-types"]),
    // Platform contexts: storage and audit below them, never a service or a front end.
    (
        "sante-directory",
        &["sante-types", "sante-store", "sante-audit"],
    ),
    // The security directory: accounts, credentials, sessions. A peer of the
    // directories, linked to their entries by identifier only.
    (
        "sante-identity",
        &["sante-types", "sante-store", "sante-audit"],
    ),
    // Letters as PDF: text in, bytes out; only the shared vocabulary (error codes).
    ("sante-letters", &["sante-types"]),
    // Terms of use and their acceptance: a platform context.
    (
        "sante-terms",
        &["sante-types", "sante-store", "sante-audit"],
    ),
    // Single sign-on over the security directory: the OpenID Connect provider, which
    // gives tokens only to accounts that accepted the terms of the services.
    (
        "sante-sso",
        &[
            "sante-types",
            "sante-store",
            "sante-audit",
            "sante-identity",
            "sante-terms",
        ],
    ),
    // Services: over the platform contexts, never over each other (PLT-5).
    (
        "sante-dsp",
        &[
            "sante-types",
            "sante-store",
            "sante-audit",
            "sante-directory",
            "sante-letters",
        ],
    ),
    (
        "sante-messaging",
        &[
            "sante-types",
            "sante-store",
            "sante-audit",
            "sante-directory",
        ],
    ),
    // The FHIR wire format: the directory's model in, JSON out; no HTTP, no storage.
    (
        "sante-fhir",
        &["sante-types", "sante-directory", "sante-dsp"],
    ),
    // Front ends never reach storage directly (no sante-store): only through a
    // service API that has already decided access.
    (
        "sante-http",
        &[
            "sante-types",
            "sante-audit",
            "sante-net",
            "sante-directory",
            "sante-identity",
            "sante-sso",
            "sante-terms",
            "sante-dsp",
            "sante-fhir",
        ],
    ),
    // The mail front ends: protocols over the messaging service and the security
    // directory; never storage.
    (
        "sante-mail",
        &[
            "sante-types",
            "sante-audit",
            "sante-net",
            "sante-identity",
            "sante-terms",
            "sante-messaging",
        ],
    ),
    (
        "sante-testkit",
        &[
            "sante-types",
            "sante-store",
            "sante-audit",
            "sante-net",
            "sante-http",
        ],
    ),
    (
        "sante",
        &[
            "sante-types",
            "sante-store",
            "sante-audit",
            "sante-directory",
            "sante-identity",
            "sante-sso",
            "sante-terms",
            "sante-letters",
            "sante-dsp",
            "sante-messaging",
            "sante-mail",
            "sante-fhir",
            "sante-net",
            "sante-http",
        ],
    ),
    ("xtask", &[]),
];

/// Crates that may print to stdout: the binary, the test harness and this tool.
const MAY_PRINT: &[&str] = &["sante", "sante-testkit", "xtask"];

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs every check and returns the problems found.
pub fn check_all(root: &Path) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    match workspace_edges(root) {
        Ok(edges) => problems.extend(check_edges(&edges)),
        Err(e) => problems.push(format!("cannot read cargo metadata: {e}")),
    }
    problems.extend(check_sources(root));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// One internal edge: from, to, and whether it is a dev-dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub dev: bool,
}

fn workspace_edges(root: &Path) -> anyhow::Result<Vec<Edge>> {
    #[allow(clippy::disallowed_methods)]
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()?;
    if !output.status.success() {
        anyhow::bail!("{}", String::from_utf8_lossy(&output.stderr));
    }
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let names: Vec<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    let mut edges = Vec::new();
    for p in &packages {
        let from = p["name"].as_str().unwrap_or_default().to_owned();
        for d in p["dependencies"].as_array().cloned().unwrap_or_default() {
            let to = d["name"].as_str().unwrap_or_default().to_owned();
            if !names.contains(&to) || to == from {
                continue;
            }
            let kind = d["kind"].as_str().unwrap_or("normal");
            if kind == "build" {
                edges.push(Edge {
                    from: from.clone(),
                    to,
                    dev: false,
                });
            } else {
                edges.push(Edge {
                    from: from.clone(),
                    to,
                    dev: kind == "dev",
                });
            }
        }
        if !ALLOWED_EDGES.iter().any(|(name, _)| *name == from) {
            edges.push(Edge {
                from: from.clone(),
                to: String::new(),
                dev: false,
            });
        }
    }
    Ok(edges)
}

/// Checks edges against [`ALLOWED_EDGES`].
pub fn check_edges(edges: &[Edge]) -> Vec<String> {
    let table: BTreeMap<&str, &[&str]> = ALLOWED_EDGES.iter().copied().collect();
    let mut problems = Vec::new();
    for e in edges {
        let Some(allowed) = table.get(e.from.as_str()) else {
            if e.to.is_empty() {
                problems.push(format!(
                    "crate {} is not in the allowed-edges table (xtask/src/tidy.rs); add it with its layer",
                    e.from
                ));
            }
            continue;
        };
        if e.to.is_empty() {
            continue;
        }
        if e.dev {
            continue;
        }
        if e.to == "sante-testkit" {
            problems.push(format!("{} depends on sante-testkit outside tests", e.from));
        } else if !allowed.contains(&e.to.as_str()) {
            problems.push(format!(
                "dependency {} -> {} is not allowed by the architecture (ARCHITECTURE.md, xtask/src/tidy.rs)",
                e.from, e.to
            ));
        }
    }
    problems
}

fn check_sources(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let Ok(crates) = std::fs::read_dir(root.join("crates")) else {
        return vec!["no crates/ directory".into()];
    };
    let mut dirs: Vec<PathBuf> = crates.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.push(root.join("xtask"));
    for dir in dirs {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        for file in rust_files(&dir.join("src")) {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let rel = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            if !text.trim_start().starts_with("//!") {
                problems.push(format!(
                    "{rel}: a module starts with a //! doc comment saying what it is for"
                ));
            }
            if !MAY_PRINT.contains(&name.as_str()) && prints_to_stdout(&text) {
                problems.push(format!(
                    "{rel}: library crates do not print; use tracing or return the value"
                ));
            }
        }
    }
    problems
}

/// Whether code outside comments calls `print!` or `println!` (not `eprintln!`, which
/// tests use for their own diagnostics).
fn prints_to_stdout(text: &str) -> bool {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .any(|l| {
            ["println!(", "print!("].iter().any(|m| {
                l.match_indices(m).any(|(i, _)| {
                    !l[..i]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
            })
        })
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_respects_the_architecture() {
        if let Err(problems) = check_all(&workspace_root()) {
            panic!("architecture check failed:\n{}", problems.join("\n"));
        }
    }

    fn edge(from: &str, to: &str) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
            dev: false,
        }
    }

    #[test]
    fn forbidden_edges_are_reported() {
        // A front end reaching storage directly.
        let problems = check_edges(&[edge("sante-http", "sante-store")]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("sante-http -> sante-store"));
        // Storage reaching up to the audit layer.
        assert_eq!(check_edges(&[edge("sante-store", "sante-audit")]).len(), 1);
        // The testkit as a normal dependency.
        assert_eq!(check_edges(&[edge("sante", "sante-testkit")]).len(), 1);
        // An unknown crate must be added to the table on purpose.
        assert_eq!(check_edges(&[edge("sante-newthing", "")]).len(), 1);
    }

    #[test]
    fn printing_is_told_apart_from_test_diagnostics() {
        assert!(prints_to_stdout("fn f() { println!(\"x\"); }"));
        assert!(prints_to_stdout("print!(\"x\")"));
        assert!(!prints_to_stdout("eprintln!(\"x\"); eprint!(\"y\")"));
        assert!(!prints_to_stdout("// println!(\"in a comment\")"));
    }

    #[test]
    fn allowed_and_dev_edges_pass() {
        assert!(check_edges(&[edge("sante-audit", "sante-store")]).is_empty());
        let dev = Edge {
            from: "sante".into(),
            to: "sante-testkit".into(),
            dev: true,
        };
        assert!(check_edges(&[dev]).is_empty());
    }
}
