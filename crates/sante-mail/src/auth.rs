//! The one place where mail programs are authenticated: an application password
//! (SASL PLAIN or LOGIN, IMAP LOGIN, POP3 USER/PASS), or the card certificate the
//! client presented in the TLS handshake (SASL EXTERNAL). Only over TLS; the result
//! opens messaging only, and the user's mailbox is created at his first access.

use sante_audit::{Source, Token};
use sante_identity::{Authenticated, IdentityError};
use sante_messaging::address::Address;
use sante_messaging::model::Mailbox;
use sante_messaging::{MailUser, MessagingError};
use sante_net::SessionInfo;
use sante_types::{Coded, ErrorKind, Service};

use crate::MailContext;
use zeroize::Zeroizing;

/// A mail program authenticated, with its mailbox.
#[derive(Debug, Clone)]
pub struct MailSession {
    pub who: Authenticated,
    pub user: MailUser,
    pub mailbox: Mailbox,
}

/// Why authentication failed, as the protocols tell it.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Authentication attempted on a clear-text connection: refused before the
    /// credentials are even read.
    #[error("encryption required for authentication")]
    NotEncrypted,
    /// Wrong login or password, unknown or revoked certificate, blocked account.
    #[error("authentication failed")]
    Invalid,
    /// The account may not use messaging, or its mailbox is closed.
    #[error("{0}")]
    NotAllowed(String),
    /// The platform could not decide (storage or trail unavailable).
    #[error("temporary failure")]
    Unavailable,
}

impl Coded for AuthError {
    fn code(&self) -> &'static str {
        match self {
            AuthError::NotEncrypted => "MAL001",
            AuthError::Invalid => "MAL002",
            AuthError::NotAllowed(_) => "MAL003",
            AuthError::Unavailable => "MAL004",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            AuthError::NotEncrypted => ErrorKind::Invalid,
            AuthError::Invalid => ErrorKind::Unauthenticated,
            AuthError::NotAllowed(_) => ErrorKind::Denied,
            AuthError::Unavailable => ErrorKind::Unavailable,
        }
    }
}

/// Where a session's events come from.
pub fn source(session: &SessionInfo, channel: &'static str) -> Source {
    Source {
        ip: Some(session.peer.ip()),
        request_id: Token::new(session.id.simple().to_string()).ok(),
        channel: Some(Token::code(channel)),
    }
}

fn mail_user(who: &Authenticated) -> MailUser {
    MailUser {
        account: who.account.clone(),
        quality: who.quality,
        assurance: who.assurance,
        credential: who.credential,
        subject: who.subject.clone(),
    }
}

impl MailContext {
    /// Traces a refused attempt that never reached the security directory (a
    /// password offered in clear).
    pub async fn refuse_plaintext(&self, session: &SessionInfo, channel: &'static str) {
        self.session_refused(session, channel, "plaintext_login")
            .await;
    }

    /// Traces a session refused or closed by a limit (`code`: which one) as a
    /// security event.
    pub async fn session_refused(
        &self,
        session: &SessionInfo,
        channel: &'static str,
        code: &'static str,
    ) {
        tracing::info!(channel, refusal = code, "mail session refused");
        if let Err(e) = self
            .messaging
            .session_refused(code, &source(session, channel))
            .await
        {
            tracing::error!(error = %e, refusal = code, "cannot trace a refused mail session");
        }
    }

    /// Authenticates `login` with an application password.
    pub async fn authenticate_password(
        &self,
        session: &SessionInfo,
        channel: &'static str,
        login: &str,
        password: &str,
    ) -> Result<MailSession, AuthError> {
        if !session.tls {
            self.refuse_plaintext(session, channel).await;
            return Err(AuthError::NotEncrypted);
        }
        let src = source(session, channel);
        let login = self.login_name(login).await?;
        let who = self
            .identity
            .authenticate_app_password(&login, password, Service::Messaging, &src)
            .await
            .map_err(identity_error)?;
        self.open(who, &src).await
    }

    /// Mail programs may log in with the mailbox's address (what autoconfiguration
    /// tells them) as well as with the account's login name.
    async fn login_name(&self, login: &str) -> Result<String, AuthError> {
        if !login.contains('@') {
            return Ok(login.to_owned());
        }
        let Ok(address) = Address::parse(login) else {
            return Err(AuthError::Invalid);
        };
        let mailbox = match self.messaging.mailbox_by_address(&address).await {
            Ok(Some(m)) => m,
            Ok(None) => return Err(AuthError::Invalid),
            Err(e) => {
                tracing::error!(error = %e, "mailbox directory unavailable");
                return Err(AuthError::Unavailable);
            }
        };
        match self.identity.account(&mailbox.account).await {
            Ok(account) => Ok(account.login),
            Err(e) => Err(identity_error(e)),
        }
    }

