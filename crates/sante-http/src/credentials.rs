//! The portal's strong credentials: the card's certificate (mutual TLS, on the
//! listener that asks clients for a certificate), passkeys (WebAuthn, through
//! `static/webauthn.js`), and professionals' application passwords for their mail
//! programs. Every decision is the identity service's; this module only carries the
//! certificate the TLS layer verified and the browser's WebAuthn messages.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use sante_audit::{EventKind, Outcome};
use sante_identity::{ActivationProof, IdentityError};
use sante_types::{PeerCertificate, Quality, Service};

use crate::account::{
    QUALITIES, account_view, authenticated, client_description, holder_action, parse_quality,
    render, see_other, set_session_cookie,
};
use crate::csrf::{CsrfForm, CsrfJson};
use crate::i18n::{Lang, Msg};
use crate::{Caller, HttpError, HttpState, json_error, language, layout, trace, with_cookie};

/// The client certificate of the request's TLS session, set by the HTTPS handler.
#[derive(Debug, Clone)]
pub struct ClientCertificate(pub Arc<PeerCertificate>);

fn certificate(extensions: &http::Extensions) -> Option<Arc<PeerCertificate>> {
    extensions.get::<ClientCertificate>().map(|c| c.0.clone())
}

/// Where the portal itself is: pages of the certificate listener send the browser back
/// there once logged in.
fn portal(state: &HttpState) -> &str {
    state.inner.config.public_url.trim_end_matches('/')
}

#[derive(Template)]
#[template(path = "card_login.html")]
struct CardLoginPage<'a> {
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
    qualities: [(&'static str, Msg); 3],
    quality: &'a str,
    subject: Option<&'a str>,
    error: Option<Msg>,
    portal: &'a str,
    continue_to: &'a str,
}

#[derive(Template)]
#[template(path = "card_activate.html")]
struct CardActivatePage<'a> {
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
    subject: Option<&'a str>,
    login: &'a str,
    email: &'a str,
    error: Option<Msg>,
}

#[derive(Template)]
#[template(path = "activated.html")]
struct ActivatedPage<'a> {
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
    login: &'a str,
}

#[allow(clippy::too_many_arguments)]
fn card_login_page(
    state: &HttpState,
    layout: &crate::pages::Layout,
    continue_to: &str,
    cert: Option<&PeerCertificate>,
    quality: &str,
    error: Option<Msg>,
    status: StatusCode,
) -> Response {
    let page = CardLoginPage {
        lang: layout.lang,
        csrf: &layout.csrf,
        next: &layout.next,
        active: layout.active,
        languages: Lang::ALL,
        qualities: QUALITIES,
        quality,
        subject: cert.map(|c| c.subject.as_str()),
        error,
        portal: portal(state),
        continue_to: crate::account::safe_continue(continue_to).unwrap_or_default(),
    };
    render(page, status, layout)
}

async fn traced_page(
    state: &HttpState,
    headers: &HeaderMap,
    extensions: &http::Extensions,
    route: &'static str,
) -> Result<(crate::pages::Layout, Option<String>), Response> {
    let caller = Caller::from(extensions);
    let lang = language(state, headers);
    let (layout, cookie) = layout(state, headers, lang, route, "account");
    if let Err(e) = trace(
        state,
        &caller,
        EventKind::PortalPageViewed,
        route,
        Outcome::Success,
    )
    .await
    {
        return Err(with_cookie(state, e.page(&layout), cookie));
    }
    Ok((layout, cookie))
}

pub async fn card_login_form(State(state): State<HttpState>, req: Request) -> Response {
    let (layout, cookie) = match traced_page(
        &state,
        req.headers(),
        req.extensions(),
        "/login/certificate",
    )
    .await
    {
        Ok(l) => l,
        Err(res) => return res,
    };
    let cert = certificate(req.extensions());
    let query: crate::account::LoginQuery = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let page = card_login_page(
        &state,
        &layout,
        query.continue_to(),
        cert.as_deref(),
        "professional",
        None,
        StatusCode::OK,
    );
    with_cookie(&state, page, cookie)
}

#[derive(serde::Deserialize)]
pub struct CardLoginForm {
    #[serde(default)]
    quality: String,
    #[serde(default, rename = "continue")]
    continue_to: String,
}

