//! `sante serve` and `sante demo`: the real server over HTTPS, graceful shutdown, and
//! the audit trail it leaves behind.

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_over_https_and_stops_gracefully() {
    let (dir, port) = init_dir();
    let server = Server::start(dir.path(), &["serve"]);
    assert_eq!(server.base, format!("https://localhost:{port}"));
    let http = client(dir.path());

    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "{:?}", ready.text().await);

    for (lang, word) in [
        ("fr", "lang=\"fr\""),
        ("de", "lang=\"de\""),
        ("en", "lang=\"en\""),
    ] {
        let page = http
            .get(format!("{}/", server.base))
            .header("accept-language", lang)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(page.headers().contains_key("x-request-id"));
        let body = page.text().await.unwrap();
        assert!(body.contains(word), "{lang}: {body}");
    }

    let metrics = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.contains("http_requests"), "{metrics}");

    // Query strings may carry identifiers or secrets: they never reach the logs.
    let page = http
        .get(format!("{}/?lang=de&token=hunter2-secret", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    let (status, logs) = server.stop_with_output();
    assert!(status.success(), "server exited with {status}");
    let requests: Vec<serde_json::Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "request")
        .collect();
    assert!(requests.len() >= 6, "structured request logs: {logs:?}");
    assert!(
        requests
            .iter()
            .all(|r| r["request_id"].as_str().is_some_and(|id| id.len() == 36))
    );
    assert!(!logs.iter().any(|l| l.contains("hunter2")), "{logs:?}");

    // The run left a trail that verifies, with the start and the stop in it.
    let verify = run(dir.path(), &["audit", "verify"]);
    assert!(
        verify.status.success(),
        "{}{}",
        stdout(&verify),
        stderr(&verify)
    );
    let export = run(dir.path(), &["audit", "export", "--format", "fhir"]);
    assert!(export.status.success(), "{}", stderr(&export));
    let events: Vec<serde_json::Value> = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().all(|e| e["resourceType"] == "AuditEvent"));
    let text = stdout(&export);
    assert!(text.contains("PlatformServerStarted"), "{text}");
    assert!(text.contains("PlatformServerStopped"), "{text}");
    assert!(text.contains("PortalPageViewed"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_initialises_and_prints_every_url() {
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
    let http = client(&dir.path().join("demo"));
    let page = http.get(format!("{}/", server.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(server.stop().success());
}

/// A development platform's clock can be moved, so that time rules are tried on a
/// running server: what the server records happens at the moved time. A platform
/// reachable from elsewhere refuses the key at start-up (issue 14, item 8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_development_clock_offset_moves_a_running_servers_time_on_loopback_only() {
    let (dir, _) = init_dir();
    let before = sante_types::Clock::now(&sante_types::SystemClock);
    let server = Server::start_with_env(
        dir.path(),
        &["serve"],
        &[("SANTE_DEVELOPMENT__CLOCK_OFFSET", "400d")],
    );
    let http = client(dir.path());
    let page = http
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(server.stop().success());
    let export = stdout(&run(
        dir.path(),
        &["audit", "export", "--since", "2027-12-01T00:00:00Z"],
    ));
    let viewed: Vec<chrono::DateTime<chrono::Utc>> = export
        .lines()
        .filter(|l| l.contains("PortalPageViewed"))
        .map(|l| {
            let event: serde_json::Value = serde_json::from_str(l).unwrap();
            event["recorded"].as_str().unwrap().parse().unwrap()
        })
        .collect();
    assert!(
        !viewed.is_empty(),
        "the page view at the moved time: {export}"
    );
    for at in viewed {
        let ahead = at - before;
        assert!(
            (399..=401).contains(&ahead.num_days()),
            "recorded {ahead:?} ahead"
        );
    }

    let refused = sante()
        .args(["serve"])
        .current_dir(dir.path())
        .env("SANTE_DEVELOPMENT__CLOCK_OFFSET", "1d")
        .env("SANTE_SERVER__PUBLIC_URL", "https://sante.example.lu")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("development.clock_offset"),
        "{}",
        stderr(&refused)
    );
    let bad = sante()
        .args(["serve"])
        .current_dir(dir.path())
        .env("SANTE_DEVELOPMENT__CLOCK_OFFSET", "soon")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("\"soon\" is not a duration"),
        "{}",
        stderr(&bad)
    );
}
