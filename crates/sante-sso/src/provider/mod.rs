//! The OpenID Connect provider: authorization, tokens, their live check by services,
//! revocation, introspection and logout.
//!
//! This module holds the provider, its clients and keys, and the one place refusals are
//! carried out (`Provider::refused`); the jobs are in submodules: `authorize`,
//! `token` (client authentication, code exchange, refresh, minting), `assertion` (an
//! establishment system's assertion), `bearer` (the live check of access tokens,
//! userinfo, introspection) and `logout` (revocation, logout). Their rules of refusal
//! are apart from the I/O, in `validate`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Utc};
use sante_audit::{Action, Actor, AuditEvent, EventKind, Outcome, Recorder, Source, Token};
use sante_identity::{Authenticated, Identity};
use sante_store::blob::BlobStore;
use sante_store::{Db, Expect};
use sante_types::{Clock, CredentialKind, LevelOfAssurance, Service};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::acr;
use crate::client::{
    Attestation, Client, ClientKind, NewRelyingParty, NewSystem, Suspension, check_name, check_uri,
};
use crate::error::{SsoError, SsoResult};
use crate::keys::Keys;
use crate::store::{self, *};

mod assertion;
mod authorize;
mod bearer;
mod claims;
mod logout;
mod token;
mod validate;

pub use authorize::{AuthorizeOutcome, AuthorizeRequest};
pub use bearer::{Introspection, TokenCaller};
pub use logout::LogoutOutcome;
pub use token::{ClientCredentials, TokenRequest, TokenResponse};
use validate::Refusal;

/// How long a code, an ID token and an access token live.
const CODE_SECONDS: i64 = 60;
const ID_TOKEN_SECONDS: i64 = 300;
const ACCESS_TOKEN_SECONDS: i64 = 300;
/// A refresh token lives as long as the portal session could (its absolute limit).
const REFRESH_HOURS: i64 = 8;
/// An establishment system's assertion is accepted this long after it was made.
const ASSERTION_SECONDS: i64 = 300;
/// Back-channel logout deliveries are tried this many times.
const LOGOUT_ATTEMPTS: u32 = 10;

/// The directory facts the provider needs of an establishment system's staff member:
/// whether that professional works at the establishment today. Implemented by the
/// binary over the directories (the provider does not depend on them).
pub trait StaffDirectory: Send + Sync {
    fn works_at<'a>(
        &'a self,
        professional: &'a str,
        establishment: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredCode {
    client: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    scope: String,
    sid: String,
    account: String,
    services: Vec<Service>,
    auth_time: DateTime<Utc>,
    expires: DateTime<Utc>,
}

/// A live refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Grant {
    family: String,
    client: String,
    sid: String,
    account: String,
    scope: String,
    services: Vec<Service>,
    auth_time: DateTime<Utc>,
    expires: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Expiry {
    expires: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    family: Option<String>,
}

fn sha256(data: &str) -> String {
    hex::encode(Sha256::digest(data.as_bytes()))
}

fn random_secret() -> Zeroizing<String> {
    use rand::RngCore;
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    Zeroizing::new(B64.encode(bytes.as_ref()))
}

fn same(a: &str, b: &str) -> bool {
    sante_identity::secrets::same(a, b)
}

/// The methods (RFC 8176) of a credential.
fn amr(credential: CredentialKind) -> Vec<String> {
    let methods: &[&str] = match credential {
        CredentialKind::Password => &["pwd"],
        CredentialKind::PasswordTotp => &["pwd", "otp", "mfa"],
        CredentialKind::ClientCertificate => &["sc", "mfa"],
        CredentialKind::WebAuthn => &["hwk", "user", "mfa"],
        CredentialKind::ApplicationPassword => &["pwd"],
        CredentialKind::SystemAssertion => &["sys"],
    };
    methods.iter().map(|m| (*m).to_owned()).collect()
}

fn credential_of(amr: &[String]) -> CredentialKind {
    let has = |m: &str| amr.iter().any(|a| a == m);
    if has("sys") {
        CredentialKind::SystemAssertion
    } else if has("sc") {
        CredentialKind::ClientCertificate
    } else if has("hwk") {
        CredentialKind::WebAuthn
    } else if has("otp") {
        CredentialKind::PasswordTotp
    } else {
        CredentialKind::Password
    }
}

/// `at_hash`: the left half of the SHA-256 of the access token, base64url.
fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    B64.encode(&digest[..16])
}

