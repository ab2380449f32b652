//! The portal shell in headless Chromium, against the front end served in-process over
//! real TLS: default language, the language form, CSRF refusal, CSP.

use sante_audit::EventKind;
use sante_testkit::{Browser, TestServer};

/// A client that trusts exactly the test server's certificate.
fn client(server: &TestServer) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(server.cert_pem.as_bytes())?)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

#[tokio::test]
async fn the_home_page_speaks_french_then_german_then_english() {
    let server = TestServer::start().await.unwrap();
    let browser = Browser::start().await.unwrap();

    browser.goto(&server.url("/")).await.unwrap();
    browser.wait_for_lang("fr").await.unwrap();
    assert!(
        browser
            .text("h1")
            .await
            .unwrap()
            .contains("partagées en sécurité")
    );
    let services = browser.text(".services").await.unwrap();
    for service in ["Dossier de soins partagé", "Annuaire des professionnels"] {
        assert!(services.contains(service), "{service} missing: {services}");
    }
    // This server runs no secure messaging, and the referring doctor is not built:
    // neither is announced.
    for absent in ["Messagerie sécurisée", "Médecin référent"] {
        assert!(!services.contains(absent), "{absent} announced: {services}");
    }
    // Landmarks, skip link and a labelled switcher.
    for landmark in [
        "header",
        "nav[aria-label]",
        "main#main",
        "footer",
        "a.skip-link[href='#main']",
    ] {
        assert_eq!(browser.count(landmark).await.unwrap(), 1, "{landmark}");
    }
    assert_eq!(browser.count("label[for='lang-select']").await.unwrap(), 1);
    // The stylesheet was allowed by the CSP and applied.
    let position = browser
        .eval("return getComputedStyle(document.querySelector('.skip-link')).position")
        .await
        .unwrap();
    assert_eq!(position, "absolute");

    browser.select("#lang-select", "de").await.unwrap();
    browser.click("#lang-submit").await.unwrap();
    browser.wait_for_lang("de").await.unwrap();
    browser
        .wait_for_text("h1", "Ihre Gesundheitsdaten")
        .await
        .unwrap();
    assert!(browser.text("footer").await.unwrap().contains("maßgebend"));
    assert_eq!(browser.current_url().await.unwrap(), server.url("/"));

    browser.select("#lang-select", "en").await.unwrap();
    browser.click("#lang-submit").await.unwrap();
    browser.wait_for_lang("en").await.unwrap();
    browser
        .wait_for_text("h1", "shared securely")
        .await
        .unwrap();

    // Remembered on the next visit, by cookie.
    browser.goto(&server.url("/")).await.unwrap();
    browser.wait_for_lang("en").await.unwrap();

    // An inline script injected into the page does not run: the CSP blocks it.
    let ran = browser
        .eval(
            "const s = document.createElement('script'); s.textContent = 'window.__ran = true'; \
             document.body.appendChild(s); return window.__ran === true",
        )
        .await
        .unwrap();
    assert_eq!(ran, false, "inline script ran despite the CSP");

    // A tampered token in the page's own form is refused, in the page's language.
    browser
        .eval("document.querySelector('input[name=csrf]').value = 'forged'; return true")
        .await
        .unwrap();
    browser.select("#lang-select", "de").await.unwrap();
    browser.click("#lang-submit").await.unwrap();
    browser
        .wait_for_text("h1", "Request refused")
        .await
        .unwrap();

    let shot =
        std::env::temp_dir().join(format!("sante-testkit-portal-{}.png", std::process::id()));
    browser.screenshot(&shot).await.unwrap();
    assert!(std::fs::metadata(&shot).unwrap().len() > 0);
    let _ = std::fs::remove_file(&shot);
    browser.close().await.unwrap();

    let events = server.recorder.events();
    assert!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::PortalPageViewed)
            .count()
            >= 2
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::PortalFormRejected)
            .count(),
        1
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_forged_language_post_is_refused_and_pages_carry_the_csp() {
    let server = TestServer::start().await.unwrap();
    let http = client(&server).unwrap();

    let home = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let csp = home.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(home.headers().contains_key("strict-transport-security"));
    assert!(home.headers().contains_key("x-request-id"));
    // The browser's real CSRF cookie, with a token the attacker made up.
    let cookie = home
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap())
        .find(|c| c.starts_with("__Host-"))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    for body in [
        "lang=de&next=%2F",
        "csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&lang=de",
    ] {
        let refused = http
            .post(server.url("/lang"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{body}");
        assert!(refused.headers().contains_key("content-security-policy"));
        let set_lang = refused
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("lang="));
        assert!(!set_lang, "a refused form changed the language");
        assert!(refused.text().await.unwrap().contains("Demande refusée"));
    }
    let rejected = server
        .recorder
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::PortalFormRejected)
        .count();
    assert_eq!(rejected, 2);

    let css = http
        .get(server.url("/static/sante.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    server.stop().await.unwrap();
}
