//! The entries of the reference directories: professionals and establishments (DIR-1),
//! patients (DIR-2), health agents (DIR-3), and the rules each entry must satisfy.
//!
//! Every quality a person holds is a separate entry with its own life cycle (PLT-3,
//! PLT-4): a professional entry, a patient entry and an agent entry of the same person
//! share only the national identification number, so ending one never touches the
//! others.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::nin::NationalId;
use sante_types::{Coded, ErrorKind};

/// Why an entry was refused, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidEntry {
    pub field: &'static str,
    pub reason: String,
}

impl Coded for InvalidEntry {
    fn code(&self) -> &'static str {
        "DIR020"
    }

    fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> InvalidEntry {
    InvalidEntry {
        field,
        reason: reason.into(),
    }
}

/// Directory identifiers: what appears in URLs and traces, so letters, digits and `-`
/// only, 1 to 64 characters.
pub fn check_id(field: &'static str, id: &str) -> Result<(), InvalidEntry> {
    if id.is_empty() || id.len() > 64 {
        return Err(invalid(field, "must be 1 to 64 characters"));
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(invalid(field, "only letters, digits and '-' are allowed"));
    }
    Ok(())
}

fn check_text(field: &'static str, text: &str, required: bool) -> Result<(), InvalidEntry> {
    if required && text.trim().is_empty() {
        return Err(invalid(field, "is required"));
    }
    if text.chars().count() > 200 {
        return Err(invalid(field, "is longer than 200 characters"));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Declares an enum with stable snake_case codes (stored, exchanged, traced).
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $code)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// Parses a stable code.
            pub fn parse(code: &str) -> Option<$name> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

coded_enum!(
    /// A regulated health profession, as the official register names it.
    Profession {
        Physician = "physician",
        Dentist = "dentist",
        MedicalPsychotherapist = "medical_psychotherapist",
        Pharmacist = "pharmacist",
        Nurse = "nurse",
        Physiotherapist = "physiotherapist",
        OccupationalTherapist = "occupational_therapist",
        Dietitian = "dietitian",
        SpeechTherapist = "speech_therapist",
        Orthoptist = "orthoptist",
        Osteopath = "osteopath",
        Podiatrist = "podiatrist",
        Psychotherapist = "psychotherapist",
        PsychomotorTherapist = "psychomotor_therapist",
        Midwife = "midwife",
        LaboratoryTechnician = "laboratory_technician",
        RadiologyTechnicalAssistant = "radiology_technical_assistant",
        CareAssistant = "care_assistant",
        SocialWorker = "social_worker",
        MedicalBiologist = "medical_biologist",
    }
);

coded_enum!(
    /// The professional categories of the DSP access matrix (dsp.md). The matrix has
    /// one more column, the referring doctor, which is a relationship between a
    /// physician and a holder, not a profession.
    AccessCategory {
        Physician = "physician",
        Pharmacist = "pharmacist",
        Nurse = "nurse",
        ExpertHealthProfessional = "expert_health_professional",
        Midwife = "midwife",
        LaboratoryTechnician = "laboratory_technician",
        RadiologyTechnicalAssistant = "radiology_technical_assistant",
        CareAssistant = "care_assistant",
        SocialWorker = "social_worker",
        MedicalBiologist = "medical_biologist",
    }
);

impl Profession {
    /// The profession's title in the country's languages, French (authoritative),
    /// German and English, as people read it: the register's own names.
    pub fn titles(self) -> [&'static str; 3] {
        use Profession as P;
        match self {
            P::Physician => ["Médecin", "Arzt", "Physician"],
            P::Dentist => ["Médecin-dentiste", "Zahnarzt", "Dentist"],
            P::MedicalPsychotherapist => [
                "Psychothérapeute médecin",
                "Ärztlicher Psychotherapeut",
                "Medical psychotherapist",
            ],
            P::Pharmacist => ["Pharmacien", "Apotheker", "Pharmacist"],
            P::Nurse => ["Infirmier", "Krankenpfleger", "Nurse"],
            P::Physiotherapist => [
                "Masseur-kinésithérapeute",
                "Physiotherapeut",
                "Physiotherapist",
            ],
            P::OccupationalTherapist => {
                ["Ergothérapeute", "Ergotherapeut", "Occupational therapist"]
            }
            P::Dietitian => ["Diététicien", "Diätassistent", "Dietitian"],
            P::SpeechTherapist => ["Orthophoniste", "Logopäde", "Speech therapist"],
            P::Orthoptist => ["Orthoptiste", "Orthoptist", "Orthoptist"],
            P::Osteopath => ["Ostéopathe", "Osteopath", "Osteopath"],
            P::Podiatrist => ["Podologue", "Podologe", "Podiatrist"],
            P::Psychotherapist => ["Psychothérapeute", "Psychotherapeut", "Psychotherapist"],
            P::PsychomotorTherapist => [
                "Psychomotricien",
                "Psychomotoriker",
                "Psychomotor therapist",
            ],
            P::Midwife => ["Sage-femme", "Hebamme", "Midwife"],
            P::LaboratoryTechnician => [
                "Laborantin",
                "Medizinisch-technischer Laborassistent",
                "Laboratory technician",
            ],
            P::RadiologyTechnicalAssistant => [
                "Assistant technique médical de radiologie",
                "Medizinisch-technischer Radiologieassistent",
                "Radiology technical assistant",
            ],
            P::CareAssistant => ["Aide-soignant", "Pflegehelfer", "Care assistant"],
            P::SocialWorker => ["Assistant social", "Sozialarbeiter", "Social worker"],
            P::MedicalBiologist => [
                "Médecin biologiste",
                "Facharzt für Laboratoriumsmedizin",
                "Medical biologist",
            ],
        }
    }

    /// The column of the DSP access matrix this profession falls in.
    pub fn access_category(self) -> AccessCategory {
        use Profession as P;
        match self {
            P::Physician | P::Dentist | P::MedicalPsychotherapist => AccessCategory::Physician,
            P::Pharmacist => AccessCategory::Pharmacist,
            P::Nurse => AccessCategory::Nurse,
            P::Physiotherapist
            | P::OccupationalTherapist
            | P::Dietitian
            | P::SpeechTherapist
            | P::Orthoptist
            | P::Osteopath
            | P::Podiatrist
            | P::Psychotherapist
            | P::PsychomotorTherapist => AccessCategory::ExpertHealthProfessional,
            P::Midwife => AccessCategory::Midwife,
            P::LaboratoryTechnician => AccessCategory::LaboratoryTechnician,
            P::RadiologyTechnicalAssistant => AccessCategory::RadiologyTechnicalAssistant,
            P::CareAssistant => AccessCategory::CareAssistant,
            P::SocialWorker => AccessCategory::SocialWorker,
            P::MedicalBiologist => AccessCategory::MedicalBiologist,
        }
    }
}

/// Specialities the register uses; an entry naming another code is refused.
pub const SPECIALITIES: &[&str] = &[
    "general_practice",
    "paediatrics",
    "internal_medicine",
    "cardiology",
    "dermatology",
    "gynaecology_obstetrics",
    "psychiatry",
    "radiology",
    "surgery",
    "anaesthesiology",
    "ophthalmology",
    "otorhinolaryngology",
    "neurology",
    "oncology",
    "geriatrics",
    "emergency_medicine",
    "orthodontics",
    "clinical_biology",
];

coded_enum!(
    /// Administrative sex, as in FHIR.
    Sex {
        Female = "female",
        Male = "male",
        Other = "other",
        Unknown = "unknown",
    }
);

impl Sex {
    /// Reads the codes registers use (`F`, `M`, `X`, FHIR codes).
    pub fn from_register(code: &str) -> Option<Sex> {
        match code.trim().to_ascii_lowercase().as_str() {
            "f" | "female" => Some(Sex::Female),
            "m" | "male" => Some(Sex::Male),
            "x" | "o" | "other" => Some(Sex::Other),
            "" | "u" | "unknown" => Some(Sex::Unknown),
            _ => None,
        }
    }
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Address {
    fn validate(&self) -> Result<(), InvalidEntry> {
        for line in &self.lines {
            check_text("address.line", line, true)?;
        }
        if let Some(p) = &self.postcode {
            check_text("address.postcode", p, true)?;
        }
        if let Some(t) = &self.town {
            check_text("address.town", t, true)?;
        }
        if let Some(c) = &self.country
            && (c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(invalid(
                "address.country",
                "must be an ISO 3166 alpha-2 code",
            ));
        }
        Ok(())
    }
}

/// Telephone and e-mail of a professional or establishment (public in the directory).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Contact {
    fn validate(&self) -> Result<(), InvalidEntry> {
        if let Some(p) = &self.phone
            && !p
                .chars()
                .all(|c| c.is_ascii_digit() || " +()-./".contains(c))
        {
            return Err(invalid("contact.phone", "is not a telephone number"));
        }
        if let Some(e) = &self.email {
            check_text("contact.email", e, true)?;
            let ok = e
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'));
            if !ok {
                return Err(invalid("contact.email", "is not an e-mail address"));
            }
        }
        Ok(())
    }
}

coded_enum!(
    /// Status of an authorisation to practise.
    AuthorisationStatus {
        Active = "active",
        /// Temporary withdrawal (suspension), until a date or until further notice.
        Suspended = "suspended",
        /// Definitive withdrawal.
        Withdrawn = "withdrawn",
    }
);

/// The authorisation to practise, as recorded in the official register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorisation {
    pub status: AuthorisationStatus,
    pub granted_on: NaiveDate,
    /// When the current status took effect.
    pub status_since: NaiveDate,
    /// End of a temporary withdrawal, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_until: Option<NaiveDate>,
}

