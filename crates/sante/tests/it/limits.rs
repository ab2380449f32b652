//! Slow clients by the thousand: connections that send one byte a second to HTTPS and
//! to every mail port keep the server's memory under a bound, and a legitimate client
//! is still served (issue 14). The bound and the figures are in docs/security.md.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::harness::*;
use crate::mail::MailDemo;

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
