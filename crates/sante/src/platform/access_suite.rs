//! The authorisation suite: every route of the route table, asked by every class of
//! caller (nobody, a patient, a professional, an agent, an establishment's service
//! token, each credential presented where it does not belong), on the platform the
//! server composes, over the demo's data, on both backends.
//!
//! The table is the one [`Platform::web`] builds with the router, so a new route is in
//! it with its declared [`Access`]; the decision the table declares is checked against
//! what the handler does. Every route is also asked with hostile path segments, query
//! parameters and bodies: nothing a client sends may give a 5xx or a redirection to
//! another site.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use sante_audit::{Actor, Source};
use sante_directory::Request as DirectoryRequest;
use sante_directory::service::PatientQuery;
use sante_http::{Access, App, RouteSpec};
use sante_identity::{Authenticated, PasswordLogin, secrets};
use sante_store::{Backend, testing};
use sante_terms::Document;
use sante_types::{Quality, Service};
use secrecy::SecretString;
use tower::ServiceExt;

use super::Platform;
use crate::config::Config;

/// Who asks, and with what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Caller {
    Nobody,
    Patient,
    Professional,
    Agent,
    /// An establishment system's service token (a bearer token of the platform).
    Service,
    /// A patient's session cookie presented as a bearer token.
    SessionAsBearer,
    /// A bearer token that the platform never issued.
    ForgedBearer,
    /// The access token a professional's application obtained by OpenID Connect.
    ProfessionalToken,
    /// That application authenticating itself (HTTP Basic, RFC 6749 §2.3.1).
    Application,
    /// An application with a wrong secret.
    WrongSecret,
}

const CALLERS: [Caller; 10] = [
    Caller::Nobody,
    Caller::Patient,
    Caller::Professional,
    Caller::Agent,
    Caller::Service,
    Caller::SessionAsBearer,
    Caller::ForgedBearer,
    Caller::ProfessionalToken,
    Caller::Application,
    Caller::WrongSecret,
];

/// The platform of a demo, and the credentials of each caller.
struct Fixture {
    app: App,
    public_url: String,
    csrf_secret: [u8; 32],
    csrf_cookie: String,
    patient_session: String,
    professional_session: String,
    agent_session: String,
    service_token: String,
    professional_token: String,
    /// The application's client id and secret.
    application: (String, String),
    /// The demo patient's directory id, for routes that name a holder.
    patient_id: String,
    /// The demo patient's login, password and authenticator key.
    patient_login: (String, String, String),
    /// The authenticator's time step the fixture's own login used.
    patient_step_used: u64,
    /// The platform behind the router, to set up what a test compares.
    platform: Platform,
    patient: Authenticated,
    professional: Authenticated,
    _dir: tempfile::TempDir,
}

