//! The directories end to end: register files imported by `sante import` (rejection
//! report, idempotence, clear refusals), then the public search page in Chromium.

use sante_testkit::Browser;

use crate::harness::*;

/// Synthetic register files in `dir/regs`, and the first professional line's fields.
fn registers(dir: &std::path::Path) -> std::collections::HashMap<String, String> {
    let out = run(
        dir,
        &[
            "directory",
            "registers",
            "--out",
            "regs",
            "--patients",
            "400",
            "--professionals",
            "200",
            "--establishments",
            "10",
            "--seed",
            "5",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut reader = csv::Reader::from_path(dir.join("regs/professionals.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let first = reader.records().next().unwrap().unwrap();
    headers
        .iter()
        .zip(first.iter())
        .map(|(h, v)| (h.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn import_reports_bad_lines_and_a_second_run_changes_nothing() {
    let (dir, _) = init_dir();
    registers(dir.path());
    let patients = dir.path().join("regs/patients.csv");
    // Two broken lines at the end: a bad check digit and an unknown sex code.
    let mut text = std::fs::read_to_string(&patients).unwrap();
    let last = text.lines().last().unwrap().to_owned();
    let nin = last.split(',').next().unwrap().to_owned();
    let mut digits: Vec<u8> = nin.bytes().collect();
    digits[12] = if digits[12] == b'9' {
        b'0'
    } else {
        digits[12] + 1
    };
    let bad_nin = last.replacen(&nin, std::str::from_utf8(&digits).unwrap(), 1);
    let bad_sex = last
        .replacen(",female,", ",robot,", 1)
        .replacen(",male,", ",robot,", 1)
        .replacen(",unknown,", ",robot,", 1);
    text.push_str(&format!("{bad_nin}\n{bad_sex}\n"));
    std::fs::write(&patients, &text).unwrap();
    let lines = text.lines().count() as u64;

    let first = run(dir.path(), &["import", "patients", "regs/patients.csv"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let summary = stdout(&first);
    assert!(summary.contains("rejection report:"), "{summary}");
    let report =
        std::fs::read_to_string(dir.path().join("regs/patients.csv.rejections.csv")).unwrap();
    assert!(report.starts_with("line,reason\n"), "{report}");
    assert!(report.contains(&format!("{},", lines - 1)), "{report}");
    assert!(
        report.contains(&format!("{lines},\"sex: unknown code")),
        "{report}"
    );
    assert!(report.contains("check digit"), "{report}");

    // The same file again: already done, not even read.
    let second = run(dir.path(), &["import", "patients", "regs/patients.csv"]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("0 lines read"),
        "a finished file is not read again: {}",
        stdout(&second)
    );
    // ... and its rejection report still describes it.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("regs/patients.csv.rejections.csv")).unwrap(),
        report
    );

    for (register, file) in [
        ("establishments", "regs/establishments.csv"),
        ("professionals", "regs/professionals.csv"),
    ] {
        let out = run(dir.path(), &["import", register, file]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("0 rejected"), "{}", stdout(&out));
    }

    // Refusals name the problem.
    let out = run(dir.path(), &["import", "doctors", "regs/professionals.csv"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("use professionals, establishments, patients or agents"));
    let out = run(
        dir.path(),
        &["import", "patients", "regs/professionals.csv"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("column"), "{}", stderr(&out));
    let out = run(dir.path(), &["import", "patients", "regs/missing.csv"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("regs/missing.csv"),
        "{}",
        stderr(&out)
    );

    // Every import is in the audit trail, which still verifies.
    let out = run(dir.path(), &["audit", "verify"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn reimporting_changed_lines_updates_only_them() {
    let (dir, _) = init_dir();
    registers(dir.path());
    let out = run(
        dir.path(),
        &["import", "professionals", "regs/professionals.csv"],
    );
    assert!(stdout(&out).contains("200 created"), "{}", stdout(&out));
    // The register withdraws one authorisation: a new file with one line changed.
    let text = std::fs::read_to_string(dir.path().join("regs/professionals.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[1] = lines[1].replacen(",active,", ",withdrawn,", 1);
    std::fs::write(dir.path().join("regs/update.csv"), lines.join("\n") + "\n").unwrap();
    let out = run(dir.path(), &["import", "professionals", "regs/update.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 created, 1 updated, 199 unchanged"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_search_page_finds_professionals_in_a_real_browser() {
    let (dir, _) = init_dir();
    let first = registers(dir.path());
    for (register, file) in [
        ("establishments", "regs/establishments.csv"),
        ("professionals", "regs/professionals.csv"),
    ] {
        let out = run(dir.path(), &["import", register, file]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let server = Server::start(dir.path(), &["serve"]);
    let browser = Browser::start_with_language("en").await.unwrap();
    browser.goto(&format!("{}/", server.base)).await.unwrap();
    browser.click("a[href='/directory']").await.unwrap();
    browser.wait_for_text("h1", "Directory").await.unwrap();
    assert_eq!(browser.count("label[for='q-name']").await.unwrap(), 1);

    // By name and town: the first professional of the register is found.
    let family = &first["family_name"];
    let town = &first["town"];
    browser.fill("#q-name", family).await.unwrap();
    browser.fill("#q-town", town).await.unwrap();
    browser.click("#q-submit").await.unwrap();
    browser
        .wait_for_text("#results-heading", "Results")
        .await
        .unwrap();
    let table = browser.text("#results").await.unwrap();
    assert!(table.contains(family.as_str()), "{table}");
    assert!(table.contains(town.as_str()), "{table}");

    // By profession alone: more than a page, with a link to the next one.
    browser
        .goto(&format!("{}/directory", server.base))
        .await
        .unwrap();
    browser.select("#q-profession", "nurse").await.unwrap();
    browser.click("#q-submit").await.unwrap();
    browser
        .wait_for_text("#results-heading", "Results")
        .await
        .unwrap();
    assert_eq!(browser.count("tr.result").await.unwrap(), 20);
    let total: u64 = browser
        .text("#results-total")
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(total > 20);
    assert!(browser.text("tbody").await.unwrap().contains("Nurse"));
    browser.click("#next-page").await.unwrap();
    browser
        .wait_for_text("#results-heading", "Results")
        .await
        .unwrap();
    let second_page = browser.count("tr.result").await.unwrap() as u64;
    assert!((1..=20).contains(&second_page));

    // Nobody: a clear message. A forged profession code: a clear refusal.
    browser
        .goto(&format!("{}/directory?name=zzzzqqq", server.base))
        .await
        .unwrap();
    browser
        .wait_for_text("#no-results", "No professional")
        .await
        .unwrap();
    browser
        .goto(&format!("{}/directory?profession=wizard", server.base))
        .await
        .unwrap();
    browser
        .wait_for_text("h1", "Incomplete request")
        .await
        .unwrap();

    // In French, the labels follow.
    browser.select("#lang-select", "fr").await.unwrap();
    browser.click("#lang-submit").await.unwrap();
    browser.wait_for_lang("fr").await.unwrap();
    browser
        .goto(&format!("{}/directory?profession=midwife", server.base))
        .await
        .unwrap();
    browser
        .wait_for_text("#results-heading", "Résultats")
        .await
        .unwrap();
    assert!(browser.text("tbody").await.unwrap().contains("Sage-femme"));

    browser.close().await.unwrap();
    assert!(server.stop().success());
}

#[test]
fn fhir_bulk_files_import_with_the_same_guarantees() {
    let (dir, _) = init_dir();
    registers(dir.path());
    let csv = std::fs::read_to_string(dir.path().join("regs/patients.csv")).unwrap();
    let nins: Vec<String> = csv
        .lines()
        .skip(1)
        .take(2)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    let patient = |nin: &str, family: &str| {
        serde_json::json!({
            "resourceType": "Patient",
            "identifier": [{"system": "https://fhir.sante.lu/NamingSystem/national-id", "value": nin}],
            "name": [{"use": "official", "family": family, "given": ["Anne"]}],
            "gender": "female",
            "birthDate": format!("{}-{}-{}", &nin[0..4], &nin[4..6], &nin[6..8]),
        })
        .to_string()
    };
    let mut broken = nins[0].clone().into_bytes();
    broken[12] = if broken[12] == b'9' {
        b'0'
    } else {
        broken[12] + 1
    };
    let broken = String::from_utf8(broken).unwrap();
    let lines = [
        patient(&nins[0], "Weber"),
        "{not json".to_owned(),
        serde_json::json!({"resourceType": "Practitioner"}).to_string(),
        patient(&broken, "Schmit"),
        patient(&nins[1], "Hoffmann"),
    ];
    std::fs::write(dir.path().join("patients.ndjson"), lines.join("\n") + "\n").unwrap();
    let out = run(
        dir.path(),
        &[
            "import",
            "patients",
            "patients.ndjson",
            "--format",
            "ndjson",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = stdout(&out);
    assert!(summary.contains("2 created"), "{summary}");
    assert!(summary.contains("3 rejected"), "{summary}");
    let report =
        std::fs::read_to_string(dir.path().join("patients.ndjson.rejections.csv")).unwrap();
    assert!(report.contains("2,not JSON"), "{report}");
    assert!(
        report.contains("3,") && report.contains("Practitioner"),
        "{report}"
    );
    assert!(
        report.contains("4,") && report.contains("check digit"),
        "{report}"
    );
    let again = run(
        dir.path(),
        &[
            "import",
            "patients",
            "patients.ndjson",
            "--format",
            "ndjson",
        ],
    );
    assert!(
        stdout(&again).contains("0 lines read"),
        "{}",
        stdout(&again)
    );
    let out = run(
        dir.path(),
        &["import", "agents", "patients.ndjson", "--format", "ndjson"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("use --format csv"),
        "{}",
        stderr(&out)
    );
}
