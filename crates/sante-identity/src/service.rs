//! The identity service: creates accounts, activates them, authenticates logins,
//! keeps sessions, and applies the operator's actions (block, revoke, require a new
//! connection method). Every authentication event is traced, success or failure.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sante_audit::{
    Action, Actor, AuditEvent, EventKind, Outcome, PlatformError, Recorder, Source, Token,
};
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
            IdentityError::NotFound(_) => ErrorKind::NotFound,
            IdentityError::Conflict(_) => ErrorKind::Conflict,
            IdentityError::Platform(e) => e.kind(),
        }
    }
}

pub type IdentityResult<T> = Result<T, IdentityError>;

/// Who asks for an administrative action. The front end establishes it; the service
/// refuses anyone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Administrator {
    /// A command run on the server by the operator.
    Operator,
    /// An agent whose directory entry carries the administrator role, logged in.
    Agent(Authenticated),
}

impl Administrator {
    fn actor(&self) -> Actor {
        match self {
            Administrator::Operator => Actor::platform(),
            Administrator::Agent(a) => actor_of(a),
        }
    }
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub quality: Quality,
    /// The directory entry of that quality.
    pub subject: String,
    /// The person's national identification number, checked at activation and used to
    /// link the person's accounts (kept only as a hash).
    pub national_id: String,
}

/// What the operator prints on the activation letter.
#[derive(Debug)]
pub struct ActivationLetter {
    pub account: Account,
    pub code: Zeroizing<String>,
    pub expires: DateTime<Utc>,
}

/// An activation on the portal: the letter's login and code, the person's national
/// identification number, a personal e-mail, and the credentials enrolled.
#[derive(Debug)]
pub struct Activation<'a> {
    pub login: &'a str,
    pub national_id: &'a str,
    pub code: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    /// The authenticator seed shown during activation and a code it produced, which
    /// proves the holder's application has it.
    pub totp_seed: &'a str,
    pub totp_code: &'a str,
}

impl Activation<'_> {
    /// What proves the holder is the letter's addressee.
    pub fn proof(&self) -> ActivationProof<'_> {
        ActivationProof {
            login: self.login,
            national_id: self.national_id,
            code: self.code,
            email: self.email,
        }
    }
}

/// What proves, at activation, that the person is the letter's addressee: the letter's
/// login and code, his national identification number, and his personal e-mail.
#[derive(Debug, Clone, Copy)]
pub struct ActivationProof<'a> {
    pub login: &'a str,
    pub national_id: &'a str,
    pub code: &'a str,
    pub email: &'a str,
}

/// A login with password (and one-time password where the account has one).
#[derive(Debug)]
pub struct PasswordLogin<'a> {
    pub login: &'a str,
    pub quality: Quality,
    pub password: &'a str,
    pub totp_code: Option<&'a str>,
    /// The client's description for the holder's session list (browser family).
    pub client: &'a str,
}

/// A credential as its holder sees it listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSummary {
    pub id: String,
    pub kind: CredentialKind,
    pub label: String,
    pub created: DateTime<Utc>,
}

/// A session about to be opened: how the person authenticated.
#[derive(Debug)]
pub(crate) struct NewSession<'a> {
    pub assurance: LevelOfAssurance,
    pub credential: CredentialKind,
    /// The credentials used: revoking any of them ends the session.
    pub credential_ids: Vec<String>,
    pub client: &'a str,
}

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
}

