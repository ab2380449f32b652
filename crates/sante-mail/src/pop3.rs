//! The POP3 server (RFC 1939) on implicit TLS (995): USER/PASS and SASL PLAIN
//! (RFC 5034) with application passwords, CAPA (RFC 2449), UIDL, TOP, RESP-CODES.
//! It serves the inbox; messages marked with DELE are expunged at QUIT.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine;
use sante_messaging::FlagChange;
use sante_messaging::model::{DELETED, MessageEntry};
use sante_net::{IoStream, SessionHandler, SessionInfo};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use crate::MailContext;
use crate::auth::{AuthError, MailSession, source};
use crate::wire::{Waited, Wire};

const MAX_LINE: usize = 1024;
const CHANNEL: &str = "pop3";

/// A POP3 listener's session handler.
#[derive(Clone)]
pub struct Pop3Server {
    ctx: Arc<MailContext>,
}

impl Pop3Server {
    pub fn new(ctx: Arc<MailContext>) -> Pop3Server {
        Pop3Server { ctx }
    }
}

impl SessionHandler for Pop3Server {
    fn handle(
        &self,
        stream: Box<dyn IoStream>,
        session: SessionInfo,
        shutdown: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let ctx = self.ctx.clone();
        Box::pin(async move {
            let idle = ctx.limits.unauthenticated_idle;
            let mut s = Session {
                ctx,
                wire: Wire::new(stream, idle),
                info: session,
                user: None,
                auth: None,
                maildrop: Vec::new(),
                folder: 0,
                deleted: Vec::new(),
                failures: 0,
                errors: 0,
            };
            if let Err(e) = s.run(shutdown).await {
                tracing::debug!(error = %e, "POP3 session ended");
            }
        })
    }
}

struct Session {
    ctx: Arc<MailContext>,
    wire: Wire,
    info: SessionInfo,
    /// The name given with USER, waiting for PASS.
    user: Option<String>,
    auth: Option<MailSession>,
    /// The inbox as it was when the session began (message numbers are fixed).
    maildrop: Vec<MessageEntry>,
    folder: u32,
    deleted: Vec<bool>,
    /// Failed authentications.
    failures: u32,
    /// Commands answered `-ERR`.
    errors: u32,
}

impl Session {
    fn ok(&mut self, text: &str) {
        self.wire
            .output
            .extend_from_slice(format!("+OK {text}\r\n").as_bytes());
    }

    fn err(&mut self, text: &str) {
        self.errors += 1;
        self.wire
            .output
            .extend_from_slice(format!("-ERR {text}\r\n").as_bytes());
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.wire.flush().await
    }

    async fn line(&mut self, shutdown: &CancellationToken) -> std::io::Result<Option<String>> {
        self.wire.begin_command();
        loop {
            if let Some(pos) = self.wire.line_end() {
                let raw: Vec<u8> = self.wire.input.drain(..=pos).collect();
                let raw = Zeroizing::new(raw);
                return Ok(Some(
                    String::from_utf8_lossy(&raw)
                        .trim_end_matches(['\r', '\n'])
                        .to_owned(),
                ));
            }
            if self.wire.input.len() > MAX_LINE {
                self.err("line too long");
                self.flush().await?;
                return Ok(None);
            }
            match self.wire.read_more(shutdown).await? {
                Waited::Data => continue,
                Waited::Closed => return Ok(None),
                Waited::Shutdown => self.err("[SYS/TEMP] server shutting down"),
                Waited::Idle => self.err("idle for too long"),
            }
            self.flush().await?;
            return Ok(None);
        }
    }

