//! Accounts, credentials and sessions as stored.
//!
//! One account per person and quality (PLT-3): a person who is patient and
//! professional has two accounts, each with its own credentials, sessions and life
//! cycle. The accounts of one person share an internal `person` link, used by the
//! platform alone (to say "you also hold a professional account") and never put in a
//! token or a trace.

use chrono::{DateTime, Utc};
use sante_types::{CredentialKind, LevelOfAssurance, Quality};
use serde::{Deserialize, Serialize};

/// Where an account is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum AccountState {
    /// Created; waits for its holder to activate it with the letter's code (ACC-1).
    Pending {
        /// SHA-256 of the normalised activation code.
        code_sha256: String,
        expires: DateTime<Utc>,
        /// Wrong codes typed so far: the code dies after a few.
        failures: u32,
    },
    Active,
    /// Blocked by an administrator (ACC-7) or for want of switching connection method
    /// (ACC-6); the reason is a code.
    Blocked {
        reason: String,
        since: DateTime<Utc>,
    },
    /// The quality was lost (PLT-4): the account of that quality only is closed.
    Closed {
        since: DateTime<Utc>,
    },
}

/// The secret part of a credential.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Secret {
    /// Argon2id PHC string.
    Password { phc: String },
    /// Base32 seed of an RFC 6238 authenticator, and the last time step accepted (a
    /// code is good once).
    Totp { seed: String, last_step: u64 },
    /// An X.509 certificate bound at activation (the qualified card, ACC-2): the
    /// certificate itself is the key, the TLS layer proves its private key.
    Certificate {
        /// SHA-256 of the certificate's DER, hex.
        sha256: String,
        /// Issuer and serial, as revocation lists name it.
        revocation_key: String,
        /// The subject's name, shown to the holder.
        subject: String,
        not_after: DateTime<Utc>,
    },
    /// A WebAuthn passkey or security key with user verification.
    Passkey {
        passkey: Box<webauthn_rs::prelude::Passkey>,
        /// The holder's name for it ("phone", "YubiKey").
        label: String,
    },
    /// A per-device password for a mail program (ACC-2, messaging), 128 random bits:
    /// SHA-256 is enough to store it, and quick enough for every IMAP login.
    ApplicationPassword {
        sha256: String,
        label: String,
        /// The only service it opens.
        service: sante_types::Service,
    },
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Password { .. } => f.write_str("Password(..)"),
            Secret::Totp { .. } => f.write_str("Totp(..)"),
            Secret::Certificate { subject, .. } => write!(f, "Certificate({subject})"),
            Secret::Passkey { label, .. } => write!(f, "Passkey({label})"),
            Secret::ApplicationPassword { label, .. } => {
                write!(f, "ApplicationPassword({label})")
            }
        }
    }
}

impl Secret {
    /// The connection method this credential is.
    pub fn kind(&self) -> CredentialKind {
        match self {
            Secret::Password { .. } => CredentialKind::Password,
            Secret::Totp { .. } => CredentialKind::PasswordTotp,
            Secret::Certificate { .. } => CredentialKind::ClientCertificate,
            Secret::Passkey { .. } => CredentialKind::WebAuthn,
            Secret::ApplicationPassword { .. } => CredentialKind::ApplicationPassword,
        }
    }
}

/// One credential of an account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credential {
    pub id: String,
    pub secret: Secret,
    pub created: DateTime<Utc>,
    /// Set when revoked (lost, stolen, replaced): refused from the next request on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<DateTime<Utc>>,
}

impl Credential {
    pub fn is_active(&self) -> bool {
        self.revoked.is_none()
    }
}

/// A connection method the operator requires the holder to switch to, by a date
/// (ACC-6). Past the deadline, an account without it is blocked at login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodChange {
    pub required: CredentialKind,
    pub deadline: DateTime<Utc>,
}

/// One account: a person in one quality.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    /// The login name printed on the activation letter (or given to an agent).
    pub login: String,
    pub quality: Quality,
    /// The directory entry of this quality (patient, professional or agent entry).
    pub subject: String,
    /// Internal link between the accounts of one person; never leaves the platform.
    pub person: String,
    /// SHA-256 of the person's national identification number (domain-separated),
    /// checked at activation; the number itself is the directory's, not kept here.
    pub national_id_sha256: String,
    pub state: AccountState,
    /// Personal e-mail given at activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub credentials: Vec<Credential>,
    /// Consecutive failed logins since the last success.
    #[serde(default)]
    pub failed_logins: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_change: Option<MethodChange>,
    pub created: DateTime<Utc>,
}

impl Account {
    pub fn password(&self) -> Option<(&Credential, &str)> {
        self.credentials.iter().find_map(|c| match &c.secret {
            Secret::Password { phc } if c.is_active() => Some((c, phc.as_str())),
            _ => None,
        })
    }

    pub fn totp(&self) -> Option<(&Credential, &str, u64)> {
        self.credentials.iter().find_map(|c| match &c.secret {
            Secret::Totp { seed, last_step } if c.is_active() => {
                Some((c, seed.as_str(), *last_step))
            }
            _ => None,
        })
    }

    /// The connection methods this account can use now.
    pub fn methods(&self) -> Vec<CredentialKind> {
        let mut out = Vec::new();
        match (self.password().is_some(), self.totp().is_some()) {
            (true, true) => out.push(CredentialKind::PasswordTotp),
            (true, false) => out.push(CredentialKind::Password),
            _ => {}
        }
        for kind in [CredentialKind::ClientCertificate, CredentialKind::WebAuthn] {
            if self
                .credentials
                .iter()
                .any(|c| c.is_active() && c.secret.kind() == kind)
            {
                out.push(kind);
            }
        }
        out
    }

    /// The active credentials of one kind.
    pub fn active(&self, kind: CredentialKind) -> impl Iterator<Item = &Credential> {
        self.credentials
            .iter()
            .filter(move |c| c.is_active() && c.secret.kind() == kind)
    }
}

/// A session: one account, one quality, one authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Public id (shown in the session list); the bearer secret is stored hashed as the
    /// record key and never kept.
    pub id: String,
    pub account: String,
    pub quality: Quality,
    pub assurance: LevelOfAssurance,
    pub credential: CredentialKind,
    /// The credentials the authentication used: revoking one ends the session.
    pub credential_ids: Vec<String>,
    pub created: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// A short description of the client (browser family), for the holder's list.
    pub client: String,
    /// The one service the session opens, when its credential is restricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<sante_types::Service>,
}

/// The timeouts of sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub idle: chrono::Duration,
    pub absolute: chrono::Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            idle: chrono::Duration::minutes(15),
            absolute: chrono::Duration::hours(8),
        }
    }
}

/// What a front end knows about the person behind a valid session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub session: String,
    pub account: String,
    pub login: String,
    pub subject: String,
    pub quality: Quality,
    pub assurance: LevelOfAssurance,
    pub credential: CredentialKind,
    /// The one service a restricted credential opens (an application password opens
    /// messaging only); `None`: any service the quality and level allow.
    pub scope: Option<sante_types::Service>,
}
