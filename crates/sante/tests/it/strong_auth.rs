//! Strong authentication end to end, in Chromium against the real binary: a
//! professional activates his account with his card (a development card certificate
//! presented over mutual TLS) and logs in with it at high assurance, makes an
//! application password for his mail program, then his card is revoked and refused
//! at the very next request; a patient activates with a passkey (WebAuthn, through
//! Chromium's virtual authenticator) and logs in with it.

use sante_testkit::Browser;

use crate::harness::*;

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

/// Directories with a few patients and professionals, imported.
fn with_directories(dir: &std::path::Path) {
    let out = run(
        dir,
        &[
            "directory",
            "registers",
            "--out",
            "regs",
            "--patients",
            "40",
            "--professionals",
            "8",
            "--establishments",
            "2",
            "--seed",
            "11",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for register in ["professionals", "patients"] {
        let out = run(dir, &["import", register, &format!("regs/{register}.csv")]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// The activation letter of the first professional of the register: (login, code, nin).
fn professional_letter(dir: &std::path::Path) -> (String, String, String) {
    let mut reader = csv::Reader::from_path(dir.join("regs/professionals.csv")).unwrap();
    let record = reader.records().next().unwrap().unwrap();
    let (id, nin) = (record[0].to_owned(), record[1].to_owned());
    let out = run(
        dir,
        &[
            "account",
            "create",
            "professional",
            "--national-id",
            &nin,
            "--subject",
            &id,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let letter = stdout(&out);
    (
        field(&letter, "login name:"),
        field(&letter, "activation code:"),
        nin,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_professional_activates_and_logs_in_with_his_card_until_it_is_revoked() {
    let (dir, _) = init_dir();
    with_directories(dir.path());
    let (login, code, nin) = professional_letter(dir.path());
    let issued = run(
        dir.path(),
        &[
            "dev-pki",
            "issue",
            "--name",
            "Dr Test Card",
            "--out",
            "card.p12",
            "--password",
            "card password",
        ],
    );
    assert!(issued.status.success(), "{}", stderr(&issued));
    let serial = field(&stdout(&issued), "serial:");

    let server = Server::start_with_env(
        dir.path(),
        &["serve"],
        &[("SANTE_IDENTITY__CRL_REFRESH_SECS", "1")],
    );
    let card = server
        .card
        .clone()
        .expect("the card login's URL is printed");
    let browser = Browser::start_with_card("en", &dir.path().join("card.p12"), "card password")
        .await
        .unwrap();

    // The login page links to the card login; without an account, the card opens nothing.
    browser
        .goto(&format!("{}/login", server.base))
        .await
        .unwrap();
    let link = browser.attr("#card-login", "href").await.unwrap().unwrap();
    assert_eq!(link, format!("{card}/login/certificate"));
    browser.goto(&link).await.unwrap();
    browser
        .wait_for_text("#card-subject", "Dr Test Card")
        .await
        .unwrap();
    browser.select("#c-quality", "professional").await.unwrap();
    browser.click("#c-submit").await.unwrap();
    browser
        .wait_for_text("#form-error", "bound to no account")
        .await
        .unwrap();

    // Activation with the card: the letter's code binds the certificate to the account.
    browser
        .goto(&format!("{card}/activate/certificate"))
        .await
        .unwrap();
    browser
        .wait_for_text("#card-subject", "Dr Test Card")
        .await
        .unwrap();
    browser.fill("#ca-login", &login).await.unwrap();
    browser.fill("#ca-nin", &nin).await.unwrap();
    browser.fill("#ca-code", "WRONG-CODE-0000").await.unwrap();
    browser
        .fill("#ca-email", "dr.card@example.lu")
        .await
        .unwrap();
    browser.click("#ca-submit").await.unwrap();
    browser
        .wait_for_text("#form-error", "activation code")
        .await
        .unwrap();
    // The form keeps the login and e-mail, never the national number or the code.
    assert_eq!(
        browser.attr("#ca-login", "value").await.unwrap().unwrap(),
        login
    );
    browser.fill("#ca-nin", &nin).await.unwrap();
    browser.fill("#ca-code", &code).await.unwrap();
    browser.click("#ca-submit").await.unwrap();
    browser
        .wait_for_text("#activated", "Account activated")
        .await
        .unwrap();

    // Login with the card: high assurance, as a professional.
    browser
        .goto(&format!("{card}/login/certificate"))
        .await
        .unwrap();
    browser.select("#c-quality", "professional").await.unwrap();
    browser.click("#c-submit").await.unwrap();
    browser.wait_for_text("h1", "My account").await.unwrap();
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .starts_with(&server.base)
    );
    assert_eq!(browser.text("#account-login").await.unwrap(), login);
    assert_eq!(
        browser
            .attr("#account-assurance", "data-assurance")
            .await
            .unwrap()
            .as_deref(),
        Some("high")
    );
    assert_eq!(
        browser
            .attr("li.credential", "data-kind")
            .await
            .unwrap()
            .as_deref(),
        Some("client_certificate")
    );

    // An application password for the mail program, shown once.
    browser.fill("#ap-label", "Thunderbird").await.unwrap();
    browser.click("#create-app-password").await.unwrap();
    let shown = browser
        .wait_for_text("#new-app-password", "-")
        .await
        .unwrap();
    assert_eq!(shown.len(), 34, "{shown}");
    assert_eq!(browser.count("li.app-password").await.unwrap(), 1);
    browser
        .goto(&format!("{}/account", server.base))
        .await
        .unwrap();
    browser.wait_for_text("h1", "My account").await.unwrap();
    assert_eq!(browser.count("#new-app-password").await.unwrap(), 0);

    // The card is revoked: the CA's new list reaches the server, which ends the session
    // at once; the card no longer logs in.
    let revoked = run(dir.path(), &["dev-pki", "revoke", &serial]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let account = format!("{}/account", server.base);
    eventually("the revoked card's session ending", || {
        let browser = &browser;
        let account = account.clone();
        async move {
            browser.goto(&account).await.unwrap();
            browser.text("h1").await.is_ok_and(|h| h.contains("Log in"))
        }
    })
    .await;
    // On the connection the browser keeps open, the card is refused by the account.
    browser
        .goto(&format!("{card}/login/certificate"))
        .await
        .unwrap();
    if browser.count("#c-submit").await.unwrap() == 1 {
        browser.select("#c-quality", "professional").await.unwrap();
        browser.click("#c-submit").await.unwrap();
        browser
            .wait_for_text("#form-error", "revoked")
            .await
            .unwrap();
    }
    browser.close().await.unwrap();
    // A new connection with the revoked certificate fails at the TLS handshake.
    let pem = std::fs::read(dir.path().join("card.pem")).unwrap();
    let with_card = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(dir.path().join("tls/ca.crt")).unwrap())
                .unwrap(),
        )
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    assert!(
        with_card
            .get(format!("{card}/login/certificate"))
            .send()
            .await
            .is_err(),
        "the revoked card's handshake succeeded"
    );
    // The card CA's list the portal publishes names the card from the moment it is
    // rewritten; a name that is not published is not found.
    let published = client(dir.path())
        .get(format!("{}/pki/smartcard.crl", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    let list = sante_net::pki::read_revocation_list(&published.bytes().await.unwrap()).unwrap();
    assert_eq!(list.serials, vec![serial.to_ascii_lowercase()]);
    for other in [
        "smartcard-ca.key",
        "master.keys",
        "..%2Fsante.toml",
        "ca.crt",
    ] {
        let res = client(dir.path())
            .get(format!("{}/pki/{other}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "/pki/{other}");
    }
    // Without a certificate the listener still answers: the page asks for a card.
    let page = client(dir.path())
        .get(format!("{card}/login/certificate"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("card-missing"), "{page}");

    let (status, lines) = server.stop_with_output();
    assert!(status.success());
    let log = lines.join("\n");
    assert!(!log.contains(&code), "the activation code reached the log");
    assert!(
        !log.contains(&shown),
        "the application password reached the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_activates_with_a_passkey_and_logs_in_with_it() {
    let (dir, _) = init_dir();
    with_directories(dir.path());
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

    let published = run(dir.path(), &["terms", "publish-defaults"]);
    assert!(published.status.success(), "{}", stderr(&published));

    let server = Server::start(dir.path(), &["serve"]);
    let browser = Browser::start_with_language("en").await.unwrap();
    browser
        .goto(&format!("{}/activate", server.base))
        .await
        .unwrap();
    browser.add_virtual_authenticator().await.unwrap();

    // A wrong code is refused before any passkey is made.
    browser.fill("#p-login", &login).await.unwrap();
    browser.fill("#p-nin", &nin).await.unwrap();
    browser.fill("#p-code", "WRONG-CODE-0000").await.unwrap();
    browser
        .fill("#p-email", "patient@example.lu")
        .await
        .unwrap();
    browser.fill("#p-label", "laptop").await.unwrap();
    browser.click("#p-submit").await.unwrap();
    browser
        .wait_for_text("#passkey-error", "activation code")
        .await
        .unwrap();
    browser.fill("#p-code", &code).await.unwrap();
    browser.click("#p-submit").await.unwrap();
    browser
        .wait_for_text("#activated-notice", "activated")
        .await
        .unwrap();

    // Login with the passkey: login name and quality, then the authenticator; the
    // general terms of use come first (TOU-1), in English, French authoritative.
    browser.select("#l-quality", "patient").await.unwrap();
    browser.fill("#l-login", &login).await.unwrap();
    browser.click("#l-passkey").await.unwrap();
    browser.wait_for_text("h1", "Terms of use").await.unwrap();
    assert_eq!(browser.count("#terms-first").await.unwrap(), 1);
    assert!(
        browser
            .text("section.terms")
            .await
            .unwrap()
            .contains("General terms of use")
    );
    assert_eq!(
        browser
            .attr("section.terms", "data-document")
            .await
            .unwrap()
            .as_deref(),
        Some("general")
    );
    browser.click("#terms-accept").await.unwrap();
    browser.wait_for_text("h1", "My account").await.unwrap();
    assert_eq!(
        browser
            .attr("#account-assurance", "data-assurance")
            .await
            .unwrap()
            .as_deref(),
        Some("high")
    );
    assert_eq!(
        browser
            .attr("li.credential", "data-kind")
            .await
            .unwrap()
            .as_deref(),
        Some("webauthn")
    );
    // A patient has no application passwords.
    assert_eq!(browser.count("#ap-label").await.unwrap(), 0);

    // A new version of the general terms: shown as such at the next login.
    let v2 = dir.path().join("v2");
    std::fs::create_dir_all(&v2).unwrap();
    for lang in ["fr", "de", "en"] {
        std::fs::write(
            v2.join(format!("general.{lang}.md")),
            format!(
                "General terms, second version ({lang})\n\nThe second version's text ({lang})."
            ),
        )
        .unwrap();
    }
    let republished = run(
        dir.path(),
        &[
            "terms",
            "publish",
            "--document",
            "general",
            "--fr",
            "v2/general.fr.md",
            "--de",
            "v2/general.de.md",
            "--en",
            "v2/general.en.md",
        ],
    );
    assert!(republished.status.success(), "{}", stderr(&republished));
    browser.click("#logout").await.unwrap();
    browser.wait_for_text("h1", "Log in").await.unwrap();
    browser.select("#l-quality", "patient").await.unwrap();
    browser.fill("#l-login", &login).await.unwrap();
    browser.click("#l-passkey").await.unwrap();
    browser
        .wait_for_text("#terms-new-version", "new version")
        .await
        .unwrap();
    assert!(
        browser
            .text("section.terms")
            .await
            .unwrap()
            .contains("second version (en)")
    );
    assert_eq!(
        browser
            .attr("section.terms", "data-version")
            .await
            .unwrap()
            .as_deref(),
        Some("2")
    );
    browser.click("#terms-accept").await.unwrap();
    browser.wait_for_text("h1", "My account").await.unwrap();

    // The same passkey in another quality opens nothing.
    browser.click("#logout").await.unwrap();
    browser.wait_for_text("h1", "Log in").await.unwrap();
    browser.select("#l-quality", "professional").await.unwrap();
    browser.fill("#l-login", &login).await.unwrap();
    browser.click("#l-passkey").await.unwrap();
    browser
        .wait_for_text("#passkey-error", "Wrong login")
        .await
        .unwrap();
    browser.close().await.unwrap();
    assert!(server.stop().success());
}
