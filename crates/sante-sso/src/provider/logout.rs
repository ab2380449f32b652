//! Revocation (RFC 7009) and logout: RP-initiated, and back-channel to the clients
//! that asked for it (OpenID Connect Back-Channel Logout).

use chrono::{DateTime, Duration, Utc};
use sante_audit::{Actor, EventKind, Outcome, Source, Token};
use sante_identity::Authenticated;
use sante_store::Expect;
use serde::{Deserialize, Serialize};

use super::claims::{AccessClaims, IdClaims};
use super::{
    ClientCredentials, Expiry, Grant, LOGOUT_ATTEMPTS, Provider, REFRESH_HOURS, append_query,
    sha256,
};
use crate::client::ClientKind;
use crate::error::SsoResult;
use crate::store::{self, GRANTS, OUTBOX, REVOKED_FAMILIES, REVOKED_JTI};

/// Where the browser goes after an RP-initiated logout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutOutcome {
    Redirect(String),
    /// No (valid) redirect was asked: the portal shows its own page.
    Done,
    /// A person is signed in but the request does not prove it comes from one of his
    /// applications (no valid ID token of his): nothing was ended, the person is asked
    /// (RP-Initiated Logout 1.0 §2: the provider MUST ask), so that a link or an image
    /// on another site cannot log him out.
    Confirm,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LogoutDelivery {
    uri: String,
    token: String,
    attempts: u32,
    expires: DateTime<Utc>,
}

impl Provider {
    /// Revocation (RFC 7009): a refresh token ends its whole family (and the access
    /// tokens issued with it); an access token is refused from now on. An unknown
    /// token is not an error.
    pub async fn revoke(
        &self,
        token: &str,
        form_id: Option<&str>,
        form_secret: Option<&str>,
        creds: &ClientCredentials,
        source: &Source,
    ) -> SsoResult<()> {
        let asker = self
            .authenticate_client(form_id, form_secret, creds, source)
            .await?;
        if let Some((grant, _)) = store::get::<Grant>(&self.db, GRANTS, &sha256(token)).await? {
            if grant.client != asker.id {
                return Ok(());
            }
            self.revoke_family(&grant.family).await?;
        } else if let Ok(claims) =
            self.keys
                .verify::<AccessClaims>(token, "at+jwt", &self.issuer, None)
        {
            if claims.client_id != asker.id {
                return Ok(());
            }
            store::put(
                &self.db,
                REVOKED_JTI,
                &claims.jti,
                &Expiry {
                    expires: DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(|| self.now())
                        + Duration::seconds(60),
                    family: None,
                },
                Expect::Any,
                self.now(),
                None,
            )
            .await?;
        } else {
            return Ok(());
        }
        self.trace(
            EventKind::IdentityTokenRevoked,
            Actor::default(),
            Some(&asker.id),
            source,
            Outcome::Success,
        )
        .await
    }

    /// Revokes a token family: its access tokens are refused from now on, its refresh
    /// tokens deleted.
    pub(super) async fn revoke_family(&self, family: &str) -> SsoResult<()> {
        let now = self.now();
        store::put(
            &self.db,
            REVOKED_FAMILIES,
            family,
            &Expiry {
                expires: now + Duration::hours(REFRESH_HOURS),
                family: None,
            },
            Expect::Any,
            now,
            None,
        )
        .await?;
        for key in store::keys_with(&self.db, GRANTS, "family", family).await? {
            self.db.delete(GRANTS, &key, Expect::Any).await?;
        }
        Ok(())
    }

