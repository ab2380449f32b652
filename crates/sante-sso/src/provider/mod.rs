//! The OpenID Connect provider: authorization, tokens, their live check by services,
//! revocation, introspection and logout.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use sante_audit::{Action, Actor, AuditEvent, EventKind, Outcome, Recorder, Source, Token};
use sante_identity::{Authenticated, Identity, IdentityError, authorise_service};
use sante_store::blob::BlobStore;
use sante_store::{Db, Expect, Term};
use sante_types::{Clock, CredentialKind, LevelOfAssurance, PeerCertificate, Quality, Service};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::client::{
    Attestation, Client, ClientKind, NewRelyingParty, NewSystem, Suspension, check_name, check_uri,
};
use crate::error::{SsoError, SsoResult};
use crate::keys::Keys;
use crate::store::{self, *};
use crate::{acr, audience, parse_acr};

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

/// Where the browser goes after an RP-initiated logout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutOutcome {
    Redirect(String),
    /// No (valid) redirect was asked: the portal shows its own page.
    Done,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Actingness {
    sub: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Confirmation {
    #[serde(rename = "x5t#S256")]
    x5t_s256: String,
}

/// An access token's claims (RFC 9068).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    sub: String,
    aud: Vec<String>,
    client_id: String,
    exp: i64,
    iat: i64,
    jti: String,
    scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    /// The token family (one login at one client), revoked as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fam: Option<String>,
    quality: Quality,
    acr: String,
    amr: Vec<String>,
    /// The account's directory entry (the professional's identifier), for services.
    entry: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    act: Option<Actingness>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cnf: Option<Confirmation>,
}

/// An ID token's claims (OpenID Connect Core §2).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    acr: String,
    amr: Vec<String>,
    sid: String,
    at_hash: String,
    quality: Quality,
    preferred_username: String,
}