    async fn run(&mut self, shutdown: CancellationToken) -> std::io::Result<()> {
        let greeting = format!("{} POP3 Sante ready", self.ctx.hostname);
        self.ok(&greeting);
        while let Some(line) = self.line(&shutdown).await? {
            if self.errors >= self.ctx.limits.max_errors {
                self.err("too many invalid commands");
                self.ctx
                    .session_refused(&self.info, CHANNEL, "too_many_errors")
                    .await;
                break;
            }
            let (verb, args) = match line.split_once(' ') {
                Some((v, a)) => (v.to_ascii_uppercase(), a.to_owned()),
                None => (line.to_ascii_uppercase(), String::new()),
            };
            let args = Zeroizing::new(args);
            if verb == "QUIT" {
                self.quit().await;
                break;
            }
            let Some(auth) = self.auth.as_ref() else {
                if !self.authorization(&verb, &args, &shutdown).await? {
                    break;
                }
                continue;
            };
            if !self.ctx.still_valid(auth).await {
                self.err("[AUTH] the credential is no longer valid");
                break;
            }
            self.transaction(&verb, &args).await;
        }
        self.flush().await?;
        let _ = self.wire.stream.shutdown().await;
        Ok(())
    }

    fn capa(&mut self) {
        self.ok("Capability list follows");
        for c in [
            "USER",
            "SASL PLAIN",
            "UIDL",
            "TOP",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "PIPELINING",
            "IMPLEMENTATION Sante",
            ".",
        ] {
            self.wire.output.extend_from_slice(c.as_bytes());
            self.wire.output.extend_from_slice(b"\r\n");
        }
    }

    /// The AUTHORIZATION state. `false` ends the session.
    async fn authorization(
        &mut self,
        verb: &str,
        args: &str,
        shutdown: &CancellationToken,
    ) -> std::io::Result<bool> {
        match verb {
            "CAPA" => self.capa(),
            "USER" => {
                if args.is_empty() {
                    self.err("USER needs a name");
                } else {
                    self.user = Some(args.to_owned());
                    self.ok("send PASS");
                }
            }
            "PASS" => {
                let Some(login) = self.user.take() else {
                    self.err("USER first");
                    return Ok(true);
                };
                let result = self
                    .ctx
                    .authenticate_password(&self.info, CHANNEL, &login, args)
                    .await;
                return self.logged_in(result).await;
            }
            "AUTH" => {
                let mut parts = args.splitn(2, ' ');
                let mechanism = parts.next().unwrap_or_default().to_ascii_uppercase();
                if mechanism != "PLAIN" {
                    self.err("only SASL PLAIN is offered");
                    return Ok(true);
                }
                let initial = match parts.next() {
                    Some(i) => Zeroizing::new(i.to_owned()),
                    None => {
                        self.wire.output.extend_from_slice(b"+ \r\n");
                        let Some(l) = self.line(shutdown).await? else {
                            return Ok(false);
                        };
                        Zeroizing::new(l)
                    }
                };
                let decoded = Zeroizing::new(
                    base64::engine::general_purpose::STANDARD
                        .decode(initial.trim())
                        .unwrap_or_default(),
                );
                let Some((login, password)) = crate::auth::plain_credentials(&decoded) else {
                    self.err("[AUTH] malformed PLAIN response");
                    return Ok(true);
                };
                let result = self
                    .ctx
                    .authenticate_password(&self.info, CHANNEL, &login, &password)
                    .await;
                return self.logged_in(result).await;
            }
            "NOOP" => self.ok(""),
            _ => self.err("authenticate first (USER/PASS or AUTH PLAIN)"),
        }
        Ok(true)
    }

