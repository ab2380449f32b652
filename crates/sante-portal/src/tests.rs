//! The portal through `oneshot`, on the kernel as the binary composes them: headers,
//! health, metrics, languages, CSRF, tracing.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;
use sante_audit::testing::TestPlatform;
use sante_audit::{AuditEvent, EventKind, RecordError, Recorder};
use sante_http::{ALPN, HttpConfig, Kernel, KernelParts, Readiness, csrf, serve_https};
use sante_net::Listener;
use sante_store::Backend;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Keeps what the router records, to check the trail it would leave.
#[derive(Debug, Default)]
struct Collected {
    events: Mutex<Vec<AuditEvent>>,
    fail: bool,
}

impl Recorder for Collected {
    fn record(
        &self,
        event: AuditEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), RecordError>> + Send + '_>> {
        Box::pin(async move {
            if self.fail {
                return Err(RecordError("trail down".into()));
            }
            self.events.lock().unwrap().push(event);
            Ok(())
        })
    }
}

struct Ready(Result<(), String>);

impl Readiness for Ready {
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        let r = self.0.clone();
        Box::pin(async move { r })
    }
}

/// The platform contexts behind the portal, on a fresh SQLite database.
struct Contexts {
    platform: TestPlatform,
    _db: sante_store::testing::TestDb,
}

async fn contexts() -> Contexts {
    let db = sante_store::testing::fresh(Backend::Sqlite).await.unwrap();
    let platform = TestPlatform::new(db.db.clone(), chrono::DateTime::UNIX_EPOCH).await;
    Contexts { platform, _db: db }
}

/// The kernel and the portal, as the binary composes them, with secure messaging.
async fn portal(
    config: HttpConfig,
    ready: Result<(), String>,
    recorder: Arc<dyn Recorder>,
) -> (Router, Contexts) {
    portal_running(config, ready, recorder, true).await
}

/// The portal of a platform that runs secure messaging or not.
async fn portal_running(
    config: HttpConfig,
    ready: Result<(), String>,
    recorder: Arc<dyn Recorder>,
    messaging: bool,
) -> (Router, Contexts) {
    let c = contexts().await;
    let p = &c.platform;
    let clock: Arc<dyn sante_types::Clock> = p.clock.clone();
    let identity = sante_identity::Identity::new(p.db.clone(), p.recorder(), clock.clone());
    let terms = sante_terms::Terms::new(p.db.clone(), p.recorder(), clock.clone());
    let directory = sante_directory::Directory::new(p.db.clone(), p.recorder(), clock.clone());
    let sso = sante_sso::Provider::open(
        p.db.clone(),
        p.blobs.clone(),
        identity.clone(),
        p.recorder(),
        clock.clone(),
        &config.public_url,
    )
    .await
    .unwrap();
    let kernel = Kernel::new(KernelParts {
        config,
        readiness: Arc::new(Ready(ready)),
        recorder,
        clock,
        identity,
        terms,
        nav: crate::nav(),
    });
    let area = crate::routes(
        crate::PortalArea::new(
            kernel.clone(),
            directory,
            sso,
            sante_audit::Trail::new(p.db.clone()),
        )
        .with_messaging(messaging),
    );
    (sante_http::app(&kernel, [area]).router, c)
}

fn config(secret: u8) -> HttpConfig {
    HttpConfig {
        public_url: "https://localhost:8443".into(),
        default_lang: "fr".into(),
        cookie_secure: true,
        secret: sante_http::CsrfKey::new([secret; 32]),
        mtls_url: None,
        limits: Default::default(),
    }
}

async fn app(recorder: Arc<Collected>, ready: Result<(), String>) -> (Router, Contexts) {
    portal(config(9), ready, recorder).await
}

