//! The IMAP server (IMAP4rev2, RFC 9051, answering IMAP4rev1 clients as RFC 3501
//! does) on implicit TLS (993): folders, flags, UID/UIDVALIDITY, SEARCH, FETCH of
//! body parts with partial ranges, IDLE (RFC 2177), QUOTA (RFC 9208), MOVE (RFC 6851),
//! UIDPLUS (RFC 4315), CONDSTORE (RFC 7162), SPECIAL-USE (RFC 6154), LITERAL+,
//! SASL-IR, ENABLE, ID, NAMESPACE, UNSELECT.
//!
//! Authentication (LOGIN, AUTHENTICATE PLAIN or EXTERNAL) goes through
//! [`crate::auth`]; every later command first checks that the credential is still
//! good, so a revoked application password or card ends the session at once.

mod fetch;
mod parse;
mod search;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine;
use sante_messaging::model::{Folder, MessageEntry, SEEN};
use sante_messaging::{FlagChange, MessagingError, Refusal};
use sante_net::{IoStream, SessionHandler, SessionInfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use crate::MailContext;
use crate::auth::{AuthError, MailSession, source};
use crate::wire::{Waited, Wire};
use fetch::{Item, Label, Parsed};
use parse::{Args, SequenceSet};

const CHANNEL: &str = "imap";
const MAX_LINE: usize = 64 * 1024;
const MAX_AUTH_FAILURES: u32 = 3;
/// The largest literal accepted before login.
const PRE_AUTH_LITERAL: usize = 8 * 1024;
const SEPARATOR: &str = "/";

/// An IMAP listener's session handler.
#[derive(Clone)]
pub struct ImapServer {
    ctx: Arc<MailContext>,
}

impl ImapServer {
    pub fn new(ctx: Arc<MailContext>) -> ImapServer {
        ImapServer { ctx }
    }
}

impl SessionHandler for ImapServer {
    fn handle(
        &self,
        stream: Box<dyn IoStream>,
        session: SessionInfo,
        shutdown: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let ctx = self.ctx.clone();
        Box::pin(async move {
            let idle = ctx.idle_timeout;
            let mut s = Session {
                ctx,
                wire: Wire::new(stream, idle),
                info: session,
                auth: None,
                selected: None,
                failures: 0,
                condstore: false,
                rev2: false,
            };
            if let Err(e) = s.run(shutdown).await {
                tracing::debug!(error = %e, "IMAP session ended");
            }
        })
    }
}

/// A message as the session last told the client of it.
#[derive(Debug, Clone)]
struct Known {
    uid: u32,
    flags: Vec<String>,
    modseq: u64,
}

struct Selected {
    folder: u32,
    read_only: bool,
    /// UIDNEXT and HIGHESTMODSEQ when the client was last told of the folder: every
    /// change (new message, flags, expunge) moves one of them.
    state: (u32, u64),
    /// In sequence-number order.
    known: Vec<Known>,
}

struct Session {
    ctx: Arc<MailContext>,
    wire: Wire,
    info: SessionInfo,
    auth: Option<MailSession>,
    selected: Option<Selected>,
    failures: u32,
    /// CONDSTORE enabled: FETCH responses carry MODSEQ.
    condstore: bool,
    /// IMAP4rev2 enabled: SEARCH answers with ESEARCH.
    rev2: bool,
}

/// What a command handler tells the loop.
enum Flow {
    Continue,
    Logout,
}

/// A tagged response: status, optional code, text.
struct Done {
    status: &'static str,
    code: Option<String>,
    text: String,
}

fn ok(text: &str) -> Done {
    Done {
        status: "OK",
        code: None,
        text: text.to_owned(),
    }
}

fn ok_code(code: String, text: &str) -> Done {
    Done {
        status: "OK",
        code: Some(code),
        text: text.to_owned(),
    }
}

fn no(text: &str) -> Done {
    Done {
        status: "NO",
        code: None,
        text: text.to_owned(),
    }
}

fn no_code(code: &str, text: &str) -> Done {
    Done {
        status: "NO",
        code: Some(code.to_owned()),
        text: text.to_owned(),
    }
}

fn bad(text: &str) -> Done {
    Done {
        status: "BAD",
        code: None,
        text: text.to_owned(),
    }
}

/// How a messaging failure is told to the client; nothing internal leaks.
fn refusal(e: &MessagingError) -> Done {
    match e {
        MessagingError::NotFound(_) => no_code("TRYCREATE", "no such folder"),
        MessagingError::Exists(_) => no_code("ALREADYEXISTS", "it already exists"),
        MessagingError::Invalid(why) => no_code("CANNOT", why),
        MessagingError::MailboxClosed => no_code("NOPERM", "this mailbox is closed"),
        MessagingError::NotEntitled(_) => no_code("NOPERM", "not permitted"),
        MessagingError::Refused(Refusal::RecipientFull | Refusal::SenderFull) => {
            no_code("OVERQUOTA", "mailbox full (100 MB): delete messages first")
        }
        MessagingError::Refused(r) if r.is_temporary() => no_code("UNAVAILABLE", &r.to_string()),
        MessagingError::Refused(r) => no_code("CANNOT", &r.to_string()),
        MessagingError::Conflict(_) => no_code("INUSE", "busy, try again"),
        other => {
            tracing::error!(error = %other, "IMAP: messaging unavailable");
            no_code("UNAVAILABLE", "temporary failure, try again later")
        }
    }
}

/// `(\Seen \Flagged)`.
fn flag_list(flags: &[String]) -> String {
    format!("({})", flags.join(" "))
}

/// UIDs as a compact set: `1:3,7`.
fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// A folder name as a quoted string.
fn quoted(name: &str) -> String {
    let mut out = Vec::new();
    fetch::string(&mut out, name.as_bytes());
    String::from_utf8_lossy(&out).into_owned()
}

/// LIST pattern matching: `*` matches anything, `%` anything but the separator.
fn pattern_matches(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|i| pattern_matches(rest, &name[i..])),
        Some(('%', rest)) => (0..=name.len())
            .take_while(|&i| i == 0 || name[i - 1] != '/')
            .any(|i| pattern_matches(rest, &name[i..])),
        Some((c, rest)) => name
            .split_first()
            .is_some_and(|(n, tail)| n == c && pattern_matches(rest, tail)),
    }
}

impl Session {
    fn untagged(&mut self, line: &str) {
        self.wire.output.extend_from_slice(b"* ");
        self.wire.output.extend_from_slice(line.as_bytes());
        self.wire.output.extend_from_slice(b"\r\n");
    }

    fn tagged(&mut self, tag: &str, done: Done) {
        let code = done.code.map(|c| format!("[{c}] ")).unwrap_or_default();
        self.wire
            .output
            .extend_from_slice(format!("{tag} {} {code}{}\r\n", done.status, done.text).as_bytes());
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.wire.flush().await
    }

    /// Reads until `\n` is buffered (bounded); `None` on end of stream, idle
    /// timeout or shutdown.
    async fn fill_line(&mut self, shutdown: &CancellationToken) -> std::io::Result<Option<usize>> {
        loop {
            if let Some(pos) = self.wire.line_end() {
                return Ok(Some(pos));
            }
            if self.wire.input.len() > MAX_LINE {
                self.untagged("BYE line too long");
                self.flush().await?;
                return Ok(None);
            }
            if !self.read_more(shutdown).await? {
                return Ok(None);
            }
        }
    }