impl Authorisation {
    /// Whether the professional may practise on `day`.
    pub fn in_force(&self, day: NaiveDate) -> bool {
        match self.status {
            AuthorisationStatus::Active => day >= self.granted_on,
            AuthorisationStatus::Suspended => self
                .suspended_until
                .is_some_and(|until| day > until && day >= self.granted_on),
            AuthorisationStatus::Withdrawn => false,
        }
    }

    fn validate(&self) -> Result<(), InvalidEntry> {
        if self.status_since < self.granted_on {
            return Err(invalid(
                "authorisation.status_since",
                "is before the authorisation was granted",
            ));
        }
        if self.suspended_until.is_some() && self.status != AuthorisationStatus::Suspended {
            return Err(invalid(
                "authorisation.suspended_until",
                "only a suspended authorisation has an end of suspension",
            ));
        }
        if let Some(until) = self.suspended_until
            && until < self.status_since
        {
            return Err(invalid(
                "authorisation.suspended_until",
                "is before the suspension started",
            ));
        }
        Ok(())
    }
}

/// A place where a professional practises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PracticeLocation {
    pub id: String,
    pub name: String,
    pub address: Address,
    #[serde(default)]
    pub contact: Contact,
}

/// A professional's affiliation with an establishment (and one of its sites).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affiliation {
    pub establishment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    pub start: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
}

