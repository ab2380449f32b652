//! FHIR R4 (4.0.1) wire format of Sante's directories.
//!
//! [`resources`] maps directory entries to and from FHIR resources following IHE mCSD
//! (Practitioner, PractitionerRole, Organization, Location, HealthcareService) and
//! IHE PDQm (Patient); [`search`] turns FHIR search parameters into directory queries,
//! refusing what it does not support rather than ignoring it; [`bundle`] builds
//! search-set Bundles with paging links and the CapabilityStatement (OperationOutcomes,
//! the answer to every error, are the HTTP kernel's one error mapping).
//!
//! Architecture invariant: no HTTP framework and no storage: JSON in, JSON out. The
//! national identification number of a professional or agent never appears in a
//! resource (it links a person's qualities inside the platform only).

pub mod bundle;
pub mod encounter;
pub mod mhd;
pub mod resources;
pub mod search;

pub use bundle::{capability_statement, searchset};
pub use resources::{organization_from_fhir, patient_from_fhir, practitioner_from_fhir};

/// Canonical URLs of the code systems and naming systems Sante defines.
pub mod systems {
    pub const PROFESSION: &str = "https://fhir.sante.lu/CodeSystem/profession";
    pub const ACCESS_CATEGORY: &str = "https://fhir.sante.lu/CodeSystem/access-category";
    pub const SPECIALITY: &str = "https://fhir.sante.lu/CodeSystem/speciality";
    pub const ESTABLISHMENT_KIND: &str = "https://fhir.sante.lu/CodeSystem/establishment-kind";
    pub const AUTHORISATION_STATUS: &str = "https://fhir.sante.lu/CodeSystem/authorisation-status";
    pub const NATIONAL_ID: &str = "https://fhir.sante.lu/NamingSystem/national-id";
    pub const PROFESSIONAL_ID: &str = "https://fhir.sante.lu/NamingSystem/professional-id";
    pub const ESTABLISHMENT_ID: &str = "https://fhir.sante.lu/NamingSystem/establishment-id";
    pub const PATIENT_ID: &str = "https://fhir.sante.lu/NamingSystem/patient-id";
}

/// Why a resource or a request was refused, naming the element or parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FhirError {
    /// A resource that cannot be read as the expected type.
    #[error("{element}: {reason}")]
    Resource { element: String, reason: String },
    /// A search parameter with a bad value.
    #[error("search parameter {parameter}: {reason}")]
    Invalid { parameter: String, reason: String },
    /// A search parameter, modifier or value this server does not support.
    #[error("search parameter {parameter} is not supported")]
    NotSupported { parameter: String },
}

impl sante_types::Coded for FhirError {
    fn code(&self) -> &'static str {
        match self {
            FhirError::Resource { .. } => "FHR001",
            FhirError::Invalid { .. } => "FHR002",
            FhirError::NotSupported { .. } => "FHR003",
        }
    }

    fn kind(&self) -> sante_types::ErrorKind {
        sante_types::ErrorKind::Invalid
    }
}

pub(crate) fn resource_error(element: &str, reason: impl Into<String>) -> FhirError {
    FhirError::Resource {
        element: element.to_owned(),
        reason: reason.into(),
    }
}