    /// Waits for more input; `false` when the session must end (after saying why).
    async fn read_more(&mut self, shutdown: &CancellationToken) -> std::io::Result<bool> {
        match self.wire.read_more(shutdown).await? {
            Waited::Data => return Ok(true),
            Waited::Closed => return Ok(false),
            Waited::Shutdown => self.untagged("BYE [UNAVAILABLE] server shutting down"),
            Waited::Idle => self.untagged("BYE idle for too long"),
        }
        self.flush().await?;
        Ok(false)
    }

    /// One whole command, its literals read in (announcing continuation for
    /// synchronising ones), without the final CRLF. `Err(text)` for a command that
    /// could not be read whole (the reason is sent as BAD).
    async fn command(
        &mut self,
        shutdown: &CancellationToken,
    ) -> std::io::Result<Option<Result<Zeroizing<Vec<u8>>, String>>> {
        let mut command = Zeroizing::new(Vec::new());
        loop {
            let Some(pos) = self.fill_line(shutdown).await? else {
                return Ok(None);
            };
            let line: Vec<u8> = self.wire.input.drain(..=pos).collect();
            let line = Zeroizing::new(line);
            let body = line
                .strip_suffix(b"\r\n")
                .or_else(|| line.strip_suffix(b"\n"));
            let body = body.unwrap_or(&line);
            // A literal announced at the end of the line: `{n}` or `{n+}`.
            let literal = body.strip_suffix(b"}").and_then(|b| {
                let open = b.iter().rposition(|&c| c == b'{')?;
                let spec = &b[open + 1..];
                let (digits, plus) = match spec.strip_suffix(b"+") {
                    Some(d) => (d, true),
                    None => (spec, false),
                };
                let n: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
                Some((n, plus))
            });
            command.extend_from_slice(body);
            let Some((n, plus)) = literal else {
                return Ok(Some(Ok(command)));
            };
            // Before login only LOGIN and AUTHENTICATE take literals: a few bytes.
            let limit = if self.auth.is_some() {
                self.ctx.messaging.config().max_message_bytes as usize + 64 * 1024
            } else {
                PRE_AUTH_LITERAL
            };
            if n > limit {
                if plus {
                    // The client sends it anyway: it cannot be skipped safely.
                    self.untagged("BYE [TOOBIG] literal too big");
                    self.flush().await?;
                    return Ok(None);
                }
                return Ok(Some(Err(format!("[TOOBIG] literal of {n} bytes refused"))));
            }
            if !plus {
                self.wire.output.extend_from_slice(b"+ go ahead\r\n");
            }
            command.extend_from_slice(b"\r\n");
            while self.wire.input.len() < n {
                if !self.read_more(shutdown).await? {
                    return Ok(None);
                }
            }
            command.extend(self.wire.input.drain(..n));
        }
    }

    async fn run(&mut self, shutdown: CancellationToken) -> std::io::Result<()> {
        let caps = self.capabilities();
        self.untagged(&format!(
            "OK [CAPABILITY {caps}] {} IMAP Sante ready",
            self.ctx.hostname
        ));
        loop {
            let command = match self.command(&shutdown).await? {
                None => break,
                Some(Ok(c)) => c,
                Some(Err(why)) => {
                    self.untagged(&format!("BAD {why}"));
                    continue;
                }
            };
            let mut args = Args::new(&command);
            let tag = args.until(b" ");
            if tag.is_empty() || tag.contains(['*', '+', '(', ')', '{', '%', '"', '\\']) {
                self.untagged("BAD missing or invalid tag");
                continue;
            }
            if args.space().is_err() {
                self.tagged(&tag, bad("missing command"));
                continue;
            }
            let name = args.until(b" ").to_ascii_uppercase();
            match self.dispatch(&tag, &name, &mut args, &shutdown).await? {
                Flow::Continue => {}
                Flow::Logout => break,
            }
        }
        self.flush().await?;
        let _ = self.wire.stream.shutdown().await;
        Ok(())
    }

    fn capabilities(&self) -> String {
        let mut caps = vec![
            "IMAP4rev1",
            "IMAP4rev2",
            "LITERAL+",
            "SASL-IR",
            "ID",
            "ENABLE",
            "IDLE",
            "NAMESPACE",
            "UNSELECT",
            "UIDPLUS",
            "MOVE",
            "QUOTA",
            "QUOTA=RES-STORAGE",
            "CONDSTORE",
            "SPECIAL-USE",
            "CHILDREN",
        ];
        if self.auth.is_none() {
            caps.push("AUTH=PLAIN");
            if self.info.peer_certificate.is_some() {
                caps.push("AUTH=EXTERNAL");
            }
        }
        caps.join(" ")
    }

    async fn dispatch(
        &mut self,
        tag: &str,
        name: &str,
        args: &mut Args<'_>,
        shutdown: &CancellationToken,
    ) -> std::io::Result<Flow> {
        match name {
            "CAPABILITY" => {
                let caps = self.capabilities();
                self.untagged(&format!("CAPABILITY {caps}"));
                self.tagged(tag, ok("CAPABILITY completed"));
                return Ok(Flow::Continue);
            }
            "NOOP" | "CHECK" => {
                if self.auth.is_some() && !self.recheck(tag).await {
                    return Ok(Flow::Logout);
                }
                self.sync(true).await;
                self.tagged(tag, ok("NOOP completed"));
                return Ok(Flow::Continue);
            }
            "LOGOUT" => {
                self.untagged("BYE logging out");
                self.tagged(tag, ok("LOGOUT completed"));
                return Ok(Flow::Logout);
            }
            "ID" => {
                self.untagged("ID (\"name\" \"Sante\" \"vendor\" \"Sante\")");
                self.tagged(tag, ok("ID completed"));
                return Ok(Flow::Continue);
            }
            _ => {}
        }
        if self.auth.is_none() {
            return self.not_authenticated(tag, name, args, shutdown).await;
        }
        if !self.recheck(tag).await {
            return Ok(Flow::Logout);
        }
        let done = match name {
            "ENABLE" => self.enable(args),
            "SELECT" | "EXAMINE" => self.select(args, name == "EXAMINE").await,
            "CREATE" => self.create(args).await,
            "DELETE" => self.delete(args).await,
            "RENAME" => self.rename(args).await,
            "SUBSCRIBE" | "UNSUBSCRIBE" => self.subscribe(args, name == "SUBSCRIBE").await,
            "LIST" | "LSUB" => self.list(args, name == "LSUB").await,
            "NAMESPACE" => {
                self.untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
                ok("NAMESPACE completed")
            }
            "STATUS" => self.status(args).await,
            "APPEND" => self.append(args).await,
            "GETQUOTA" | "GETQUOTAROOT" => self.quota(args, name == "GETQUOTAROOT").await,
            "IDLE" => return self.idle(tag, shutdown).await,
            _ if self.selected.is_none() => match name {
                "CLOSE" | "UNSELECT" | "EXPUNGE" | "SEARCH" | "FETCH" | "STORE" | "COPY"
                | "MOVE" | "UID" => bad("select a folder first"),
                _ => bad("unknown command"),
            },
            "CLOSE" => self.close(true).await,
            "UNSELECT" => self.close(false).await,
            "EXPUNGE" => self.expunge(None).await,
            "SEARCH" | "FETCH" | "STORE" | "COPY" | "MOVE" => {
                self.selected_command(tag, name, false, args).await
            }
            "UID" => {
                if args.space().is_err() {
                    bad("UID needs a command")
                } else {
                    let sub = args.until(b" ").to_ascii_uppercase();
                    match sub.as_str() {
                        "SEARCH" | "FETCH" | "STORE" | "COPY" | "MOVE" => {
                            self.selected_command(tag, &sub, true, args).await
                        }
                        "EXPUNGE" => match args.space().and_then(|()| args.sequence_set()) {
                            Ok(set) => self.expunge(Some(set)).await,
                            Err(e) => bad(&e),
                        },
                        _ => bad("unknown UID command"),
                    }
                }
            }
            _ => bad("unknown command"),
        };
        self.tagged(tag, done);
        Ok(Flow::Continue)
    }

