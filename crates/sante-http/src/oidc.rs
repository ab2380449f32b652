//! The OpenID Connect provider's HTTP endpoints: discovery, keys, authorization (with
//! the portal session), token, userinfo, revocation, introspection and logout. Every
//! decision is `sante-sso`'s; this module reads requests and writes answers (RFC 6749
//! §5.2 errors as JSON, `Cache-Control: no-store` on every token answer).

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sante_sso::{
    AuthorizeOutcome, AuthorizeRequest, ClientCredentials, LogoutOutcome, SsoError, TokenRequest,
};
use sante_types::LevelOfAssurance;

use crate::account::{authenticated, see_other, set_session_cookie};
use crate::credentials::ClientCertificate;
use crate::{Caller, HttpError, HttpState, language, layout, with_cookie};

/// Token requests are small.
const FORM_LIMIT: usize = 16 * 1024;

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oidc/jwks", get(jwks))
        .route("/oidc/authorize", get(authorize))
        .route("/oidc/token", post(token))
        .route("/oidc/userinfo", get(userinfo).post(userinfo))
        .route("/oidc/revoke", post(revoke))
        .route("/oidc/introspect", post(introspect))
        .route("/oidc/logout", get(logout))
}

fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    no_store((status, axum::Json(value)).into_response())
}

/// An OAuth error answer (RFC 6749 §5.2, RFC 6750 §3).
fn oauth_error(e: &SsoError) -> Response {
    if e.is_internal() {
        tracing::error!(error = %e, "single sign-on failed");
    }
    let status = match e {
        SsoError::InvalidClient(_) | SsoError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
        SsoError::AccessDenied(_) | SsoError::Identity(_) => StatusCode::FORBIDDEN,
        _ if e.is_internal() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut res = json(
        status,
        serde_json::json!({"error": e.oauth_code(), "error_description": e.description()}),
    );
    if let SsoError::InvalidToken(_) = e {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    } else if let SsoError::InvalidClient(_) = e {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"sante\""),
        );
    }
    res
}

fn provider(state: &HttpState) -> Result<&sante_sso::Provider, Response> {
    state
        .inner
        .sso
        .as_ref()
        .ok_or_else(|| oauth_error(&SsoError::Signing("no provider".into())))
}

async fn discovery(State(state): State<HttpState>) -> Response {
    match provider(&state) {
        Ok(p) => json(StatusCode::OK, p.discovery()),
        Err(res) => res,
    }
}

async fn jwks(State(state): State<HttpState>) -> Response {
    match provider(&state) {
        Ok(p) => {
            let mut res = (StatusCode::OK, axum::Json(p.jwks())).into_response();
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            res
        }
        Err(res) => res,
    }
}

async fn authorize(State(state): State<HttpState>, req: Request) -> Response {
    let headers = req.headers().clone();
    let caller = Caller::from(req.extensions());
    let lang = language(&state, &headers);
    let (page_layout, cookie) = layout(&state, &headers, lang, "/", "account");
    let respond = |res: Response| with_cookie(&state, res, cookie.clone());
    let Ok(p) = provider(&state) else {
        return respond(HttpError::Unavailable("no provider".into()).page(&page_layout));
    };
    let query = req.uri().query().unwrap_or_default().to_owned();
    if query.len() > 4096 {
        return respond(HttpError::BadRequest.page(&page_layout));
    }
    let Ok(request) = serde_urlencoded::from_str::<AuthorizeRequest>(&query) else {
        return respond(HttpError::BadRequest.page(&page_layout));
    };
    let who = match authenticated(&state, &headers, &caller).await {
        Ok(who) => who,
        Err(e) => return respond(e.page(&page_layout)),
    };
    match p.authorize(&request, who.as_ref(), &caller.source()).await {
        Ok(AuthorizeOutcome::Redirect(url)) => respond(see_other(&url)),
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
            respond(see_other(&to))
        }
        Ok(AuthorizeOutcome::Terms { services }) => {
            let back = format!("/oidc/authorize?{query}");
            respond(see_other(&crate::terms::terms_url(&back, Some(&services))))
        }
        Err(e) if e.is_internal() => {
            respond(HttpError::Unavailable(e.to_string()).page(&page_layout))
        }
        // An unknown client or an unregistered redirect URI: never redirect there.
        Err(_) => respond(HttpError::BadRequest.page(&page_layout)),
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
        certificate: extensions
            .get::<ClientCertificate>()
            .map(|c| (*c.0).clone()),
    }
}

async fn read_form<T: serde::de::DeserializeOwned>(body: axum::body::Body) -> Result<T, Response> {
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| oauth_error(&SsoError::InvalidRequest("the request is too large".into())))?;
    serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| oauth_error(&SsoError::InvalidRequest("the form cannot be read".into())))
}

async fn token(State(state): State<HttpState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let p = match provider(&state) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let form: TokenRequest = match read_form(body).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let creds = credentials(&parts.headers, &parts.extensions);
    let source = Caller::from(&parts.extensions).source();
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

async fn userinfo(State(state): State<HttpState>, req: Request) -> Response {
    let p = match provider(&state) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let Some(token) = bearer(req.headers()) else {
        return oauth_error(&SsoError::InvalidToken("a bearer token is required".into()));
    };
    let source = Caller::from(req.extensions()).source();
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

async fn revoke(State(state): State<HttpState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let p = match provider(&state) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let form: TokenForm = match read_form(body).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let creds = credentials(&parts.headers, &parts.extensions);
    let source = Caller::from(&parts.extensions).source();
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

async fn introspect(State(state): State<HttpState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let p = match provider(&state) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let form: TokenForm = match read_form(body).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let creds = credentials(&parts.headers, &parts.extensions);
    let source = Caller::from(&parts.extensions).source();
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
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    Query(query): Query<LogoutQuery>,
) -> Response {
    let caller = Caller::from(&extensions);
    let lang = language(&state, &headers);
    let (page_layout, cookie) = layout(&state, &headers, lang, "/", "account");
    let respond = |res: Response| with_cookie(&state, res, cookie.clone());
    let Ok(p) = provider(&state) else {
        return respond(HttpError::Unavailable("no provider".into()).page(&page_layout));
    };
    let who = match authenticated(&state, &headers, &caller).await {
        Ok(who) => who,
        Err(e) => return respond(e.page(&page_layout)),
    };
    let outcome = p
        .end_session(
            query.id_token_hint.as_deref(),
            query.post_logout_redirect_uri.as_deref(),
            query.state.as_deref(),
            who.as_ref(),
            &caller.source(),
        )
        .await;
    let mut res = match outcome {
        Ok(LogoutOutcome::Redirect(url)) => see_other(&url),
        Ok(LogoutOutcome::Done) => see_other("/login"),
        Err(e) => return respond(HttpError::Unavailable(e.to_string()).page(&page_layout)),
    };
    if let Some(v) = set_session_cookie(&state, None) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    respond(res)
}
