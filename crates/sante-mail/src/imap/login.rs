//! LOGIN and AUTHENTICATE (PLAIN, EXTERNAL with the client certificate), and what an
//! authentication outcome does to the session.

use base64::Engine;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use super::proto::command::Mechanism;
use super::proto::response::{bad, no, no_code, ok_code};
use super::{CHANNEL, Flow, Session};
use crate::auth::{AuthError, MailSession};

impl Session {
    pub(super) async fn login(
        &mut self,
        tag: &str,
        login: &str,
        password: &str,
    ) -> std::io::Result<Flow> {
        let result = self
            .ctx
            .authenticate_password(&self.info, CHANNEL, login, password)
            .await;
        Ok(self.authenticated(tag, result).await)
    }

    pub(super) async fn authenticate(
        &mut self,
        tag: &str,
        mechanism: Mechanism,
        initial: Option<Zeroizing<Vec<u8>>>,
        shutdown: &CancellationToken,
    ) -> std::io::Result<Flow> {
        let result = match mechanism {
            Mechanism::Plain => {
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
                match crate::auth::plain_credentials(&decoded) {
                    Some((login, password)) => {
                        self.ctx
                            .authenticate_password(&self.info, CHANNEL, &login, &password)
                            .await
                    }
                    None => {
                        self.tagged(tag, bad("malformed PLAIN response"));
                        return Ok(Flow::Continue);
                    }
                }
            }
            Mechanism::External => {
                if initial.is_none() && self.continuation(shutdown).await?.is_none() {
                    return Ok(Flow::Logout);
                }
                self.ctx.authenticate_certificate(&self.info, CHANNEL).await
            }
            Mechanism::Other(_) => {
                self.tagged(tag, no("unsupported mechanism (PLAIN, EXTERNAL)"));
                return Ok(Flow::Continue);
            }
        };
        Ok(self.authenticated(tag, result).await)
    }

    /// A SASL continuation: `+ ` then one line from the client.
    async fn continuation(
        &mut self,
        shutdown: &CancellationToken,
    ) -> std::io::Result<Option<Zeroizing<Vec<u8>>>> {
        self.wire.output.extend_from_slice(b"+ \r\n");
        self.wire.begin_command();
        self.line(shutdown).await
    }

    /// Answers an authentication: logged in, or why not; past the limit of failures
    /// the session ends.
    async fn authenticated(&mut self, tag: &str, result: Result<MailSession, AuthError>) -> Flow {
        match result {
            Ok(session) => {
                let Some(slot) = self.ctx.open_imap_session(&session.mailbox.id) else {
                    self.ctx
                        .session_refused(&self.info, CHANNEL, "too_many_sessions")
                        .await;
                    self.tagged(
                        tag,
                        no_code("LIMIT", "too many sessions open for this mailbox"),
                    );
                    return Flow::Continue;
                };
                self.slot = Some(slot);
                self.wire.set_idle(self.ctx.limits.imap_idle);
                self.auth = Some(session);
                let caps = self.capabilities();
                self.tagged(tag, ok_code(format!("CAPABILITY {caps}"), "logged in"));
                Flow::Continue
            }
            Err(AuthError::NotEncrypted) => {
                self.tagged(tag, no_code("PRIVACYREQUIRED", "encryption required"));
                Flow::Logout
            }
            Err(AuthError::Unavailable) => {
                self.tagged(tag, no_code("UNAVAILABLE", "try again later"));
                Flow::Continue
            }
            Err(AuthError::NotAllowed(why)) => {
                self.tagged(tag, no_code("NOPERM", &why));
                self.after_failure().await
            }
            Err(AuthError::Invalid) => {
                self.tagged(
                    tag,
                    no_code("AUTHENTICATIONFAILED", "authentication failed"),
                );
                self.after_failure().await
            }
        }
    }

    /// Counts a failed authentication; past the limit the session ends.
    async fn after_failure(&mut self) -> Flow {
        self.failures += 1;
        if self.failures < self.ctx.limits.max_auth_failures {
            return Flow::Continue;
        }
        self.untagged("BYE too many failures");
        self.ctx
            .session_refused(&self.info, CHANNEL, "too_many_auth_failures")
            .await;
        Flow::Logout
    }
}
