//! The typed audit event: who did what, to what, when, from where, with what outcome.
//!
//! Events carry identifiers and codes only, never health content nor secrets (PLT-6,
//! MSG-17). Every free-form field is a [`Token`]: a short string of letters, digits and
//! `._:-@/`, so a message body, a document or a password cannot be put in a trace by
//! mistake; the constructor refuses it.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sante_types::{CredentialKind, LevelOfAssurance, Quality, Service};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest token accepted in an event.
pub const MAX_TOKEN_LEN: usize = 128;

/// A short identifier or code: the only kind of free text an event may hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Token(String);

/// Why a string was refused as a [`Token`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit token refused: {0}")]
pub struct TokenError(&'static str);

impl sante_types::Coded for TokenError {
    fn code(&self) -> &'static str {
        "AUD010"
    }

    fn kind(&self) -> sante_types::ErrorKind {
        sante_types::ErrorKind::Invalid
    }
}

impl Token {
    /// `value` as a token, or `invalid` when it cannot be one (an identifier a client
    /// sent, which the trace must record without trusting).
    pub fn or_invalid(value: &str) -> Token {
        Token::new(value.to_owned()).unwrap_or_else(|_| Token::code("invalid"))
    }

    /// Accepts 1 to 128 characters among ASCII letters, digits and `._:-@/+=`.
    pub fn new(value: impl Into<String>) -> Result<Token, TokenError> {
        let value = value.into();
        if value.is_empty() {
            return Err(TokenError("empty"));
        }
        if value.len() > MAX_TOKEN_LEN {
            return Err(TokenError("longer than 128 bytes"));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-@/+=".contains(&b))
        {
            return Err(TokenError(
                "only letters, digits and ._:-@/+= are allowed (no free text in traces)",
            ));
        }
        Ok(Token(value))
    }

    /// A token from a code written in the source. An invalid code is a programming
    /// error; it is recorded as `invalid-code` rather than losing the event.
    pub fn code(value: &'static str) -> Token {
        Token::new(value).unwrap_or_else(|_| Token("invalid-code".to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Token {
    type Error = TokenError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Token::new(value)
    }
}

impl From<Token> for String {
    fn from(token: Token) -> String {
        token.0
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who acted. Every field is optional because some events have no authenticated
/// actor (a failed login, the platform itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The account or person identifier (never a name).
    pub person: Option<Token>,
    pub quality: Option<Quality>,
    pub credential: Option<CredentialKind>,
    pub assurance: Option<LevelOfAssurance>,
    /// The establishment's connecting system, when the access came through one (ACC-3).
    pub client_system: Option<Token>,
    pub establishment: Option<Token>,
    /// Set when someone acts for another (a DSP assistant acts for the holder).
    pub on_behalf_of: Option<Token>,
}

impl Actor {
    /// The platform itself (start-up, sealing, purges, key rotation).
    pub fn platform() -> Actor {
        Actor {
            person: Token::new("system").ok(),
            ..Actor::default()
        }
    }
}

/// The kind of action, as in FHIR AuditEvent.action (C, R, U, D, E).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
    Execute,
}

impl Action {
    /// The FHIR AuditEvent.action code.
    pub fn fhir_code(self) -> &'static str {
        match self {
            Action::Create => "C",
            Action::Read => "R",
            Action::Update => "U",
            Action::Delete => "D",
            Action::Execute => "E",
        }
    }
}

/// What the action touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    /// e.g. `DocumentReference`, `Mailbox`, `AuditEpoch`, `http-route`.
    pub kind: Token,
    pub id: Token,
}

/// Where the request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub ip: Option<IpAddr>,
    /// The request or session id, to join the trace with technical logs.
    pub request_id: Option<Token>,
    /// The front end the request came through: `https`, `smtp`, `imap`, `pop3`, `cli`.
    pub channel: Option<Token>,
}

/// How it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result", content = "code")]
pub enum Outcome {
    Success,
    /// Refused by an authorisation decision; the code names the reason.
    Denied(Token),
    /// Failed for another reason (bad input, internal error); the code names it.
    Failure(Token),
}

/// The catalogue of event kinds. Names follow `<Context><Noun><Verb>[Denied|Error]`;
/// the numeric ids are stable and never reused (see docs/specs/audit-events.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u16)]
pub enum EventKind {
    PlatformServerStarted = 1,
    PlatformServerStopped = 2,
    PlatformMigrationApplied = 3,
    PlatformMasterKeyRotated = 4,
    PlatformConfigLoaded = 5,
    PlatformMasterKeyRetired = 6,
    /// Records and search terms stored in clear by an older version were sealed.
    PlatformRecordsResealed = 7,
    AuditEpochSealed = 100,
    AuditEpochPurged = 101,
    AuditTrailVerified = 102,
    AuditTrailExported = 103,
    PortalPageViewed = 200,
    PortalFormRejected = 201,
    HttpRequestDenied = 202,
    /// A person read or downloaded what the platform processes about him (PRV-1).
    PortalPersonalDataRead = 203,
    StorageBlobWritten = 300,
    StorageBlobRead = 301,
    StorageBlobDeleted = 302,
    StorageBlobIntegrityError = 303,
    DirectoryRegisterImported = 400,
    DirectoryPatientRead = 401,
    DirectoryPatientSearched = 402,
    DirectoryPatientCreated = 403,
    DirectoryIdentityMerged = 404,
    DirectoryIdentityUnmerged = 405,
    DirectoryReviewDecided = 406,
    DirectoryAgentPurged = 407,
    DirectoryAccessDenied = 408,
    IdentityAccountCreated = 500,
    IdentityAccountActivated = 501,
    IdentityActivationFailed = 502,
    IdentityLoginSucceeded = 503,
    IdentityLoginFailed = 504,
    IdentityAccountLocked = 505,
    IdentitySessionEnded = 506,
    IdentitySessionRefused = 507,
    IdentityCredentialRevoked = 508,
    IdentityAccountBlocked = 509,
    IdentityAccountUnblocked = 510,
    IdentityMethodChangeRequired = 511,
    IdentityServiceDenied = 512,
    IdentityAccountClosed = 513,
    IdentityCredentialAdded = 514,
    IdentityTokenIssued = 515,
    IdentityTokenRevoked = 516,
    IdentityTokenRefused = 517,
    IdentityClientRegistered = 518,
    IdentityClientSuspended = 519,
    IdentitySigningKeyRotated = 520,
    IdentityRevocationListLoaded = 521,
    TermsPublished = 600,
    TermsAccepted = 601,
    TermsRequired = 602,
    DspRecordCreated = 700,
    DspRecordActivated = 701,
    DspRecordClosed = 702,
    DspRecordReopened = 703,
    DspRecordDeleted = 704,
    DspItemFiled = 705,
    DspItemRead = 706,
    DspSearched = 707,
    DspAccessDenied = 708,
    DspControlChanged = 709,
    DspRelationshipStarted = 710,
    DspRelationshipEnded = 711,
    DspItemDeprecated = 712,
    DspHistoryRead = 713,
    MessagingMailboxCreated = 800,
    MessagingMessageAccepted = 801,
    MessagingMessageRefused = 802,
    MessagingSessionOpened = 803,
    MessagingAccessDenied = 804,
    MessagingClosureRequested = 805,
    MessagingMailboxPurged = 806,
    MessagingQuotaNotified = 807,
    MessagingMessageRelayed = 808,
    MessagingDeliveryFailed = 809,
    MessagingMetadataPurged = 810,
    MessagingMessagesDeleted = 811,
    MessagingIndicatorsRead = 812,
}

impl EventKind {
    /// The stable numeric id.
    pub fn id(self) -> u16 {
        self as u16
    }

    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::PlatformServerStarted => "PlatformServerStarted",
            EventKind::PlatformServerStopped => "PlatformServerStopped",
            EventKind::PlatformMigrationApplied => "PlatformMigrationApplied",
            EventKind::PlatformMasterKeyRotated => "PlatformMasterKeyRotated",
            EventKind::PlatformConfigLoaded => "PlatformConfigLoaded",
            EventKind::PlatformMasterKeyRetired => "PlatformMasterKeyRetired",
            EventKind::PlatformRecordsResealed => "PlatformRecordsResealed",
            EventKind::AuditEpochSealed => "AuditEpochSealed",
            EventKind::AuditEpochPurged => "AuditEpochPurged",
            EventKind::AuditTrailVerified => "AuditTrailVerified",
            EventKind::AuditTrailExported => "AuditTrailExported",
            EventKind::PortalPageViewed => "PortalPageViewed",
            EventKind::PortalFormRejected => "PortalFormRejected",
            EventKind::HttpRequestDenied => "HttpRequestDenied",
            EventKind::PortalPersonalDataRead => "PortalPersonalDataRead",
            EventKind::StorageBlobWritten => "StorageBlobWritten",
            EventKind::StorageBlobRead => "StorageBlobRead",
            EventKind::StorageBlobDeleted => "StorageBlobDeleted",
            EventKind::StorageBlobIntegrityError => "StorageBlobIntegrityError",
            EventKind::DirectoryRegisterImported => "DirectoryRegisterImported",
            EventKind::DirectoryPatientRead => "DirectoryPatientRead",
            EventKind::DirectoryPatientSearched => "DirectoryPatientSearched",
            EventKind::DirectoryPatientCreated => "DirectoryPatientCreated",
            EventKind::DirectoryIdentityMerged => "DirectoryIdentityMerged",
            EventKind::DirectoryIdentityUnmerged => "DirectoryIdentityUnmerged",
            EventKind::DirectoryReviewDecided => "DirectoryReviewDecided",
            EventKind::DirectoryAgentPurged => "DirectoryAgentPurged",
            EventKind::DirectoryAccessDenied => "DirectoryAccessDenied",
            EventKind::IdentityAccountCreated => "IdentityAccountCreated",
            EventKind::IdentityAccountActivated => "IdentityAccountActivated",
            EventKind::IdentityActivationFailed => "IdentityActivationFailed",
            EventKind::IdentityLoginSucceeded => "IdentityLoginSucceeded",
            EventKind::IdentityLoginFailed => "IdentityLoginFailed",
            EventKind::IdentityAccountLocked => "IdentityAccountLocked",
            EventKind::IdentitySessionEnded => "IdentitySessionEnded",
            EventKind::IdentitySessionRefused => "IdentitySessionRefused",
            EventKind::IdentityCredentialRevoked => "IdentityCredentialRevoked",
            EventKind::IdentityAccountBlocked => "IdentityAccountBlocked",
            EventKind::IdentityAccountUnblocked => "IdentityAccountUnblocked",
            EventKind::IdentityMethodChangeRequired => "IdentityMethodChangeRequired",
            EventKind::IdentityServiceDenied => "IdentityServiceDenied",
            EventKind::IdentityAccountClosed => "IdentityAccountClosed",
            EventKind::IdentityCredentialAdded => "IdentityCredentialAdded",
            EventKind::IdentityTokenIssued => "IdentityTokenIssued",
            EventKind::IdentityTokenRevoked => "IdentityTokenRevoked",
            EventKind::IdentityTokenRefused => "IdentityTokenRefused",
            EventKind::IdentityClientRegistered => "IdentityClientRegistered",
            EventKind::IdentityClientSuspended => "IdentityClientSuspended",
            EventKind::IdentitySigningKeyRotated => "IdentitySigningKeyRotated",
            EventKind::IdentityRevocationListLoaded => "IdentityRevocationListLoaded",
            EventKind::TermsPublished => "TermsPublished",
            EventKind::TermsAccepted => "TermsAccepted",
            EventKind::TermsRequired => "TermsRequired",
            EventKind::DspRecordCreated => "DspRecordCreated",
            EventKind::DspRecordActivated => "DspRecordActivated",
            EventKind::DspRecordClosed => "DspRecordClosed",
            EventKind::DspRecordReopened => "DspRecordReopened",
            EventKind::DspRecordDeleted => "DspRecordDeleted",
            EventKind::DspItemFiled => "DspItemFiled",
            EventKind::DspItemRead => "DspItemRead",
            EventKind::DspSearched => "DspSearched",
            EventKind::DspAccessDenied => "DspAccessDenied",
            EventKind::DspControlChanged => "DspControlChanged",
            EventKind::DspRelationshipStarted => "DspRelationshipStarted",
            EventKind::DspRelationshipEnded => "DspRelationshipEnded",
            EventKind::DspItemDeprecated => "DspItemDeprecated",
            EventKind::DspHistoryRead => "DspHistoryRead",
            EventKind::MessagingMailboxCreated => "MessagingMailboxCreated",
            EventKind::MessagingMessageAccepted => "MessagingMessageAccepted",
            EventKind::MessagingMessageRefused => "MessagingMessageRefused",
            EventKind::MessagingSessionOpened => "MessagingSessionOpened",
            EventKind::MessagingAccessDenied => "MessagingAccessDenied",
            EventKind::MessagingClosureRequested => "MessagingClosureRequested",
            EventKind::MessagingMailboxPurged => "MessagingMailboxPurged",
            EventKind::MessagingQuotaNotified => "MessagingQuotaNotified",
            EventKind::MessagingMessageRelayed => "MessagingMessageRelayed",
            EventKind::MessagingDeliveryFailed => "MessagingDeliveryFailed",
            EventKind::MessagingMetadataPurged => "MessagingMetadataPurged",
            EventKind::MessagingMessagesDeleted => "MessagingMessagesDeleted",
            EventKind::MessagingIndicatorsRead => "MessagingIndicatorsRead",
        }
    }

    /// Every kind, for catalogues and tests.
    pub const ALL: &'static [EventKind] = &[
        EventKind::PlatformServerStarted,
        EventKind::PlatformServerStopped,
        EventKind::PlatformMigrationApplied,
        EventKind::PlatformMasterKeyRotated,
        EventKind::PlatformConfigLoaded,
        EventKind::PlatformMasterKeyRetired,
        EventKind::PlatformRecordsResealed,
        EventKind::AuditEpochSealed,
        EventKind::AuditEpochPurged,
        EventKind::AuditTrailVerified,
        EventKind::AuditTrailExported,
        EventKind::PortalPageViewed,
        EventKind::PortalFormRejected,
        EventKind::HttpRequestDenied,
        EventKind::PortalPersonalDataRead,
        EventKind::StorageBlobWritten,
        EventKind::StorageBlobRead,
        EventKind::StorageBlobDeleted,
        EventKind::StorageBlobIntegrityError,
        EventKind::DirectoryRegisterImported,
        EventKind::DirectoryPatientRead,
        EventKind::DirectoryPatientSearched,
        EventKind::DirectoryPatientCreated,
        EventKind::DirectoryIdentityMerged,
        EventKind::DirectoryIdentityUnmerged,
        EventKind::DirectoryReviewDecided,
        EventKind::DirectoryAgentPurged,
        EventKind::DirectoryAccessDenied,
        EventKind::IdentityAccountCreated,
        EventKind::IdentityAccountActivated,
        EventKind::IdentityActivationFailed,
        EventKind::IdentityLoginSucceeded,
        EventKind::IdentityLoginFailed,
        EventKind::IdentityAccountLocked,
        EventKind::IdentitySessionEnded,
        EventKind::IdentitySessionRefused,
        EventKind::IdentityCredentialRevoked,
        EventKind::IdentityAccountBlocked,
        EventKind::IdentityAccountUnblocked,
        EventKind::IdentityMethodChangeRequired,
        EventKind::IdentityServiceDenied,
        EventKind::IdentityAccountClosed,
        EventKind::IdentityCredentialAdded,
        EventKind::IdentityTokenIssued,
        EventKind::IdentityTokenRevoked,
        EventKind::IdentityTokenRefused,
        EventKind::IdentityClientRegistered,
        EventKind::IdentityClientSuspended,
        EventKind::IdentitySigningKeyRotated,
        EventKind::IdentityRevocationListLoaded,
        EventKind::TermsPublished,
        EventKind::TermsAccepted,
        EventKind::TermsRequired,
        EventKind::DspRecordCreated,
        EventKind::DspRecordActivated,
        EventKind::DspRecordClosed,
        EventKind::DspRecordReopened,
        EventKind::DspRecordDeleted,
        EventKind::DspItemFiled,
        EventKind::DspItemRead,
        EventKind::DspSearched,
        EventKind::DspAccessDenied,
        EventKind::DspControlChanged,
        EventKind::DspRelationshipStarted,
        EventKind::DspRelationshipEnded,
        EventKind::DspItemDeprecated,
        EventKind::DspHistoryRead,
        EventKind::MessagingMailboxCreated,
        EventKind::MessagingMessageAccepted,
        EventKind::MessagingMessageRefused,
        EventKind::MessagingSessionOpened,
        EventKind::MessagingAccessDenied,
        EventKind::MessagingClosureRequested,
        EventKind::MessagingMailboxPurged,
        EventKind::MessagingQuotaNotified,
        EventKind::MessagingMessageRelayed,
        EventKind::MessagingDeliveryFailed,
        EventKind::MessagingMetadataPurged,
        EventKind::MessagingMessagesDeleted,
        EventKind::MessagingIndicatorsRead,
    ];
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: Uuid,
    pub kind: EventKind,
    /// When it happened, from the injected clock.
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub service: Service,
    pub action: Action,
    pub resource: Option<ResourceRef>,
    /// The patient concerned, by identifier, when there is one.
    pub patient: Option<Token>,
    pub source: Source,
    pub outcome: Outcome,
}

