//! LOGIN and AUTHENTICATE (PLAIN, EXTERNAL with the client certificate), and what an
//! authentication outcome does to the session.

use base64::Engine;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use super::proto::command::Mechanism;
use super::proto::response::{bad, no, no_code, ok_code};
use super::{CHANNEL, Flow, MAX_AUTH_FAILURES, Session};
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
        Ok(self.authenticated(tag, result))
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
        Ok(self.authenticated(tag, result))
    }

    /// A SASL continuation: `+ ` then one line from the client.
    async fn continuation(
        &mut self,
        shutdown: &CancellationToken,
    ) -> std::io::Result<Option<Zeroizing<Vec<u8>>>> {
        self.wire.output.extend_from_slice(b"+ \r\n");
        self.line(shutdown).await
    }

    /// Answers an authentication: logged in, or why not; three failures end the
    /// session.
    fn authenticated(&mut self, tag: &str, result: Result<MailSession, AuthError>) -> Flow {
        match result {
            Ok(session) => {
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
                Flow::Continue
            }
            Err(AuthError::Invalid) => {
                self.failures += 1;
                self.tagged(
                    tag,
                    no_code("AUTHENTICATIONFAILED", "authentication failed"),
                );
                if self.failures >= MAX_AUTH_FAILURES {
                    self.untagged("BYE too many failures");
                    return Flow::Logout;
                }
                Flow::Continue
            }
        }
    }
}
