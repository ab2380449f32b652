//! Who calls the API, established here only: a configured platform service (a bearer
//! token of which only the SHA-256 is configured), a person or an establishment
//! system with a single sign-on access token checked live by the provider, or
//! nobody. A token that matches none is refused outright (and traced), never
//! downgraded to anonymous.

use http::request::Parts;
use http::{HeaderMap, header};
use sante_audit::{EventKind, Outcome, Token};
use sante_directory::access::{Caller as DirectoryCaller, Request as DirectoryRequest};
use sante_http::{ApiFailure, ClientCertificate, Origin};
use sante_types::{ErrorKind, Quality, Service};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::FhirApi;

/// A platform service allowed to call the patient directory, authenticated by a
/// bearer token of which only the SHA-256 is configured.
#[derive(Clone)]
pub struct ServiceClient {
    pub name: String,
    pub service: Service,
    pub token_sha256: [u8; 32],
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient")
            .field("name", &self.name)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// The bearer token of a request, if it sent one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn sso_unavailable() -> ApiFailure {
    ApiFailure::new(
        ErrorKind::Unavailable,
        "single sign-on is temporarily unavailable",
    )
}

impl FhirApi {
    /// A person's access token for the directory: checked live by the provider
    /// (session open, system attested, level enough for the quality); agents carry
    /// their directory roles. `None` when the token is not one.
    async fn sso_directory_caller(
        &self,
        token: &str,
        parts: &Parts,
        origin: &Origin,
    ) -> Result<Option<DirectoryCaller>, ApiFailure> {
        let certificate = ClientCertificate::of(&parts.extensions);
        let caller = match self
            .sso
            .authenticate_bearer(
                token,
                Service::Directory,
                certificate.as_deref(),
                &origin.source(),
            )
            .await
        {
            Ok(caller) => caller,
            Err(e) if e.is_internal() => return Err(sso_unavailable()),
            Err(_) => return Ok(None),
        };
        let roles = match caller.who.quality {
            Quality::Agent => self
                .directory
                .agent(&caller.who.subject)
                .await
                .map(|a| a.roles)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        Ok(Some(DirectoryCaller::Person {
            account: caller.who.account.clone(),
            quality: caller.who.quality,
            assurance: caller.who.assurance,
            credential: caller.who.credential,
            roles,
            system: caller.system.map(|(client, _)| client),
        }))
    }

    /// Who calls the directories.
    pub(crate) async fn directory_request(
        &self,
        parts: &Parts,
    ) -> Result<DirectoryRequest, ApiFailure> {
        let origin = Origin::of(&parts.extensions);
        if parts.headers.get(header::AUTHORIZATION).is_none() {
            return Ok(DirectoryRequest::new(
                DirectoryCaller::Anonymous,
                origin.source(),
            ));
        }
        let token = bearer(&parts.headers);
        let digest: Option<[u8; 32]> = token.map(|t| Sha256::digest(t.as_bytes()).into());
        let service = digest.and_then(|d| {
            self.service_clients
                .iter()
                .find(|c| bool::from(c.token_sha256.ct_eq(&d)))
        });
        if let Some(client) = service {
            return Ok(DirectoryRequest::new(
                DirectoryCaller::Service {
                    name: client.name.clone(),
                    service: client.service,
                },
                origin.source(),
            ));
        }
        // A JSON Web Token has three parts; anything else cannot be a person's token.
        if let Some(token) = token.filter(|t| t.split('.').count() == 3)
            && let Some(person) = self.sso_directory_caller(token, parts, &origin).await?
        {
            return Ok(DirectoryRequest::new(person, origin.source()));
        }
        self.kernel
            .trace(
                &origin,
                EventKind::HttpRequestDenied,
                "/fhir",
                Outcome::Denied(Token::code("bad-credentials")),
            )
            .await
            .map_err(|_| {
                ApiFailure::new(ErrorKind::Unavailable, "the access could not be traced")
            })?;
        Err(ApiFailure::token_refused("the credentials are not valid"))
    }

    /// The DSP caller behind the request's bearer token.
    pub(crate) async fn dsp_caller(&self, parts: &Parts) -> Result<sante_dsp::Caller, ApiFailure> {
        let source = Origin::of(&parts.extensions).source();
        let token = bearer(&parts.headers).ok_or_else(|| {
            ApiFailure::new(
                ErrorKind::Unauthenticated,
                "a bearer token for the DSP is required",
            )
        })?;
        let certificate = ClientCertificate::of(&parts.extensions);
        let who = self
            .sso
            .authenticate_bearer(token, Service::Dsp, certificate.as_deref(), &source)
            .await
            .map_err(|e| {
                if e.is_internal() {
                    sso_unavailable()
                } else {
                    ApiFailure::token_refused(format!(
                        "the token does not open the DSP: {}",
                        e.description()
                    ))
                }
            })?;
        Ok(sante_dsp::Caller {
            account: who.who.account.clone(),
            quality: who.who.quality,
            assurance: who.who.assurance,
            credential: who.who.credential,
            entry: who.who.subject.clone(),
            system: who.system.clone(),
            source,
        })
    }
}