async fn get(
    app: &Router,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut req = http::Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

async fn post_form(
    app: &Router,
    path: &str,
    cookie: &str,
    body: &str,
) -> (StatusCode, HeaderMap, String) {
    let req = http::Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn pages_carry_security_headers_and_a_request_id() {
    let (app, _c) = app(Arc::default(), Ok(())).await;
    let (status, headers, body) = get(&app, "/", &[]).await;
    assert_eq!(status, 200);
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(headers["x-request-id"].to_str().unwrap().len(), 36);
    assert!(
        !body.contains("<script") && !body.contains("style="),
        "no inline script or style"
    );
    let (_, headers404, _) = get(&app, "/nothing/here", &[]).await;
    assert!(headers404.contains_key(header::CONTENT_SECURITY_POLICY));
}

#[tokio::test]
async fn the_portal_speaks_french_german_and_english() {
    let (app, _c) = app(Arc::default(), Ok(())).await;
    let (_, _, fr) = get(&app, "/", &[]).await;
    assert!(fr.contains("<html lang=\"fr\">") && fr.contains("Dossier de soins partagé"));
    let (_, _, de) = get(&app, "/", &[("accept-language", "de-LU,de;q=0.9")]).await;
    assert!(de.contains("<html lang=\"de\">") && de.contains("Sichere Nachrichtenübermittlung"));
    let (_, _, en) = get(&app, "/", &[("cookie", "lang=en")]).await;
    assert!(en.contains("<html lang=\"en\">") && en.contains("Secure messaging"));
    // A platform without secure messaging does not announce it.
    let (without, _c2) =
        portal_running(config(9), Ok(()), Arc::<Collected>::default(), false).await;
    let (_, _, de) = get(&without, "/", &[("accept-language", "de")]).await;
    assert!(de.contains("Verzeichnis der Gesundheitsfachkräfte"));
    assert!(!de.contains("Sichere Nachrichtenübermittlung"));
    // The cookie wins over the browser's preference.
    let (_, _, en) = get(
        &app,
        "/",
        &[("cookie", "lang=en"), ("accept-language", "de")],
    )
    .await;
    assert!(en.contains("<html lang=\"en\">"));
    // A link cannot change the language: only the protected form can.
    let (_, headers, fr) = get(&app, "/?lang=en", &[]).await;
    assert!(fr.contains("<html lang=\"fr\">"));
    assert!(
        !headers
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("lang="))
    );
    // An unsupported preference falls back to the default, French.
    let (_, _, fr) = get(&app, "/", &[("accept-language", "pt-PT,es;q=0.8")]).await;
    assert!(fr.contains("<html lang=\"fr\">") && fr.contains("Messagerie sécurisée"));
    let (status, _, page) = get(&app, "/missing", &[("accept-language", "de")]).await;
    assert_eq!(status, 404);
    assert!(page.contains("Seite nicht gefunden"));
}

#[tokio::test]
async fn page_views_are_traced_and_refused_when_the_trail_is_down() {
    let recorder = Arc::new(Collected::default());
    let (app, _c) = app(recorder.clone(), Ok(())).await;
    get(&app, "/", &[]).await;
    let events = recorder.events.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::PortalPageViewed);
    assert!(events[0].source.request_id.is_some());

    let (down, _d) = app_with_failing_trail().await;
    let (status, _, body) = get(&down, "/", &[]).await;
    assert_eq!(status, 503);
    assert!(body.contains("indisponible"));
}

async fn app_with_failing_trail() -> (Router, Contexts) {
    app(
        Arc::new(Collected {
            events: Mutex::default(),
            fail: true,
        }),
        Ok(()),
    )
    .await
}

fn csrf_cookie(headers: &HeaderMap) -> String {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(csrf::COOKIE))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

