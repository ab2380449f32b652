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

use axum::Router;
use axum::response::Response;
use axum::routing::{get, post};
use http::StatusCode;
use sante_directory::Directory;
use sante_dsp::DspService;
use sante_http::error::fhir_json;
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

/// The API's routes.
pub fn routes(api: FhirApi) -> Router {
    Router::new()
        .route("/fhir/metadata", get(directory::metadata))
        .route("/fhir/Practitioner", get(directory::search_practitioners))
        .route("/fhir/Practitioner/{id}", get(directory::read_practitioner))
        .route("/fhir/PractitionerRole", get(directory::search_roles))
        .route("/fhir/PractitionerRole/{id}", get(directory::read_role))
        .route("/fhir/Organization", get(directory::search_organizations))
        .route("/fhir/Organization/{id}", get(directory::read_organization))
        .route("/fhir/Location", get(directory::search_locations))
        .route("/fhir/Location/{id}", get(directory::read_location))
        .route("/fhir/HealthcareService", get(directory::search_services))
        .route("/fhir/HealthcareService/{id}", get(directory::read_service))
        .route("/fhir/Patient", get(directory::search_patients))
        .route("/fhir/Patient/$match", post(directory::match_patients))
        .route("/fhir/Patient/{id}", get(directory::read_patient))
        .route("/fhir", post(mhd::provide))
        .route("/fhir/", post(mhd::provide))
        .route("/fhir/DocumentReference", get(mhd::find_references))
        .route("/fhir/DocumentReference/{id}", get(mhd::read_reference))
        .route("/fhir/List", get(mhd::find_lists))
        .route("/fhir/Binary/{id}", get(mhd::retrieve))
        .route("/fhir/Encounter", post(encounter::register_stay))
        .route(
            "/fhir/Encounter/{operation}",
            post(encounter::unsupported_encounter),
        )
        .route(
            "/fhir/Encounter/{id}/{operation}",
            post(encounter::stay_operation),
        )
        .route("/fhir/{*rest}", get(unsupported).post(unsupported))
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
