//! The identity service: creates accounts, activates them, authenticates logins,
//! keeps sessions, and applies the operator's actions (block, revoke, require a new
//! connection method). Every authentication event is traced, success or failure.
//!
//! This module holds the service, its errors, and the read-modify-write of accounts
//! every job shares; the jobs are in submodules: `accounts`, `activation`, `login`,
//! `sessions`, `admin`, the credentials (`certificate`, `passkey`, `app_password`) and
//! `directory_feed` (what the directories' changes do to accounts).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sante_audit::{
    Action, Actor, AuditEvent, EventKind, Outcome, PlatformError, Recorder, Source, Token,
};
use sante_store::retry::{Retry, on_conflict, settle};
use sante_store::{Db, Expect, Term, TermQuery, WriteOp};
use sante_types::{Clock, Coded, CredentialKind, ErrorKind, LevelOfAssurance, Quality, Service};
use zeroize::Zeroizing;

use crate::model::{
    Account, AccountState, Authenticated, Credential, MethodChange, Secret, Session, SessionLimits,
};
use crate::policy::{ServiceRefusal, authorise_service};
use crate::secrets;

pub const ACCOUNTS: &str = "idn-account";
pub const SESSIONS: &str = "idn-session";
/// Positions in the feeds the identity service follows (the directories' changes).
pub const FEEDS: &str = "idn-feed";

/// How long an activation letter's code stays valid.
const ACTIVATION_VALIDITY_DAYS: i64 = 90;
/// Wrong activation codes before the code dies (a new letter is needed).
const ACTIVATION_MAX_FAILURES: u32 = 5;
/// Failed logins allowed before the account locks; each further failure doubles the
/// lock, up to [`MAX_LOCK`].
const FREE_FAILURES: u32 = 5;
const MAX_LOCK_MINUTES: i64 = 60;
/// `last_seen` is written at most this often, so that every request is not a write.
const TOUCH_EVERY_SECS: i64 = 30;
/// Sessions listed per account at most.
const MAX_SESSIONS_LISTED: u32 = 200;

/// What can go wrong. The login errors are deliberately coarse towards the user (a
/// wrong login and a wrong password look the same); the trace has the precise code.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("wrong login or credentials")]
    BadCredentials,
    #[error("the account is locked after failed logins until {0}")]
    Locked(DateTime<Utc>),
    #[error("this credential was revoked or has expired")]
    CredentialRevoked,
    #[error("the account is not activated")]
    NotActivated,
    #[error("the account is blocked")]
    Blocked,
    #[error("the account is closed")]
    Closed,
    #[error("agents log in only from the configured networks")]
    NetworkNotAllowed,
    #[error("the required change of connection method was not made in time")]
    MethodChangeOverdue,
    #[error("the activation code is wrong, expired or used up")]
    BadActivation,
    #[error("too many failed attempts from this address; try again later")]
    TooManyAttempts,
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("no valid session")]
    NoSession,
    #[error("the session was refused: {0}")]
    SessionRefused(&'static str),
    #[error("service refused: {0}")]
    ServiceRefused(#[from] ServiceRefusal),
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Platform(PlatformError),
}

sante_audit::platform_error_conversions!(IdentityError);

impl Coded for IdentityError {
    fn code(&self) -> &'static str {
        match self {
            IdentityError::BadCredentials => "IDN001",
            IdentityError::Locked(_) => "IDN002",
            IdentityError::CredentialRevoked => "IDN003",
            IdentityError::NotActivated => "IDN004",
            IdentityError::Blocked => "IDN005",
            IdentityError::Closed => "IDN006",
            IdentityError::NetworkNotAllowed => "IDN007",
            IdentityError::MethodChangeOverdue => "IDN008",
            IdentityError::BadActivation => "IDN009",
            IdentityError::Invalid(_) => "IDN010",
            IdentityError::NoSession => "IDN011",
            IdentityError::SessionRefused(_) => "IDN012",
            IdentityError::ServiceRefused(_) => "IDN013",
            IdentityError::NotFound(_) => "IDN014",
            IdentityError::Conflict(_) => "IDN015",
            IdentityError::TooManyAttempts => "IDN016",
            IdentityError::Platform(e) => e.code(),
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            IdentityError::BadCredentials
            | IdentityError::Locked(_)
            | IdentityError::CredentialRevoked
            | IdentityError::NoSession
            | IdentityError::SessionRefused(_) => ErrorKind::Unauthenticated,
            IdentityError::NotActivated
            | IdentityError::Blocked
            | IdentityError::Closed
            | IdentityError::NetworkNotAllowed
            | IdentityError::MethodChangeOverdue
            | IdentityError::ServiceRefused(_) => ErrorKind::Denied,
            IdentityError::BadActivation | IdentityError::Invalid(_) => ErrorKind::Invalid,
            IdentityError::TooManyAttempts => ErrorKind::Throttled,
            IdentityError::NotFound(_) => ErrorKind::NotFound,
            IdentityError::Conflict(_) => ErrorKind::Conflict,
            IdentityError::Platform(e) => e.kind(),
        }
    }
}

