//! The mail front ends of secure messaging (MSG-4, MSG-5): SMTP (submission on 587
//! with STARTTLS and 465 with implicit TLS, inbound from partner domains on 25, and
//! the client that relays the outbound queue), IMAP4rev2 and POP3 over TLS.
//!
//! Each speaks its protocol, authenticates mail programs through `sante-identity`
//! (an application password, or the card certificate presented in the TLS
//! handshake) in one place ([`auth`]), and asks `sante-messaging` for everything
//! else: who may send what to whom, where messages go, what a mailbox holds.
//! Authentication is offered only once the connection is encrypted: no password ever
//! crosses in clear.
//!
//! Architecture invariant: knows wire protocols, not rules; never depends on
//! `sante-store`; never logs a message's content, a password or an address typed at
//! login.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sante_identity::Identity;
use sante_messaging::Messaging;
use sante_terms::Terms;

pub mod auth;
pub mod imap;
pub mod pop3;
pub mod relay;
pub mod smtp;
mod wire;

#[cfg(test)]
mod fuzz_targets;

/// What every mail front end shares.
#[derive(Clone)]
pub struct MailContext {
    pub messaging: Messaging,
    pub identity: Identity,
    /// The terms of use that must be accepted before the service is used (TOU-1);
    /// none configured, none checked (tests of the protocols alone).
    pub terms: Option<Terms>,
    /// The name the servers give themselves in greetings.
    pub hostname: String,
    /// What a client may do before its session is closed.
    pub limits: MailLimits,
    /// Deadline of a STARTTLS handshake.
    pub tls_timeout: Duration,
    /// IMAP sessions open per mailbox, shared by every IMAP listener of this node.
    imap_sessions: Arc<SessionCounts>,
}

/// What a mail client may do before it is refused or its session closed, each a
/// `[messaging]` configuration key. Past a limit the session ends with the protocol's
/// own reply (SMTP 421, IMAP `BYE`, POP3 `-ERR`) and the event is traced.
#[derive(Debug, Clone)]
pub struct MailLimits {
    /// An SMTP client must finish each command line within this (RFC 5321
    /// §4.5.3.2.7: the server waits 5 minutes for a command).
    pub smtp_idle: Duration,
    /// The same for IMAP (RFC 9051 §5.4: at least 30 minutes once logged in, so
    /// IDLE sessions survive) ...
    pub imap_idle: Duration,
    /// ... and for POP3 (RFC 1939 §3: at least 10 minutes).
    pub pop3_idle: Duration,
    /// Before login, every protocol waits at most this for a command: a connection
    /// that never authenticates does not hold its slot for half an hour.
    pub unauthenticated_idle: Duration,
    /// Refused or malformed commands before the session is closed (Postfix's
    /// `smtpd_hard_error_limit`, Dovecot's bad-command limit).
    pub max_errors: u32,
    /// Failed authentications before the session is closed.
    pub max_auth_failures: u32,
    /// IMAP sessions one mailbox keeps open at once (Dovecot's
    /// `mail_max_userip_connections`); the next login is refused with `[LIMIT]`.
    pub imap_sessions_per_mailbox: usize,
}

impl Default for MailLimits {
    fn default() -> MailLimits {
        MailLimits {
            smtp_idle: Duration::from_secs(300),
            imap_idle: Duration::from_secs(30 * 60),
            pop3_idle: Duration::from_secs(10 * 60),
            unauthenticated_idle: Duration::from_secs(60),
            max_errors: 20,
            max_auth_failures: 3,
            imap_sessions_per_mailbox: 10,
        }
    }
}

/// Sessions open per mailbox.
#[derive(Debug, Default)]
struct SessionCounts {
    open: Mutex<HashMap<String, usize>>,
}

/// A session's place in its mailbox's count, given back when the session ends.
#[derive(Debug)]
pub struct SessionSlot {
    counts: Arc<SessionCounts>,
    mailbox: String,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.mailbox) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.mailbox);
            }
        }
    }
}

impl std::fmt::Debug for MailContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailContext")
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
}

impl MailContext {
    /// Requires the acceptance of `terms` before a mail program may log in.
    pub fn with_terms(mut self, terms: Terms) -> MailContext {
        self.terms = Some(terms);
        self
    }

    pub fn new(messaging: Messaging, identity: Identity, hostname: &str) -> MailContext {
        MailContext {
            messaging,
            identity,
            terms: None,
            hostname: hostname.to_owned(),
            limits: MailLimits::default(),
            tls_timeout: Duration::from_secs(10),
            imap_sessions: Arc::default(),
        }
    }

    pub fn with_limits(mut self, limits: MailLimits) -> MailContext {
        self.limits = limits;
        self
    }

    /// A place for one more IMAP session of `mailbox`, or `None` when it already has
    /// as many as the limit allows.
    pub fn open_imap_session(&self, mailbox: &str) -> Option<SessionSlot> {
        let mut open = self
            .imap_sessions
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let n = open.entry(mailbox.to_owned()).or_default();
        if *n >= self.limits.imap_sessions_per_mailbox {
            return None;
        }
        *n += 1;
        Some(SessionSlot {
            counts: self.imap_sessions.clone(),
            mailbox: mailbox.to_owned(),
        })
    }
}