/// A system's assertion for its staff member (RFC 7523 §3).
#[derive(Debug, Clone, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: serde_json::Value,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
    #[serde(default)]
    acr: Option<String>,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LogoutDelivery {
    uri: String,
    token: String,
    attempts: u32,
    expires: DateTime<Utc>,
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
        if let Some(client) = client.and_then(|c| Token::new(c.to_owned()).ok()) {
            event = event.resource(Token::code("Client"), client);
        }
        self.recorder.record(event).await?;
        Ok(())
    }

    async fn refuse(
        &self,
        client: Option<&str>,
        code: &'static str,
        source: &Source,
        error: SsoError,
    ) -> SsoError {
        if let Err(e) = self
            .trace(
                EventKind::IdentityTokenRefused,
                Actor::default(),
                client,
                source,
                Outcome::Denied(Token::code(code)),
            )
            .await
        {
            return e;
        }
        error
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

    // ----- authorization ------------------------------------------------------

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
        let Some(client) = self.client(&req.client_id).await? else {
            return Err(self
                .refuse(
                    None,
                    "unknown_client",
                    source,
                    SsoError::InvalidClient("unknown client".into()),
                )
                .await);
        };
        let ClientKind::RelyingParty { redirect_uris, .. } = &client.kind else {
            return Err(self
                .refuse(
                    Some(&client.id),
                    "not_a_relying_party",
                    source,
                    SsoError::UnauthorizedClient("systems do not use the browser flow".into()),
                )
                .await);
        };
        if !redirect_uris.iter().any(|u| u == &req.redirect_uri) {
            return Err(self
                .refuse(
                    Some(&client.id),
                    "unregistered_redirect",
                    source,
                    SsoError::UnregisteredRedirect,
                )
                .await);
        }
        let error = |code: &str, description: &str| {
            let mut params = vec![("error", code), ("error_description", description)];
            if let Some(state) = req.state.as_deref() {
                params.push(("state", state));
            }
            params.push(("iss", self.issuer.as_str()));
            AuthorizeOutcome::Redirect(append_query(&req.redirect_uri, &params))
        };
        if req.response_type != "code" {
            return Ok(error(
                "unsupported_response_type",
                "only the code flow is offered",
            ));
        }
        let scopes: Vec<&str> = req.scope.split_whitespace().collect();
        if !scopes.contains(&"openid") {
            return Ok(error("invalid_scope", "the openid scope is required"));
        }
        if scopes
            .iter()
            .any(|s| !["openid", "offline_access"].contains(s))
        {
            return Ok(error("invalid_scope", "unknown scope"));
        }
        let challenge_ok = req.code_challenge_method.as_deref() == Some("S256")
            && req.code_challenge.as_deref().is_some_and(|c| {
                c.len() == 43
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !challenge_ok {
            return Ok(error("invalid_request", "PKCE with S256 is required"));
        }
        if req.nonce.as_deref().is_some_and(|n| n.len() > 256)
            || req.state.as_deref().is_some_and(|s| s.len() > 512)
        {
            return Ok(error("invalid_request", "state or nonce too long"));
        }
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

    // ----- tokens -------------------------------------------------------------

    /// Authenticates the client of a token, revocation or introspection request.
    async fn authenticate_client(
        &self,
        form_id: Option<&str>,
        form_secret: Option<&str>,
        creds: &ClientCredentials,
        source: &Source,
    ) -> SsoResult<Client> {
        let (id, secret) = match &creds.basic {
            Some((id, secret)) => (Some(id.as_str()), Some(secret.as_str())),
            None => (form_id, form_secret),
        };
        let bad = |why: &'static str| SsoError::InvalidClient(why.into());
        let Some(id) = id.filter(|i| !i.is_empty() && i.len() <= 80) else {
            return Err(self
                .refuse(
                    None,
                    "no_client_id",
                    source,
                    bad("client authentication is required"),
                )
                .await);
        };
        let Some(client) = self.client(id).await? else {
            return Err(self
                .refuse(None, "unknown_client", source, bad("unknown client"))
                .await);
        };
        match &client.kind {
            ClientKind::RelyingParty {
                secret_sha256: Some(expected),
                ..
            } => {
                if !secret.is_some_and(|s| same(&sha256(s), expected)) {
                    return Err(self
                        .refuse(
                            Some(id),
                            "wrong_client_secret",
                            source,
                            bad("wrong client secret"),
                        )
                        .await);
                }
            }
            ClientKind::RelyingParty {
                secret_sha256: None,
                ..
            } => {
                if secret.is_some() {
                    return Err(self
                        .refuse(
                            Some(id),
                            "public_client_secret",
                            source,
                            bad("a public client has no secret"),
                        )
                        .await);
                }
            }
            ClientKind::System {
                certificate_sha256,
                attestation,
                ..
            } => {
                let presented = creds.certificate.as_ref().map(|c| c.sha256.as_str());
                if !presented.is_some_and(|p| same(p, certificate_sha256)) {
                    return Err(self
                        .refuse(Some(id), "wrong_client_certificate", source, bad("the system authenticates with its registered certificate over mutual TLS"))
                        .await);
                }
                if let Some(code) = attestation.refusal(self.now()) {
                    return Err(self
                        .refuse(
                            Some(id),
                            code,
                            source,
                            bad("the system's attestation is not in force"),
                        )
                        .await);
                }
            }
        }
        Ok(client)
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
        let grant = |why: &str| SsoError::InvalidGrant(why.to_owned());
        let code = req.code.as_deref().unwrap_or_default();
        let Some(stored) = store::take::<StoredCode>(&self.db, CODES, &sha256(code)).await? else {
            return Err(self
                .refuse(
                    Some(&client.id),
                    "unknown_code",
                    source,
                    grant("the code is wrong, used or expired"),
                )
                .await);
        };
        if stored.client != client.id
            || req.redirect_uri.as_deref() != Some(stored.redirect_uri.as_str())
        {
            return Err(self
                .refuse(
                    Some(&client.id),
                    "code_mismatch",
                    source,
                    grant("the code was issued to another client or redirect URI"),
                )
                .await);
        }
        if self.now() > stored.expires {
            return Err(self
                .refuse(
                    Some(&client.id),
                    "code_expired",
                    source,
                    grant("the code expired"),
                )
                .await);
        }
        let verifier = req.code_verifier.as_deref().unwrap_or_default();
        let verifier_ok = (43..=128).contains(&verifier.len())
            && same(
                &B64.encode(Sha256::digest(verifier.as_bytes())),
                &stored.challenge,
            );
        if !verifier_ok {
            return Err(self
                .refuse(
                    Some(&client.id),
                    "pkce_mismatch",
                    source,
                    grant("the PKCE verifier does not match"),
                )
                .await);
        }
        let who = match self.identity.session_by_id(&stored.sid, source).await {
            Ok(who) if who.account == stored.account => who,
            _ => {
                return Err(self
                    .refuse(
                        Some(&client.id),
                        "session_ended",
                        source,
                        grant("the login session has ended"),
                    )
                    .await);
            }
        };
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
        let grant_err = |why: &str| SsoError::InvalidGrant(why.to_owned());
        let token = req.refresh_token.as_deref().unwrap_or_default();
        let key = sha256(token);
        let Some(grant) = store::take::<Grant>(&self.db, GRANTS, &key).await? else {
            // A refresh token used a second time was stolen (or replayed): its whole
            // family dies, the thief's and the owner's tokens alike.
            if let Some((used, _)) = store::get::<Expiry>(&self.db, USED_REFRESH, &key).await?
                && let Some(family) = used.family
            {
                self.revoke_family(&family).await?;
                self.trace(
                    EventKind::IdentityTokenRevoked,
                    Actor::default(),
                    Some(&client.id),
                    source,
                    Outcome::Denied(Token::code("refresh_token_reuse")),
                )
                .await?;
            }
            return Err(self
                .refuse(
                    Some(&client.id),
                    "unknown_refresh_token",
                    source,
                    grant_err("the refresh token is wrong, used or expired"),
                )
                .await);
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
        if grant.client != client.id {
            self.revoke_family(&grant.family).await?;
            return Err(self
                .refuse(
                    Some(&client.id),
                    "refresh_other_client",
                    source,
                    grant_err("the refresh token belongs to another client"),
                )
                .await);
        }
        if self.now() > grant.expires {
            return Err(self
                .refuse(
                    Some(&client.id),
                    "refresh_expired",
                    source,
                    grant_err("the refresh token expired"),
                )
                .await);
        }
        let who = match self.identity.session_by_id(&grant.sid, source).await {
            Ok(who) if who.account == grant.account => who,
            _ => {
                self.revoke_family(&grant.family).await?;
                return Err(self
                    .refuse(
                        Some(&client.id),
                        "session_ended",
                        source,
                        grant_err("the login session has ended"),
                    )
                    .await);
            }
        };
        // The services are decided again: a quality or a level may have changed.
        let services: Vec<Service> = grant
            .services
            .iter()
            .copied()
            .filter(|s| authorise_service(&who, *s).is_ok())
            .collect();
        if services.is_empty() {
            return Err(self
                .refuse(
                    Some(&client.id),
                    "service_refused",
                    source,
                    SsoError::AccessDenied("no service left for this login".into()),
                )
                .await);
        }
        let next = Grant { services, ..grant };
        self.mint(client, &who, &next, None, source).await
    }

    async fn system_assertion(
        &self,
        client: &Client,
        req: &TokenRequest,
        creds: &ClientCredentials,
        source: &Source,
    ) -> SsoResult<TokenResponse> {
        let ClientKind::System {
            establishment,
            attestation,
            ..
        } = &client.kind
        else {
            return Err(self
                .refuse(
                    Some(&client.id),
                    "not_a_system",
                    source,
                    SsoError::UnauthorizedClient(
                        "only establishment systems present assertions".into(),
                    ),
                )
                .await);
        };
        let Some(cert) = creds.certificate.as_ref() else {
            return Err(SsoError::InvalidClient("mutual TLS is required".into()));
        };
        let grant_err = |why: &str| SsoError::InvalidGrant(why.to_owned());
        let assertion = req.assertion.as_deref().unwrap_or_default();
        let claims = match verify_assertion(assertion, cert) {
            Ok(c) => c,
            Err(why) => {
                return Err(self
                    .refuse(Some(&client.id), "bad_assertion", source, grant_err(&why))
                    .await);
            }
        };
        let now = self.now();
        let mut endpoints = vec![format!("{}/oidc/token", self.issuer), self.issuer.clone()];
        if let Some(mtls) = &self.mtls_base {
            endpoints.push(format!("{mtls}/oidc/token"));
        }
        let aud_ok = match &claims.aud {
            serde_json::Value::String(a) => endpoints.contains(a),
            serde_json::Value::Array(list) => list
                .iter()
                .any(|a| a.as_str().is_some_and(|a| endpoints.iter().any(|e| e == a))),
            _ => false,
        };
        let fresh = claims.exp > now.timestamp()
            && claims.exp <= (now + Duration::seconds(ASSERTION_SECONDS)).timestamp() + 30
            && claims.iat.is_none_or(|iat| iat <= now.timestamp() + 30);
        if claims.iss != client.id
            || !aud_ok
            || !fresh
            || claims.jti.is_empty()
            || claims.jti.len() > 128
        {
            return Err(self
                .refuse(
                    Some(&client.id),
                    "assertion_claims",
                    source,
                    grant_err("the assertion's issuer, audience, expiry or id is wrong"),
                )
                .await);
        }
        // Each assertion serves once.
        let replay = store::put(
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
        match replay {
            Ok(()) => {}
            Err(SsoError::Store(sante_store::StoreError::Conflict(_))) => {
                return Err(self
                    .refuse(
                        Some(&client.id),
                        "assertion_replayed",
                        source,
                        grant_err("this assertion was already used"),
                    )
                    .await);
            }
            Err(e) => return Err(e),
        }
        let works_here = match &self.staff {
            Some(staff) => staff
                .works_at(&claims.sub, establishment)
                .await
                .map_err(SsoError::Signing)?,
            None => false,
        };
        if !works_here {
            return Err(self
                .refuse(
                    Some(&client.id),
                    "not_staff",
                    source,
                    SsoError::AccessDenied(
                        "this professional does not work at the system's establishment".into(),
                    ),
                )
                .await);
        }
        // The level the establishment vouches for, never above high.
        let level = claims
            .acr
            .as_deref()
            .and_then(parse_acr)
            .unwrap_or(LevelOfAssurance::Low);
        let who = match self
            .identity
            .acting_for(Quality::Professional, &claims.sub, level, &claims.jti)
            .await
        {
            Ok(who) => who,
            Err(e) => {
                let code = match e {
                    IdentityError::Blocked => "account_blocked",
                    IdentityError::Closed => "account_closed",
                    IdentityError::NotActivated => "account_not_activated",
                    _ => "no_account",
                };
                return Err(self
                    .refuse(
                        Some(&client.id),
                        code,
                        source,
                        SsoError::AccessDenied("the professional has no active account".into()),
                    )
                    .await);
            }
        };
        // ACC-4: only what both the system and the person may reach, and whose terms
        // the person accepted (TOU-1).
        let reachable: Vec<Service> = attestation
            .services
            .iter()
            .copied()
            .filter(|s| client.services.contains(s) && authorise_service(&who, *s).is_ok())
            .collect();
        let services = self.terms_accepted(&who.account, &reachable).await?;
        if services.is_empty() && !reachable.is_empty() {
            return Err(self
                .refuse(
                    Some(&client.id),
                    "terms_not_accepted",
                    source,
                    SsoError::AccessDenied(
                        "the professional has not accepted the current terms of use".into(),
                    ),
                )
                .await);
        }
        if services.is_empty() {
            for service in &attestation.services {
                let _ = self
                    .identity
                    .authorise_service(&who, *service, source)
                    .await;
            }
            return Err(self
                .refuse(
                    Some(&client.id),
                    "service_refused",
                    source,
                    SsoError::AccessDenied(
                        "neither the system nor the person may reach a service together".into(),
                    ),
                )
                .await);
        }
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
        actor.establishment = Token::new(establishment.clone()).ok();
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

    async fn revoke_family(&self, family: &str) -> SsoResult<()> {
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

    // ----- using tokens --------------------------------------------------------

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
        let invalid = |why: &str| SsoError::InvalidToken(why.to_owned());
        let claims: AccessClaims =
            match self
                .keys
                .verify(token, "at+jwt", &self.issuer, Some(self.now()))
            {
                Ok(c) => c,
                Err(e) => return Err(self.refuse(None, "bad_access_token", source, e).await),
            };
        let client = Some(claims.client_id.as_str());
        if !claims.aud.contains(&audience(service)) {
            return Err(self
                .refuse(
                    client,
                    "wrong_audience",
                    source,
                    invalid("the token is not for this service"),
                )
                .await);
        }
        if store::get::<Expiry>(&self.db, REVOKED_JTI, &claims.jti)
            .await?
            .is_some()
            || match &claims.fam {
                Some(f) => store::get::<Expiry>(&self.db, REVOKED_FAMILIES, f)
                    .await?
                    .is_some(),
                None => false,
            }
        {
            return Err(self
                .refuse(
                    client,
                    "token_revoked",
                    source,
                    invalid("the token was revoked"),
                )
                .await);
        }
        if let Some(cnf) = &claims.cnf {
            let presented =
                certificate.map(|c| B64.encode(hex::decode(&c.sha256).unwrap_or_default()));
            if presented.as_deref() != Some(cnf.x5t_s256.as_str()) {
                return Err(self
                    .refuse(
                        client,
                        "certificate_binding",
                        source,
                        invalid("the token is bound to another certificate"),
                    )
                    .await);
            }
        }
        let (who, system) = match (&claims.sid, &claims.act) {
            (Some(sid), None) => match self.identity.session_by_id(sid, source).await {
                Ok(who) if who.account == claims.sub => (who, None),
                _ => {
                    return Err(self
                        .refuse(
                            client,
                            "session_ended",
                            source,
                            invalid("the login session has ended"),
                        )
                        .await);
                }
            },
            (None, Some(act)) => {
                let Some(system) = self.client(&act.sub).await? else {
                    return Err(self
                        .refuse(client, "unknown_system", source, invalid("unknown system"))
                        .await);
                };
                let ClientKind::System {
                    establishment,
                    attestation,
                    ..
                } = &system.kind
                else {
                    return Err(self
                        .refuse(client, "unknown_system", source, invalid("unknown system"))
                        .await);
                };
                if let Some(code) = attestation.refusal(self.now()) {
                    return Err(self
                        .refuse(
                            client,
                            code,
                            source,
                            invalid("the system's attestation is not in force"),
                        )
                        .await);
                }
                let level = parse_acr(&claims.acr).unwrap_or(LevelOfAssurance::Low);
                match self
                    .identity
                    .acting_for(Quality::Professional, &claims.entry, level, &claims.jti)
                    .await
                {
                    Ok(who) if who.account == claims.sub => {
                        (who, Some((system.id.clone(), establishment.clone())))
                    }
                    _ => {
                        return Err(self
                            .refuse(
                                client,
                                "account_not_active",
                                source,
                                invalid("the professional's account is not active"),
                            )
                            .await);
                    }
                }
            }
            _ => {
                return Err(self
                    .refuse(
                        client,
                        "bad_access_token",
                        source,
                        invalid("malformed token"),
                    )
                    .await);
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

    /// The userinfo endpoint's claims for an access token (OpenID Connect Core §5.3).
    pub async fn userinfo(&self, token: &str, source: &Source) -> SsoResult<serde_json::Value> {
        let claims: AccessClaims =
            self.keys
                .verify(token, "at+jwt", &self.issuer, Some(self.now()))?;
        let Some(sid) = claims.sid.as_deref() else {
            return Err(SsoError::InvalidToken("not a login's token".into()));
        };
        if let Some(f) = &claims.fam
            && store::get::<Expiry>(&self.db, REVOKED_FAMILIES, f)
                .await?
                .is_some()
        {
            return Err(SsoError::InvalidToken("the token was revoked".into()));
        }
        let who = self
            .identity
            .session_by_id(sid, source)
            .await
            .map_err(|_| SsoError::InvalidToken("the login session has ended".into()))?;
        Ok(serde_json::json!({
            "sub": who.account,
            "preferred_username": who.login,
            "quality": who.quality,
            "acr": acr(who.assurance),
            "amr": amr(who.credential),
        }))
    }

    /// Introspection (RFC 7662), for an authenticated client: an access token or one
    /// of the client's refresh tokens; anything else is inactive.
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
            let revoked = store::get::<Expiry>(&self.db, REVOKED_JTI, &claims.jti)
                .await?
                .is_some()
                || match &claims.fam {
                    Some(f) => store::get::<Expiry>(&self.db, REVOKED_FAMILIES, f)
                        .await?
                        .is_some(),
                    None => false,
                };
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

    // ----- logout -------------------------------------------------------------

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
            // The hint, when given, must be this person's: a link cannot log out others.
            if hint.as_ref().is_none_or(|h| h.sub == who.account) {
                self.identity
                    .end_session_by_id(&who.session, source)
                    .await?;
                self.session_ended(&who.session, &who.account, source)
                    .await?;
            }
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

fn sante_identity_actor(who: &Authenticated) -> Actor {
    Actor {
        person: Token::new(who.account.clone()).ok(),
        quality: Some(who.quality),
        credential: Some(who.credential),
        assurance: Some(who.assurance),
        ..Actor::default()
    }
}

/// Checks a system's assertion with the public key of the certificate it authenticated
/// with (so the system signs with the key of its attested certificate).
fn verify_assertion(assertion: &str, cert: &PeerCertificate) -> Result<AssertionClaims, String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let header =
        jsonwebtoken::decode_header(assertion).map_err(|_| "not a signed assertion".to_owned())?;
    let (key, allowed) = match cert.key_algorithm.as_str() {
        "ec-p256" => (DecodingKey::from_ec_der(&cert.public_key), Algorithm::ES256),
        "rsa" => (
            DecodingKey::from_rsa_der(&cert.public_key),
            Algorithm::RS256,
        ),
        _ => return Err("the certificate's key cannot sign assertions".into()),
    };
    if header.alg != allowed {
        return Err("the assertion is not signed with the certificate's key".into());
    }
    let mut validation = Validation::new(allowed);
    validation.validate_aud = false;
    // Freshness is checked by the caller against the platform's clock.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| format!("the assertion's signature or dates are wrong: {e}"))
}

#[cfg(test)]
mod tests;
