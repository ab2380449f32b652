//! The account pages: login with a password and authenticator, activation with the
//! letter's code, the holder's account (sessions, credentials, lost means) and logout.
//! The session itself is read and checked by the kernel's [`Portal`].

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode, header};
use sante_audit::Source;
use sante_http::{CsrfForm, HttpError, Layout, Portal, safe_continue};
use sante_identity::{Activation, Authenticated, IdentityError, PasswordLogin, secrets};
use sante_types::{CredentialKind, LevelOfAssurance, Quality};

use crate::PortalArea;
use crate::i18n::Msg;

pub(crate) const QUALITIES: [(&str, Msg); 3] = [
    ("patient", Msg::QualityPatient),
    ("professional", Msg::QualityProfessional),
    ("agent", Msg::QualityAgent),
];

pub(crate) fn parse_quality(code: &str) -> Option<Quality> {
    match code {
        "patient" => Some(Quality::Patient),
        "professional" => Some(Quality::Professional),
        "agent" => Some(Quality::Agent),
        _ => None,
    }
}

fn quality_label(q: Quality) -> Msg {
    match q {
        Quality::Patient => Msg::QualityPatient,
        Quality::Professional => Msg::QualityProfessional,
        Quality::Agent => Msg::QualityAgent,
    }
}

fn assurance_label(l: LevelOfAssurance) -> Msg {
    match l {
        LevelOfAssurance::Low => Msg::AssuranceLow,
        LevelOfAssurance::Substantial => Msg::AssuranceSubstantial,
        LevelOfAssurance::High => Msg::AssuranceHigh,
    }
}

/// What a login refusal tells the person: deliberately coarse for wrong credentials
/// (the trace has the precise reason). `None` for a failure of the platform.
pub(crate) fn login_refusal(e: &IdentityError) -> Option<Msg> {
    Some(match e {
        IdentityError::BadCredentials | IdentityError::CredentialRevoked => Msg::LoginFailed,
        IdentityError::Locked(_) => Msg::AccountLocked,
        IdentityError::Blocked => Msg::AccountBlocked,
        IdentityError::NotActivated => Msg::AccountNotActivated,
        IdentityError::Closed => Msg::AccountClosed,
        IdentityError::MethodChangeOverdue => Msg::MethodChangeOverdue,
        IdentityError::NetworkNotAllowed => Msg::AgentNetwork,
        IdentityError::TooManyAttempts => Msg::TooManyAttempts,
        _ => return None,
    })
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    layout: &'a Layout,
    qualities: [(&'static str, Msg); 3],
    quality: &'a str,
    login: &'a str,
    error: Option<Msg>,
    activated: bool,
    card_url: Option<&'a str>,
    /// Where to go once logged in (an application's authorization request).
    continue_to: &'a str,
    /// The application asks for a login with a card or a passkey.
    needs_high: bool,
}

/// Where a login sends the browser: the path it was asked to continue to, or the
/// account page.
pub(crate) fn after_login(continue_to: &str) -> &str {
    safe_continue(continue_to).unwrap_or("/account")
}

#[derive(serde::Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default, rename = "continue")]
    continue_to: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    activated: Option<String>,
}

impl LoginQuery {
    pub(crate) fn continue_to(&self) -> &str {
        safe_continue(&self.continue_to).unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "activate.html")]
struct ActivatePage<'a> {
    layout: &'a Layout,
    login: &'a str,
    email: &'a str,
    seed: &'a str,
    uri: &'a str,
    error: Option<Msg>,
    card_url: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "activated.html")]
pub(crate) struct ActivatedPage<'a> {
    pub layout: &'a Layout,
    pub login: &'a str,
}

struct CredentialRow {
    kind: Msg,
    kind_code: &'static str,
    label: String,
    created: String,
}

struct AppPasswordRow {
    id: String,
    label: String,
    created: String,
}

struct SessionRow {
    id: String,
    started: String,
    last_seen: String,
    client: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    layout: &'a Layout,
    login: &'a str,
    quality: Msg,
    quality_code: &'a str,
    assurance: Msg,
    assurance_code: &'a str,
    other_qualities: bool,
    sessions: Vec<SessionRow>,
    credentials: Vec<CredentialRow>,
    app_passwords: Vec<AppPasswordRow>,
    new_app_password: Option<&'a str>,
}

/// The card listener's address, when there is one.
pub(crate) fn card_url(portal: &Portal) -> Option<&str> {
    portal.kernel().config().mtls_url.as_deref()
}

fn login_form(
    portal: &Portal,
    continue_to: &str,
    quality: &str,
    login: &str,
    error: Option<Msg>,
    status: StatusCode,
) -> Response {
    let page = LoginPage {
        layout: &portal.layout,
        qualities: QUALITIES,
        quality,
        login,
        error,
        activated: false,
        card_url: card_url(portal),
        continue_to,
        needs_high: false,
    };
    portal.render(&page, status)
}

