//! Passkeys and security keys (WebAuthn, with user verification: high assurance).
//!
//! Each use is a two-step ceremony: the platform issues a challenge, the browser has
//! the authenticator sign it, the platform checks the answer. What the platform must
//! remember between the steps (the challenge, the account) is stored as a ceremony
//! record that lives five minutes and serves once, so that any server instance can
//! finish what another began.
//!
//! The browser's messages are taken and given as JSON (`serde_json::Value`) so that the
//! front end needs no WebAuthn types.

use chrono::{DateTime, Duration, Utc};
use sante_audit::{EventKind, Source};
use sante_store::{Expect, TermQuery};
use sante_types::{CredentialKind, LevelOfAssurance, Quality};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
};
use zeroize::Zeroizing;

use super::{ActivationProof, Identity, IdentityError, IdentityResult, NewSession, actor_of};
use crate::model::{Account, Authenticated, Secret};
use crate::secrets;

/// Ceremonies in progress.
pub const CEREMONIES: &str = "idn-ceremony";
const CEREMONY_MINUTES: i64 = 5;

/// A challenge for the browser, and the ceremony that will check its answer.
#[derive(Debug, Clone)]
pub struct PasskeyChallenge {
    /// The ceremony's id, to give back with the answer.
    pub ceremony: String,
    /// The options for `navigator.credentials.create()` or `.get()`.
    pub options: serde_json::Value,
}

/// What a ceremony remembers between its two steps.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "purpose")]
enum Purpose {
    /// Activation of a pending account: the letter's code was checked at the first
    /// step; the second checks it is still the same letter.
    Activation {
        account: String,
        code_sha256: String,
        email: String,
        state: PasskeyRegistration,
    },
    /// A passkey added to the account of a logged-in holder.
    Enrolment {
        account: String,
        session: String,
        state: PasskeyRegistration,
    },
    Login {
        account: String,
        state: PasskeyAuthentication,
    },
}

/// A stored ceremony.
#[derive(Debug, Serialize, Deserialize)]
pub struct Ceremony {
    purpose: Purpose,
    expires: DateTime<Utc>,
}

fn json<T: Serialize>(value: &T) -> IdentityResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| IdentityError::Invalid(e.to_string()))
}

fn webauthn_refused(e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Invalid(format!("the authenticator's answer was refused: {e}"))
}

fn label(text: &str) -> String {
    let text: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(40)
        .collect();
    if text.is_empty() {
        "passkey".to_owned()
    } else {
        text
    }
}

fn user_id(account: &Account) -> IdentityResult<uuid::Uuid> {
    uuid::Uuid::parse_str(&account.id)
        .map_err(|_| IdentityError::from(sante_audit::PlatformError::corrupt(account.id.clone())))
}

impl Identity {
    async fn store_ceremony(&self, purpose: Purpose) -> IdentityResult<String> {
        let id = secrets::random_token();
        let ceremony = Ceremony {
            purpose,
            expires: self.now() + Duration::minutes(CEREMONY_MINUTES),
        };
        let value = serde_json::to_vec(&ceremony)
            .map_err(|_| IdentityError::from(sante_audit::PlatformError::corrupt("ceremony")))?;
        self.db()
            .put(
                CEREMONIES,
                &secrets::sha256_hex(&id),
                &value,
                Expect::Absent,
                self.micros(),
            )
            .await?;
        Ok(id.to_string())
    }

    /// Takes a ceremony (it serves once); an unknown or expired one is refused.
    async fn take_ceremony(&self, id: &str) -> IdentityResult<Purpose> {
        let key = secrets::sha256_hex(id);
        let Some(record) = self.db().get(CEREMONIES, &key).await? else {
            return Err(IdentityError::Invalid(
                "this passkey request is unknown or expired: start again".into(),
            ));
        };
        self.db()
            .delete(CEREMONIES, &key, Expect::Version(record.version))
            .await?;
        let ceremony: Ceremony = serde_json::from_slice(&record.value)
            .map_err(|_| IdentityError::from(sante_audit::PlatformError::corrupt("ceremony")))?;
        if self.now() > ceremony.expires {
            return Err(IdentityError::Invalid(
                "this passkey request expired: start again".into(),
            ));
        }
        Ok(ceremony.purpose)
    }

