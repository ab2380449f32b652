//! The portal's strong credentials: the card's certificate (mutual TLS, on the
//! listener that asks clients for a certificate), passkeys (WebAuthn, through
//! `static/webauthn.js`), and professionals' application passwords for their mail
//! programs. Every decision is the identity service's; this module only carries the
//! certificate the TLS layer verified and the browser's WebAuthn messages.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use sante_http::{CsrfForm, CsrfJson, HttpError, Layout, Portal, ScriptFailure, safe_continue};
use sante_identity::{ActivationProof, IdentityError};
use sante_types::{Coded, ErrorKind, PeerCertificate, Quality, Service};

use crate::PortalArea;
use crate::account::{
    ActivatedPage, LoginQuery, QUALITIES, account_view, after_login, client_description,
    holder_action, logged_in, login_refusal, parse_quality,
};
use crate::i18n::Msg;

#[derive(Template)]
#[template(path = "card_login.html")]
struct CardLoginPage<'a> {
    layout: &'a Layout,
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
    layout: &'a Layout,
    subject: Option<&'a str>,
    login: &'a str,
    email: &'a str,
    error: Option<Msg>,
}

fn card_login_page(
    portal: &Portal,
    continue_to: &str,
    quality: &str,
    error: Option<Msg>,
    status: StatusCode,
) -> Response {
    let page = CardLoginPage {
        layout: &portal.layout,
        qualities: QUALITIES,
        quality,
        subject: portal.certificate().map(|c| c.subject.as_str()),
        error,
        portal: portal.kernel().public_url(),
        continue_to: safe_continue(continue_to).unwrap_or_default(),
    };
    portal.render(&page, status)
}

