//! The portal's account pages: login, activation, the holder's account (sessions,
//! logout, lost credentials). The session cookie is read in one place,
//! [`authenticated`], which asks the identity service to check it at every request.

use askama::Template;
use axum::extract::{Request, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sante_audit::{EventKind, Outcome, Source};
use sante_identity::{Activation, Authenticated, IdentityError, PasswordLogin, secrets};
use sante_types::{CredentialKind, LevelOfAssurance, Quality};

use crate::csrf::{CsrfForm, read_cookie};
use crate::i18n::{Lang, Msg};
use crate::{Caller, HttpError, HttpState, language, layout, trace, with_cookie};

/// The session cookie: `__Host-` (Secure, Path=/, no Domain) so that no other origin,
/// not even a sibling subdomain, can set or read it; HttpOnly and SameSite=Strict.
pub const SESSION_COOKIE: &str = "__Host-sante-session";
/// Its name without `Secure`, for a deployment that terminates TLS elsewhere in tests.
pub const SESSION_COOKIE_INSECURE: &str = "sante-session";

fn session_cookie_name(state: &HttpState) -> &'static str {
    if state.inner.config.cookie_secure {
        SESSION_COOKIE
    } else {
        SESSION_COOKIE_INSECURE
    }
}

pub(crate) fn set_session_cookie(state: &HttpState, value: Option<&str>) -> Option<HeaderValue> {
    let cookie = crate::csrf::strict_cookie(
        session_cookie_name(state),
        value,
        state.inner.config.cookie_secure,
    );
    HeaderValue::from_str(&cookie).ok()
}

/// The person behind the request's session cookie, checked now by the identity
/// service (account state, credentials, timeouts); `None` without a valid session.
pub async fn authenticated(
    state: &HttpState,
    headers: &HeaderMap,
    caller: &Caller,
) -> Result<Option<Authenticated>, HttpError> {
    let Some(identity) = state.inner.identity.as_ref() else {
        return Ok(None);
    };
    let Some(secret) = read_cookie(headers, session_cookie_name(state)) else {
        return Ok(None);
    };
    match identity.authenticate(secret, &caller.source()).await {
        Ok(who) => Ok(Some(who)),
        Err(
            IdentityError::NoSession
            | IdentityError::SessionRefused(_)
            | IdentityError::NotFound(_),
        ) => Ok(None),
        Err(e) => Err(HttpError::Unavailable(e.to_string())),
    }
}

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

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
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

/// A local path to continue to after a login: only our own pages, never an open
/// redirect (no scheme, no `//`, no backslash).
pub(crate) fn safe_continue(path: &str) -> Option<&str> {
    (path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && path.len() <= 4096
        && !path.chars().any(|c| c.is_control()))
    .then_some(path)
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
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
    login: &'a str,
    email: &'a str,
    seed: &'a str,
    uri: &'a str,
    error: Option<Msg>,
    card_url: Option<&'a str>,
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
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
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

pub(crate) fn render(
    template: impl Template,
    status: StatusCode,
    layout: &crate::pages::Layout,
) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => HttpError::Internal(e.to_string()).page(layout),
    }
}

fn login_form(
    state: &HttpState,
    layout: &crate::pages::Layout,
    continue_to: &str,
    quality: &str,
    login: &str,
    error: Option<Msg>,
    status: StatusCode,
) -> Response {
    let page = LoginPage {
        activated: false,
        card_url: state.inner.config.mtls_url.as_deref(),
        continue_to,
        needs_high: false,
        lang: layout.lang,
        csrf: &layout.csrf,
        next: &layout.next,
        active: layout.active,
        languages: Lang::ALL,
        qualities: QUALITIES,
        quality,
        login,
        error,
    };
    render(page, status, layout)
}

/// The activation form; the authenticator key stays the same across attempts, so the
/// entry the holder added to his application stays valid.
fn activation_form(
    state: &HttpState,
    layout: &crate::pages::Layout,
    login: &str,
    email: &str,
    seed: &str,
    error: Option<Msg>,
    status: StatusCode,
) -> Response {
    let uri = secrets::otpauth_uri(seed, "activation");
    let page = ActivatePage {
        lang: layout.lang,
        csrf: &layout.csrf,
        next: &layout.next,
        active: layout.active,
        languages: Lang::ALL,
        login,
        email,
        seed,
        uri: &uri,
        error,
        card_url: state.inner.config.mtls_url.as_deref(),
    };
    render(page, status, layout)
}

pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

