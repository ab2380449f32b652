//! TLS posture (issue 14, item 7; PLT-9): Debian's `testssl.sh` against every TLS
//! listener of a running demo — HTTPS, the card login, SMTP submission on 465 and with
//! STARTTLS on 587, inbound SMTP with STARTTLS on 25, IMAP on 993, POP3 on 995 — and no
//! finding rated HIGH or CRITICAL.
//!
//! The demo's server certificate names where its CA's revocation list is published
//! (testssl rates a certificate naming neither a list nor an OCSP responder HIGH):
//! the portal serves it there, and the test fetches it.

use serde_json::Value;

use crate::mail::{MailDemo, tool};

/// Starts testssl on one listener, its JSON report written to `dir/<name>.json`.
fn scan(
    dir: &std::path::Path,
    ca: &std::path::Path,
    name: &str,
    port: u16,
    starttls: Option<&str>,
) -> std::process::Child {
    let mut command = tool("testssl");
    command
        .args(["--quiet", "--warnings", "off", "--color", "0", "--add-ca"])
        .arg(ca)
        .arg("--jsonfile")
        .arg(dir.join(format!("{name}.json")))
        .args(["--ip", "127.0.0.1"])
        // testssl's default run without its client simulation (which says which
        // browsers connect, not what is weak): protocols, cipher categories, forward
        // secrecy, certificate, server preferences, HTTP headers (HSTS), and every
        // known vulnerability.
        .args(["-p", "-s", "-f", "-S", "-P", "-h", "-U"]);
    if let Some(protocol) = starttls {
        command.args(["--starttls", protocol]);
    }
    command
        .arg(format!("localhost:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command
        .spawn()
        .expect("testssl (Debian's testssl.sh; cargo xtask deps installs it)")
}

#[test]
fn testssl_finds_nothing_high_or_critical_on_any_listener() {
    let demo = MailDemo::start(Vec::new());
    let out = tempfile::tempdir().unwrap();
    let ca = demo.root.join("tls/ca.crt");
    let https = demo.https_port();
    let p = &demo.ports;
    let listeners = [
        ("https", https, None),
        ("card-login", demo.mtls_port, None),
        ("submissions", p.submissions, None),
        ("submission", p.submission, Some("smtp")),
        ("inbound", p.inbound, Some("smtp")),
        ("imaps", p.imap, None),
        ("pop3s", p.pop3, None),
    ];
    // testssl spends most of its time waiting on openssl: the listeners are scanned
    // side by side.
    let scans: Vec<_> = listeners
        .iter()
        .map(|(name, port, starttls)| (*name, scan(out.path(), &ca, name, *port, *starttls)))
        .collect();
    let mut problems = Vec::new();
    let mut revocation_lists = Vec::new();
    for (name, mut child) in scans {
        let status = child.wait().unwrap();
        let report = std::fs::read_to_string(out.path().join(format!("{name}.json")))
            .unwrap_or_else(|e| panic!("{name}: testssl wrote no report ({status}): {e}"));
        let findings: Vec<Value> = serde_json::from_str(&report)
            .unwrap_or_else(|e| panic!("{name}: unreadable testssl report: {e}"));
        let finding = |id: &str| {
            findings
                .iter()
                .find(|f| f["id"] == id)
                .and_then(|f| f["finding"].as_str())
                .unwrap_or_default()
                .to_owned()
        };
        // The scan reached the service: a protocol was negotiated.
        assert!(
            findings
                .iter()
                .any(|f| f["id"] == "TLS1_3" && f["finding"] == "offered with final"),
            "{name}: no TLS 1.3 handshake in the report: {report}"
        );
        for f in &findings {
            let severity = f["severity"].as_str().unwrap_or_default();
            if !matches!(severity, "HIGH" | "CRITICAL") {
                continue;
            }
            let id = f["id"].as_str().unwrap_or_default();
            problems.push(format!("{name}: {id} {severity}: {}", f["finding"]));
        }
        revocation_lists.push((name, finding("cert_crlDistributionPoints")));
        // The posture itself: TLS 1.2 and 1.3 only, forward secrecy, no fallback to
        // anything older.
        for old in ["SSLv2", "SSLv3", "TLS1", "TLS1_1"] {
            assert_eq!(finding(old), "not offered", "{name}: {old}");
        }
        assert_eq!(finding("TLS1_2"), "offered", "{name}");
    }
    assert!(
        problems.is_empty(),
        "testssl findings:\n{}",
        problems.join("\n")
    );
    // Every listener presents the one server certificate, which names the list the
    // portal publishes; a client that follows it gets the CA's list.
    let published = format!("https://localhost:{https}/pki/ca.crl");
    for (name, points) in &revocation_lists {
        assert_eq!(points, &published, "{name}: CRL distribution points");
    }
    let list = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let res = crate::harness::client(&demo.root)
            .get(&published)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/pkix-crl");
        res.bytes().await.unwrap()
    });
    // DER, as RFC 5280 asks of a list served over HTTP, signed by the development CA.
    assert_eq!(list[0], 0x30, "a DER SEQUENCE");
    let list = sante_net::pki::read_revocation_list(&list).unwrap();
    assert!(
        list.issuer.contains("Sante development CA"),
        "{}",
        list.issuer
    );
}
