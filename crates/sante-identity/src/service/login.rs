//! Logins with a password and an authenticator: lock-out with doubling back-off,
//! coarse refusals towards the person, precise reasons in the trace.

use super::*;

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

impl Identity {
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

    /// Refuses, before any account is looked at, an address past its allowance of
    /// failed attempts (credential stuffing, password spraying, code guessing), so
    /// that its guesses neither succeed nor lock their victims' accounts. Traced.
    pub(crate) async fn refuse_exhausted_source(
        &self,
        kind: EventKind,
        source: &Source,
    ) -> IdentityResult<()> {
        if !self.attempts.exhausted(source.ip, self.now()) {
            return Ok(());
        }
        self.trace(
            kind,
            Actor::default(),
            Action::Execute,
            None,
            source,
            Outcome::Denied(Token::code("address_throttled")),
        )
        .await?;
        Err(IdentityError::TooManyAttempts)
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
        self.refuse_exhausted_source(EventKind::IdentityLoginFailed, source)
            .await?;
        let found = self
            .find_by_login(login.login)
            .await?
            .filter(|(a, _)| a.quality == login.quality);
        let Some((mut account, version)) = found else {
            secrets::burn_password_time(login.password);
            self.attempts.failed(source.ip, self.now());
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
            self.attempts.failed(source.ip, self.now());
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
}
