//! The HTTPS front end: portal pages, health, readiness and metrics.
//!
//! One axum router serves everything over the TLS sessions handed over by `sante-net`.
//! Layers give every request an id, security headers (CSP without inline script,
//! HSTS...), one structured log line and its metrics; portal pages are traced in the
//! audit trail before they are answered.
//!
//! Architecture invariant: never depends on `sante-store`. Data is reached through
//! service APIs that decide access; this crate only knows HTTP.

// Helpers return a ready `Response` as their error, which the handler returns at once:
// its size does not matter.
#![allow(clippy::result_large_err)]

mod account;
mod credentials;
pub mod csrf;
mod directory_page;
mod dsp_pages;
mod error;
mod fhir;
mod fhir_dsp;
mod i18n;
pub mod mail_setup;
mod metrics;
mod oidc;
mod pages;
mod terms;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sante_audit::{Action, Actor, AuditEvent, EventKind, Outcome, Recorder, Source, Token};
use sante_net::{IoStream, Listener, SessionHandler, SessionInfo};
use sante_types::{Clock, Service};
use tokio_util::sync::CancellationToken;

pub use credentials::ClientCertificate;
pub use csrf::{CsrfForm, CsrfJson};
pub use error::HttpError;
pub use fhir::ServiceClient;
pub use i18n::{Lang, Msg};

/// Configuration of the HTTP front end.
#[derive(Clone)]
pub struct HttpConfig {
    pub public_url: String,
    /// `fr`, `de` or `en`.
    pub default_lang: String,
    /// Mark cookies `Secure` (always true in production; the server only speaks HTTPS).
    pub cookie_secure: bool,
    /// HMAC key of CSRF tokens.
    pub secret: [u8; 32],
    /// The URL of the listener that asks for client certificates (card login), when
    /// there is one.
    pub mtls_url: Option<String>,
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("public_url", &self.public_url)
            .field("default_lang", &self.default_lang)
            .finish_non_exhaustive()
    }
}

/// The ALPN protocols to give `sante_net::server_tls_config` for HTTPS: HTTP/2 first.
pub const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// Whether the server can serve: implemented by the binary (database and blob store).
pub trait Readiness: Send + Sync {
    /// `Ok` when ready; otherwise the reason, shown in `/readyz` (so nothing secret).
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// Everything handlers share.
#[derive(Clone)]
pub struct HttpState {
    inner: Arc<Inner>,
}

struct Inner {
    config: HttpConfig,
    csp: HeaderValue,
    default_lang: Lang,
    readiness: Arc<dyn Readiness>,
    recorder: Arc<dyn Recorder>,
    clock: Arc<dyn Clock>,
    metrics: metrics::Metrics,
    directory: Option<sante_directory::Directory>,
    identity: Option<sante_identity::Identity>,
    sso: Option<sante_sso::Provider>,
    terms: Option<sante_terms::Terms>,
    dsp: Option<sante_dsp::DspService>,
    mail_setup: Option<mail_setup::MailSetup>,
    service_clients: Vec<fhir::ServiceClient>,
}

impl HttpState {
    pub fn new(
        config: HttpConfig,
        readiness: Arc<dyn Readiness>,
        recorder: Arc<dyn Recorder>,
        clock: Arc<dyn Clock>,
    ) -> HttpState {
        let default_lang = Lang::parse(&config.default_lang).unwrap_or(Lang::Fr);
        let csp = HeaderValue::from_str(&content_security_policy(&config))
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
        HttpState {
            inner: Arc::new(Inner {
                csp,
                config,
                default_lang,
                readiness,
                recorder,
                clock,
                metrics: metrics::Metrics::default(),
                directory: None,
                identity: None,
                sso: None,
                terms: None,
                dsp: None,
                mail_setup: None,
                service_clients: Vec::new(),
            }),
        }
    }

    /// The platform services that may call the patient directory (bearer tokens).
    pub fn with_service_clients(mut self, clients: Vec<fhir::ServiceClient>) -> HttpState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.service_clients = clients;
        }
        self
    }

    /// Serves the directories (the public search page, the FHIR APIs) from `directory`.
    /// Without one, those routes answer 503.
    pub fn with_directory(mut self, directory: sante_directory::Directory) -> HttpState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.directory = Some(directory);
        }
        self
    }
}

