//! The token endpoint (RFC 6749 §3.2): the client's authentication, the exchange of a
//! code with its PKCE verifier, the refresh with rotation and reuse detection, and the
//! minting of the tokens.

use chrono::Duration;
use sante_audit::{Actor, EventKind, Outcome, Source, Token};
use sante_identity::Authenticated;
use sante_store::{Expect, Term};
use sante_types::PeerCertificate;
use serde::{Deserialize, Serialize};

use super::claims::{AccessClaims, IdClaims};
use super::{
    ACCESS_TOKEN_SECONDS, Expiry, Grant, ID_TOKEN_SECONDS, Provider, REFRESH_HOURS, StoredCode,
    amr, at_hash, random_secret, sante_identity_actor, sha256, validate,
};
use crate::client::Client;
use crate::error::{SsoError, SsoResult};
use crate::store::{self, CODES, GRANTS, USED_REFRESH};
use crate::{acr, audience};

/// The token request's parameters (RFC 6749 §4.1.3, §6; RFC 7523).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenRequest {
    #[serde(default)]
    pub grant_type: String,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub assertion: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// How the client authenticated, besides the form: HTTP Basic, and the certificate of
/// the TLS session (on the listener that asks for one).
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    pub basic: Option<(String, String)>,
    pub certificate: Option<PeerCertificate>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl Provider {
    /// Authenticates the client of a token, revocation or introspection request.
    pub(super) async fn authenticate_client(
        &self,
        form_id: Option<&str>,
        form_secret: Option<&str>,
        creds: &ClientCredentials,
        source: &Source,
    ) -> SsoResult<Client> {
        let (id, secret) = self
            .checked(
                None,
                source,
                validate::presented_client(form_id, form_secret, creds),
            )
            .await?;
        let client = self.client(id).await?;
        self.checked(
            client.is_some().then_some(id),
            source,
            validate::client_authenticated(client, secret, creds.certificate.as_ref(), self.now()),
        )
        .await
    }

    /// The token endpoint.
    pub async fn token(
        &self,
        req: &TokenRequest,
        creds: &ClientCredentials,
        source: &Source,
    ) -> SsoResult<TokenResponse> {
        let client = self
            .authenticate_client(
                req.client_id.as_deref(),
                req.client_secret.as_deref(),
                creds,
                source,
            )
            .await?;
        match req.grant_type.as_str() {
            "authorization_code" => self.exchange_code(&client, req, source).await,
            "refresh_token" => self.refresh(&client, req, source).await,
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
                self.system_assertion(&client, req, creds, source).await
            }
            _ => Err(SsoError::UnsupportedGrantType(
                "authorization_code, refresh_token or jwt-bearer".into(),
            )),
        }
    }

    async fn exchange_code(
        &self,
        client: &Client,
        req: &TokenRequest,
        source: &Source,
    ) -> SsoResult<TokenResponse> {
        let code = req.code.as_deref().unwrap_or_default();
        let taken = store::take::<StoredCode>(&self.db, CODES, &sha256(code)).await?;
        let named = Some(client.id.as_str());
        let stored = self
            .checked(
                named,
                source,
                validate::code_grant(taken, &client.id, req, self.now()),
            )
            .await?;
        let session = self.identity.session_by_id(&stored.sid, source).await.ok();
        let who = self
            .checked(named, source, validate::code_session(&stored, session))
            .await?;
        let family = uuid::Uuid::new_v4().to_string();
        let grant_record = Grant {
            family,
            client: client.id.clone(),
            sid: stored.sid.clone(),
            account: who.account.clone(),
            scope: stored.scope.clone(),
            services: stored.services.clone(),
            auth_time: stored.auth_time,
            expires: self.now() + Duration::hours(REFRESH_HOURS),
        };
        self.mint(client, &who, &grant_record, stored.nonce.as_deref(), source)
            .await
    }

    /// Signs the access and ID tokens and stores a new refresh token of the family.
    async fn mint(
        &self,
        client: &Client,
        who: &Authenticated,
        grant: &Grant,
        nonce: Option<&str>,
        source: &Source,
    ) -> SsoResult<TokenResponse> {
        let now = self.now();
        let access = AccessClaims {
            iss: self.issuer.clone(),
            sub: who.account.clone(),
            aud: grant.services.iter().map(|s| audience(*s)).collect(),
            client_id: client.id.clone(),
            exp: (now + Duration::seconds(ACCESS_TOKEN_SECONDS)).timestamp(),
            iat: now.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            scope: grant.scope.clone(),
            sid: Some(grant.sid.clone()),
            fam: Some(grant.family.clone()),
            quality: who.quality,
            acr: acr(who.assurance),
            amr: amr(who.credential),
            entry: who.subject.clone(),
            act: None,
            cnf: None,
        };
        let access_token = self.keys.sign(&access, "at+jwt")?;
        let id = IdClaims {
            iss: self.issuer.clone(),
            sub: who.account.clone(),
            aud: client.id.clone(),
            exp: (now + Duration::seconds(ID_TOKEN_SECONDS)).timestamp(),
            iat: now.timestamp(),
            auth_time: grant.auth_time.timestamp(),
            nonce: nonce.map(str::to_owned),
            acr: acr(who.assurance),
            amr: amr(who.credential),
            sid: grant.sid.clone(),
            at_hash: at_hash(&access_token),
            quality: who.quality,
            preferred_username: who.login.clone(),
        };
        let id_token = self.keys.sign(&id, "JWT")?;
        let refresh = random_secret();
        store::put(
            &self.db,
            GRANTS,
            &sha256(&refresh),
            grant,
            Expect::Absent,
            now,
            Some(vec![
                Term::new("family", grant.family.clone()),
                Term::new("sid", grant.sid.clone()),
            ]),
        )
        .await?;
        self.trace(
            EventKind::IdentityTokenIssued,
            sante_identity_actor(who),
            Some(&client.id),
            source,
            Outcome::Success,
        )
        .await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_SECONDS,
            scope: grant.scope.clone(),
            id_token: Some(id_token),
            refresh_token: Some(refresh.to_string()),
        })
    }

    async fn refresh(
        &self,
        client: &Client,
        req: &TokenRequest,
        source: &Source,
    ) -> SsoResult<TokenResponse> {
        let named = Some(client.id.as_str());
        let token = req.refresh_token.as_deref().unwrap_or_default();
        let key = sha256(token);
        let taken = store::take::<Grant>(&self.db, GRANTS, &key).await?;
        let grant = match validate::refresh_token(taken) {
            Ok(grant) => grant,
            Err(refusal) => {
                // A refresh token used a second time was stolen (or replayed): its whole
                // family dies, the thief's and the owner's tokens alike.
                if let Some((used, _)) = store::get::<Expiry>(&self.db, USED_REFRESH, &key).await?
                    && let Some(family) = used.family
                {
                    self.revoke_family(&family).await?;
                    self.trace(
                        EventKind::IdentityTokenRevoked,
                        Actor::default(),
                        named,
                        source,
                        Outcome::Denied(Token::code("refresh_token_reuse")),
                    )
                    .await?;
                }
                return Err(self.refused(named, source, refusal).await);
            }
        };
        store::put(
            &self.db,
            USED_REFRESH,
            &key,
            &Expiry {
                expires: grant.expires,
                family: Some(grant.family.clone()),
            },
            Expect::Any,
            self.now(),
            None,
        )
        .await?;
        self.checked(
            named,
            source,
            validate::refresh_grant(&grant, &client.id, self.now()),
        )
        .await?;
        let session = self.identity.session_by_id(&grant.sid, source).await.ok();
        let (who, services) = self
            .checked(named, source, validate::refreshed(&grant, session))
            .await?;
        let next = Grant { services, ..grant };
        self.mint(client, &who, &next, None, source).await
    }
}
