//! Accounts: one per person and quality (PLT-4), created with an activation letter or
//! for an agent, found by login or by directory entry, listed with their credentials,
//! closed when the quality is lost.

use super::*;

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

/// A credential as its holder sees it listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSummary {
    pub id: String,
    pub kind: CredentialKind,
    pub label: String,
    pub created: DateTime<Utc>,
}

/// One of a person's accounts as he sees it in "my data" (PRV-1): no secret, no code,
/// not the link between his accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    pub login: String,
    pub quality: Quality,
    pub state: AccountStatus,
    pub email: Option<String>,
    pub created: DateTime<Utc>,
    pub failed_logins: u32,
    pub locked_until: Option<DateTime<Utc>>,
    /// The kinds of credentials it holds now.
    pub credentials: Vec<CredentialKind>,
}

/// Where an account stands, as its holder is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// Waits for activation with the letter's code until then.
    Pending {
        expires: DateTime<Utc>,
    },
    Active,
    Blocked {
        since: DateTime<Utc>,
    },
    Closed {
        since: DateTime<Utc>,
    },
}

pub(crate) fn normalise_login(login: &str) -> String {
    login.trim().to_ascii_uppercase()
}

pub(super) fn nin_hash(national_id: &str) -> String {
    let digits: String = national_id.chars().filter(char::is_ascii_digit).collect();
    secrets::sha256_hex(&format!("sante-person:{digits}"))
}

pub(super) fn account_terms(a: &Account) -> Vec<Term> {
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
pub(super) fn new_login(quality: Quality) -> String {
    let code = secrets::activation_code();
    let prefix = match quality {
        Quality::Patient => 'P',
        Quality::Professional => 'H',
        Quality::Agent => 'A',
    };
    format!("{prefix}-{}", &code[..9])
}

impl Identity {
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
    pub(super) async fn insert(
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

    /// Every account of the person behind `who`, in each quality, for his own view of
    /// his data (PRV-1): the activation code's hash and every secret stay inside.
    pub async fn accounts_of_person(
        &self,
        who: &Authenticated,
    ) -> IdentityResult<Vec<AccountSummary>> {
        let mut out: Vec<AccountSummary> = self
            .person_accounts(who)
            .await?
            .into_iter()
            .map(|a| AccountSummary {
                credentials: a
                    .credentials
                    .iter()
                    .filter(|c| c.is_active())
                    .map(|c| c.secret.kind())
                    .collect(),
                state: match a.state {
                    AccountState::Pending { expires, .. } => AccountStatus::Pending { expires },
                    AccountState::Active => AccountStatus::Active,
                    AccountState::Blocked { since, .. } => AccountStatus::Blocked { since },
                    AccountState::Closed { since } => AccountStatus::Closed { since },
                },
                login: a.login,
                quality: a.quality,
                email: a.email,
                created: a.created,
                failed_logins: a.failed_logins,
                locked_until: a.locked_until,
            })
            .collect();
        out.sort_by_key(|a| a.quality.as_str());
        Ok(out)
    }

    /// The qualities in which the person behind `who` also holds an account, so the
    /// portal can offer to log in with them; the link itself stays inside.
    pub async fn other_qualities(&self, who: &Authenticated) -> IdentityResult<Vec<Quality>> {
        let mut out: Vec<Quality> = self
            .person_accounts(who)
            .await?
            .into_iter()
            .filter(|a| a.id != who.account)
            .map(|a| a.quality)
            .collect();
        out.sort_by_key(|q| q.as_str());
        Ok(out)
    }

    /// The accounts of the person behind `who` (one per quality, at most a few).
    async fn person_accounts(&self, who: &Authenticated) -> IdentityResult<Vec<Account>> {
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
        Ok(self
            .db
            .get_many(ACCOUNTS, &keys)
            .await?
            .iter()
            .filter_map(|r| serde_json::from_slice::<Account>(&r.value).ok())
            .collect())
    }
}
