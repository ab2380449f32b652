//! The SMTP server (RFC 5321): submission for the platform's professionals (587 with
//! STARTTLS, 465 with implicit TLS; RFC 6409) and the inbound listener for partner
//! domains (25). Extensions: PIPELINING, SIZE, 8BITMIME, SMTPUTF8,
//! ENHANCEDSTATUSCODES, STARTTLS, AUTH (PLAIN, LOGIN, EXTERNAL; only over TLS).
//!
//! Commands are read line by line and parsed by `smtp-proto`; replies are written
//! once the client's pipelined commands are all read. The message is handed to
//! `sante-messaging`, and `250` is answered only when it is durably stored.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine;
use sante_messaging::{Envelope, MessagingError, Origin, Refusal, Route};
use sante_net::{IoStream, SessionHandler, SessionInfo};
use smtp_proto::request::receiver::DataReceiver;
use smtp_proto::{AUTH_EXTERNAL, AUTH_LOGIN, AUTH_PLAIN, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use crate::MailContext;
use crate::auth::{AuthError, MailSession, source};

mod reply;

pub use reply::refusal_reply;

/// Longest command line (RFC 5321 §4.5.3.1.4 says 512; extensions make it longer).
const MAX_LINE: usize = 4096;
const CHANNEL: &str = "smtp";

/// Which job a listener does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    /// Professionals' mail programs: authentication required, sender checked.
    Submission,
    /// Partner domains' servers: no authentication; mail for the platform's domain
    /// only. With `require_tls`, nothing is accepted before STARTTLS.
    Inbound { require_tls: bool },
}

/// An SMTP listener's session handler.
#[derive(Clone)]
pub struct SmtpServer {
    ctx: Arc<MailContext>,
    mode: SmtpMode,
}

impl SmtpServer {
    pub fn new(ctx: Arc<MailContext>, mode: SmtpMode) -> SmtpServer {
        SmtpServer { ctx, mode }
    }
}

impl SessionHandler for SmtpServer {
    fn handle(
        &self,
        stream: Box<dyn IoStream>,
        session: SessionInfo,
        shutdown: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let ctx = self.ctx.clone();
        let mode = self.mode;
        Box::pin(async move {
            let mut s = Session::new(ctx, mode, stream, session);
            if let Err(e) = s.run(shutdown).await {
                tracing::debug!(error = %e, "SMTP session ended");
            }
        })
    }
}

/// What ended a session early.
#[derive(Debug, thiserror::Error)]
enum End {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("closed")]
    Closed,
}

struct Session {
    ctx: Arc<MailContext>,
    mode: SmtpMode,
    stream: Option<Box<dyn IoStream>>,
    info: SessionInfo,
    input: Vec<u8>,
    output: Vec<u8>,
    helo: Option<String>,
    esmtp: bool,
    auth: Option<MailSession>,
    /// `Some(None)`: MAIL FROM:<> (null sender).
    from: Option<Option<String>>,
    declared_size: Option<u64>,
    recipients: Vec<(String, Route)>,
    /// RCPT commands refused because the message already had its most recipients.
    overshoot: usize,
    /// Replies 4xx and 5xx sent.
    errors: u32,
    auth_failures: u32,
    /// When the command being read must be whole.
    deadline: Instant,
}

impl Session {
    fn new(
        ctx: Arc<MailContext>,
        mode: SmtpMode,
        stream: Box<dyn IoStream>,
        info: SessionInfo,
    ) -> Session {
        Session {
            ctx,
            mode,
            stream: Some(stream),
            info,
            input: Vec::with_capacity(8192),
            output: Vec::with_capacity(1024),
            helo: None,
            esmtp: false,
            auth: None,
            from: None,
            declared_size: None,
            recipients: Vec::new(),
            overshoot: 0,
            errors: 0,
            auth_failures: 0,
            deadline: Instant::now(),
        }
    }

    /// How long a client has for each command: partners' servers the RFC's five
    /// minutes, mail programs less until they have authenticated.
    fn idle(&self) -> std::time::Duration {
        let limits = &self.ctx.limits;
        match self.mode {
            SmtpMode::Submission if self.auth.is_none() => limits.unauthenticated_idle,
            _ => limits.smtp_idle,
        }
    }

