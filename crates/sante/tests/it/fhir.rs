//! The FHIR API end to end against the real server: mCSD (public) and PDQm
//! (authenticated services only), paging, OperationOutcomes, the traces of patient
//! reads, and every response checked by an independent FHIR R4 validator.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::*;

/// The independent validator (fhir.resources, installed by `cargo xtask deps`).
fn validate(files: &[PathBuf]) -> serde_json::Map<String, Value> {
    let python = std::env::var("SANTE_FHIR_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sante-fhir/tests/validate_fhir.py");
    #[expect(clippy::disallowed_methods)]
    let out = std::process::Command::new(&python)
        .arg(&script)
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python}: {e}; run the tests with `cargo xtask test`")
        });
    assert!(
        out.status.success(),
        "the FHIR validator did not run (use `cargo xtask test`, which installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

struct Api {
    client: reqwest::Client,
    base: String,
    saved: Vec<PathBuf>,
    out: PathBuf,
}

impl Api {
    async fn get(&mut self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("application/fhir+json"), "{path}: {ct}");
        let body: Value = res.json().await.unwrap();
        self.keep(&body);
        (status, body)
    }

    async fn post(&mut self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/fhir+json")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        self.keep(&body);
        (status, body)
    }

    fn keep(&mut self, body: &Value) {
        let path = self.out.join(format!("r{:03}.json", self.saved.len()));
        std::fs::write(&path, body.to_string()).unwrap();
        self.saved.push(path);
    }
}

fn outcome_code(v: &Value) -> &str {
    assert_eq!(v["resourceType"], "OperationOutcome", "{v}");
    v["issue"][0]["code"].as_str().unwrap()
}

