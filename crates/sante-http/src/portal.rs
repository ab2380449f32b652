//! What a portal handler knows of its request, in one extractor: [`Portal`] gives the
//! visitor's language, the page layout (with the CSRF token of its forms, the cookie
//! set on the way out when the browser has none yet), who and where for the audit
//! trail ([`Origin`]), and the session behind the cookie, checked by the security
//! directory at every request. Service pages ask [`Portal::require_service`], which
//! also checks the level of assurance and the terms of use of the service.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRef, FromRequestParts, MatchedPath};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use sante_audit::{EventKind, Outcome, Source, Token};
use sante_identity::{Authenticated, IdentityError};
use sante_types::{Coded, PeerCertificate, Service};

use crate::csrf;
use crate::i18n::{Lang, Text};
use crate::kernel::{Kernel, language};
use crate::layout::Layout;
use crate::{ClientCertificate, HttpError, Peer, RequestId};

/// The session cookie: `__Host-` (Secure, Path=/, no Domain) so that no other origin,
/// not even a sibling subdomain, can set or read it; HttpOnly and SameSite=Strict.
pub const SESSION_COOKIE: &str = "__Host-sante-session";
/// Its name without `Secure`, for a deployment that terminates TLS elsewhere in tests.
pub const SESSION_COOKIE_INSECURE: &str = "sante-session";

/// Who and where a request came from, for the audit trail.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<IpAddr>,
    pub request_id: Option<Token>,
}

impl Origin {
    /// The origin of a request, from what the handler and the outer layer set.
    pub fn of(extensions: &http::Extensions) -> Origin {
        Origin {
            ip: extensions.get::<Peer>().map(|p| p.0.ip()),
            request_id: extensions
                .get::<RequestId>()
                .and_then(|r| Token::new(r.0.clone()).ok()),
        }
    }

    /// Where the request came from, as the audit trail records it.
    pub fn source(&self) -> Source {
        Source {
            ip: self.ip,
            request_id: self.request_id.clone(),
            channel: Token::new("https").ok(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Origin::of(&parts.extensions))
    }
}

/// A redirection to `to` (303, so that a form's POST becomes a GET).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The terms page for `services` (none: the general terms), continuing to `target`.
pub fn terms_url(target: &str, services: Option<&[Service]>) -> String {
    let mut params = vec![("continue", target.to_owned())];
    for s in services.unwrap_or_default() {
        params.push(("service", s.as_str().to_owned()));
    }
    format!(
        "/terms?{}",
        serde_urlencoded::to_string(&params).unwrap_or_default()
    )
}

/// A local path to continue to after a login: only our own pages, never an open
/// redirect (no scheme, no `//`, no backslash).
pub fn safe_continue(path: &str) -> Option<&str> {
    (path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && path.len() <= 4096
        && !path.chars().any(|c| c.is_control()))
    .then_some(path)
}

/// A portal request, as its handler needs it.
pub struct Portal {
    kernel: Kernel,
    pub lang: Lang,
    pub layout: Layout,
    pub origin: Origin,
    route: String,
    path: String,
    headers: HeaderMap,
    certificate: Option<Arc<PeerCertificate>>,
    /// The CSRF cookie to set, when the browser had none.
    new_csrf: Option<String>,
    /// The session the route's gate checked for this request.
    checked: Option<Authenticated>,
}

/// The session [`require_session`] checked, handed to the handler's [`Portal`].
#[derive(Clone)]
struct CheckedSession(Authenticated);

/// The gate of the routes for signed-in people ([`crate::Access::SignedIn`] and the
/// qualities): the request goes on with a valid session only, otherwise to the login
/// page, before any extractor has read its body.
pub(crate) async fn require_session(req: axum::extract::Request, next: Next) -> Response {
    let Some(kernel) = req.extensions().get::<Kernel>().cloned() else {
        // Mounted outside the kernel's application: no session can be checked, so
        // nothing passes.
        tracing::error!("a gated route was reached outside the kernel's application");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let (mut parts, body) = req.into_parts();
    let portal = Portal::new(kernel, &parts);
    match portal.session().await {
        Ok(Some(who)) => {
            parts.extensions.insert(CheckedSession(who));
            next.run(axum::extract::Request::from_parts(parts, body))
                .await
        }
        Ok(None) => portal.to_login(),
        Err(refused) => refused,
    }
}

impl<S> FromRequestParts<S> for Portal
where
    Kernel: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        let kernel = Kernel::from_ref(state);
        Ok(Portal::new(kernel, parts))
    }
}