    /// Every refusal counts towards the session's error limit (as Postfix's
    /// `smtpd_hard_error_limit`), but for the closing replies themselves.
    fn reply(&mut self, code: u16, status: &str, text: &str) {
        if code >= 400 && code != 421 {
            self.errors += 1;
        }
        self.write_reply(code, status, text);
    }

    fn write_reply(&mut self, code: u16, status: &str, text: &str) {
        if status.is_empty() || !self.esmtp_codes() {
            self.output
                .extend_from_slice(format!("{code} {text}\r\n").as_bytes());
        } else {
            self.output
                .extend_from_slice(format!("{code} {status} {text}\r\n").as_bytes());
        }
    }

    /// Enhanced status codes are always sent (clients ignore what they do not know);
    /// a hook to honour HELO-only clients if ever needed.
    fn esmtp_codes(&self) -> bool {
        true
    }

    async fn flush(&mut self) -> Result<(), End> {
        if self.output.is_empty() {
            return Ok(());
        }
        let stream = self.stream.as_mut().ok_or(End::Closed)?;
        stream.write_all(&self.output).await?;
        stream.flush().await?;
        self.output.clear();
        Ok(())
    }

    /// Reads more input, waiting at most the idle timeout; `false` at the end.
    async fn fill(&mut self, shutdown: &CancellationToken) -> Result<bool, End> {
        self.flush().await?;
        let mut chunk = [0u8; 16 * 1024];
        let stream = self.stream.as_mut().ok_or(End::Closed)?;
        let read = tokio::select! {
            _ = shutdown.cancelled() => {
                self.reply(421, "4.3.2", "Service shutting down, try again later");
                self.flush().await?;
                return Ok(false);
            }
            read = tokio::time::timeout_at(self.deadline, stream.read(&mut chunk)) => read,
        };
        match read {
            Ok(Ok(0)) => Ok(false),
            Ok(Ok(n)) => {
                self.input.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Ok(Err(e)) => Err(e.into()),
            Err(_) => {
                self.reply(421, "4.4.2", "Idle for too long, closing connection");
                self.flush().await?;
                Ok(false)
            }
        }
    }

    /// The next line (with its CRLF), reading as needed, whole within the idle
    /// timeout; `None` at the end.
    async fn line(&mut self, shutdown: &CancellationToken) -> Result<Option<Vec<u8>>, End> {
        self.deadline = Instant::now() + self.idle();
        loop {
            if let Some(pos) = self.input.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.input.drain(..=pos).collect();
                return Ok(Some(line));
            }
            if self.input.len() > MAX_LINE {
                self.input.clear();
                self.reply(500, "5.5.6", "Line too long");
                self.flush().await?;
                self.ctx
                    .session_refused(&self.info, CHANNEL, "line_too_long")
                    .await;
                return Ok(None);
            }
            if !self.fill(shutdown).await? {
                return Ok(None);
            }
        }
    }

