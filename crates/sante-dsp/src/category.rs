//! The DSP's vocabulary of access: the 19 data categories, the 11 professional
//! categories, and the default access matrix between them (dsp.md, annex 1 of the
//! regulation), transcribed cell by cell; the mapping of document types to categories
//! (DSP-2: the operator maps each document type to a category).

use serde::{Deserialize, Serialize};

/// The 19 data categories of the access matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataCategory {
    PersonalExpression = 1,
    Syntheses = 2,
    HealthHistory = 3,
    Allergies = 4,
    ProsthesesDevices = 5,
    CareReports = 6,
    Certificates = 7,
    Imaging = 8,
    Analyses = 9,
    MedicinesDispensed = 10,
    NursingAssessments = 11,
    Prescriptions = 12,
    Prevention = 13,
    SocioEducational = 14,
    SocialEnvironment = 15,
    LegalProtection = 16,
    SocialInsurance = 17,
    HealthEducation = 18,
    TracesDashboard = 19,
}

impl DataCategory {
    pub const ALL: [DataCategory; 19] = [
        DataCategory::PersonalExpression,
        DataCategory::Syntheses,
        DataCategory::HealthHistory,
        DataCategory::Allergies,
        DataCategory::ProsthesesDevices,
        DataCategory::CareReports,
        DataCategory::Certificates,
        DataCategory::Imaging,
        DataCategory::Analyses,
        DataCategory::MedicinesDispensed,
        DataCategory::NursingAssessments,
        DataCategory::Prescriptions,
        DataCategory::Prevention,
        DataCategory::SocioEducational,
        DataCategory::SocialEnvironment,
        DataCategory::LegalProtection,
        DataCategory::SocialInsurance,
        DataCategory::HealthEducation,
        DataCategory::TracesDashboard,
    ];

    /// The category's number in the matrix (1 to 19).
    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: u8) -> Option<DataCategory> {
        DataCategory::ALL
            .get(usize::from(n).checked_sub(1)?)
            .copied()
    }

    /// The stable code (`dsp-cat-06`), used as the FHIR `category` code.
    pub fn code(self) -> String {
        format!("dsp-cat-{:02}", self.number())
    }

    pub fn parse_code(code: &str) -> Option<DataCategory> {
        DataCategory::from_number(code.strip_prefix("dsp-cat-")?.parse().ok()?)
    }

    /// The category's title in French (authoritative), German and English, as the
    /// holder reads it on his record.
    pub fn titles(self) -> [&'static str; 3] {
        use DataCategory as C;
        match self {
            C::PersonalExpression => [
                "Expression personnelle du titulaire",
                "Persönliche Äußerungen des Inhabers",
                "Holder's personal expression",
            ],
            C::Syntheses => ["Synthèses", "Zusammenfassungen", "Syntheses"],
            C::HealthHistory => ["Antécédents de santé", "Vorgeschichte", "Health history"],
            C::Allergies => [
                "Allergies, intolérances",
                "Allergien, Unverträglichkeiten",
                "Allergies, intolerances",
            ],
            C::ProsthesesDevices => [
                "Prothèses et dispositifs",
                "Prothesen und Hilfsmittel",
                "Prostheses and devices",
            ],
            C::CareReports => [
                "Comptes rendus de soins",
                "Behandlungsberichte",
                "Care reports",
            ],
            C::Certificates => [
                "Certificats et déclarations",
                "Bescheinigungen und Erklärungen",
                "Certificates and declarations",
            ],
            C::Imaging => [
                "Imagerie médicale",
                "Medizinische Bildgebung",
                "Medical imaging",
            ],
            C::Analyses => [
                "Analyses médicales",
                "Medizinische Analysen",
                "Medical analyses",
            ],
            C::MedicinesDispensed => [
                "Médicaments délivrés",
                "Abgegebene Arzneimittel",
                "Medicines dispensed",
            ],
            C::NursingAssessments => [
                "Bilans de soins infirmiers et de rééducation",
                "Pflege- und Rehabilitationsbefunde",
                "Nursing and rehabilitation assessments",
            ],
            C::Prescriptions => [
                "Prescriptions et traitements",
                "Verordnungen und Behandlungen",
                "Prescriptions and treatments",
            ],
            C::Prevention => ["Prévention", "Vorsorge", "Prevention"],
            C::SocioEducational => [
                "Données socio-éducatives",
                "Sozialpädagogische Daten",
                "Socio-educational data",
            ],
            C::SocialEnvironment => [
                "Environnement social",
                "Soziales Umfeld",
                "Social environment",
            ],
            C::LegalProtection => [
                "Régime de protection juridique",
                "Rechtliche Schutzmaßnahmen",
                "Legal protection regime",
            ],
            C::SocialInsurance => [
                "Couverture d'assurance sociale",
                "Sozialversicherungsschutz",
                "Social insurance coverage",
            ],
            C::HealthEducation => [
                "Éducation à la santé",
                "Gesundheitserziehung",
                "Health education",
            ],
            C::TracesDashboard => [
                "Tableau de bord des traces",
                "Übersicht der Zugriffsspuren",
                "Traces dashboard",
            ],
        }
    }

    /// The English name, as the matrix gives it (FHIR displays, logs).
    pub fn name(self) -> &'static str {
        match self {
            DataCategory::PersonalExpression => "holder's personal expression",
            DataCategory::Syntheses => "syntheses",
            DataCategory::HealthHistory => "health history",
            DataCategory::Allergies => "allergies, intolerances",
            DataCategory::ProsthesesDevices => "prostheses and devices",
            DataCategory::CareReports => "care reports",
            DataCategory::Certificates => "certificates and declarations",
            DataCategory::Imaging => "medical imaging",
            DataCategory::Analyses => "medical analyses",
            DataCategory::MedicinesDispensed => "medicines dispensed",
            DataCategory::NursingAssessments => "nursing and rehabilitation assessments",
            DataCategory::Prescriptions => "prescriptions and treatments",
            DataCategory::Prevention => "prevention",
            DataCategory::SocioEducational => "socio-educational data",
            DataCategory::SocialEnvironment => "social environment",
            DataCategory::LegalProtection => "legal protection regime",
            DataCategory::SocialInsurance => "social insurance coverage",
            DataCategory::HealthEducation => "health education",
            DataCategory::TracesDashboard => "traces dashboard",
        }
    }
}