    /// A portal session ended (logout, or the session was refused): every token family
    /// of it is revoked and each client that holds one and asked for it is told
    /// (OpenID Connect Back-Channel Logout).
    pub async fn session_ended(&self, sid: &str, account: &str, source: &Source) -> SsoResult<()> {
        let grants = store::keys_with(&self.db, GRANTS, "sid", sid).await?;
        let mut families: Vec<(String, String)> = Vec::new();
        for key in &grants {
            if let Some((grant, _)) = store::get::<Grant>(&self.db, GRANTS, key).await?
                && !families.iter().any(|(f, _)| f == &grant.family)
            {
                families.push((grant.family, grant.client));
            }
        }
        let mut notified: Vec<String> = Vec::new();
        for (family, client_id) in &families {
            self.revoke_family(family).await?;
            if notified.contains(client_id) {
                continue;
            }
            notified.push(client_id.clone());
            let Some(client) = self.client(client_id).await? else {
                continue;
            };
            let ClientKind::RelyingParty {
                backchannel_logout_uri: Some(uri),
                ..
            } = &client.kind
            else {
                continue;
            };
            let now = self.now();
            let token = self.keys.sign(
                &serde_json::json!({
                    "iss": self.issuer,
                    "aud": client.id,
                    "iat": now.timestamp(),
                    "exp": (now + Duration::minutes(2)).timestamp(),
                    "jti": uuid::Uuid::new_v4().to_string(),
                    "sub": account,
                    "sid": sid,
                    "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
                }),
                "logout+jwt",
            )?;
            let delivery = LogoutDelivery {
                uri: uri.clone(),
                token,
                attempts: 0,
                expires: now + Duration::hours(1),
            };
            store::put(
                &self.db,
                OUTBOX,
                &uuid::Uuid::now_v7().to_string(),
                &delivery,
                Expect::Absent,
                now,
                None,
            )
            .await?;
        }
        if !families.is_empty() {
            self.trace(
                EventKind::IdentityTokenRevoked,
                Actor {
                    person: Token::new(account.to_owned()).ok(),
                    ..Actor::default()
                },
                None,
                source,
                Outcome::Success,
            )
            .await?;
        }
        self.deliver_logouts().await
    }

    /// Posts the pending back-channel logout tokens; a failed delivery is retried by
    /// the housekeeping, up to a limit.
    pub async fn deliver_logouts(&self) -> SsoResult<()> {
        let page = self.db.list(OUTBOX, None, 100).await?;
        for record in page {
            let Ok(mut delivery) = serde_json::from_slice::<LogoutDelivery>(&record.value) else {
                self.db.delete(OUTBOX, &record.key, Expect::Any).await?;
                continue;
            };
            let sent = self
                .http
                .post(&delivery.uri)
                .form(&[("logout_token", delivery.token.as_str())])
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            delivery.attempts += 1;
            if sent || delivery.attempts >= LOGOUT_ATTEMPTS {
                if !sent {
                    tracing::warn!(uri = %delivery.uri, "back-channel logout not delivered; giving up");
                }
                self.db.delete(OUTBOX, &record.key, Expect::Any).await?;
            } else {
                store::put(
                    &self.db,
                    OUTBOX,
                    &record.key,
                    &delivery,
                    Expect::Any,
                    self.now(),
                    None,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// RP-initiated logout: the client (named by its ID token) sends the browser here;
    /// the portal session `who` ends, and with it every token of it. Returns where to
    /// send the browser: the registered post-logout URI asked for, if any.
    pub async fn end_session(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
        who: Option<&Authenticated>,
        source: &Source,
    ) -> SsoResult<LogoutOutcome> {
        let hint = id_token_hint.and_then(|t| {
            self.keys
                .verify::<IdClaims>(t, "JWT", &self.issuer, None)
                .ok()
        });
        if let Some(who) = who {
            // The hint must be this person's: a link cannot log him or others out.
            if hint.as_ref().is_none_or(|h| h.sub != who.account) {
                return Ok(LogoutOutcome::Confirm);
            }
            self.identity
                .end_session_by_id(&who.session, source)
                .await?;
            self.session_ended(&who.session, &who.account, source)
                .await?;
        }
        let (Some(hint), Some(uri)) = (hint, post_logout_redirect_uri) else {
            return Ok(LogoutOutcome::Done);
        };
        let Some(client) = self.client(&hint.aud).await? else {
            return Ok(LogoutOutcome::Done);
        };
        let ClientKind::RelyingParty {
            post_logout_redirect_uris,
            ..
        } = &client.kind
        else {
            return Ok(LogoutOutcome::Done);
        };
        if !post_logout_redirect_uris.iter().any(|u| u == uri) {
            return Ok(LogoutOutcome::Done);
        }
        let params: Vec<(&str, &str)> = state.map(|s| vec![("state", s)]).unwrap_or_default();
        Ok(LogoutOutcome::Redirect(append_query(uri, &params)))
    }
}