pub async fn card_login_form(
    portal: Portal,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Response {
    if let Err(res) = portal.trace_view().await {
        return res;
    }
    let query = query.map(|Query(q)| q).unwrap_or_default();
    card_login_page(
        &portal,
        query.continue_to(),
        "professional",
        None,
        StatusCode::OK,
    )
}

#[derive(serde::Deserialize)]
pub struct CardLoginForm {
    #[serde(default)]
    quality: String,
    #[serde(default, rename = "continue")]
    continue_to: String,
}

pub async fn card_login_submit(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfForm(form): CsrfForm<CardLoginForm>,
) -> Response {
    let Some(quality) = parse_quality(&form.quality) else {
        return portal.error(HttpError::BadRequest);
    };
    let Some(presented) = portal.certificate() else {
        return card_login_page(
            &portal,
            &form.continue_to,
            &form.quality,
            None,
            StatusCode::UNAUTHORIZED,
        );
    };
    let client = client_description(portal.headers());
    let refusal = match area
        .identity()
        .login_certificate(presented, quality, &client, &portal.origin.source())
        .await
    {
        Ok((secret, who)) => {
            let target = after_login(&form.continue_to);
            return logged_in(&area, &portal, &secret, &who, target, true).await;
        }
        Err(IdentityError::BadCredentials) => Msg::CardUnknown,
        Err(IdentityError::CredentialRevoked) => Msg::CardRevoked,
        Err(e) => match login_refusal(&e) {
            Some(msg) => msg,
            None => return portal.failure(&e),
        },
    };
    card_login_page(
        &portal,
        &form.continue_to,
        &form.quality,
        Some(refusal),
        StatusCode::UNAUTHORIZED,
    )
}

fn card_activation_page(
    portal: &Portal,
    cert: Option<&PeerCertificate>,
    login: &str,
    email: &str,
    error: Option<Msg>,
    status: StatusCode,
) -> Response {
    let page = CardActivatePage {
        layout: &portal.layout,
        subject: cert.map(|c| c.subject.as_str()),
        login,
        email,
        error,
    };
    portal.render(&page, status)
}

pub async fn card_activate_form(portal: Portal) -> Response {
    if let Err(res) = portal.trace_view().await {
        return res;
    }
    card_activation_page(&portal, portal.certificate(), "", "", None, StatusCode::OK)
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
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfForm(form): CsrfForm<ProofForm>,
) -> Response {
    if form.too_long() {
        return portal.error(HttpError::BadRequest);
    }
    let Some(presented) = portal.certificate() else {
        return card_activation_page(
            &portal,
            None,
            &form.login,
            &form.email,
            None,
            StatusCode::UNAUTHORIZED,
        );
    };
    let error = if !sante_identity::service::valid_email(form.email.trim()) {
        Msg::EmailInvalid
    } else {
        match area
            .identity()
            .activate_with_certificate(&form.proof(), presented, &portal.origin.source())
            .await
        {
            Ok(account) => {
                return portal.page(&ActivatedPage {
                    layout: &portal.layout,
                    login: &account.login,
                });
            }
            Err(IdentityError::BadActivation) => Msg::ActivationFailed,
            Err(IdentityError::TooManyAttempts) => Msg::TooManyAttempts,
            Err(IdentityError::Conflict(_)) => Msg::CardAlreadyBound,
            Err(IdentityError::Invalid(_)) => Msg::CardNotValid,
            Err(e) => return portal.failure(&e),
        }
    };
    card_activation_page(
        &portal,
        Some(presented),
        form.login.trim(),
        form.email.trim(),
        Some(error),
        StatusCode::BAD_REQUEST,
    )
}

/// The JSON answer to a ceremony's first step.
fn challenge(c: sante_identity::PasskeyChallenge) -> Response {
    axum::Json(serde_json::json!({"ceremony": c.ceremony, "options": c.options})).into_response()
}

fn redirect_json(to: &str) -> Response {
    axum::Json(serde_json::json!({ "redirect": to })).into_response()
}

/// The JSON refusal of a passkey step, in the visitor's language: its status from the
/// error's kind, its message what the person can act on.
fn passkey_error(portal: &Portal, e: &IdentityError) -> Response {
    let msg = match e {
        IdentityError::BadActivation => Msg::ActivationFailed,
        IdentityError::TooManyAttempts => Msg::TooManyAttempts,
        _ if e.kind().is_platform_fault() => {
            return ScriptFailure::new(e.kind(), portal.lang.t(sante_http::Msg::UnavailableText))
                .logged(e)
                .into_response();
        }
        _ => login_refusal(e).unwrap_or(Msg::PasskeyFailed),
    };
    ScriptFailure::new(e.kind(), portal.lang.t(msg)).into_response()
}

fn script_refusal(portal: &Portal, kind: ErrorKind, msg: Msg) -> Response {
    ScriptFailure::new(kind, portal.lang.t(msg)).into_response()
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

pub async fn passkey_login_begin(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfJson(body): CsrfJson<PasskeyLoginStart>,
) -> Response {
    let (Some(quality), true) = (parse_quality(&body.quality), body.login.len() <= 40) else {
        return ScriptFailure::new(
            ErrorKind::Invalid,
            portal.lang.t(sante_http::Msg::BadRequestText),
        )
        .into_response();
    };
    match area
        .identity()
        .begin_passkey_login(&body.login, quality, &portal.origin.source())
        .await
    {
        Ok(c) => challenge(c),
        Err(e) => passkey_error(&portal, &e),
    }
}

pub async fn passkey_login_finish(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfJson(body): CsrfJson<PasskeyAnswer>,
) -> Response {
    let client = client_description(portal.headers());
    match area
        .identity()
        .finish_passkey_login(
            &body.ceremony,
            &body.credential,
            &client,
            &portal.origin.source(),
        )
        .await
    {
        Ok((secret, who)) => {
            let to =
                crate::terms::landing(&area, &who.account, after_login(&body.continue_to)).await;
            let mut res = redirect_json(&to);
            portal.set_session_cookie(&mut res, Some(&secret));
            res
        }
        Err(e) => passkey_error(&portal, &e),
    }
}

pub async fn passkey_activation_begin(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfJson(body): CsrfJson<ProofForm>,
) -> Response {
    if body.too_long() {
        return ScriptFailure::new(
            ErrorKind::Invalid,
            portal.lang.t(sante_http::Msg::BadRequestText),
        )
        .into_response();
    }
    if !sante_identity::service::valid_email(body.email.trim()) {
        return script_refusal(&portal, ErrorKind::Invalid, Msg::EmailInvalid);
    }
    match area
        .identity()
        .begin_passkey_activation(&body.proof(), &portal.origin.source())
        .await
    {
        Ok(c) => challenge(c),
        Err(e) => passkey_error(&portal, &e),
    }
}

pub async fn passkey_activation_finish(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfJson(body): CsrfJson<PasskeyAnswer>,
) -> Response {
    match area
        .identity()
        .finish_passkey_activation(
            &body.ceremony,
            &body.credential,
            &body.label,
            &portal.origin.source(),
        )
        .await
    {
        Ok(_) => redirect_json("/login?activated"),
        Err(e) => passkey_error(&portal, &e),
    }
}

#[derive(serde::Deserialize)]
pub struct NoFields {}

/// The person logged in, for a script: a JSON refusal otherwise.
async fn script_session(portal: &Portal) -> Result<sante_identity::Authenticated, Response> {
    match portal.session().await {
        Ok(Some(who)) => Ok(who),
        Ok(None) => Err(script_refusal(
            portal,
            ErrorKind::Unauthenticated,
            Msg::LoginTitle,
        )),
        Err(_) => Err(ScriptFailure::new(
            ErrorKind::Unavailable,
            portal.lang.t(sante_http::Msg::UnavailableText),
        )
        .into_response()),
    }
}

pub async fn passkey_enrolment_begin(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfJson(_): CsrfJson<NoFields>,
) -> Response {
    let who = match script_session(&portal).await {
        Ok(who) => who,
        Err(res) => return res,
    };
    match area.identity().begin_passkey_enrolment(&who).await {
        Ok(c) => challenge(c),
        Err(e) => passkey_error(&portal, &e),
    }
}

pub async fn passkey_enrolment_finish(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfJson(body): CsrfJson<PasskeyAnswer>,
) -> Response {
    let who = match script_session(&portal).await {
        Ok(who) => who,
        Err(res) => return res,
    };
    match area
        .identity()
        .finish_passkey_enrolment(
            &who,
            &body.ceremony,
            &body.credential,
            &body.label,
            &portal.origin.source(),
        )
        .await
    {
        Ok(()) => redirect_json("/account"),
        Err(e) => passkey_error(&portal, &e),
    }
}

#[derive(serde::Deserialize)]
pub struct AppPasswordForm {
    #[serde(default)]
    label: String,
}

/// A professional makes an application password: the account page shows it once.
pub async fn create_app_password(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfForm(form): CsrfForm<AppPasswordForm>,
) -> Response {
    let who = match portal.require_login().await {
        Ok(who) => who,
        Err(res) => return res,
    };
    if who.quality != Quality::Professional || form.label.len() > 120 {
        return portal.error(HttpError::BadRequest);
    }
    match area
        .identity()
        .create_app_password(
            &who,
            &form.label,
            Service::Messaging,
            &portal.origin.source(),
        )
        .await
    {
        Ok(made) => account_view(&area, &portal, &who, Some(&made.password)).await,
        Err(e) => portal.failure(&e),
    }
}

#[derive(serde::Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    id: String,
}

pub async fn revoke_app_password(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfForm(form): CsrfForm<RevokeForm>,
) -> Response {
    holder_action(&area, &portal, |identity, who, source| {
        Box::pin(async move { identity.revoke_app_password(&who, &form.id, &source).await })
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
