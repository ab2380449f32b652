//! The outbound relay: delivers the messaging service's queue to partner domains'
//! servers over SMTP, with STARTTLS and the server's certificate verified against
//! the configured authorities when the partner requires TLS.

use std::sync::Arc;
use std::time::Duration;

use sante_messaging::model::QueuedMessage;
use sante_messaging::{DeliveryOutcome, Messaging};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Longest reply read from a server.
const MAX_REPLY: usize = 64 * 1024;

/// The relay worker.
#[derive(Clone)]
pub struct Relay {
    messaging: Messaging,
    hostname: String,
    /// The authorities partners' certificates are checked against.
    tls: Arc<rustls::ClientConfig>,
    /// How often the queue is looked at.
    pub interval: Duration,
    /// Connection and reply deadline.
    pub timeout: Duration,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
}

/// A TLS client configuration trusting the authorities of `ca_pem` (TLS 1.2+).
pub fn client_tls(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &ca_pem[..]) {
        let cert = cert.map_err(|e| format!("partner CA certificate: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("partner CA certificate: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// One server reply: its code and text lines.
#[derive(Debug, Clone)]
struct Reply {
    code: u16,
    text: String,
}

impl Reply {
    fn positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    fn permanent(&self) -> bool {
        self.code >= 500
    }

    /// The enhanced status code in the reply, or one made from the basic code.
    fn status(&self) -> String {
        let first = self.text.split_whitespace().next().unwrap_or_default();
        let looks_enhanced = first.split('.').count() == 3
            && first
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if looks_enhanced {
            first.to_owned()
        } else if self.permanent() {
            "5.0.0".to_owned()
        } else {
            "4.0.0".to_owned()
        }
    }

    fn diagnostic(&self) -> String {
        format!("{} {}", self.code, self.text.replace(['\r', '\n'], " "))
    }
}

async fn read_reply<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> std::io::Result<Reply> {
    let mut text = String::new();
    loop {
        while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line).trim_end().to_owned();
            if line.len() < 3 {
                return Err(std::io::Error::other("malformed reply"));
            }
            let code: u16 = line[..3]
                .parse()
                .map_err(|_| std::io::Error::other("malformed reply code"))?;
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(line.get(4..).unwrap_or_default());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(Reply { code, text });
            }
        }
        if buf.len() > MAX_REPLY {
            return Err(std::io::Error::other("reply too long"));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("connection closed by the server"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    line: &str,
) -> std::io::Result<Reply> {
    stream.write_all(line.as_bytes()).await?;
    stream.write_all(b"\r\n").await?;
    stream.flush().await?;
    read_reply(stream, buf).await
}

/// The message with dot-stuffing (RFC 5321 §4.5.2) and the final `.`.
fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

impl Relay {
    pub fn new(messaging: Messaging, hostname: &str, tls: Arc<rustls::ClientConfig>) -> Relay {
        Relay {
            messaging,
            hostname: hostname.to_owned(),
            tls,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
        }
    }

    /// Delivers what is due until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.run_once().await {
                tracing::warn!(error = %e, "outbound queue run failed");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// One pass over the due messages; returns how many were attempted.
    pub async fn run_once(&self) -> Result<usize, sante_messaging::MessagingError> {
        let due = self.messaging.due_deliveries(100).await?;
        let n = due.len();
        for queued in due {
            let outcome = match tokio::time::timeout(self.timeout * 5, self.deliver(&queued)).await
            {
                Ok(outcome) => outcome,
                Err(_) => DeliveryOutcome::Temporary("delivery timed out".into()),
            };
            tracing::info!(queued = %queued.id, domain = %queued.domain, outcome = ?outcome_kind(&outcome), "outbound delivery attempt");
            self.messaging.delivery_done(&queued, outcome).await?;
        }
        Ok(n)
    }

    async fn deliver(&self, queued: &QueuedMessage) -> DeliveryOutcome {
        let Some(partner) = self.messaging.config().partner(&queued.domain).cloned() else {
            return DeliveryOutcome::Permanent {
                status: "5.7.1".into(),
                diagnostic: format!("{} is no longer a partner domain", queued.domain),
            };
        };
        let Some(relay) = partner.relay.clone() else {
            return DeliveryOutcome::Permanent {
                status: "5.7.1".into(),
                diagnostic: format!("no server configured for {}", queued.domain),
            };
        };
        let body = match self.messaging.queued_body(queued).await {
            Ok(b) => b,
            Err(e) => return DeliveryOutcome::Temporary(format!("queued message unreadable: {e}")),
        };
        let tcp = match tokio::time::timeout(self.timeout, TcpStream::connect(&relay)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return DeliveryOutcome::Temporary(format!("{relay}: {e}")),
            Err(_) => return DeliveryOutcome::Temporary(format!("{relay}: connection timed out")),
        };
        let mut buf = Vec::new();
        let mut tcp = tcp;
        let greeting = match read_reply(&mut tcp, &mut buf).await {
            Ok(r) => r,
            Err(e) => return DeliveryOutcome::Temporary(format!("{relay}: {e}")),
        };
        if !greeting.positive() {
            return failed(&greeting);
        }
        let ehlo = format!("EHLO {}", self.hostname);
        match command(&mut tcp, &mut buf, &ehlo).await {
            Ok(r) if r.positive() => {}
            Ok(r) => return failed(&r),
            Err(e) => return DeliveryOutcome::Temporary(format!("{relay}: {e}")),
        }
        if partner.tls {
            match command(&mut tcp, &mut buf, "STARTTLS").await {
                Ok(r) if r.code == 220 => {}
                Ok(r) => {
                    return DeliveryOutcome::Temporary(format!(
                        "{relay} does not offer TLS: {}",
                        r.diagnostic()
                    ));
                }
                Err(e) => return DeliveryOutcome::Temporary(format!("{relay}: {e}")),
            }
            let host = relay.rsplit_once(':').map(|(h, _)| h).unwrap_or(&relay);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let Ok(name) = rustls::pki_types::ServerName::try_from(host.to_owned()) else {
                return DeliveryOutcome::Temporary(format!("{relay}: invalid server name"));
            };
            let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
            let mut tls =
                match tokio::time::timeout(self.timeout, connector.connect(name, tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => return DeliveryOutcome::Temporary(format!("{relay}: TLS: {e}")),
                    Err(_) => return DeliveryOutcome::Temporary(format!("{relay}: TLS timed out")),
                };
            buf.clear();
            match command(&mut tls, &mut buf, &ehlo).await {
                Ok(r) if r.positive() => {}
                Ok(r) => return failed(&r),
                Err(e) => return DeliveryOutcome::Temporary(format!("{relay}: {e}")),
            }
            transaction(&mut tls, &mut buf, queued, &body, &relay).await
        } else {
            transaction(&mut tcp, &mut buf, queued, &body, &relay).await
        }
    }
}

fn outcome_kind(o: &DeliveryOutcome) -> &'static str {
    match o {
        DeliveryOutcome::Delivered => "delivered",
        DeliveryOutcome::Temporary(_) => "temporary_failure",
        DeliveryOutcome::Permanent { .. } => "permanent_failure",
        DeliveryOutcome::Partial { .. } => "partial",
    }
}

fn failed(reply: &Reply) -> DeliveryOutcome {
    if reply.permanent() {
        DeliveryOutcome::Permanent {
            status: reply.status(),
            diagnostic: reply.diagnostic(),
        }
    } else {
        DeliveryOutcome::Temporary(reply.diagnostic())
    }
}

async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    queued: &QueuedMessage,
    body: &[u8],
    relay: &str,
) -> DeliveryOutcome {
    let io = |e: std::io::Error| DeliveryOutcome::Temporary(format!("{relay}: {e}"));
    let mail = format!("MAIL FROM:<{}> SIZE={}", queued.sender, body.len());
    match command(stream, buf, &mail).await {
        Ok(r) if r.positive() => {}
        Ok(r) => return failed(&r),
        Err(e) => return io(e),
    }
    let mut accepted = 0;
    let mut refused = Vec::new();
    let mut temporary = None;
    for rcpt in &queued.recipients {
        match command(stream, buf, &format!("RCPT TO:<{rcpt}>")).await {
            Ok(r) if r.positive() => accepted += 1,
            Ok(r) => {
                if !r.permanent() {
                    temporary = Some(r.diagnostic());
                }
                refused.push((rcpt.clone(), r.status(), r.diagnostic()));
            }
            Err(e) => return io(e),
        }
    }
    if accepted == 0 {
        let _ = command(stream, buf, "QUIT").await;
        return match temporary {
            Some(t) => DeliveryOutcome::Temporary(t),
            None => DeliveryOutcome::Permanent {
                status: refused
                    .first()
                    .map(|r| r.1.clone())
                    .unwrap_or_else(|| "5.0.0".into()),
                diagnostic: refused.first().map(|r| r.2.clone()).unwrap_or_default(),
            },
        };
    }
    match command(stream, buf, "DATA").await {
        Ok(r) if r.code == 354 => {}
        Ok(r) => return failed(&r),
        Err(e) => return io(e),
    }
    if let Err(e) = stream.write_all(&dot_stuffed(body)).await {
        return io(e);
    }
    if let Err(e) = stream.flush().await {
        return io(e);
    }
    let end = match read_reply(stream, buf).await {
        Ok(r) => r,
        Err(e) => return io(e),
    };
    let _ = command(stream, buf, "QUIT").await;
    if !end.positive() {
        return failed(&end);
    }
    if refused.is_empty() {
        DeliveryOutcome::Delivered
    } else {
        DeliveryOutcome::Partial { refused }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_starting_with_a_dot_are_stuffed() {
        assert_eq!(dot_stuffed(b"a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
        assert_eq!(dot_stuffed(b".start"), b"..start\r\n.\r\n");
    }

    #[test]
    fn enhanced_status_codes_are_read_from_replies() {
        let r = Reply {
            code: 550,
            text: "5.1.1 no such user".into(),
        };
        assert_eq!(r.status(), "5.1.1");
        let r = Reply {
            code: 451,
            text: "try later".into(),
        };
        assert_eq!(r.status(), "4.0.0");
    }
}
