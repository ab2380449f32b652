//! Running the real `sante` binary: commands, and a server that is stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sante_testkit::Browser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub fn sante() -> Command {
    #[expect(clippy::disallowed_methods)]
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sante"));
    // Tests must not inherit overrides from the developer's shell.
    for (name, _) in std::env::vars() {
        if name.starts_with("SANTE_") && name.contains("__") {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove("SANTE_CONFIG");
    cmd
}

/// Runs `sante ARGS` to completion.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    sante()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run sante")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `sante init` in a fresh temp dir, listening on free loopback ports (the portal's,
/// returned, and the card login's).
pub fn init_dir() -> (tempfile::TempDir, u16) {
    let dir = tempfile::tempdir().unwrap();
    let [port, mtls] = free_ports();
    let out = run(
        dir.path(),
        &[
            "init",
            "--dir",
            ".",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--mtls-listen",
            &format!("127.0.0.1:{mtls}"),
        ],
    );
    assert!(out.status.success(), "init failed: {}", stderr(&out));
    (dir, port)
}

/// `N` distinct free loopback ports (held together while chosen, so never the same).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| held[i].local_addr().unwrap().port())
}

/// Free loopback ports for the five mail listeners of a demo, as the environment
/// overrides that move them there (the demo's defaults follow the card login's port,
/// which parallel tests could collide on).
pub struct MailPorts {
    pub submission: u16,
    pub submissions: u16,
    pub inbound: u16,
    pub imap: u16,
    pub pop3: u16,
}

impl MailPorts {
    pub fn free() -> MailPorts {
        let [submission, submissions, inbound, imap, pop3] = free_ports();
        MailPorts {
            submission,
            submissions,
            inbound,
            imap,
            pop3,
        }
    }

    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("SUBMISSION", self.submission),
            ("SUBMISSIONS", self.submissions),
            ("INBOUND", self.inbound),
            ("IMAP", self.imap),
            ("POP3", self.pop3),
        ]
        .into_iter()
        .map(|(key, port)| {
            (
                format!("SANTE_MESSAGING__{key}_LISTEN"),
                format!("127.0.0.1:{port}"),
            )
        })
        .collect()
    }
}

/// A running `sante` process; SIGTERM then wait on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// The card login's origin (the listener asking for client certificates).
    pub card: Option<String>,
    /// Output lines printed after the portal URL (logs go to standard error).
    pub lines: mpsc::Receiver<String>,
}

impl Server {
    /// Runs `sante ARGS` in `dir` and waits (bounded) until it prints its portal URL.
    pub fn start(dir: &Path, args: &[&str]) -> Server {
        Server::start_with_env::<&str, &str>(dir, args, &[])
    }

    /// The same, with environment overrides (`SANTE_<SECTION>__<KEY>`).
    pub fn start_with_env<K: AsRef<std::ffi::OsStr>, V: AsRef<std::ffi::OsStr>>(
        dir: &Path,
        args: &[&str],
        env: &[(K, V)],
    ) -> Server {
        let mut child = sante()
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sante");
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for stream in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut seen = Vec::new();
        let mut card = None;
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| {
                    panic!(
                        "server did not announce its URL; output:\n{}",
                        seen.join("\n")
                    )
                });
            if let Some(url) = line.strip_prefix("Card login (mutual TLS): ") {
                card = url
                    .trim()
                    .strip_suffix("/login/certificate")
                    .map(str::to_owned);
            }
            if let Some(url) = line.strip_prefix("Portal: ") {
                let base = url.trim().trim_end_matches('/').to_owned();
                return Server {
                    child,
                    base,
                    card,
                    lines: rx,
                };
            }
            seen.push(line);
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.terminate()
    }

    /// Sends SIGTERM, waits, and returns everything the server printed after its URL.
    pub fn stop_with_output(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = self.terminate();
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            lines.push(line);
        }
        (status, lines)
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        #[expect(clippy::disallowed_methods)]
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An HTTPS client trusting only the development CA that `init` wrote: the test
/// checks the real certificate chain, as a browser that imported the CA would.
pub fn client(dir: &Path) -> reqwest::Client {
    let ca = std::fs::read(dir.join("tls/ca.crt")).unwrap();
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .https_only(true)
        .build()
        .unwrap()
}