impl Affiliation {
    pub fn active_on(&self, day: NaiveDate) -> bool {
        self.start <= day && self.end.is_none_or(|end| day <= end)
    }
}

/// A health professional (DIR-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Professional {
    /// The national professional identifier from the register.
    pub id: String,
    /// Links the person's qualities; never published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_id: Option<NationalId>,
    pub family_name: String,
    pub given_names: Vec<String>,
    #[serde(default = "unknown_sex")]
    pub sex: Sex,
    pub profession: Profession,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specialities: Vec<String>,
    pub authorisation: Authorisation,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<PracticeLocation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affiliations: Vec<Affiliation>,
    #[serde(default)]
    pub contact: Contact,
}

fn unknown_sex() -> Sex {
    Sex::Unknown
}

impl Professional {
    pub fn validate(&self) -> Result<(), InvalidEntry> {
        check_id("id", &self.id)?;
        check_text("family_name", &self.family_name, true)?;
        if self.given_names.is_empty() {
            return Err(invalid(
                "given_names",
                "at least one given name is required",
            ));
        }
        for g in &self.given_names {
            check_text("given_names", g, true)?;
        }
        for s in &self.specialities {
            if !SPECIALITIES.contains(&s.as_str()) {
                return Err(invalid("specialities", format!("unknown speciality {s:?}")));
            }
        }
        self.authorisation.validate()?;
        for l in &self.locations {
            check_id("locations.id", &l.id)?;
            check_text("locations.name", &l.name, true)?;
            l.address.validate()?;
            l.contact.validate()?;
        }
        for a in &self.affiliations {
            check_id("affiliations.establishment", &a.establishment)?;
            if let Some(site) = &a.site {
                check_id("affiliations.site", site)?;
            }
            if a.end.is_some_and(|end| end < a.start) {
                return Err(invalid("affiliations.end", "is before its start"));
            }
        }
        self.contact.validate()
    }

