//! Slow clients by the thousand: connections that send one byte a second to HTTPS and
//! to every mail port keep the server's memory under a bound, and a legitimate client
//! is still served (issue 14). The bound and the figures are in docs/security.md.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use serde_json::{Value, json};

use crate::harness::*;
use crate::mail::{MailDemo, assert_ok, script};

/// Slow connections per port.
const PER_PORT: usize = 1000;
/// Loopback source addresses they come from (each within the per-address limit).
const SOURCES: usize = 20;
/// How long each trickles, a byte a second.
const TRICKLE: Duration = Duration::from_secs(8);
/// The growth of the server's resident memory allowed for all of them together.
const BOUND_MIB: u64 = 512;

fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

async fn connect_from(source: usize, port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(
        format!("127.0.0.{}:0", 10 + source % SOURCES)
            .parse()
            .unwrap(),
    )?;
    socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
}

fn tls_client(ca: &std::path::Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).unwrap();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// How many slow clients are connected, and a wake-up for whoever waits for them.
#[derive(Default)]
struct Connected {
    count: std::sync::atomic::AtomicUsize,
    changed: tokio::sync::Notify,
}

impl Connected {
    fn one_more(&self) {
        self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    fn count(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Returns once `n` are connected.
    async fn all(&self, n: usize) {
        loop {
            let changed = self.changed.notified();
            if self.count() >= n {
                return;
            }
            changed.await;
        }
    }
}

/// One slow client: connects (over TLS when `tls`), then sends `line` a byte a second
/// for [`TRICKLE`]. Returns whether it got through the handshake.
async fn trickle(
    source: usize,
    port: u16,
    tls: Option<tokio_rustls::TlsConnector>,
    line: &'static [u8],
    open: Arc<Connected>,
) -> bool {
    let Ok(tcp) = connect_from(source, port).await else {
        return false;
    };
    let mut stream: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match tls {
        Some(tls) => {
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            match tokio::time::timeout(Duration::from_secs(30), tls.connect(name, tcp)).await {
                Ok(Ok(s)) => Box::new(s),
                _ => return false,
            }
        }
        None => Box::new(tcp),
    };
    open.one_more();
    let started = tokio::time::Instant::now();
    let mut i = 0;
    while started.elapsed() < TRICKLE {
        if stream
            .write_all(&line[i % line.len()..][..1])
            .await
            .is_err()
        {
            break;
        }
        i += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_clients_per_port_keep_memory_bounded_and_others_served() {
    let demo = MailDemo::start(Vec::new());
    let pid = demo.server.child.id();
    let https_port = demo.https_port();
    let tls = tls_client(&demo.root.join("tls/ca.crt"));
    let http = client(&demo.root);
    let health = http
        .get(format!("{}/healthz", demo.server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let before = resident_kib(pid);

    let p = &demo.ports;
    let ports: [(u16, bool, &'static [u8]); 6] = [
        (
            https_port,
            true,
            b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ",
        ),
        (p.submissions, true, b"EHLO slow.example\r\n"),
        (p.imap, true, b"a1 CAPABILITY\r\n"),
        (p.pop3, true, b"CAPA\r\n"),
        (p.submission, false, b"EHLO slow.example\r\n"),
        (p.inbound, false, b"EHLO slow.example\r\n"),
    ];
    let open = Arc::new(Connected::default());
    let mut clients = tokio::task::JoinSet::new();
    for (port, over_tls, line) in ports {
        for i in 0..PER_PORT {
            let tls = over_tls.then(|| tls.clone());
            clients.spawn(trickle(i, port, tls, line, open.clone()));
        }
    }
    // Once they are all connected and trickling: the server's memory, and legitimate
    // clients.
    let all = tokio::time::timeout(Duration::from_secs(30), open.all(6 * PER_PORT)).await;
    let connected = open.count();
    assert!(
        all.is_ok(),
        "only {connected} slow clients connected in 30 s"
    );
    let during = resident_kib(pid);
    let health = http
        .get(format!("{}/healthz", demo.server.base))
        .send()
        .await;
    assert!(
        health.is_ok_and(|r| r.status() == 200),
        "HTTPS refused a legitimate client among the slow ones"
    );
    // A mail program logs in and lists its mailbox (the helper fails the test if not).
    demo.pop3_listing();
    let mut through = 0;
    while let Some(done) = clients.join_next().await {
        through += usize::from(done.unwrap());
    }
    let grown_mib = during.saturating_sub(before) / 1024;
    eprintln!(
        "slow clients: {connected} of {} connected at once ({through} in all); server resident memory {} MiB before, {} MiB with them (+{grown_mib} MiB)",
        6 * PER_PORT,
        before / 1024,
        during / 1024
    );
    assert!(
        grown_mib <= BOUND_MIB,
        "{} slow connections grew the server by {grown_mib} MiB (bound {BOUND_MIB} MiB)",
        6 * PER_PORT
    );
    assert_eq!(
        connected,
        6 * PER_PORT,
        "every slow client connects: the bound is measured with all of them"
    );
}

/// Every per-session limit of SMTP, IMAP and POP3, set low, met by a hostile client
/// (`tests/it/mail/limits.py`, raw TLS): answered in the protocol's own words, the
/// session closed where the limit says so, and each closing traced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mail_session_limit_is_answered_in_its_protocol_and_traced() {
    let limits = [
        ("MAX_RECIPIENTS", 3),
        ("MAX_ERRORS", 5),
        ("MAX_AUTH_FAILURES", 3),
        ("IMAP_SESSIONS_PER_MAILBOX", 2),
        ("UNAUTHENTICATED_IDLE_SECS", 3),
    ];
    let mut env: Vec<(String, String)> = limits
        .iter()
        .map(|(key, value)| (format!("SANTE_MESSAGING__LIMITS__{key}"), value.to_string()))
        .collect();
    env.push(("SANTE_MESSAGING__MAX_MESSAGE_MB".into(), "1".into()));
    let demo = MailDemo::start(env);
    let extra = json!({"limits": {
        "recipients": 3, "errors": 5, "auth": 3, "imap_sessions": 2, "idle_secs": 3,
        "message_bytes": 1_000_000,
    }});
    let out = demo.python_with(&script("limits.py"), extra.as_object().unwrap().clone());
    assert_ok(&out, "limits.py");
    let got: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let expect = |key: &str, want: Value| {
        assert_eq!(got[key], want, "{key} in {got:#}");
    };

    // SMTP (RFC 5321, RFC 4954; Postfix's limits).
    expect("smtp_auth_failures", json!([535, 535, 535]));
    expect("smtp_after_auth_failures", json!(421));
    expect("smtp_closed_after_auth_failures", json!(true));
    expect("smtp_errors", json!([500, 503, 503, 500, 503]));
    expect("smtp_after_errors", json!(421));
    expect("smtp_closed_after_errors", json!(true));
    expect("smtp_recipients", json!([250, 250, 250, 452]));
    expect("smtp_announced_too_big", json!(552));
    expect("smtp_sent_too_big", json!(552));
    expect("smtp_after_too_big", json!(250));
    expect("smtp_long_line", json!(500));
    expect("smtp_closed_after_long_line", json!(true));
    expect("smtp_trickle_reply", json!(421));
    let trickled = got["smtp_trickle_closed_after_secs"].as_f64().unwrap();
    assert!(
        (2.5..8.0).contains(&trickled),
        "a trickled command is cut at its deadline (3 s), not kept alive by each byte: {trickled} s"
    );

    // Archives: what clamd cannot unpack within its limits is a finding (554).
    expect("archive_clean_nested", json!(250));
    expect("archive_virus_nested_shallow", json!(554));
    expect("archive_virus_nested_deep", json!(554));
    expect("archive_bomb", json!(554));

    // IMAP (RFC 9051, RFC 5530's LIMIT; Dovecot's limits).
    expect("imap_logins", json!(["OK", "OK", "NO [LIMIT]"]));
    expect("imap_login_after_logout", json!("OK"));
    expect("imap_auth_failures", json!(["NO", "NO", "NO"]));
    expect("imap_closed_after_auth_failures", json!(true));
    expect("imap_bad", json!(["BAD", "BAD", "BAD", "BAD", "BAD"]));
    expect("imap_after_bad", json!("BYE"));
    expect("imap_closed_after_bad", json!(true));
    expect("imap_idle", json!("BYE"));
    let idle = got["imap_idle_closed_after_secs"].as_f64().unwrap();
    assert!(
        (2.5..8.0).contains(&idle),
        "IMAP idle before login: {idle} s"
    );

    // POP3 (RFC 1939, RFC 2449).
    expect("pop3_auth_failures", json!(["-ERR", "-ERR", "-ERR"]));
    expect("pop3_closed_after_auth_failures", json!(true));
    expect(
        "pop3_errors",
        json!(["-ERR", "-ERR", "-ERR", "-ERR", "-ERR"]),
    );
    expect("pop3_after_errors", json!("-ERR"));
    expect("pop3_closed_after_errors", json!(true));

    // Each limit reached is a security event in the trail.
    assert!(demo.server.stop().success());
    let export = run(&demo.root, &["audit", "export", "--format", "fhir"]);
    assert_ok(&export, "sante audit export");
    let export = stdout(&export);
    for code in [
        "too_many_auth_failures",
        "too_many_errors",
        "too_many_sessions",
        "line_too_long",
    ] {
        assert!(export.contains(code), "no {code} in the trail:\n{export}");
    }
}