pub async fn card_login_submit(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(form): CsrfForm<CardLoginForm>,
) -> Response {
    let caller = Caller::from(&extensions);
    let lang = language(&state, &headers);
    let (layout, cookie) = layout(&state, &headers, lang, "/login/certificate", "account");
    let respond = |res: Response| with_cookie(&state, res, cookie.clone());
    let Some(identity) = state.inner.identity.as_ref() else {
        return respond(HttpError::Unavailable("no identity service".into()).page(&layout));
    };
    let Some(quality) = parse_quality(&form.quality) else {
        return respond(HttpError::BadRequest.page(&layout));
    };
    let cert = certificate(&extensions);
    let Some(presented) = cert.as_deref() else {
        return respond(card_login_page(
            &state,
            &layout,
            &form.continue_to,
            None,
            &form.quality,
            None,
            StatusCode::UNAUTHORIZED,
        ));
    };
    let client = client_description(&headers);
    let error = match identity
        .login_certificate(presented, quality, &client, &caller.source())
        .await
    {
        Ok((secret, who)) => {
            let to = crate::terms::landing(
                &state,
                &who.account,
                crate::account::after_login(&form.continue_to),
            )
            .await;
            let mut res = see_other(&format!("{}{to}", portal(&state)));
            if let Some(v) = set_session_cookie(&state, Some(&secret)) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            return respond(res);
        }
        Err(IdentityError::BadCredentials) => Msg::CardUnknown,
        Err(IdentityError::CredentialRevoked) => Msg::CardRevoked,
        Err(IdentityError::Locked(_)) => Msg::AccountLocked,
        Err(IdentityError::Blocked) => Msg::AccountBlocked,
        Err(IdentityError::NotActivated) => Msg::AccountNotActivated,
        Err(IdentityError::Closed) => Msg::AccountClosed,
        Err(IdentityError::MethodChangeOverdue) => Msg::MethodChangeOverdue,
        Err(IdentityError::NetworkNotAllowed) => Msg::AgentNetwork,
        Err(e) => return respond(HttpError::Unavailable(e.to_string()).page(&layout)),
    };
    respond(card_login_page(
        &state,
        &layout,
        &form.continue_to,
        Some(presented),
        &form.quality,
        Some(error),
        StatusCode::UNAUTHORIZED,
    ))
}

fn card_activation_page(
    layout: &crate::pages::Layout,
    cert: Option<&PeerCertificate>,
    login: &str,
    email: &str,
    error: Option<Msg>,
    status: StatusCode,
) -> Response {
    let page = CardActivatePage {
        lang: layout.lang,
        csrf: &layout.csrf,
        next: &layout.next,
        active: layout.active,
        languages: Lang::ALL,
        subject: cert.map(|c| c.subject.as_str()),
        login,
        email,
        error,
    };
    render(page, status, layout)
}

pub async fn card_activate_form(State(state): State<HttpState>, req: Request) -> Response {
    let (layout, cookie) = match traced_page(
        &state,
        req.headers(),
        req.extensions(),
        "/activate/certificate",
    )
    .await
    {
        Ok(l) => l,
        Err(res) => return res,
    };
    let cert = certificate(req.extensions());
    let page = card_activation_page(&layout, cert.as_deref(), "", "", None, StatusCode::OK);
    with_cookie(&state, page, cookie)
}

#[derive(serde::Deserialize)]
pub struct ProofForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    national_id: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    email: String,
}

impl ProofForm {
    fn too_long(&self) -> bool {
        self.login.len() > 40
            || self.code.len() > 30
            || self.national_id.len() > 20
            || self.email.len() > 254
    }

    fn proof(&self) -> ActivationProof<'_> {
        ActivationProof {
            login: &self.login,
            national_id: &self.national_id,
            code: &self.code,
            email: &self.email,
        }
    }
}

pub async fn card_activate_submit(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(form): CsrfForm<ProofForm>,
) -> Response {
    let caller = Caller::from(&extensions);
    let lang = language(&state, &headers);
    let (layout, cookie) = layout(&state, &headers, lang, "/activate/certificate", "account");
    let respond = |res: Response| with_cookie(&state, res, cookie.clone());
    let Some(identity) = state.inner.identity.as_ref() else {
        return respond(HttpError::Unavailable("no identity service".into()).page(&layout));
    };
    if form.too_long() {
        return respond(HttpError::BadRequest.page(&layout));
    }
    let cert = certificate(&extensions);
    let Some(presented) = cert.as_deref() else {
        return respond(card_activation_page(
            &layout,
            None,
            &form.login,
            &form.email,
            None,
            StatusCode::UNAUTHORIZED,
        ));
    };
    let error = if !sante_identity::service::valid_email(form.email.trim()) {
        Msg::EmailInvalid
    } else {
        match identity
            .activate_with_certificate(&form.proof(), presented, &caller.source())
            .await
        {
            Ok(account) => {
                let page = ActivatedPage {
                    lang,
                    csrf: &layout.csrf,
                    next: &layout.next,
                    active: layout.active,
                    languages: Lang::ALL,
                    login: &account.login,
                };
                return respond(render(page, StatusCode::OK, &layout));
            }
            Err(IdentityError::BadActivation) => Msg::ActivationFailed,
            Err(IdentityError::Conflict(_)) => Msg::CardAlreadyBound,
            Err(IdentityError::Invalid(_)) => Msg::CardNotValid,
            Err(e) => return respond(HttpError::Unavailable(e.to_string()).page(&layout)),
        }
    };
    respond(card_activation_page(
        &layout,
        Some(presented),
        form.login.trim(),
        form.email.trim(),
        Some(error),
        StatusCode::BAD_REQUEST,
    ))
}

