//! The OpenID Connect provider's HTTP endpoints: discovery, keys, authorization (with
//! the portal session), token, userinfo, revocation, introspection and logout. Every
//! decision is `sante-sso`'s; this crate reads requests and writes answers (RFC 6749
//! §5.2 errors as JSON by the kernel's one mapping, `Cache-Control: no-store` on every
//! token answer).
//!
//! Architecture invariant: a web area over `sante-sso` only, a platform context.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRef, Query, Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sante_http::error::{Challenge, no_store};
use sante_http::{Access, Area, Routes};
use sante_http::{ClientCertificate, HttpError, Kernel, OAuthFailure, Origin, Portal, terms_url};
use sante_sso::{
    AuthorizeOutcome, AuthorizeRequest, ClientCredentials, LogoutOutcome, SsoError, TokenRequest,
};
use sante_types::{Coded, LevelOfAssurance};

/// What the endpoints share.
#[derive(Clone)]
pub struct OidcWeb {
    kernel: Kernel,
    provider: sante_sso::Provider,
}

impl FromRef<OidcWeb> for Kernel {
    fn from_ref(web: &OidcWeb) -> Kernel {
        web.kernel.clone()
    }
}

impl OidcWeb {
    pub fn new(kernel: Kernel, provider: sante_sso::Provider) -> OidcWeb {
        OidcWeb { kernel, provider }
    }
}

/// The provider's routes: its metadata and the authorisation endpoint (which asks
/// who the person is) are open; the token, revocation and introspection endpoints
/// authenticate the client, `userinfo` the access token.
pub fn routes(web: OidcWeb) -> Area {
    use Access::{Bearer, Client, Public};
    Routes::new()
        .get("/.well-known/openid-configuration", Public, discovery)
        .get("/oidc/jwks", Public, jwks)
        .get("/oidc/authorize", Public, authorize)
        .post("/oidc/token", Client, token)
        .get("/oidc/userinfo", Bearer, userinfo)
        .post("/oidc/userinfo", Bearer, userinfo)
        .post("/oidc/revoke", Client, revoke)
        .post("/oidc/introspect", Client, introspect)
        .get("/oidc/logout", Public, logout)
        .with_state(web)
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    no_store((status, axum::Json(value)).into_response())
}

/// An OAuth error answer (RFC 6749 §5.2, RFC 6750 §3), by the kernel's one mapping.
fn oauth_error(e: &SsoError) -> Response {
    let mut failure = OAuthFailure::new(e.kind(), e.oauth_code(), e.description());
    if e.is_internal() {
        failure = failure.logged(e);
    }
    match e {
        SsoError::InvalidToken(_) => failure.with_challenge(Challenge::InvalidToken),
        SsoError::InvalidClient(_) => failure.with_challenge(Challenge::Basic),
        _ => failure,
    }
    .into_response()
}

async fn discovery(State(web): State<OidcWeb>) -> Response {
    json(StatusCode::OK, web.provider.discovery())
}

async fn jwks(State(web): State<OidcWeb>) -> Response {
    let mut res = (StatusCode::OK, axum::Json(web.provider.jwks())).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

async fn authorize(State(web): State<OidcWeb>, portal: Portal) -> Response {
    let query = portal
        .path()
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .to_owned();
    if query.len() > 4096 {
        return portal.error(HttpError::BadRequest);
    }
    let Ok(request) = serde_urlencoded::from_str::<AuthorizeRequest>(&query) else {
        return portal.error(HttpError::BadRequest);
    };
    let who = match portal.session().await {
        Ok(who) => who,
        Err(res) => return res,
    };
    match web
        .provider
        .authorize(&request, who.as_ref(), &portal.origin.source())
        .await
    {
        Ok(AuthorizeOutcome::Redirect(url)) => portal.redirect(&url),
        Ok(AuthorizeOutcome::Login { needed }) => {
            let back = format!("/oidc/authorize?{query}");
            let mut to = format!(
                "/login?continue={}",
                serde_urlencoded::to_string([("", back.as_str())])
                    .unwrap_or_default()
                    .trim_start_matches('=')
            );
            if needed == LevelOfAssurance::High {
                to.push_str("&level=high");
            }
            portal.redirect(&to)
        }
        Ok(AuthorizeOutcome::Terms { services }) => {
            let back = format!("/oidc/authorize?{query}");
            portal.redirect(&terms_url(&back, Some(&services)))
        }
        Err(e) if e.is_internal() => portal.failure(&e),
        // An unknown client or an unregistered redirect URI: never redirect there.
        Err(_) => portal.error(HttpError::BadRequest),
    }
}

/// HTTP Basic client credentials (RFC 6749 §2.3.1: each part form-urlencoded).
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
            .ok()
            .and_then(|mut v| v.pop())
            .map(|(_, v)| v)
    };
    Some((unescape(id)?, unescape(secret)?))
}

