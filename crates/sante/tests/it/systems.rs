//! Establishment systems end to end against the real binary (ACC-3, ACC-4): a hospital
//! system registered with its certificate and attestation obtains, over mutual TLS, a
//! token for its staff member with a signed assertion, and reaches the patient
//! directory (FHIR PDQm) with it; the token is bound to the system's certificate; an
//! administrator's suspension refuses it at the very next request. A professional's
//! own token reaches the directory too, a patient's does not.

use crate::harness::*;

fn field(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.split_once(label).map(|(_, v)| v))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn input_value(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no input {name} in:\n{page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

fn https(dir: &std::path::Path, identity: Option<&std::path::Path>) -> reqwest::Client {
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(dir.join("tls/ca.crt")).unwrap()).unwrap();
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = identity {
        builder =
            builder.identity(reqwest::Identity::from_pem(&std::fs::read(pem).unwrap()).unwrap());
    }
    builder.build().unwrap()
}

fn issue_card(dir: &std::path::Path, name: &str, out: &str) {
    let issued = run(
        dir,
        &[
            "dev-pki",
            "issue",
            "--name",
            name,
            "--out",
            out,
            "--password",
            "pw",
        ],
    );
    assert!(issued.status.success(), "{}", stderr(&issued));
}

#[expect(clippy::disallowed_methods)]
fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hospital_system_acts_for_its_staff_until_suspended() {
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
            "30",
            "--professionals",
            "12",
            "--establishments",
            "3",
            "--seed",
            "21",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for register in ["establishments", "professionals", "patients"] {
        let out = run(d, &["import", register, &format!("regs/{register}.csv")]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // A professional affiliated to an establishment now.
    let mut reader = csv::Reader::from_path(d.join("regs/professionals.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let record = reader
        .records()
        .map(Result::unwrap)
        .find(|r| {
            !r[col("establishment")].is_empty()
                && r[col("affiliation_end")].is_empty()
                && r[col("authorisation_status")] == *"active"
        })
        .expect("an affiliated professional");
    let (pro, nin, establishment) = (
        record[col("id")].to_owned(),
        record[col("national_id")].to_owned(),
        record[col("establishment")].to_owned(),
    );
    let letter = run(
        d,
        &[
            "account",
            "create",
            "professional",
            "--national-id",
            &nin,
            "--subject",
            &pro,
        ],
    );
    assert!(letter.status.success(), "{}", stderr(&letter));
    let (login, code) = (
        field(&stdout(&letter), "login name:"),
        field(&stdout(&letter), "activation code:"),
    );
    issue_card(d, "Dr Staff", "staff.p12");
    issue_card(d, "Hospital information system", "system.p12");
    // A professional identifies a patient by name and birth date (DIR-5).
    let (family, born) = {
        let mut r = csv::Reader::from_path(d.join("regs/patients.csv")).unwrap();
        let h = r.headers().unwrap().clone();
        let column = |name: &str| h.iter().position(|x| x == name).unwrap();
        let (name, birth) = (column("birth_name"), column("birth_date"));
        let first = r.records().next().unwrap().unwrap();
        (first[name].to_owned(), first[birth].to_owned())
    };

    // The operator registers the system; a wrong establishment is refused by name.
    let bad = run(
        d,
        &[
            "sso",
            "register-system",
            "--name",
            "HIS",
            "--establishment",
            "est-nope",
            "--certificate",
            "system.pem",
            "--service",
            "directory",
            "--attestation",
            "ATT-1",
            "--valid-until",
            "2030-12-31",
        ],
    );
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--establishment"), "{}", stderr(&bad));
    let registered = run(
        d,
        &[
            "sso",
            "register-system",
            "--name",
            "Hospital information system",
            "--establishment",
            &establishment,
            "--certificate",
            "system.pem",
            "--service",
            "directory",
            "--service",
            "dsp",
            "--attestation",
            "ATT-2026-17",
            "--valid-until",
            "2030-12-31",
        ],
    );
    assert!(registered.status.success(), "{}", stderr(&registered));
    let system_id = field(&stdout(&registered), "client_id:");

    let server = Server::start(d, &["serve"]);
    let card = server.card.clone().unwrap();

    // The professional activates his account with his card.
    let staff = https(d, Some(&d.join("staff.pem")));
    let page = staff
        .get(format!("{card}/activate/certificate"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let activated = staff
        .post(format!("{card}/activate/certificate"))
        .form(&[
            ("csrf", input_value(&page, "csrf").as_str()),
            ("login", &login),
            ("national_id", &nin),
            ("code", &code),
            ("email", "dr.staff@example.lu"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(activated.contains("id=\"activated\""), "{activated}");

    // The system signs an assertion for its staff member with its certificate's key.
    let system_pem = std::fs::read_to_string(d.join("system.pem")).unwrap();
    let pkcs8 = rustls_pemfile::private_key(&mut system_pem.as_bytes())
        .unwrap()
        .unwrap();
    let key = jsonwebtoken::EncodingKey::from_ec_der(pkcs8.secret_der());
    let assertion = |sub: &str, jti: &str, acr: &str| {
        let now = unix_now();
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            &serde_json::json!({"iss": system_id, "sub": sub, "aud": format!("{card}/oidc/token"), "iat": now, "exp": now + 120, "jti": jti, "acr": acr}),
            &key,
        )
        .unwrap()
    };
    let system = https(d, Some(&d.join("system.pem")));
    let ask = |client: &reqwest::Client, base: &str, assertion: String| {
        client
            .post(format!("{base}/oidc/token"))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
                ("client_id", system_id.as_str()),
            ])
            .send()
    };
    // Over the portal's own listener there is no certificate: the system is refused.
    let refused = ask(
        &https(d, None),
        &server.base,
        assertion(&pro, "a0", "urn:sante:loa:high"),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 401);
    // The staff member's card is not the system's certificate.
    let refused = ask(&staff, &card, assertion(&pro, "a1", "urn:sante:loa:high"))
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let answer = ask(&system, &card, assertion(&pro, "a2", "urn:sante:loa:high"))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let tokens: serde_json::Value = answer.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    // A replayed assertion, or one for someone who does not work there, is refused.
    assert_eq!(
        ask(&system, &card, assertion(&pro, "a2", "urn:sante:loa:high"))
            .await
            .unwrap()
            .status(),
        400
    );
    let stranger = ask(
        &system,
        &card,
        assertion("pro-999999", "a3", "urn:sante:loa:high"),
    )
    .await
    .unwrap();
    assert_eq!(stranger.status(), 403);

    // The token reaches the patient directory, through the system's connection only.
    let search = format!("{card}/fhir/Patient?family={family}&birthdate={born}");
    let found = system
        .get(&search)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    let bundle: serde_json::Value = found.json().await.unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert!(bundle["total"].as_u64().unwrap() >= 1, "{bundle}");
    let unbound = https(d, None)
        .get(format!(
            "{}/fhir/Patient?family={family}&birthdate={born}",
            server.base
        ))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(unbound.status(), 401);
    let outcome: serde_json::Value = unbound.json().await.unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");

    // The system registers the emergency admission of a patient (DSP-14): the grant is
    // made, but his DSP, created on affiliation and not yet activated, opens to
    // professionals only 30 days after its letter (DSP-7): the search finds nothing.
    let nin = {
        let mut r = csv::Reader::from_path(d.join("regs/patients.csv")).unwrap();
        let h = r.headers().unwrap().clone();
        let (n, until) = (
            h.iter().position(|x| x == "national_id").unwrap(),
            h.iter().position(|x| x == "insured_until").unwrap(),
        );
        r.records()
            .map(Result::unwrap)
            .find(|x| x[until].is_empty())
            .unwrap()[n]
            .to_owned()
    };
    let encounter = serde_json::json!({
        "resourceType": "Encounter", "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
        "subject": {"identifier": {"system": "https://fhir.sante.lu/NamingSystem/national-id", "value": nin}}
    });
    let mut registered = None;
    for _ in 0..100 {
        let answer = system
            .post(format!("{card}/fhir/Encounter"))
            .bearer_auth(&access)
            .json(&encounter)
            .send()
            .await
            .unwrap();
        if answer.status() == 201 {
            registered = Some(answer.json::<serde_json::Value>().await.unwrap());
            break;
        }
        // The DSP is created by the directories' feed just after the start.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let stay = registered.expect("the emergency registered");
    assert_eq!(stay["class"]["code"], "EMER");
    let holder = stay["subject"]["reference"]
        .as_str()
        .unwrap()
        .trim_start_matches("Patient/")
        .to_owned();
    let found: serde_json::Value = system
        .get(format!(
            "{card}/fhir/DocumentReference?patient=Patient/{holder}"
        ))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["total"], 0, "{found}");
    // An emergency is not renewed; an admission is, by at most 30 days.
    let extend = |id: String, days: i64| {
        let system = system.clone();
        let access = access.clone();
        let card = card.clone();
        async move {
            system
                .post(format!("{card}/fhir/Encounter/{id}/$extend"))
                .bearer_auth(&access)
                .json(&serde_json::json!({"resourceType": "Parameters", "parameter": [{"name": "days", "valueInteger": days}]}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        extend(stay["id"].as_str().unwrap().to_owned(), 10).await,
        400
    );
    let mut admission = encounter.clone();
    admission["class"]["code"] = serde_json::json!("IMP");
    let admitted: serde_json::Value = system
        .post(format!("{card}/fhir/Encounter"))
        .bearer_auth(&access)
        .json(&admission)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admission_id = admitted["id"].as_str().unwrap().to_owned();
    assert_eq!(extend(admission_id.clone(), 31).await, 400);
    assert_eq!(extend(admission_id.clone(), 30).await, 200);
    let finished: serde_json::Value = system
        .post(format!("{card}/fhir/Encounter/{admission_id}/$finish"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(finished["status"], "finished");
    assert_eq!(extend(admission_id, 10).await, 409);

    // The administrator suspends the attestation: refused at the very next request.
    let suspended = run(
        d,
        &["sso", "suspend", &system_id, "--reason", "audit_finding"],
    );
    assert!(suspended.status.success(), "{}", stderr(&suspended));
    let after = system
        .get(&search)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    assert_eq!(
        ask(&system, &card, assertion(&pro, "a4", "urn:sante:loa:high"))
            .await
            .unwrap()
            .status(),
        401
    );
    let listed = run(d, &["sso", "clients"]);
    assert!(stdout(&listed).contains("SUSPENDED"), "{}", stdout(&listed));
    let restored = run(d, &["sso", "restore", &system_id]);
    assert!(restored.status.success());
    let again = ask(&system, &card, assertion(&pro, "a5", "urn:sante:loa:high"))
        .await
        .unwrap();
    assert_eq!(again.status(), 200);

    // Every refusal was traced.
    let (status, _) = server.stop_with_output();
    assert!(status.success());
    let export = run(d, &["audit", "export", "--format", "fhir"]);
    let trail = stdout(&export);
    for code in [
        "wrong_client_certificate",
        "assertion_replayed",
        "not_staff",
        "attestation_suspended",
        "certificate_binding",
        "dsp_not_yet_open",
    ] {
        assert!(trail.contains(code), "no trace of {code}");
    }
}
