//! The live check of access tokens by the services, the userinfo endpoint and
//! introspection (RFC 7662).

use sante_audit::{Actor, Source, Token};
use sante_identity::Authenticated;
use sante_types::{LevelOfAssurance, PeerCertificate, Quality, Service};
use serde::Serialize;

use super::claims::AccessClaims;
use super::validate::{self, Bearer};
use super::{ClientCredentials, Expiry, Grant, Provider, amr, credential_of, sha256};
use crate::client::ClientKind;
use crate::error::SsoResult;
use crate::store::{self, GRANTS, REVOKED_FAMILIES, REVOKED_JTI};
use crate::{acr, parse_acr};

/// Who a bearer token stands for, checked now.
#[derive(Debug, Clone)]
pub struct TokenCaller {
    pub who: Authenticated,
    /// The client the token was issued to.
    pub client: String,
    /// The establishment system acting for `who`, and its establishment.
    pub system: Option<(String, String)>,
}

impl TokenCaller {
    /// The actor to trace: the person, and the system he acts through.
    pub fn actor(&self) -> Actor {
        let token = |v: &str| Token::new(v.to_owned()).ok();
        Actor {
            person: token(&self.who.account),
            quality: Some(self.who.quality),
            credential: Some(self.who.credential),
            assurance: Some(self.who.assurance),
            client_system: self.system.as_ref().and_then(|(c, _)| token(c)),
            establishment: self.system.as_ref().and_then(|(_, e)| token(e)),
            on_behalf_of: None,
        }
    }
}

/// An introspection answer (RFC 7662 §2.2).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

impl Provider {
    /// Checks a bearer access token for `service`, now: its signature, expiry and
    /// audience, that it was not revoked, that the session it came from is still open
    /// (or the system's attestation in force and the person's account active), that a
    /// certificate-bound token comes with the same certificate, and that the person
    /// may reach the service. Refusals are traced.
    pub async fn authenticate_bearer(
        &self,
        token: &str,
        service: Service,
        certificate: Option<&PeerCertificate>,
        source: &Source,
    ) -> SsoResult<TokenCaller> {
        let verified = self
            .keys
            .verify(token, "at+jwt", &self.issuer, Some(self.now()));
        let claims: AccessClaims = self
            .checked(None, source, validate::access_token(verified))
            .await?;
        let client = Some(claims.client_id.as_str());
        self.checked(client, source, validate::bearer_audience(&claims, service))
            .await?;
        let revoked = self.revoked(&claims).await?;
        let bearer = self
            .checked(
                client,
                source,
                validate::bearer_use(&claims, revoked, certificate),
            )
            .await?;
        let (who, system) = match bearer {
            Bearer::Login { sid } => {
                let session = self.identity.session_by_id(sid, source).await.ok();
                let who = self
                    .checked(client, source, validate::bearer_session(&claims, session))
                    .await?;
                (who, None)
            }
            Bearer::System { system } => {
                let system = self.client(system).await?;
                let (system, establishment) = self
                    .checked(
                        client,
                        source,
                        validate::bearer_system(system.as_ref(), self.now()),
                    )
                    .await?;
                let level = parse_acr(&claims.acr).unwrap_or(LevelOfAssurance::Low);
                let found = self
                    .identity
                    .acting_for(Quality::Professional, &claims.entry, level, &claims.jti)
                    .await
                    .ok();
                let who = self
                    .checked(client, source, validate::bearer_acting(&claims, found))
                    .await?;
                (who, Some((system.to_owned(), establishment.to_owned())))
            }
        };
        let who = Authenticated {
            credential: credential_of(&claims.amr),
            ..who
        };
        self.identity
            .authorise_service(&who, service, source)
            .await?;
        Ok(TokenCaller {
            who,
            client: claims.client_id,
            system,
        })
    }