/// The activation form; the authenticator key stays the same across attempts, so the
/// entry the holder added to his application stays valid.
fn activation_form(
    portal: &Portal,
    login: &str,
    email: &str,
    seed: &str,
    error: Option<Msg>,
    status: StatusCode,
) -> Response {
    let uri = secrets::otpauth_uri(seed, "activation");
    let page = ActivatePage {
        layout: &portal.layout,
        login,
        email,
        seed,
        uri: &uri,
        error,
        card_url: card_url(portal),
    };
    portal.render(&page, status)
}

pub async fn login_page(
    portal: Portal,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Response {
    if let Err(res) = portal.trace_view().await {
        return res;
    }
    // A query that cannot be read is a login without a destination.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let page = LoginPage {
        layout: &portal.layout,
        qualities: QUALITIES,
        quality: "patient",
        login: "",
        error: None,
        activated: query.activated.is_some(),
        card_url: card_url(&portal),
        continue_to: query.continue_to(),
        needs_high: query.level == "high",
    };
    portal.page(&page)
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    quality: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default, rename = "continue")]
    continue_to: String,
}

pub(crate) fn client_description(headers: &HeaderMap) -> String {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // The browser family only: a full user agent string is a fingerprint.
    ["Edg/", "Firefox/", "Chrome/", "Safari/"]
        .iter()
        .find(|b| agent.contains(*b))
        .map(|b| b.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| "other".to_owned())
}

/// The answer to a successful login: the session cookie, and the terms page first
/// when general terms wait for the account's acceptance, then `target` (on the
/// portal's own origin when `absolute`, for the card listener).
pub(crate) async fn logged_in(
    area: &PortalArea,
    portal: &Portal,
    secret: &str,
    who: &Authenticated,
    target: &str,
    absolute: bool,
) -> Response {
    let to = crate::terms::landing(area, &who.account, target).await;
    let to = if absolute {
        format!("{}{to}", portal.kernel().public_url())
    } else {
        to
    };
    let mut res = portal.redirect(&to);
    portal.set_session_cookie(&mut res, Some(secret));
    res
}

pub async fn login_submit(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Response {
    let Some(quality) = parse_quality(&form.quality) else {
        return portal.error(HttpError::BadRequest);
    };
    if form.login.len() > 40 || form.password.len() > 1024 || form.code.len() > 12 {
        return portal.error(HttpError::BadRequest);
    }
    let code = form.code.trim();
    let login = PasswordLogin {
        login: &form.login,
        quality,
        password: &form.password,
        totp_code: Some(code).filter(|c| !c.is_empty()),
        client: &client_description(portal.headers()),
    };
    let refusal = match area
        .identity()
        .login_password(&login, &portal.origin.source())
        .await
    {
        Ok((secret, who)) => {
            return logged_in(
                &area,
                &portal,
                &secret,
                &who,
                after_login(&form.continue_to),
                false,
            )
            .await;
        }
        Err(e) => match login_refusal(&e) {
            Some(msg) => msg,
            None => return portal.failure(&e),
        },
    };
    login_form(
        &portal,
        safe_continue(&form.continue_to).unwrap_or_default(),
        &form.quality,
        form.login.trim(),
        Some(refusal),
        StatusCode::UNAUTHORIZED,
    )
}

pub async fn activate_page(portal: Portal) -> Response {
    if let Err(res) = portal.trace_view().await {
        return res;
    }
    let seed = secrets::new_totp_secret();
    activation_form(&portal, "", "", &seed, None, StatusCode::OK)
}

#[derive(serde::Deserialize)]
pub struct ActivateForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    national_id: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
    #[serde(default)]
    totp_seed: String,
    #[serde(default)]
    totp_code: String,
}

pub async fn activate_submit(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfForm(form): CsrfForm<ActivateForm>,
) -> Response {
    // The seed comes back from our own page; anything else is a forged form.
    let seed_ok = (16..=64).contains(&form.totp_seed.len())
        && form
            .totp_seed
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    if !seed_ok || form.login.len() > 40 || form.code.len() > 30 || form.national_id.len() > 20 {
        return portal.error(HttpError::BadRequest);
    }
    let problem = if secrets::check_password_policy(&form.password).is_err() {
        Some(Msg::PasswordRule)
    } else if form.password != form.password_again {
        Some(Msg::PasswordsDiffer)
    } else if !sante_identity::service::valid_email(form.email.trim()) {
        Some(Msg::EmailInvalid)
    } else {
        None
    };
    let error = match problem {
        Some(msg) => msg,
        None => {
            let activation = Activation {
                login: &form.login,
                national_id: &form.national_id,
                code: &form.code,
                email: &form.email,
                password: &form.password,
                totp_seed: &form.totp_seed,
                totp_code: &form.totp_code,
            };
            match area
                .identity()
                .activate(&activation, &portal.origin.source())
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
                Err(IdentityError::Invalid(_)) => Msg::TotpMismatch,
                Err(e) => return portal.failure(&e),
            }
        }
    };
    activation_form(
        &portal,
        form.login.trim(),
        form.email.trim(),
        &form.totp_seed,
        Some(error),
        StatusCode::BAD_REQUEST,
    )
}