    /// The name as the directory shows it: given names then family name.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_names.join(" "), self.family_name)
    }
}

coded_enum!(
    /// Kinds of health establishments (PLT-2).
    EstablishmentKind {
        Hospital = "hospital",
        MedicalLaboratory = "medical_laboratory",
        CareFacility = "care_facility",
        Pharmacy = "pharmacy",
        Practice = "practice",
    }
);

/// An identifier of an establishment in another register (business register,
/// insurer's provider code...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    pub system: String,
    pub value: String,
}

/// One site (building, campus) of an establishment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub address: Address,
}

/// A health establishment (DIR-1, PLT-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Establishment {
    pub id: String,
    pub name: String,
    pub kind: EstablishmentKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<Identifier>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<Site>,
    #[serde(default)]
    pub contact: Contact,
    pub active: bool,
}

impl Establishment {
    pub fn validate(&self) -> Result<(), InvalidEntry> {
        check_id("id", &self.id)?;
        check_text("name", &self.name, true)?;
        for i in &self.identifiers {
            check_text("identifiers.system", &i.system, true)?;
            check_text("identifiers.value", &i.value, true)?;
        }
        let mut seen = std::collections::HashSet::new();
        for s in &self.sites {
            check_id("sites.id", &s.id)?;
            if !seen.insert(s.id.as_str()) {
                return Err(invalid("sites.id", format!("site {} appears twice", s.id)));
            }
            check_text("sites.name", &s.name, true)?;
            s.address.validate()?;
        }
        self.contact.validate()
    }
}

coded_enum!(
    /// How far an identity has been verified (identity vigilance).
    IdentityStatus {
        /// Recorded from a declaration, not checked against a document.
        Provisional = "provisional",
        /// Checked against an identity document.
        Validated = "validated",
        /// Validated and confirmed by the national register.
        Qualified = "qualified",
    }
);

/// The health-insurance affiliation that makes a person a patient of the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsuranceAffiliation {
    pub insurer: String,
    pub start: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
}

/// Who legally represents a minor or protected adult.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalRepresentative {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_id: Option<NationalId>,
    /// e.g. `parent`, `guardian`.
    pub relationship: String,
}

/// A patient of the platform (DIR-2). Never public.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patient {
    /// The platform's own identifier, meaningless outside it.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_id: Option<NationalId>,
    pub birth_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_name: Option<String>,
    pub given_names: Vec<String>,
    pub sex: Sex,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_place: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurance: Option<InsuranceAffiliation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub death_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_representative: Option<LegalRepresentative>,
    pub status: IdentityStatus,
    /// Identity-vigilance flags.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub doubtful: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub homonym: bool,
    /// Set when identity vigilance merged this entry into another: reads follow it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
}