    async fn run(&mut self, shutdown: CancellationToken) -> Result<(), End> {
        let greeting = format!("{} ESMTP Sante", self.ctx.hostname);
        self.reply(220, "", &greeting);
        loop {
            // Replies wait while pipelined commands are still buffered.
            if !self.input.contains(&b'\n') {
                self.flush().await?;
            }
            if self.errors >= self.ctx.limits.max_errors {
                self.reply(421, "4.7.0", "Too many errors, closing connection");
                self.ctx
                    .session_refused(&self.info, CHANNEL, "too_many_errors")
                    .await;
                break;
            }
            let Some(line) = self.line(&shutdown).await? else {
                break;
            };
            let request = match Request::parse(&mut line.iter()) {
                Ok(r) => r.into_owned(),
                Err(e) => {
                    self.syntax_error(e);
                    continue;
                }
            };
            match request {
                Request::Ehlo { host } => self.ehlo(host, true),
                Request::Helo { host } => self.ehlo(host, false),
                Request::Lhlo { .. } => self.reply(502, "5.5.1", "LHLO is for LMTP"),
                Request::StartTls => {
                    if !self.start_tls().await? {
                        break;
                    }
                }
                Request::Auth {
                    mechanism,
                    initial_response,
                } => {
                    if !self.auth(mechanism, initial_response, &shutdown).await? {
                        break;
                    }
                }
                Request::Mail { from } => self.mail(from).await,
                Request::Rcpt { to } => self.rcpt(to).await,
                Request::Data => {
                    if !self.data(&shutdown).await? {
                        break;
                    }
                }
                Request::Bdat { .. } => self.reply(502, "5.5.1", "CHUNKING is not offered"),
                Request::Rset => {
                    self.reset();
                    self.reply(250, "2.0.0", "Ok");
                }
                Request::Noop { .. } => self.reply(250, "2.0.0", "Ok"),
                Request::Quit => {
                    self.reply(221, "2.0.0", "Bye");
                    break;
                }
                Request::Vrfy { .. } => self.reply(
                    252,
                    "2.5.2",
                    "Cannot VRFY; send the message and delivery will be attempted",
                ),
                Request::Expn { .. } => self.reply(502, "5.5.1", "EXPN is not offered"),
                Request::Help { .. } => {
                    self.reply(214, "2.0.0", "See RFC 5321; https://www.rfc-editor.org/")
                }
                Request::Etrn { .. } | Request::Atrn { .. } | Request::Burl { .. } => {
                    self.reply(502, "5.5.1", "Command not implemented")
                }
            }
        }
        self.flush().await?;
        if let Some(mut stream) = self.stream.take() {
            let _ = stream.shutdown().await;
        }
        Ok(())
    }

    fn syntax_error(&mut self, e: smtp_proto::Error) {
        match e {
            smtp_proto::Error::UnknownCommand => self.reply(500, "5.5.2", "Command not recognised"),
            smtp_proto::Error::InvalidSenderAddress => {
                self.reply(501, "5.1.7", "Invalid sender address")
            }
            smtp_proto::Error::InvalidRecipientAddress => {
                self.reply(501, "5.1.3", "Invalid recipient address")
            }
            smtp_proto::Error::SyntaxError { syntax } => {
                self.reply(501, "5.5.4", &format!("Syntax: {syntax}"))
            }
            smtp_proto::Error::InvalidParameter { param } => {
                self.reply(501, "5.5.4", &format!("Invalid parameter {param}"))
            }
            smtp_proto::Error::UnsupportedParameter { .. } => {
                self.reply(555, "5.5.4", "Unsupported parameter")
            }
            _ => self.reply(500, "5.5.2", "Syntax error"),
        }
    }

    fn reset(&mut self) {
        self.from = None;
        self.declared_size = None;
        self.recipients.clear();
        self.overshoot = 0;
    }

    fn can_start_tls(&self) -> bool {
        !self.info.tls && self.info.starttls.is_some()
    }

