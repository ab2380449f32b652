//! Activation (ACC-1): the letter's one-time code with the person's national number,
//! then a password and an authenticator (or a card, or a passkey).

use super::*;

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

impl Identity {
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
        self.refuse_exhausted_source(EventKind::IdentityActivationFailed, source)
            .await?;
        let Some((mut account, version)) = self.find_by_login(proof.login).await? else {
            self.attempts.failed(source.ip, self.now());
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
        self.attempts.failed(source.ip, self.now());
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
}
