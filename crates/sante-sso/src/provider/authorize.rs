//! The authorization endpoint (OpenID Connect Core §3.1.2): the browser flow, for
//! relying parties.

use chrono::Duration;
use sante_audit::Source;
use sante_identity::{Authenticated, authorise_service};
use sante_store::Expect;
use sante_types::{LevelOfAssurance, Service};
use serde::Deserialize;

use super::{CODE_SECONDS, Provider, StoredCode, append_query, random_secret, sha256, validate};
use crate::error::SsoResult;
use crate::parse_acr;
use crate::store::{self, CODES};

/// The authorization request's parameters (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeRequest {
    #[serde(default)]
    pub response_type: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub redirect_uri: String,
    #[serde(default)]
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub acr_values: Option<String>,
    pub prompt: Option<String>,
}

/// What the front end does with an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Back to the client, with a code or an error: this URL.
    Redirect(String),
    /// The person must log in first (or again, more strongly) at this level, then
    /// come back to the same request.
    Login { needed: LevelOfAssurance },
    /// The person must accept the current terms of use of these services first
    /// (TOU-1), then come back to the same request.
    Terms { services: Vec<Service> },
}

impl Provider {
    /// Decides an authorization request for the person of the portal session `who`
    /// (`None`: not logged in). Errors returned (rather than redirected) are the ones
    /// that must not go back to the given redirect URI: an unknown client or an
    /// unregistered URI.
    pub async fn authorize(
        &self,
        req: &AuthorizeRequest,
        who: Option<&Authenticated>,
        source: &Source,
    ) -> SsoResult<AuthorizeOutcome> {
        let client = self.client(&req.client_id).await?;
        let client = self
            .checked(
                client.as_ref().map(|c| c.id.as_str()),
                source,
                validate::authorize_client(client.as_ref(), &req.redirect_uri),
            )
            .await?;
        let error = |code: &str, description: &str| {
            let mut params = vec![("error", code), ("error_description", description)];
            if let Some(state) = req.state.as_deref() {
                params.push(("state", state));
            }
            params.push(("iss", self.issuer.as_str()));
            AuthorizeOutcome::Redirect(append_query(&req.redirect_uri, &params))
        };
        let scopes = match validate::authorize_request(req) {
            Ok(scopes) => scopes,
            Err(wrong) => return Ok(error(wrong.error, wrong.description)),
        };
        // The level asked for: the strongest of acr_values, at least the client's
        // services' minimum for the person's quality.
        let asked = req
            .acr_values
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(parse_acr)
            .max()
            .unwrap_or(LevelOfAssurance::Low);
        let prompt_none = req.prompt.as_deref() == Some("none");
        let Some(who) = who else {
            if prompt_none {
                return Ok(error("login_required", "no session"));
            }
            return Ok(AuthorizeOutcome::Login { needed: asked });
        };
        let needed = client
            .services
            .iter()
            .filter_map(|s| sante_identity::minimum_assurance(*s, who.quality))
            .min()
            .map_or(asked, |m| m.max(asked));
        if who.assurance < needed || req.prompt.as_deref() == Some("login") {
            if prompt_none {
                return Ok(error("login_required", "a stronger login is needed"));
            }
            return Ok(AuthorizeOutcome::Login { needed });
        }
        let mut services = Vec::new();
        for service in &client.services {
            if authorise_service(who, *service).is_ok() {
                services.push(*service);
            }
        }
        if services.is_empty() {
            // Traced with the precise reason by the identity service.
            for service in &client.services {
                let _ = self.identity.authorise_service(who, *service, source).await;
            }
            return Ok(error(
                "access_denied",
                "this application is not offered to this quality",
            ));
        }
        let accepted = self.terms_accepted(&who.account, &services).await?;
        if accepted.len() < services.len() {
            if prompt_none {
                return Ok(error(
                    "interaction_required",
                    "the terms of use must be accepted",
                ));
            }
            let pending = services
                .iter()
                .copied()
                .filter(|s| !accepted.contains(s))
                .collect();
            return Ok(AuthorizeOutcome::Terms { services: pending });
        }
        let code = random_secret();
        let now = self.now();
        let stored = StoredCode {
            client: client.id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            challenge: req.code_challenge.clone().unwrap_or_default(),
            nonce: req.nonce.clone(),
            scope: scopes.join(" "),
            sid: who.session.clone(),
            account: who.account.clone(),
            services,
            auth_time: now,
            expires: now + Duration::seconds(CODE_SECONDS),
        };
        store::put(
            &self.db,
            CODES,
            &sha256(&code),
            &stored,
            Expect::Absent,
            now,
            None,
        )
        .await?;
        let mut params = vec![("code", code.as_str())];
        if let Some(state) = req.state.as_deref() {
            params.push(("state", state));
        }
        params.push(("iss", self.issuer.as_str()));
        Ok(AuthorizeOutcome::Redirect(append_query(
            &req.redirect_uri,
            &params,
        )))
    }
}