impl Patient {
    pub fn validate(&self) -> Result<(), InvalidEntry> {
        check_id("id", &self.id)?;
        check_text("birth_name", &self.birth_name, true)?;
        if let Some(u) = &self.used_name {
            check_text("used_name", u, true)?;
        }
        if self.given_names.is_empty() {
            return Err(invalid(
                "given_names",
                "at least one given name is required",
            ));
        }
        for g in &self.given_names {
            check_text("given_names", g, true)?;
        }
        if let Some(place) = &self.birth_place {
            check_text("birth_place", place, true)?;
        }
        if let (Some(nin), Some(birth)) = (&self.national_id, self.birth_date)
            && let Some(nin_birth) = nin.birth_date()
            && nin_birth != birth
        {
            return Err(invalid(
                "birth_date",
                "differs from the birth date in the national identification number",
            ));
        }
        if let (Some(death), Some(birth)) = (self.death_date, self.birth_date)
            && death < birth
        {
            return Err(invalid("death_date", "is before the birth date"));
        }
        if let Some(a) = &self.address {
            a.validate()?;
        }
        if let Some(i) = &self.insurance {
            check_text("insurance.insurer", &i.insurer, true)?;
            if i.end.is_some_and(|end| end < i.start) {
                return Err(invalid("insurance.end", "is before its start"));
            }
        }
        if let Some(r) = &self.legal_representative {
            check_text("legal_representative.name", &r.name, true)?;
            check_text("legal_representative.relationship", &r.relationship, true)?;
        }
        if self.merged_into.as_deref() == Some(self.id.as_str()) {
            return Err(invalid(
                "merged_into",
                "an identity cannot be merged into itself",
            ));
        }
        Ok(())
    }

    /// The family name in use: the used name when there is one, else the birth name.
    pub fn family_name(&self) -> &str {
        self.used_name.as_deref().unwrap_or(&self.birth_name)
    }

    /// "Marie Weber": the given names and the name in use.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_names.join(" "), self.family_name())
            .trim()
            .to_owned()
    }

    /// Whether the person is a patient of the platform on `day` (insured and alive).
    pub fn affiliated_on(&self, day: NaiveDate) -> bool {
        self.death_date.is_none_or(|d| day < d)
            && self
                .insurance
                .as_ref()
                .is_some_and(|i| i.start <= day && i.end.is_none_or(|end| day <= end))
    }
}

coded_enum!(
    /// What a health agent may do on the platform beyond the services of his quality.
    AgentRole {
        /// Administers the patient directory: reviews, merges and unmerges (DIR-2, DIR-6).
        IdentityVigilance = "identity_vigilance",
        /// Operates the platform's accounts and settings.
        Administrator = "administrator",
    }
);

/// A health agent (DIR-3): works in the medico-social sector or a social-security
/// administration without being a health professional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_id: Option<NationalId>,
    pub family_name: String,
    pub given_names: Vec<String>,
    pub organisation: String,
    pub function: String,
    /// The organisation that requested the registration (DIR-3).
    pub requesting_organisation: String,
    pub valid_from: NaiveDate,
    /// The day the person stopped being an agent; identification data is deleted
    /// 12 months later (DIR-7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<AgentRole>,
    #[serde(default)]
    pub contact: Contact,
}

impl Agent {
    pub fn validate(&self) -> Result<(), InvalidEntry> {
        check_id("id", &self.id)?;
        check_text("family_name", &self.family_name, true)?;
        if self.given_names.is_empty() {
            return Err(invalid(
                "given_names",
                "at least one given name is required",
            ));
        }
        for g in &self.given_names {
            check_text("given_names", g, true)?;
        }
        check_text("organisation", &self.organisation, true)?;
        check_text("function", &self.function, true)?;
        check_text(
            "requesting_organisation",
            &self.requesting_organisation,
            true,
        )?;
        if self.valid_until.is_some_and(|end| end < self.valid_from) {
            return Err(invalid("valid_until", "is before valid_from"));
        }
        self.contact.validate()
    }