impl AuditEvent {
    /// A successful event with no resource, patient or source; fill the rest with the
    /// builder methods.
    pub fn new(
        kind: EventKind,
        at: DateTime<Utc>,
        actor: Actor,
        service: Service,
        action: Action,
    ) -> AuditEvent {
        AuditEvent {
            id: Uuid::now_v7(),
            kind,
            at,
            actor,
            service,
            action,
            resource: None,
            patient: None,
            source: Source::default(),
            outcome: Outcome::Success,
        }
    }

    pub fn resource(mut self, kind: Token, id: Token) -> Self {
        self.resource = Some(ResourceRef { kind, id });
        self
    }

    /// The resource `kind` with identifier `id`. An identifier that cannot be a
    /// [`Token`] is recorded as `invalid`, never dropped: the trace still says what
    /// kind of resource was asked for.
    pub fn resource_id(self, kind: &'static str, id: &str) -> Self {
        self.resource(Token::code(kind), Token::or_invalid(id))
    }

    pub fn patient(mut self, patient: Token) -> Self {
        self.patient = Some(patient);
        self
    }

    pub fn source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// The retention stream this event belongs to: messaging traces are kept 12
    /// months, the others 13 (PLT-7), so they are chained and purged separately.
    pub fn stream(&self) -> Stream {
        match self.service {
            Service::Messaging => Stream::Messaging,
            _ => Stream::Platform,
        }
    }
}

/// A separately chained and separately purged sequence of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Platform,
    Messaging,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Platform => "platform",
            Stream::Messaging => "messaging",
        }
    }

    pub fn parse(name: &str) -> Option<Stream> {
        match name {
            "platform" => Some(Stream::Platform),
            "messaging" => Some(Stream::Messaging),
            _ => None,
        }
    }

    pub const ALL: [Stream; 2] = [Stream::Platform, Stream::Messaging];
}
