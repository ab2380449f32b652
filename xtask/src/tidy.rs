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
    // The HTTPS kernel every web area stands on: sessions (the security directory)
    // and the terms a service page requires; never a service, never storage.
    (
        "sante-http",
        &[
            "sante-types",
            "sante-audit",
            "sante-net",
            "sante-identity",
            "sante-terms",
        ],
    ),
    // Web areas: the kernel, their one service (if any) and platform contexts; never
    // storage, another service or another area (see FRONT_ENDS below).
    (
        "sante-portal",
        &[
            "sante-types",
            "sante-audit",
            "sante-http",
            "sante-identity",
            "sante-terms",
            "sante-directory",
            "sante-sso",
            // The revocation lists it publishes are read as sante-net reads them.
            "sante-net",
        ],
    ),
    (
        "sante-oidc-web",
        &["sante-types", "sante-http", "sante-sso"],
    ),
    (
        "sante-dsp-web",
        &[
            "sante-types",
            "sante-audit",
            "sante-http",
            "sante-identity",
            "sante-directory",
            "sante-dsp",
        ],
    ),
    (
        "sante-fhir-api",
        &[
            "sante-types",
            "sante-audit",
            "sante-http",
            "sante-directory",
            "sante-sso",
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
    // The test harness builds the portal over real platform contexts.
    (
        "sante-testkit",
        &[
            "sante-types",
            "sante-store",
            "sante-audit",
            "sante-net",
            "sante-identity",
            "sante-terms",
            "sante-directory",
            "sante-sso",
            "sante-http",
            "sante-portal",
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
            "sante-portal",
            "sante-oidc-web",
            "sante-dsp-web",
            "sante-fhir-api",
        ],
    ),
    // The fuzzing harness: a dev-dependency of the crates whose parsers it drives.
    ("sante-fuzz", &[]),
    ("xtask", &[]),
];

/// The services: isolated from each other (PLT-5), and each front end serves at most
/// one of them.
const SERVICES: &[&str] = &["sante-dsp", "sante-messaging"];

/// The kernel of the web areas: it serves no service.
const KERNEL: &str = "sante-http";

/// The front ends (web areas on the kernel, and the mail protocols) with the one
/// service each serves (`None`: platform contexts only). A front end never depends on
/// storage, on another service, or on another front end: PLT-5 carried up to them. A
/// new service's web area is added here with its service.
const FRONT_ENDS: &[(&str, Option<&str>)] = &[
    ("sante-portal", None),
    ("sante-oidc-web", None),
    ("sante-dsp-web", Some("sante-dsp")),
    ("sante-fhir-api", Some("sante-dsp")),
    ("sante-mail", Some("sante-messaging")),
];

/// Wire formats a front end may use, with the service whose model each carries.
const WIRE_FORMATS: &[(&str, &str)] = &[("sante-fhir", "sante-dsp")];

/// Crates that may print to stdout: the binary, the test harness and this tool.
const MAY_PRINT: &[&str] = &["sante", "sante-testkit", "sante-fuzz", "xtask"];

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
        Ok(edges) => {
            problems.extend(check_edges(&edges));
            problems.extend(check_front_ends(&edges));
        }
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
    #[expect(clippy::disallowed_methods)]
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
        if e.to == "sante-testkit" || e.to == "sante-fuzz" {
            problems.push(format!("{} depends on {} outside tests", e.from, e.to));
        } else if !allowed.contains(&e.to.as_str()) {
            problems.push(format!(
                "dependency {} -> {} is not allowed by the architecture (ARCHITECTURE.md, xtask/src/tidy.rs)",
                e.from, e.to
            ));
        }
    }
    problems
}

/// Checks the front-end rules: the kernel serves no service; a front end reaches the
/// kernel, its one service and platform contexts, never storage, another service,
/// another front end or another service's wire format.
pub fn check_front_ends(edges: &[Edge]) -> Vec<String> {
    let mut problems = Vec::new();
    for e in edges.iter().filter(|e| !e.dev && !e.to.is_empty()) {
        if e.from == KERNEL && (SERVICES.contains(&e.to.as_str()) || is_front_end(&e.to)) {
            problems.push(format!(
                "the kernel {KERNEL} must not depend on {} (a service or a front end)",
                e.to
            ));
        }
        let Some((_, own)) = FRONT_ENDS.iter().find(|(name, _)| *name == e.from) else {
            continue;
        };
        let carried = WIRE_FORMATS
            .iter()
            .find(|(format, _)| *format == e.to)
            .map(|(_, service)| *service);
        let why = if e.to == "sante-store" {
            Some("storage")
        } else if is_front_end(&e.to) {
            Some("another front end")
        } else if SERVICES.contains(&e.to.as_str()) && Some(e.to.as_str()) != *own {
            Some("a service it does not serve")
        } else if carried.is_some() && carried != *own {
            Some("the wire format of a service it does not serve")
        } else {
            None
        };
        if let Some(why) = why {
            problems.push(format!(
                "front end {} must not depend on {} ({why}; PLT-5 at the front ends)",
                e.from, e.to
            ));
        }
    }
    problems
}

fn is_front_end(name: &str) -> bool {
    FRONT_ENDS.iter().any(|(n, _)| *n == name)
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
            if name != "xtask"
                && !rel.ends_with("sante-http/src/routes.rs")
                && !rel.ends_with("/tests.rs")
                && adds_undeclared_routes(&text)
            {
                problems.push(format!(
                    "{rel}: routes are added through sante_http::Routes, with their access decision (the authorisation suite walks that table)"
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

/// Whether code outside comments adds a route to an axum router by itself (`.route(`,
/// `.nest(`, `.route_service(`, `.nest_service(`), not through the route table.
fn adds_undeclared_routes(text: &str) -> bool {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .any(|l| {
            [".route(", ".nest(", ".route_service(", ".nest_service("]
                .iter()
                .any(|m| l.contains(m))
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
    fn front_ends_reach_one_service_and_no_other_front_end() {
        // The DSP's pages may reach the DSP and platform contexts.
        assert!(check_front_ends(&[edge("sante-dsp-web", "sante-dsp")]).is_empty());
        assert!(check_front_ends(&[edge("sante-dsp-web", "sante-identity")]).is_empty());
        // Never another service, another front end, storage or another's wire format.
        for (from, to) in [
            ("sante-dsp-web", "sante-messaging"),
            ("sante-portal", "sante-dsp"),
            ("sante-dsp-web", "sante-portal"),
            ("sante-fhir-api", "sante-store"),
            ("sante-mail", "sante-fhir"),
            ("sante-http", "sante-dsp"),
            ("sante-http", "sante-portal"),
        ] {
            assert_eq!(
                check_front_ends(&[edge(from, to)]).len(),
                1,
                "{from} -> {to} should be refused"
            );
        }
        // Test-only dependencies are free.
        let dev = Edge {
            dev: true,
            ..edge("sante-portal", "sante-dsp")
        };
        assert!(check_front_ends(&[dev]).is_empty());
    }

    #[test]
    fn a_route_added_outside_the_table_is_reported() {
        assert!(adds_undeclared_routes(
            "Router::new().route(\"/x\", get(h))"
        ));
        assert!(adds_undeclared_routes("router.nest(\"/api\", api)"));
        assert!(!adds_undeclared_routes(
            "Routes::new().get(\"/x\", Access::Public, h)"
        ));
        assert!(!adds_undeclared_routes("// .route( in a comment"));
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
