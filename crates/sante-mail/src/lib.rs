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
    /// A session waiting longer than this for a command is closed.
    pub idle_timeout: Duration,
    /// Deadline of a STARTTLS handshake.
    pub tls_timeout: Duration,
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
            idle_timeout: Duration::from_secs(300),
            tls_timeout: Duration::from_secs(10),
        }
    }
}
