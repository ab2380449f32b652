//! The IMAP server (IMAP4rev2, RFC 9051, answering IMAP4rev1 clients as RFC 3501
//! does) on implicit TLS (993): folders, flags, UID/UIDVALIDITY, SEARCH, FETCH of
//! body parts with partial ranges, IDLE (RFC 2177), QUOTA (RFC 9208), MOVE (RFC 6851),
//! UIDPLUS (RFC 4315), CONDSTORE (RFC 7162), SPECIAL-USE (RFC 6154), LITERAL+,
//! SASL-IR, ENABLE, ID, NAMESPACE, UNSELECT, UTF8=ACCEPT (RFC 6855) and modified
//! UTF-7 names for IMAP4rev1 clients.
//!
//! [`proto`] is the protocol without I/O (framing, typed commands, the state machine,
//! responses); this session reads and writes the socket and executes what the
//! protocol layer parsed: [`login`] the authentication, [`mailboxes`] the folder
//! commands, [`messages`] the commands on the selected folder.
//!
//! Authentication (LOGIN, AUTHENTICATE PLAIN or EXTERNAL) goes through
//! [`crate::auth`]; every later command first checks that the credential is still
//! good, so a revoked application password or card ends the session at once.

mod fetch;
mod login;
mod mailboxes;
mod messages;
pub(crate) mod proto;
mod search;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sante_messaging::{MessagingError, Refusal};
use sante_net::{IoStream, SessionHandler, SessionInfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use crate::auth::MailSession;
use crate::wire::{Waited, Wire};
use crate::{MailContext, SessionSlot};
use proto::command::{self, Command, Request, Unreadable, Verb};
use proto::framing::{Frame, Framer, Limits};
use proto::mutf7::Names;
use proto::response::{self, Done, bad, no, no_code, ok};
use proto::state::{self, State};

const CHANNEL: &str = "imap";
const MAX_LINE: usize = 64 * 1024;
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
            let idle = ctx.limits.unauthenticated_idle;
            let mut s = Session {
                ctx,
                wire: Wire::new(stream, idle),
                framer: Framer::default(),
                info: session,
                auth: None,
                slot: None,
                selected: None,
                failures: 0,
                errors: 0,
                condstore: false,
                rev2: false,
                utf8: false,
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
    framer: Framer,
    info: SessionInfo,
    auth: Option<MailSession>,
    /// This session's place among its mailbox's open sessions.
    slot: Option<SessionSlot>,
    selected: Option<Selected>,
    /// Failed authentications.
    failures: u32,
    /// Commands answered BAD.
    errors: u32,
    /// CONDSTORE enabled: FETCH responses carry MODSEQ.
    condstore: bool,
    /// IMAP4rev2 enabled: SEARCH answers with ESEARCH, names are UTF-8.
    rev2: bool,
    /// UTF8=ACCEPT enabled (RFC 6855): names are UTF-8.
    utf8: bool,
}

/// What a command handler tells the loop.
enum Flow {
    Continue,
    Logout,
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

impl Session {
    fn untagged(&mut self, line: &str) {
        if line.starts_with("BAD ") {
            self.errors += 1;
        }
        response::untagged(&mut self.wire.output, line);
    }

    fn tagged(&mut self, tag: &str, done: Done) {
        if done.status == response::Status::Bad {
            self.errors += 1;
        }
        response::tagged(&mut self.wire.output, tag, &done);
    }

    /// RFC 9051 §3's state, read from what the session holds.
    fn state(&self) -> State {
        match (&self.auth, &self.selected) {
            (None, _) => State::NotAuthenticated,
            (Some(_), None) => State::Authenticated,
            (Some(_), Some(_)) => State::Selected,
        }
    }

    /// How this client spells mailbox names.
    fn names(&self) -> Names {
        if self.rev2 || self.utf8 {
            Names::Utf8
        } else {
            Names::ModifiedUtf7
        }
    }

    /// A folder name as this client spells it, quoted.
    fn mailbox_name(&self, name: &str) -> String {
        response::mailbox(self.names(), name)
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.wire.flush().await
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
    /// synchronising ones). `Err(text)` for a command that could not be read whole
    /// (the reason is sent as BAD); `None` when the session ends.
    async fn command(
        &mut self,
        shutdown: &CancellationToken,
    ) -> std::io::Result<Option<Result<Zeroizing<Vec<u8>>, String>>> {
        self.wire.begin_command();
        loop {
            let limits = Limits {
                line: MAX_LINE,
                literal: if self.auth.is_some() {
                    self.ctx.messaging.config().max_message_bytes as usize + 64 * 1024
                } else {
                    PRE_AUTH_LITERAL
                },
            };
            match self.framer.next(&mut self.wire.input, limits) {
                Frame::Command(command) => return Ok(Some(Ok(command))),
                Frame::Continue => self.wire.output.extend_from_slice(b"+ go ahead\r\n"),
                Frame::Incomplete => {
                    if !self.read_more(shutdown).await? {
                        return Ok(None);
                    }
                }
                Frame::LiteralRefused { size } => {
                    return Ok(Some(Err(format!(
                        "[TOOBIG] literal of {size} bytes refused"
                    ))));
                }
                Frame::LineTooLong => {
                    self.untagged("BYE line too long");
                    self.flush().await?;
                    return Ok(None);
                }
                Frame::LiteralTooBig { .. } => {
                    // The client sends it anyway: it cannot be skipped safely.
                    self.untagged("BYE [TOOBIG] literal too big");
                    self.flush().await?;
                    return Ok(None);
                }
            }
        }
    }

    /// One line from the client (a SASL response, IDLE's DONE); `None` when the
    /// session ends.
    async fn line(
        &mut self,
        shutdown: &CancellationToken,
    ) -> std::io::Result<Option<Zeroizing<Vec<u8>>>> {
        loop {
            if let Some(line) = proto::framing::line(&mut self.wire.input) {
                return Ok(Some(line));
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

    async fn run(&mut self, shutdown: CancellationToken) -> std::io::Result<()> {
        let caps = self.capabilities();
        self.untagged(&format!(
            "OK [CAPABILITY {caps}] {} IMAP Sante ready",
            self.ctx.hostname
        ));
        loop {
            if self.errors >= self.ctx.limits.max_errors {
                self.untagged("BYE too many invalid commands");
                self.ctx
                    .session_refused(&self.info, CHANNEL, "too_many_errors")
                    .await;
                break;
            }
            let wire = match self.command(&shutdown).await? {
                None => break,
                Some(Ok(wire)) => wire,
                Some(Err(why)) => {
                    self.untagged(&format!("BAD {why}"));
                    continue;
                }
            };
            let request = match command::parse(&wire, self.names()) {
                Ok(request) => request,
                Err(Unreadable::Tag) => {
                    self.untagged("BAD missing or invalid tag");
                    continue;
                }
                Err(Unreadable::Verb { tag }) => {
                    self.tagged(&tag, bad("missing command"));
                    continue;
                }
            };
            match self.execute(request, &shutdown).await? {
                Flow::Continue => {}
                Flow::Logout => break,
            }
        }
        // The mailbox's place is given back before the client sees the connection
        // close, so that it may log in again at once.
        self.slot = None;
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
            "UTF8=ACCEPT",
        ];
        if self.auth.is_none() {
            caps.push("AUTH=PLAIN");
            if self.info.peer_certificate.is_some() {
                caps.push("AUTH=EXTERNAL");
            }
        }
        caps.join(" ")
    }

    /// Admits the command in the session's state, checks the credential, then runs it.
    async fn execute(
        &mut self,
        request: Request,
        shutdown: &CancellationToken,
    ) -> std::io::Result<Flow> {
        let Request { tag, verb, command } = request;
        if let Err(refused) = state::admit(self.state(), verb) {
            self.tagged(&tag, refused);
            return Ok(Flow::Continue);
        }
        let asks_nothing = matches!(verb, Verb::Capability | Verb::Logout | Verb::Id);
        if self.auth.is_some() && !asks_nothing && !self.recheck(&tag).await {
            return Ok(Flow::Logout);
        }
        let command = match command {
            Ok(command) => command,
            Err(why) => {
                self.tagged(&tag, bad(&why));
                return Ok(Flow::Continue);
            }
        };
        let done = match command {
            Command::Capability => {
                let caps = self.capabilities();
                self.untagged(&format!("CAPABILITY {caps}"));
                ok("CAPABILITY completed")
            }
            Command::Noop => {
                self.sync(true).await;
                ok("NOOP completed")
            }
            Command::Logout => {
                self.untagged("BYE logging out");
                self.tagged(&tag, ok("LOGOUT completed"));
                return Ok(Flow::Logout);
            }
            Command::Id => {
                self.untagged("ID (\"name\" \"Sante\" \"vendor\" \"Sante\")");
                ok("ID completed")
            }
            Command::Login { login, password } => {
                return self.login(&tag, &login, &password.0).await;
            }
            Command::Authenticate { mechanism, initial } => {
                return self.authenticate(&tag, mechanism, initial, shutdown).await;
            }
            Command::Enable(capabilities) => self.enable(&capabilities),
            Command::Select {
                name,
                read_only,
                condstore,
            } => self.select(&name, read_only, condstore).await,
            Command::Create(name) => self.create(&name).await,
            Command::Delete(name) => self.delete(&name).await,
            Command::Rename { from, to } => self.rename(&from, &to).await,
            Command::Subscribe { name, on } => self.subscribe(&name, on).await,
            Command::List {
                lsub,
                subscribed_only,
                reference,
                patterns,
            } => {
                self.list(lsub, subscribed_only, &reference, &patterns)
                    .await
            }
            Command::Namespace => {
                self.untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
                ok("NAMESPACE completed")
            }
            Command::Status { name, items } => self.status(&name, &items).await,
            Command::Append {
                folder,
                flags,
                internal_date,
                message,
            } => self.append(&folder, &flags, internal_date, &message).await,
            Command::GetQuota(root) => self.quota(&root, false).await,
            Command::GetQuotaRoot(name) => self.quota(&name, true).await,
            Command::Idle => return self.idle(&tag, shutdown).await,
            Command::Close { expunge } => self.close(expunge).await,
            Command::Expunge(uids) => self.expunge(uids).await,
            Command::Search {
                by_uid,
                returns,
                key,
            } => self.search(&tag, by_uid, returns, &key).await,
            Command::Fetch {
                by_uid,
                set,
                items,
                changed_since,
            } => self.fetch(by_uid, &set, items, changed_since).await,
            Command::Store {
                by_uid,
                set,
                unchanged_since,
                change,
                silent,
                flags,
            } => {
                let store = messages::Store {
                    change,
                    silent,
                    unchanged_since,
                };
                self.store(by_uid, &set, store, &flags).await
            }
            Command::Copy {
                by_uid,
                set,
                target,
                moving,
            } => self.copy(by_uid, &set, &target, moving).await,
        };
        self.tagged(&tag, done);
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

    fn mailbox_id(&self) -> String {
        self.auth
            .as_ref()
            .map(|a| a.mailbox.id.clone())
            .unwrap_or_default()
    }

    /// IDLE: changes are pushed as they happen until the client says DONE.
    async fn idle(&mut self, tag: &str, shutdown: &CancellationToken) -> std::io::Result<Flow> {
        let mut changes = self.ctx.messaging.watch(&self.mailbox_id());
        changes.borrow_and_update();
        self.wire.output.extend_from_slice(b"+ idling\r\n");
        self.flush().await?;
        loop {
            if let Some(line) = proto::framing::line(&mut self.wire.input) {
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
}