/// The 11 columns of the matrix: ten professional categories (from the profession in
/// the directory) and the holder's referring doctor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfessionalCategory {
    Physician,
    Referent,
    Pharmacist,
    Nurse,
    Expert,
    Midwife,
    LaboratoryTechnician,
    RadiologyAssistant,
    CareAssistant,
    SocialWorker,
    Biologist,
}

impl ProfessionalCategory {
    pub const ALL: [ProfessionalCategory; 11] = [
        ProfessionalCategory::Physician,
        ProfessionalCategory::Referent,
        ProfessionalCategory::Pharmacist,
        ProfessionalCategory::Nurse,
        ProfessionalCategory::Expert,
        ProfessionalCategory::Midwife,
        ProfessionalCategory::LaboratoryTechnician,
        ProfessionalCategory::RadiologyAssistant,
        ProfessionalCategory::CareAssistant,
        ProfessionalCategory::SocialWorker,
        ProfessionalCategory::Biologist,
    ];

    fn column(self) -> usize {
        ProfessionalCategory::ALL
            .iter()
            .position(|c| *c == self)
            .unwrap_or(0)
    }

    /// The column of a professional of the directory's access category.
    pub fn of(category: sante_directory::model::AccessCategory) -> ProfessionalCategory {
        use sante_directory::model::AccessCategory as A;
        match category {
            A::Physician => ProfessionalCategory::Physician,
            A::Pharmacist => ProfessionalCategory::Pharmacist,
            A::Nurse => ProfessionalCategory::Nurse,
            A::ExpertHealthProfessional => ProfessionalCategory::Expert,
            A::Midwife => ProfessionalCategory::Midwife,
            A::LaboratoryTechnician => ProfessionalCategory::LaboratoryTechnician,
            A::RadiologyTechnicalAssistant => ProfessionalCategory::RadiologyAssistant,
            A::CareAssistant => ProfessionalCategory::CareAssistant,
            A::SocialWorker => ProfessionalCategory::SocialWorker,
            A::MedicalBiologist => ProfessionalCategory::Biologist,
        }
    }
}