/// The JSON answer to a ceremony's first step.
fn challenge(c: sante_identity::PasskeyChallenge) -> Response {
    axum::Json(serde_json::json!({"ceremony": c.ceremony, "options": c.options})).into_response()
}

fn redirect_json(to: &str) -> Response {
    axum::Json(serde_json::json!({ "redirect": to })).into_response()
}

/// The JSON refusal of a passkey step, in the visitor's language.
fn passkey_error(lang: Lang, e: &IdentityError) -> Response {
    let (status, msg) = match e {
        IdentityError::BadActivation => (StatusCode::BAD_REQUEST, Msg::ActivationFailed),
        IdentityError::BadCredentials | IdentityError::CredentialRevoked => {
            (StatusCode::UNAUTHORIZED, Msg::LoginFailed)
        }
        IdentityError::Locked(_) => (StatusCode::UNAUTHORIZED, Msg::AccountLocked),
        IdentityError::Blocked => (StatusCode::FORBIDDEN, Msg::AccountBlocked),
        IdentityError::NotActivated => (StatusCode::FORBIDDEN, Msg::AccountNotActivated),
        IdentityError::Closed => (StatusCode::FORBIDDEN, Msg::AccountClosed),
        IdentityError::MethodChangeOverdue => (StatusCode::FORBIDDEN, Msg::MethodChangeOverdue),
        IdentityError::NetworkNotAllowed => (StatusCode::FORBIDDEN, Msg::AgentNetwork),
        IdentityError::Invalid(_) | IdentityError::Conflict(_) | IdentityError::NotFound(_) => {
            (StatusCode::BAD_REQUEST, Msg::PasskeyFailed)
        }
        other => {
            tracing::error!(error = %other, "passkey step failed");
            (StatusCode::SERVICE_UNAVAILABLE, Msg::UnavailableText)
        }
    };
    json_error(status, lang.t(msg))
}

#[derive(serde::Deserialize)]
pub struct PasskeyLoginStart {
    #[serde(default)]
    login: String,
    #[serde(default)]
    quality: String,
}

#[derive(serde::Deserialize)]
pub struct PasskeyAnswer {
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: serde_json::Value,
    #[serde(default)]
    label: String,
    #[serde(default, rename = "continue")]
    continue_to: String,
}

fn identity_or_503(state: &HttpState, lang: Lang) -> Result<&sante_identity::Identity, Response> {
    state.inner.identity.as_ref().ok_or_else(|| {
        json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            lang.t(Msg::UnavailableText),
        )
    })
}

pub async fn passkey_login_begin(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfJson(body): CsrfJson<PasskeyLoginStart>,
) -> Response {
    let lang = language(&state, &headers);
    let identity = match identity_or_503(&state, lang) {
        Ok(i) => i,
        Err(res) => return res,
    };
    let (Some(quality), true) = (parse_quality(&body.quality), body.login.len() <= 40) else {
        return json_error(StatusCode::BAD_REQUEST, lang.t(Msg::BadRequestText));
    };
    let source = Caller::from(&extensions).source();
    match identity
        .begin_passkey_login(&body.login, quality, &source)
        .await
    {
        Ok(c) => challenge(c),
        Err(e) => passkey_error(lang, &e),
    }
}