fn form_token(body: &str) -> String {
    let start = body.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    body[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_language_form_needs_its_csrf_token() {
    let recorder = Arc::new(Collected::default());
    let (app, _c) = app(recorder.clone(), Ok(())).await;
    let (_, headers, body) = get(&app, "/", &[]).await;
    let cookie = csrf_cookie(&headers);
    assert!(headers.get_all(header::SET_COOKIE).iter().any(|c| {
        let c = c.to_str().unwrap();
        c.starts_with("__Host-")
            && c.contains("HttpOnly")
            && c.contains("Secure")
            && c.contains("SameSite=Strict")
    }));
    let token = form_token(&body);

    // With the token: accepted, redirected to a local page, language remembered.
    let (status, headers, _) = post_form(
        &app,
        "/lang",
        &cookie,
        &format!("csrf={token}&lang=de&next=%2F"),
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(headers[header::LOCATION], "/");
    assert!(
        headers
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("lang=de"))
    );

    // Without a token, or with another browser's token: refused and traced.
    for body in [
        "lang=de",
        &format!(
            "csrf={}&lang=de",
            csrf::token(&[9u8; 32], "another-browser-cookie-value")
        ),
    ] {
        let (status, headers, page) = post_form(&app, "/lang", &cookie, body).await;
        assert_eq!(status, 403, "{body}");
        assert!(page.contains("Demande refusée"));
        assert!(
            !headers
                .get_all(header::SET_COOKIE)
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("lang="))
        );
    }
    let refused: Vec<AuditEvent> = recorder
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind == EventKind::PortalFormRejected)
        .cloned()
        .collect();
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(|e| e.source.request_id.is_some()));
    let json = serde_json::to_string(&refused[0]).unwrap();
    assert!(
        json.contains("/lang") && json.contains("csrf-token-invalid"),
        "{json}"
    );

    // A refusal is localized like every page.
    let (status, _, page) =
        post_form(&app, "/lang", &format!("{cookie}; lang=de"), "lang=en").await;
    assert_eq!(status, 403);
    assert!(page.contains("Anfrage abgelehnt") && page.contains("<html lang=\"de\">"));

    // A valid token with an unknown language is a bad request, not a redirect.
    let (status, _, _) = post_form(&app, "/lang", &cookie, &format!("csrf={token}&lang=xx")).await;
    assert_eq!(status, 400);

    // An open redirect is not possible through `next`.
    let (status, headers, _) = post_form(
        &app,
        "/lang",
        &cookie,
        &format!("csrf={token}&lang=en&next=%2F%2Fevil.example"),
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(headers[header::LOCATION], "/");
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let (app, _c) = app(Arc::default(), Ok(())).await;
    let (status, _, body) = get(&app, "/healthz", &[]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    let (status, _, body) = get(&app, "/readyz", &[]).await;
    assert_eq!(status, 200, "{body}");
    let (not_ready, _n) =
        self::app(Arc::default(), Err("database: connection refused".into())).await;
    let (status, _, body) = get(&not_ready, "/readyz", &[]).await;
    assert_eq!(status, 503);
    assert!(body.contains("database"));
    get(&app, "/", &[]).await;
    get(&app, "/patients/1985031212345", &[]).await;
    let (_, headers, text) = get(&app, "/metrics", &[]).await;
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(
        text.contains("sante_http_requests_total{method=\"GET\",route=\"/\",status=\"2xx\"} 1"),
        "{text}"
    );
    assert!(text.contains("route=\"unmatched\""), "{text}");
    // Raw paths, which may hold identifiers, never become labels.
    assert!(!text.contains("1985031212345"), "{text}");
}

#[tokio::test]
async fn a_refusal_that_cannot_be_traced_is_unavailable() {
    let (app, _c) = app_with_failing_trail().await;
    let (status, _, page) = post_form(&app, "/lang", "", "lang=de").await;
    assert_eq!(status, 503);
    assert!(page.contains("indisponible"));
}

#[tokio::test]
async fn without_secure_cookies_the_csrf_cookie_drops_the_host_prefix() {
    let (app, _c) = portal(
        HttpConfig {
            public_url: "http://localhost".into(),
            default_lang: "de".into(),
            cookie_secure: false,
            secret: sante_http::CsrfKey::new([1u8; 32]),
            mtls_url: None,
            limits: Default::default(),
        },
        Ok(()),
        Arc::new(Collected::default()),
    )
    .await;
    let (_, headers, body) = get(&app, "/", &[]).await;
    assert!(
        body.contains("<html lang=\"de\">"),
        "the configured default applies"
    );
    let set: Vec<String> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    let cookie = set.iter().find(|c| c.starts_with("sante-csrf=")).unwrap();
    assert!(
        !cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    let (status, headers, _) = post_form(
        &app,
        "/lang",
        pair,
        &format!("csrf={}&lang=en", form_token(&body)),
    )
    .await;
    assert_eq!(status, 303);
    let lang = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        lang.starts_with("lang=en") && !lang.contains("Secure"),
        "{lang}"
    );
}

/// The portal served over a real TLS session, and a client that trusts it offering
/// `alpn`.
async fn tls_portal(
    alpn: &[u8],
) -> (
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let tls =
        sante_net::server_tls_config(cert.pem().as_bytes(), key.serialize_pem().as_bytes(), ALPN)
            .unwrap();
    let listener = Listener::bind(sante_net::ListenerSpec::https(
        "https",
        "127.0.0.1:0".parse().unwrap(),
        tls,
    ))
    .await
    .unwrap();
    let addr = listener.local_addr();
    let shutdown = CancellationToken::new();
    let (app, _c) = portal(
        HttpConfig {
            public_url: format!("https://{addr}"),
            default_lang: "fr".into(),
            cookie_secure: true,
            secret: sante_http::CsrfKey::new([3u8; 32]),
            mtls_url: None,
            limits: Default::default(),
        },
        Ok(()),
        Arc::new(Collected::default()),
    )
    .await;
    let server = tokio::spawn(serve_https(
        listener,
        app,
        shutdown.clone(),
        Duration::from_secs(5),
    ));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn));
    (tls, shutdown, server)
}

