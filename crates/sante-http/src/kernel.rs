//! The kernel's shared state and the application: the areas' routers merged under
//! the layers every request goes through (request id, security headers, metrics and
//! the log line), and the kernel's own routes (health, readiness, metrics, the
//! stylesheet, the language form).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sante_audit::{Action, Actor, AuditEvent, EventKind, Outcome, Recorder, Token};
use sante_types::{Clock, Service};

use crate::csrf::CsrfForm;
use crate::i18n::Lang;
use crate::layout::NavItem;
use crate::metrics::Metrics;
use crate::portal::{Origin, Portal};
use crate::routes::{Access, Area, RouteSpec, Routes};
use crate::{HttpConfig, HttpError, Readiness, RequestId};

/// What the kernel is made of; the binary gives it.
pub struct KernelParts {
    pub config: HttpConfig,
    pub readiness: Arc<dyn Readiness>,
    /// Where page views and refused forms are traced.
    pub recorder: Arc<dyn Recorder>,
    pub clock: Arc<dyn Clock>,
    /// The security directory: the session behind a cookie, checked at every request.
    pub identity: sante_identity::Identity,
    /// The terms of use a service page requires.
    pub terms: sante_terms::Terms,
    /// The main navigation, from the areas.
    pub nav: Vec<NavItem>,
}

/// What every area's handlers share, through their state (`Kernel: FromRef<S>`).
#[derive(Clone)]
pub struct Kernel {
    inner: Arc<Inner>,
}

struct Inner {
    config: HttpConfig,
    csp: HeaderValue,
    default_lang: Lang,
    readiness: Arc<dyn Readiness>,
    recorder: Arc<dyn Recorder>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    identity: sante_identity::Identity,
    terms: sante_terms::Terms,
    nav: Arc<[NavItem]>,
}

impl Kernel {
    pub fn new(parts: KernelParts) -> Kernel {
        let default_lang = Lang::parse(&parts.config.default_lang).unwrap_or(Lang::Fr);
        let csp = HeaderValue::from_str(&content_security_policy(&parts.config))
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
        let mut nav = parts.nav;
        nav.sort_by_key(|item| item.order);
        Kernel {
            inner: Arc::new(Inner {
                config: parts.config,
                csp,
                default_lang,
                readiness: parts.readiness,
                recorder: parts.recorder,
                clock: parts.clock,
                metrics: Metrics::default(),
                identity: parts.identity,
                terms: parts.terms,
                nav: nav.into(),
            }),
        }
    }

    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn identity(&self) -> &sante_identity::Identity {
        &self.inner.identity
    }

    pub fn terms(&self) -> &sante_terms::Terms {
        &self.inner.terms
    }

    pub(crate) fn default_lang(&self) -> Lang {
        self.inner.default_lang
    }

    pub(crate) fn nav(&self) -> Arc<[NavItem]> {
        self.inner.nav.clone()
    }

    /// The portal's own address, without a trailing slash.
    pub fn public_url(&self) -> &str {
        self.inner.config.public_url.trim_end_matches('/')
    }

    /// Records an event of the portal (`route` is the route template); an untraced
    /// access must not proceed (PLT-6).
    pub async fn trace(
        &self,
        origin: &Origin,
        kind: EventKind,
        route: &str,
        outcome: Outcome,
    ) -> Result<(), HttpError> {
        self.trace_by(origin, kind, route, Actor::default(), outcome)
            .await
    }

    /// Traces a portal read by the person who made it.
    pub async fn trace_by(
        &self,
        origin: &Origin,
        kind: EventKind,
        route: &str,
        actor: Actor,
        outcome: Outcome,
    ) -> Result<(), HttpError> {
        let event = AuditEvent::new(
            kind,
            self.inner.clock.now(),
            actor,
            Service::Portal,
            Action::Read,
        )
        .resource(
            Token::code("http-route"),
            Token::new(route_token(route)).map_err(|e| HttpError::Internal(e.to_string()))?,
        )
        .source(origin.source())
        .outcome(outcome);
        self.inner
            .recorder
            .record(event)
            .await
            .map_err(|e| HttpError::Unavailable(e.to_string()))
    }
}