    /// Whether the person is an agent on `day`.
    pub fn active_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_until.is_none_or(|end| day <= end)
    }

    /// The first day the entry must be gone (DIR-7): 12 months after the end.
    pub fn purge_due(&self) -> Option<NaiveDate> {
        self.valid_until
            .and_then(|end| end.checked_add_months(chrono::Months::new(12)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn every_profession_falls_in_one_of_the_ten_professional_columns() {
        let used: std::collections::HashSet<_> = Profession::ALL
            .iter()
            .map(|p| p.access_category())
            .collect();
        assert_eq!(used.len(), AccessCategory::ALL.len());
        assert_eq!(
            AccessCategory::ALL.len(),
            10,
            "11 columns minus the referring doctor"
        );
        assert_eq!(
            Profession::Dentist.access_category(),
            AccessCategory::Physician
        );
        assert_eq!(
            Profession::Osteopath.access_category(),
            AccessCategory::ExpertHealthProfessional
        );
    }

    #[test]
    fn codes_round_trip() {
        for p in Profession::ALL {
            assert_eq!(Profession::parse(p.code()), Some(*p));
        }
        assert_eq!(Profession::parse("witch_doctor"), None);
    }

    #[test]
    fn authorisation_in_force_follows_status_and_dates() {
        let mut a = Authorisation {
            status: AuthorisationStatus::Active,
            granted_on: day(2010, 1, 1),
            status_since: day(2010, 1, 1),
            suspended_until: None,
        };
        assert!(a.in_force(day(2020, 1, 1)));
        assert!(!a.in_force(day(2009, 12, 31)));
        a.status = AuthorisationStatus::Suspended;
        a.status_since = day(2026, 1, 1);
        a.suspended_until = Some(day(2026, 6, 30));
        assert!(!a.in_force(day(2026, 6, 30)));
        assert!(a.in_force(day(2026, 7, 1)));
        a.suspended_until = None;
        assert!(
            !a.in_force(day(2030, 1, 1)),
            "suspended until further notice"
        );
        a.status = AuthorisationStatus::Withdrawn;
        assert!(!a.in_force(day(2030, 1, 1)));
    }

    #[test]
    fn a_patient_whose_birth_date_contradicts_the_nin_is_refused() {
        let nin = NationalId::from_parts(day(1980, 5, 17), 123).unwrap();
        let mut p = Patient {
            id: "p1".into(),
            national_id: Some(nin),
            birth_name: "Weber".into(),
            used_name: None,
            given_names: vec!["Anne".into()],
            sex: Sex::Female,
            birth_date: Some(day(1980, 5, 17)),
            birth_place: None,
            address: None,
            insurance: None,
            death_date: None,
            legal_representative: None,
            status: IdentityStatus::Qualified,
            doubtful: false,
            homonym: false,
            merged_into: None,
        };
        p.validate().unwrap();
        p.birth_date = Some(day(1980, 5, 18));
        assert_eq!(p.validate().unwrap_err().field, "birth_date");
        p.birth_date = None;
        p.given_names.clear();
        assert_eq!(p.validate().unwrap_err().field, "given_names");
    }

    #[test]
    fn agents_are_purged_twelve_months_after_their_mission_ends() {
        let a = Agent {
            id: "a1".into(),
            national_id: None,
            family_name: "Schmit".into(),
            given_names: vec!["Paul".into()],
            organisation: "CNS".into(),
            function: "identity vigilance officer".into(),
            requesting_organisation: "CNS".into(),
            valid_from: day(2020, 1, 1),
            valid_until: Some(day(2025, 3, 31)),
            roles: vec![AgentRole::IdentityVigilance],
            contact: Contact::default(),
        };
        a.validate().unwrap();
        assert_eq!(a.purge_due(), Some(day(2026, 3, 31)));
        assert!(!a.active_on(day(2025, 4, 1)));
    }

    #[test]
    fn identifiers_are_safe_for_urls_and_traces() {
        assert!(check_id("id", "pro-00012").is_ok());
        assert!(check_id("id", "a/b").is_err());
        assert!(check_id("id", "").is_err());
        assert!(check_id("id", &"x".repeat(65)).is_err());
    }
}
