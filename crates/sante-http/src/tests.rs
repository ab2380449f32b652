//! The kernel with a small area of its own, through `oneshot`: what every area gets
//! from it (layout and navigation, headers, the login redirection, the refusals of
//! forms and scripts, the 404 page).

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::FromRef;
use axum::response::Response;
use http::{StatusCode, header};
use http_body_util::BodyExt;
use sante_audit::EventKind;
use sante_audit::testing::TestPlatform;
use sante_store::Backend;
use tower::ServiceExt;

use super::*;

catalogue! {
    NavSample => ("Exemple", "Beispiel", "Sample"),
    NavOther => ("Autre", "Andere", "Other"),
    Heading => ("Une page", "Eine Seite", "A page"),
}

#[derive(Template)]
#[template(
    source = "{% extends \"base.html\" %}{% block content %}<h1>{{ layout.t(Msg::Heading) }}</h1>{% endblock %}",
    ext = "html"
)]
struct SamplePage<'a> {
    layout: &'a Layout,
}

#[derive(Clone)]
struct SampleArea {
    kernel: Kernel,
}

impl FromRef<SampleArea> for Kernel {
    fn from_ref(area: &SampleArea) -> Kernel {
        area.kernel.clone()
    }
}

async fn sample_page(portal: Portal) -> Response {
    portal.page(&SamplePage {
        layout: &portal.layout,
    })
}

async fn private_page(portal: Portal) -> Response {
    match portal.require_login().await {
        Ok(_) => portal.page(&SamplePage {
            layout: &portal.layout,
        }),
        Err(res) => res,
    }
}

#[derive(serde::Deserialize)]
struct Nothing {}

async fn script(_: CsrfJson<Nothing>) -> &'static str {
    "done"
}

struct Fixture {
    app: Router,
    platform: TestPlatform,
    recorder: Arc<sante_audit::AuditLog>,
    _db: sante_store::testing::TestDb,
}

struct AlwaysReady;

impl Readiness for AlwaysReady {
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async { Ok(()) })
    }
}

async fn fixture() -> Fixture {
    let db = sante_store::testing::fresh(Backend::Sqlite).await.unwrap();
    let platform = TestPlatform::new(db.db.clone(), chrono::DateTime::UNIX_EPOCH).await;
    let clock: Arc<dyn sante_types::Clock> = platform.clock.clone();
    let recorder = Arc::new(platform.audit.clone());
    let kernel = Kernel::new(KernelParts {
        config: HttpConfig {
            public_url: "https://localhost:8443".into(),
            default_lang: "fr".into(),
            cookie_secure: true,
            secret: sante_http::CsrfKey::new([5u8; 32]),
            mtls_url: Some("https://localhost:8444".into()),
            limits: Default::default(),
        },
        readiness: Arc::new(AlwaysReady),
        recorder: recorder.clone(),
        clock: clock.clone(),
        identity: sante_identity::Identity::new(db.db.clone(), platform.recorder(), clock.clone()),
        terms: sante_terms::Terms::new(db.db.clone(), platform.recorder(), clock),
        nav: vec![
            NavItem::new(20, "/other", &["/other"], Msg::NavOther),
            NavItem::new(10, "/sample", &["/sample", "/private"], Msg::NavSample),
        ],
    });
    let area = crate::Routes::new()
        .get("/sample", crate::Access::Public, sample_page)
        .get("/private", crate::Access::SignedIn, private_page)
        .post("/script", crate::Access::Public, script)
        .with_state(SampleArea {
            kernel: kernel.clone(),
        });
    Fixture {
        app: app(&kernel, [area]).router,
        platform,
        recorder,
        _db: db,
    }
}

async fn send(app: &Router, req: http::Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn get_req(path: &str, lang: &str) -> http::Request<Body> {
    http::Request::get(path)
        .header(header::ACCEPT_LANGUAGE, lang)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn an_area_page_gets_the_layout_the_navigation_and_the_headers() {
    let f = fixture().await;
    let (status, headers, body) = send(&f.app, get_req("/sample", "de")).await;
    assert_eq!(status, 200);
    assert!(body.contains("<html lang=\"de\">") && body.contains("Eine Seite"));
    // Ordered by the areas' positions, the current one marked.
    let sample = body.find("href=\"/sample\" aria-current=\"page\"").unwrap();
    let other = body.find("href=\"/other\" >").unwrap();
    assert!(sample < other, "{body}");
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' https://localhost:8443 https://localhost:8444"),
        "{csp}"
    );
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert!(
        headers
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with(csrf::COOKIE)),
        "a first visit gets its CSRF cookie"
    );
}

#[tokio::test]
async fn a_page_needing_a_login_sends_to_the_login_and_back() {
    let f = fixture().await;
    let (status, headers, _) = send(&f.app, get_req("/private?x=1", "fr")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers[header::LOCATION],
        "/login?continue=%2Fprivate%3Fx%3D1"
    );
}

#[tokio::test]
async fn unknown_pages_are_a_localized_404() {
    let f = fixture().await;
    let (status, headers, body) = send(&f.app, get_req("/nothing/here", "de")).await;
    assert_eq!(status, 404);
    assert!(body.contains("Seite nicht gefunden"), "{body}");
    assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
}

#[tokio::test]
async fn a_script_without_its_token_is_refused_in_json_and_traced() {
    let f = fixture().await;
    let req = http::Request::post("/script")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT_LANGUAGE, "en")
        .body(Body::from("{}"))
        .unwrap();
    let (status, _, body) = send(&f.app, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("did not come from this portal"),
        "{answer}"
    );
    drop(f.recorder);
    let events = f.platform.events("platform").await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::PortalFormRejected),
        "{events:?}"
    );
}

#[test]
fn an_areas_catalogue_is_checked_like_the_kernels() {
    i18n::check_catalogue(Msg::ALL, &[]).unwrap();
}
