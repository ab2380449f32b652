//! The central anti-virus (MSG-15): every message is scanned by ClamAV's daemon,
//! `clamd`, over its socket with the `INSTREAM` command, before it is accepted.
//! A message that cannot be scanned is not accepted either (a temporary refusal).

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Chunks sent to clamd; its `StreamMaxLength` bounds the total.
const CHUNK: usize = 64 * 1024;
/// Longest reply read from clamd.
const MAX_REPLY: usize = 4096;

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddress {
    /// `LocalSocket` in clamd.conf (Debian: `/run/clamav/clamd.ctl`).
    Unix(PathBuf),
    /// `TCPSocket`/`TCPAddr`, `host:port`.
    Tcp(String),
}

impl ClamdAddress {
    /// Reads `unix:/path` or `tcp:host:port`.
    pub fn parse(text: &str) -> Result<ClamdAddress, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs the socket's path".into());
            }
            Ok(ClamdAddress::Unix(PathBuf::from(path)))
        } else if let Some(addr) = text.strip_prefix("tcp:") {
            if !addr.contains(':') {
                return Err("tcp: needs host:port".into());
            }
            Ok(ClamdAddress::Tcp(addr.to_owned()))
        } else {
            Err(format!(
                "{text:?}: expected unix:/path/to/clamd.ctl or tcp:host:port"
            ))
        }
    }
}

impl std::fmt::Display for ClamdAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClamdAddress::Unix(p) => write!(f, "unix:{}", p.display()),
            ClamdAddress::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// What clamd said of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The signature's name, as clamd reports it.
    Infected(String),
}

/// Why a message could not be scanned.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("clamd at {0} cannot be reached: {1}")]
    Unreachable(String, std::io::Error),
    #[error("clamd did not answer within {0:?}")]
    Timeout(Duration),
    #[error("clamd refused the scan: {0}")]
    Refused(String),
}

impl sante_types::Coded for ScanError {
    fn code(&self) -> &'static str {
        match self {
            ScanError::Unreachable(..) => "MSG020",
            ScanError::Timeout(_) => "MSG021",
            ScanError::Refused(_) => "MSG022",
        }
    }

    fn kind(&self) -> sante_types::ErrorKind {
        sante_types::ErrorKind::Unavailable
    }
}

/// A clamd client.
#[derive(Debug, Clone)]
pub struct Clamd {
    address: ClamdAddress,
    timeout: Duration,
}

impl Clamd {
    pub fn new(address: ClamdAddress, timeout: Duration) -> Clamd {
        Clamd { address, timeout }
    }

    pub fn address(&self) -> &ClamdAddress {
        &self.address
    }

    /// Scans `content`.
    pub async fn scan(&self, content: &[u8]) -> Result<Verdict, ScanError> {
        match tokio::time::timeout(self.timeout, self.scan_inner(content)).await {
            Ok(result) => result,
            Err(_) => Err(ScanError::Timeout(self.timeout)),
        }
    }

    /// Whether clamd answers `PING`.
    pub async fn ping(&self) -> Result<(), ScanError> {
        let run = async {
            let reply = match &self.address {
                ClamdAddress::Unix(path) => {
                    let stream = tokio::net::UnixStream::connect(path)
                        .await
                        .map_err(|e| self.unreachable(e))?;
                    command(stream, b"zPING\0", &[]).await
                }
                ClamdAddress::Tcp(addr) => {
                    let stream = tokio::net::TcpStream::connect(addr)
                        .await
                        .map_err(|e| self.unreachable(e))?;
                    command(stream, b"zPING\0", &[]).await
                }
            }
            .map_err(|e| self.unreachable(e))?;
            if reply == "PONG" {
                Ok(())
            } else {
                Err(ScanError::Refused(reply))
            }
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(ScanError::Timeout(self.timeout)),
        }
    }