fn credentials(headers: &HeaderMap, extensions: &http::Extensions) -> ClientCredentials {
    ClientCredentials {
        basic: basic(headers),
        certificate: ClientCertificate::of(extensions).map(|c| (*c).clone()),
    }
}

async fn read_form<T: serde::de::DeserializeOwned>(
    web: &OidcWeb,
    body: axum::body::Body,
) -> Result<T, Response> {
    let bytes = axum::body::to_bytes(body, web.kernel.config().limits.form_bytes)
        .await
        .map_err(|_| oauth_error(&SsoError::InvalidRequest("the request is too large".into())))?;
    serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| oauth_error(&SsoError::InvalidRequest("the form cannot be read".into())))
}

async fn token(State(web): State<OidcWeb>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let p = &web.provider;
    let form: TokenRequest = match read_form(&web, body).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let creds = credentials(&parts.headers, &parts.extensions);
    let source = Origin::of(&parts.extensions).source();
    match p.token(&form, &creds, &source).await {
        Ok(tokens) => json(
            StatusCode::OK,
            serde_json::to_value(&tokens).unwrap_or_default(),
        ),
        Err(e) => oauth_error(&e),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn userinfo(State(web): State<OidcWeb>, req: Request) -> Response {
    let p = &web.provider;
    let Some(token) = bearer(req.headers()) else {
        return oauth_error(&SsoError::InvalidToken("a bearer token is required".into()));
    };
    let source = Origin::of(req.extensions()).source();
    match p.userinfo(token, &source).await {
        Ok(claims) => json(StatusCode::OK, claims),
        Err(e) => oauth_error(&e),
    }
}

#[derive(serde::Deserialize)]
struct TokenForm {
    #[serde(default)]
    token: String,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn revoke(State(web): State<OidcWeb>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let p = &web.provider;
    let form: TokenForm = match read_form(&web, body).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let creds = credentials(&parts.headers, &parts.extensions);
    let source = Origin::of(&parts.extensions).source();
    match p
        .revoke(
            &form.token,
            form.client_id.as_deref(),
            form.client_secret.as_deref(),
            &creds,
            &source,
        )
        .await
    {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => oauth_error(&e),
    }
}

async fn introspect(State(web): State<OidcWeb>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let p = &web.provider;
    let form: TokenForm = match read_form(&web, body).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let creds = credentials(&parts.headers, &parts.extensions);
    let source = Origin::of(&parts.extensions).source();
    match p
        .introspect(
            &form.token,
            form.client_id.as_deref(),
            form.client_secret.as_deref(),
            &creds,
            &source,
        )
        .await
    {
        Ok(answer) => json(
            StatusCode::OK,
            serde_json::to_value(&answer).unwrap_or_default(),
        ),
        Err(e) => oauth_error(&e),
    }
}

#[derive(serde::Deserialize)]
struct LogoutQuery {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

async fn logout(
    State(web): State<OidcWeb>,
    portal: Portal,
    query: Result<Query<LogoutQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return portal.error(HttpError::BadRequest);
    };
    let who = match portal.session().await {
        Ok(who) => who,
        Err(res) => return res,
    };
    let outcome = web
        .provider
        .end_session(
            query.id_token_hint.as_deref(),
            query.post_logout_redirect_uri.as_deref(),
            query.state.as_deref(),
            who.as_ref(),
            &portal.origin.source(),
        )
        .await;
    let mut res = match outcome {
        Ok(LogoutOutcome::Redirect(url)) => portal.redirect(&url),
        Ok(LogoutOutcome::Done) => portal.redirect("/login"),
        // The account page, whose logout button is a form of the portal (with its
        // CSRF token): the person decides.
        Ok(LogoutOutcome::Confirm) => return portal.redirect("/account"),
        Err(e) => return portal.failure(&e),
    };
    portal.set_session_cookie(&mut res, None);
    res
}