pub async fn passkey_login_finish(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfJson(body): CsrfJson<PasskeyAnswer>,
) -> Response {
    let lang = language(&state, &headers);
    let identity = match identity_or_503(&state, lang) {
        Ok(i) => i,
        Err(res) => return res,
    };
    let source = Caller::from(&extensions).source();
    let client = client_description(&headers);
    match identity
        .finish_passkey_login(&body.ceremony, &body.credential, &client, &source)
        .await
    {
        Ok((secret, who)) => {
            let to = crate::terms::landing(
                &state,
                &who.account,
                crate::account::after_login(&body.continue_to),
            )
            .await;
            let mut res = redirect_json(&to);
            if let Some(v) = set_session_cookie(&state, Some(&secret)) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => passkey_error(lang, &e),
    }
}

pub async fn passkey_activation_begin(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfJson(body): CsrfJson<ProofForm>,
) -> Response {
    let lang = language(&state, &headers);
    let identity = match identity_or_503(&state, lang) {
        Ok(i) => i,
        Err(res) => return res,
    };
    if body.too_long() {
        return json_error(StatusCode::BAD_REQUEST, lang.t(Msg::BadRequestText));
    }
    if !sante_identity::service::valid_email(body.email.trim()) {
        return json_error(StatusCode::BAD_REQUEST, lang.t(Msg::EmailInvalid));
    }
    let source = Caller::from(&extensions).source();
    match identity
        .begin_passkey_activation(&body.proof(), &source)
        .await
    {
        Ok(c) => challenge(c),
        Err(e) => passkey_error(lang, &e),
    }
}

pub async fn passkey_activation_finish(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfJson(body): CsrfJson<PasskeyAnswer>,
) -> Response {
    let lang = language(&state, &headers);
    let identity = match identity_or_503(&state, lang) {
        Ok(i) => i,
        Err(res) => return res,
    };
    let source = Caller::from(&extensions).source();
    match identity
        .finish_passkey_activation(&body.ceremony, &body.credential, &body.label, &source)
        .await
    {
        Ok(_) => redirect_json("/login?activated"),
        Err(e) => passkey_error(lang, &e),
    }
}

#[derive(serde::Deserialize)]
pub struct NoFields {}

pub async fn passkey_enrolment_begin(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfJson(_): CsrfJson<NoFields>,
) -> Response {
    let lang = language(&state, &headers);
    let identity = match identity_or_503(&state, lang) {
        Ok(i) => i,
        Err(res) => return res,
    };
    let caller = Caller::from(&extensions);
    let who = match authenticated(&state, &headers, &caller).await {
        Ok(Some(who)) => who,
        Ok(None) => return json_error(StatusCode::UNAUTHORIZED, lang.t(Msg::LoginTitle)),
        Err(_) => {
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                lang.t(Msg::UnavailableText),
            );
        }
    };
    match identity.begin_passkey_enrolment(&who).await {
        Ok(c) => challenge(c),
        Err(e) => passkey_error(lang, &e),
    }
}

pub async fn passkey_enrolment_finish(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfJson(body): CsrfJson<PasskeyAnswer>,
) -> Response {
    let lang = language(&state, &headers);
    let identity = match identity_or_503(&state, lang) {
        Ok(i) => i,
        Err(res) => return res,
    };
    let caller = Caller::from(&extensions);
    let who = match authenticated(&state, &headers, &caller).await {
        Ok(Some(who)) => who,
        Ok(None) => return json_error(StatusCode::UNAUTHORIZED, lang.t(Msg::LoginTitle)),
        Err(_) => {
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                lang.t(Msg::UnavailableText),
            );
        }
    };
    match identity
        .finish_passkey_enrolment(
            &who,
            &body.ceremony,
            &body.credential,
            &body.label,
            &caller.source(),
        )
        .await
    {
        Ok(()) => redirect_json("/account"),
        Err(e) => passkey_error(lang, &e),
    }
}

#[derive(serde::Deserialize)]
pub struct AppPasswordForm {
    #[serde(default)]
    label: String,
}

/// A professional makes an application password: the account page shows it once.
pub async fn create_app_password(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(form): CsrfForm<AppPasswordForm>,
) -> Response {
    let caller = Caller::from(&extensions);
    let lang = language(&state, &headers);
    let (layout, cookie) = layout(&state, &headers, lang, "/account", "account");
    let respond = |res: Response| with_cookie(&state, res, cookie.clone());
    let who = match authenticated(&state, &headers, &caller).await {
        Ok(Some(who)) => who,
        Ok(None) => return respond(see_other("/login")),
        Err(e) => return respond(e.page(&layout)),
    };
    let Some(identity) = state.inner.identity.as_ref() else {
        return respond(see_other("/login"));
    };
    if who.quality != Quality::Professional || form.label.len() > 120 {
        return respond(HttpError::BadRequest.page(&layout));
    }
    match identity
        .create_app_password(&who, &form.label, Service::Messaging, &caller.source())
        .await
    {
        Ok(made) => respond(account_view(&state, &layout, &who, Some(&made.password)).await),
        Err(IdentityError::Invalid(_)) => respond(HttpError::BadRequest.page(&layout)),
        Err(e) => respond(HttpError::Unavailable(e.to_string()).page(&layout)),
    }
}

#[derive(serde::Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    id: String,
}

pub async fn revoke_app_password(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(form): CsrfForm<RevokeForm>,
) -> Response {
    holder_action(&state, &headers, &extensions, |identity, who, source| {
        let id = form.id.clone();
        Box::pin(async move { identity.revoke_app_password(&who, &id, &source).await })
    })
    .await
}

pub async fn webauthn_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/webauthn.js"),
    )
        .into_response()
}