/// A patient, a professional with a card and an agent, logged in as the portal logs
/// them in; the terms each service asks for accepted, so that a refusal is the
/// route's decision and not a missing acceptance.
async fn fixture(backend: Backend) -> anyhow::Result<Option<Fixture>> {
    let schema = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            if !testing::postgres_expected().await {
                return Ok(None);
            }
            Some(testing::unique_schema("authz"))
        }
    };
    let dir = tempfile::tempdir()?;
    let loopback: SocketAddr = "127.0.0.1:0".parse()?;
    crate::init::run(dir.path(), loopback, loopback, Some(loopback), false)?;
    let token_file = crate::directory_cmd::demo_service_client(dir.path())?;
    let mut config = crate::commands::load(&dir.path().join("sante.toml"))?;
    if let Some(schema) = schema {
        config.storage.database_url = SecretString::from(testing::pg_url());
        config.storage.postgres_schema = Some(schema);
    }
    crate::directory_cmd::load_demo(&config).await?;
    {
        let opened = crate::account_cmd::Opened::new(&config).await?;
        crate::terms_cmd::publish_shipped(&opened.terms()).await?;
        opened.close().await;
    }
    let logins = crate::account_cmd::demo_logins(&config).await?;
    let platform = Platform::build(&config).await?;
    let source = Source {
        ip: Some("127.0.0.1".parse()?),
        ..Source::default()
    };

    let unix = u64::try_from(platform.clock.now().timestamp())?;
    // The activation used the current step: the login uses the next, as a phone would
    // half a minute later.
    let totp = secrets::totp_code(&value_after(&logins, "authenticator key"), unix + 30)
        .ok_or_else(|| anyhow::anyhow!("the demo patient has no authenticator key"))?;
    let patient_login = (
        value_after(
            &logins,
            "patient (password + one-time code, substantial): login",
        ),
        value_after(&logins, ", password"),
        value_after(&logins, "authenticator key"),
    );
    let (patient_session, patient) = platform
        .identity
        .login_password(
            &PasswordLogin {
                login: &patient_login.0,
                quality: Quality::Patient,
                password: &patient_login.1,
                totp_code: Some(&totp),
                client: "authorisation suite",
            },
            &source,
        )
        .await
        .with_context(|| format!("the demo patient's login: {logins}"))?;
    let (professional_session, professional) =
        professional_with_card(&platform, &config, dir.path(), &source).await?;
    // "identity-vigilance officer (agent, password, low): login L, password P"
    let agent_line = logins
        .lines()
        .find(|l| l.contains("identity-vigilance officer"))
        .and_then(|l| l.split_once("): "))
        .map(|(_, credentials)| credentials)
        .unwrap_or_default();
    let (agent_session, _) = platform
        .identity
        .login_password(
            &PasswordLogin {
                login: &value_after(agent_line, "login"),
                quality: Quality::Agent,
                password: &value_after(agent_line, ", password"),
                totp_code: None,
                client: "authorisation suite",
            },
            &source,
        )
        .await
        .context("the demo agent's login")?;
    for who in [&patient.account, &professional.account] {
        for document in [Document::General, Document::Service(Service::Dsp)] {
            let version = platform
                .terms
                .current(document)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no terms for {}", document.code()))?;
            platform
                .terms
                .accept(
                    Actor::default(),
                    who,
                    document,
                    version.version,
                    "fr",
                    &source,
                )
                .await?;
        }
    }
    let patient_id = platform
        .directory
        .search_patients(
            &DirectoryRequest::operator(),
            &PatientQuery {
                family: Some("schmit".into()),
                ..PatientQuery::default()
            },
            None,
            1,
        )
        .await?
        .items
        .into_iter()
        .next()
        .map(|p| p.id)
        .unwrap_or_default();
    let (application, professional_token) =
        application_token(&platform, &professional, &source).await?;
    let app = platform.web(&config, Some(mail_setup()), None)?;
    let csrf_cookie = sante_http::csrf::new_cookie_value();
    Ok(Some(Fixture {
        app,
        public_url: config.server.public_url.clone(),
        csrf_secret: super::http_secret(&config)?,
        csrf_cookie,
        patient_session: patient_session.to_string(),
        professional_session,
        professional_token,
        application,
        agent_session: agent_session.to_string(),
        service_token: std::fs::read_to_string(token_file)?.trim().to_owned(),
        patient_id,
        patient_login,
        patient_step_used: (unix + 30) / 30,
        platform,
        patient,
        professional,
        _dir: dir,
    }))
}

/// A confidential application of the DSP registered with the provider, and the access
/// token it obtained for `professional` by the authorisation code flow with PKCE.
async fn application_token(
    platform: &Platform,
    professional: &Authenticated,
    source: &Source,
) -> anyhow::Result<((String, String), String)> {
    const REDIRECT: &str = "https://app.example.lu/callback";
    const VERIFIER: &str = "a-verifier-of-the-authorisation-suite-0123456789-abcdef";
    let (client, secret) = platform
        .sso
        .register_relying_party(
            sante_sso::NewRelyingParty {
                name: "Authorisation suite".into(),
                redirect_uris: vec![REDIRECT.into()],
                post_logout_redirect_uris: vec![],
                backchannel_logout_uri: None,
                services: vec![Service::Dsp, Service::Directory],
                confidential: true,
            },
            source,
        )
        .await?;
    let secret = secret
        .map(|s| s.to_string())
        .ok_or_else(|| anyhow::anyhow!("a confidential client has a secret"))?;
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(VERIFIER.as_bytes()))
    };
    let outcome = platform
        .sso
        .authorize(
            &sante_sso::AuthorizeRequest {
                response_type: "code".into(),
                client_id: client.id.clone(),
                redirect_uri: REDIRECT.into(),
                scope: "openid".into(),
                state: Some("suite".into()),
                nonce: Some("suite-nonce".into()),
                code_challenge: Some(challenge),
                code_challenge_method: Some("S256".into()),
                acr_values: None,
                prompt: None,
            },
            Some(professional),
            source,
        )
        .await?;
    let sante_sso::AuthorizeOutcome::Redirect(url) = outcome else {
        anyhow::bail!("the authorisation did not give a code: {outcome:?}");
    };
    let code = url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .ok_or_else(|| anyhow::anyhow!("no code in {url}"))?
        .to_owned();
    let credentials = sante_sso::ClientCredentials {
        basic: Some((client.id.clone(), secret.clone())),
        certificate: None,
    };
    let tokens = platform
        .sso
        .token(
            &sante_sso::TokenRequest {
                grant_type: "authorization_code".into(),
                code: Some(code),
                redirect_uri: Some(REDIRECT.into()),
                code_verifier: Some(VERIFIER.into()),
                ..sante_sso::TokenRequest::default()
            },
            &credentials,
            source,
        )
        .await?;
    Ok(((client.id, secret), tokens.access_token))
}