    /// Checks the credential before a command; a revoked one ends the session.
    async fn recheck(&mut self, tag: &str) -> bool {
        let Some(auth) = self.auth.as_ref() else {
            return false;
        };
        if self.ctx.still_valid(auth).await {
            return true;
        }
        self.untagged("BYE [AUTHENTICATIONFAILED] the credential is no longer valid");
        self.tagged(tag, no("session ended"));
        false
    }

    async fn not_authenticated(
        &mut self,
        tag: &str,
        name: &str,
        args: &mut Args<'_>,
        shutdown: &CancellationToken,
    ) -> std::io::Result<Flow> {
        let result = match name {
            "LOGIN" => {
                let parsed = (|| -> parse::ParseResult<(String, Zeroizing<String>)> {
                    args.space()?;
                    let login = args.astring_text()?;
                    args.space()?;
                    let password = Zeroizing::new(args.astring_text()?);
                    args.end()?;
                    Ok((login, password))
                })();
                match parsed {
                    Ok((login, password)) => {
                        self.ctx
                            .authenticate_password(&self.info, CHANNEL, &login, &password)
                            .await
                    }
                    Err(e) => {
                        self.tagged(tag, bad(&e));
                        return Ok(Flow::Continue);
                    }
                }
            }
            "AUTHENTICATE" => {
                if args.space().is_err() {
                    self.tagged(tag, bad("AUTHENTICATE needs a mechanism"));
                    return Ok(Flow::Continue);
                }
                let mechanism = args.until(b" ").to_ascii_uppercase();
                let initial = if args.maybe_space() {
                    Some(Zeroizing::new(args.rest().to_vec()))
                } else {
                    None
                };
                match mechanism.as_str() {
                    "PLAIN" => {
                        let response = match initial {
                            Some(i) => i,
                            None => match self.continuation(shutdown).await? {
                                Some(r) => r,
                                None => return Ok(Flow::Logout),
                            },
                        };
                        if response.as_slice() == b"*" {
                            self.tagged(tag, bad("authentication cancelled"));
                            return Ok(Flow::Continue);
                        }
                        let decoded = Zeroizing::new(
                            base64::engine::general_purpose::STANDARD
                                .decode(response.as_slice())
                                .unwrap_or_default(),
                        );
                        let mut fields = decoded.split(|&b| b == 0);
                        let _authzid = fields.next();
                        let login = fields
                            .next()
                            .map(|b| String::from_utf8_lossy(b).into_owned());
                        let password = fields
                            .next()
                            .map(|b| Zeroizing::new(String::from_utf8_lossy(b).into_owned()));
                        match (login, password) {
                            (Some(login), Some(password)) => {
                                self.ctx
                                    .authenticate_password(&self.info, CHANNEL, &login, &password)
                                    .await
                            }
                            _ => {
                                self.tagged(tag, bad("malformed PLAIN response"));
                                return Ok(Flow::Continue);
                            }
                        }
                    }
                    "EXTERNAL" => {
                        if initial.is_none() && self.continuation(shutdown).await?.is_none() {
                            return Ok(Flow::Logout);
                        }
                        self.ctx.authenticate_certificate(&self.info, CHANNEL).await
                    }
                    _ => {
                        self.tagged(tag, no("unsupported mechanism (PLAIN, EXTERNAL)"));
                        return Ok(Flow::Continue);
                    }
                }
            }
            "SELECT" | "EXAMINE" | "LIST" | "STATUS" | "APPEND" | "CREATE" | "DELETE" | "FETCH"
            | "IDLE" => {
                self.tagged(tag, bad("log in first"));
                return Ok(Flow::Continue);
            }
            _ => {
                self.tagged(tag, bad("unknown command"));
                return Ok(Flow::Continue);
            }
        };
        match result {
            Ok(session) => {
                self.auth = Some(session);
                let caps = self.capabilities();
                self.tagged(tag, ok_code(format!("CAPABILITY {caps}"), "logged in"));
                Ok(Flow::Continue)
            }
            Err(AuthError::NotEncrypted) => {
                self.tagged(tag, no_code("PRIVACYREQUIRED", "encryption required"));
                Ok(Flow::Logout)
            }
            Err(AuthError::Unavailable) => {
                self.tagged(tag, no_code("UNAVAILABLE", "try again later"));
                Ok(Flow::Continue)
            }
            Err(AuthError::NotAllowed(why)) => {
                self.tagged(tag, no_code("NOPERM", &why));
                Ok(Flow::Continue)
            }
            Err(AuthError::Invalid) => {
                self.failures += 1;
                self.tagged(
                    tag,
                    no_code("AUTHENTICATIONFAILED", "authentication failed"),
                );
                if self.failures >= MAX_AUTH_FAILURES {
                    self.untagged("BYE too many failures");
                    return Ok(Flow::Logout);
                }
                Ok(Flow::Continue)
            }
        }
    }

    /// A SASL continuation: `+ ` then one line from the client.
    async fn continuation(
        &mut self,
        shutdown: &CancellationToken,
    ) -> std::io::Result<Option<Zeroizing<Vec<u8>>>> {
        self.wire.output.extend_from_slice(b"+ \r\n");
        let Some(pos) = self.fill_line(shutdown).await? else {
            return Ok(None);
        };
        let line: Vec<u8> = self.wire.input.drain(..=pos).collect();
        let line = Zeroizing::new(line);
        let trimmed = line
            .strip_suffix(b"\r\n")
            .or_else(|| line.strip_suffix(b"\n"))
            .unwrap_or(&line);
        Ok(Some(Zeroizing::new(trimmed.to_vec())))
    }

    fn mailbox_id(&self) -> String {
        self.auth
            .as_ref()
            .map(|a| a.mailbox.id.clone())
            .unwrap_or_default()
    }

    fn enable(&mut self, args: &mut Args<'_>) -> Done {
        let mut enabled = Vec::new();
        while args.maybe_space() {
            let Ok(cap) = args.atom() else {
                return bad("ENABLE takes capability names");
            };
            match cap.to_ascii_uppercase().as_str() {
                "CONDSTORE" => {
                    self.condstore = true;
                    enabled.push("CONDSTORE");
                }
                "IMAP4REV2" => {
                    self.rev2 = true;
                    enabled.push("IMAP4rev2");
                }
                _ => {}
            }
        }
        self.untagged(format!("ENABLED {}", enabled.join(" ")).trim_end());
        ok("ENABLE completed")
    }

