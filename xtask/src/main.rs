//! Project automation, run as `cargo xtask <task>`:
//!
//! - `tidy`: the architecture's invariants (also run as a `#[test]`);
//! - `deps`: install what the tests need on a fresh machine (Chromium and its driver,
//!   an S3-compatible server, an independent FHIR R4 validator), when missing;
//! - `test`: `deps`, then the whole test suite on both storage backends;
//! - `demo`: what the demo needs (the anti-virus daemon every message is scanned by),
//!   then `sante demo` from a release build, its arguments passed on.

mod tidy;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "tidy" => tidy::check_all(&tidy::workspace_root()).map_err(|problems| {
            anyhow::anyhow!("architecture check failed:\n{}", problems.join("\n"))
        }),
        "deps" => deps(),
        "test" => deps().and_then(|()| test()),
        "demo" => demo_deps().and_then(|()| demo(std::env::args().skip(2).collect())),
        _ => Err(anyhow::anyhow!("usage: cargo xtask tidy|deps|test|demo")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn have(program: &str) -> bool {
    #[expect(clippy::disallowed_methods)]
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

fn perl_has(module: &str) -> bool {
    #[expect(clippy::disallowed_methods)]
    Command::new("perl")
        .args([&format!("-M{module}"), "-e", "1"])
        .status()
        .is_ok_and(|s| s.success())
}

#[expect(clippy::disallowed_methods)]
fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    eprintln!("xtask: {program} {}", args.join(" "));
    let status = Command::new(program).args(args).status()?;
    if !status.success() {
        anyhow::bail!("{program} {} failed with {status}", args.join(" "));
    }
    Ok(())
}

/// The Python environment holding the independent FHIR validator: `fhir.resources`
/// 6.1 models FHIR R4 4.0.1 exactly (later releases model R4B and R5) and needs
/// pydantic 1, so it lives in its own virtual environment.
fn fhir_validator_dir() -> std::path::PathBuf {
    tidy::workspace_root().join("target").join("fhir-validator")
}

fn fhir_validator_python() -> std::path::PathBuf {
    fhir_validator_dir().join("bin").join("python")
}

/// Installs the test prerequisites that are missing: Debian's `chromium` and
/// `chromium-driver` (browser tests), `moto[server]` from PyPI (the S3-compatible
/// server the blob-store tests run against), and the FHIR validator's environment.
fn deps() -> anyhow::Result<()> {
    let mut apt = Vec::new();
    if !have("chromium") {
        apt.push("chromium");
    }
    if !have("chromedriver") {
        apt.push("chromium-driver");
    }
    if !have("pdftotext") {
        // A real PDF reader: the letters' tests read back what they print.
        apt.push("poppler-utils");
    }
    if !have("pk12util") {
        // NSS tools: the browser tests give Chromium a development card.
        apt.push("libnss3-tools");
    }
    if !have("clamd") {
        // The anti-virus daemon the messaging tests scan with (test signatures only).
        apt.push("clamav-daemon");
    }
    if !have("testssl") {
        // The TLS posture test scans every listener with it.
        apt.push("testssl.sh");
    }
    for (command, package) in [
        ("swaks", "swaks"),
        ("curl", "curl"),
        ("mutt", "mutt"),
        ("mbsync", "isync"),
    ] {
        // Real mail clients for the interoperability tests.
        if !have(command) {
            apt.push(package);
        }
    }
    for (module, package) in [
        ("Net::SSLeay", "libnet-ssleay-perl"),
        ("IO::Socket::SSL", "libio-socket-ssl-perl"),
        ("Authen::SASL", "libauthen-sasl-perl"),
    ] {
        // What swaks needs for TLS and AUTH.
        if !perl_has(module) {
            apt.push(package);
        }
    }
    if !apt.is_empty() {
        if !have("apt-get") {
            anyhow::bail!("install {} with your package manager", apt.join(" "));
        }
        run("apt-get", &["update", "-qq"])?;
        let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
        args.extend(apt.iter().copied());
        run("apt-get", &args)?;
    }
    card_policy()?;
    if !have("moto_server") {
        run("python3", &["-m", "pip", "install", "-q", "moto[server]"])?;
        if have("pyenv") {
            // pyenv only exposes a new console script once its shims are rebuilt.
            run("pyenv", &["rehash"])?;
        }
        if !have("moto_server") {
            anyhow::bail!(
                "moto_server is not on PATH after pip install; add pip's bin directory to PATH"
            );
        }
    }
    card_policy()?;
    let python = fhir_validator_python();
    if !python.exists() {
        let dir = fhir_validator_dir();
        let dir = dir.to_string_lossy();
        run("python3", &["-m", "venv", &dir])?;
    }
    #[expect(clippy::disallowed_methods)]
    let ready = Command::new(&python)
        .args(["-c", "import fhir.resources, fhirpy"])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let python = python.to_string_lossy();
        run(
            &python,
            &[
                "-m",
                "pip",
                "install",
                "-q",
                "fhir.resources==6.1.0",
                "pydantic>=1.10,<2",
                // An independent FHIR client, to drive the MHD API as software would.
                "fhirpy==2.3.1",
            ],
        )?;
    }
    Ok(())
}

