//! The portal in headless Chromium against the real server: languages, the language
//! form and its CSRF protection, accessible structure, CSP enforcement, the services
//! the home page offers.

use sante_testkit::Browser;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_home_in_a_real_browser_in_three_languages() {
    let (dir, _) = init_dir();
    let server = Server::start(dir.path(), &["serve"]);
    let browser = Browser::start().await.unwrap();

    browser.goto(&format!("{}/", server.base)).await.unwrap();
    browser.wait_for_lang("fr").await.unwrap();
    assert!(
        browser
            .text("h1")
            .await
            .unwrap()
            .contains("partagées en sécurité")
    );
    // Landmarks and labels a screen reader relies on.
    assert_eq!(browser.count("main#main").await.unwrap(), 1);
    assert_eq!(browser.count("a.skip-link[href='#main']").await.unwrap(), 1);
    assert_eq!(browser.count("nav[aria-label]").await.unwrap(), 1);
    assert_eq!(browser.count("label[for='lang-select']").await.unwrap(), 1);
    // The stylesheet loaded (CSP allows 'self'); no script runs in the page at all.
    let styled = browser
        .eval("return getComputedStyle(document.querySelector('.site-header')).display")
        .await
        .unwrap();
    assert_eq!(styled, "flex");
    assert_eq!(
        browser
            .eval("return document.scripts.length")
            .await
            .unwrap(),
        0
    );

    // Switch to German, then English, through the form (POST with its CSRF token).
    browser.select("#lang-select", "de").await.unwrap();
    browser.click("#lang-submit").await.unwrap();
    browser.wait_for_lang("de").await.unwrap();
    assert!(browser.text("h1").await.unwrap().contains("sicher geteilt"));
    browser.select("#lang-select", "en").await.unwrap();
    browser.click("#lang-submit").await.unwrap();
    browser.wait_for_lang("en").await.unwrap();
    assert!(
        browser
            .text("h1")
            .await
            .unwrap()
            .contains("shared securely")
    );
    // The services this platform runs, each with where to begin; messaging is not
    // configured on this one, so it is not offered; nothing says "coming soon".
    let main = browser.text("main").await.unwrap();
    assert!(!main.contains("Coming soon"), "{main}");
    assert_eq!(
        browser.count("#service-dsp a[href='/dsp']").await.unwrap(),
        1
    );
    assert_eq!(
        browser
            .count("#service-directory a[href='/directory']")
            .await
            .unwrap(),
        1
    );
    assert_eq!(browser.count("#service-messaging").await.unwrap(), 0);
    // How to log in, the card login's own address among the ways.
    let login = browser.text("#how-to-log-in").await.unwrap();
    assert!(login.contains("passkey"), "{login}");
    assert_eq!(
        browser
            .count("#how-to-log-in a[href$='/login/certificate']")
            .await
            .unwrap(),
        1
    );
    // The choice is remembered on the next visit.
    browser.goto(&format!("{}/", server.base)).await.unwrap();
    browser.wait_for_lang("en").await.unwrap();

    // An inline script injected into the page is blocked by the CSP.
    let blocked = browser
        .eval(
            "const s = document.createElement('script'); s.textContent = 'window.__ran = true'; \
             document.body.appendChild(s); return window.__ran === true",
        )
        .await
        .unwrap();
    assert_eq!(blocked, false, "inline script ran despite the CSP");

    // A form without its token, posted from the page, is refused.
    browser
        .eval("document.querySelector('input[name=csrf]').value = 'forged'; return true")
        .await
        .unwrap();
    browser.select("#lang-select", "de").await.unwrap();
    browser.click("#lang-submit").await.unwrap();
    browser.wait_for_text("h1", "refused").await.unwrap();
    assert!(
        browser
            .text("h1")
            .await
            .unwrap()
            .contains("Request refused")
    );

    let shot = std::env::temp_dir().join("sante-portal-home.png");
    browser.screenshot(&shot).await.unwrap();
    browser.close().await.unwrap();
    assert!(server.stop().success());
}