    /// Deletes ceremonies left unfinished past their expiry. Returns how many.
    pub async fn purge_ceremonies(&self) -> IdentityResult<usize> {
        let now = self.now();
        let mut after: Option<String> = None;
        let mut purged = 0;
        // Bounded: 100 pages of 500 per call; the next call continues.
        for _ in 0..100 {
            let page = self.db().list(CEREMONIES, after.as_deref(), 500).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.key.clone());
            for record in &page {
                let expired = serde_json::from_slice::<Ceremony>(&record.value)
                    .map(|c| now > c.expires)
                    .unwrap_or(true);
                if expired {
                    self.db()
                        .delete(CEREMONIES, &record.key, Expect::Any)
                        .await?;
                    purged += 1;
                }
            }
        }
        Ok(purged)
    }

    fn passkeys(account: &Account) -> Vec<webauthn_rs::prelude::Passkey> {
        account
            .active(CredentialKind::WebAuthn)
            .filter_map(|c| match &c.secret {
                Secret::Passkey { passkey, .. } => Some((**passkey).clone()),
                _ => None,
            })
            .collect()
    }

    fn registration(
        &self,
        account: &Account,
    ) -> IdentityResult<(serde_json::Value, PasskeyRegistration)> {
        let exclude: Vec<_> = Self::passkeys(account)
            .iter()
            .map(|p| p.cred_id().clone())
            .collect();
        let (options, state) = self
            .webauthn()?
            .start_passkey_registration(
                user_id(account)?,
                &account.login,
                &account.login,
                (!exclude.is_empty()).then_some(exclude),
            )
            .map_err(webauthn_refused)?;
        Ok((json(&options)?, state))
    }

    /// Checks a registration answer and makes the passkey credential; a passkey
    /// already registered to any account is refused.
    async fn registered_passkey(
        &self,
        answer: &serde_json::Value,
        state: &PasskeyRegistration,
        label_text: &str,
    ) -> IdentityResult<Secret> {
        let answer: RegisterPublicKeyCredential = serde_json::from_value(answer.clone())
            .map_err(|e| IdentityError::Invalid(format!("not a WebAuthn registration: {e}")))?;
        let passkey = self
            .webauthn()?
            .finish_passkey_registration(&answer, state)
            .map_err(webauthn_refused)?;
        let taken = self
            .find_one(TermQuery::exact(
                "passkey",
                hex::encode::<&[u8]>(passkey.cred_id().as_ref()),
            ))
            .await?;
        if taken.is_some() {
            return Err(IdentityError::Conflict(
                "this passkey is already registered".into(),
            ));
        }
        Ok(Secret::Passkey {
            passkey: Box::new(passkey),
            label: label(label_text),
        })
    }

    /// First step of an activation with a passkey: checks the letter's code (a wrong
    /// one counts as a failure, as in any activation) and returns the registration
    /// challenge.
    pub async fn begin_passkey_activation(
        &self,
        proof: &ActivationProof<'_>,
        source: &Source,
    ) -> IdentityResult<PasskeyChallenge> {
        self.webauthn()?;
        let (account, _) = self.check_activation(proof, source).await?;
        if account.quality == Quality::Agent {
            return Err(IdentityError::Invalid(
                "agents' accounts are activated by an administrator".into(),
            ));
        }
        let crate::model::AccountState::Pending { code_sha256, .. } = &account.state else {
            return Err(IdentityError::BadActivation);
        };
        let (options, state) = self.registration(&account)?;
        let ceremony = self
            .store_ceremony(Purpose::Activation {
                account: account.id.clone(),
                code_sha256: code_sha256.clone(),
                email: proof.email.trim().to_owned(),
                state,
            })
            .await?;
        Ok(PasskeyChallenge { ceremony, options })
    }

    /// Second step: the authenticator's answer. The account becomes active with the
    /// passkey as its credential.
    pub async fn finish_passkey_activation(
        &self,
        ceremony: &str,
        answer: &serde_json::Value,
        label_text: &str,
        source: &Source,
    ) -> IdentityResult<Account> {
        let Purpose::Activation {
            account,
            code_sha256,
            email,
            state,
        } = self.take_ceremony(ceremony).await?
        else {
            return Err(IdentityError::Invalid("not an activation".into()));
        };
        let (account, version) = self
            .load(&account)
            .await?
            .ok_or_else(|| IdentityError::NotFound("account".into()))?;
        // Still pending with the same letter: the code was not used meanwhile.
        match &account.state {
            crate::model::AccountState::Pending {
                code_sha256: now, ..
            } if secrets::same(now, &code_sha256) => {}
            _ => {
                self.fail_activation(&account, "not_pending", source)
                    .await?;
                return Err(IdentityError::BadActivation);
            }
        }
        let secret = match self.registered_passkey(answer, &state, label_text).await {
            Ok(secret) => secret,
            Err(e) => {
                self.fail_activation(&account, "passkey_refused", source)
                    .await?;
                return Err(e);
            }
        };
        let credentials = vec![self.credential(secret)];
        self.complete_activation(account, version, &email, credentials, source)
            .await
    }

    /// First step of adding a passkey to one's account (from a session of at least
    /// substantial assurance).
    pub async fn begin_passkey_enrolment(
        &self,
        who: &Authenticated,
    ) -> IdentityResult<PasskeyChallenge> {
        if who.assurance < LevelOfAssurance::Substantial {
            return Err(IdentityError::Invalid(
                "adding a passkey needs a login with a second factor".into(),
            ));
        }
        let account = self.account(&who.account).await?;
        let (options, state) = self.registration(&account)?;
        let ceremony = self
            .store_ceremony(Purpose::Enrolment {
                account: account.id.clone(),
                session: who.session.clone(),
                state,
            })
            .await?;
        Ok(PasskeyChallenge { ceremony, options })
    }

    /// Second step: the passkey is added to the account.
    pub async fn finish_passkey_enrolment(
        &self,
        who: &Authenticated,
        ceremony: &str,
        answer: &serde_json::Value,
        label_text: &str,
        source: &Source,
    ) -> IdentityResult<()> {
        let Purpose::Enrolment {
            account,
            session,
            state,
        } = self.take_ceremony(ceremony).await?
        else {
            return Err(IdentityError::Invalid("not an enrolment".into()));
        };
        if account != who.account || session != who.session {
            return Err(IdentityError::Invalid(
                "this passkey request belongs to another session".into(),
            ));
        }
        let secret = self.registered_passkey(answer, &state, label_text).await?;
        let (mut account, version) = self
            .load(&account)
            .await?
            .ok_or_else(|| IdentityError::NotFound("account".into()))?;
        account.credentials.push(self.credential(secret));
        self.save_indexed(&account, version).await?;
        self.trace_update(
            EventKind::IdentityCredentialAdded,
            actor_of(who),
            &who.account,
            source,
        )
        .await
    }

    /// First step of a login with a passkey: the login name and quality, then the
    /// challenge for the account's passkeys.
    pub async fn begin_passkey_login(
        &self,
        login: &str,
        quality: Quality,
        source: &Source,
    ) -> IdentityResult<PasskeyChallenge> {
        let webauthn = self.webauthn()?;
        let found = self
            .find_by_login(login)
            .await?
            .filter(|(a, _)| a.quality == quality);
        let Some((account, _)) = found else {
            return Err(self.unknown_login(Some(quality), source).await?);
        };
        if let Some((code, error)) = self.login_refusal(&account, source) {
            self.deny_login(&account, code, source).await?;
            return Err(error);
        }
        let passkeys = Self::passkeys(&account);
        if passkeys.is_empty() {
            self.deny_login(&account, "no_passkey", source).await?;
            return Err(IdentityError::BadCredentials);
        }
        let (options, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(webauthn_refused)?;
        let ceremony = self
            .store_ceremony(Purpose::Login {
                account: account.id.clone(),
                state,
            })
            .await?;
        Ok(PasskeyChallenge {
            ceremony,
            options: json(&options)?,
        })
    }

    /// Second step: the signed challenge. A wrong answer counts as a failed login.
    pub async fn finish_passkey_login(
        &self,
        ceremony: &str,
        answer: &serde_json::Value,
        client: &str,
        source: &Source,
    ) -> IdentityResult<(Zeroizing<String>, Authenticated)> {
        let Purpose::Login { account, state } = self.take_ceremony(ceremony).await? else {
            return Err(IdentityError::Invalid("not a login".into()));
        };
        let (mut account, version) = self
            .load(&account)
            .await?
            .ok_or_else(|| IdentityError::NotFound("account".into()))?;
        if let Some((code, error)) = self.login_refusal(&account, source) {
            self.deny_login(&account, code, source).await?;
            return Err(error);
        }
        let checked = serde_json::from_value::<PublicKeyCredential>(answer.clone())
            .ok()
            .and_then(|answer| {
                self.webauthn()
                    .ok()?
                    .finish_passkey_authentication(&answer, &state)
                    .ok()
            });
        let Some(result) = checked.filter(|r| r.user_verified()) else {
            return Err(self.login_failed(account, version, source).await?);
        };
        let mut used = None;
        for c in account.credentials.iter_mut().filter(|c| c.is_active()) {
            if let Secret::Passkey { passkey, .. } = &mut c.secret
                && passkey.cred_id() == result.cred_id()
            {
                // The signature counter moves on, so a cloned key shows.
                passkey.update_credential(&result);
                used = Some(c.id.clone());
            }
        }
        let Some(credential_id) = used else {
            // Revoked between the two steps.
            self.deny_login(&account, "credential_revoked", source)
                .await?;
            return Err(IdentityError::CredentialRevoked);
        };
        self.check_method_change(&account, source).await?;
        self.open_session(
            account,
            version,
            NewSession {
                assurance: LevelOfAssurance::High,
                credential: CredentialKind::WebAuthn,
                credential_ids: vec![credential_id],
                client,
            },
            source,
        )
        .await
    }
}