    async fn scan_inner(&self, content: &[u8]) -> Result<Verdict, ScanError> {
        let reply = match &self.address {
            ClamdAddress::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|e| self.unreachable(e))?;
                command(stream, b"zINSTREAM\0", content).await
            }
            ClamdAddress::Tcp(addr) => {
                let stream = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(|e| self.unreachable(e))?;
                command(stream, b"zINSTREAM\0", content).await
            }
        }
        .map_err(|e| self.unreachable(e))?;
        parse_reply(&reply)
    }

    fn unreachable(&self, e: std::io::Error) -> ScanError {
        ScanError::Unreachable(self.address.to_string(), e)
    }
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    verb: &[u8],
    content: &[u8],
) -> std::io::Result<String> {
    stream.write_all(verb).await?;
    if verb.starts_with(b"zINSTREAM") {
        for chunk in content.chunks(CHUNK) {
            let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            stream.write_all(&len.to_be_bytes()).await?;
            stream.write_all(chunk).await?;
        }
        stream.write_all(&0u32.to_be_bytes()).await?;
    }
    stream.flush().await?;
    let mut reply = Vec::new();
    let mut limited = (&mut stream).take(MAX_REPLY as u64);
    limited.read_to_end(&mut reply).await?;
    while reply.last() == Some(&0) {
        reply.pop();
    }
    Ok(String::from_utf8_lossy(&reply).trim().to_owned())
}

/// clamd's limits on what it unpacks (archives within archives, bombs that inflate a
/// small attachment to gigabytes), and the setting that makes a file beyond them a
/// finding (`Heuristics.Limits.Exceeded.*`) instead of a silent pass: without it,
/// a virus nested deeper than `MaxRecursion` would be delivered. The development
/// clamd uses them; a production clamd.conf needs the same lines (docs/security.md).
pub const ARCHIVE_LIMITS: &str = "MaxRecursion 10\nMaxFiles 10000\nMaxEmbeddedPE 10M\n\
MaxFileSize 100M\nMaxScanSize 400M\nAlertExceedsMax yes\n";