impl HttpState {
    /// Serves the shared care record (its FHIR API and portal pages) with `dsp`.
    pub fn with_dsp(mut self, dsp: sante_dsp::DspService) -> HttpState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.dsp = Some(dsp);
        }
        self
    }

    /// Answers mail programs' autoconfiguration with `setup`.
    pub fn with_mail_setup(mut self, setup: mail_setup::MailSetup) -> HttpState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.mail_setup = Some(setup);
        }
        self
    }

    /// Asks for the acceptance of the terms of use with `terms`.
    pub fn with_terms(mut self, terms: sante_terms::Terms) -> HttpState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.terms = Some(terms);
        }
        self
    }

    /// Serves single sign-on (OpenID Connect) with `provider`.
    pub fn with_sso(mut self, provider: sante_sso::Provider) -> HttpState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.sso = Some(provider);
        }
        self
    }

    /// Serves the account pages (login, activation, sessions) with `identity`.
    /// Without one, login is unavailable and no page has a session.
    pub fn with_identity(mut self, identity: sante_identity::Identity) -> HttpState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.identity = Some(identity);
        }
        self
    }
}

/// The peer of the connection, set by [`HttpsHandler`].
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The request id, set by the outermost layer.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The whole HTTP application.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/lang", post(switch_language))
        .route("/directory", get(directory_page::search_page))
        .route(
            "/login",
            get(account::login_page).post(account::login_submit),
        )
        .route(
            "/activate",
            get(account::activate_page).post(account::activate_submit),
        )
        .route("/account", get(account::account_page))
        .route("/account/sessions/end", post(account::end_session))
        .route("/account/lost", post(account::report_lost))
        .route(
            "/login/certificate",
            get(credentials::card_login_form).post(credentials::card_login_submit),
        )
        .route(
            "/activate/certificate",
            get(credentials::card_activate_form).post(credentials::card_activate_submit),
        )
        .route(
            "/login/passkey/begin",
            post(credentials::passkey_login_begin),
        )
        .route(
            "/login/passkey/finish",
            post(credentials::passkey_login_finish),
        )
        .route(
            "/activate/passkey/begin",
            post(credentials::passkey_activation_begin),
        )
        .route(
            "/activate/passkey/finish",
            post(credentials::passkey_activation_finish),
        )
        .route(
            "/account/passkey/begin",
            post(credentials::passkey_enrolment_begin),
        )
        .route(
            "/account/passkey/finish",
            post(credentials::passkey_enrolment_finish),
        )
        .route(
            "/account/app-passwords",
            post(credentials::create_app_password),
        )
        .route(
            "/account/app-passwords/revoke",
            post(credentials::revoke_app_password),
        )
        .route("/static/webauthn.js", get(credentials::webauthn_script))
        .route("/dsp", get(dsp_pages::holder_page))
        .route("/dsp/history", get(dsp_pages::history_page))
        .route("/dsp/controls", get(dsp_pages::controls_page))
        .route("/dsp/controls/{action}", post(dsp_pages::controls_action))
        .route("/dsp/document/{id}", get(dsp_pages::holder_document))
        .route(
            "/dsp/document/{id}/content",
            get(dsp_pages::document_content),
        )
        .route(
            "/dsp/document/{id}/{action}",
            post(dsp_pages::document_action),
        )
        .route("/dsp/{action}", post(dsp_pages::holder_action))
        .route("/pro/dsp", get(dsp_pages::pro_page))
        .route("/pro/dsp/code", post(dsp_pages::pro_redeem))
        .route("/pro/dsp/patient", get(dsp_pages::pro_patient))
        .route("/pro/dsp/patient/{holder}/file", post(dsp_pages::pro_file))
        .route("/pro/dsp/document/{id}", get(dsp_pages::pro_document))
        .route(
            "/pro/dsp/document/{id}/content",
            get(dsp_pages::document_content),
        )
        .route("/terms", get(terms::terms_page))
        .route("/terms/accept", post(terms::accept))
        .route("/logout", post(account::logout))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/static/sante.css", get(stylesheet))
        .merge(fhir_dsp::routes())
        .merge(fhir::routes())
        .merge(oidc::routes())
        .merge(mail_setup::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), observe))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// The content security policy: no inline script, nothing from elsewhere. Forms may
