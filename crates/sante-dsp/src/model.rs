//! What the DSP keeps: the record of each holder, its documents, the care
//! relationships that let professionals in, the holder's controls, the access history
//! and the notices to the holder.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::category::DataCategory;

/// Where a DSP is in its life (DSP-4 to DSP-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// Created on affiliation; the information letter was sent. Professionals in care
    /// reach it only 30 days after the letter, unless the holder activates it (DSP-7).
    Created,
    /// Activated by the holder.
    Active,
    /// Closed: inaccessible and archived; reopenable within 10 years (DSP-9, DSP-10).
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosureReason {
    /// The holder closed it (DSP-9).
    Holder,
    /// Ten years without access (DSP-11).
    Inactivity,
    /// The holder's death was reported (DSP-11).
    Death,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closure {
    pub at: DateTime<Utc>,
    pub reason: ClosureReason,
}

/// The holder's restriction of one item from one professional (DSP-20).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restriction {
    pub item: String,
    pub professional: String,
    pub since: DateTime<Utc>,
}

/// A DSP assistant: another patient who manages the DSP with the holder's rights
/// (DSP-24).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assistant {
    /// The assistant's patient-directory identifier.
    pub patient: String,
    pub since: DateTime<Utc>,
    /// The assistant's name as the directory gave it when the holder named him, shown
    /// to the holder (the holder found him by name and national number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The holder's name at the appointment, shown to the assistant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_name: Option<String>,
}

/// The holder's choices (DSP-18 to DSP-24).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controls {
    /// Private level: professionals forbidden the whole DSP (DSP-19), by directory id.
    #[serde(default)]
    pub blocked: Vec<String>,
    /// Restricted level: items hidden from named professionals (DSP-20).
    #[serde(default)]
    pub restrictions: Vec<Restriction>,
    /// When the holder acknowledged the health risks of restricting access (DSP-21);
    /// restrictions apply only once acknowledged.
    #[serde(default)]
    pub risk_acknowledged: Option<DateTime<Utc>>,
    /// Care relationships during which the holder objects to filing (DSP-22).
    #[serde(default)]
    pub filing_objections: Vec<String>,
    #[serde(default)]
    pub assistants: Vec<Assistant>,
}

/// A referring doctor as the insurer declared him (DSP-15, REF-15).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferentDeclaration {
    pub professional: String,
    pub from: NaiveDate,
    #[serde(default)]
    pub until: Option<NaiveDate>,
}

/// One holder's shared care record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareRecord {
    /// The holder's patient-directory identifier; one DSP per person.
    pub holder: String,
    pub state: RecordState,
    pub created: DateTime<Utc>,
    /// When the information letter (DSP-5) was issued.
    pub letter_sent: DateTime<Utc>,
    #[serde(default)]
    pub activated: Option<DateTime<Utc>>,
    #[serde(default)]
    pub closure: Option<Closure>,
    /// The last access by anyone: ten years without one closes the DSP (DSP-11).
    pub last_access: DateTime<Utc>,
    /// Whether the organ-donation question was put at the first access (DSP-18).
    #[serde(default)]
    pub organ_donation_asked: bool,
    /// Whether the holder was told of the first professional access (DSP-8).
    #[serde(default)]
    pub first_professional_access: Option<DateTime<Utc>>,
    #[serde(default)]
    pub controls: Controls,
    #[serde(default)]
    pub referents: Vec<ReferentDeclaration>,
}

impl CareRecord {
    /// Whether `professional` is the holder's referring doctor on `day`.
    pub fn referent_on(&self, professional: &str, day: NaiveDate) -> bool {
        self.referents.iter().any(|r| {
            r.professional == professional && r.from <= day && r.until.is_none_or(|u| day <= u)
        })
    }

    /// Whether `patient` is one of the holder's assistants.
    pub fn has_assistant(&self, patient: &str) -> bool {
        self.controls
            .assistants
            .iter()
            .any(|a| a.patient == patient)
    }

    /// Whether `item` is hidden from `professional` (restricted level in force).
    pub fn hidden_from(&self, item: &str, professional: &str) -> bool {
        self.controls.risk_acknowledged.is_some()
            && self
                .controls
                .restrictions
                .iter()
                .any(|r| r.item == item && r.professional == professional)
    }
}

/// Confidentiality levels (DSP-32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidentiality {
    Public = 0,
    Internal = 1,
    Restricted = 2,
    Confidential = 3,
    MedicalSecret = 4,
}

impl Confidentiality {
    /// The HL7 v3 Confidentiality code closest to the level, for FHIR `securityLabel`.
    pub fn hl7_code(self) -> &'static str {
        match self {
            Confidentiality::Public => "U",
            Confidentiality::Internal => "L",
            Confidentiality::Restricted => "M",
            Confidentiality::Confidential => "R",
            Confidentiality::MedicalSecret => "V",
        }
    }

    pub fn from_hl7(code: &str) -> Option<Confidentiality> {
        Some(match code {
            "U" => Confidentiality::Public,
            "L" => Confidentiality::Internal,
            "M" | "N" => Confidentiality::Restricted,
            "R" => Confidentiality::Confidential,
            "V" => Confidentiality::MedicalSecret,
            _ => return None,
        })
    }
}