/// The handler over a real TLS session: ALPN `h2` gets HTTP/2 (the server's SETTINGS
/// frame answers the connection preface), and the SETTINGS bound the header block a
/// client may send.
#[tokio::test]
async fn https_sessions_speak_http2_when_negotiated() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (mut tls, shutdown, server) = tls_portal(b"h2").await;
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let mut frame = [0u8; 9];
    tls.read_exact(&mut frame).await.unwrap();
    assert_eq!(frame[3], 0x04, "expected a SETTINGS frame, got {frame:?}");
    let length = usize::from(frame[0]) << 16 | usize::from(frame[1]) << 8 | usize::from(frame[2]);
    let mut settings = vec![0u8; length];
    tls.read_exact(&mut settings).await.unwrap();
    // SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2).
    let max_header_list = settings
        .chunks(6)
        .find_map(|s| (s[..2] == [0, 6]).then(|| u32::from_be_bytes([s[2], s[3], s[4], s[5]])));
    assert_eq!(
        max_header_list,
        Some(sante_http::MAX_HEADER_BYTES as u32),
        "{settings:?}"
    );
    drop(tls);
    shutdown.cancel();
    server.await.unwrap();
}

/// HTTP/1.1 headers beyond the bound, in size or in number, are refused with 431
/// before any route sees them (nothing a client sends grows memory without bound).
#[tokio::test]
async fn oversized_or_countless_headers_are_refused_with_431() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    for (what, headers) in [
        (
            "one header of 100 KiB",
            format!("X-Big: {}\r\n", "a".repeat(100 * 1024)),
        ),
        (
            "200 headers",
            (0..200)
                .map(|i| format!("X-H{i}: v\r\n"))
                .collect::<String>(),
        ),
    ] {
        let (mut tls, shutdown, server) = tls_portal(b"http/1.1").await;
        let request = format!("GET /healthz HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n");
        // The server may answer and close before the whole request is written.
        let _ = tls.write_all(request.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = tls.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 431"),
            "{what}: {}",
            answer.lines().next().unwrap_or_default()
        );
        drop(tls);
        shutdown.cancel();
        server.await.unwrap();
    }
    // A request within the bounds is served.
    let (mut tls, shutdown, server) = tls_portal(b"http/1.1").await;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    drop(tls);
    shutdown.cancel();
    server.await.unwrap();
}