pub type IdentityResult<T> = Result<T, IdentityError>;

/// The identity service.
#[derive(Clone)]
pub struct Identity {
    db: Db,
    recorder: Arc<dyn Recorder>,
    clock: Arc<dyn Clock>,
    limits: SessionLimits,
    /// Networks agents may log in and act from (ACC-2); empty: anywhere.
    agent_networks: Vec<ipnet::IpNet>,
    /// The WebAuthn relying party (the portal's origin); `None`: no passkeys.
    webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// Failed logins and activations per source address.
    attempts: Arc<attempts::Attempts>,
}

pub(crate) fn token(value: &str) -> Token {
    Token::or_invalid(value)
}

pub(crate) fn actor_of(a: &Authenticated) -> Actor {
    Actor {
        person: Some(token(&a.account)),
        quality: Some(a.quality),
        credential: Some(a.credential),
        assurance: Some(a.assurance),
        ..Actor::default()
    }
}

pub(crate) fn account_actor(account: &Account) -> Actor {
    Actor {
        person: Some(token(&account.id)),
        quality: Some(account.quality),
        ..Actor::default()
    }
}

impl Identity {
    pub fn new(db: Db, recorder: Arc<dyn Recorder>, clock: Arc<dyn Clock>) -> Identity {
        Identity {
            db,
            recorder,
            clock,
            limits: SessionLimits::default(),
            agent_networks: Vec::new(),
            webauthn: None,
            attempts: Arc::new(attempts::Attempts::new(AttemptLimits::default())),
        }
    }

    /// Failures allowed per source address (logins and activations together).
    pub fn with_attempt_limits(mut self, limits: AttemptLimits) -> Identity {
        self.attempts = Arc::new(attempts::Attempts::new(limits));
        self
    }

    /// Limits agents' logins and sessions to these networks (ACC-2: a personal
    /// password, possibly restricted to a highly secured network).
    pub fn with_agent_networks(mut self, networks: Vec<ipnet::IpNet>) -> Identity {
        self.agent_networks = networks;
        self
    }

    /// Offers passkeys (WebAuthn) for the portal at `origin` (its public URL): the
    /// relying party id is the origin's host.
    pub fn with_webauthn(mut self, origin: &str) -> IdentityResult<Identity> {
        let url = webauthn_rs::prelude::Url::parse(origin)
            .map_err(|_| IdentityError::Invalid(format!("{origin} is not a URL")))?;
        let rp_id = url
            .host_str()
            .ok_or_else(|| IdentityError::Invalid(format!("{origin} has no host")))?
            .to_owned();
        let webauthn = webauthn_rs::WebauthnBuilder::new(&rp_id, &url)
            .and_then(|b| b.rp_name("Sante").build())
            .map_err(|e| IdentityError::Invalid(format!("WebAuthn relying party: {e}")))?;
        self.webauthn = Some(Arc::new(webauthn));
        Ok(self)
    }