    async fn select(&mut self, args: &mut Args<'_>, read_only: bool) -> Done {
        self.selected = None;
        let name = match folder_name(args) {
            Ok(n) => n,
            Err(done) => return done,
        };
        // SELECT parameters: (CONDSTORE) enables it.
        if args.maybe_space() {
            let rest = String::from_utf8_lossy(args.rest()).to_ascii_uppercase();
            if rest.contains("CONDSTORE") {
                self.condstore = true;
            }
        }
        let mailbox = self.mailbox_id();
        let messaging = self.ctx.messaging.clone();
        let folder = match messaging.folder(&mailbox, &name).await {
            Ok((f, _)) => f,
            Err(MessagingError::NotFound(_)) => return no_code("NONEXISTENT", "no such folder"),
            Err(e) => return refusal(&e),
        };
        let entries = match messaging.messages(&mailbox, folder.number).await {
            Ok((_, e)) => e,
            Err(e) => return refusal(&e),
        };
        let unseen = entries.iter().position(|e| !e.has_flag(SEEN));
        self.untagged("FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
        if read_only {
            self.untagged("OK [PERMANENTFLAGS ()] read-only");
        } else {
            self.untagged(
                "OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] flags permitted",
            );
        }
        self.untagged(&format!("{} EXISTS", entries.len()));
        if !self.rev2 {
            self.untagged("0 RECENT");
            if let Some(i) = unseen {
                self.untagged(&format!("OK [UNSEEN {}] first unseen", i + 1));
            }
        }
        self.untagged(&format!(
            "OK [UIDVALIDITY {}] UIDs valid",
            folder.uidvalidity
        ));
        self.untagged(&format!(
            "OK [UIDNEXT {}] predicted next UID",
            folder.uidnext
        ));
        self.untagged(&format!(
            "OK [HIGHESTMODSEQ {}] highest",
            folder.highest_modseq
        ));
        if self.rev2 {
            self.untagged(&format!("LIST () \"/\" {}", quoted(&folder.name)));
        }
        self.selected = Some(Selected {
            folder: folder.number,
            read_only,
            state: (folder.uidnext, folder.highest_modseq),
            known: entries
                .iter()
                .map(|e| Known {
                    uid: e.uid,
                    flags: e.flags.clone(),
                    modseq: e.modseq,
                })
                .collect(),
        });
        ok_code(
            if read_only { "READ-ONLY" } else { "READ-WRITE" }.into(),
            if read_only {
                "EXAMINE completed"
            } else {
                "SELECT completed"
            },
        )
    }

    async fn create(&mut self, args: &mut Args<'_>) -> Done {
        let name = match folder_name(args) {
            Ok(n) => n,
            Err(done) => return done,
        };
        match self
            .ctx
            .messaging
            .create_folder(&self.mailbox_id(), &name)
            .await
        {
            Ok(_) => ok("CREATE completed"),
            Err(e) => refusal(&e),
        }
    }

    async fn delete(&mut self, args: &mut Args<'_>) -> Done {
        let name = match folder_name(args) {
            Ok(n) => n,
            Err(done) => return done,
        };
        match self
            .ctx
            .messaging
            .delete_folder(&self.mailbox_id(), &name)
            .await
        {
            Ok(()) => ok("DELETE completed"),
            Err(MessagingError::NotFound(_)) => no_code("NONEXISTENT", "no such folder"),
            Err(e) => refusal(&e),
        }
    }

    async fn rename(&mut self, args: &mut Args<'_>) -> Done {
        let parsed = (|| -> parse::ParseResult<(String, String)> {
            args.space()?;
            let from = args.astring_text()?;
            args.space()?;
            let to = args.astring_text()?;
            Ok((from, to))
        })();
        let (from, to) = match parsed {
            Ok(p) => p,
            Err(e) => return bad(&e),
        };
        match self
            .ctx
            .messaging
            .rename_folder(&self.mailbox_id(), &from, &to)
            .await
        {
            Ok(()) => ok("RENAME completed"),
            Err(MessagingError::NotFound(_)) => no_code("NONEXISTENT", "no such folder"),
            Err(e) => refusal(&e),
        }
    }

    async fn subscribe(&mut self, args: &mut Args<'_>, on: bool) -> Done {
        let name = match folder_name(args) {
            Ok(n) => n,
            Err(done) => return done,
        };
        match self
            .ctx
            .messaging
            .subscribe(&self.mailbox_id(), &name, on)
            .await
        {
            Ok(()) => ok("completed"),
            Err(MessagingError::NotFound(_)) => no_code("NONEXISTENT", "no such folder"),
            Err(e) => refusal(&e),
        }
    }

    async fn folders(&mut self) -> Result<Vec<Folder>, Done> {
        self.ctx
            .messaging
            .folders(&self.mailbox_id())
            .await
            .map_err(|e| refusal(&e))
    }

    async fn list(&mut self, args: &mut Args<'_>, lsub: bool) -> Done {
        let parsed = (|| -> parse::ParseResult<(bool, String, Vec<String>, bool)> {
            args.space()?;
            // LIST-EXTENDED selection options: (SUBSCRIBED) and others, ignored but one.
            let mut subscribed_only = lsub;
            if args.peek() == Some(b'(') {
                let opts = args.flag_list()?;
                subscribed_only |= opts.iter().any(|o| o.eq_ignore_ascii_case("SUBSCRIBED"));
                args.space()?;
            }
            let reference = args.astring_text()?;
            args.space()?;
            let mut patterns = Vec::new();
            if args.eat(b'(') {
                loop {
                    args.maybe_space();
                    if args.eat(b')') {
                        break;
                    }
                    patterns.push(args.list_mailbox()?);
                }
            } else {
                patterns.push(args.list_mailbox()?);
            }
            let mut special = false;
            if args.maybe_space() {
                let rest = String::from_utf8_lossy(args.rest()).to_ascii_uppercase();
                special = rest.contains("SPECIAL-USE");
            }
            Ok((subscribed_only, reference, patterns, special))
        })();
        let (subscribed_only, reference, patterns, _) = match parsed {
            Ok(p) => p,
            Err(e) => return bad(&e),
        };
        let verb = if lsub { "LSUB" } else { "LIST" };
        if patterns.iter().all(String::is_empty) {
            // The hierarchy delimiter and root.
            self.untagged(&format!("{verb} (\\Noselect) \"/\" \"\""));
            return ok("LIST completed");
        }
        let folders = match self.folders().await {
            Ok(f) => f,
            Err(done) => return done,
        };
        let names: Vec<String> = folders.iter().map(|f| f.name.clone()).collect();
        for f in &folders {
            if subscribed_only && !f.subscribed {
                continue;
            }
            let chars: Vec<char> = f.name.chars().collect();
            let matched = patterns.iter().any(|p| {
                let full: Vec<char> = format!("{reference}{p}").chars().collect();
                // INBOX matches case-insensitively.
                pattern_matches(&full, &chars)
                    || (f.name == "INBOX"
                        && pattern_matches(
                            &format!("{reference}{p}")
                                .to_ascii_uppercase()
                                .chars()
                                .collect::<Vec<_>>(),
                            &chars,
                        ))
            });
            if !matched {
                continue;
            }
            let prefix = format!("{}{SEPARATOR}", f.name);
            let mut attrs = vec![if names.iter().any(|n| n.starts_with(&prefix)) {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            }];
            if let Some(u) = f.special_use {
                attrs.push(u.attribute());
            }
            if f.subscribed && !lsub {
                attrs.push("\\Subscribed");
            }
            self.untagged(&format!(
                "{verb} ({}) \"/\" {}",
                attrs.join(" "),
                quoted(&f.name)
            ));
        }
        ok("LIST completed")
    }

    async fn status(&mut self, args: &mut Args<'_>) -> Done {
        let parsed = (|| -> parse::ParseResult<(String, Vec<String>)> {
            args.space()?;
            let name = args.astring_text()?;
            args.space()?;
            let items = args.flag_list()?;
            Ok((name, items))
        })();
        let (name, items) = match parsed {
            Ok(p) => p,
            Err(e) => return bad(&e),
        };
        let mailbox = self.mailbox_id();
        let (folder, entries) = match self.ctx.messaging.folder(&mailbox, &name).await {
            Ok((f, _)) => match self.ctx.messaging.messages(&mailbox, f.number).await {
                Ok(x) => x,
                Err(e) => return refusal(&e),
            },
            Err(MessagingError::NotFound(_)) => return no_code("NONEXISTENT", "no such folder"),
            Err(e) => return refusal(&e),
        };
        let mut out = Vec::new();
        for item in items {
            let value = match item.to_ascii_uppercase().as_str() {
                "MESSAGES" => entries.len() as u64,
                "UIDNEXT" => u64::from(folder.uidnext),
                "UIDVALIDITY" => u64::from(folder.uidvalidity),
                "UNSEEN" => entries.iter().filter(|e| !e.has_flag(SEEN)).count() as u64,
                "DELETED" => entries
                    .iter()
                    .filter(|e| e.has_flag(sante_messaging::model::DELETED))
                    .count() as u64,
                "SIZE" => entries.iter().map(|e| e.size).sum(),
                "RECENT" => 0,
                "HIGHESTMODSEQ" => folder.highest_modseq,
                other => return bad(&format!("unknown STATUS item {other}")),
            };
            out.push(format!("{} {value}", item.to_ascii_uppercase()));
        }
        self.untagged(&format!(
            "STATUS {} ({})",
            quoted(&folder.name),
            out.join(" ")
        ));
        ok("STATUS completed")
    }

    async fn append(&mut self, args: &mut Args<'_>) -> Done {
        let parsed = (|| -> parse::ParseResult<AppendArgs> {
            args.space()?;
            let name = args.astring_text()?;
            args.space()?;
            let mut flags = Vec::new();
            if args.peek() == Some(b'(') {
                flags = args.flag_list()?;
                args.space()?;
            }
            let mut date = None;
            if args.peek() == Some(b'"') {
                date = Some(String::from_utf8_lossy(&args.string()?).into_owned());
                args.space()?;
            }
            // UTF8 (literal) of RFC 6855 is accepted as a plain literal.
            if args.peek() == Some(b'U') {
                args.atom()?;
                args.space()?;
                args.expect(b'(')?;
                let raw = args.string()?;
                args.expect(b')')?;
                return Ok((name, flags, date, raw));
            }
            let raw = args.string()?;
            args.end()?;
            Ok((name, flags, date, raw))
        })();
        let (name, flags, date, raw) = match parsed {
            Ok(p) => p,
            Err(e) => return bad(&e),
        };
        let internal_date = match date.as_deref().map(parse::date_time).transpose() {
            Ok(d) => d,
            Err(e) => return bad(&e),
        };
        let Some(auth) = self.auth.clone() else {
            return bad("log in first");
        };
        let src = source(&self.info, CHANNEL);
        let result = self
            .ctx
            .messaging
            .append(
                &auth.user,
                &auth.mailbox.id,
                &name,
                &flags,
                internal_date,
                &raw,
                &src,
            )
            .await;
        match result {
            Ok((validity, uid)) => {
                self.sync(true).await;
                ok_code(format!("APPENDUID {validity} {uid}"), "APPEND completed")
            }
            Err(e) => refusal(&e),
        }
    }

    async fn quota(&mut self, args: &mut Args<'_>, root: bool) -> Done {
        let name = match folder_name(args) {
            Ok(n) => n,
            Err(done) => return done,
        };
        if !root && !name.is_empty() {
            return no_code("NONEXISTENT", "the only quota root is \"\"");
        }
        let (used, limit) = match self.ctx.messaging.quota(&self.mailbox_id()).await {
            Ok(q) => q,
            Err(e) => return refusal(&e),
        };
        if root {
            self.untagged(&format!("QUOTAROOT {} \"\"", quoted(&name)));
        }
        self.untagged(&format!(
            "QUOTA \"\" (STORAGE {} {})",
            used.div_ceil(1024),
            limit / 1024
        ));
        ok("GETQUOTA completed")
    }

    /// IDLE: changes are pushed as they happen until the client says DONE.
    async fn idle(&mut self, tag: &str, shutdown: &CancellationToken) -> std::io::Result<Flow> {
        let mut changes = self.ctx.messaging.watch(&self.mailbox_id());
        changes.borrow_and_update();
        self.wire.output.extend_from_slice(b"+ idling\r\n");
        self.flush().await?;
        loop {
            if let Some(pos) = self.wire.input.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.wire.input.drain(..=pos).collect();
                if line.trim_ascii().eq_ignore_ascii_case(b"DONE") {
                    self.tagged(tag, ok("IDLE terminated"));
                } else {
                    self.tagged(tag, bad("expected DONE"));
                }
                return Ok(Flow::Continue);
            }
            let mut chunk = [0u8; 1024];
            // A long IDLE is normal (clients renew it every 29 minutes at most).
            let idle_limit = std::time::Duration::from_secs(31 * 60);
            tokio::select! {
                _ = shutdown.cancelled() => {
                    self.untagged("BYE [UNAVAILABLE] server shutting down");
                    self.flush().await?;
                    return Ok(Flow::Logout);
                }
                changed = changes.changed() => {
                    if changed.is_err() {
                        changes = self.ctx.messaging.watch(&self.mailbox_id());
                    }
                    if !self.recheck(tag).await {
                        self.flush().await?;
                        return Ok(Flow::Logout);
                    }
                    self.sync(true).await;
                    self.flush().await?;
                }
                read = tokio::time::timeout(idle_limit, self.wire.stream.read(&mut chunk)) => {
                    match read {
                        Ok(Ok(0)) | Err(_) => return Ok(Flow::Logout),
                        Ok(Ok(n)) => self.wire.input.extend_from_slice(&chunk[..n]),
                        Ok(Err(e)) => return Err(e),
                    }
                }
            }
        }
    }