/// A token for a platform service, added to the configuration.
fn add_service_client(dir: &Path, name: &str, service: &str) -> String {
    let out = run(
        dir,
        &[
            "directory",
            "service-token",
            "--name",
            name,
            "--service",
            service,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    lines.next();
    let token = lines.next().unwrap().trim().to_owned();
    let config: String = text
        .split("Add to the configuration:")
        .nth(1)
        .unwrap()
        .to_owned();
    let path = dir.join("sante.toml");
    let mut current = std::fs::read_to_string(&path).unwrap();
    current.push_str(&config);
    std::fs::write(&path, current).unwrap();
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fhir_directory_api_serves_mcsd_publicly_and_pdqm_to_services_only() {
    let (dir, _) = init_dir();
    let out = run(
        dir.path(),
        &[
            "directory",
            "registers",
            "--out",
            "regs",
            "--patients",
            "300",
            "--professionals",
            "120",
            "--establishments",
            "6",
            "--seed",
            "11",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for (register, file) in [
        ("establishments", "regs/establishments.csv"),
        ("professionals", "regs/professionals.csv"),
        ("patients", "regs/patients.csv"),
    ] {
        let out = run(dir.path(), &["import", register, file]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let dsp = add_service_client(dir.path(), "dsp-test", "dsp");
    let mail = add_service_client(dir.path(), "mail-test", "messaging");
    let server = Server::start(dir.path(), &["serve"]);
    let out_dir = tempfile::tempdir().unwrap();
    let mut api = Api {
        client: client(dir.path()),
        base: format!("{}/fhir", server.base),
        saved: Vec::new(),
        out: out_dir.path().to_owned(),
    };

    // CapabilityStatement.
    let (status, cap) = api.get("/metadata", None).await;
    assert_eq!(status, 200);
    assert_eq!(cap["resourceType"], "CapabilityStatement");
    assert_eq!(cap["fhirVersion"], "4.0.1");

    // mCSD, public: search with paging, then follow the next link to the end.
    let (status, page) = api.get("/Practitioner?_count=50", None).await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 120);
    let mut seen = page["entry"].as_array().unwrap().len();
    let mut next = page["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .map(|l| l["url"].as_str().unwrap().to_owned());
    let mut pages = 1;
    while let Some(url) = next {
        let path = url
            .strip_prefix(&api.base)
            .expect("absolute link on the same base")
            .to_owned();
        let (status, page) = api.get(&path, None).await;
        assert_eq!(status, 200);
        seen += page["entry"].as_array().map_or(0, Vec::len);
        next = page["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_owned());
        pages += 1;
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, 120);
    let first_id = {
        let (_, page) = api.get("/Practitioner?_count=1", None).await;
        page["entry"][0]["resource"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (status, practitioner) = api.get(&format!("/Practitioner/{first_id}"), None).await;
    assert_eq!(status, 200);
    let family = practitioner["name"][0]["family"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, by_name) = api
        .get(
            &format!("/Practitioner?family={}", family.to_lowercase()),
            None,
        )
        .await;
    assert!(
        by_name["entry"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["resource"]["id"] == first_id.as_str())
    );
    let (status, roles) = api.get("/PractitionerRole?role=nurse&_count=5", None).await;
    assert_eq!(status, 200);
    let role_id = roles["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = api.get(&format!("/PractitionerRole/{role_id}"), None).await;
    assert_eq!(status, 200);
    let location = roles["entry"][0]["resource"]["location"][0]["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, loc) = api.get(&format!("/{location}"), None).await;
    assert_eq!(status, 200, "{loc}");
    let (status, orgs) = api.get("/Organization?type=hospital", None).await;
    assert_eq!(status, 200);
    let org = orgs["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = api.get(&format!("/Organization/{org}"), None).await;
    assert_eq!(status, 200);
    let (status, sites) = api
        .get(&format!("/Location?organization={org}"), None)
        .await;
    assert_eq!(status, 200);
    let site = sites["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = api.get(&format!("/Location/{site}"), None).await;
    assert_eq!(status, 200);
    let (status, services) = api.get("/HealthcareService?_count=3", None).await;
    assert_eq!(status, 200);
    let hs = services["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = api.get(&format!("/HealthcareService/{hs}"), None).await;
    assert_eq!(status, 200);

    // Errors are OperationOutcomes naming the problem.
    let (status, o) = api.get("/Practitioner/nobody-here", None).await;
    assert_eq!((status, outcome_code(&o)), (404, "not-found"));
    let (status, o) = api.get("/Practitioner?shoe-size=42", None).await;
    assert_eq!((status, outcome_code(&o)), (400, "not-supported"));
    assert!(
        o["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("shoe-size")
    );
    let (status, o) = api.get("/Practitioner?_count=lots", None).await;
    assert_eq!((status, outcome_code(&o)), (400, "invalid"));
    let (status, o) = api.get("/Observation", None).await;
    assert_eq!((status, outcome_code(&o)), (404, "not-supported"));

    // PDQm: never anonymous, never with a wrong token, never for messaging.
    let (status, o) = api.get("/Patient?family=a", None).await;
    assert_eq!((status, outcome_code(&o)), (401, "login"));
    let (status, o) = api.get("/Patient?family=a", Some("not-a-token")).await;
    assert_eq!((status, outcome_code(&o)), (401, "login"));
    let (status, o) = api.get("/Patient?family=a", Some(&mail)).await;
    assert_eq!((status, outcome_code(&o)), (403, "forbidden"));
    let (status, o) = api.get("/Patient", Some(&dsp)).await;
    assert_eq!(
        (status, outcome_code(&o)),
        (400, "invalid"),
        "never the whole directory"
    );
    // Nor walked by broad criteria (DIR-5): a search names one person.
    for broad in [
        "/Patient?gender=female",
        "/Patient?given=a",
        "/Patient?family=weber",
    ] {
        let (status, o) = api.get(broad, Some(&dsp)).await;
        assert_eq!((status, outcome_code(&o)), (400, "invalid"), "{broad}");
        assert!(o.to_string().contains("birth date"), "{broad}: {o}");
    }

    // A service that needs it finds patients, reads one and matches an identity.
    let patients = std::fs::read_to_string(dir.path().join("regs/patients.csv")).unwrap();
    let line: Vec<&str> = patients.lines().nth(1).unwrap().split(',').collect();
    let (nin, birth_name, given, birth) = (line[0], line[1], line[3], line[5]);
    let (status, found) = api
        .get(
            &format!("/Patient?identifier=https://fhir.sante.lu/NamingSystem/national-id|{nin}"),
            Some(&dsp),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["total"], 1);
    let patient_id = found["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, o) = api.get(&format!("/Patient/{patient_id}"), None).await;
    assert_eq!((status, outcome_code(&o)), (401, "login"));
    let (status, read) = api.get(&format!("/Patient/{patient_id}"), Some(&dsp)).await;
    assert_eq!(status, 200);
    assert_eq!(read["birthDate"], birth);
    let (status, by_name) = api
        .get(
            &format!(
                "/Patient?family={}&birthdate={birth}",
                birth_name.to_lowercase()
            ),
            Some(&dsp),
        )
        .await;
    assert_eq!(status, 200);
    assert!(by_name["total"].as_u64().unwrap() >= 1);
    let parameters = json!({
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": {
                "resourceType": "Patient",
                "name": [{"use": "official", "family": birth_name, "given": given.split(';').collect::<Vec<_>>()}],
                "birthDate": birth,
            }},
            {"name": "count", "valueInteger": 5},
        ]
    });
    let (status, o) = api.post("/Patient/$match", None, &parameters).await;
    assert_eq!((status, outcome_code(&o)), (401, "login"));
    let (status, matched) = api.post("/Patient/$match", Some(&dsp), &parameters).await;
    assert_eq!(status, 200, "{matched}");
    assert!(
        matched["entry"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["resource"]["id"] == patient_id.as_str())
    );
    let (status, o) = api
        .post(
            "/Patient/$match",
            Some(&dsp),
            &json!({"resourceType": "Parameters", "parameter": []}),
        )
        .await;
    assert_eq!((status, outcome_code(&o)), (400, "invalid"));

    assert!(server.stop().success());

    // Every response validates against FHIR R4; a broken resource does not (so the
    // validator is really checking).
    let broken = out_dir.path().join("broken.json");
    std::fs::write(
        &broken,
        json!({"resourceType": "Patient", "birthDate": "17/05/1980", "name": "x"}).to_string(),
    )
    .unwrap();
    let mut files = api.saved.clone();
    files.push(broken.clone());
    let results = validate(&files);
    for file in &api.saved {
        let verdict = &results[file.to_str().unwrap()];
        assert_eq!(
            verdict,
            "ok",
            "{}: {verdict}\n{}",
            file.display(),
            std::fs::read_to_string(file).unwrap()
        );
    }
    assert_ne!(results[broken.to_str().unwrap()], "ok");

    // Every patient entry revealed is in the audit trail, and the refusals too.
    let out = run(dir.path(), &["audit", "export", "--format", "fhir"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let trail = stdout(&out);
    let reads = trail
        .lines()
        .filter(|l| l.contains("DirectoryPatientRead"))
        .count();
    assert!(reads >= 4, "{reads} patient reads traced");
    assert!(trail.contains("DirectoryAccessDenied"));
    assert!(trail.contains("bad-credentials"));
}
