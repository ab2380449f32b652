//! The FHIR R4 API under `/fhir`: the directories as IHE mCSD (public) and IHE PDQm
//! (patients, authenticated callers only), the shared care record as IHE MHD (ITI-65
//! Provide Document Bundle, ITI-66, ITI-67, ITI-68), establishments' stays as
//! Encounters, and a `CapabilityStatement` at `/fhir/metadata`. Every error is an
//! OperationOutcome, by the kernel's one mapping.
//!
//! Who calls is established in one place ([`caller`]): a bearer token of a configured
//! platform service, a single sign-on access token of a person or of an establishment
//! system (bound to its certificate), or nobody. What the caller may see is decided by
//! the directory's access policy and the DSP's, never here.
//!
//! Architecture invariant: a web area over `sante-dsp`, its wire format `sante-fhir`
//! and platform contexts only.

mod caller;
mod directory;
mod encounter;
mod mhd;

use std::sync::Arc;

use axum::response::Response;
use http::StatusCode;
use sante_directory::Directory;
use sante_dsp::DspService;
use sante_http::error::fhir_json;
use sante_http::{Access, Area, Routes};
use sante_http::{ApiFailure, ClientCertificate, Kernel};
use sante_types::ErrorKind;
use serde_json::Value;

pub use caller::ServiceClient;

/// What the API's handlers share.
#[derive(Clone)]
pub struct FhirApi {
    kernel: Kernel,
    directory: Directory,
    dsp: DspService,
    sso: sante_sso::Provider,
    service_clients: Arc<[ServiceClient]>,
}

impl FhirApi {
    pub fn new(
        kernel: Kernel,
        directory: Directory,
        dsp: DspService,
        sso: sante_sso::Provider,
        service_clients: Vec<ServiceClient>,
    ) -> FhirApi {
        FhirApi {
            kernel,
            directory,
            dsp,
            sso,
            service_clients: service_clients.into(),
        }
    }

    /// The base of links: the listener the caller came through (a system on the
    /// certificate listener gets links it can follow with its bound token).
    fn base(&self, extensions: &http::Extensions) -> String {
        let config = self.kernel.config();
        let root = match (&config.mtls_url, ClientCertificate::of(extensions)) {
            (Some(mtls), Some(_)) => mtls.clone(),
            _ => config.public_url.clone(),
        };
        format!("{}/fhir", root.trim_end_matches('/'))
    }

    /// The base of the directories' links: always the portal's address.
    fn public_base(&self) -> String {
        format!("{}/fhir", self.kernel.public_url())
    }

    fn today(&self) -> chrono::NaiveDate {
        self.kernel.clock().now().date_naive()
    }
}

/// The API's routes: the capability statement and the professionals' directory
/// (IHE mCSD, public as the portal's search) are open; patients' identities (PDQm),
/// the DSP (MHD) and stays need a bearer token.
pub fn routes(api: FhirApi) -> Area {
    use Access::{Bearer, Public};
    Routes::new()
        .get("/fhir/metadata", Public, directory::metadata)
        .get(
            "/fhir/Practitioner",
            Public,
            directory::search_practitioners,
        )
        .get(
            "/fhir/Practitioner/{id}",
            Public,
            directory::read_practitioner,
        )
        .get("/fhir/PractitionerRole", Public, directory::search_roles)
        .get("/fhir/PractitionerRole/{id}", Public, directory::read_role)
        .get(
            "/fhir/Organization",
            Public,
            directory::search_organizations,
        )
        .get(
            "/fhir/Organization/{id}",
            Public,
            directory::read_organization,
        )
        .get("/fhir/Location", Public, directory::search_locations)
        .get("/fhir/Location/{id}", Public, directory::read_location)
        .get(
            "/fhir/HealthcareService",
            Public,
            directory::search_services,
        )
        .get(
            "/fhir/HealthcareService/{id}",
            Public,
            directory::read_service,
        )
        .get("/fhir/Patient", Bearer, directory::search_patients)
        .post("/fhir/Patient/$match", Bearer, directory::match_patients)
        .get("/fhir/Patient/{id}", Bearer, directory::read_patient)
        .post("/fhir", Bearer, mhd::provide)
        .post("/fhir/", Bearer, mhd::provide)
        .get("/fhir/DocumentReference", Bearer, mhd::find_references)
        .get("/fhir/DocumentReference/{id}", Bearer, mhd::read_reference)
        .get("/fhir/List", Bearer, mhd::find_lists)
        .get("/fhir/Binary/{id}", Bearer, mhd::retrieve)
        .post("/fhir/Encounter", Bearer, encounter::register_stay)
        .post(
            "/fhir/Encounter/{operation}",
            Public,
            encounter::unsupported_encounter,
        )
        .post(
            "/fhir/Encounter/{id}/{operation}",
            Bearer,
            encounter::stay_operation,
        )
        // What the API does not serve answers so to anyone (nothing behind it).
        .get("/fhir/{*rest}", Public, unsupported)
        .post("/fhir/{*rest}", Public, unsupported)
        .with_state(api)
}

type FhirResult = Result<Response, ApiFailure>;

fn ok(value: Value) -> FhirResult {
    Ok(fhir_json(StatusCode::OK, &value))
}

/// A refusal of the wire format: a parameter or an element named, unsupported or bad.
fn fhir_failure(e: &sante_fhir::FhirError) -> ApiFailure {
    match e {
        sante_fhir::FhirError::NotSupported { .. } => {
            ApiFailure::not_supported(ErrorKind::Invalid, e.to_string())
        }
        _ => ApiFailure::from_error(e),
    }
}

/// The parameters of a query string.
fn params(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiFailure> {
    match raw {
        None => Ok(Vec::new()),
        Some(q) => serde_urlencoded::from_str(q)
            .map_err(|_| ApiFailure::new(ErrorKind::Invalid, "the query string cannot be read")),
    }
}

/// A JSON body of at most `limit` bytes.
async fn read_json(body: axum::body::Body, limit: usize) -> Result<Value, ApiFailure> {
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiFailure::too_large("the body is too large"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| ApiFailure::new(ErrorKind::Invalid, "the body is not JSON"))
}

async fn unsupported() -> ApiFailure {
    ApiFailure::not_supported(
        ErrorKind::NotFound,
        "this resource type or interaction is not supported; see /fhir/metadata",
    )
}