    pub(crate) fn webauthn(&self) -> IdentityResult<&webauthn_rs::Webauthn> {
        self.webauthn
            .as_deref()
            .ok_or_else(|| IdentityError::Invalid("passkeys are not offered here".into()))
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// Whether a person of `quality` may act from where `source` says the request came.
    fn network_allows(&self, quality: Quality, source: &Source) -> bool {
        quality != Quality::Agent
            || self.agent_networks.is_empty()
            || source
                .ip
                .is_some_and(|ip| self.agent_networks.iter().any(|n| n.contains(&ip)))
    }

    pub fn with_limits(mut self, limits: SessionLimits) -> Identity {
        self.limits = limits;
        self
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) fn micros(&self) -> i64 {
        self.now().timestamp_micros()
    }

    pub(crate) async fn trace(
        &self,
        kind: EventKind,
        actor: Actor,
        action: Action,
        account: Option<&str>,
        source: &Source,
        outcome: Outcome,
    ) -> IdentityResult<()> {
        let mut event = AuditEvent::new(kind, self.now(), actor, Service::Identity, action)
            .source(source.clone())
            .outcome(outcome);
        if let Some(id) = account {
            event = event.resource(Token::code("Account"), token(id));
        }
        self.recorder.record(event).await?;
        Ok(())
    }

    /// Traces a successful change to an account.
    pub(crate) async fn trace_update(
        &self,
        kind: EventKind,
        actor: Actor,
        account: &str,
        source: &Source,
    ) -> IdentityResult<()> {
        self.trace(
            kind,
            actor,
            Action::Update,
            Some(account),
            source,
            Outcome::Success,
        )
        .await
    }

    pub(crate) async fn load(&self, id: &str) -> IdentityResult<Option<(Account, i64)>> {
        let Some(record) = self.db.get(ACCOUNTS, id).await? else {
            return Ok(None);
        };
        let account: Account = serde_json::from_slice(&record.value)
            .map_err(|_| IdentityError::from(PlatformError::corrupt(id.to_owned())))?;
        Ok(Some((account, record.version)))
    }

    pub(crate) async fn save(&self, account: &Account, version: i64) -> IdentityResult<()> {
        let value = serde_json::to_vec(account)
            .map_err(|_| IdentityError::from(PlatformError::corrupt(account.id.clone())))?;
        self.db
            .put(
                ACCOUNTS,
                &account.id,
                &value,
                Expect::Version(version),
                self.micros(),
            )
            .await?;
        Ok(())
    }

    /// Saves an account whose credentials changed, with its search terms.
    pub(crate) async fn save_indexed(&self, account: &Account, version: i64) -> IdentityResult<()> {
        let value = serde_json::to_vec(account)
            .map_err(|_| IdentityError::from(PlatformError::corrupt(account.id.clone())))?;
        self.db
            .write_batch(
                &[
                    WriteOp::Put {
                        collection: ACCOUNTS.into(),
                        key: account.id.clone(),
                        value,
                        expect: Expect::Version(version),
                    },
                    WriteOp::Index {
                        collection: ACCOUNTS.into(),
                        key: account.id.clone(),
                        terms: account_terms(account),
                    },
                ],
                self.micros(),
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn update<F>(&self, account_id: &str, change: F) -> IdentityResult<Account>
    where
        F: Fn(&mut Account) -> IdentityResult<()>,
    {
        // Optimistic concurrency: a login counting a failure at the same moment makes
        // the write conflict; read again and reapply.
        let (this, change) = (self, &change);
        on_conflict(Retry::RARE, "account update", || async move {
            let (mut account, version) = this
                .load(account_id)
                .await?
                .ok_or_else(|| IdentityError::NotFound(format!("account {account_id}")))?;
            change(&mut account)?;
            let value = serde_json::to_vec(&account)
                .map_err(|_| IdentityError::from(PlatformError::corrupt(account.id.clone())))?;
            let written = this
                .db
                .put(
                    ACCOUNTS,
                    &account.id,
                    &value,
                    Expect::Version(version),
                    this.micros(),
                )
                .await;
            Ok(settle(written, |_| account)?)
        })
        .await
    }
}

/// A plausible personal e-mail address (the confirmation mail proves it works).
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && email.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("limits", &self.limits)
            .field("agent_networks", &self.agent_networks)
            .field("passkeys", &self.webauthn.is_some())
            .finish_non_exhaustive()
    }
}

mod accounts;
mod activation;
mod admin;
mod app_password;
mod attempts;
mod certificate;
mod directory_feed;
mod login;
mod passkey;
mod sessions;

pub use accounts::{
    AccountStatus, AccountSummary, ActivationLetter, CredentialSummary, NewAccount,
};
use accounts::{account_terms, nin_hash, normalise_login};
pub use activation::{Activation, ActivationProof};
pub use admin::Administrator;
pub use app_password::{AppPassword, NewAppPassword};
pub use attempts::AttemptLimits;
pub use login::PasswordLogin;
pub use passkey::{Ceremony, PasskeyChallenge};
pub(crate) use sessions::NewSession;

#[cfg(test)]
mod tests;