/// A cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Right {
    /// `–`: neither read nor file.
    None,
    /// `R`: read only.
    Read,
    /// `W`: read and file.
    Write,
}

use Right::{None as N, Read as R, Write as W};

/// The default access matrix (dsp.md), one row per data category in order, columns
/// Phy, Ref, Pha, Nur, Exp, Mid, Lab, Rad, Aid, Soc, Bio.
const MATRIX: [[Right; 11]; 19] = [
    /* 1 personal expression   */ [R, R, R, R, R, R, R, R, R, R, R],
    /* 2 syntheses             */ [W, W, N, R, R, R, N, R, R, R, N],
    /* 3 health history        */ [W, W, R, R, R, W, N, R, R, N, R],
    /* 4 allergies             */ [W, W, W, R, R, R, R, R, R, N, R],
    /* 5 prostheses, devices   */ [W, W, N, R, R, R, N, R, R, N, R],
    /* 6 care reports          */ [W, W, R, W, W, W, R, R, R, W, R],
    /* 7 certificates          */ [W, W, N, R, R, R, N, N, R, N, N],
    /* 8 imaging               */ [W, W, N, R, R, R, N, R, N, N, N],
    /* 9 analyses              */ [W, W, R, R, R, R, R, R, R, N, W],
    /* 10 medicines dispensed  */ [R, R, W, R, N, N, N, N, N, N, N],
    /* 11 nursing assessments  */ [W, W, N, W, W, W, N, R, W, R, R],
    /* 12 prescriptions        */ [W, W, W, R, R, W, R, R, R, N, R],
    /* 13 prevention           */ [W, W, R, W, W, W, N, N, W, R, R],
    /* 14 socio-educational    */ [R, R, N, W, W, R, N, N, R, R, N],
    /* 15 social environment   */ [R, R, N, W, W, W, N, N, R, W, N],
    /* 16 legal protection     */ [R, R, N, R, R, W, N, N, R, W, N],
    /* 17 social insurance     */ [R, R, R, R, W, R, R, N, R, W, R],
    /* 18 health education     */ [W, W, R, W, W, W, N, N, W, N, N],
    /* 19 traces dashboard     */ [N, R, N, N, N, N, N, N, N, N, N],
];

/// The default right of `professional` on `category`.
pub fn right(category: DataCategory, professional: ProfessionalCategory) -> Right {
    MATRIX[usize::from(category.number()) - 1][professional.column()]
}

/// The document types the platform knows, with their XDS class and the category the
/// operator mapped them to (DSP-2). Type codes are LOINC where LOINC has one, else the
/// platform's own code system.
pub struct DocumentType {
    pub system: &'static str,
    pub code: &'static str,
    pub display: &'static str,
    pub category: DataCategory,
}

pub const LOINC: &str = "http://loinc.org";
pub const SANTE_TYPES: &str = "urn:sante:dsp:document-type";

macro_rules! types {
    ($($system:expr, $code:expr, $display:expr => $cat:ident;)*) => {
        /// The mapping of document types to categories.
        pub const DOCUMENT_TYPES: &[DocumentType] = &[
            $(DocumentType { system: $system, code: $code, display: $display, category: DataCategory::$cat },)*
        ];
    };
}