    async fn close(&mut self, expunge: bool) -> Done {
        if expunge && self.selected.as_ref().is_some_and(|s| !s.read_only) {
            let Some(auth) = self.auth.clone() else {
                return bad("log in first");
            };
            let folder = self.selected.as_ref().map(|s| s.folder).unwrap_or_default();
            let src = source(&self.info, CHANNEL);
            if let Err(e) = self
                .ctx
                .messaging
                .expunge(&auth.user, &auth.mailbox.id, folder, None, &src)
                .await
            {
                return refusal(&e);
            }
        }
        self.selected = None;
        ok("CLOSE completed")
    }

    async fn expunge(&mut self, uids: Option<SequenceSet>) -> Done {
        let Some(selected) = &self.selected else {
            return bad("select a folder first");
        };
        if selected.read_only {
            return no_code("READ-ONLY", "the folder is read-only");
        }
        let Some(auth) = self.auth.clone() else {
            return bad("log in first");
        };
        let folder = selected.folder;
        let max_uid = selected.known.last().map(|k| k.uid).unwrap_or(0);
        let only: Option<Vec<u32>> = uids.map(|set| {
            selected
                .known
                .iter()
                .map(|k| k.uid)
                .filter(|u| set.contains(*u, max_uid))
                .collect()
        });
        let src = source(&self.info, CHANNEL);
        match self
            .ctx
            .messaging
            .expunge(&auth.user, &auth.mailbox.id, folder, only.as_deref(), &src)
            .await
        {
            Ok(_) => {
                self.sync(true).await;
                ok("EXPUNGE completed")
            }
            Err(e) => refusal(&e),
        }
    }