impl Portal {
    /// The portal request of `parts` (what the extractor does, for extractors of areas).
    pub fn new(kernel: Kernel, parts: &Parts) -> Portal {
        let lang = language(&kernel, &parts.headers);
        let secure = kernel.config().cookie_secure;
        let (cookie, new_csrf) = match csrf::read_cookie(&parts.headers, csrf::cookie_name(secure))
        {
            Some(v) if v.len() >= 16 => (v.to_owned(), None),
            _ => {
                let v = csrf::new_cookie_value();
                (v.clone(), Some(v))
            }
        };
        let token = csrf::token(kernel.config().secret.bytes(), &cookie);
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let nav = kernel.nav();
        // The language switcher comes back to a page that answers GET: this one, or
        // for a form's answer the entry of its area.
        let next = if parts.method == Method::GET {
            path.clone()
        } else {
            let probe = Layout::new(
                lang,
                String::new(),
                String::new(),
                nav.clone(),
                parts.uri.path(),
            );
            probe
                .current
                .and_then(|i| nav.get(i))
                .map(|item| item.href.to_owned())
                .unwrap_or_else(|| "/".to_owned())
        };
        let layout = Layout::new(lang, token, next, nav, parts.uri.path());
        Portal {
            lang,
            layout,
            origin: Origin::of(&parts.extensions),
            route: parts
                .extensions
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "unmatched".to_owned()),
            path,
            headers: parts.headers.clone(),
            certificate: ClientCertificate::of(&parts.extensions),
            new_csrf,
            checked: parts
                .extensions
                .get::<CheckedSession>()
                .map(|c| c.0.clone()),
            kernel,
        }
    }

    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The path and query of the request.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The route template the request matched.
    pub fn route(&self) -> &str {
        &self.route
    }

    /// The card certificate the TLS session presented, verified.
    pub fn certificate(&self) -> Option<&PeerCertificate> {
        self.certificate.as_deref()
    }

    /// `res`, with the CSRF cookie when the browser needs one.
    pub fn respond(&self, mut res: Response) -> Response {
        if let Some(value) = &self.new_csrf
            && let Ok(v) =
                HeaderValue::from_str(&csrf::set_cookie(value, self.kernel.config().cookie_secure))
        {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
        res
    }

    /// A page, answered with `status`.
    pub fn render(&self, page: &impl Template, status: StatusCode) -> Response {
        match page.render() {
            Ok(html) => self.respond((status, Html(html)).into_response()),
            Err(e) => self.error(HttpError::Internal(e.to_string())),
        }
    }

    /// A page, answered 200.
    pub fn page(&self, page: &impl Template) -> Response {
        self.render(page, StatusCode::OK)
    }

    /// A personal page: answered 200, never cached anywhere.
    pub fn personal_page(&self, page: &impl Template) -> Response {
        let mut res = self.page(page);
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }

    /// The error page for `error`.
    pub fn error(&self, error: HttpError) -> Response {
        self.respond(error.page(&self.layout))
    }

    /// The error page for `error`, saying `text` instead of the general explanation.
    pub fn error_saying(&self, error: HttpError, text: impl Text) -> Response {
        self.respond(error.page_saying(&self.layout, Some(self.lang.t(text))))
    }

    /// The error page for any error of the platform, by its kind.
    pub fn failure<E: Coded>(&self, e: &E) -> Response {
        self.error(HttpError::from_error(e))
    }

    /// A redirection to `to`, with the CSRF cookie when needed.
    pub fn redirect(&self, to: &str) -> Response {
        self.respond(see_other(to))
    }

    /// Records the view of this page (its route template); an untraced page is not
    /// shown.
    pub async fn trace_view(&self) -> Result<(), Response> {
        self.kernel
            .trace(
                &self.origin,
                EventKind::PortalPageViewed,
                &self.route,
                Outcome::Success,
            )
            .await
            .map_err(|e| self.error(e))
    }

    /// Traces this request as `kind`, done by `actor` (a person reading his own data).
    pub async fn trace_by(
        &self,
        kind: EventKind,
        actor: sante_audit::Actor,
    ) -> Result<(), Response> {
        self.kernel
            .trace_by(&self.origin, kind, &self.route, actor, Outcome::Success)
            .await
            .map_err(|e| self.error(e))
    }

    fn session_cookie_name(&self) -> &'static str {
        if self.kernel.config().cookie_secure {
            SESSION_COOKIE
        } else {
            SESSION_COOKIE_INSECURE
        }
    }

    /// The session secret the browser presented.
    pub fn session_secret(&self) -> Option<&str> {
        csrf::read_cookie(&self.headers, self.session_cookie_name())
    }

    /// Sets (or with `None` clears) the session cookie on `res`.
    pub fn set_session_cookie(&self, res: &mut Response, secret: Option<&str>) {
        let cookie = csrf::strict_cookie(
            self.session_cookie_name(),
            secret,
            self.kernel.config().cookie_secure,
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }

    /// The person behind the session cookie, checked now by the security directory
    /// (account state, credentials, timeouts); `None` without a valid session.
    pub async fn session(&self) -> Result<Option<Authenticated>, Response> {
        if let Some(who) = &self.checked {
            return Ok(Some(who.clone()));
        }
        let Some(secret) = self.session_secret() else {
            return Ok(None);
        };
        match self
            .kernel
            .identity()
            .authenticate(secret, &self.origin.source())
            .await
        {
            Ok(who) => Ok(Some(who)),
            Err(
                IdentityError::NoSession
                | IdentityError::SessionRefused(_)
                | IdentityError::NotFound(_),
            ) => Ok(None),
            Err(e) => Err(self.failure(&e)),
        }
    }

    /// The login page, continuing to this page once logged in.
    pub fn to_login(&self) -> Response {
        let to = format!(
            "/login?{}",
            serde_urlencoded::to_string([("continue", self.login_return())]).unwrap_or_default()
        );
        self.redirect(&to)
    }

    /// Where a login should come back to: this page if it answers GET, else its area
    /// (the language switcher's destination).
    fn login_return(&self) -> &str {
        &self.layout.next
    }

    /// The person logged in, or the login page.
    pub async fn require_login(&self) -> Result<Authenticated, Response> {
        match self.session().await? {
            Some(who) => Ok(who),
            None => Err(self.to_login()),
        }
    }

    /// The person logged in, if he may use `service` now: a login at the level the
    /// service asks for his quality (refused with `too_weak`), and the service's
    /// current terms of use accepted (otherwise the terms page, coming back here).
    pub async fn require_service(
        &self,
        service: Service,
        too_weak: impl Text,
    ) -> Result<Authenticated, Response> {
        let who = self.require_login().await?;
        let source = self.origin.source();
        if let Err(e) = self
            .kernel
            .identity()
            .authorise_service(&who, service, &source)
            .await
        {
            return Err(if e.kind().is_platform_fault() {
                self.failure(&e)
            } else {
                self.error_saying(HttpError::Denied, too_weak)
            });
        }
        let actor = sante_audit::Actor {
            person: Token::new(who.account.clone()).ok(),
            quality: Some(who.quality),
            ..sante_audit::Actor::default()
        };
        match self
            .kernel
            .terms()
            .require(actor, &who.account, service, &source)
            .await
        {
            Ok(()) => Ok(who),
            Err(sante_terms::TermsError::NotAccepted(_)) => {
                Err(self.redirect(&terms_url(self.login_return(), Some(&[service]))))
            }
            Err(e) => Err(self.failure(&e)),
        }
    }
}
