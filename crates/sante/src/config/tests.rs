//! Configuration parsing: overrides, refusals naming the key.

use super::*;

fn base() -> String {
    example(
        "127.0.0.1:8443".parse().unwrap(),
        "https://localhost:8443",
        "127.0.0.1:8444".parse().unwrap(),
        "https://localhost:8444",
        None,
    )
}

fn demo() -> String {
    example(
        "127.0.0.1:8443".parse().unwrap(),
        "https://localhost:8443",
        "127.0.0.1:8444".parse().unwrap(),
        "https://localhost:8444",
        Some("127.0.0.1:8445".parse().unwrap()),
    )
}

#[test]
fn the_demo_configures_messaging_and_bad_values_name_their_key() {
    let config = parse(&demo(), &[]).unwrap();
    let m = config.messaging.as_ref().unwrap();
    assert_eq!(m.submission_listen.unwrap().port(), 8445);
    assert_eq!(m.pop3_listen.unwrap().port(), 8449);
    assert_eq!(m.service_config().unwrap().quota_bytes, 100_000_000);
    let limits = m.limits.mail_limits().unwrap();
    assert_eq!(limits.imap_idle.as_secs(), 30 * 60, "RFC 9051 §5.4");
    assert_eq!(m.service_config().unwrap().max_recipients, 100);
    assert_eq!(
        config.server.limits.body_limits().unwrap(),
        sante_http::BodyLimits::default()
    );
    let tuned = parse(&demo(), &[("SANTE_SERVER__LIMITS__MAX_FORM_KIB", "16")]).unwrap();
    assert_eq!(
        tuned.server.limits.body_limits().unwrap().form_bytes,
        16 * 1024
    );
    assert_eq!(tuned.server.limits.header_bytes().unwrap(), 64 * 1024);
    assert!(parse(&base(), &[]).unwrap().messaging.is_none());
    for (key, value, named) in [
        (
            "SANTE_MESSAGING__CLAMD",
            "/run/clamd.ctl",
            "messaging.clamd",
        ),
        (
            "SANTE_MESSAGING__DOMAIN",
            "not a domain",
            "messaging.domain",
        ),
        ("SANTE_MESSAGING__QUOTA_MB", "0", "messaging.quota_mb"),
        (
            "SANTE_MESSAGING__MAX_MESSAGE_MB",
            "500",
            "messaging.max_message_mb",
        ),
        (
            "SANTE_MESSAGING__LIMITS__MAX_ERRORS",
            "0",
            "messaging.limits.max_errors",
        ),
        (
            "SANTE_MESSAGING__LIMITS__IMAP_IDLE_SECS",
            "0",
            "messaging.limits.imap_idle_secs",
        ),
        (
            "SANTE_SERVER__LIMITS__MAX_HEADER_KIB",
            "4",
            "server.limits.max_header_kib",
        ),
        (
            "SANTE_SERVER__LIMITS__MAX_FHIR_BUNDLE_MB",
            "0",
            "server.limits.max_fhir_bundle_mb",
        ),
    ] {
        let e = error(&demo(), &[(key, value)]);
        assert!(e.contains(named), "{key}: {e}");
    }
}

fn parse(text: &str, env: &[(&str, &str)]) -> anyhow::Result<Config> {
    Config::parse(
        text,
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        PathBuf::from("/etc/sante"),
    )
}

fn error(text: &str, env: &[(&str, &str)]) -> String {
    format!("{:#}", parse(text, env).unwrap_err())
}

#[test]
fn the_example_written_by_init_is_valid() {
    let config = parse(&base(), &[]).unwrap();
    assert_eq!(config.server.listen.port(), 8443);
    assert_eq!(config.audit.retention_months, 13);
    assert_eq!(
        config.path(&config.keys.master_keyring),
        PathBuf::from("/etc/sante/keys/master.keys")
    );
}

#[test]
fn environment_overrides_keys_of_the_file() {
    let config = parse(
        &base(),
        &[
            ("SANTE_SERVER__LISTEN", "127.0.0.1:9999"),
            ("SANTE_STORAGE__MAX_CONNECTIONS", "3"),
            ("SANTE_CONFIG", "/ignored/not/an/override"),
            ("SANTE_TEST_PG_URL", "postgres://ignored"),
            ("OTHER__THING", "x"),
        ],
    )
    .unwrap();
    assert_eq!(config.server.listen.port(), 9999);
    assert_eq!(config.storage.max_connections, 3);
}

#[test]
fn unknown_keys_are_refused_naming_the_key() {
    let text = base().replace(
        "shutdown_grace_secs = 20",
        "shutdown_grace_secs = 20\nlisten_port = 3",
    );
    let msg = error(&text, &[]);
    assert!(
        msg.contains("server.listen_port") || msg.contains("listen_port"),
        "{msg}"
    );
    let msg = error(&base(), &[("SANTE_STORAGE__DATABSE_URL", "sqlite:x")]);
    assert!(msg.contains("databse_url"), "{msg}");
    let msg = error(&base(), &[("SANTE_NOSUCH__KEY", "1")]);
    assert!(msg.contains("nosuch"), "{msg}");
}