/// An item's version status (XDS availability).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Current,
    /// Replaced by a newer version (XDS RPLC).
    Superseded,
    /// Withdrawn by its author or the operator (DSP-23); kept, not shown by default.
    Deprecated,
}

impl ItemStatus {
    pub fn code(self) -> &'static str {
        match self {
            ItemStatus::Current => "current",
            ItemStatus::Superseded => "superseded",
            ItemStatus::Deprecated => "entered-in-error",
        }
    }
}

/// Who wrote an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Author {
    Professional {
        professional: String,
        #[serde(default)]
        establishment: Option<String>,
    },
    /// The holder (personal space), or his assistant for him.
    Holder,
    /// The insurer (REF-17) or the platform (traces dashboard).
    System { name: String },
}

/// One document of a DSP: its metadata (XDS semantics) and its content in the
/// encrypted blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    /// The holder.
    pub record: String,
    pub category: DataCategory,
    pub type_system: String,
    pub type_code: String,
    pub type_display: String,
    pub title: String,
    pub mime_type: String,
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    pub author: Author,
    /// The account that filed it (the person, never a shared login).
    pub filed_by: String,
    pub filed_at: DateTime<Utc>,
    /// When the care it documents happened, when known.
    #[serde(default)]
    pub service_date: Option<NaiveDate>,
    pub confidentiality: Confidentiality,
    pub status: ItemStatus,
    #[serde(default)]
    pub replaces: Option<String>,
    #[serde(default)]
    pub replaced_by: Option<String>,
    /// The submission set (ITI-65 List) it came in.
    pub submission_set: String,
    /// The end of its 10-year retention (DSP-12) unless the holder agreed to keep it.
    pub retention_until: DateTime<Utc>,
    #[serde(default)]
    pub keep_agreed: Option<DateTime<Utc>>,
    /// The care relationship it was filed under.
    #[serde(default)]
    pub relationship: Option<String>,
    /// The sending system's identifier of the document (XDS uniqueId), when given.
    #[serde(default)]
    pub master_identifier: Option<String>,
}

/// How a care relationship began (DSP-14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CareKind {
    /// The holder gave the professional an access code in a consultation: 15 days.
    Consultation,
    /// Non-emergency care in an establishment: 45 days, renewable by at most 30 while
    /// the stay lasts.
    Admission,
    /// Registration at an emergency department: 24 hours + 15 days.
    Emergency,
}

impl CareKind {
    pub fn code(self) -> &'static str {
        match self {
            CareKind::Consultation => "consultation",
            CareKind::Admission => "admission",
            CareKind::Emergency => "emergency",
        }
    }
}

/// A time-boxed grant of access to one DSP (DSP-13, DSP-14): to one professional
/// (consultation) or to an establishment's staff through its system (admission,
/// emergency).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareRelationship {
    pub id: String,
    pub record: String,
    pub kind: CareKind,
    /// The professional of a consultation.
    #[serde(default)]
    pub professional: Option<String>,
    /// The establishment of an admission or an emergency.
    #[serde(default)]
    pub establishment: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Renewals of an admission so far.
    #[serde(default)]
    pub renewals: u32,
    /// When the stay ended (no renewal after it), for admissions.
    #[serde(default)]
    pub stay_ended: Option<DateTime<Utc>>,
    /// Ended early: the professional's authorisation was withdrawn (DSP-16).
    #[serde(default)]
    pub revoked: Option<DateTime<Utc>>,
}

impl CareRelationship {
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.revoked.is_none() && self.start <= now && now < self.end
    }
}

/// What happened on a DSP, as the holder sees it in his access history (DSP-27,
/// DSP-28): who (the individual person, his role, his establishment, the system he
/// went through, the assistant acting for the holder), when, which item, what action,
/// and whether it was allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    /// The account that acted.
    pub account: String,
    /// `holder`, `assistant`, the professional category, or `patient`/`agent`.
    pub role: String,
    /// The professional's directory identifier, when a professional.
    #[serde(default)]
    pub professional: Option<String>,
    #[serde(default)]
    pub establishment: Option<String>,
    #[serde(default)]
    pub system: Option<String>,
    pub action: String,
    #[serde(default)]
    pub item: Option<String>,
    /// `permit`, or the refusal's reason.
    pub outcome: String,
}

/// A notice to the holder (DSP-8, DSP-16), shown in his portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub id: String,
    pub record: String,
    pub at: DateTime<Utc>,
    pub kind: NoticeKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NoticeKind {
    /// A professional accessed the DSP for the first time (DSP-8).
    FirstProfessionalAccess { professional: String },
    /// A professional with rights on the DSP lost his authorisation to practise; his
    /// rights were removed (DSP-16).
    ProfessionalWithdrawn { professional: String },
    /// The DSP was closed by the platform (inactivity).
    Closed,
}

/// The holder's request that a professional file a datum, due in 15 days (DSP-25).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilingRequest {
    pub id: String,
    pub record: String,
    pub professional: String,
    pub what: String,
    pub asked: DateTime<Utc>,
    pub due: DateTime<Utc>,
    #[serde(default)]
    pub fulfilled: Option<DateTime<Utc>>,
}