    /// Authenticates the certificate the client presented (SASL EXTERNAL).
    pub async fn authenticate_certificate(
        &self,
        session: &SessionInfo,
        channel: &'static str,
    ) -> Result<MailSession, AuthError> {
        let Some(cert) = session.peer_certificate.as_deref().filter(|_| session.tls) else {
            return Err(AuthError::Invalid);
        };
        let src = source(session, channel);
        let who = self
            .identity
            .authenticate_certificate_for(cert, Service::Messaging, &src)
            .await
            .map_err(identity_error)?;
        self.open(who, &src).await
    }

    async fn open(&self, who: Authenticated, src: &Source) -> Result<MailSession, AuthError> {
        let user = mail_user(&who);
        if let Some(terms) = &self.terms {
            let actor = sante_audit::Actor {
                person: Token::new(who.account.clone()).ok(),
                quality: Some(who.quality),
                credential: Some(who.credential),
                assurance: Some(who.assurance),
                ..sante_audit::Actor::default()
            };
            match terms
                .require(actor, &who.account, Service::Messaging, src)
                .await
            {
                Ok(()) => {}
                Err(sante_terms::TermsError::NotAccepted(_)) => {
                    return Err(AuthError::NotAllowed(
                        "accept the terms of use of secure messaging on the portal first".into(),
                    ));
                }
                Err(e) => {
                    tracing::error!(error = %e, "terms of use unavailable");
                    return Err(AuthError::Unavailable);
                }
            }
        }
        let mailbox = match self.messaging.open_mailbox(&user, src).await {
            Ok(m) => m,
            Err(MessagingError::NotEntitled(why)) => {
                return Err(AuthError::NotAllowed(format!(
                    "secure messaging is not available to this account ({why})"
                )));
            }
            Err(MessagingError::MailboxClosed) => {
                return Err(AuthError::NotAllowed("this mailbox is closed".into()));
            }
            Err(e) => {
                tracing::error!(error = %e, "mailbox unavailable");
                return Err(AuthError::Unavailable);
            }
        };
        self.messaging
            .session_opened(&user, &mailbox.id, src)
            .await
            .map_err(|_| AuthError::Unavailable)?;
        Ok(MailSession { who, user, mailbox })
    }

    /// Whether a session's credential is still good (not revoked, account active,
    /// mailbox open): long connections ask before each command that reaches mail.
    pub async fn still_valid(&self, session: &MailSession) -> bool {
        if self
            .identity
            .recheck_mail_credential(&session.who)
            .await
            .is_err()
        {
            return false;
        }
        matches!(self.messaging.mailbox(&session.mailbox.id).await, Ok(m) if m.is_open())
    }
}

fn identity_error(e: IdentityError) -> AuthError {
    if e.kind().is_platform_fault() {
        tracing::error!(error = %e, code = e.code(), "authentication unavailable");
        AuthError::Unavailable
    } else {
        AuthError::Invalid
    }
}

/// Reads SASL PLAIN's `authzid \0 authcid \0 password` (RFC 4616), for SMTP, IMAP and
/// POP3 alike. An authorisation identity other than the login itself is refused:
/// nobody sends as someone else.
pub fn plain_credentials(response: &[u8]) -> Option<(String, Zeroizing<String>)> {
    let mut parts = response.split(|&b| b == 0);
    let authzid = parts.next()?;
    let login = std::str::from_utf8(parts.next()?).ok()?.to_owned();
    let password = Zeroizing::new(std::str::from_utf8(parts.next()?).ok()?.to_owned());
    if parts.next().is_some() || login.is_empty() {
        return None;
    }
    if !authzid.is_empty() && authzid != login.as_bytes() {
        return None;
    }
    Some((login, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_credentials_are_read() {
        let (l, p) = plain_credentials(b"\0dr.weber\0secret pw").unwrap();
        assert_eq!((l.as_str(), p.as_str()), ("dr.weber", "secret pw"));
        assert!(plain_credentials(b"dr.weber\0dr.weber\0pw").is_some());
        assert!(plain_credentials(b"someone.else\0dr.weber\0pw").is_none());
        assert!(plain_credentials(b"\0\0pw").is_none());
        assert!(plain_credentials(b"no separators").is_none());
    }
}