/// A route template in the trail's alphabet: `{id}` and `{*rest}` become `:id` and
/// `:rest`, a FHIR operation's `$` becomes `=` (`/fhir/Patient/=match`), so that every
/// route can be traced (a template the trail refused would make the access untraced,
/// a 500).
pub fn route_token(route: &str) -> String {
    route
        .chars()
        .filter_map(|c| match c {
            '{' => Some(':'),
            '}' | '*' => None,
            '$' => Some('='),
            c => Some(c),
        })
        .collect()
}

/// The whole application and its route table.
pub struct App {
    pub router: Router,
    /// Every route of the kernel and the areas, with who may reach it.
    pub routes: Vec<RouteSpec>,
}

/// The whole application: the kernel's routes and the areas' (each with its state
/// already given), under the layers every request goes through.
pub fn app(kernel: &Kernel, areas: impl IntoIterator<Item = Area>) -> App {
    let own = Routes::new()
        .post("/lang", Access::Public, switch_language)
        .get("/healthz", Access::Public, healthz)
        .get("/readyz", Access::Public, readyz)
        // Request counters by route and status: no person, no content.
        .get("/metrics", Access::Public, metrics_text)
        .get("/static/sante.css", Access::Public, stylesheet);
    let (own, mut routes) = own.into_parts();
    let mut router: Router = own.fallback(not_found).with_state(kernel.clone());
    for area in areas {
        routes.extend(area.routes);
        router = router.merge(area.router);
    }
    let router = router
        .route_layer(middleware::from_fn_with_state(kernel.clone(), observe))
        .layer(middleware::from_fn_with_state(
            kernel.clone(),
            security_headers,
        ))
        // The gate of signed-in routes finds the kernel here (routes are built
        // before their state is given).
        .layer(axum::Extension(kernel.clone()))
        .layer(middleware::from_fn(request_id));
    App { router, routes }
}

/// The content security policy: no inline script, nothing from elsewhere. Forms may
/// also go to the portal's other origin (the card login listener and the portal send
/// the browser to each other after a form), and nowhere else.
fn content_security_policy(config: &HttpConfig) -> String {
    let origin = |url: &str| {
        let url = url.trim_end_matches('/');
        // An origin is scheme, host and port: no path, no quote or separator.
        let rest = url.strip_prefix("https://")?;
        (!rest.contains('/') && !url.contains(|c: char| c == ';' || c == '\'' || c.is_whitespace()))
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

async fn security_headers(State(kernel): State<Kernel>, req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, kernel.inner.csp.clone());
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
async fn observe(State(kernel): State<Kernel>, req: Request, next: Next) -> Response {
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
    kernel
        .inner
        .metrics
        .observe(&method, &route, status, seconds);
    tracing::info!(request_id = %id, method = %method, route = %route, status, latency_ms = seconds * 1000.0, "request");
    res
}

/// The visitor's language: the `lang` cookie (set by the language form), then
/// `Accept-Language`, then the configured default. Never a query parameter: changing it
/// is a form, protected like every form.
pub(crate) fn language(kernel: &Kernel, headers: &HeaderMap) -> Lang {
    crate::csrf::read_cookie(headers, "lang")
        .and_then(Lang::parse)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::negotiate)
        })
        .unwrap_or(kernel.default_lang())
}

fn with_lang_cookie(kernel: &Kernel, mut res: Response, lang: Lang) -> Response {
    // Not HttpOnly: a preference, not a secret. Lax so that arriving from a link keeps it.
    let secure = if kernel.config().cookie_secure {
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
    State(kernel): State<Kernel>,
    portal: Portal,
    CsrfForm(form): CsrfForm<LangForm>,
) -> Response {
    let Some(lang) = form.lang.as_deref().and_then(Lang::parse) else {
        return portal.error(HttpError::BadRequest);
    };
    // Only local paths: never an open redirect.
    let next = form
        .next
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/".to_owned());
    with_lang_cookie(&kernel, Redirect::to(&next).into_response(), lang)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(kernel): State<Kernel>) -> Response {
    match kernel.inner.readiness.check().await {
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

async fn metrics_text(State(kernel): State<Kernel>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        kernel.inner.metrics.encode(),
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
async fn not_found(State(kernel): State<Kernel>, portal: Portal, req: Request) -> Response {
    let started = Instant::now();
    let res = portal.error(HttpError::NotFound);
    let seconds = started.elapsed().as_secs_f64();
    let method = req.method().as_str();
    kernel
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