#[test]
fn invalid_values_are_refused_naming_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("SANTE_SERVER__LISTEN", "not-an-address", "server.listen"),
        (
            "SANTE_SERVER__PUBLIC_URL",
            "http://plain.example",
            "server.public_url",
        ),
        (
            "SANTE_STORAGE__DATABASE_URL",
            "mysql://x",
            "storage.database_url",
        ),
        (
            "SANTE_AUDIT__RETENTION_MONTHS",
            "24",
            "audit.retention_months",
        ),
        (
            "SANTE_AUDIT__MESSAGING_RETENTION_MONTHS",
            "13",
            "audit.messaging_retention_months",
        ),
        (
            "SANTE_PORTAL__DEFAULT_LANGUAGE",
            "es",
            "portal.default_language",
        ),
        ("SANTE_LOG__FORMAT", "xml", "log.format"),
        ("SANTE_BLOBS__BACKEND", "ftp", "blobs.backend"),
        (
            "SANTE_STORAGE__MAX_CONNECTIONS",
            "many",
            "storage.max_connections",
        ),
    ];
    for (var, value, key) in cases {
        let msg = error(&base(), &[(var, value)]);
        assert!(msg.contains(key), "{var}={value}: {msg}");
    }
}

#[test]
fn agents_networks_are_parsed_and_bad_ones_named() {
    let text = format!("{}\n", base()).replace(
        "# agent_networks = [\"10.20.0.0/16\"]",
        "agent_networks = [\"10.20.0.0/16\", \"192.0.2.7\"]",
    );
    let config = parse(&text, &[]).unwrap();
    let nets = config.identity.agent_networks().unwrap();
    assert_eq!(nets.len(), 2);
    assert!(nets[1].contains(&"192.0.2.7".parse::<std::net::IpAddr>().unwrap()));
    let bad = text.replace("192.0.2.7", "intranet");
    let msg = error(&bad, &[]);
    assert!(msg.contains("identity.agent_networks[1]"), "{msg}");
}

#[test]
fn s3_backend_requires_its_keys() {
    let msg = error(&base(), &[("SANTE_BLOBS__BACKEND", "s3")]);
    assert!(msg.contains("blobs.bucket"), "{msg}");
}

#[test]
fn the_database_password_is_never_shown() {
    let shown = |url: &str| {
        StorageConfig {
            database_url: url.into(),
            postgres_schema: None,
            max_connections: 1,
        }
        .shown_url()
    };
    assert_eq!(
        shown("postgres://sante:s3cret@db.example.lu:5432/sante"),
        "postgres://sante:***@db.example.lu:5432/sante"
    );
    assert_eq!(
        shown("postgres://sante@db:5432/sante"),
        "postgres://sante@db:5432/sante"
    );
    assert_eq!(shown("sqlite:data/sante.db"), "sqlite:data/sante.db");
    let debug = format!(
        "{:?}",
        StorageConfig {
            database_url: "postgres://sante:s3cret@db/sante".into(),
            postgres_schema: None,
            max_connections: 1,
        }
    );
    assert!(!debug.contains("s3cret"), "{debug}");
}

#[test]
fn a_development_clock_offset_is_a_duration_and_only_on_loopback() {
    for (text, seconds) in [
        ("400d", 400 * 86_400),
        ("-2h", -7_200),
        ("+90m", 5_400),
        ("30s", 30),
    ] {
        let config = parse(&base(), &[("SANTE_DEVELOPMENT__CLOCK_OFFSET", text)]).unwrap();
        assert_eq!(
            config
                .development
                .clock_offset()
                .unwrap()
                .unwrap()
                .num_seconds(),
            seconds,
            "{text}"
        );
    }
    assert!(
        parse(&base(), &[])
            .unwrap()
            .development
            .clock_offset()
            .unwrap()
            .is_none()
    );
    for bad in ["soon", "d", "12", "5w", "99999999d"] {
        let e = error(&base(), &[("SANTE_DEVELOPMENT__CLOCK_OFFSET", bad)]);
        assert!(e.contains("development.clock_offset"), "{bad}: {e}");
    }
    for (key, value) in [
        ("SANTE_SERVER__PUBLIC_URL", "https://sante.example.lu"),
        (
            "SANTE_SERVER__PUBLIC_URL",
            "https://localhost.example.lu:8443",
        ),
        ("SANTE_SERVER__LISTEN", "0.0.0.0:8443"),
        ("SANTE_SERVER__MTLS_PUBLIC_URL", "https://10.0.0.5:8444"),
    ] {
        let e = error(
            &base(),
            &[("SANTE_DEVELOPMENT__CLOCK_OFFSET", "1d"), (key, value)],
        );
        assert!(e.contains("only for a platform"), "{key}={value}: {e}");
    }
    let ipv6 = parse(
        &base(),
        &[
            ("SANTE_DEVELOPMENT__CLOCK_OFFSET", "1d"),
            ("SANTE_SERVER__PUBLIC_URL", "https://[::1]:8443"),
        ],
    );
    assert!(ipv6.is_ok(), "{ipv6:?}");
}

#[test]
fn published_revocation_lists_are_named_by_their_file_and_bad_names_refused() {
    let config = parse(&base(), &[]).unwrap();
    let published = config.server.published_revocation_lists().unwrap();
    let names: Vec<&str> = published.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["ca.crl", "smartcard.crl"]);
    let with_lists = |lists: &str| {
        base().replace(
            r#"revocation_lists = ["tls/ca.crl", "tls/smartcard.crl"]"#,
            &format!("revocation_lists = {lists}"),
        )
    };
    for lists in [
        r#"["tls/ca.crl", "other/ca.crl"]"#,
        r#"["tls/ca.pem"]"#,
        r#"["tls/ca list.crl"]"#,
        r#"["tls/"]"#,
    ] {
        let msg = error(&with_lists(lists), &[]);
        assert!(msg.contains("server.revocation_lists["), "{lists}: {msg}");
    }
    let none = parse(&with_lists("[]"), &[]).unwrap();
    assert!(none.server.published_revocation_lists().unwrap().is_empty());
}