/// A second physician of the demo, activated with a development card and logged in
/// with it as the card login listener does. Returns the session and who it is.
async fn professional_with_card(
    platform: &Platform,
    config: &Config,
    dir: &Path,
    source: &Source,
) -> anyhow::Result<(String, Authenticated)> {
    let found = crate::account_cmd::demo_physicians(&platform.directory, 2).await?;
    let physician = found
        .into_iter()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("the demo has fewer than two physicians"))?;
    let carded = crate::account_cmd::activate_with_dev_card(
        config,
        &platform.identity,
        &physician,
        &dir.join("suite-card.p12"),
        "suite card password",
        "suite.professional@example.lu",
        source,
    )
    .await?;
    let (session, who) = platform
        .identity
        .login_certificate(
            &carded.certificate,
            Quality::Professional,
            "authorisation suite",
            source,
        )
        .await?;
    Ok((session.to_string(), who))
}

fn mail_setup() -> sante_portal::mail_setup::MailSetup {
    sante_portal::mail_setup::MailSetup {
        domain: "sante.example.lu".into(),
        hostname: "mail.sante.example.lu".into(),
        imap: Some(993),
        pop3: Some(995),
        submissions: Some(465),
        submission: Some(587),
    }
}

/// The word after `label` on the first line of `text` that holds it.
fn value_after(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.split_once(label).map(|(_, v)| v))
        .and_then(|v| v.split_whitespace().next())
        .map(|v| v.trim_end_matches([',', ';']).to_owned())
        .unwrap_or_default()
}

/// What came back.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    location: Option<String>,
    www_authenticate: Option<String>,
    body: String,
}

impl Answer {
    fn to_login(&self) -> bool {
        self.status == StatusCode::SEE_OTHER
            && self
                .location
                .as_deref()
                .is_some_and(|l| l.starts_with("/login"))
    }
}

impl Fixture {
    fn session_of(&self, caller: Caller) -> Option<&str> {
        match caller {
            Caller::Patient => Some(&self.patient_session),
            Caller::Professional => Some(&self.professional_session),
            Caller::Agent => Some(&self.agent_session),
            _ => None,
        }
    }

    /// `method path` by `caller`; a POST carries `form` and, for a session, the CSRF
    /// token a page of the portal would have given.
    async fn ask(&self, method: &str, path: &str, caller: Caller, form: &str) -> Answer {
        self.ask_with(method, path, caller, form, None).await
    }