    /// Tells the client what changed in the selected folder since it last heard:
    /// expunges (when allowed), new messages, flag changes.
    async fn sync(&mut self, allow_expunge: bool) {
        let Some(selected) = &self.selected else {
            return;
        };
        let folder = selected.folder;
        let known_state = selected.state;
        let mailbox = self.mailbox_id();
        // One record read tells whether anything changed at all.
        match self.ctx.messaging.folder_by_number(&mailbox, folder).await {
            Ok((f, _)) if (f.uidnext, f.highest_modseq) == known_state => return,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "IMAP: cannot refresh the selected folder");
                return;
            }
        }
        let (state, current) = match self.ctx.messaging.messages(&mailbox, folder).await {
            Ok((f, entries)) => ((f.uidnext, f.highest_modseq), entries),
            Err(e) => {
                tracing::warn!(error = %e, "IMAP: cannot refresh the selected folder");
                return;
            }
        };
        let condstore = self.condstore;
        let mut lines = Vec::new();
        let Some(selected) = self.selected.as_mut() else {
            return;
        };
        let by_uid: std::collections::HashMap<u32, &MessageEntry> =
            current.iter().map(|e| (e.uid, e)).collect();
        let removed = selected.known.iter().any(|k| !by_uid.contains_key(&k.uid));
        // Expunges not yet told keep the folder "changed" until they can be.
        if allow_expunge || !removed {
            selected.state = state;
        }
        if allow_expunge {
            for i in (0..selected.known.len()).rev() {
                if !by_uid.contains_key(&selected.known[i].uid) {
                    selected.known.remove(i);
                    lines.push(format!("{} EXPUNGE", i + 1));
                }
            }
        }
        for (i, k) in selected.known.iter_mut().enumerate() {
            if let Some(e) = by_uid.get(&k.uid)
                && (e.flags != k.flags || e.modseq != k.modseq)
            {
                k.flags = e.flags.clone();
                k.modseq = e.modseq;
                let modseq = if condstore {
                    format!(" MODSEQ ({})", e.modseq)
                } else {
                    String::new()
                };
                lines.push(format!(
                    "{} FETCH (UID {} FLAGS {}{modseq})",
                    i + 1,
                    e.uid,
                    flag_list(&e.flags)
                ));
            }
        }
        let last = selected.known.last().map(|k| k.uid).unwrap_or(0);
        let before = selected.known.len();
        for e in current.iter().filter(|e| e.uid > last) {
            selected.known.push(Known {
                uid: e.uid,
                flags: e.flags.clone(),
                modseq: e.modseq,
            });
        }
        if selected.known.len() != before {
            lines.push(format!("{} EXISTS", selected.known.len()));
        }
        for line in lines {
            self.untagged(&line);
        }
    }

    /// The messages a set names, as `(sequence number, UID)`.
    fn resolve(&self, set: &SequenceSet, by_uid: bool) -> Vec<(u32, u32)> {
        let Some(selected) = &self.selected else {
            return Vec::new();
        };
        let max_seq = selected.known.len() as u32;
        let max_uid = selected.known.last().map(|k| k.uid).unwrap_or(0);
        selected
            .known
            .iter()
            .enumerate()
            .map(|(i, k)| (i as u32 + 1, k.uid))
            .filter(|(seq, uid)| {
                if by_uid {
                    set.contains(*uid, max_uid)
                } else {
                    set.contains(*seq, max_seq)
                }
            })
            .collect()
    }

    async fn selected_command(
        &mut self,
        tag: &str,
        name: &str,
        by_uid: bool,
        args: &mut Args<'_>,
    ) -> Done {
        match name {
            "SEARCH" => self.search(tag, by_uid, args).await,
            "FETCH" => self.fetch(by_uid, args).await,
            "STORE" => self.store(by_uid, args).await,
            "COPY" | "MOVE" => self.copy(by_uid, args, name == "MOVE").await,
            _ => bad("unknown command"),
        }
    }

    /// The selected folder's messages as they are now, by UID.
    async fn current(&mut self) -> Result<std::collections::HashMap<u32, MessageEntry>, Done> {
        let folder = self.selected.as_ref().map(|s| s.folder).unwrap_or_default();
        match self
            .ctx
            .messaging
            .messages(&self.mailbox_id(), folder)
            .await
        {
            Ok((_, entries)) => Ok(entries.into_iter().map(|e| (e.uid, e)).collect()),
            Err(e) => Err(refusal(&e)),
        }
    }

    /// Only the messages `uids` of the selected folder, by UID.
    async fn current_of(
        &mut self,
        uids: &[u32],
    ) -> Result<std::collections::HashMap<u32, MessageEntry>, Done> {
        let folder = self.selected.as_ref().map(|s| s.folder).unwrap_or_default();
        match self
            .ctx
            .messaging
            .messages_by_uid(&self.mailbox_id(), folder, uids)
            .await
        {
            Ok(entries) => Ok(entries.into_iter().map(|e| (e.uid, e)).collect()),
            Err(e) => Err(refusal(&e)),
        }
    }

    async fn body(&mut self, entry: &MessageEntry) -> Result<Vec<u8>, Done> {
        self.ctx
            .messaging
            .body(&self.mailbox_id(), entry)
            .await
            .map_err(|e| refusal(&e))
    }

    async fn search(&mut self, tag: &str, by_uid: bool, args: &mut Args<'_>) -> Done {
        if args.space().is_err() {
            return bad("SEARCH needs keys");
        }
        let rest = args.rest();
        let mut a = Args::new(rest);
        // ESEARCH's RETURN options (RFC 4731); IMAP4rev2 answers with ESEARCH.
        let mut returns: Option<Vec<String>> = None;
        if rest.len() > 6 && rest[..7].eq_ignore_ascii_case(b"RETURN ") {
            a.until(b" ");
            let _ = a.space();
            match a.flag_list() {
                Ok(list) => {
                    returns = Some(list.iter().map(|s| s.to_ascii_uppercase()).collect());
                }
                Err(e) => return bad(&e),
            }
        }
        let key = match search::keys(&mut a) {
            Ok(k) => k,
            Err(e) => return bad(&e),
        };
        let current = match self.current().await {
            Ok(c) => c,
            Err(done) => return done,
        };
        let known: Vec<(u32, u32)> = self
            .selected
            .as_ref()
            .map(|s| {
                s.known
                    .iter()
                    .enumerate()
                    .map(|(i, k)| (i as u32 + 1, k.uid))
                    .collect()
            })
            .unwrap_or_default();
        let max_seq = known.len() as u32;
        let max_uid = known.last().map(|(_, u)| *u).unwrap_or(0);
        let mut hits: Vec<u32> = Vec::new();
        let mut highest = 0u64;
        for (seq, uid) in known {
            let Some(entry) = current.get(&uid) else {
                continue;
            };
            let raw = if key.needs_body() {
                match self.body(entry).await {
                    Ok(b) => Some(b),
                    Err(done) => return done,
                }
            } else {
                None
            };
            let candidate = search::Candidate {
                seq,
                max_seq,
                max_uid,
                entry,
                raw: raw.as_deref(),
            };
            if key.matches(&candidate) {
                hits.push(if by_uid { uid } else { seq });
                highest = highest.max(entry.modseq);
            }
        }
        let uses_modseq = key.uses_modseq();
        if self.rev2 || returns.is_some() {
            let wanted = returns
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| vec!["ALL".to_owned()]);
            let mut line = format!(
                "ESEARCH (TAG {}){}",
                quoted(tag),
                if by_uid { " UID" } else { "" }
            );
            for r in &wanted {
                match r.as_str() {
                    "MIN" if !hits.is_empty() => {
                        line.push_str(&format!(" MIN {}", hits.iter().min().copied().unwrap_or(0)));
                    }
                    "MAX" if !hits.is_empty() => {
                        line.push_str(&format!(" MAX {}", hits.iter().max().copied().unwrap_or(0)));
                    }
                    "COUNT" => line.push_str(&format!(" COUNT {}", hits.len())),
                    "ALL" if !hits.is_empty() => {
                        line.push_str(&format!(" ALL {}", uid_set(&hits)));
                    }
                    "SAVE" | "MIN" | "MAX" | "ALL" => {}
                    other => return bad(&format!("unknown RETURN option {other}")),
                }
            }
            if uses_modseq && !hits.is_empty() {
                line.push_str(&format!(" MODSEQ {highest}"));
            }
            self.untagged(&line);
        } else {
            let mut line = String::from("SEARCH");
            for h in &hits {
                line.push_str(&format!(" {h}"));
            }
            if uses_modseq && !hits.is_empty() {
                line.push_str(&format!(" (MODSEQ {highest})"));
            }
            self.untagged(&line);
        }
        self.sync(false).await;
        ok("SEARCH completed")
    }

    async fn fetch(&mut self, by_uid: bool, args: &mut Args<'_>) -> Done {
        let parsed = (|| -> parse::ParseResult<(SequenceSet, Vec<Item>, Option<u64>)> {
            args.space()?;
            let set = args.sequence_set()?;
            args.space()?;
            let items = fetch::items(args)?;
            // FETCH modifiers: (CHANGEDSINCE n).
            let mut changed_since = None;
            if args.maybe_space() {
                args.expect(b'(')?;
                let word = args.atom()?.to_ascii_uppercase();
                if word != "CHANGEDSINCE" {
                    return Err(format!("unknown FETCH modifier {word}"));
                }
                args.space()?;
                changed_since = Some(args.number()?);
                args.expect(b')')?;
            }
            args.end()?;
            Ok((set, items, changed_since))
        })();
        let (set, mut items, changed_since) = match parsed {
            Ok(p) => p,
            Err(e) => return bad(&e),
        };
        if changed_since.is_some() {
            self.condstore = true;
        }
        if (by_uid || changed_since.is_some()) && !items.contains(&Item::Uid) {
            items.insert(0, Item::Uid);
        }
        if self.condstore && changed_since.is_some() && !items.contains(&Item::ModSeq) {
            items.push(Item::ModSeq);
        }
        let targets = self.resolve(&set, by_uid);
        let read_only = self.selected.as_ref().is_none_or(|s| s.read_only);
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let mut current = match self.current_of(&uids).await {
            Ok(c) => c,
            Err(done) => return done,
        };
        // Reading a body marks the message \Seen, before the answer shows its flags.
        if !read_only && items.iter().any(Item::marks_seen) {
            let unseen: Vec<u32> = targets
                .iter()
                .filter(|(_, uid)| current.get(uid).is_some_and(|e| !e.has_flag(SEEN)))
                .map(|(_, uid)| *uid)
                .collect();
            if !unseen.is_empty() {
                let folder = self.selected.as_ref().map(|s| s.folder).unwrap_or_default();
                match self
                    .ctx
                    .messaging
                    .set_flags(
                        &self.mailbox_id(),
                        folder,
                        &unseen,
                        FlagChange::Add,
                        &[SEEN.to_owned()],
                        None,
                    )
                    .await
                {
                    Ok(update) => {
                        for e in update.entries {
                            current.insert(e.uid, e);
                        }
                    }
                    Err(e) => return refusal(&e),
                }
                if !items.contains(&Item::Flags) {
                    items.push(Item::Flags);
                }
            }
        }
        for (seq, uid) in targets {
            let Some(entry) = current.get(&uid) else {
                continue;
            };
            if changed_since.is_some_and(|n| entry.modseq <= n) {
                continue;
            }
            let raw = if items.iter().any(Item::needs_body) {
                match self.body(entry).await {
                    Ok(b) => Some(b),
                    Err(done) => return done,
                }
            } else {
                None
            };
            let parsed = raw.as_deref().map(Parsed::new);
            let mut out = format!("* {seq} FETCH (").into_bytes();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_item(&mut out, item, entry, parsed.as_ref());
            }
            out.extend_from_slice(b")\r\n");
            self.wire.output.extend_from_slice(&out);
            // Keep the session's view of the flags in step with what it just said.
            if let Some(k) = self
                .selected
                .as_mut()
                .and_then(|s| s.known.iter_mut().find(|k| k.uid == uid))
                && items.contains(&Item::Flags)
            {
                k.flags = entry.flags.clone();
                k.modseq = entry.modseq;
            }
        }
        self.sync(by_uid).await;
        ok("FETCH completed")
    }

    async fn store(&mut self, by_uid: bool, args: &mut Args<'_>) -> Done {
        let parsed = (|| -> parse::ParseResult<(SequenceSet, Option<u64>, String, Vec<String>)> {
            args.space()?;
            let set = args.sequence_set()?;
            args.space()?;
            let mut unchanged_since = None;
            if args.eat(b'(') {
                let word = args.atom()?.to_ascii_uppercase();
                if word != "UNCHANGEDSINCE" {
                    return Err(format!("unknown STORE modifier {word}"));
                }
                args.space()?;
                unchanged_since = Some(args.number()?);
                args.expect(b')')?;
                args.space()?;
            }
            let what = args.atom()?.to_ascii_uppercase();
            args.space()?;
            let flags = if args.peek() == Some(b'(') {
                args.flag_list()?
            } else {
                let mut list = vec![args.atom()?];
                while args.maybe_space() {
                    list.push(args.atom()?);
                }
                list
            };
            args.end()?;
            Ok((set, unchanged_since, what, flags))
        })();
        let (set, unchanged_since, what, flags) = match parsed {
            Ok(p) => p,
            Err(e) => return bad(&e),
        };
        if self.selected.as_ref().is_none_or(|s| s.read_only) {
            return no_code("READ-ONLY", "the folder is read-only");
        }
        let silent = what.ends_with(".SILENT");
        let change = match what.trim_end_matches(".SILENT") {
            "FLAGS" => FlagChange::Replace,
            "+FLAGS" => FlagChange::Add,
            "-FLAGS" => FlagChange::Remove,
            other => return bad(&format!("unknown STORE item {other}")),
        };
        if unchanged_since.is_some() {
            self.condstore = true;
        }
        let targets = self.resolve(&set, by_uid);
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let folder = self.selected.as_ref().map(|s| s.folder).unwrap_or_default();
        let update = match self
            .ctx
            .messaging
            .set_flags(
                &self.mailbox_id(),
                folder,
                &uids,
                change,
                &flags,
                unchanged_since,
            )
            .await
        {
            Ok(u) => u,
            Err(e) => return refusal(&e),
        };
        let condstore = self.condstore;
        for e in &update.entries {
            let Some(seq) = targets.iter().find(|(_, u)| *u == e.uid).map(|(s, _)| *s) else {
                continue;
            };
            let changed = self
                .selected
                .as_mut()
                .and_then(|s| s.known.get_mut(seq as usize - 1))
                .map(|k| {
                    let changed = k.flags != e.flags || k.modseq != e.modseq;
                    k.flags = e.flags.clone();
                    k.modseq = e.modseq;
                    changed
                })
                .unwrap_or(false);
            if update.modified.contains(&e.uid) {
                continue;
            }
            if !silent || (condstore && changed) {
                let uid = if by_uid {
                    format!("UID {} ", e.uid)
                } else {
                    String::new()
                };
                let modseq = if condstore {
                    format!(" MODSEQ ({})", e.modseq)
                } else {
                    String::new()
                };
                let flags = if silent {
                    String::new()
                } else {
                    format!(" FLAGS {}", flag_list(&e.flags))
                };
                let body = format!("{uid}{}{modseq}", flags.trim_start());
                let body = if silent {
                    body.trim_start().to_owned()
                } else {
                    body
                };
                self.untagged(&format!("{seq} FETCH ({})", body.trim()));
            }
        }
        self.sync(by_uid).await;
        if update.modified.is_empty() {
            ok("STORE completed")
        } else {
            let modified: Vec<u32> = if by_uid {
                update.modified.clone()
            } else {
                targets
                    .iter()
                    .filter(|(_, u)| update.modified.contains(u))
                    .map(|(s, _)| *s)
                    .collect()
            };
            ok_code(
                format!("MODIFIED {}", uid_set(&modified)),
                "conditional STORE failed",
            )
        }
    }

    async fn copy(&mut self, by_uid: bool, args: &mut Args<'_>, moving: bool) -> Done {
        let parsed = (|| -> parse::ParseResult<(SequenceSet, String)> {
            args.space()?;
            let set = args.sequence_set()?;
            args.space()?;
            let target = args.astring_text()?;
            args.end()?;
            Ok((set, target))
        })();
        let (set, target) = match parsed {
            Ok(p) => p,
            Err(e) => return bad(&e),
        };
        if moving && self.selected.as_ref().is_none_or(|s| s.read_only) {
            return no_code("READ-ONLY", "the folder is read-only");
        }
        let targets = self.resolve(&set, by_uid);
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        if uids.is_empty() {
            return ok("nothing to do");
        }
        let folder = self.selected.as_ref().map(|s| s.folder).unwrap_or_default();
        let mailbox = self.mailbox_id();
        let result = if moving {
            self.ctx
                .messaging
                .move_messages(&mailbox, folder, &uids, &target)
                .await
        } else {
            self.ctx
                .messaging
                .copy(&mailbox, folder, &uids, &target)
                .await
        };
        let (validity, pairs) = match result {
            Ok(r) => r,
            Err(e) => return refusal(&e),
        };
        let from: Vec<u32> = pairs.iter().map(|(a, _)| *a).collect();
        let to: Vec<u32> = pairs.iter().map(|(_, b)| *b).collect();
        // The pairs in source-UID order, as COPYUID wants both sets aligned.
        let code = format!("COPYUID {validity} {} {}", join(&from), join(&to));
        if moving {
            self.untagged(&format!("OK [{code}] moved"));
            self.sync(true).await;
            ok("MOVE completed")
        } else {
            ok_code(code, "COPY completed")
        }
    }
}