    /// Whether the token, or the family of tokens it belongs to, was revoked.
    async fn revoked(&self, claims: &AccessClaims) -> SsoResult<bool> {
        if store::get::<Expiry>(&self.db, REVOKED_JTI, &claims.jti)
            .await?
            .is_some()
        {
            return Ok(true);
        }
        Ok(match &claims.fam {
            Some(f) => store::get::<Expiry>(&self.db, REVOKED_FAMILIES, f)
                .await?
                .is_some(),
            None => false,
        })
    }

    /// The userinfo endpoint's claims for an access token (OpenID Connect Core §5.3):
    /// a login's token, not revoked, its session still open. Refusals are traced.
    pub async fn userinfo(&self, token: &str, source: &Source) -> SsoResult<serde_json::Value> {
        let verified = self
            .keys
            .verify(token, "at+jwt", &self.issuer, Some(self.now()));
        let claims: AccessClaims = self
            .checked(None, source, validate::access_token(verified))
            .await?;
        let client = Some(claims.client_id.as_str());
        let revoked = self.revoked(&claims).await?;
        let sid = self
            .checked(client, source, validate::userinfo_token(&claims, revoked))
            .await?;
        let session = self.identity.session_by_id(sid, source).await.ok();
        let who = self
            .checked(client, source, validate::bearer_session(&claims, session))
            .await?;
        Ok(serde_json::json!({
            "sub": who.account,
            "preferred_username": who.login,
            "quality": who.quality,
            "acr": acr(who.assurance),
            "amr": amr(who.credential),
        }))
    }

    /// Introspection (RFC 7662), for an authenticated client: an access token issued
    /// to it or for it, or one of its refresh tokens; anything else is inactive, so a
    /// client learns nothing of another's tokens (§4).
    pub async fn introspect(
        &self,
        token: &str,
        form_id: Option<&str>,
        form_secret: Option<&str>,
        creds: &ClientCredentials,
        source: &Source,
    ) -> SsoResult<Introspection> {
        let asker = self
            .authenticate_client(form_id, form_secret, creds, source)
            .await?;
        if let Ok(claims) =
            self.keys
                .verify::<AccessClaims>(token, "at+jwt", &self.issuer, Some(self.now()))
        {
            if !validate::may_introspect(&claims, &asker.id) {
                return Ok(Introspection::default());
            }
            let revoked = self.revoked(&claims).await?;
            let live = match &claims.sid {
                Some(sid) => self.identity.session_by_id(sid, source).await.is_ok(),
                None => match claims.act.as_ref() {
                    Some(act) => matches!(
                        self.client(&act.sub).await?.map(|c| c.kind),
                        Some(ClientKind::System { attestation, .. }) if attestation.refusal(self.now()).is_none()
                    ),
                    None => false,
                },
            };
            if revoked || !live {
                return Ok(Introspection::default());
            }
            return Ok(Introspection {
                active: true,
                scope: Some(claims.scope),
                client_id: Some(claims.client_id),
                token_type: Some("Bearer".into()),
                exp: Some(claims.exp),
                iat: Some(claims.iat),
                sub: Some(claims.sub),
                aud: Some(claims.aud),
                iss: Some(claims.iss),
                quality: Some(claims.quality.as_str().to_owned()),
                acr: Some(claims.acr),
            });
        }
        if let Some((grant, _)) = store::get::<Grant>(&self.db, GRANTS, &sha256(token)).await?
            && grant.client == asker.id
            && self.now() <= grant.expires
            && self
                .identity
                .session_by_id(&grant.sid, source)
                .await
                .is_ok()
        {
            return Ok(Introspection {
                active: true,
                scope: Some(grant.scope),
                client_id: Some(grant.client),
                token_type: Some("refresh_token".into()),
                exp: Some(grant.expires.timestamp()),
                sub: Some(grant.account),
                iss: Some(self.issuer.clone()),
                ..Introspection::default()
            });
        }
        Ok(Introspection::default())
    }
}