/// A loopback HTTP endpoint that answers 200 and keeps the bodies it was posted: the
/// application's back-channel logout URI (and its redirect URI, which is never called
/// since the test reads the redirect itself).
pub async fn receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    tokio::spawn(async move {
        // Bounded: a test posts a handful of logout tokens at most.
        for _ in 0..20 {
            let Ok((mut tcp, _)) = listener.accept().await else {
                break;
            };
            let mut data = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = tcp.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        kept.lock().unwrap().push(body.to_owned());
                        break;
                    }
                }
            }
            let _ = tcp
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    (port, bodies)
}

/// The value after `label` on the first line of `text` that contains it.
pub fn field(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.split_once(label).map(|(_, v)| v))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(',')
        .to_owned()
}

/// Every file under `dir`, read raw, must hold none of `needles`, and no run of digits
/// shaped like a national number (a birth date then five digits): what a stolen disk
/// or backup of the data directory shows (PLT-10).
pub fn assert_nothing_in_clear(dir: &Path, needles: &[&str]) {
    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut all = Vec::new();
    files(dir, &mut all);
    assert!(!all.is_empty(), "no files under {}", dir.display());
    let mut found = Vec::new();
    for file in all {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for needle in needles.iter().filter(|n| !n.is_empty()) {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(format!("{}: {needle:?}", file.display()));
            }
        }
        if let Some(number) = national_number(&bytes) {
            let at = bytes
                .windows(number.len())
                .position(|w| w == number.as_bytes())
                .unwrap_or(0);
            let context =
                String::from_utf8_lossy(&bytes[at.saturating_sub(120)..(at + 60).min(bytes.len())])
                    .replace(|c: char| c.is_control(), ".");
            found.push(format!(
                "{}: a national number {number} in …{context}…",
                file.display()
            ));
        }
    }
    assert!(
        found.is_empty(),
        "held in clear at rest:\n{}",
        found.join("\n")
    );
}

/// The first run of exactly 13 digits shaped like a national number: a birth date
/// (YYYYMMDD, from 1900 to 2029: people already born) then five digits.
fn national_number(bytes: &[u8]) -> Option<String> {
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let run = &bytes[start..i];
        // Digits inside hexadecimal (digests, blind terms, ids) are not numbers.
        let hex_around = start
            .checked_sub(1)
            .and_then(|b| bytes.get(b))
            .into_iter()
            .chain(bytes.get(i))
            .any(u8::is_ascii_hexdigit);
        if run.len() == 13 && !hex_around {
            let text = String::from_utf8_lossy(run).into_owned();
            let (decade, month, day) = (&text[..3], &text[4..6], &text[6..8]);
            let month: u32 = month.parse().unwrap_or(0);
            let day: u32 = day.parse().unwrap_or(0);
            // People already born: 1900 to 2029.
            let born = decade.starts_with("19") || matches!(decade, "200" | "201" | "202");
            if born && (1..=12).contains(&month) && (1..=31).contains(&day) {
                return Some(text);
            }
        }
    }
    None
}

/// Polls `check` until it holds (30 s at most).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} never happened");
}

/// Clicks and waits until the browser has loaded the next page (the marker set on
/// the current one is gone).
pub async fn click_then_next_page(browser: &Browser, css: &str) {
    browser.eval("window.__santeBefore = true").await.unwrap();
    browser.click(css).await.unwrap();
    eventually("the next page", || async {
        browser
            .eval("return window.__santeBefore === true")
            .await
            .is_ok_and(|v| v == serde_json::Value::Bool(false))
    })
    .await;
}

/// Accepts each terms-of-use page shown (the general terms, then a service's).
pub async fn accept_terms_if_asked(browser: &Browser) {
    for _ in 0..3 {
        if browser
            .text("h1")
            .await
            .is_ok_and(|h| h.contains("Terms of use"))
        {
            click_then_next_page(browser, "#terms-accept").await;
        }
    }
}
