//! Qualities of users, levels of assurance, credential kinds and services.
//!
//! These names are recorded in the audit trail and carried in tokens, so their
//! string forms are stable: changing one is a data migration.

use serde::{Deserialize, Serialize};

/// The quality in which a person acts (PLT-1, PLT-3). A session carries exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    Patient,
    Professional,
    Agent,
}

impl Quality {
    /// The stable name recorded in traces and tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Patient => "patient",
            Quality::Professional => "professional",
            Quality::Agent => "agent",
        }
    }
}

/// Level of assurance of an authentication (ACC-2, ACC-5), ordered from weakest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelOfAssurance {
    Low,
    Substantial,
    High,
}

impl LevelOfAssurance {
    /// The stable name recorded in traces and tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            LevelOfAssurance::Low => "low",
            LevelOfAssurance::Substantial => "substantial",
            LevelOfAssurance::High => "high",
        }
    }
}

/// The kind of credential used to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    ClientCertificate,
    WebAuthn,
    PasswordTotp,
    Password,
    ApplicationPassword,
    /// An establishment's system acting for its authenticated staff member (ACC-3).
    SystemAssertion,
}

impl CredentialKind {
    /// The stable name recorded in traces and tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::ClientCertificate => "client_certificate",
            CredentialKind::WebAuthn => "webauthn",
            CredentialKind::PasswordTotp => "password_totp",
            CredentialKind::Password => "password",
            CredentialKind::ApplicationPassword => "application_password",
            CredentialKind::SystemAssertion => "system_assertion",
        }
    }
}

/// The platform functions and services that record traces (SVC-1..4, PLT-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Platform functions: server, storage, key management, audit itself.
    Platform,
    Directory,
    Identity,
    Portal,
    Messaging,
    Dsp,
    Referent,
}

impl Service {
    /// The stable name recorded in traces.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Platform => "platform",
            Service::Directory => "directory",
            Service::Identity => "identity",
            Service::Portal => "portal",
            Service::Messaging => "messaging",
            Service::Dsp => "dsp",
            Service::Referent => "referent",
        }
    }

    /// Parses the stable name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "platform" => Service::Platform,
            "directory" => Service::Directory,
            "identity" => Service::Identity,
            "portal" => Service::Portal,
            "messaging" => Service::Messaging,
            "dsp" => Service::Dsp,
            "referent" => Service::Referent,
            _ => return None,
        })
    }
}