pub async fn login_page(State(state): State<HttpState>, req: Request) -> Response {
    let headers = req.headers();
    let caller = Caller::from(req.extensions());
    let lang = language(&state, headers);
    let (layout, cookie) = layout(&state, headers, lang, "/login", "account");
    if let Err(e) = trace(
        &state,
        &caller,
        EventKind::PortalPageViewed,
        "/login",
        Outcome::Success,
    )
    .await
    {
        return with_cookie(&state, e.page(&layout), cookie);
    }
    let query: LoginQuery = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let continue_to = safe_continue(&query.continue_to).unwrap_or_default();
    let page = LoginPage {
        lang: layout.lang,
        csrf: &layout.csrf,
        next: &layout.next,
        active: layout.active,
        languages: Lang::ALL,
        qualities: QUALITIES,
        quality: "patient",
        login: "",
        error: None,
        activated: query.activated.is_some(),
        card_url: state.inner.config.mtls_url.as_deref(),
        continue_to,
        needs_high: query.level == "high",
    };
    with_cookie(&state, render(page, StatusCode::OK, &layout), cookie)
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

pub async fn login_submit(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Response {
    let caller = Caller::from(&extensions);
    let lang = language(&state, &headers);
    let (layout, cookie) = layout(&state, &headers, lang, "/login", "account");
    let respond = |res: Response| with_cookie(&state, res, cookie.clone());
    let Some(identity) = state.inner.identity.as_ref() else {
        return respond(HttpError::Unavailable("no identity service".into()).page(&layout));
    };
    let Some(quality) = parse_quality(&form.quality) else {
        return respond(HttpError::BadRequest.page(&layout));
    };
    if form.login.len() > 40 || form.password.len() > 1024 || form.code.len() > 12 {
        return respond(HttpError::BadRequest.page(&layout));
    }
    let code = form.code.trim();
    let login = PasswordLogin {
        login: &form.login,
        quality,
        password: &form.password,
        totp_code: Some(code).filter(|c| !c.is_empty()),
        client: &client_description(&headers),
    };
    let error = match identity.login_password(&login, &caller.source()).await {
        Ok((secret, who)) => {
            let to =
                crate::terms::landing(&state, &who.account, after_login(&form.continue_to)).await;
            let mut res = see_other(&to);
            if let Some(v) = set_session_cookie(&state, Some(&secret)) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            return respond(res);
        }
        Err(IdentityError::BadCredentials) => Msg::LoginFailed,
        Err(IdentityError::Locked(_)) => Msg::AccountLocked,
        Err(IdentityError::Blocked) => Msg::AccountBlocked,
        Err(IdentityError::NotActivated) => Msg::AccountNotActivated,
        Err(IdentityError::Closed) => Msg::AccountClosed,
        Err(IdentityError::MethodChangeOverdue) => Msg::MethodChangeOverdue,
        Err(IdentityError::NetworkNotAllowed) => Msg::AgentNetwork,
        Err(e) => return respond(HttpError::Unavailable(e.to_string()).page(&layout)),
    };
    respond(login_form(
        &state,
        &layout,
        safe_continue(&form.continue_to).unwrap_or_default(),
        &form.quality,
        form.login.trim(),
        Some(error),
        StatusCode::UNAUTHORIZED,
    ))
}

pub async fn activate_page(State(state): State<HttpState>, req: Request) -> Response {
    let headers = req.headers();
    let caller = Caller::from(req.extensions());
    let lang = language(&state, headers);
    let (layout, cookie) = layout(&state, headers, lang, "/activate", "account");
    if let Err(e) = trace(
        &state,
        &caller,
        EventKind::PortalPageViewed,
        "/activate",
        Outcome::Success,
    )
    .await
    {
        return with_cookie(&state, e.page(&layout), cookie);
    }
    let seed = secrets::new_totp_secret();
    let form = activation_form(&state, &layout, "", "", &seed, None, StatusCode::OK);
    with_cookie(&state, form, cookie)
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
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(form): CsrfForm<ActivateForm>,
) -> Response {
    let caller = Caller::from(&extensions);
    let lang = language(&state, &headers);
    let (layout, cookie) = layout(&state, &headers, lang, "/activate", "account");
    let respond = |res: Response| with_cookie(&state, res, cookie.clone());
    let Some(identity) = state.inner.identity.as_ref() else {
        return respond(HttpError::Unavailable("no identity service".into()).page(&layout));
    };
    // The seed comes back from our own page; anything else is a forged form.
    let seed_ok = (16..=64).contains(&form.totp_seed.len())
        && form
            .totp_seed
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    if !seed_ok || form.login.len() > 40 || form.code.len() > 30 || form.national_id.len() > 20 {
        return respond(HttpError::BadRequest.page(&layout));
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
            match identity.activate(&activation, &caller.source()).await {
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
                Err(IdentityError::Invalid(_)) => Msg::TotpMismatch,
                Err(e) => return respond(HttpError::Unavailable(e.to_string()).page(&layout)),
            }
        }
    };
    respond(activation_form(
        &state,
        &layout,
        form.login.trim(),
        form.email.trim(),
        &form.totp_seed,
        Some(error),
        StatusCode::BAD_REQUEST,
    ))
}

pub async fn account_page(State(state): State<HttpState>, req: Request) -> Response {
    let headers = req.headers();
    let caller = Caller::from(req.extensions());
    let lang = language(&state, headers);
    let (layout, cookie) = layout(&state, headers, lang, "/account", "account");
    let respond = |res: Response| with_cookie(&state, res, cookie.clone());
    let who = match authenticated(&state, headers, &caller).await {
        Ok(Some(who)) => who,
        Ok(None) => return respond(see_other("/login")),
        Err(e) => return respond(e.page(&layout)),
    };
    respond(account_view(&state, &layout, &who, None).await)
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

/// The holder's account page; `new_app_password` is shown once, right after it was
/// made.
pub(crate) async fn account_view(
    state: &HttpState,
    layout: &crate::pages::Layout,
    who: &Authenticated,
    new_app_password: Option<&str>,
) -> Response {
    let Some(identity) = state.inner.identity.as_ref() else {
        return see_other("/login");
    };
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
        Err(e) => return HttpError::Unavailable(e.to_string()).page(layout),
    };
    let when = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let page = AccountPage {
        lang: layout.lang,
        csrf: &layout.csrf,
        next: &layout.next,
        active: layout.active,
        languages: Lang::ALL,
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
    let mut res = render(page, StatusCode::OK, layout);
    // Account pages are personal: never cached anywhere.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(serde::Deserialize)]
pub struct EndSessionForm {
    #[serde(default)]
    session: String,
}

pub async fn end_session(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(form): CsrfForm<EndSessionForm>,
) -> Response {
    holder_action(&state, &headers, &extensions, |identity, who, source| {
        let session = form.session.clone();
        Box::pin(async move { identity.end_session(&who, &session, &source).await })
    })
    .await
}

#[derive(serde::Deserialize)]
pub struct EmptyForm {}

pub async fn report_lost(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Response {
    holder_action(&state, &headers, &extensions, |identity, who, source| {
        Box::pin(async move { identity.report_lost(&who, &source).await })
    })
    .await
}

pub async fn logout(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Response {
    let caller = Caller::from(&extensions);
    let lang = language(&state, &headers);
    let (layout, cookie) = layout(&state, &headers, lang, "/", "account");
    let fail = |e: String| {
        with_cookie(
            &state,
            HttpError::Unavailable(e).page(&layout),
            cookie.clone(),
        )
    };
    let who = match authenticated(&state, &headers, &caller).await {
        Ok(who) => who,
        Err(e) => return with_cookie(&state, e.page(&layout), cookie),
    };
    if let (Some(identity), Some(secret)) = (
        state.inner.identity.as_ref(),
        read_cookie(&headers, session_cookie_name(&state)),
    ) && let Err(e) = identity.logout(secret, &caller.source()).await
    {
        return fail(e.to_string());
    }
    // Single sign-on: the applications the session logged in to are logged out too.
    if let (Some(sso), Some(who)) = (state.inner.sso.as_ref(), who.as_ref())
        && let Err(e) = sso
            .session_ended(&who.session, &who.account, &caller.source())
            .await
    {
        return fail(e.to_string());
    }
    let mut res = see_other("/login");
    if let Some(v) = set_session_cookie(&state, None) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    with_cookie(&state, res, cookie)
}

pub(crate) type ActionFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), IdentityError>> + Send>>;

/// An action of a logged-in holder on his own account; back to the account page.
pub(crate) async fn holder_action<F>(
    state: &HttpState,
    headers: &HeaderMap,
    extensions: &http::Extensions,
    action: F,
) -> Response
where
    F: FnOnce(sante_identity::Identity, Authenticated, Source) -> ActionFuture,
{
    let caller = Caller::from(extensions);
    let lang = language(state, headers);
    let (layout, cookie) = layout(state, headers, lang, "/account", "account");
    let respond = |res: Response| with_cookie(state, res, cookie.clone());
    let who = match authenticated(state, headers, &caller).await {
        Ok(Some(who)) => who,
        Ok(None) => return respond(see_other("/login")),
        Err(e) => return respond(e.page(&layout)),
    };
    let Some(identity) = state.inner.identity.clone() else {
        return respond(see_other("/login"));
    };
    match action(identity, who, caller.source()).await {
        Ok(()) => respond(see_other("/account")),
        Err(IdentityError::NotFound(_)) => respond(HttpError::NotFound.page(&layout)),
        Err(e) => respond(HttpError::Unavailable(e.to_string()).page(&layout)),
    }
}
