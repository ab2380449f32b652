//! Application passwords (ACC-2, MSG-4): a professional who logged in at high
//! assurance makes one per device for his mail programs. Each opens one service only
//! (messaging), is shown once, is stored as a hash, and is revoked on its own or with
//! every credential of the account (lost credentials, block).

use chrono::{DateTime, Utc};
use sante_audit::{Action, EventKind, Outcome, Source};
use sante_types::{CredentialKind, LevelOfAssurance, Service};
use zeroize::Zeroizing;

use super::{Identity, IdentityError, IdentityResult, actor_of, normalise_login};
use crate::model::{AccountState, Authenticated, Secret};
use crate::policy::minimum_assurance;
use crate::secrets;

/// How the session of a mail connection is named: this prefix and the credential id.
const APP_SESSION_PREFIX: &str = "app:";

/// At most this many application passwords per account.
const MAX_PER_ACCOUNT: usize = 20;

/// A new application password, shown once.
#[derive(Debug)]
pub struct NewAppPassword {
    pub id: String,
    pub label: String,
    pub password: Zeroizing<String>,
}

/// An application password as its holder sees it in his list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    pub id: String,
    pub label: String,
    pub service: Service,
    pub created: DateTime<Utc>,
}

impl Identity {
    /// Makes an application password opening `service` for the holder of `who`, who
    /// must have logged in at high assurance and be served by that service.
    pub async fn create_app_password(
        &self,
        who: &Authenticated,
        label: &str,
        service: Service,
        source: &Source,
    ) -> IdentityResult<NewAppPassword> {
        if who.assurance < LevelOfAssurance::High || who.scope.is_some() {
            return Err(IdentityError::Invalid(
                "application passwords are made after a login with a card or a passkey".into(),
            ));
        }
        if minimum_assurance(service, who.quality).is_none() || service != Service::Messaging {
            return Err(IdentityError::Invalid(
                "application passwords open secure messaging only, for professionals".into(),
            ));
        }
        let label: String = label
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(40)
            .collect();
        if label.is_empty() {
            return Err(IdentityError::Invalid(
                "name the device the password is for".into(),
            ));
        }
        let password = secrets::application_password();
        let secret = Secret::ApplicationPassword {
            sha256: secrets::sha256_hex(&secrets::normalise_code(&password)),
            label: label.clone(),
            service,
        };
        let credential = self.credential(secret);
        let id = credential.id.clone();
        self.update(&who.account, |a| {
            if a.active(CredentialKind::ApplicationPassword).count() >= MAX_PER_ACCOUNT {
                return Err(IdentityError::Invalid(format!(
                    "at most {MAX_PER_ACCOUNT} application passwords; revoke one first"
                )));
            }
            a.credentials.push(credential.clone());
            Ok(())
        })
        .await?;
        self.trace_update(
            EventKind::IdentityCredentialAdded,
            actor_of(who),
            &who.account,
            source,
        )
        .await?;
        Ok(NewAppPassword {
            id,
            label,
            password,
        })
    }

    /// The holder's application passwords still valid, oldest first.
    pub async fn app_passwords(&self, who: &Authenticated) -> IdentityResult<Vec<AppPassword>> {
        let account = self.account(&who.account).await?;
        Ok(account
            .active(CredentialKind::ApplicationPassword)
            .filter_map(|c| match &c.secret {
                Secret::ApplicationPassword { label, service, .. } => Some(AppPassword {
                    id: c.id.clone(),
                    label: label.clone(),
                    service: *service,
                    created: c.created,
                }),
                _ => None,
            })
            .collect())
    }

    /// Revokes one of the holder's application passwords.
    pub async fn revoke_app_password(
        &self,
        who: &Authenticated,
        id: &str,
        source: &Source,
    ) -> IdentityResult<()> {
        let account = self.account(&who.account).await?;
        if !account
            .active(CredentialKind::ApplicationPassword)
            .any(|c| c.id == id)
        {
            return Err(IdentityError::NotFound("application password".into()));
        }
        self.revoke_credential(actor_of(who), &who.account, Some(id), source)
            .await
    }

    /// Authenticates a mail program: the account's login name and one of its
    /// application passwords for `service`. Every attempt is traced; a wrong password
    /// counts towards the account's lock-out like any failed login. The result opens
    /// `service` only.
    pub async fn authenticate_app_password(
        &self,
        login: &str,
        password: &str,
        service: Service,
        source: &Source,
    ) -> IdentityResult<Authenticated> {
        let Some((account, version)) = self.find_by_login(login).await? else {
            return Err(self.unknown_login(None, source).await?);
        };
        if let Some((code, error)) = self.login_refusal(&account, source) {
            self.deny_login(&account, code, source).await?;
            return Err(error);
        }
        let typed = secrets::sha256_hex(&secrets::normalise_code(password));
        // Compared with every one in constant time: which one matched does not show.
        let mut matched = None;
        for c in account.active(CredentialKind::ApplicationPassword) {
            if let Secret::ApplicationPassword {
                sha256, service: s, ..
            } = &c.secret
                && secrets::same(sha256, &typed)
                && *s == service
            {
                matched = Some(c.id.clone());
            }
        }
        let Some(credential) = matched else {
            return Err(self.login_failed(account, version, source).await?);
        };
        if account.failed_logins > 0 {
            self.update(&account.id, |a| {
                a.failed_logins = 0;
                a.locked_until = None;
                Ok(())
            })
            .await?;
        }
        debug_assert!(matches!(account.state, AccountState::Active));
        let who = Authenticated {
            // A mail connection is its own session, named by the password it used.
            session: format!("{APP_SESSION_PREFIX}{credential}"),
            account: account.id.clone(),
            login: normalise_login(&account.login),
            subject: account.subject.clone(),
            quality: account.quality,
            assurance: LevelOfAssurance::High,
            credential: CredentialKind::ApplicationPassword,
            scope: Some(service),
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
        Ok(who)
    }

    /// Whether an application password authenticated earlier is still good now: the
    /// account active and the password not revoked. Long mail connections ask this
    /// before each command that reaches messages.
    pub async fn recheck_app_password(&self, who: &Authenticated) -> IdentityResult<()> {
        self.recheck_mail_credential(who).await
    }

    /// Whether a mail connection's credential (an application password, or a card
    /// certificate) is still good now: the account active and the credential not
    /// revoked.
    pub async fn recheck_mail_credential(&self, who: &Authenticated) -> IdentityResult<()> {
        let account = self.account(&who.account).await?;
        if !matches!(account.state, AccountState::Active) {
            return Err(IdentityError::SessionRefused("account_not_active"));
        }
        let (kind, credential) = if let Some(id) = who.session.strip_prefix(APP_SESSION_PREFIX) {
            (CredentialKind::ApplicationPassword, id)
        } else if let Some(id) = who
            .session
            .strip_prefix(super::certificate::CERT_SESSION_PREFIX)
        {
            (CredentialKind::ClientCertificate, id)
        } else {
            return Err(IdentityError::SessionRefused("not_a_mail_session"));
        };
        if !account.active(kind).any(|c| c.id == credential) {
            return Err(IdentityError::SessionRefused("credential_revoked"));
        }
        Ok(())
    }
}