pub(crate) fn token(value: &str) -> Token {
    Token::new(value.to_owned()).unwrap_or_else(|_| Token::code("invalid"))
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

pub(crate) fn normalise_login(login: &str) -> String {
    login.trim().to_ascii_uppercase()
}

fn nin_hash(national_id: &str) -> String {
    let digits: String = national_id.chars().filter(char::is_ascii_digit).collect();
    secrets::sha256_hex(&format!("sante-person:{digits}"))
}

fn account_terms(a: &Account) -> Vec<Term> {
    let mut terms = vec![
        Term::new("login", normalise_login(&a.login)),
        Term::new("subject", format!("{}:{}", a.quality.as_str(), a.subject)),
        Term::new("person", a.person.clone()),
        Term::new("nin", a.national_id_sha256.clone()),
    ];
    // Credentials that find their account: a certificate by its fingerprint and by
    // what revocation lists call it, a passkey by its credential id. Revoked ones too,
    // so that a revoked certificate is recognised (and refused) rather than unknown.
    for c in &a.credentials {
        match &c.secret {
            Secret::Certificate {
                sha256,
                revocation_key,
                ..
            } => {
                terms.push(Term::new("cert", sha256.clone()));
                terms.push(Term::new(
                    "cert-revocation",
                    secrets::sha256_hex(revocation_key),
                ));
            }
            Secret::Passkey { passkey, .. } => {
                terms.push(Term::new(
                    "passkey",
                    hex::encode::<&[u8]>(passkey.cred_id().as_ref()),
                ));
            }
            _ => {}
        }
    }
    terms
}

/// A login name as printed on a letter: the quality's letter and eight characters
/// without look-alikes (`P-7K3M-9QX2`).
fn new_login(quality: Quality) -> String {
    let code = secrets::activation_code();
    let prefix = match quality {
        Quality::Patient => 'P',
        Quality::Professional => 'H',
        Quality::Agent => 'A',
    };
    format!("{prefix}-{}", &code[..9])
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
        }
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

    pub(crate) async fn find_one(
        &self,
        query: TermQuery,
    ) -> IdentityResult<Option<(Account, i64)>> {
        let keys = self.db.search(ACCOUNTS, &[query], None, 2).await?;
        match keys.first() {
            Some(key) => self.load(key).await,
            None => Ok(None),
        }
    }

    /// The account with this login name, and its stored version.
    pub(crate) async fn find_by_login(
        &self,
        login: &str,
    ) -> IdentityResult<Option<(Account, i64)>> {
        self.find_one(TermQuery::exact("login", normalise_login(login)))
            .await
    }

    /// The account with this login name and quality.
    pub async fn account_by_login(
        &self,
        login: &str,
        quality: Quality,
    ) -> IdentityResult<Option<Account>> {
        Ok(self
            .find_by_login(login)
            .await?
            .map(|(a, _)| a)
            .filter(|a| a.quality == quality))
    }

    /// The account of a directory entry in a quality.
    pub async fn account_of(
        &self,
        quality: Quality,
        subject: &str,
    ) -> IdentityResult<Option<Account>> {
        Ok(self
            .find_one(TermQuery::exact(
                "subject",
                format!("{}:{subject}", quality.as_str()),
            ))
            .await?
            .map(|(a, _)| a))
    }

    pub async fn account(&self, id: &str) -> IdentityResult<Account> {
        self.load(id)
            .await?
            .map(|(a, _)| a)
            .ok_or_else(|| IdentityError::NotFound(format!("account {id}")))
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

    /// Creates a pending account and the code of its activation letter (ACC-1). One
    /// account per directory entry and quality.
    pub async fn create_account(
        &self,
        by: &Administrator,
        new: NewAccount,
        source: &Source,
    ) -> IdentityResult<ActivationLetter> {
        if new.subject.trim().is_empty() {
            return Err(IdentityError::Invalid(
                "the directory entry is missing".into(),
            ));
        }
        if new.quality == Quality::Agent {
            return Err(IdentityError::Invalid(
                "agents' accounts are created active by an administrator".into(),
            ));
        }
        let code = secrets::activation_code();
        let expires = self.now() + Duration::days(ACTIVATION_VALIDITY_DAYS);
        let state = AccountState::Pending {
            code_sha256: secrets::sha256_hex(&secrets::normalise_code(&code)),
            expires,
            failures: 0,
        };
        let account = self
            .insert(
                by,
                new.quality,
                &new.subject,
                &new.national_id,
                state,
                vec![],
                source,
            )
            .await?;
        Ok(ActivationLetter {
            account,
            code,
            expires,
        })
    }

    /// Creates an agent's account, active at once with its password (ACC-1: agents'
    /// accounts are activated by the operator on their organisation's request).
    pub async fn create_agent_account(
        &self,
        by: &Administrator,
        subject: &str,
        national_id: &str,
        password: &str,
        source: &Source,
    ) -> IdentityResult<Account> {
        secrets::check_password_policy(password)
            .map_err(|m| IdentityError::Invalid(m.to_owned()))?;
        let phc = secrets::hash_password(password).map_err(IdentityError::Invalid)?;
        let credential = Credential {
            id: uuid::Uuid::new_v4().to_string(),
            secret: Secret::Password { phc },
            created: self.now(),
            revoked: None,
        };
        self.insert(
            by,
            Quality::Agent,
            subject,
            national_id,
            AccountState::Active,
            vec![credential],
            source,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert(
        &self,
        by: &Administrator,
        quality: Quality,
        subject: &str,
        national_id: &str,
        state: AccountState,
        credentials: Vec<Credential>,
        source: &Source,
    ) -> IdentityResult<Account> {
        if self.account_of(quality, subject).await?.is_some() {
            return Err(IdentityError::Conflict(format!(
                "the entry {subject} already has a {} account",
                quality.as_str()
            )));
        }
        let nin = nin_hash(national_id);
        // The person's other accounts, if any, give the internal person link.
        let person = match self.find_one(TermQuery::exact("nin", nin.clone())).await? {
            Some((other, _)) => other.person,
            None => uuid::Uuid::new_v4().to_string(),
        };
        let account = Account {
            id: uuid::Uuid::new_v4().to_string(),
            login: new_login(quality),
            quality,
            subject: subject.to_owned(),
            person,
            national_id_sha256: nin,
            state,
            email: None,
            credentials,
            failed_logins: 0,
            locked_until: None,
            method_change: None,
            created: self.now(),
        };
        let value = serde_json::to_vec(&account)
            .map_err(|_| IdentityError::from(PlatformError::corrupt(account.id.clone())))?;
        self.db
            .write_batch(
                &[
                    WriteOp::Put {
                        collection: ACCOUNTS.into(),
                        key: account.id.clone(),
                        value,
                        expect: Expect::Absent,
                    },
                    WriteOp::Index {
                        collection: ACCOUNTS.into(),
                        key: account.id.clone(),
                        terms: account_terms(&account),
                    },
                ],
                self.micros(),
            )
            .await?;
        self.trace(
            EventKind::IdentityAccountCreated,
            by.actor(),
            Action::Create,
            Some(&account.id),
            source,
            Outcome::Success,
        )
        .await?;
        Ok(account)
    }

    /// Checks an activation's proof (the letter's login and code, the person's national
    /// number, a plausible e-mail) against a pending account. A wrong proof changes
    /// nothing but the failure count, and is traced.
    pub(crate) async fn check_activation(
        &self,
        proof: &ActivationProof<'_>,
        source: &Source,
    ) -> IdentityResult<(Account, i64)> {
        if !valid_email(proof.email.trim()) {
            return Err(IdentityError::Invalid(
                "the e-mail address is not valid".into(),
            ));
        }
        let Some((mut account, version)) = self.find_by_login(proof.login).await? else {
            self.trace(
                EventKind::IdentityActivationFailed,
                Actor::default(),
                Action::Update,
                None,
                source,
                Outcome::Failure(Token::code("unknown_login")),
            )
            .await?;
            return Err(IdentityError::BadActivation);
        };
        let now = self.now();
        let AccountState::Pending {
            code_sha256,
            expires,
            failures,
        } = &account.state
        else {
            self.fail_activation(&account, "not_pending", source)
                .await?;
            return Err(IdentityError::BadActivation);
        };
        let nin_ok = secrets::same(&account.national_id_sha256, &nin_hash(proof.national_id));
        let code_ok = secrets::same(
            code_sha256,
            &secrets::sha256_hex(&secrets::normalise_code(proof.code)),
        );
        let reason = if *failures >= ACTIVATION_MAX_FAILURES {
            Some("code_used_up")
        } else if now > *expires {
            Some("code_expired")
        } else if !code_ok || !nin_ok {
            Some("wrong_code_or_identifier")
        } else {
            None
        };
        if let Some(reason) = reason {
            if let AccountState::Pending { failures, .. } = &mut account.state {
                *failures += 1;
            }
            self.save(&account, version).await?;
            self.fail_activation(&account, reason, source).await?;
            return Err(IdentityError::BadActivation);
        }
        Ok((account, version))
    }

    /// Completes an activation whose proof was checked: the account becomes active with
    /// `credentials` as its only ones, and the personal e-mail recorded.
    pub(crate) async fn complete_activation(
        &self,
        mut account: Account,
        version: i64,
        email: &str,
        credentials: Vec<Credential>,
        source: &Source,
    ) -> IdentityResult<Account> {
        account.credentials = credentials;
        account.email = Some(email.trim().to_owned());
        account.state = AccountState::Active;
        self.save_indexed(&account, version).await?;
        self.trace_update(
            EventKind::IdentityAccountActivated,
            account_actor(&account),
            &account.id,
            source,
        )
        .await?;
        Ok(account)
    }

    /// A new credential, created now.
    pub(crate) fn credential(&self, secret: Secret) -> Credential {
        Credential {
            id: uuid::Uuid::new_v4().to_string(),
            secret,
            created: self.now(),
            revoked: None,
        }
    }

    /// Activates an account with the letter's code; enrols the password and the
    /// authenticator (patients: substantial assurance). Wrong input changes nothing but
    /// the failure count.
    pub async fn activate(
        &self,
        activation: &Activation<'_>,
        source: &Source,
    ) -> IdentityResult<Account> {
        secrets::check_password_policy(activation.password)
            .map_err(|m| IdentityError::Invalid(m.to_owned()))?;
        let (account, version) = self.check_activation(&activation.proof(), source).await?;
        if account.quality != Quality::Patient {
            return Err(IdentityError::Invalid(
                "this quality activates with its card's certificate or a passkey".into(),
            ));
        }
        let unix = u64::try_from(self.now().timestamp()).unwrap_or_default();
        let Some(step) = secrets::check_totp(activation.totp_seed, activation.totp_code, unix)
        else {
            return Err(IdentityError::Invalid(
                "the code of the authenticator application does not match: check the phone's clock and enter the current code".into(),
            ));
        };
        let phc = secrets::hash_password(activation.password).map_err(IdentityError::Invalid)?;
        let credentials = vec![
            self.credential(Secret::Password { phc }),
            self.credential(Secret::Totp {
                seed: activation.totp_seed.to_owned(),
                last_step: step,
            }),
        ];
        self.complete_activation(account, version, activation.email, credentials, source)
            .await
    }

    pub(crate) async fn fail_activation(
        &self,
        account: &Account,
        reason: &'static str,
        source: &Source,
    ) -> IdentityResult<()> {
        self.trace(
            EventKind::IdentityActivationFailed,
            account_actor(account),
            Action::Update,
            Some(&account.id),
            source,
            Outcome::Failure(Token::code(reason)),
        )
        .await
    }

    /// Why the account may not log in now, whatever the credential: its state, a lock
    /// after failed logins, the network an agent comes from. `None`: it may try.
    pub(crate) fn login_refusal(
        &self,
        account: &Account,
        source: &Source,
    ) -> Option<(&'static str, IdentityError)> {
        let now = self.now();
        let refusal = match &account.state {
            AccountState::Pending { .. } => Some(("not_activated", IdentityError::NotActivated)),
            AccountState::Blocked { .. } => Some(("blocked", IdentityError::Blocked)),
            AccountState::Closed { .. } => Some(("closed", IdentityError::Closed)),
            AccountState::Active => match account.locked_until {
                Some(until) if until > now => Some(("locked", IdentityError::Locked(until))),
                _ => None,
            },
        };
        refusal.or_else(|| {
            (!self.network_allows(account.quality, source))
                .then_some(("network_not_allowed", IdentityError::NetworkNotAllowed))
        })
    }

    /// Refuses a login whose credential was right when the operator's required change
    /// of connection method is overdue and this account has not made it (ACC-6).
    pub(crate) async fn check_method_change(
        &self,
        account: &Account,
        source: &Source,
    ) -> IdentityResult<()> {
        if let Some(change) = &account.method_change
            && self.now() > change.deadline
            && !account.methods().contains(&change.required)
        {
            self.deny_login(account, "method_change_overdue", source)
                .await?;
            return Err(IdentityError::MethodChangeOverdue);
        }
        Ok(())
    }

    /// Traces a login attempt for a login name or credential that matches no account.
    pub(crate) async fn unknown_login(
        &self,
        quality: Option<Quality>,
        source: &Source,
    ) -> IdentityResult<IdentityError> {
        self.trace(
            EventKind::IdentityLoginFailed,
            Actor {
                quality,
                ..Actor::default()
            },
            Action::Execute,
            None,
            source,
            Outcome::Failure(Token::code("unknown_login")),
        )
        .await?;
        Ok(IdentityError::BadCredentials)
    }

    /// Opens a session after a successful authentication: resets the failure count,
    /// saves `account` (which may carry an updated credential), stores the session and
    /// traces the login. Returns the bearer secret and who is authenticated.
    pub(crate) async fn open_session(
        &self,
        mut account: Account,
        version: i64,
        login: NewSession<'_>,
        source: &Source,
    ) -> IdentityResult<(Zeroizing<String>, Authenticated)> {
        let now = self.now();
        account.failed_logins = 0;
        account.locked_until = None;
        self.save(&account, version).await?;
        let secret = secrets::random_token();
        let session = Session {
            id: uuid::Uuid::new_v4().to_string(),
            account: account.id.clone(),
            quality: account.quality,
            assurance: login.assurance,
            credential: login.credential,
            credential_ids: login.credential_ids,
            created: now,
            last_seen: now,
            client: login.client.chars().take(80).collect(),
            scope: None,
        };
        self.store_session(&secrets::sha256_hex(&secret), &session, Expect::Absent)
            .await?;
        let who = Authenticated {
            session: session.id.clone(),
            account: account.id.clone(),
            login: account.login.clone(),
            subject: account.subject.clone(),
            quality: account.quality,
            assurance: login.assurance,
            credential: login.credential,
            scope: None,
        };
        self.trace(
            EventKind::IdentityLoginSucceeded,
            actor_of(&who),
            Action::Execute,
            Some(&account.id),
            source,
            Outcome::Success,
        )
        .await?;
        Ok((secret, who))
    }

    /// A login with password, and the one-time password where the account has an
    /// authenticator. Returns the session's bearer secret (to put in a cookie) and who
    /// is now authenticated.
    pub async fn login_password(
        &self,
        login: &PasswordLogin<'_>,
        source: &Source,
    ) -> IdentityResult<(Zeroizing<String>, Authenticated)> {
        let found = self
            .find_by_login(login.login)
            .await?
            .filter(|(a, _)| a.quality == login.quality);
        let Some((mut account, version)) = found else {
            secrets::burn_password_time(login.password);
            return Err(self.unknown_login(Some(login.quality), source).await?);
        };
        if let Some((code, error)) = self.login_refusal(&account, source) {
            secrets::burn_password_time(login.password);
            self.deny_login(&account, code, source).await?;
            return Err(error);
        }
        let password_ok = match account.password() {
            Some((_, phc)) => secrets::verify_password(login.password, phc),
            None => false,
        };
        let unix = u64::try_from(self.now().timestamp()).unwrap_or_default();
        let totp_step = match (account.totp(), login.totp_code) {
            (Some((_, seed, last)), Some(code)) => secrets::check_totp(seed, code, unix)
                .filter(|step| *step > last)
                .map(Some),
            (Some(_), None) => None,
            // Accounts without an authenticator (agents) log in with the password alone.
            (None, _) => Some(None),
        };
        let Some(totp_step) = totp_step.filter(|_| password_ok) else {
            return Err(self.login_failed(account, version, source).await?);
        };
        self.check_method_change(&account, source).await?;
        let (credential, assurance) = match totp_step {
            Some(_) => (CredentialKind::PasswordTotp, LevelOfAssurance::Substantial),
            None => (CredentialKind::Password, LevelOfAssurance::Low),
        };
        let mut credential_ids: Vec<String> = account
            .password()
            .map(|(c, _)| c.id.clone())
            .into_iter()
            .collect();
        if let Some(step) = totp_step {
            for c in &mut account.credentials {
                if let Secret::Totp { last_step, .. } = &mut c.secret
                    && c.revoked.is_none()
                {
                    *last_step = step;
                    credential_ids.push(c.id.clone());
                }
            }
        }
        self.open_session(
            account,
            version,
            NewSession {
                assurance,
                credential,
                credential_ids,
                client: login.client,
            },
            source,
        )
        .await
    }

    /// Traces a login refused by policy (not a wrong credential) with its reason.
    pub(crate) async fn deny_login(
        &self,
        account: &Account,
        code: &'static str,
        source: &Source,
    ) -> IdentityResult<()> {
        self.trace(
            EventKind::IdentityLoginFailed,
            account_actor(account),
            Action::Execute,
            Some(&account.id),
            source,
            Outcome::Denied(Token::code(code)),
        )
        .await
    }

    pub(crate) async fn login_failed(
        &self,
        mut account: Account,
        version: i64,
        source: &Source,
    ) -> IdentityResult<IdentityError> {
        account.failed_logins += 1;
        let over = account.failed_logins.saturating_sub(FREE_FAILURES);
        let locked = if account.failed_logins >= FREE_FAILURES {
            let minutes = 1i64
                .checked_shl(over.min(10))
                .unwrap_or(MAX_LOCK_MINUTES)
                .min(MAX_LOCK_MINUTES);
            let until = self.now() + Duration::minutes(minutes);
            account.locked_until = Some(until);
            Some(until)
        } else {
            None
        };
        self.save(&account, version).await?;
        self.trace(
            EventKind::IdentityLoginFailed,
            account_actor(&account),
            Action::Execute,
            Some(&account.id),
            source,
            Outcome::Failure(Token::code("wrong_credentials")),
        )
        .await?;
        if locked.is_some() {
            self.trace_update(
                EventKind::IdentityAccountLocked,
                account_actor(&account),
                &account.id,
                source,
            )
            .await?;
        }
        Ok(IdentityError::BadCredentials)
    }

    pub(crate) async fn store_session(
        &self,
        key: &str,
        session: &Session,
        expect: Expect,
    ) -> IdentityResult<()> {
        let value = serde_json::to_vec(session)
            .map_err(|_| IdentityError::from(PlatformError::corrupt(session.id.clone())))?;
        let mut ops = vec![WriteOp::Put {
            collection: SESSIONS.into(),
            key: key.to_owned(),
            value,
            expect,
        }];
        if expect == Expect::Absent {
            ops.push(WriteOp::Index {
                collection: SESSIONS.into(),
                key: key.to_owned(),
                terms: vec![
                    Term::new("account", session.account.clone()),
                    Term::new("id", session.id.clone()),
                ],
            });
        }
        self.db.write_batch(&ops, self.micros()).await?;
        Ok(())
    }

    /// Who is behind a session's bearer secret, checked now: the account is active,
    /// every credential the login used is still valid, the session is neither idle nor
    /// too old. A revoked credential or a blocked account is refused at the very next
    /// request.
    pub async fn authenticate(
        &self,
        secret: &str,
        source: &Source,
    ) -> IdentityResult<Authenticated> {
        if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IdentityError::NoSession);
        }
        let key = secrets::sha256_hex(secret);
        let Some(record) = self.db.get(SESSIONS, &key).await? else {
            return Err(IdentityError::NoSession);
        };
        self.check_session(&key, record, source).await
    }

    /// Who is behind the session with this public id, checked now as [`authenticate`]
    /// checks a cookie: what single sign-on asks when a token carrying the session id
    /// is used or refreshed, so that logout and revocation reach every service at once.
    ///
    /// [`authenticate`]: Identity::authenticate
    pub async fn session_by_id(
        &self,
        session_id: &str,
        source: &Source,
    ) -> IdentityResult<Authenticated> {
        let keys = self
            .db
            .search(SESSIONS, &[TermQuery::exact("id", session_id)], None, 1)
            .await?;
        let Some(key) = keys.first() else {
            return Err(IdentityError::NoSession);
        };
        let Some(record) = self.db.get(SESSIONS, key).await? else {
            return Err(IdentityError::NoSession);
        };
        self.check_session(key, record, source).await
    }

    /// Ends the session with this public id (single sign-on logout); `false` when it
    /// had already ended.
    pub async fn end_session_by_id(
        &self,
        session_id: &str,
        source: &Source,
    ) -> IdentityResult<bool> {
        let Ok(who) = self.session_by_id(session_id, source).await else {
            return Ok(false);
        };
        let keys = self
            .db
            .search(SESSIONS, &[TermQuery::exact("id", session_id)], None, 1)
            .await?;
        for key in &keys {
            self.db.delete(SESSIONS, key, Expect::Any).await?;
        }
        self.trace(
            EventKind::IdentitySessionEnded,
            actor_of(&who),
            Action::Delete,
            Some(&who.account),
            source,
            Outcome::Success,
        )
        .await?;
        Ok(true)
    }

    /// Checks a stored session now: timeouts, the account's state, the credentials the
    /// login used, the network; a refused session is deleted and the refusal traced.
    async fn check_session(
        &self,
        key: &str,
        record: sante_store::Record,
        source: &Source,
    ) -> IdentityResult<Authenticated> {
        let mut session: Session = serde_json::from_slice(&record.value)
            .map_err(|_| IdentityError::from(PlatformError::corrupt("session")))?;
        let now = self.now();
        if now - session.last_seen > self.limits.idle
            || now - session.created > self.limits.absolute
        {
            self.db.delete(SESSIONS, key, Expect::Any).await?;
            return Err(IdentityError::NoSession);
        }
        let account = self.account(&session.account).await?;
        let refusal = match &account.state {
            AccountState::Active => None,
            AccountState::Blocked { .. } => Some("blocked"),
            AccountState::Closed { .. } => Some("closed"),
            AccountState::Pending { .. } => Some("not_activated"),
        }
        .or_else(|| {
            let revoked = session.credential_ids.iter().any(|id| {
                !account
                    .credentials
                    .iter()
                    .any(|c| &c.id == id && c.is_active())
            });
            revoked.then_some("credential_revoked")
        })
        .or_else(|| {
            (!self.network_allows(session.quality, source)).then_some("network_not_allowed")
        });
        let who = Authenticated {
            session: session.id.clone(),
            account: account.id.clone(),
            login: account.login.clone(),
            subject: account.subject.clone(),
            quality: session.quality,
            assurance: session.assurance,
            credential: session.credential,
            scope: session.scope,
        };
        if let Some(code) = refusal {
            self.db.delete(SESSIONS, key, Expect::Any).await?;
            self.trace(
                EventKind::IdentitySessionRefused,
                actor_of(&who),
                Action::Execute,
                Some(&account.id),
                source,
                Outcome::Denied(Token::code(code)),
            )
            .await?;
            return Err(IdentityError::SessionRefused(code));
        }
        if (now - session.last_seen).num_seconds() >= TOUCH_EVERY_SECS {
            session.last_seen = now;
            // A concurrent request may have touched it first: either write is as good.
            match self
                .store_session(key, &session, Expect::Version(record.version))
                .await
            {
                Ok(()) | Err(IdentityError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(who)
    }

    /// The active account of a directory entry in `quality`, as who it is when an
    /// establishment's system acts for that person (ACC-3): no session of his own, the
    /// system's assertion as credential, at the level the system vouches for.
    pub async fn acting_for(
        &self,
        quality: Quality,
        subject: &str,
        assurance: LevelOfAssurance,
        assertion_id: &str,
    ) -> IdentityResult<Authenticated> {
        let account = self
            .account_of(quality, subject)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("{} account", quality.as_str())))?;
        match account.state {
            AccountState::Active => {}
            AccountState::Blocked { .. } => return Err(IdentityError::Blocked),
            AccountState::Closed { .. } => return Err(IdentityError::Closed),
            AccountState::Pending { .. } => return Err(IdentityError::NotActivated),
        }
        Ok(Authenticated {
            session: format!("sys:{assertion_id}"),
            account: account.id,
            login: account.login,
            subject: account.subject,
            quality,
            assurance,
            credential: CredentialKind::SystemAssertion,
            scope: None,
        })
    }

    /// May this session reach `service`? Refusals are traced.
    pub async fn authorise_service(
        &self,
        who: &Authenticated,
        service: Service,
        source: &Source,
    ) -> IdentityResult<()> {
        if let Err(refusal) = authorise_service(who, service) {
            self.trace(
                EventKind::IdentityServiceDenied,
                actor_of(who),
                Action::Execute,
                Some(&who.account),
                source,
                Outcome::Denied(Token::code(refusal.reason())),
            )
            .await?;
            return Err(refusal.into());
        }
        Ok(())
    }

    async fn session_keys(&self, account: &str) -> IdentityResult<Vec<String>> {
        Ok(self
            .db
            .search(
                SESSIONS,
                &[TermQuery::exact("account", account)],
                None,
                MAX_SESSIONS_LISTED,
            )
            .await?)
    }

    /// The live sessions of an account, newest first, for its holder.
    pub async fn sessions(&self, who: &Authenticated) -> IdentityResult<Vec<Session>> {
        let keys = self.session_keys(&who.account).await?;
        let now = self.now();
        let mut out: Vec<Session> = self
            .db
            .get_many(SESSIONS, &keys)
            .await?
            .iter()
            .filter_map(|r| serde_json::from_slice::<Session>(&r.value).ok())
            .filter(|s| {
                now - s.last_seen <= self.limits.idle && now - s.created <= self.limits.absolute
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.created));
        Ok(out)
    }

    /// Ends one of the holder's own sessions (by its public id).
    pub async fn end_session(
        &self,
        who: &Authenticated,
        session_id: &str,
        source: &Source,
    ) -> IdentityResult<()> {
        let keys = self
            .db
            .search(
                SESSIONS,
                &[
                    TermQuery::exact("account", who.account.clone()),
                    TermQuery::exact("id", session_id),
                ],
                None,
                1,
            )
            .await?;
        let Some(key) = keys.first() else {
            return Err(IdentityError::NotFound(format!("session {session_id}")));
        };
        self.db.delete(SESSIONS, key, Expect::Any).await?;
        self.trace(
            EventKind::IdentitySessionEnded,
            actor_of(who),
            Action::Delete,
            Some(&who.account),
            source,
            Outcome::Success,
        )
        .await
    }

    /// Logs out: the session's secret is dead from now on.
    pub async fn logout(&self, secret: &str, source: &Source) -> IdentityResult<()> {
        let Ok(who) = self.authenticate(secret, source).await else {
            return Ok(());
        };
        self.db
            .delete(SESSIONS, &secrets::sha256_hex(secret), Expect::Any)
            .await?;
        self.trace(
            EventKind::IdentitySessionEnded,
            actor_of(&who),
            Action::Delete,
            Some(&who.account),
            source,
            Outcome::Success,
        )
        .await
    }

    pub(crate) async fn end_all_sessions(&self, account: &str) -> IdentityResult<usize> {
        let keys = self.session_keys(account).await?;
        let ops: Vec<WriteOp> = keys
            .iter()
            .map(|k| WriteOp::Delete {
                collection: SESSIONS.into(),
                key: k.clone(),
                expect: Expect::Any,
            })
            .collect();
        if !ops.is_empty() {
            self.db.write_batch(&ops, self.micros()).await?;
        }
        Ok(keys.len())
    }

    pub(crate) async fn update<F>(&self, account_id: &str, change: F) -> IdentityResult<Account>
    where
        F: Fn(&mut Account) -> IdentityResult<()>,
    {
        // Optimistic concurrency: a login counting a failure at the same moment makes
        // the write conflict; read again and reapply.
        for _ in 0..5 {
            let (mut account, version) = self
                .load(account_id)
                .await?
                .ok_or_else(|| IdentityError::NotFound(format!("account {account_id}")))?;
            change(&mut account)?;
            match self.save(&account, version).await {
                Ok(()) => return Ok(account),
                Err(IdentityError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(IdentityError::Conflict(format!(
            "account {account_id} kept changing"
        )))
    }

    /// Lost or stolen credentials (ACC-7): revokes every credential of the account
    /// (`credential` = None) or one of them, and ends every session of the account at
    /// once. The holder (for his own account) or an administrator may do it.
    pub async fn revoke_credential(
        &self,
        actor: Actor,
        account_id: &str,
        credential: Option<&str>,
        source: &Source,
    ) -> IdentityResult<()> {
        let now = self.now();
        self.update(account_id, |a| {
            let mut hit = false;
            for c in a.credentials.iter_mut().filter(|c| c.is_active()) {
                if credential.is_none_or(|id| id == c.id) {
                    c.revoked = Some(now);
                    hit = true;
                }
            }
            if hit {
                Ok(())
            } else {
                Err(IdentityError::NotFound("active credential".into()))
            }
        })
        .await?;
        self.end_all_sessions(account_id).await?;
        self.trace_update(
            EventKind::IdentityCredentialRevoked,
            actor,
            account_id,
            source,
        )
        .await
    }

    /// The holder reports his own credentials lost or stolen.
    pub async fn report_lost(&self, who: &Authenticated, source: &Source) -> IdentityResult<()> {
        self.revoke_credential(actor_of(who), &who.account, None, source)
            .await
    }

    /// An administrator blocks an account (ACC-7): every session ends at once.
    pub async fn block(
        &self,
        by: &Administrator,
        account_id: &str,
        reason: &str,
        source: &Source,
    ) -> IdentityResult<()> {
        let reason = Token::new(reason.to_owned())
            .map_err(|_| IdentityError::Invalid("the reason must be a code".into()))?;
        let now = self.now();
        self.update(account_id, |a| {
            a.state = AccountState::Blocked {
                reason: reason.as_str().to_owned(),
                since: now,
            };
            Ok(())
        })
        .await?;
        self.end_all_sessions(account_id).await?;
        self.trace_update(
            EventKind::IdentityAccountBlocked,
            by.actor(),
            account_id,
            source,
        )
        .await
    }

    /// An administrator unblocks an account; a lock after failed logins is lifted too,
    /// and an overdue change of connection method is waived.
    pub async fn unblock(
        &self,
        by: &Administrator,
        account_id: &str,
        source: &Source,
    ) -> IdentityResult<()> {
        self.update(account_id, |a| {
            if matches!(a.state, AccountState::Blocked { .. }) {
                a.state = AccountState::Active;
            }
            a.failed_logins = 0;
            a.locked_until = None;
            a.method_change = None;
            Ok(())
        })
        .await?;
        self.trace_update(
            EventKind::IdentityAccountUnblocked,
            by.actor(),
            account_id,
            source,
        )
        .await
    }

    /// The operator requires the holder of an account to switch to `required` by
    /// `deadline` (ACC-6); past it, logins without it are refused until an
    /// administrator waives the requirement or the holder has switched.
    pub async fn require_method_change(
        &self,
        by: &Administrator,
        account_id: &str,
        required: CredentialKind,
        deadline: DateTime<Utc>,
        source: &Source,
    ) -> IdentityResult<()> {
        self.update(account_id, |a| {
            a.method_change = Some(MethodChange { required, deadline });
            Ok(())
        })
        .await?;
        self.trace_update(
            EventKind::IdentityMethodChangeRequired,
            by.actor(),
            account_id,
            source,
        )
        .await
    }

    /// The quality behind an account was lost (PLT-4): that account closes and its
    /// sessions end; the person's accounts in other qualities are untouched.
    pub async fn close_quality(
        &self,
        quality: Quality,
        subject: &str,
        source: &Source,
    ) -> IdentityResult<bool> {
        let Some(account) = self.account_of(quality, subject).await? else {
            return Ok(false);
        };
        let now = self.now();
        self.update(&account.id, |a| {
            a.state = AccountState::Closed { since: now };
            Ok(())
        })
        .await?;
        self.end_all_sessions(&account.id).await?;
        self.trace_update(
            EventKind::IdentityAccountClosed,
            Actor::platform(),
            &account.id,
            source,
        )
        .await?;
        Ok(true)
    }

    /// How far the identity service has applied a feed it follows.
    pub async fn feed_position(&self, feed: &str) -> IdentityResult<Option<String>> {
        Ok(self
            .db
            .get(FEEDS, feed)
            .await?
            .and_then(|r| String::from_utf8(r.value).ok()))
    }

    /// Records that everything up to `cursor` of `feed` has been applied.
    pub async fn set_feed_position(&self, feed: &str, cursor: &str) -> IdentityResult<()> {
        self.db
            .put(FEEDS, feed, cursor.as_bytes(), Expect::Any, self.micros())
            .await?;
        Ok(())
    }

    /// The holder's active credentials, for his account page: kind, his label for it
    /// (a card's subject, a device name), when it was registered. No secret.
    pub async fn credentials(&self, who: &Authenticated) -> IdentityResult<Vec<CredentialSummary>> {
        let account = self.account(&who.account).await?;
        Ok(account
            .credentials
            .iter()
            .filter(|c| c.is_active())
            .map(|c| CredentialSummary {
                id: c.id.clone(),
                kind: c.secret.kind(),
                label: match &c.secret {
                    Secret::Certificate { subject, .. } => subject.clone(),
                    Secret::Passkey { label, .. } | Secret::ApplicationPassword { label, .. } => {
                        label.clone()
                    }
                    Secret::Password { .. } | Secret::Totp { .. } => String::new(),
                },
                created: c.created,
            })
            .collect())
    }

    /// The qualities in which the person behind `who` also holds an account, so the
    /// portal can offer to log in with them; the link itself stays inside.
    pub async fn other_qualities(&self, who: &Authenticated) -> IdentityResult<Vec<Quality>> {
        let account = self.account(&who.account).await?;
        let keys = self
            .db
            .search(
                ACCOUNTS,
                &[TermQuery::exact("person", account.person)],
                None,
                10,
            )
            .await?;
        let mut out: Vec<Quality> = self
            .db
            .get_many(ACCOUNTS, &keys)
            .await?
            .iter()
            .filter_map(|r| serde_json::from_slice::<Account>(&r.value).ok())
            .filter(|a| a.id != who.account)
            .map(|a| a.quality)
            .collect();
        out.sort_by_key(|q| q.as_str());
        Ok(out)
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

mod app_password;
mod certificate;
mod directory_feed;
mod passkey;

pub use app_password::{AppPassword, NewAppPassword};
pub use passkey::{Ceremony, PasskeyChallenge};

#[cfg(test)]
mod tests;
