//! Accounts end to end, in Chromium against the real binary: an activation letter
//! from the operator's command, activation on the portal with an authenticator, login
//! with password and one-time code, the account page, logout; the demo's agent login,
//! lock-out, and a block that refuses the session at its very next request.

use std::time::Duration;

use sante_identity::secrets;
use sante_testkit::Browser;

use crate::harness::*;

/// The time the server reads too: the test's authenticator shows the code of now.
fn unix_now() -> u64 {
    use sante_types::Clock;
    sante_types::SystemClock.now().timestamp() as u64
}

/// The value after `label` on the first line of `text` that contains it.
fn field(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.split_once(label).map(|(_, v)| v))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(',')
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_activates_with_an_authenticator_and_logs_in_in_a_real_browser() {
    let (dir, _) = init_dir();
    let out = run(
        dir.path(),
        &[
            "directory",
            "registers",
            "--out",
            "regs",
            "--patients",
            "60",
            "--professionals",
            "5",
            "--establishments",
            "2",
            "--seed",
            "9",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(dir.path(), &["import", "patients", "regs/patients.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // The operator's refusals name the problem.
    let bad = run(
        dir.path(),
        &["account", "create", "patient", "--national-id", "123"],
    );
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--national-id"), "{}", stderr(&bad));

    // The letter of the first imported patient.
    let mut reader = csv::Reader::from_path(dir.path().join("regs/patients.csv")).unwrap();
    let (nin, letter) = reader
        .records()
        .map(|r| r.unwrap()[0].to_owned())
        .take(20)
        .find_map(|nin| {
            let out = run(
                dir.path(),
                &["account", "create", "patient", "--national-id", &nin],
            );
            out.status.success().then(|| (nin, stdout(&out)))
        })
        .expect("an imported patient gets an activation letter");
    let login = field(&letter, "login name:");
    let code = field(&letter, "activation code:");
    assert!(login.starts_with("P-"), "{letter}");
    // The letter to post, as PDF, readable by the operator only: a PDF reader finds the
    // login name, the code and the activation address in it.
    let pdf = dir.path().join(field(&letter, "letter (PDF):"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&pdf).unwrap().permissions().mode() & 0o777,
        0o600
    );
    #[expect(clippy::disallowed_methods)]
    let text = std::process::Command::new("pdftotext")
        .args([pdf.to_str().unwrap(), "-"])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    for needle in [
        login.as_str(),
        code.as_str(),
        "/activate",
        "Votre lettre d'activation",
        "Nur die französische",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} not in the letter:\n{text}"
        );
    }
    // One account per person and quality.
    let again = run(
        dir.path(),
        &["account", "create", "patient", "--national-id", &nin],
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already has a patient account"),
        "{}",
        stderr(&again)
    );

    let server = Server::start(dir.path(), &["serve"]);
    let browser = Browser::start_with_language("en").await.unwrap();
    // No session: the account page sends to the login page.
    browser
        .goto(&format!("{}/account", server.base))
        .await
        .unwrap();
    browser.wait_for_text("h1", "Log in").await.unwrap();
    browser.click("#activate-link").await.unwrap();
    browser
        .wait_for_text("h1", "Activate my account")
        .await
        .unwrap();

    let password = "a long sentence to remember";
    let fill = |code: String| {
        let browser = &browser;
        let (login, nin) = (login.clone(), nin.clone());
        async move {
            browser.fill("#a-login", &login).await.unwrap();
            browser.fill("#a-nin", &nin).await.unwrap();
            browser.fill("#a-code", &code).await.unwrap();
            browser
                .fill("#a-email", "patient@example.lu")
                .await
                .unwrap();
            browser.fill("#a-password", password).await.unwrap();
            browser.fill("#a-password2", password).await.unwrap();
            let seed = browser.text("#totp-secret").await.unwrap();
            let totp = secrets::totp_code(&seed, unix_now()).unwrap();
            browser.fill("#a-totp", &totp).await.unwrap();
            browser.click("#a-submit").await.unwrap();
        }
    };
    // A wrong activation code is refused with a clear message, and the form keeps the
    // same authenticator key.
    let seed_before = browser.text("#totp-secret").await.unwrap();
    fill("WRONG-CODE".into()).await;
    browser
        .wait_for_text("#form-error", "activation code")
        .await
        .unwrap();
    assert_eq!(browser.text("#totp-secret").await.unwrap(), seed_before);
    fill(code.clone()).await;
    browser
        .wait_for_text("#activated", "Account activated")
        .await
        .unwrap();
    assert_eq!(browser.text("#activated-login").await.unwrap(), login);

    // Login: a wrong password first, then the right one with the next code (the code
    // used at activation cannot be replayed).
    browser.click("#login-link").await.unwrap();
    browser.wait_for_text("h1", "Log in").await.unwrap();
    browser.select("#l-quality", "patient").await.unwrap();
    browser.fill("#l-login", &login).await.unwrap();
    browser
        .fill("#l-password", "not the password")
        .await
        .unwrap();
    browser
        .fill(
            "#l-code",
            &secrets::totp_code(&seed_before, unix_now() + 30).unwrap(),
        )
        .await
        .unwrap();
    browser.click("#l-submit").await.unwrap();
    browser
        .wait_for_text("#form-error", "Wrong login name")
        .await
        .unwrap();
    browser.fill("#l-password", password).await.unwrap();
    browser
        .fill(
            "#l-code",
            &secrets::totp_code(&seed_before, unix_now() + 30).unwrap(),
        )
        .await
        .unwrap();
    browser.click("#l-submit").await.unwrap();
    browser.wait_for_text("h1", "My account").await.unwrap();
    assert_eq!(browser.text("#account-login").await.unwrap(), login);
    assert_eq!(
        browser
            .attr("#account-quality", "data-quality")
            .await
            .unwrap()
            .as_deref(),
        Some("patient")
    );
    assert_eq!(
        browser
            .attr("#account-assurance", "data-assurance")
            .await
            .unwrap()
            .as_deref(),
        Some("substantial")
    );
    assert_eq!(browser.count("tr.session").await.unwrap(), 1);
    // The session cookie is out of the page's scripts' reach.
    let cookies = browser.eval("return document.cookie").await.unwrap();
    assert!(!cookies.to_string().contains("sante-session"), "{cookies}");

    // Logout ends the session: the account page is the login page again.
    browser.click("#logout").await.unwrap();
    browser.wait_for_text("h1", "Log in").await.unwrap();
    browser
        .goto(&format!("{}/account", server.base))
        .await
        .unwrap();
    browser.wait_for_text("h1", "Log in").await.unwrap();

    browser.close().await.unwrap();
    assert!(server.stop().success());
    // Every step is in the audit trail, and the trail verifies.
    let export = run(dir.path(), &["audit", "export", "--format", "fhir"]);
    let text = stdout(&export);
    for kind in [
        "IdentityAccountCreated",
        "IdentityActivationFailed",
        "IdentityAccountActivated",
        "IdentityLoginFailed",
        "IdentityLoginSucceeded",
        "IdentitySessionEnded",
    ] {
        assert!(text.contains(kind), "{kind} missing");
    }
    assert!(!text.contains(password) && !text.contains(&code));
    assert!(run(dir.path(), &["audit", "verify"]).status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_logins_work_and_a_blocked_or_locked_account_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let [port, mtls] = free_ports();
    let server = Server::start_with_env(
        dir.path(),
        &[
            "demo",
            "--dir",
            "demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--mtls-listen",
            &format!("127.0.0.1:{mtls}"),
        ],
        &MailPorts::free().env(),
    );
    let mut printed = String::new();
    while !printed.contains("administrator (agent") {
        let line = server
            .lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the demo prints its logins");
        printed.push_str(&line);
        printed.push('\n');
    }
    let agent_line = printed
        .lines()
        .find(|l| l.contains("identity-vigilance officer"))
        .unwrap();
    let agent_login = field(agent_line, "login ");
    let agent_password = field(agent_line, "password ");
    let patient_line = printed
        .lines()
        .find(|l| l.contains("patient (password"))
        .unwrap();
    assert!(field(patient_line, "login ").starts_with("P-"), "{printed}");
    assert!(printed.contains("otpauth://totp/Sante:"), "{printed}");
    // A professional with a card to import, and an administrator.
    assert!(printed.contains("card certificate, high"), "{printed}");
    assert!(dir.path().join("demo/demo-professional.p12").exists());
    assert!(printed.contains("administrator (agent"), "{printed}");

    // The demo patient's record is lived in: twenty documents and more, in six
    // categories and more, filed by several professionals; a PDF among them opens.
    let patient = Browser::start_with_language("en").await.unwrap();
    patient
        .goto(&format!("{}/login", server.base))
        .await
        .unwrap();
    patient.select("#l-quality", "patient").await.unwrap();
    patient
        .fill("#l-login", &field(patient_line, "login "))
        .await
        .unwrap();
    patient
        .fill("#l-password", &field(patient_line, ", password "))
        .await
        .unwrap();
    // The next period's code: the current one may be the one the demo's activation
    // spent, which is never accepted twice.
    let seed = field(&printed, "authenticator key ");
    patient
        .fill(
            "#l-code",
            &secrets::totp_code(&seed, unix_now() + 30).unwrap(),
        )
        .await
        .unwrap();
    patient.click("#l-submit").await.unwrap();
    patient.wait_for_text("h1", "Terms of use").await.unwrap();
    patient.click("#terms-accept").await.unwrap();
    patient.wait_for_text("h1", "My account").await.unwrap();
    patient.goto(&format!("{}/dsp", server.base)).await.unwrap();
    // The DSP's own terms, accepted once.
    patient.wait_for_text("h1", "Terms of use").await.unwrap();
    patient.click("#terms-accept").await.unwrap();
    patient
        .wait_for_text("#dsp-items", "Bilan sanguin")
        .await
        .unwrap();
    assert!(patient.count("tr.dsp-item").await.unwrap() >= 20);
    let categories = patient
        .eval(
            "return new Set([...document.querySelectorAll('tr.dsp-item')].map(r => r.dataset.category)).size",
        )
        .await
        .unwrap();
    assert!(categories.as_u64().unwrap() >= 6, "{categories}");
    let authors = patient
        .eval(
            "return new Set([...document.querySelectorAll('tr.dsp-item td:last-child')].map(c => c.textContent)).size",
        )
        .await
        .unwrap();
    assert!(authors.as_u64().unwrap() >= 4, "{authors}");
    let pdf = patient
        .eval_async(
            "const done = arguments[arguments.length - 1];\
             const link = [...document.querySelectorAll('#dsp-items a')].find(a => a.textContent.includes('Lettre de sortie'));\
             fetch(link.href).then(r => r.text()).then(page => {\
               const doc = new DOMParser().parseFromString(page, 'text/html');\
               return fetch(doc.querySelector('#doc-download').href);\
             }).then(r => r.arrayBuffer().then(b => done(r.headers.get('content-type') + ' ' +\
               String.fromCharCode(...new Uint8Array(b).slice(0, 5)))), e => done(String(e)));",
        )
        .await
        .unwrap();
    assert_eq!(pdf, "application/pdf %PDF-", "{pdf}");
    // The access history names who read it.
    patient
        .goto(&format!("{}/dsp/history", server.base))
        .await
        .unwrap();
    patient
        .wait_for_text("#dsp-history", "Read a document")
        .await
        .unwrap();

    // "My data" (PRV-1): the page lists each kind, and the download carries them all,
    // without a secret.
    patient
        .goto(&format!("{}/account", server.base))
        .await
        .unwrap();
    patient.click("#my-data").await.unwrap();
    patient
        .wait_for_text("#section-dsp", "Your shared care record")
        .await
        .unwrap();
    let entry = patient.text("#section-directory").await.unwrap();
    assert!(entry.contains("Birth date"), "{entry}");
    let export = download_my_data(&patient).await;
    for kind in [
        "directory",
        "accounts",
        "credentials",
        "sessions",
        "terms",
        "dsp",
        "events",
    ] {
        let items = export["sections"][kind]["items"].as_array();
        assert!(
            items.is_some_and(|i| !i.is_empty()),
            "{kind} missing: {export:#}"
        );
    }
    assert!(export["sections"].get("messaging").is_none());
    let dsp = &export["sections"]["dsp"]["items"][0];
    assert_eq!(dsp["state"], "active", "{dsp}");
    assert!(dsp["documents"].as_str().unwrap().parse::<u32>().unwrap() >= 20);
    assert!(
        dsp["categories"]
            .as_str()
            .unwrap()
            .contains("Medical analyses"),
        "{dsp}"
    );
    assert!(
        export["sections"]["events"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["what"] == "Login" && e["by"] == "you"),
        "{export:#}"
    );
    let text = export.to_string();
    for secret in [
        field(patient_line, ", password ").as_str(),
        seed.as_str(),
        "$argon2",
        "otpauth",
    ] {
        assert!(!text.contains(secret), "a secret in the export: {secret}");
    }
    assert_no_session_secret(&patient, &text).await;
    patient.close().await.unwrap();

    // A professional's: his entry in the public directory, his accounts and his
    // mailbox's metadata, no DSP of his own.
    let pro_line = printed
        .lines()
        .find(|l| l.contains("card certificate, high"))
        .unwrap();
    let p12_password = field(pro_line, "(password ")
        .trim_end_matches(')')
        .to_owned();
    let professional = Browser::start_with_card(
        "en",
        &dir.path().join("demo/demo-professional.p12"),
        &p12_password,
    )
    .await
    .unwrap();
    let card = server.card.clone().expect("the demo's card login");
    professional
        .goto(&format!("{card}/login/certificate"))
        .await
        .unwrap();
    professional
        .select("#c-quality", "professional")
        .await
        .unwrap();
    click_then_next_page(&professional, "#c-submit").await;
    accept_terms_if_asked(&professional).await;
    professional
        .goto(&format!("{}/account/data", server.base))
        .await
        .unwrap();
    accept_terms_if_asked(&professional).await;
    professional
        .wait_for_text("#section-messaging", "mailbox")
        .await
        .unwrap();
    let export = download_my_data(&professional).await;
    for kind in [
        "directory",
        "accounts",
        "credentials",
        "sessions",
        "messaging",
        "events",
    ] {
        let items = export["sections"][kind]["items"].as_array();
        assert!(
            items.is_some_and(|i| !i.is_empty()),
            "{kind} missing: {export:#}"
        );
    }
    assert!(export["sections"].get("dsp").is_none());
    let directory = &export["sections"]["directory"]["items"][0];
    assert_eq!(directory["profession"], "Physician", "{directory}");
    let mailbox = &export["sections"]["messaging"]["items"][0];
    assert!(
        mailbox["address"].as_str().unwrap().contains('@'),
        "{mailbox}"
    );
    let text = export.to_string();
    let app_password = field(&printed, "with the application password ");
    for secret in [
        p12_password.as_str(),
        app_password.as_str(),
        "$argon2",
        "BEGIN",
    ] {
        assert!(!text.contains(secret), "a secret in the export: {secret}");
    }
    assert_no_session_secret(&professional, &text).await;
    professional.close().await.unwrap();

    let browser = Browser::start_with_language("en").await.unwrap();
    let login = |password: String| {
        let browser = &browser;
        let base = server.base.clone();
        let agent_login = agent_login.clone();
        async move {
            browser.goto(&format!("{base}/login")).await.unwrap();
            browser.select("#l-quality", "agent").await.unwrap();
            browser.fill("#l-login", &agent_login).await.unwrap();
            browser.fill("#l-password", &password).await.unwrap();
            browser.click("#l-submit").await.unwrap();
        }
    };
    // The agent's login in the patient quality does not open anything.
    browser
        .goto(&format!("{}/login", server.base))
        .await
        .unwrap();
    browser.select("#l-quality", "patient").await.unwrap();
    browser.fill("#l-login", &agent_login).await.unwrap();
    browser.fill("#l-password", &agent_password).await.unwrap();
    browser.click("#l-submit").await.unwrap();
    browser
        .wait_for_text("#form-error", "Wrong login name")
        .await
        .unwrap();

    login(agent_password.clone()).await;
    // The demo published the terms of use: accepted once, at the first login.
    browser.wait_for_text("h1", "Terms of use").await.unwrap();
    browser.click("#terms-accept").await.unwrap();
    browser.wait_for_text("h1", "My account").await.unwrap();
    assert_eq!(
        browser
            .attr("#account-assurance", "data-assurance")
            .await
            .unwrap()
            .as_deref(),
        Some("low")
    );
    // The operator blocks the account: the open session is refused at its next request.
    let config = dir.path().join("demo/sante.toml");
    let block = run(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "account",
            "block",
            "--quality",
            "agent",
            &agent_login,
        ],
    );
    assert!(block.status.success(), "{}", stderr(&block));
    browser
        .goto(&format!("{}/account", server.base))
        .await
        .unwrap();
    browser.wait_for_text("h1", "Log in").await.unwrap();
    login(agent_password.clone()).await;
    browser
        .wait_for_text("#form-error", "blocked")
        .await
        .unwrap();
    let unblock = run(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "account",
            "unblock",
            "--quality",
            "agent",
            &agent_login,
        ],
    );
    assert!(unblock.status.success(), "{}", stderr(&unblock));
    // Five wrong passwords lock the account; then even the right one is refused.
    for _ in 0..5 {
        login("wrong password here".into()).await;
        browser
            .wait_for_text("#form-error", "Wrong login name")
            .await
            .unwrap();
    }
    login(agent_password.clone()).await;
    browser
        .wait_for_text("#form-error", "locked")
        .await
        .unwrap();

    browser.close().await.unwrap();
    assert!(server.stop().success());
}

/// The "my data" download, fetched as the page's link does.
async fn download_my_data(browser: &Browser) -> serde_json::Value {
    let body = browser
        .eval_async(
            "const done = arguments[arguments.length - 1];\
             fetch(document.querySelector('#my-data-download').href)\
               .then(r => r.text()).then(done, e => done(String(e)));",
        )
        .await
        .unwrap();
    serde_json::from_str(body.as_str().unwrap()).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The browser's session cookie is nowhere in `text`.
async fn assert_no_session_secret(browser: &Browser, text: &str) {
    let cookies = browser.cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|(name, _)| name.contains("session"))
        .map(|(_, value)| value.clone())
        .expect("a session cookie");
    assert!(session.len() > 16);
    assert!(!text.contains(&session), "the session secret in the export");
}
