//! The shared care record end to end against the real binary: the holder activates his
//! DSP in Chromium, answers the organ-donation question and gives his physician an
//! access code; the physician (logged in with his card) files a report in the portal
//! and, through single sign-on, files, finds and retrieves documents with an
//! independent FHIR client (fhirpy) over IHE MHD, every response validated against
//! FHIR R4; the holder sees the documents with filters, his access history and the
//! first-access notice, then blocks the physician, who is refused at once.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use sante_testkit::Browser;
use sha2::{Digest, Sha256};

use crate::harness::*;

/// The first row of a register file satisfying `keep`, as column → value.
fn row(
    path: &Path,
    keep: impl Fn(&dyn Fn(&str) -> String) -> bool,
) -> std::collections::HashMap<String, String> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(Result::unwrap)
        .map(|r| {
            headers
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_owned))
                .collect::<std::collections::HashMap<_, _>>()
        })
        .find(|m| keep(&|c: &str| m.get(c).cloned().unwrap_or_default()))
        .expect("a matching register line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holder_and_his_physician_use_the_dsp_in_the_portal_and_through_mhd() {
    let (dir, _) = init_dir();
    let d = dir.path();
    let out = run(
        d,
        &[
            "directory",
            "registers",
            "--out",
            "regs",
            "--patients",
            "25",
            "--professionals",
            "20",
            "--establishments",
            "2",
            "--seed",
            "31",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for register in ["establishments", "professionals", "patients"] {
        let out = run(d, &["import", register, &format!("regs/{register}.csv")]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert!(run(d, &["terms", "publish-defaults"]).status.success());
    let patient = row(&d.join("regs/patients.csv"), |c| {
        c("insured_until").is_empty() && c("death_date").is_empty()
    });
    let letter = run(
        d,
        &[
            "account",
            "create",
            "patient",
            "--national-id",
            &patient["national_id"],
        ],
    );
    assert!(letter.status.success(), "{}", stderr(&letter));
    let (p_login, p_code) = (
        field(&stdout(&letter), "login name:"),
        field(&stdout(&letter), "activation code:"),
    );
    let physician = row(&d.join("regs/professionals.csv"), |c| {
        c("profession") == "physician" && c("authorisation_status") == "active"
    });
    let letter = run(
        d,
        &[
            "account",
            "create",
            "professional",
            "--national-id",
            &physician["national_id"],
            "--subject",
            &physician["id"],
        ],
    );
    assert!(letter.status.success(), "{}", stderr(&letter));
    let (h_login, h_code) = (
        field(&stdout(&letter), "login name:"),
        field(&stdout(&letter), "activation code:"),
    );
    assert!(
        run(
            d,
            &[
                "dev-pki",
                "issue",
                "--name",
                "Dr DSP",
                "--out",
                "card.p12",
                "--password",
                "pw"
            ]
        )
        .status
        .success()
    );
    let (port, _) = receiver().await;
    let callback = format!("http://127.0.0.1:{port}/callback");
    let registered = run(
        d,
        &[
            "sso",
            "register-client",
            "--name",
            "Practice software",
            "--redirect-uri",
            &callback,
            "--service",
            "dsp",
        ],
    );
    assert!(registered.status.success(), "{}", stderr(&registered));
    let (client_id, client_secret) = (
        field(&stdout(&registered), "client_id:"),
        field(&stdout(&registered), "client_secret:"),
    );

    let server = Server::start(d, &["serve"]);
    let card = server.card.clone().unwrap();
    let base = server.base.clone();

    // The holder activates his account with a passkey and logs in.
    let holder = Browser::start_with_language("en").await.unwrap();
    holder.goto(&format!("{base}/activate")).await.unwrap();
    holder.add_virtual_authenticator().await.unwrap();
    holder.fill("#p-login", &p_login).await.unwrap();
    holder
        .fill("#p-nin", &patient["national_id"])
        .await
        .unwrap();
    holder.fill("#p-code", &p_code).await.unwrap();
    holder.fill("#p-email", "holder@example.lu").await.unwrap();
    holder.click("#p-submit").await.unwrap();
    holder
        .wait_for_text("#activated-notice", "activated")
        .await
        .unwrap();
    holder.select("#l-quality", "patient").await.unwrap();
    holder.fill("#l-login", &p_login).await.unwrap();
    holder.click("#l-passkey").await.unwrap();
    holder.wait_for_text("h1", "Terms of use").await.unwrap();
    accept_terms_if_asked(&holder).await;
    // His DSP was created on affiliation (the directories' feed) and waits for him;
    // the DSP's own terms come first.
    holder.goto(&format!("{base}/dsp")).await.unwrap();
    accept_terms_if_asked(&holder).await;
    eventually("the DSP's creation from the directories' feed", || {
        let holder = &holder;
        let base = base.clone();
        async move {
            holder.goto(&format!("{base}/dsp")).await.unwrap();
            holder
                .attr("#dsp-state", "data-state")
                .await
                .ok()
                .flatten()
                .as_deref()
                == Some("created")
        }
    })
    .await;
    holder.click("#dsp-activate").await.unwrap();
    // The first access asks the organ-donation question.
    holder
        .wait_for_text("#organ-heading", "organs")
        .await
        .unwrap();
    holder.click("#organ-objects").await.unwrap();
    holder
        .wait_for_text("h1", "My shared care record")
        .await
        .unwrap();
    assert_eq!(holder.count("#organ-heading").await.unwrap(), 0);
    holder.click("#dsp-code").await.unwrap();
    let access_code = holder.wait_for_text("#dsp-access-code", "-").await.unwrap();

    // The physician activates his account with his card and logs in with it.
    let physician_browser = Browser::start_with_card("en", &d.join("card.p12"), "pw")
        .await
        .unwrap();
    let pro = &physician_browser;
    pro.goto(&format!("{card}/activate/certificate"))
        .await
        .unwrap();
    pro.fill("#ca-login", &h_login).await.unwrap();
    pro.fill("#ca-nin", &physician["national_id"])
        .await
        .unwrap();
    pro.fill("#ca-code", &h_code).await.unwrap();
    pro.fill("#ca-email", "dr@example.lu").await.unwrap();
    pro.click("#ca-submit").await.unwrap();
    pro.wait_for_text("#activated", "Account activated")
        .await
        .unwrap();
    pro.goto(&format!("{card}/login/certificate"))
        .await
        .unwrap();
    pro.select("#c-quality", "professional").await.unwrap();
    click_then_next_page(pro, "#c-submit").await;
    accept_terms_if_asked(pro).await;
    pro.goto(&format!("{base}/pro/dsp")).await.unwrap();
    accept_terms_if_asked(pro).await;
    pro.wait_for_text("h1", "My patients' DSP").await.unwrap();
    // A wrong code is refused; the holder's code opens the care relationship.
    pro.fill("#c-code", "WRONG-00000").await.unwrap();
    pro.click("#c-submit").await.unwrap();
    pro.wait_for_text("#form-error", "access_code_invalid")
        .await
        .unwrap();
    pro.fill("#c-code", &access_code).await.unwrap();
    pro.click("#c-submit").await.unwrap();
    pro.wait_for_text("#timeline-heading", "Documents")
        .await
        .unwrap();
    let holder_id = pro
        .attr("input[name=holder]", "value")
        .await
        .unwrap()
        .unwrap();
    // He files a laboratory report from the portal.
    pro.select("#d-type", "http://loinc.org|11502-2")
        .await
        .unwrap();
    pro.fill("#d-title", "Blood count").await.unwrap();
    pro.fill("#d-text", "Haemoglobin 14.1 g/dL").await.unwrap();
    pro.click("#d-submit").await.unwrap();
    pro.wait_for_text("#dsp-items", "Blood count")
        .await
        .unwrap();

    // Through single sign-on, his practice software gets a token for the DSP.
    let verifier = "a-pkce-verifier-of-at-least-forty-three-characters-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let authorize = format!(
        "{base}/oidc/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256",
        url_escape(&callback)
    );
    pro.goto(&authorize).await.unwrap();
    accept_terms_if_asked(pro).await;
    let mut landed = String::new();
    for _ in 0..300 {
        landed = pro.current_url().await.unwrap();
        if landed.starts_with(&callback) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        landed.starts_with(&callback),
        "the browser never came back to the software: {landed}"
    );
    let code = reqwest::Url::parse(&landed)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .to_string();
    let tokens: serde_json::Value = client(d)
        .post(format!("{base}/oidc/token"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", callback.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = tokens["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned();

    // The independent FHIR client files a bundle, finds and retrieves it (MHD), and
    // every response validates against FHIR R4.
    let out_dir = d.join("mhd");
    std::fs::create_dir_all(&out_dir).unwrap();
    let python = std::env::var("SANTE_FHIR_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sante-fhir/tests/mhd_client.py");
    #[expect(clippy::disallowed_methods)]
    let ran = std::process::Command::new(&python)
        .arg(&script)
        .args([
            &format!("{base}/fhir"),
            &access_token,
            d.join("tls/ca.crt").to_str().unwrap(),
            &holder_id,
            out_dir.to_str().unwrap(),
        ])
        .output()
        .expect("the FHIR client (cargo xtask deps installs it)");
    assert!(
        ran.status.success(),
        "fhirpy client failed: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&ran.stdout).unwrap();
    let filed = report["filed"].as_str().unwrap();
    assert!(
        report["found"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == filed),
        "{report}"
    );
    assert!(
        report["found_syntheses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == filed),
        "{report}"
    );
    assert_eq!(
        report["found"].as_array().unwrap().len(),
        3,
        "the portal's report, the bundle's, and the holder's organ-donation note (category 1, read by all): {report}"
    );
    assert_eq!(report["retrieved_status"], 200, "{report}");
    assert_eq!(report["retrieved_same"], true, "{report}");
    assert_eq!(report["retrieved_type"], "application/pdf");
    assert!(report["lists"].as_u64().unwrap() >= 2, "{report}");
    for (name, verdict) in report["validation"].as_object().unwrap() {
        assert_eq!(verdict, "ok", "{name} does not validate against FHIR R4");
    }

    // The holder sees both documents, filters them, reads one, sees who did what.
    holder.goto(&format!("{base}/dsp")).await.unwrap();
    holder
        .wait_for_text("#dsp-items", "Blood count")
        .await
        .unwrap();
    assert_eq!(
        holder.count("tr.dsp-item").await.unwrap(),
        3,
        "the lab report, the discharge summary, his organ-donation note"
    );
    holder.select("#f-category", "dsp-cat-09").await.unwrap();
    holder.click("#f-submit").await.unwrap();
    holder
        .wait_for_text("#dsp-items", "Blood count")
        .await
        .unwrap();
    assert_eq!(holder.count("tr.dsp-item").await.unwrap(), 1);
    holder.click("#dsp-items a").await.unwrap();
    holder
        .wait_for_text("#doc-text", "Haemoglobin")
        .await
        .unwrap();
    // Signed in, the home page says what his account gives him.
    holder.goto(&format!("{base}/")).await.unwrap();
    holder
        .wait_for_text("#yours", "My shared care record")
        .await
        .unwrap();
    holder.goto(&format!("{base}/dsp/history")).await.unwrap();
    // Who acted is named, with his profession, in the page's language; what he did
    // is said in words; his identifier is nowhere on the page.
    holder
        .wait_for_text("#dsp-history", &physician["family_name"])
        .await
        .unwrap();
    let filings = holder
        .count("tr.history-entry[data-action=file]")
        .await
        .unwrap();
    assert!(filings >= 2, "the portal's and the bundle's filings");
    let history = holder.text("#dsp-history").await.unwrap();
    assert!(history.contains("Physician"), "{history}");
    assert!(history.contains("Filed a document"), "{history}");
    assert!(history.contains("You"), "{history}");
    assert!(!history.contains(&physician["id"]), "{history}");
    assert!(!history.contains("permit"), "{history}");
    holder.goto(&format!("{base}/dsp")).await.unwrap();
    holder
        .wait_for_text("#notices", "First access")
        .await
        .unwrap();

    // The holder forbids his DSP to the physician: refused at once, in the portal and
    // through the API.
    // He picks him by name: from a search of the directory, as from his care.
    holder.goto(&format!("{base}/dsp/controls")).await.unwrap();
    holder
        .fill("#f-find", &physician["family_name"])
        .await
        .unwrap();
    holder.click("#f-search").await.unwrap();
    holder
        .wait_for_text("#b-pro", &physician["family_name"])
        .await
        .unwrap();
    holder.select("#b-pro", &physician["id"]).await.unwrap();
    holder.click("#b-submit").await.unwrap();
    holder
        .wait_for_text("#blocked", &physician["family_name"])
        .await
        .unwrap();
    let controls = holder.text("main").await.unwrap();
    assert!(!controls.contains(&physician["id"]), "{controls}");
    // He names his assistant as he knows him: family name and national number. A
    // wrong name is refused; the right pair appoints him, shown by name.
    let assistant = row(&d.join("regs/patients.csv"), |c| {
        c("national_id") != patient["national_id"]
            && c("death_date").is_empty()
            && c("birth_name") != patient["birth_name"]
    });
    holder
        .fill("#a-family", &patient["birth_name"])
        .await
        .unwrap();
    holder
        .fill("#a-nin", &assistant["national_id"])
        .await
        .unwrap();
    holder.click("#a-appoint").await.unwrap();
    holder
        .wait_for_text("#a-error", "No patient has this name")
        .await
        .unwrap();
    holder
        .fill("#a-family", &assistant["birth_name"].to_uppercase())
        .await
        .unwrap();
    holder
        .fill("#a-nin", &assistant["national_id"])
        .await
        .unwrap();
    holder.click("#a-appoint").await.unwrap();
    holder
        .wait_for_text("#assistants", &assistant["birth_name"])
        .await
        .unwrap();
    let listed = holder.text("#assistants").await.unwrap();
    assert!(!listed.contains(&assistant["national_id"]), "{listed}");
    pro.goto(&format!("{base}/pro/dsp/patient?holder={holder_id}"))
        .await
        .unwrap();
    pro.wait_for_text("#dsp-unreachable", "No DSP")
        .await
        .unwrap();
    // Without a relationship the page names nobody: no name, no birth date.
    assert_eq!(
        pro.text("#patient-name").await.unwrap().trim(),
        "Patient's record"
    );
    let search: serde_json::Value = client(d)
        .get(format!(
            "{base}/fhir/DocumentReference?patient=Patient/{holder_id}"
        ))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(search["total"], 0, "{search}");
    let read = client(d)
        .get(format!("{base}/fhir/Binary/{filed}"))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 404);
    // No token: 401 with an OperationOutcome.
    let anonymous = client(d)
        .get(format!(
            "{base}/fhir/DocumentReference?patient=Patient/{holder_id}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    // The same refusal answers the same status on every front end: filing through
    // the API and through the portal are both 403.
    let bundle = serde_json::json!({
        "resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:set", "request": {"method": "POST", "url": "List"},
             "resource": {"resourceType": "List", "status": "current", "mode": "working",
                "code": {"coding": [{"system": "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes", "code": "submissionset"}]},
                "subject": {"reference": format!("Patient/{holder_id}")}}},
            {"fullUrl": "urn:uuid:doc", "request": {"method": "POST", "url": "DocumentReference"},
             "resource": {"resourceType": "DocumentReference", "status": "current",
                "type": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
                "subject": {"reference": format!("Patient/{holder_id}")},
                "content": [{"attachment": {"contentType": "text/plain", "url": "urn:uuid:bin"}}]}},
            {"fullUrl": "urn:uuid:bin", "request": {"method": "POST", "url": "Binary"},
             "resource": {"resourceType": "Binary", "contentType": "text/plain", "data": "SGI="}}
        ]
    });
    let api_filing = client(d)
        .post(format!("{base}/fhir"))
        .bearer_auth(&access_token)
        .header("content-type", "application/fhir+json")
        .body(bundle.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(api_filing.status(), 403);
    let outcome: serde_json::Value = api_filing.json().await.unwrap();
    assert_eq!(outcome["issue"][0]["code"], "forbidden", "{outcome}");
    let portal_filing = pro
        .eval_async(&format!(
            "const done = arguments[arguments.length - 1];\
             const body = new URLSearchParams({{csrf: document.querySelector('input[name=csrf]').value,\
               type: 'http://loinc.org|11502-2', title: 'Result', text: 'Hb'}});\
             fetch('/pro/dsp/patient/{holder_id}/file', {{method: 'POST', body, redirect: 'manual'}})\
               .then(r => done(r.status), e => done(String(e)));"
        ))
        .await
        .unwrap();
    assert_eq!(
        portal_filing, 403,
        "the portal answers the refusal as the API does"
    );
    holder.goto(&format!("{base}/dsp/history")).await.unwrap();
    holder
        .wait_for_text("#dsp-history", "Refused: the holder forbade the record")
        .await
        .unwrap();
    holder.close().await.unwrap();
    physician_browser.close().await.unwrap();
    assert!(server.stop().success());

    // The information letters of the DSPs created on affiliation and not yet
    // activated, for the operator to print and post (DSP-5).
    let letters = run(d, &["dsp", "letters", "--out", "letters"]);
    assert!(letters.status.success(), "{}", stderr(&letters));
    let pdfs: Vec<_> = std::fs::read_dir(d.join("letters"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!pdfs.is_empty());
    assert!(
        !pdfs
            .iter()
            .any(|p| p.to_string_lossy().contains(&holder_id)),
        "the activated DSP's letter is not pending"
    );
    #[expect(clippy::disallowed_methods)]
    let text = std::process::Command::new("pdftotext")
        .args([pdfs[0].to_str().unwrap(), "-"])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    for needle in [
        "dossier de soins partagé",
        "vous opposer",
        "avant le",
        "fermer",
    ] {
        assert!(
            text.to_lowercase().contains(needle) || text.contains(needle),
            "{needle:?} not in the letter:\n{text}"
        );
    }
    let again = run(d, &["dsp", "letters", "--out", "letters2"]);
    assert!(
        stdout(&again).starts_with("0 information letters"),
        "{}",
        stdout(&again)
    );
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