pub async fn account_page(State(area): State<PortalArea>, portal: Portal) -> Response {
    match portal.require_login().await {
        Ok(who) => account_view(&area, &portal, &who, None).await,
        Err(res) => res,
    }
}

fn credential_label(kind: CredentialKind) -> Msg {
    match kind {
        CredentialKind::Password => Msg::CredPassword,
        CredentialKind::PasswordTotp => Msg::CredTotp,
        CredentialKind::ClientCertificate => Msg::CredCertificate,
        CredentialKind::WebAuthn => Msg::CredPasskey,
        CredentialKind::ApplicationPassword | CredentialKind::SystemAssertion => {
            Msg::CredAppPassword
        }
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The holder's account page; `new_app_password` is shown once, right after it was
/// made.
pub(crate) async fn account_view(
    area: &PortalArea,
    portal: &Portal,
    who: &Authenticated,
    new_app_password: Option<&str>,
) -> Response {
    let identity = area.identity();
    let loaded = async {
        Ok::<_, IdentityError>((
            identity.sessions(who).await?,
            identity.other_qualities(who).await?,
            identity.credentials(who).await?,
            identity.app_passwords(who).await?,
        ))
    };
    let (sessions, others, credentials, app_passwords) = match loaded.await {
        Ok(all) => all,
        Err(e) => return portal.failure(&e),
    };
    let page = AccountPage {
        layout: &portal.layout,
        login: &who.login,
        quality: quality_label(who.quality),
        quality_code: who.quality.as_str(),
        assurance: assurance_label(who.assurance),
        assurance_code: who.assurance.as_str(),
        other_qualities: !others.is_empty(),
        sessions: sessions
            .into_iter()
            .map(|s| SessionRow {
                current: s.id == who.session,
                id: s.id,
                started: when(s.created),
                last_seen: when(s.last_seen),
                client: s.client,
            })
            .collect(),
        credentials: credentials
            .into_iter()
            .filter(|c| c.kind != CredentialKind::ApplicationPassword)
            .map(|c| CredentialRow {
                kind: credential_label(c.kind),
                kind_code: c.kind.as_str(),
                label: c.label,
                created: when(c.created),
            })
            .collect(),
        app_passwords: app_passwords
            .into_iter()
            .map(|p| AppPasswordRow {
                id: p.id,
                label: p.label,
                created: when(p.created),
            })
            .collect(),
        new_app_password,
    };
    // Account pages are personal: never cached anywhere.
    portal.personal_page(&page)
}

#[derive(serde::Deserialize)]
pub struct EndSessionForm {
    #[serde(default)]
    session: String,
}

pub async fn end_session(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfForm(form): CsrfForm<EndSessionForm>,
) -> Response {
    holder_action(&area, &portal, |identity, who, source| {
        Box::pin(async move { identity.end_session(&who, &form.session, &source).await })
    })
    .await
}

#[derive(serde::Deserialize)]
pub struct EmptyForm {}

pub async fn report_lost(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Response {
    holder_action(&area, &portal, |identity, who, source| {
        Box::pin(async move { identity.report_lost(&who, &source).await })
    })
    .await
}

pub async fn logout(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Response {
    let who = match portal.session().await {
        Ok(who) => who,
        Err(res) => return res,
    };
    let source = portal.origin.source();
    if let Some(secret) = portal.session_secret()
        && let Err(e) = area.identity().logout(secret, &source).await
    {
        return portal.failure(&e);
    }
    // Single sign-on: the applications the session logged in to are logged out too.
    if let Some(who) = who.as_ref()
        && let Err(e) = area
            .sso
            .session_ended(&who.session, &who.account, &source)
            .await
    {
        return portal.failure(&e);
    }
    let mut res = portal.redirect("/login");
    portal.set_session_cookie(&mut res, None);
    res
}

pub(crate) type ActionFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), IdentityError>> + Send>>;

/// An action of a logged-in holder on his own account; back to the account page.
pub(crate) async fn holder_action<F>(area: &PortalArea, portal: &Portal, action: F) -> Response
where
    F: FnOnce(sante_identity::Identity, Authenticated, Source) -> ActionFuture,
{
    let who = match portal.require_login().await {
        Ok(who) => who,
        Err(res) => return res,
    };
    match action(area.identity().clone(), who, portal.origin.source()).await {
        Ok(()) => portal.redirect("/account"),
        Err(e) => portal.failure(&e),
    }
}