fn append_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut out = uri.to_owned();
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        out.push(sep);
        out.push_str(k);
        out.push('=');
        out.push_str(&url_encode(v));
        sep = '&';
    }
    out
}

fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn sante_identity_actor(who: &Authenticated) -> Actor {
    Actor {
        person: Token::new(who.account.clone()).ok(),
        quality: Some(who.quality),
        credential: Some(who.credential),
        assurance: Some(who.assurance),
        ..Actor::default()
    }
}

/// The OpenID Connect provider.
#[derive(Clone)]
pub struct Provider {
    db: Db,
    blobs: BlobStore,
    identity: Identity,
    recorder: Arc<dyn Recorder>,
    clock: Arc<dyn Clock>,
    issuer: String,
    /// The token endpoint's other address, on the listener asking for certificates
    /// (RFC 8705 `mtls_endpoint_aliases`): assertions may name either.
    mtls_base: Option<String>,
    keys: Arc<Keys>,
    staff: Option<Arc<dyn StaffDirectory>>,
    terms: Option<sante_terms::Terms>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// The provider for `issuer` (the portal's public URL); loads the signing keys,
    /// making the first one if needed.
    pub async fn open(
        db: Db,
        blobs: BlobStore,
        identity: Identity,
        recorder: Arc<dyn Recorder>,
        clock: Arc<dyn Clock>,
        issuer: &str,
    ) -> SsoResult<Provider> {
        let keys = Arc::new(Keys::empty());
        keys.load(&db, &blobs, clock.now()).await?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SsoError::Signing(e.to_string()))?;
        Ok(Provider {
            db,
            blobs,
            identity,
            recorder,
            clock,
            issuer: issuer.trim_end_matches('/').to_owned(),
            mtls_base: None,
            keys,
            staff: None,
            terms: None,
            http,
        })
    }

    /// The base URL of the listener asking for client certificates.
    pub fn with_mtls_base(mut self, base: Option<String>) -> Provider {
        self.mtls_base = base.map(|b| b.trim_end_matches('/').to_owned());
        self
    }

    /// What the provider asks the directories about establishment systems' staff.
    pub fn with_staff_directory(mut self, staff: Arc<dyn StaffDirectory>) -> Provider {
        self.staff = Some(staff);
        self
    }

    /// Tokens only for accounts that accepted the current terms of the services.
    pub fn with_terms(mut self, terms: sante_terms::Terms) -> Provider {
        self.terms = Some(terms);
        self
    }

    /// The services among `services` whose current terms `account` has accepted
    /// (all of them when no terms service is configured).
    async fn terms_accepted(&self, account: &str, services: &[Service]) -> SsoResult<Vec<Service>> {
        let Some(terms) = &self.terms else {
            return Ok(services.to_vec());
        };
        let mut out = Vec::new();
        for service in services {
            let pending = terms
                .pending(account, *service)
                .await
                .map_err(|e| SsoError::Signing(format!("terms of use: {e}")))?;
            if pending.is_empty() {
                out.push(*service);
            }
        }
        Ok(out)
    }

    /// The client used to post back-channel logout tokens (tests give one trusting
    /// their own CA).
    pub fn with_http_client(mut self, http: reqwest::Client) -> Provider {
        self.http = http;
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn trace(
        &self,
        kind: EventKind,
        actor: Actor,
        client: Option<&str>,
        source: &Source,
        outcome: Outcome,
    ) -> SsoResult<()> {
        let mut event =
            AuditEvent::new(kind, self.now(), actor, Service::Identity, Action::Execute)
                .source(source.clone())
                .outcome(outcome);
        if let Some(client) = client {
            event = event.resource_id("Client", client);
        }
        self.recorder.record(event).await?;
        Ok(())
    }

    /// Carries out a refusal, the one place every refusal of the provider goes
    /// through: the token family it ends is revoked, the refusal is traced with its
    /// reason, and its error is answered (or the revocation's or the trace's, which
    /// must not be lost).
    async fn refused(&self, client: Option<&str>, source: &Source, refusal: Refusal) -> SsoError {
        if let Some(family) = &refusal.ends_family
            && let Err(e) = self.revoke_family(family).await
        {
            return e;
        }
        if let Err(e) = self
            .trace(
                EventKind::IdentityTokenRefused,
                Actor::default(),
                client,
                source,
                Outcome::Denied(Token::code(refusal.code)),
            )
            .await
        {
            return e;
        }
        refusal.error
    }

    /// What a check of `validate` let through, or its refusal carried out.
    async fn checked<T>(
        &self,
        client: Option<&str>,
        source: &Source,
        checked: Result<T, Refusal>,
    ) -> SsoResult<T> {
        match checked {
            Ok(value) => Ok(value),
            Err(refusal) => Err(self.refused(client, source, refusal).await),
        }
    }

    // ----- clients -------------------------------------------------------------

    pub async fn client(&self, id: &str) -> SsoResult<Option<Client>> {
        if id.is_empty() || id.len() > 80 {
            return Ok(None);
        }
        Ok(store::get::<Client>(&self.db, CLIENTS, id)
            .await?
            .map(|(c, _)| c))
    }

    /// Every registered client, by id.
    pub async fn clients(&self) -> SsoResult<Vec<Client>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..100 {
            let page = self.db.list(CLIENTS, after.as_deref(), 200).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            out.extend(
                page.iter()
                    .filter_map(|r| serde_json::from_slice::<Client>(&r.value).ok()),
            );
        }
        Ok(out)
    }

    async fn save_client(&self, client: &Client, expect: Expect, source: &Source) -> SsoResult<()> {
        store::put(
            &self.db,
            CLIENTS,
            &client.id,
            client,
            expect,
            self.now(),
            None,
        )
        .await?;
        self.trace(
            EventKind::IdentityClientRegistered,
            Actor::platform(),
            Some(&client.id),
            source,
            Outcome::Success,
        )
        .await
    }

    /// Registers a relying party; returns it and, for a confidential one, its secret
    /// (shown once, stored as a hash).
    pub async fn register_relying_party(
        &self,
        new: NewRelyingParty,
        source: &Source,
    ) -> SsoResult<(Client, Option<Zeroizing<String>>)> {
        let name = check_name(&new.name)?;
        if new.redirect_uris.is_empty() {
            return Err(SsoError::InvalidRequest("at least one redirect URI".into()));
        }
        for uri in &new.redirect_uris {
            check_uri(uri, "redirect URI")?;
        }
        for uri in &new.post_logout_redirect_uris {
            check_uri(uri, "post-logout redirect URI")?;
        }
        if let Some(uri) = &new.backchannel_logout_uri {
            check_uri(uri, "back-channel logout URI")?;
        }
        if new.services.is_empty() {
            return Err(SsoError::InvalidRequest(
                "name the services it serves".into(),
            ));
        }
        let secret = new.confidential.then(random_secret);
        let client = Client {
            id: format!("rp-{}", uuid::Uuid::new_v4().simple()),
            name,
            kind: ClientKind::RelyingParty {
                redirect_uris: new.redirect_uris,
                secret_sha256: secret.as_ref().map(|s| sha256(s)),
                post_logout_redirect_uris: new.post_logout_redirect_uris,
                backchannel_logout_uri: new.backchannel_logout_uri,
            },
            services: new.services,
            created: self.now(),
        };
        self.save_client(&client, Expect::Absent, source).await?;
        Ok((client, secret))
    }

    /// Registers an establishment's system with its certificate and attestation.
    pub async fn register_system(&self, new: NewSystem, source: &Source) -> SsoResult<Client> {
        let name = check_name(&new.name)?;
        let thumbprint = new.certificate_sha256.trim().to_ascii_lowercase();
        if thumbprint.len() != 64 || !thumbprint.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SsoError::InvalidRequest(
                "the certificate's SHA-256: 64 hexadecimal digits".into(),
            ));
        }
        if new.services.is_empty() || new.establishment.trim().is_empty() {
            return Err(SsoError::InvalidRequest(
                "a system names its establishment and its attested services".into(),
            ));
        }
        let client = Client {
            id: format!("sys-{}", uuid::Uuid::new_v4().simple()),
            name,
            kind: ClientKind::System {
                establishment: new.establishment.trim().to_owned(),
                certificate_sha256: thumbprint,
                attestation: Attestation {
                    reference: new.attestation_reference,
                    services: new.services.clone(),
                    valid_until: new.valid_until,
                    suspended: None,
                },
            },
            services: new.services,
            created: self.now(),
        };
        self.save_client(&client, Expect::Absent, source).await?;
        Ok(client)
    }

    /// Suspends (`reason` = Some) or restores (`None`) a system's attestation: from
    /// the next request on, its tokens and its token requests are refused.
    pub async fn set_suspended(
        &self,
        client_id: &str,
        reason: Option<&str>,
        by: Actor,
        source: &Source,
    ) -> SsoResult<()> {
        let (mut client, version) = store::get::<Client>(&self.db, CLIENTS, client_id)
            .await?
            .ok_or_else(|| SsoError::InvalidRequest(format!("no client {client_id}")))?;
        let ClientKind::System { attestation, .. } = &mut client.kind else {
            return Err(SsoError::InvalidRequest(
                "only establishment systems have an attestation".into(),
            ));
        };
        attestation.suspended = match reason {
            Some(r) => Some(Suspension {
                since: self.now(),
                reason: Token::new(r.to_owned())
                    .map_err(|_| SsoError::InvalidRequest("the reason is a code".into()))?
                    .as_str()
                    .to_owned(),
            }),
            None => None,
        };
        store::put(
            &self.db,
            CLIENTS,
            client_id,
            &client,
            Expect::Version(version),
            self.now(),
            None,
        )
        .await?;
        self.trace(
            EventKind::IdentityClientSuspended,
            by,
            Some(client_id),
            source,
            Outcome::Success,
        )
        .await
    }

    // ----- keys ---------------------------------------------------------------

    pub fn jwks(&self) -> serde_json::Value {
        self.keys.jwks()
    }

    /// Reloads the keys (another instance may have rotated them).
    pub async fn reload_keys(&self) -> SsoResult<()> {
        self.keys.load(&self.db, &self.blobs, self.now()).await
    }

    /// Rotates the signing key now.
    pub async fn rotate_key(&self, source: &Source) -> SsoResult<String> {
        let kid = self.keys.rotate(&self.db, &self.blobs, self.now()).await?;
        self.trace(
            EventKind::IdentitySigningKeyRotated,
            Actor::platform(),
            None,
            source,
            Outcome::Success,
        )
        .await?;
        Ok(kid)
    }

    /// Housekeeping: rotates an old key, purges expired records, retries logouts.
    pub async fn housekeeping(&self, source: &Source) -> SsoResult<()> {
        self.reload_keys().await?;
        if self.keys.rotation_due(self.now()) {
            self.rotate_key(source).await?;
        }
        store::purge_expired(&self.db, self.now()).await?;
        self.deliver_logouts().await?;
        Ok(())
    }

    /// The discovery document (OpenID Connect Discovery 1.0, RFC 8414, RFC 8705).
    pub fn discovery(&self) -> serde_json::Value {
        let base = &self.issuer;
        let mut doc = serde_json::json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/oidc/authorize"),
            "token_endpoint": format!("{base}/oidc/token"),
            "userinfo_endpoint": format!("{base}/oidc/userinfo"),
            "jwks_uri": format!("{base}/oidc/jwks"),
            "revocation_endpoint": format!("{base}/oidc/revoke"),
            "introspection_endpoint": format!("{base}/oidc/introspect"),
            "end_session_endpoint": format!("{base}/oidc/logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none", "tls_client_auth"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none", "tls_client_auth"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "tls_client_auth"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "offline_access"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "quality", "preferred_username"],
            "acr_values_supported": [acr(LevelOfAssurance::Low), acr(LevelOfAssurance::Substantial), acr(LevelOfAssurance::High)],
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "authorization_response_iss_parameter_supported": true,
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            "tls_client_certificate_bound_access_tokens": true,
        });
        if let Some(mtls) = &self.mtls_base {
            doc["mtls_endpoint_aliases"] = serde_json::json!({
                "token_endpoint": format!("{mtls}/oidc/token"),
                "revocation_endpoint": format!("{mtls}/oidc/revoke"),
                "introspection_endpoint": format!("{mtls}/oidc/introspect"),
            });
        }
        doc
    }
}

#[cfg(test)]
mod tests;