/// also go to the portal's other origin (the card login listener and the portal send
/// the browser to each other after a form), and nowhere else.
fn content_security_policy(config: &HttpConfig) -> String {
    let origin = |url: &str| {
        let url = url.trim_end_matches('/');
        // An origin is scheme, host and port: no path, no quote or separator.
        (url.starts_with("https://")
            && !url[8..].contains('/')
            && !url.contains(|c: char| c == ';' || c == '\'' || c.is_whitespace()))
        .then(|| url.to_owned())
    };
    let mut form_action = vec!["'self'".to_owned()];
    form_action.extend(origin(&config.public_url));
    form_action.extend(config.mtls_url.as_deref().and_then(origin));
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action {}; \
         base-uri 'none'; object-src 'none'",
        form_action.join(" ")
    )
}

async fn request_id(mut req: Request, next: Next) -> Response {
    // Always generated here: a client-supplied id could be used to forge log joins.
    let id = uuid::Uuid::now_v7().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

async fn security_headers(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, state.inner.csp.clone());
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    );
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// One log line and the metrics of every routed request: method, route template,
/// status, latency, request id. Never the query, body, cookies or authorisation.
async fn observe(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    state
        .inner
        .metrics
        .observe(&method, &route, status, seconds);
    tracing::info!(request_id = %id, method = %method, route = %route, status, latency_ms = seconds * 1000.0, "request");
    res
}

/// The visitor's language: the `lang` cookie (set by the language form), then
/// `Accept-Language`, then the configured default. Never a query parameter: changing it
/// is a form, protected like every form.
fn language(state: &HttpState, headers: &HeaderMap) -> Lang {
    csrf::read_cookie(headers, "lang")
        .and_then(Lang::parse)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::negotiate)
        })
        .unwrap_or(state.inner.default_lang)
}

/// The layout of a page, and the CSRF cookie to set if the browser has none yet.
fn layout(
    state: &HttpState,
    headers: &HeaderMap,
    lang: Lang,
    next: &str,
    active: &'static str,
) -> (pages::Layout, Option<String>) {
    let name = csrf::cookie_name(state.inner.config.cookie_secure);
    let (cookie, new) = match csrf::read_cookie(headers, name) {
        Some(v) if v.len() >= 16 => (v.to_owned(), None),
        _ => {
            let v = csrf::new_cookie_value();
            (v.clone(), Some(v))
        }
    };
    let token = csrf::token(&state.inner.config.secret, &cookie);
    (
        pages::Layout {
            lang,
            csrf: token,
            next: next.to_owned(),
            active,
        },
        new,
    )
}

