//! The HTTPS kernel every web area stands on.
//!
//! It serves the TLS sessions handed over by `sante-net` (HTTP/1.1 or HTTP/2), gives
//! every request an id, security headers (CSP without inline script, HSTS...), one
//! structured log line and its metrics, and answers `/healthz`, `/readyz`,
//! `/metrics`, the stylesheet and the language form. For the areas' pages it provides
//! the [`Portal`] extractor (language, layout, CSRF cookie, who and where, the
//! session), the CSRF-checked [`CsrfForm`] and [`CsrfJson`], the language catalogue
//! mechanism, the page layout, and the one mapping from errors to answers
//! ([`error`]). Each area (portal, DSP pages, FHIR API, OpenID Connect...) is a crate
//! of its own with its routes, templates and typed state; the binary composes them
//! with [`app`].
//!
//! Architecture invariant: depends on no service (DSP, messaging, referent) and never
//! on `sante-store`; the platform contexts it knows are the security directory (the
//! session behind a cookie) and the terms of use (what a service page requires).

// Helpers return a ready `Response` as their error, which the handler returns at once:
// its size does not matter.
#![allow(clippy::result_large_err)]

// Templates name the kernel's catalogue by its crate path, in this crate as in areas.
extern crate self as sante_http;

pub mod csrf;
pub mod error;
pub mod i18n;
mod kernel;
pub mod layout;
mod metrics;
pub mod personal_data;
pub mod portal;
pub mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use sante_net::{IoStream, Listener, SessionHandler, SessionInfo};
use sante_types::PeerCertificate;
use tokio_util::sync::CancellationToken;

/// The router the areas build and the binary composes.
pub use axum::Router;
pub use csrf::{CsrfForm, CsrfJson};
pub use error::{ApiFailure, HttpError, OAuthFailure, ScriptFailure};
pub use i18n::{Lang, Msg, Text};
pub use kernel::{App, Kernel, KernelParts, app, route_token};
pub use layout::{Layout, NavItem};
pub use personal_data::{DataItem, DataSection, PersonalData};
pub use portal::{Origin, Portal, safe_continue, see_other, terms_url};
pub use routes::{Access, Area, RouteSpec, Routes};

/// The HMAC key of CSRF tokens: zeroized when dropped, never printed.
#[derive(Clone)]
pub struct CsrfKey(zeroize::Zeroizing<[u8; 32]>);

impl CsrfKey {
    pub fn new(key: [u8; 32]) -> CsrfKey {
        CsrfKey(zeroize::Zeroizing::new(key))
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(..)")
    }
}

/// Configuration of the HTTP front end.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub public_url: String,
    /// `fr`, `de` or `en`.
    pub default_lang: String,
    /// Mark cookies `Secure` (always true in production; the server only speaks HTTPS).
    pub cookie_secure: bool,
    /// HMAC key of CSRF tokens.
    pub secret: CsrfKey,
    /// The URL of the listener that asks for client certificates (card login), when
    /// there is one.
    pub mtls_url: Option<String>,
    /// How large a request's body may be, by kind.
    pub limits: BodyLimits,
}

/// The largest bodies read, by kind; past them the request is refused before its
/// body is parsed (the portal's and OAuth's forms as unreadable, 400; FHIR 413).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// A form of the portal or of the OpenID Connect endpoints, a JSON call of a
    /// page's script.
    pub form_bytes: usize,
    /// An MHD provide bundle (documents base64 inside: a 20 MiB document takes
    /// about 27 MiB).
    pub fhir_bundle_bytes: usize,
}

impl Default for BodyLimits {
    fn default() -> BodyLimits {
        BodyLimits {
            form_bytes: 64 * 1024,
            fhir_bundle_bytes: 32 * 1024 * 1024,
        }
    }
}

/// The ALPN protocols to give `sante_net::server_tls_config` for HTTPS: HTTP/2 first.
pub const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// Whether the server can serve: implemented by the binary (database and blob store).
pub trait Readiness: Send + Sync {
    /// `Ok` when ready; otherwise the reason, shown in `/readyz` (so nothing secret).
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// The peer of the connection, set by [`HttpsHandler`].
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The request id, set by the outermost layer.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The client certificate of the request's TLS session (verified by `sante-net`
/// against the card CAs and their revocation lists), set by [`HttpsHandler`].
#[derive(Debug, Clone)]
pub struct ClientCertificate(pub Arc<PeerCertificate>);

impl ClientCertificate {
    /// The certificate of the request, if its session presented one.
    pub fn of(extensions: &http::Extensions) -> Option<Arc<PeerCertificate>> {
        extensions.get::<ClientCertificate>().map(|c| c.0.clone())
    }
}

const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The most a request's header section may take by default (HTTP/1.1 read buffer,
/// HTTP/2 `SETTINGS_MAX_HEADER_LIST_SIZE`); past it, 431. Browsers send a few KiB;
/// cookies are bounded by the platform's own.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// The least it may be set to (hyper's smallest read buffer).
pub const MIN_HEADER_BYTES: usize = 8 * 1024;
/// The most header fields of an HTTP/1.1 request.
const MAX_HEADERS: usize = 100;

/// Serves `router` on a bound listener until `shutdown` is cancelled, then lets
/// requests in flight finish for up to `grace`. The listener's TLS configuration should
/// offer [`ALPN`].
pub async fn serve_https(
    listener: Listener,
    router: Router,
    shutdown: CancellationToken,
    grace: Duration,
) {
    listener
        .serve(HttpsHandler::new(router), shutdown, grace)
        .await;
}

/// Serves the router over the sessions of a `sante-net` listener: HTTP/1.1 or HTTP/2
/// as negotiated by ALPN, with graceful shutdown.
#[derive(Clone)]
pub struct HttpsHandler {
    router: Router,
    max_header_bytes: usize,
}

impl HttpsHandler {
    pub fn new(router: Router) -> HttpsHandler {
        HttpsHandler {
            router,
            max_header_bytes: MAX_HEADER_BYTES,
        }
    }

    /// Bounds the header section at `bytes` (at least [`MIN_HEADER_BYTES`]).
    pub fn with_max_header_bytes(mut self, bytes: usize) -> HttpsHandler {
        self.max_header_bytes = bytes.max(MIN_HEADER_BYTES);
        self
    }
}

impl SessionHandler for HttpsHandler {
    fn handle(
        &self,
        stream: Box<dyn IoStream>,
        session: SessionInfo,
        shutdown: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let router = self.router.clone();
        let max_header_bytes = self.max_header_bytes;
        Box::pin(async move {
            let peer = Peer(session.peer);
            let certificate = session.peer_certificate.clone().map(ClientCertificate);
            let service =
                hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(peer);
                    if let Some(c) = &certificate {
                        req.extensions_mut().insert(c.clone());
                    }
                    let router = router.clone();
                    async move {
                        use tower::ServiceExt;
                        router.oneshot(req.map(Body::new)).await
                    }
                });
            let mut builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            // The timer arms hyper's header-read deadline: a client trickling headers
            // (slowloris) cannot hold a connection slot for ever.
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(max_header_bytes)
                .max_headers(MAX_HEADERS);
            builder
                .http2()
                .timer(hyper_util::rt::TokioTimer::new())
                .max_header_list_size(u32::try_from(max_header_bytes).unwrap_or(u32::MAX));
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
