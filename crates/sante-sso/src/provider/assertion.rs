//! An establishment system's assertion for its staff member (RFC 7523, as IHE IUA
//! does): the token reaches only the services both the system and the person may use.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::Duration;
use sante_audit::{EventKind, Outcome, PlatformError, Source, Token};
use sante_store::{Expect, StoreError};
use sante_types::{CredentialKind, LevelOfAssurance, Quality, Service};

use super::claims::{AccessClaims, Actingness, Confirmation};
use super::{
    ACCESS_TOKEN_SECONDS, ASSERTION_SECONDS, ClientCredentials, Expiry, Provider, TokenRequest,
    TokenResponse, amr, sante_identity_actor, sha256, validate,
};
use crate::client::Client;
use crate::error::{SsoError, SsoResult};
use crate::store::{self, ASSERTIONS};
use crate::{acr, audience, parse_acr};

impl Provider {
    pub(super) async fn system_assertion(
        &self,
        client: &Client,
        req: &TokenRequest,
        creds: &ClientCredentials,
        source: &Source,
    ) -> SsoResult<TokenResponse> {
        let named = Some(client.id.as_str());
        let (establishment, attestation) = self
            .checked(named, source, validate::assertion_client(client))
            .await?;
        let Some(cert) = creds.certificate.as_ref() else {
            return Err(SsoError::InvalidClient("mutual TLS is required".into()));
        };
        let now = self.now();
        let mut endpoints = vec![format!("{}/oidc/token", self.issuer), self.issuer.clone()];
        if let Some(mtls) = &self.mtls_base {
            endpoints.push(format!("{mtls}/oidc/token"));
        }
        let assertion = req.assertion.as_deref().unwrap_or_default();
        let claims = self
            .checked(
                named,
                source,
                validate::assertion(assertion, cert, &client.id, &endpoints, now),
            )
            .await?;
        let recorded = store::put(
            &self.db,
            ASSERTIONS,
            &sha256(&format!("{}:{}", client.id, claims.jti)),
            &Expiry {
                expires: now + Duration::seconds(ASSERTION_SECONDS + 60),
                family: None,
            },
            Expect::Absent,
            now,
            None,
        )
        .await;
        let first_use = match recorded {
            Ok(()) => true,
            Err(SsoError::Platform(PlatformError::Store(StoreError::Conflict(_)))) => false,
            Err(e) => return Err(e),
        };
        self.checked(named, source, validate::assertion_unused(first_use))
            .await?;
        let works_here = match &self.staff {
            Some(staff) => staff
                .works_at(&claims.sub, establishment)
                .await
                .map_err(SsoError::Signing)?,
            None => false,
        };
        self.checked(named, source, validate::staff_member(works_here))
            .await?;
        // The level the establishment vouches for, never above high.
        let level = claims
            .acr
            .as_deref()
            .and_then(parse_acr)
            .unwrap_or(LevelOfAssurance::Low);
        let found = self
            .identity
            .acting_for(Quality::Professional, &claims.sub, level, &claims.jti)
            .await;
        let who = self
            .checked(named, source, validate::acting_account(found))
            .await?;
        let reachable = match validate::shared_services(client, attestation, &who) {
            Ok(reachable) => reachable,
            Err(refusal) => {
                // Traced with the precise reason by the identity service.
                for service in &attestation.services {
                    let _ = self
                        .identity
                        .authorise_service(&who, *service, source)
                        .await;
                }
                return Err(self.refused(named, source, refusal).await);
            }
        };
        let accepted = self.terms_accepted(&who.account, &reachable).await?;
        let services: Vec<Service> = self
            .checked(named, source, validate::terms_accepted(accepted))
            .await?;
        let access = AccessClaims {
            iss: self.issuer.clone(),
            sub: who.account.clone(),
            aud: services.iter().map(|s| audience(*s)).collect(),
            client_id: client.id.clone(),
            exp: (now + Duration::seconds(ACCESS_TOKEN_SECONDS)).timestamp(),
            iat: now.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            scope: String::new(),
            sid: None,
            fam: None,
            quality: Quality::Professional,
            acr: acr(level),
            amr: amr(CredentialKind::SystemAssertion),
            entry: who.subject.clone(),
            act: Some(Actingness {
                sub: client.id.clone(),
            }),
            cnf: Some(Confirmation {
                x5t_s256: B64.encode(hex::decode(&cert.sha256).unwrap_or_default()),
            }),
        };
        let access_token = self.keys.sign(&access, "at+jwt")?;
        let mut actor = sante_identity_actor(&who);
        actor.client_system = Token::new(client.id.clone()).ok();
        actor.establishment = Token::new(establishment.to_owned()).ok();
        self.trace(
            EventKind::IdentityTokenIssued,
            actor,
            Some(&client.id),
            source,
            Outcome::Success,
        )
        .await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_SECONDS,
            scope: String::new(),
            id_token: None,
            refresh_token: None,
        })
    }
}