    async fn logged_in(&mut self, result: Result<MailSession, AuthError>) -> std::io::Result<bool> {
        match result {
            Ok(session) => {
                let messaging = &self.ctx.messaging;
                let inbox = match messaging.folder(&session.mailbox.id, "INBOX").await {
                    Ok((f, _)) => f,
                    Err(e) => {
                        tracing::error!(error = %e, "POP3: inbox unavailable");
                        self.err("[SYS/TEMP] mailbox unavailable");
                        return Ok(false);
                    }
                };
                match messaging.messages(&session.mailbox.id, inbox.number).await {
                    Ok((_, entries)) => {
                        self.folder = inbox.number;
                        self.deleted = vec![false; entries.len()];
                        self.maildrop = entries;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "POP3: inbox unavailable");
                        self.err("[SYS/TEMP] mailbox unavailable");
                        return Ok(false);
                    }
                }
                self.auth = Some(session);
                self.wire.set_idle(self.ctx.limits.pop3_idle);
                let n = self.maildrop.len();
                self.ok(&format!("{n} messages"));
                Ok(true)
            }
            Err(AuthError::NotEncrypted) => {
                self.err("[AUTH] encryption required");
                Ok(false)
            }
            Err(AuthError::Unavailable) => {
                self.err("[SYS/TEMP] try again later");
                Ok(true)
            }
            Err(AuthError::NotAllowed(why)) => {
                self.err(&format!("[AUTH] {why}"));
                Ok(self.after_failure().await)
            }
            Err(AuthError::Invalid) => {
                self.err("[AUTH] authentication failed");
                Ok(self.after_failure().await)
            }
        }
    }

    /// Counts a failed authentication; `false` once past the limit (the session
    /// ends).
    async fn after_failure(&mut self) -> bool {
        self.failures += 1;
        if self.failures < self.ctx.limits.max_auth_failures {
            return true;
        }
        self.ctx
            .session_refused(&self.info, CHANNEL, "too_many_auth_failures")
            .await;
        false
    }

    fn message(&self, arg: &str) -> Result<usize, &'static str> {
        let n: usize = arg.trim().parse().map_err(|_| "no such message")?;
        if n == 0 || n > self.maildrop.len() || self.deleted[n - 1] {
            return Err("no such message");
        }
        Ok(n - 1)
    }

    fn uidl(&self, i: usize) -> String {
        // Unique and never reused in this mailbox: the folder's UIDVALIDITY is part
        // of the mailbox's identity, the UID never comes back.
        format!("{}.{}", self.folder, self.maildrop[i].uid)
    }

    async fn transaction(&mut self, verb: &str, args: &str) {
        match verb {
            "CAPA" => self.capa(),
            "STAT" => {
                let (n, size) = self
                    .maildrop
                    .iter()
                    .zip(&self.deleted)
                    .filter(|(_, d)| !**d)
                    .fold((0, 0), |(n, s), (e, _)| (n + 1, s + e.size));
                self.ok(&format!("{n} {size}"));
            }
            "LIST" | "UIDL" => {
                let uidl = verb == "UIDL";
                if args.trim().is_empty() {
                    self.ok("listing follows");
                    for i in 0..self.maildrop.len() {
                        if self.deleted[i] {
                            continue;
                        }
                        let value = if uidl {
                            self.uidl(i)
                        } else {
                            self.maildrop[i].size.to_string()
                        };
                        self.wire
                            .output
                            .extend_from_slice(format!("{} {value}\r\n", i + 1).as_bytes());
                    }
                    self.wire.output.extend_from_slice(b".\r\n");
                } else {
                    match self.message(args) {
                        Ok(i) => {
                            let value = if uidl {
                                self.uidl(i)
                            } else {
                                self.maildrop[i].size.to_string()
                            };
                            self.ok(&format!("{} {value}", i + 1));
                        }
                        Err(e) => self.err(e),
                    }
                }
            }
            "RETR" | "TOP" => {
                let mut parts = args.split_whitespace();
                let number = parts.next().unwrap_or_default().to_owned();
                let lines: Option<usize> = if verb == "TOP" {
                    match parts.next().and_then(|n| n.parse().ok()) {
                        Some(n) => Some(n),
                        None => {
                            self.err("TOP needs a message and a number of lines");
                            return;
                        }
                    }
                } else {
                    None
                };
                let i = match self.message(&number) {
                    Ok(i) => i,
                    Err(e) => {
                        self.err(e);
                        return;
                    }
                };
                let mailbox = self
                    .auth
                    .as_ref()
                    .map(|a| a.mailbox.id.clone())
                    .unwrap_or_default();
                match self.ctx.messaging.body(&mailbox, &self.maildrop[i]).await {
                    Ok(body) => {
                        self.ok("message follows");
                        let body = match lines {
                            Some(n) => top(&body, n),
                            None => &body[..],
                        };
                        byte_stuff(body, &mut self.wire.output);
                        if verb == "RETR" {
                            self.mark_seen(i).await;
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "POP3: message unreadable");
                        self.err("[SYS/TEMP] message unavailable");
                    }
                }
            }
            "DELE" => match self.message(args) {
                Ok(i) => {
                    self.deleted[i] = true;
                    self.ok("marked");
                }
                Err(e) => self.err(e),
            },
            "RSET" => {
                self.deleted.iter_mut().for_each(|d| *d = false);
                self.ok("");
            }
            "NOOP" => self.ok(""),
            "USER" | "PASS" | "AUTH" => self.err("already authenticated"),
            _ => self.err("unknown command"),
        }
    }

    async fn mark_seen(&mut self, i: usize) {
        let Some(auth) = &self.auth else { return };
        let _ = self
            .ctx
            .messaging
            .set_flags(
                &auth.mailbox.id,
                self.folder,
                &[self.maildrop[i].uid],
                FlagChange::Add,
                &[sante_messaging::model::SEEN.to_owned()],
                None,
            )
            .await;
    }

    /// QUIT: the UPDATE state expunges what was marked.
    async fn quit(&mut self) {
        let Some(auth) = self.auth.clone() else {
            self.ok("bye");
            return;
        };
        let uids: Vec<u32> = self
            .maildrop
            .iter()
            .zip(&self.deleted)
            .filter(|(_, d)| **d)
            .map(|(e, _)| e.uid)
            .collect();
        if uids.is_empty() {
            self.ok("bye");
            return;
        }
        let messaging = &self.ctx.messaging;
        let marked = messaging
            .set_flags(
                &auth.mailbox.id,
                self.folder,
                &uids,
                FlagChange::Add,
                &[DELETED.to_owned()],
                None,
            )
            .await;
        let removed = match marked {
            Ok(_) => {
                messaging
                    .expunge(
                        &auth.user,
                        &auth.mailbox.id,
                        self.folder,
                        Some(&uids),
                        &source(&self.info, CHANNEL),
                    )
                    .await
            }
            Err(e) => Err(e),
        };
        match removed {
            Ok(gone) => self.ok(&format!("{} messages deleted; bye", gone.len())),
            Err(e) => {
                tracing::error!(error = %e, "POP3: deletion failed");
                self.err("[SYS/TEMP] some messages were not deleted");
            }
        }
    }
}