    /// The same with `raw` as the body, sent with its content type, instead of a form.
    async fn ask_with(
        &self,
        method: &str,
        path: &str,
        caller: Caller,
        form: &str,
        raw: Option<(&str, axum::body::Bytes)>,
    ) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::ACCEPT_LANGUAGE, "fr")
            .header(header::USER_AGENT, "authorisation suite");
        let cookie_name = sante_http::csrf::cookie_name(true);
        let mut cookies = format!("{cookie_name}={}", self.csrf_cookie);
        if let Some(session) = self.session_of(caller) {
            cookies.push_str(&format!(
                "; {}={session}",
                sante_http::portal::SESSION_COOKIE
            ));
        }
        req = req.header(header::COOKIE, cookies);
        match caller {
            Caller::Service => {
                req = req.header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", self.service_token),
                )
            }
            Caller::SessionAsBearer => {
                req = req.header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", self.patient_session),
                )
            }
            Caller::ForgedBearer => {
                req = req.header(
                    header::AUTHORIZATION,
                    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
                )
            }
            Caller::ProfessionalToken => {
                req = req.header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", self.professional_token),
                )
            }
            Caller::Application | Caller::WrongSecret => {
                use base64::Engine;
                let (id, secret) = &self.application;
                let secret = if caller == Caller::Application {
                    secret.as_str()
                } else {
                    "not-the-secret"
                };
                let basic =
                    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
                req = req.header(header::AUTHORIZATION, format!("Basic {basic}"))
            }
            _ => {}
        }
        let body = if let Some((content_type, raw)) = raw {
            let token = sante_http::csrf::token(&self.csrf_secret, &self.csrf_cookie);
            req = req
                .header(header::CONTENT_TYPE, content_type)
                .header(sante_http::csrf::HEADER, token);
            Body::from(raw)
        } else if method == Method::POST {
            let token = sante_http::csrf::token(&self.csrf_secret, &self.csrf_cookie);
            req = req
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(sante_http::csrf::HEADER, token.clone());
            let csrf = if self.session_of(caller).is_some() && !form.starts_with(NO_CSRF) {
                format!("csrf={token}&")
            } else {
                String::new()
            };
            Body::from(format!("{csrf}{}", form.trim_start_matches(NO_CSRF)))
        } else {
            Body::empty()
        };
        let res = self
            .app
            .router
            .clone()
            .oneshot(req.body(body).expect("request"))
            .await
            .expect("the router is infallible");
        let status = res.status();
        let text = |name| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let location = text(header::LOCATION);
        let www_authenticate = text(header::WWW_AUTHENTICATE);
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 22)
            .await
            .unwrap_or_default();
        Answer {
            status,
            location,
            www_authenticate,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// The route's path with each parameter given `value`.
    fn path_with(&self, route: &RouteSpec, value: &str) -> String {
        route
            .path
            .split('/')
            .map(|segment| match segment {
                "{holder}" if value == ORDINARY => self.patient_id.as_str(),
                s if s.starts_with('{') => value,
                s => s,
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Larger than any route accepts (the largest, an MHD bundle, takes 32 MiB).
const OVERSIZED: usize = 33 * 1024 * 1024;
/// Deeper than serde_json's recursion limit (128).
const NESTING: usize = 100_000;

/// A form body starting so is posted without the CSRF field: the session's decision
/// is then seen without the form doing what it is for (ending the session).
const NO_CSRF: &str = "\0no-csrf\0";

/// A parameter value that names nothing in particular.
const ORDINARY: &str = "unknown-7";

/// Path segments a hostile client sends (already percent-encoded where a URI needs
/// it): control characters, separators, an overlong id, traversal, odd Unicode.
fn hostile_segments() -> Vec<String> {
    vec![
        "%00".into(),
        "%0d%0aSet-Cookie:%20a=b".into(),
        "%09".into(),
        "..%2f..%2fetc%2fpasswd".into(),
        "%2e%2e".into(),
        "%ff%fe%fd".into(),
        "%E2%80%AE%F0%9F%92%A9".into(),
        "'%22%3Cscript%3E".into(),
        "a".repeat(4096),
        "-1".into(),
        "99999999999999999999999999999999".into(),
        "%25".into(),
    ]
}

/// Query strings a hostile client sends: redirect targets to elsewhere, control
/// characters, absurd numbers, repeated and overlong parameters.
fn hostile_queries() -> Vec<String> {
    let targets = [
        "%09//evil.example/",
        "//evil.example",
        "/%09/evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "%0d%0aLocation:%20https://evil.example",
        "javascript:alert(1)",
        "%00",
    ];
    let mut queries: Vec<String> = targets
        .iter()
        .map(|t| format!("next={t}&continue={t}&redirect_uri={t}&post_logout_redirect_uri={t}"))
        .collect();
    queries.extend([
        "_count=99999999999999999999&page=-1&_offset=%00".into(),
        "_count=0&_summary=count&_include=*&_revinclude=*".into(),
        "name=%00&family=%0d%0a&birthdate=2099-99-99&identifier=%7C%7C%7C".into(),
        "gender=female&given=a".into(),
        "lang=%00&author=%ff&category=a%00b&date=ge9999-01-01".into(),
        format!("q={}", "a".repeat(16 * 1024)),
        "a=1&a=2&a=3&a=4&a=5&a=6&a=7&a=8&a=9&a=10".into(),
        "response_type=code&client_id=%00&scope=openid&state=%0d%0a&nonce=x&code_challenge_method=plain".into(),
    ]);
    queries
}

/// Form bodies a hostile client posts.
fn hostile_forms() -> Vec<String> {
    vec![
        String::new(),
        "%%%%=%%%".into(),
        "login=%00&password=%0d%0a&code=%ff&next=%09//evil.example".into(),
        "id=..%2f..&session=%00&professional=%E2%80%AE&document=-1&reason=%0d%0a".into(),
        format!("field={}", "a".repeat(60 * 1024)),
        "grant_type=authorization_code&code=x&redirect_uri=https://evil.example&client_id=%00"
            .into(),
        "token=%00&token_type_hint=%0d%0a".into(),
    ]
}

/// Whether `answer` keeps to `route`'s declared decision for `caller`, or why not.
fn decision_kept(route: &RouteSpec, caller: Caller, answer: &Answer) -> Result<(), String> {
    let post = route.method == "POST";
    let session = matches!(
        caller,
        Caller::Patient | Caller::Professional | Caller::Agent
    );
    let why = |what: &str| Err(format!("{what}, got {answer:?}"));
    match route.access {
        Access::Public => {
            // A form of the public pages may refuse a missing CSRF token; nothing
            // else refuses an anonymous caller.
            if !post
                && matches!(
                    answer.status,
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                )
            {
                return why("a public page refused");
            }
        }
        Access::SignedIn => {
            if session {
                if answer.to_login() || answer.status == StatusCode::UNAUTHORIZED {
                    return why("a signed-in person was sent to log in");
                }
            } else if !answer.to_login() {
                return why("nobody signed in must be sent to the login page");
            }
        }
        Access::Patient | Access::Professional => {
            let quality = if route.access == Access::Patient {
                Caller::Patient
            } else {
                Caller::Professional
            };
            if caller == quality {
                if answer.to_login()
                    || matches!(
                        answer.status,
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                    )
                {
                    return why("the route's own quality was refused");
                }
            } else if session {
                // Refused, or (a page) sent to the area of the caller's own quality;
                // a form may be refused as malformed before its service decides.
                let elsewhere = !post
                    && answer.status == StatusCode::SEE_OTHER
                    && !answer.to_login()
                    && answer
                        .location
                        .as_deref()
                        .is_some_and(|l| !l.starts_with(route.path));
                let refused =
                    matches!(answer.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND)
                        || (post && answer.status == StatusCode::BAD_REQUEST);
                if !(elsewhere || refused) {
                    return why("another quality must be refused or sent to its own area");
                }
            } else if !answer.to_login() {
                return why("nobody signed in must be sent to the login page");
            }
        }
        Access::Bearer => {
            if caller == Caller::ProfessionalToken {
                if answer.status == StatusCode::UNAUTHORIZED {
                    return why("a professional's access token was refused as unauthenticated");
                }
            } else if caller == Caller::Service {
                // An establishment's service token opens the patient directory only;
                // elsewhere it is a token the route does not know (401) or may not use.
            } else {
                let challenge = answer
                    .www_authenticate
                    .as_deref()
                    .is_some_and(|v| v.starts_with("Bearer"));
                if answer.status != StatusCode::UNAUTHORIZED || !challenge {
                    return why("without a valid token: 401 with a Bearer challenge (RFC 6750)");
                }
            }
        }
        Access::Client if caller == Caller::Application => {
            if answer.status == StatusCode::UNAUTHORIZED {
                return why("the application's own credentials were refused");
            }
        }
        Access::Client => {
            if !matches!(
                answer.status,
                StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST
            ) {
                return why("no client authenticated: 401 invalid_client or 400");
            }
            if answer.status == StatusCode::UNAUTHORIZED && !answer.body.contains("invalid_client")
            {
                return why("a 401 of the token endpoints says invalid_client");
            }
        }
    }
    Ok(())
}

/// Whether `answer` is an answer a client may get for anything it sends: no 5xx, no
/// redirection to another site.
fn safe_answer(public_url: &str, answer: &Answer) -> Result<(), String> {
    if answer.status.is_server_error() {
        return Err(format!("a server error: {answer:?}"));
    }
    if let Some(location) = &answer.location {
        let local = location.starts_with('/')
            && !location.starts_with("//")
            && !location.starts_with("/\\")
            && !location.chars().any(|c| c.is_control() || c == '\\');
        let own = location.starts_with(&format!("{public_url}/"));
        if !(local || own) {
            return Err(format!("a redirection off the platform: {answer:?}"));
        }
    }
    Ok(())
}

/// The routes whose success ends the caller's session.
fn ends_session(route: &RouteSpec) -> bool {
    matches!(route.path, "/logout" | "/account/lost")
}

async fn every_route_keeps_its_decision_for_every_caller(backend: Backend) {
    let Some(f) = fixture(backend).await.expect("the demo platform") else {
        return;
    };
    let routes = f.app.routes.clone();
    let declared: BTreeSet<&str> = routes
        .iter()
        .map(|r| match r.access {
            Access::Public => "public",
            Access::SignedIn => "signed-in",
            Access::Patient => "patient",
            Access::Professional => "professional",
            Access::Bearer => "bearer",
            Access::Client => "client",
        })
        .collect();
    assert_eq!(
        declared.len(),
        6,
        "every decision is declared by some route: {declared:?}"
    );

    let mut failures = Vec::new();
    for route in &routes {
        // A refusal on any route is traced with its template: the trail takes each.
        if let Err(e) = sante_audit::Token::new(sante_http::route_token(route.path)) {
            failures.push(format!("{} cannot be traced: {e}", route.path));
        }
    }
    // Hostile input first, by every caller, on every route but those that end the
    // session: nothing may break.
    for route in routes.iter().filter(|r| !ends_session(r)) {
        let mut paths: Vec<String> = hostile_segments()
            .iter()
            .filter(|_| route.path.contains('{'))
            .map(|s| f.path_with(route, s))
            .collect();
        let ordinary = f.path_with(route, ORDINARY);
        paths.extend(hostile_queries().iter().map(|q| format!("{ordinary}?{q}")));
        for caller in CALLERS {
            let forms = if route.method == "POST" {
                hostile_forms()
            } else {
                vec![String::new()]
            };
            for path in &paths {
                let answer = f.ask(route.method, path, caller, "").await;
                if let Err(e) = safe_answer(&f.public_url, &answer) {
                    failures.push(format!("{} {path} by {caller:?}: {e}", route.method));
                }
            }
            for form in &forms {
                let answer = f.ask(route.method, &ordinary, caller, form).await;
                if let Err(e) = safe_answer(&f.public_url, &answer) {
                    failures.push(format!(
                        "{} {ordinary} by {caller:?} posting {:.60}: {e}",
                        route.method, form
                    ));
                }
            }
        }
    }
    // Bodies beyond every route's limit, and JSON nested past any parser's depth, by
    // every caller on every route that takes a body: refused, never served, never a
    // fault.
    let oversized = axum::body::Bytes::from(vec![b'a'; OVERSIZED]);
    let nested = axum::body::Bytes::from(format!("{}{}", "[".repeat(NESTING), "]".repeat(NESTING)));
    let mut too_large = 0;
    for route in routes
        .iter()
        .filter(|r| r.method == "POST" && !ends_session(r))
    {
        let path = f.path_with(route, ORDINARY);
        for caller in CALLERS {
            for (what, content_type, body) in [
                (
                    "an oversized form",
                    "application/x-www-form-urlencoded",
                    &oversized,
                ),
                (
                    "an oversized FHIR body",
                    "application/fhir+json",
                    &oversized,
                ),
                ("deeply nested JSON", "application/fhir+json", &nested),
            ] {
                let answer = f
                    .ask_with(
                        route.method,
                        &path,
                        caller,
                        "",
                        Some((content_type, body.clone())),
                    )
                    .await;
                too_large += usize::from(answer.status == StatusCode::PAYLOAD_TOO_LARGE);
                // A route that never reads its body (userinfo with a bearer token)
                // answers as it does without one.
                let unread = answer.status.is_success()
                    && f.ask(route.method, &path, caller, "").await.status == answer.status;
                let refused = unread
                    || answer.status.is_client_error()
                    || (answer.status.is_redirection()
                        && decision_kept(route, caller, &answer).is_ok());
                if let Err(e) = safe_answer(&f.public_url, &answer).and_then(|()| {
                    refused
                        .then_some(())
                        .ok_or_else(|| format!("answered {}", answer.status))
                }) {
                    failures.push(format!(
                        "{} {path} by {caller:?} with {what}: {e:.300}",
                        route.method
                    ));
                }
            }
        }
    }
    assert!(
        too_large > 0,
        "some route reads its body and says 413 past its limit"
    );
    // Then the decision of each route for each caller, with ordinary parameters; the
    // routes ending a session are asked without the form's token, so every caller's
    // session lives to the end (their forms are asked in the portal's own tests).
    for route in &routes {
        let path = f.path_with(route, ORDINARY);
        let form = if ends_session(route) { NO_CSRF } else { "" };
        for caller in CALLERS {
            let answer = f.ask(route.method, &path, caller, form).await;
            if let Err(e) = safe_answer(&f.public_url, &answer)
                .and_then(|()| decision_kept(route, caller, &answer))
            {
                failures.push(format!(
                    "{} {} ({:?}) by {caller:?}: {e:.400}",
                    route.method, route.path, route.access
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the route table's answers break its decisions or the platform:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_keeps_its_decision_for_every_caller_on_sqlite() {
    every_route_keeps_its_decision_for_every_caller(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_keeps_its_decision_for_every_caller_on_postgres() {
    every_route_keeps_its_decision_for_every_caller(Backend::Postgres).await;
}

/// The `Set-Cookie` value of `name` in `res`, with its attributes.
fn set_cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// Session fixation and cookie scope: a session cookie the visitor brought (set by
/// an attacker on his browser) is never adopted: the login issues a new secret, in a
/// host-only, secure, HTTP-only, same-site cookie, and the planted value opens
/// nothing before or after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_never_adopts_the_session_cookie_the_visitor_brought() {
    let Some(f) = fixture(Backend::Sqlite).await.expect("the demo platform") else {
        return;
    };
    let session_cookie = sante_http::portal::SESSION_COOKIE;
    let csrf_cookie = sante_http::csrf::cookie_name(true);
    let planted = "planted-by-an-attacker-0123456789abcdef";
    let request = |method: Method, path: &str, session: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::ACCEPT_LANGUAGE, "fr")
            .header(
                header::COOKIE,
                format!(
                    "{csrf_cookie}={}; {session_cookie}={session}",
                    f.csrf_cookie
                ),
            )
    };
    let send = |req: Request<Body>| {
        let router = f.app.router.clone();
        async move { router.oneshot(req).await.expect("the router is infallible") }
    };
    // The planted value opens nothing.
    let before = send(
        request(Method::GET, "/account", planted)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(
        before.status().is_redirection(),
        "a planted cookie is no session: {}",
        before.status()
    );

    // The authenticator's next step after the fixture's own login (at most 30 s away).
    let (login, password, seed) = &f.patient_login;
    let code = loop {
        let unix = u64::try_from(f.platform.clock.now().timestamp()).unwrap();
        if unix / 30 >= f.patient_step_used {
            break secrets::totp_code(seed, unix + 30).unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    };
    let token = sante_http::csrf::token(&f.csrf_secret, &f.csrf_cookie);
    let form = serde_urlencoded::to_string([
        ("csrf", token.as_str()),
        ("quality", "patient"),
        ("login", login),
        ("password", password),
        ("code", &code),
    ])
    .unwrap();
    let res = send(
        request(Method::POST, "/login", planted)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap(),
    )
    .await;
    assert!(res.status().is_redirection(), "logged in: {}", res.status());
    let issued = set_cookie(res.headers(), session_cookie).expect("a session cookie is issued");
    let value = issued
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap();
    assert_ne!(value, planted, "the planted session id is not adopted");
    assert!(value.len() >= 32, "the session secret is long: {value}");
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(issued.contains(attribute), "{attribute} in {issued}");
    }
    assert!(
        !issued.to_ascii_lowercase().contains("domain="),
        "the session cookie is host-only: {issued}"
    );

    // The new secret is the session; the planted one still opens nothing.
    let after = send(
        request(Method::GET, "/account", &value)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(after.status(), StatusCode::OK);
    let planted_after = send(
        request(Method::GET, "/account", planted)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(planted_after.status().is_redirection());
}

/// A caller of the DSP as its front ends make one.
fn dsp_caller(who: &Authenticated) -> sante_dsp::Caller {
    sante_dsp::Caller {
        account: who.account.clone(),
        quality: who.quality,
        assurance: who.assurance,
        credential: who.credential,
        entry: who.subject.clone(),
        system: None,
        source: Source::default(),
    }
}

/// What the holder hides from a professional is, to that professional, absent: the
/// searches (entries, `total`, paging links), the submission sets and the reads of
/// the MHD API tell him nothing of it, and a read of the hidden document answers
/// exactly as a read of one that never existed. A patient he has no relationship with
/// answers as one without a DSP, and as one the directory does not know.
async fn what_the_holder_hides_is_absent_for_the_professional_it_is_hidden_from(backend: Backend) {
    let Some(f) = fixture(backend).await.expect("the demo platform") else {
        return;
    };
    let dsp = &f.platform.dsp;
    let holder = f.patient_id.clone();
    let holder_caller = dsp_caller(&f.patient);
    let reader = dsp_caller(&f.professional);
    // The author: another physician of the directory, in care of the holder.
    let author_entry = crate::account_cmd::demo_physicians(&f.platform.directory, 3)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .find(|id| *id != reader.entry)
        .expect("another physician");
    let author = sante_dsp::Caller {
        account: "suite-author".into(),
        quality: Quality::Professional,
        assurance: sante_types::LevelOfAssurance::High,
        credential: sante_types::CredentialKind::ClientCertificate,
        entry: author_entry,
        system: None,
        source: Source::default(),
    };

    // Before anything: the reader, with no relationship, asks for the holder, for a
    // patient without a DSP and for one the directory does not know.
    let search = |patient: &str| format!("/fhir/DocumentReference?patient=Patient/{patient}");
    let reader_asks = |path: String| {
        let f = &f;
        async move { f.ask("GET", &path, Caller::ProfessionalToken, "").await }
    };
    let without_relationship = reader_asks(search(&holder)).await;
    let unknown = reader_asks(search("no-such-patient")).await;
    assert_eq!(without_relationship.status, unknown.status);
    assert_eq!(
        without_relationship.body.replace(&holder, "X"),
        unknown.body.replace("no-such-patient", "X"),
        "no relationship and no such patient answer alike"
    );

    dsp.create(&holder, &Source::default()).await.unwrap();
    dsp.activate(&holder_caller, &holder).await.unwrap();
    for professional in [&author, &reader] {
        let code = dsp
            .issue_access_code(&holder_caller, &holder)
            .await
            .unwrap();
        dsp.redeem_access_code(professional, &code.code)
            .await
            .unwrap();
    }
    let new_item = |title: &str| sante_dsp::service::NewItem {
        type_system: "http://loinc.org".into(),
        type_code: "11502-2".into(),
        title: title.into(),
        mime_type: "application/pdf".into(),
        content: format!("%PDF-1.4 {title}").into_bytes(),
        service_date: None,
        confidentiality: sante_dsp::model::Confidentiality::Restricted,
        replaces: None,
        master_identifier: None,
    };
    let hidden = dsp
        .file(&author, &holder, new_item("hidden report"))
        .await
        .unwrap();
    let shown = dsp
        .file(&author, &holder, new_item("shown report"))
        .await
        .unwrap();
    dsp.acknowledge_risks(&holder_caller, &holder)
        .await
        .unwrap();
    dsp.restrict(&holder_caller, &holder, &hidden.id, &reader.entry)
        .await
        .unwrap();

    let answers = [
        reader_asks(search(&holder)).await,
        reader_asks(format!("{}&_count=1", search(&holder))).await,
        reader_asks(format!("/fhir/List?patient=Patient/{holder}")).await,
    ];
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(
            !answer.body.contains(&hidden.id) && !answer.body.contains("hidden report"),
            "the hidden document shows: {}",
            answer.body
        );
    }
    let bundle: serde_json::Value = serde_json::from_str(&answers[0].body).unwrap();
    assert_eq!(bundle["total"], 1, "counted as absent: {bundle}");
    assert!(answers[0].body.contains(&shown.id));
    let page: serde_json::Value = serde_json::from_str(&answers[1].body).unwrap();
    assert!(
        page["link"]
            .as_array()
            .is_none_or(|links| links.iter().all(|l| l["relation"] != "next")),
        "no next page for a document he may not see: {page}"
    );
    // Reads: the hidden document and one that never existed answer alike.
    let never = "0192f000-0000-7000-8000-000000000000";
    for resource in ["DocumentReference", "Binary"] {
        let of_hidden = reader_asks(format!("/fhir/{resource}/{}", hidden.id)).await;
        let of_absent = reader_asks(format!("/fhir/{resource}/{never}")).await;
        assert_eq!(of_hidden.status, of_absent.status, "{resource}");
        assert_eq!(
            of_hidden.body.replace(&hidden.id, "X"),
            of_absent.body.replace(never, "X"),
            "{resource}: a hidden document reads as an absent one"
        );
        assert!(
            of_hidden.status.is_client_error(),
            "{resource}: {}",
            of_hidden.status
        );
    }
    // The author still sees both (the restriction is for the reader only).
    let all = dsp
        .search(
            &author,
            &holder,
            &sante_dsp::service::ItemQuery::default(),
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(all.total, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_holder_hides_is_absent_for_the_professional_it_is_hidden_from_on_sqlite() {
    what_the_holder_hides_is_absent_for_the_professional_it_is_hidden_from(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_holder_hides_is_absent_for_the_professional_it_is_hidden_from_on_postgres() {
    what_the_holder_hides_is_absent_for_the_professional_it_is_hidden_from(Backend::Postgres).await;
}