types! {
    LOINC, "60591-5", "Patient summary Document" => Syntheses;
    LOINC, "34133-9", "Summarization of episode note" => Syntheses;
    LOINC, "18842-5", "Discharge summary" => Syntheses;
    SANTE_TYPES, "insurer-coverage", "Insurer's document on coverage" => Syntheses;
    LOINC, "11329-0", "History general Narrative" => HealthHistory;
    LOINC, "48765-2", "Allergies and adverse reactions Document" => Allergies;
    LOINC, "46264-8", "History of medical device use" => ProsthesesDevices;
    LOINC, "11506-3", "Progress note" => CareReports;
    LOINC, "28570-0", "Procedure note" => CareReports;
    LOINC, "11488-4", "Consult note" => CareReports;
    LOINC, "11369-6", "History of Immunization Narrative" => CareReports;
    LOINC, "34749-2", "Home health care note" => CareReports;
    SANTE_TYPES, "medication-administration", "Medication administration record" => CareReports;
    LOINC, "64297-5", "Death certificate" => Certificates;
    SANTE_TYPES, "medical-certificate", "Medical certificate or declaration" => Certificates;
    LOINC, "18748-4", "Diagnostic imaging study" => Imaging;
    LOINC, "11502-2", "Laboratory report" => Analyses;
    LOINC, "60593-1", "Medication dispensed.extended Document" => MedicinesDispensed;
    LOINC, "28651-8", "Nurse Transfer note" => NursingAssessments;
    SANTE_TYPES, "rehabilitation-assessment", "Rehabilitation assessment" => NursingAssessments;
    LOINC, "57833-6", "Prescription for medication" => Prescriptions;
    LOINC, "57832-8", "Prescription for diagnostic or specialist care" => Prescriptions;
    LOINC, "18776-5", "Plan of care note" => Prevention;
    SANTE_TYPES, "prevention", "Prevention and screening" => Prevention;
    SANTE_TYPES, "socio-educational", "Socio-educational data" => SocioEducational;
    SANTE_TYPES, "social-environment", "Social environment" => SocialEnvironment;
    SANTE_TYPES, "legal-protection", "Legal protection regime" => LegalProtection;
    SANTE_TYPES, "social-insurance", "Social insurance coverage" => SocialInsurance;
    SANTE_TYPES, "health-education", "Health education" => HealthEducation;
    SANTE_TYPES, "personal-expression", "Holder's personal expression" => PersonalExpression;
    SANTE_TYPES, "organ-donation", "Position on post-mortem organ donation" => PersonalExpression;
    SANTE_TYPES, "advance-directives", "Advance directives and end-of-life wishes" => PersonalExpression;
}

/// The document type with this system and code.
pub fn document_type(system: &str, code: &str) -> Option<&'static DocumentType> {
    DOCUMENT_TYPES
        .iter()
        .find(|t| t.system == system && t.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_reads_as_the_regulation_prints_it() {
        use DataCategory as D;
        use ProfessionalCategory as P;
        // A few cells read off the printed table.
        assert_eq!(right(D::Syntheses, P::Physician), Right::Write);
        assert_eq!(right(D::Syntheses, P::Pharmacist), Right::None);
        assert_eq!(right(D::MedicinesDispensed, P::Pharmacist), Right::Write);
        assert_eq!(right(D::MedicinesDispensed, P::Physician), Right::Read);
        assert_eq!(right(D::Analyses, P::Biologist), Right::Write);
        assert_eq!(right(D::LegalProtection, P::SocialWorker), Right::Write);
        assert_eq!(right(D::LegalProtection, P::Midwife), Right::Write);
        // Only the referring doctor reads the traces dashboard; nobody files there.
        for p in P::ALL {
            let expected = if p == P::Referent {
                Right::Read
            } else {
                Right::None
            };
            assert_eq!(right(D::TracesDashboard, p), expected, "{p:?}");
        }
        // Everybody reads the holder's expression, nobody but the holder writes it.
        for p in P::ALL {
            assert_eq!(right(D::PersonalExpression, p), Right::Read, "{p:?}");
        }
        // The referring doctor has a physician's rights on categories 1 to 18.
        for c in D::ALL.iter().take(18) {
            assert_eq!(right(*c, P::Referent), right(*c, P::Physician), "{c:?}");
        }
        // Counts per right, a check on the transcription: 56 W, 94 R, 59 none.
        let cells: Vec<Right> = D::ALL
            .iter()
            .flat_map(|c| P::ALL.iter().map(move |p| right(*c, *p)))
            .collect();
        let count = |r: Right| cells.iter().filter(|c| **c == r).count();
        assert_eq!(cells.len(), 209);
        assert_eq!(count(Right::Write), 56);
        assert_eq!(count(Right::Read), 94);
        assert_eq!(count(Right::None), 59);
    }

    #[test]
    fn every_document_type_has_a_category_and_codes_round_trip() {
        for t in DOCUMENT_TYPES {
            assert_ne!(t.category, DataCategory::TracesDashboard);
            assert!(document_type(t.system, t.code).is_some());
        }
        for c in DataCategory::ALL {
            assert_eq!(DataCategory::parse_code(&c.code()), Some(c));
        }
        assert_eq!(DataCategory::parse_code("dsp-cat-20"), None);
    }
}