fn with_cookie(state: &HttpState, mut res: Response, cookie: Option<String>) -> Response {
    if let Some(value) = cookie
        && let Ok(v) =
            HeaderValue::from_str(&csrf::set_cookie(&value, state.inner.config.cookie_secure))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Who and where, for the audit trail.
struct Caller {
    ip: Option<IpAddr>,
    request_id: Option<Token>,
}

impl Caller {
    /// Where the request came from, for the audit trail.
    fn source(&self) -> Source {
        Source {
            ip: self.ip,
            request_id: self.request_id.clone(),
            channel: Token::new("https").ok(),
        }
    }

    fn from(req_ext: &http::Extensions) -> Caller {
        Caller {
            ip: req_ext.get::<Peer>().map(|p| p.0.ip()),
            request_id: req_ext
                .get::<RequestId>()
                .and_then(|r| Token::new(r.0.clone()).ok()),
        }
    }
}

/// Records a portal event; an untraced access must not proceed (PLT-6).
async fn trace(
    state: &HttpState,
    caller: &Caller,
    kind: EventKind,
    route: &str,
    outcome: Outcome,
) -> Result<(), HttpError> {
    let event = AuditEvent::new(
        kind,
        state.inner.clock.now(),
        Actor::default(),
        Service::Portal,
        Action::Read,
    )
    .resource(
        Token::code("http-route"),
        Token::new(route).map_err(|e| HttpError::Internal(e.to_string()))?,
    )
    .source(caller.source())
    .outcome(outcome);
    state
        .inner
        .recorder
        .record(event)
        .await
        .map_err(|e| HttpError::Unavailable(e.to_string()))
}

async fn home(State(state): State<HttpState>, req: Request) -> Response {
    let headers = req.headers();
    let caller = Caller::from(req.extensions());
    let lang = language(&state, headers);
    let (layout, cookie) = layout(&state, headers, lang, "/", "home");
    if let Err(e) = trace(
        &state,
        &caller,
        EventKind::PortalPageViewed,
        "/",
        Outcome::Success,
    )
    .await
    {
        return with_cookie(&state, e.page(&layout), cookie);
    }
    let res = match pages::home(&layout) {
        Ok(html) => Html(html).into_response(),
        Err(e) => HttpError::Internal(e.to_string()).page(&layout),
    };
    with_cookie(&state, res, cookie)
}

fn with_lang_cookie(state: &HttpState, mut res: Response, lang: Lang) -> Response {
    // Not HttpOnly: a preference, not a secret. Lax so that arriving from a link keeps it.
    let secure = if state.inner.config.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "lang={}; Path=/{secure}; SameSite=Lax; Max-Age=31536000",
        lang.code()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[derive(serde::Deserialize)]
struct LangForm {
    lang: Option<String>,
    next: Option<String>,
}

async fn switch_language(
    State(state): State<HttpState>,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<LangForm>,
) -> Response {
    let Some(lang) = form.lang.as_deref().and_then(Lang::parse) else {
        let current = language(&state, &headers);
        let (layout, cookie) = layout(&state, &headers, current, "/", "");
        return with_cookie(&state, HttpError::BadRequest.page(&layout), cookie);
    };
    // Only local paths: never an open redirect.
    let next = form
        .next
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/".to_owned());
    with_lang_cookie(&state, Redirect::to(&next).into_response(), lang)
}

/// A JSON error for scripts: `{"error": message}`.
pub(crate) fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<HttpState>) -> Response {
    match state.inner.readiness.check().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ready"})),
        )
            .into_response(),
        Err(reason) => {
            tracing::warn!(reason = %reason, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "not ready", "reason": reason})),
            )
                .into_response()
        }
    }
}

async fn metrics_text(State(state): State<HttpState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.inner.metrics.encode(),
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/sante.css"),
    )
        .into_response()
}

/// Unrouted requests: outside `observe` (which needs a matched route), so counted and
/// logged here under the one label `unmatched`: the raw path may hold an identifier.
async fn not_found(State(state): State<HttpState>, req: Request) -> Response {
    let started = Instant::now();
    let headers = req.headers();
    let lang = language(&state, headers);
    let (layout, cookie) = layout(&state, headers, lang, "/", "");
    let res = with_cookie(&state, HttpError::NotFound.page(&layout), cookie);
    let seconds = started.elapsed().as_secs_f64();
    let method = req.method().as_str();
    state
        .inner
        .metrics
        .observe(method, "unmatched", res.status().as_u16(), seconds);
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.as_str())
        .unwrap_or_default();
    tracing::info!(request_id = %id, method = %method, route = "unmatched", status = res.status().as_u16(), latency_ms = seconds * 1000.0, "request");
    res
}

const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the portal on a bound listener until `shutdown` is cancelled, then lets
/// requests in flight finish for up to `grace`. The listener's TLS configuration should
/// offer [`ALPN`].
pub async fn serve_https(
    listener: Listener,
    state: HttpState,
    shutdown: CancellationToken,
    grace: Duration,
) {
    listener
        .serve(HttpsHandler::new(router(state)), shutdown, grace)
        .await;
}

/// Serves the router over the sessions of a `sante-net` listener: HTTP/1.1 or HTTP/2
/// as negotiated by ALPN, with graceful shutdown.
#[derive(Clone)]
pub struct HttpsHandler {
    router: Router,
}

impl HttpsHandler {
    pub fn new(router: Router) -> HttpsHandler {
        HttpsHandler { router }
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
                .header_read_timeout(HEADER_READ_TIMEOUT);
            builder.http2().timer(hyper_util::rt::TokioTimer::new());
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