/// The one folder name a command takes.
fn folder_name(args: &mut Args<'_>) -> Result<String, Done> {
    args.space()
        .and_then(|()| args.astring_text())
        .map_err(|e| bad(&e))
}

/// APPEND's folder, flags, date and message.
type AppendArgs = (String, Vec<String>, Option<String>, Vec<u8>);

/// UIDs in the order given (COPYUID pairs them by position).
fn join(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn write_item(out: &mut Vec<u8>, item: &Item, entry: &MessageEntry, parsed: Option<&Parsed<'_>>) {
    match item {
        Item::Uid => out.extend_from_slice(format!("UID {}", entry.uid).as_bytes()),
        Item::Flags => {
            out.extend_from_slice(format!("FLAGS {}", flag_list(&entry.flags)).as_bytes())
        }
        Item::InternalDate => out.extend_from_slice(
            format!(
                "INTERNALDATE \"{}\"",
                entry.internal_date.format("%d-%b-%Y %H:%M:%S +0000")
            )
            .as_bytes(),
        ),
        Item::Size => out.extend_from_slice(format!("RFC822.SIZE {}", entry.size).as_bytes()),
        Item::ModSeq => out.extend_from_slice(format!("MODSEQ ({})", entry.modseq).as_bytes()),
        Item::Envelope => {
            out.extend_from_slice(b"ENVELOPE ");
            match parsed {
                Some(p) => fetch::envelope(out, p),
                None => out.extend_from_slice(b"NIL"),
            }
        }
        Item::Structure { extensible } => {
            out.extend_from_slice(if *extensible {
                b"BODYSTRUCTURE "
            } else {
                b"BODY "
            });
            match parsed {
                Some(p) => fetch::structure(out, p, *extensible),
                None => out.extend_from_slice(b"NIL"),
            }
        }
        Item::Section {
            section,
            partial,
            label,
            ..
        } => {
            let bytes = parsed.map(|p| p.section(section)).unwrap_or_default();
            let name = match label {
                Label::Body => {
                    let origin = partial
                        .map(|(start, _)| format!("<{start}>"))
                        .unwrap_or_default();
                    format!("BODY[{}]{origin}", section.spec())
                }
                Label::Rfc822 => "RFC822".into(),
                Label::Rfc822Header => "RFC822.HEADER".into(),
                Label::Rfc822Text => "RFC822.TEXT".into(),
            };
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            fetch::literal(out, &fetch::partial(bytes, *partial));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_patterns_follow_the_wildcards() {
        let m = |p: &str, n: &str| {
            pattern_matches(
                &p.chars().collect::<Vec<_>>(),
                &n.chars().collect::<Vec<_>>(),
            )
        };
        assert!(m("*", "Projects/2026"));
        assert!(m("%", "Sent") && !m("%", "Projects/2026"));
        assert!(m("Projects/%", "Projects/2026"));
        assert!(!m("Projects/%", "Projects/2026/Q1"));
        assert!(m("Pro*6", "Projects/2026"));
        assert!(!m("INBOX", "Sent"));
    }

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[5, 1, 2, 3, 9, 10]), "1:3,5,9:10");
        assert_eq!(uid_set(&[]), "");
    }
}