/// The header section and the first `lines` lines of the body.
pub(crate) fn top(message: &[u8], lines: usize) -> &[u8] {
    let body_start = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(message.len());
    let mut end = body_start;
    for _ in 0..lines {
        match message[end..].iter().position(|&b| b == b'\n') {
            Some(p) => end += p + 1,
            None => {
                end = message.len();
                break;
            }
        }
    }
    &message[..end]
}

/// A multi-line response: lines starting with `.` get another, then the final `.`.
pub(crate) fn byte_stuff(body: &[u8], out: &mut Vec<u8>) {
    let mut at_start = true;
    for &b in body {
        if at_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_start = b == b'\n';
    }
    if !body.ends_with(b"\r\n") && !body.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_keeps_the_headers_and_n_lines() {
        let m = b"Subject: x\r\nFrom: y\r\n\r\nl1\r\nl2\r\nl3\r\n";
        assert_eq!(top(m, 0), b"Subject: x\r\nFrom: y\r\n\r\n");
        assert_eq!(top(m, 2), b"Subject: x\r\nFrom: y\r\n\r\nl1\r\nl2\r\n");
        assert_eq!(top(m, 10), &m[..]);
    }

    #[test]
    fn multi_line_responses_are_byte_stuffed() {
        let mut out = Vec::new();
        byte_stuff(b"a\r\n.b\r\n", &mut out);
        assert_eq!(out, b"a\r\n..b\r\n.\r\n");
    }
}