/// Reads `stream: OK`, `stream: Name FOUND` or `... ERROR`.
fn parse_reply(reply: &str) -> Result<Verdict, ScanError> {
    let body = reply.strip_prefix("stream: ").unwrap_or(reply);
    if body == "OK" {
        Ok(Verdict::Clean)
    } else if let Some(name) = body.strip_suffix(" FOUND") {
        Ok(Verdict::Infected(name.trim().to_owned()))
    } else {
        Err(ScanError::Refused(reply.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read() {
        assert_eq!(parse_reply("stream: OK").unwrap(), Verdict::Clean);
        assert_eq!(
            parse_reply("stream: Sante.Test.UNOFFICIAL FOUND").unwrap(),
            Verdict::Infected("Sante.Test.UNOFFICIAL".into())
        );
        assert!(parse_reply("INSTREAM size limit exceeded. ERROR").is_err());
    }

    #[test]
    fn addresses_are_read() {
        assert_eq!(
            ClamdAddress::parse("unix:/run/clamav/clamd.ctl").unwrap(),
            ClamdAddress::Unix("/run/clamav/clamd.ctl".into())
        );
        assert_eq!(
            ClamdAddress::parse("tcp:127.0.0.1:3310").unwrap(),
            ClamdAddress::Tcp("127.0.0.1:3310".into())
        );
        assert!(ClamdAddress::parse("/run/clamav/clamd.ctl").is_err());
        assert!(ClamdAddress::parse("tcp:localhost").is_err());
    }
}

/// A clamd of its own for development, the demo and tests: the virus databases
/// cannot be downloaded there, so it loads test signatures only (the EICAR test file
/// and [`dev::TEST_SIGNATURE`]). Never used by `serve`, which talks to the operator's
/// clamd with its regularly updated signatures.
#[cfg(feature = "devclamd")]
pub mod dev {
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use super::{ARCHIVE_LIMITS, ClamdAddress};

    /// Content that the development signatures report as infected.
    pub const TEST_SIGNATURE: &str = "SANTE-ANTIVIRUS-TEST-SIGNATURE-1c4f9e";
    /// Its name as clamd reports it.
    pub const TEST_SIGNATURE_NAME: &str = "Sante.Test.Signature.UNOFFICIAL";
    /// The standard anti-virus test file.
    pub const EICAR: &str = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

    /// A running development clamd; stopped when dropped.
    #[derive(Debug)]
    pub struct DevClamd {
        child: Child,
        socket: PathBuf,
    }

    impl DevClamd {
        /// Where it listens.
        pub fn address(&self) -> ClamdAddress {
            ClamdAddress::Unix(self.socket.clone())
        }

        /// Starts `clamd` with its configuration, signatures and socket under `dir`,
        /// and waits (at most `wait`) until the socket exists.
        pub fn start(dir: &Path, wait: Duration) -> Result<DevClamd, String> {
            let binary = ["/usr/sbin/clamd", "/usr/bin/clamd"]
                .into_iter()
                .map(Path::new)
                .find(|p| p.exists())
                .ok_or("clamd is not installed (Debian: apt install clamav-daemon)")?;
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            // clamd wants absolute paths in its configuration.
            let dir = &std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let db = dir.join("signatures");
            std::fs::create_dir_all(&db).map_err(|e| format!("{}: {e}", db.display()))?;
            let hex = |text: &str| -> String { text.bytes().map(|b| format!("{b:02x}")).collect() };
            // Body signatures match anywhere in a message, also inside a MIME part
            // (the EICAR hash below only matches the bare 68-byte file).
            std::fs::write(
                db.join("sante-test.ndb"),
                format!(
                    "Sante.Test.Signature:0:*:{}\nEicar-Test-Signature-Body:0:*:{}\n",
                    hex(TEST_SIGNATURE),
                    hex(EICAR)
                ),
            )
            .map_err(|e| e.to_string())?;
            std::fs::write(
                db.join("sante-eicar.hdb"),
                "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n",
            )
            .map_err(|e| e.to_string())?;
            let socket = dir.join("clamd.sock");
            let pid_file = dir.join("clamd.pid");
            stop_left_over(&pid_file);
            let _ = std::fs::remove_file(&socket);
            let config = dir.join("clamd.conf");
            std::fs::write(
                &config,
                format!(
                    "Foreground yes\nLocalSocket {}\nPidFile {}\nDatabaseDirectory {}\n\
                     LogFile {}\nStreamMaxLength 120M\nMaxThreads 4\n{ARCHIVE_LIMITS}",
                    socket.display(),
                    pid_file.display(),
                    db.display(),
                    dir.join("clamd.log").display()
                ),
            )
            .map_err(|e| e.to_string())?;
            // The development anti-virus is a clamd of its own, for the demo and tests.
            #[expect(clippy::disallowed_methods)]
            let child = Command::new(binary)
                .arg(format!("--config-file={}", config.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("{}: {e}", binary.display()))?;
            let mut clamd = DevClamd { child, socket };
            let deadline = Instant::now() + wait;
            while !clamd.socket.exists() {
                if let Ok(Some(status)) = clamd.child.try_wait() {
                    return Err(format!(
                        "clamd exited ({status}); see {}",
                        dir.join("clamd.log").display()
                    ));
                }
                if Instant::now() > deadline {
                    return Err("clamd did not open its socket in time".into());
                }
                // clamd signals nothing but its socket appearing: poll for it.
                #[expect(clippy::disallowed_methods)]
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(clamd)
        }
    }

    /// A server killed without its destructors leaves its clamd running: stop that one
    /// before starting the next on the same socket.
    fn stop_left_over(pid_file: &Path) {
        let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
        else {
            return;
        };
        let is_clamd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|cmd| cmd.windows(5).any(|w| w == b"clamd"));
        if is_clamd {
            let signal = |sig: &str| {
                #[expect(clippy::disallowed_methods)]
                let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
            };
            signal("-TERM");
            // The next clamd must not start while this one still holds the socket.
            // Alive: its /proc entry is there and it is not a zombie left unreaped.
            let alive = || {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                    !stat
                        .rsplit(')')
                        .next()
                        .is_some_and(|r| r.trim_start().starts_with('Z'))
                })
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while alive() && Instant::now() < deadline {
                #[expect(clippy::disallowed_methods)]
                std::thread::sleep(Duration::from_millis(50));
            }
            if alive() {
                signal("-KILL");
            }
        }
        let _ = std::fs::remove_file(pid_file);
    }

    impl Drop for DevClamd {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