    fn ehlo(&mut self, host: String, extended: bool) {
        self.reset();
        self.helo = Some(host);
        self.esmtp = extended;
        let name = self.ctx.hostname.clone();
        if !extended {
            self.reply(250, "", &name);
            return;
        }
        let mut lines = vec![
            name,
            "PIPELINING".to_owned(),
            format!("SIZE {}", self.ctx.messaging.config().max_message_bytes),
            "8BITMIME".to_owned(),
            "SMTPUTF8".to_owned(),
            "ENHANCEDSTATUSCODES".to_owned(),
        ];
        if self.can_start_tls() {
            lines.push("STARTTLS".to_owned());
        }
        if self.mode == SmtpMode::Submission && self.info.tls && self.auth.is_none() {
            let mut auth = "AUTH PLAIN LOGIN".to_owned();
            if self.info.peer_certificate.is_some() {
                auth.push_str(" EXTERNAL");
            }
            lines.push(auth);
        }
        lines.push("HELP".to_owned());
        let last = lines.len() - 1;
        for (i, l) in lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            self.output
                .extend_from_slice(format!("250{sep}{l}\r\n").as_bytes());
        }
    }

    /// STARTTLS (RFC 3207). `false` ends the session.
    async fn start_tls(&mut self) -> Result<bool, End> {
        if !self.can_start_tls() {
            self.reply(503, "5.5.1", "TLS already active or not available");
            return Ok(true);
        }
        self.reply(220, "2.0.0", "Ready to start TLS");
        self.flush().await?;
        // Whatever the client sent after STARTTLS in clear is discarded: it cannot
        // be injected into the encrypted session.
        self.input.clear();
        let stream = self.stream.take().ok_or(End::Closed)?;
        match self.info.start_tls(stream, self.ctx.tls_timeout).await {
            Ok(tls) => {
                self.stream = Some(tls);
                // RFC 3207 §4.2: the client starts again from EHLO.
                self.helo = None;
                self.esmtp = false;
                self.reset();
                Ok(true)
            }
            Err(e) => {
                tracing::debug!(error = %e, "STARTTLS handshake failed");
                Ok(false)
            }
        }
    }

    /// AUTH (RFC 4954). `false` ends the session.
    async fn auth(
        &mut self,
        mechanism: u64,
        initial: String,
        shutdown: &CancellationToken,
    ) -> Result<bool, End> {
        if self.mode != SmtpMode::Submission {
            self.reply(503, "5.5.1", "Authentication is not offered here");
            return Ok(true);
        }
        if self.auth.is_some() {
            self.reply(503, "5.5.1", "Already authenticated");
            return Ok(true);
        }
        if self.helo.is_none() {
            self.reply(503, "5.5.1", "Send EHLO first");
            return Ok(true);
        }
        if !self.info.tls {
            // Refused before any credential is read: nothing crosses in clear.
            self.ctx.refuse_plaintext(&self.info, CHANNEL).await;
            self.reply(
                538,
                "5.7.11",
                "Encryption required for requested authentication mechanism",
            );
            return Ok(true);
        }
        if self.from.is_some() {
            self.reply(
                503,
                "5.5.1",
                "AUTH is not allowed during a mail transaction",
            );
            return Ok(true);
        }
        let result = match mechanism {
            AUTH_PLAIN => {
                let Some(response) = self.sasl_response(&initial, "", shutdown).await? else {
                    return Ok(true);
                };
                match crate::auth::plain_credentials(&response) {
                    Some((login, password)) => {
                        self.ctx
                            .authenticate_password(&self.info, CHANNEL, &login, &password)
                            .await
                    }
                    None => Err(AuthError::Invalid),
                }
            }
            AUTH_LOGIN => {
                let Some(login) = self
                    .sasl_response(&initial, "VXNlcm5hbWU6", shutdown)
                    .await?
                else {
                    return Ok(true);
                };
                let Some(password) = self.sasl_response("", "UGFzc3dvcmQ6", shutdown).await? else {
                    return Ok(true);
                };
                let login = String::from_utf8_lossy(&login).into_owned();
                let password = Zeroizing::new(String::from_utf8_lossy(&password).into_owned());
                self.ctx
                    .authenticate_password(&self.info, CHANNEL, &login, &password)
                    .await
            }
            AUTH_EXTERNAL => {
                // The authorisation identity, if any, must be empty: the certificate
                // says who it is.
                let Some(authzid) = self.sasl_response(&initial, "", shutdown).await? else {
                    return Ok(true);
                };
                if authzid.is_empty() {
                    self.ctx.authenticate_certificate(&self.info, CHANNEL).await
                } else {
                    Err(AuthError::Invalid)
                }
            }
            _ => {
                self.reply(504, "5.5.4", "Unrecognised authentication mechanism");
                return Ok(true);
            }
        };
        match result {
            Ok(session) => {
                tracing::info!(mailbox = %session.mailbox.id, "SMTP submission authenticated");
                self.auth = Some(session);
                self.reply(235, "2.7.0", "Authentication successful");
            }
            Err(AuthError::NotEncrypted) => {
                self.reply(538, "5.7.11", "Encryption required");
            }
            Err(AuthError::Invalid) => {
                self.reply(535, "5.7.8", "Authentication credentials invalid");
                return Ok(self.after_auth_failure().await);
            }
            Err(AuthError::NotAllowed(why)) => {
                self.reply(535, "5.7.8", &why);
                return Ok(self.after_auth_failure().await);
            }
            Err(AuthError::Unavailable) => {
                self.reply(454, "4.7.0", "Temporary authentication failure");
            }
        }
        Ok(true)
    }

    /// Counts a failed authentication; `false` once past the limit (the session
    /// ends).
    async fn after_auth_failure(&mut self) -> bool {
        self.auth_failures += 1;
        if self.auth_failures < self.ctx.limits.max_auth_failures {
            return true;
        }
        self.reply(421, "4.7.0", "Too many authentication failures");
        self.ctx
            .session_refused(&self.info, CHANNEL, "too_many_auth_failures")
            .await;
        false
    }

    /// A SASL response: the initial one if given (`=` is empty), else asked for with
    /// a 334 challenge. `None` when the client cancelled or sent garbage (replied).
    async fn sasl_response(
        &mut self,
        initial: &str,
        challenge: &str,
        shutdown: &CancellationToken,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, End> {
        let encoded = if !initial.is_empty() {
            Zeroizing::new(initial.to_owned())
        } else {
            self.reply(334, "", challenge);
            self.flush().await?;
            let Some(line) = self.line(shutdown).await? else {
                return Err(End::Closed);
            };
            let line = Zeroizing::new(line);
            let text = String::from_utf8_lossy(&line).trim().to_owned();
            if text == "*" {
                self.reply(501, "5.0.0", "Authentication cancelled");
                return Ok(None);
            }
            Zeroizing::new(text)
        };
        if encoded.as_str() == "=" {
            return Ok(Some(Zeroizing::new(Vec::new())));
        }
        match base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes()) {
            Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
            Err(_) => {
                self.reply(501, "5.5.2", "Invalid base64 data");
                Ok(None)
            }
        }
    }

    fn origin(&self) -> Option<Origin> {
        match self.mode {
            SmtpMode::Submission => self.auth.as_ref().map(|a| Origin::Submission {
                user: a.user.clone(),
                mailbox: a.mailbox.clone(),
            }),
            SmtpMode::Inbound { .. } => Some(Origin::Inbound),
        }
    }

    async fn mail(&mut self, from: smtp_proto::MailFrom<String>) {
        if self.helo.is_none() {
            self.reply(503, "5.5.1", "Send EHLO first");
            return;
        }
        if self.from.is_some() {
            self.reply(503, "5.5.1", "Nested MAIL command");
            return;
        }
        if let SmtpMode::Inbound { require_tls: true } = self.mode
            && !self.info.tls
        {
            self.reply(530, "5.7.0", "Must issue a STARTTLS command first");
            return;
        }
        if self.mode == SmtpMode::Submission {
            let Some(session) = &self.auth else {
                self.reply(530, "5.7.0", "Authentication required");
                return;
            };
            if !self.ctx.still_valid(session).await {
                self.auth = None;
                self.reply(
                    530,
                    "5.7.0",
                    "Authentication required: the credential is no longer valid",
                );
                return;
            }
        }
        let size = u64::try_from(from.size).unwrap_or(u64::MAX);
        if from.size > 0 && size > self.ctx.messaging.config().max_message_bytes {
            self.reply(
                552,
                "5.3.4",
                "Message size exceeds fixed maximum message size",
            );
            return;
        }
        let Some(origin) = self.origin() else {
            self.reply(530, "5.7.0", "Authentication required");
            return;
        };
        let address = (!from.address.is_empty()).then(|| from.address.clone());
        match self
            .ctx
            .messaging
            .check_sender(&origin, address.as_deref(), self.info.peer.ip())
            .await
        {
            Ok(()) => {
                self.from = Some(address);
                self.declared_size = (from.size > 0).then_some(size);
                self.reply(250, "2.1.0", "Sender ok");
            }
            Err(refusal) => {
                self.trace_refusal(&origin, address.as_deref(), &[], &refusal)
                    .await;
                let (code, status, text) = refusal_reply(&refusal);
                self.reply(code, status, &text);
            }
        }
    }

    async fn rcpt(&mut self, to: smtp_proto::RcptTo<String>) {
        let Some(from) = self.from.clone() else {
            self.reply(503, "5.5.1", "Need MAIL command first");
            return;
        };
        let max = self.ctx.messaging.config().max_recipients;
        if self.recipients.len() >= max {
            // RFC 5321 §4.5.3.1.10: a client is told to send the rest in another
            // message; only recipients far beyond the limit count as errors.
            self.overshoot += 1;
            if self.overshoot > max {
                self.reply(452, "4.5.3", "Too many recipients");
            } else {
                self.write_reply(452, "4.5.3", "Too many recipients");
            }
            return;
        }
        let Some(origin) = self.origin() else {
            self.reply(530, "5.7.0", "Authentication required");
            return;
        };
        match self
            .ctx
            .messaging
            .check_recipient(&origin, &to.address, self.declared_size)
            .await
        {
            Ok(route) => {
                self.recipients.push((to.address, route));
                self.reply(250, "2.1.5", "Recipient ok");
            }
            Err(refusal) => {
                self.trace_refusal(&origin, from.as_deref(), &[to.address], &refusal)
                    .await;
                let (code, status, text) = refusal_reply(&refusal);
                self.reply(code, status, &text);
            }
        }
    }

    async fn trace_refusal(
        &mut self,
        origin: &Origin,
        from: Option<&str>,
        recipients: &[String],
        refusal: &Refusal,
    ) {
        tracing::info!(refusal = refusal.code(), "SMTP command refused");
        if let Err(e) = self
            .ctx
            .messaging
            .refused(
                origin,
                from,
                recipients,
                self.declared_size.unwrap_or(0),
                refusal,
                &source(&self.info, CHANNEL),
            )
            .await
        {
            tracing::error!(error = %e, "cannot trace an SMTP refusal");
        }
    }

    /// DATA. `false` ends the session.
    async fn data(&mut self, shutdown: &CancellationToken) -> Result<bool, End> {
        let Some(from) = self.from.clone() else {
            self.reply(503, "5.5.1", "Need MAIL command first");
            return Ok(true);
        };
        if self.recipients.is_empty() {
            self.reply(554, "5.5.1", "No valid recipients");
            return Ok(true);
        }
        self.reply(354, "", "End data with <CR><LF>.<CR><LF>");
        self.flush().await?;
        let max = self.ctx.messaging.config().max_message_bytes as usize;
        let mut receiver = DataReceiver::new();
        let mut message: Vec<u8> =
            Vec::with_capacity(self.declared_size.unwrap_or(64 * 1024).min(max as u64) as usize);
        let mut too_big = false;
        loop {
            let mut it = self.input.iter();
            let before = it.len();
            let done = receiver.ingest(&mut it, &mut message);
            let consumed = before - it.len();
            self.input.drain(..consumed);
            if message.len() > max {
                too_big = true;
                // Keep the last byte: the end-of-data detection looks at it.
                let keep = message.len().saturating_sub(2);
                message.drain(..keep);
            }
            if done {
                break;
            }
            // RFC 5321 §4.5.3.2.5-6: each block of data within the idle timeout.
            self.deadline = Instant::now() + self.idle();
            if !self.fill(shutdown).await? {
                return Ok(false);
            }
        }
        let recipients = std::mem::take(&mut self.recipients);
        self.from = None;
        self.declared_size = None;
        let Some(origin) = self.origin() else {
            self.reply(530, "5.7.0", "Authentication required");
            return Ok(true);
        };
        if too_big {
            let names: Vec<String> = recipients.iter().map(|(r, _)| r.clone()).collect();
            self.trace_refusal(&origin, from.as_deref(), &names, &Refusal::TooBig)
                .await;
            self.reply(
                552,
                "5.3.4",
                "Message size exceeds fixed maximum message size",
            );
            return Ok(true);
        }
        let envelope = Envelope {
            origin,
            from,
            recipients,
            helo: self.helo.clone().unwrap_or_default(),
            peer: self.info.peer.ip(),
            session: self.info.id.simple().to_string(),
        };
        match self
            .ctx
            .messaging
            .accept(&envelope, &message, &source(&self.info, CHANNEL))
            .await
        {
            Ok(accepted) => {
                self.reply(250, "2.0.0", &format!("Ok: queued as {}", accepted.id));
            }
            Err(MessagingError::Refused(refusal)) => {
                let (code, status, text) = refusal_reply(&refusal);
                self.reply(code, status, &text);
                if refusal == Refusal::BareLineBreak {
                    // What the client sent after the ending it meant may be another
                    // message's commands: none of it is read.
                    self.flush().await?;
                    return Ok(false);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "message not accepted");
                self.reply(451, "4.3.0", "Temporary failure, try again later");
            }
        }
        Ok(true)
    }
}
