//! The platform's certification authorities publish their revocation lists here, at
//! the URLs their certificates name as CRL distribution points (RFC 5280 §4.2.1.13:
//! one DER list per URL, `application/pkix-crl`). Public, as revocation lists are:
//! they name serial numbers, nobody. Each request reads the file again, so a list the
//! CA rewrites (a card revoked) is served at once.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sante_http::{Access, Area, Routes};

/// The revocation lists published, by the file name they are served under.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationLists {
    lists: Vec<(String, PathBuf)>,
}

impl RevocationLists {
    /// `lists`: the name each is served under (`ca.crl`) and its file, PEM or DER.
    pub fn new(lists: Vec<(String, PathBuf)>) -> RevocationLists {
        RevocationLists { lists }
    }
}

/// `GET /pki/{name}`: the list published under `name`, DER.
pub fn routes(lists: RevocationLists) -> Area {
    Routes::new()
        .get("/pki/{name}", Access::Public, revocation_list)
        .with_state(Arc::new(lists))
}

fn refusal(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{why}\n"),
    )
        .into_response()
}

async fn revocation_list(
    State(lists): State<Arc<RevocationLists>>,
    Path(name): Path<String>,
) -> Response {
    let Some((_, path)) = lists.lists.iter().find(|(n, _)| *n == name) else {
        return refusal(StatusCode::NOT_FOUND, "no revocation list of that name");
    };
    let der = match tokio::fs::read(path).await {
        Ok(data) => sante_net::pki::revocation_list_der(&data)
            .and_then(|der| sante_net::pki::read_revocation_list(&der).map(|_| der))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match der {
        Ok(der) => (
            [
                (header::CONTENT_TYPE, "application/pkix-crl"),
                // A list is issued for days; a client may keep it a few minutes, so
                // that a revocation still reaches it soon.
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            der,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(list = %name, error = %e, "a published revocation list cannot be read");
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "this revocation list is unavailable for now",
            )
        }
    }
}