/// What the demo needs beyond the Rust toolchain: clamd, without which secure
/// messaging cannot start (every message is scanned). The demo runs its own clamd
/// with test signatures only, so no signature download is needed.
fn demo_deps() -> anyhow::Result<()> {
    if have("clamd")
        || ["/usr/sbin/clamd", "/usr/bin/clamd"]
            .iter()
            .any(|p| std::path::Path::new(p).exists())
    {
        return Ok(());
    }
    if !have("apt-get") {
        anyhow::bail!(
            "secure messaging needs the anti-virus daemon: install clamav-daemon with your package manager"
        );
    }
    run("apt-get", &["update", "-qq"])?;
    run(
        "apt-get",
        &[
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "clamav-daemon",
        ],
    )
}

/// `sante demo` from a release build, in the directory `cargo xtask` was run from.
fn demo(args: Vec<String>) -> anyhow::Result<()> {
    let mut cargo = vec!["run", "--release", "--bin", "sante", "--", "demo"];
    cargo.extend(args.iter().map(String::as_str));
    run("cargo", &cargo)
}

/// Chromium's managed policy presenting the development cards (client certificates of
/// the development card CA) to the portal on localhost without asking: what a
/// professional's browser does with his card after he chose it once. Tests give each
/// browser its own certificate database, so the choice is never ambiguous.
fn card_policy() -> anyhow::Result<()> {
    const PATH: &str = "/etc/chromium/policies/managed/sante-test-cards.json";
    let policy = serde_json::json!({
        "AutoSelectCertificateForUrls": [
            serde_json::json!({
                "pattern": "https://localhost:*",
                "filter": {"ISSUER": {"CN": "Sante development smartcard CA"}}
            })
            .to_string()
        ]
    })
    .to_string();
    if std::fs::read_to_string(PATH).ok().as_deref() == Some(policy.as_str()) {
        return Ok(());
    }
    eprintln!("xtask: writing {PATH}");
    std::fs::create_dir_all("/etc/chromium/policies/managed")
        .and_then(|()| std::fs::write(PATH, &policy))
        .map_err(|e| anyhow::anyhow!("cannot write {PATH} ({e}); run `cargo xtask deps` as root"))
}

/// The whole suite. PostgreSQL is expected at 127.0.0.1:5432 (database `test`, trust
/// auth), or at SANTE_TEST_PG_URL: every storage test runs on SQLite and PostgreSQL.
/// The variable is always set here, so that a missing PostgreSQL fails the suite
/// instead of skipping its half (a bare `cargo test` skips it, loudly).
fn test() -> anyhow::Result<()> {
    let pg_url = std::env::var("SANTE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    // Read by the FHIR validation tests, which fail (never skip) without a validator.
    #[expect(clippy::disallowed_methods)]
    let status = Command::new("cargo")
        .args(["test", "--workspace", "--all-targets", "--no-fail-fast"])
        .env("SANTE_FHIR_PYTHON", fhir_validator_python())
        .env("SANTE_TEST_PG_URL", pg_url)
        .status()?;
    if !status.success() {
        anyhow::bail!("cargo test failed with {status}");
    }
    Ok(())
}
