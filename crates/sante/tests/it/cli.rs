//! The command line: init, configuration errors, migrate, keys.

use std::os::unix::fs::PermissionsExt;

use crate::harness::*;

#[test]
fn init_writes_config_certificates_and_private_keys() {
    let (dir, port) = init_dir();
    let d = dir.path();
    let config = std::fs::read_to_string(d.join("sante.toml")).unwrap();
    assert!(config.contains(&format!("listen = \"127.0.0.1:{port}\"")));
    assert!(
        config.lines().filter(|l| l.starts_with('#')).count() > 10,
        "config is commented"
    );
    for secret in [
        "keys/master.keys",
        "keys/audit-signing.pem",
        "tls/server.key",
        "tls/ca.key",
    ] {
        let mode = std::fs::metadata(d.join(secret))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{secret} is readable by others: {mode:o}");
    }
    let chain = std::fs::read_to_string(d.join("tls/server.crt")).unwrap();
    assert_eq!(
        chain.matches("BEGIN CERTIFICATE").count(),
        2,
        "server cert + CA"
    );
    // A second init must not destroy the keys protecting existing data.
    let again = run(d, &["init", "--dir", "."]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("refusing to overwrite"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn configuration_errors_name_the_key() {
    let (dir, _) = init_dir();
    let out = sante()
        .args(["migrate"])
        .current_dir(dir.path())
        .env("SANTE_AUDIT__RETENTION_MONTHS", "36")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("audit.retention_months"),
        "{}",
        stderr(&out)
    );

    let out = sante()
        .args(["migrate"])
        .current_dir(dir.path())
        .env("SANTE_SERVER__LISTN", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("listn"), "{}", stderr(&out));

    let out = run(dir.path(), &["--config", "missing.toml", "migrate"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing.toml"), "{}", stderr(&out));
}

#[test]
fn migrate_applies_then_reports_up_to_date() {
    let (dir, _) = init_dir();
    let first = run(dir.path(), &["migrate"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("applied migrations"),
        "{}",
        stdout(&first)
    );
    let second = run(dir.path(), &["migrate"]);
    assert!(second.status.success());
    assert!(
        stdout(&second).contains("up to date"),
        "{}",
        stdout(&second)
    );
}

#[test]
fn keys_rotate_then_retire_the_old_key() {
    let (dir, _) = init_dir();
    let d = dir.path();
    let status = run(d, &["keys", "status"]);
    assert!(status.status.success(), "{}", stderr(&status));
    let old_id = stdout(&status)
        .lines()
        .next()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    // Retiring the primary key is refused.
    let refused = run(d, &["keys", "retire", &old_id]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("primary"), "{}", stderr(&refused));
    let rotated = run(d, &["keys", "rotate"]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    assert!(stdout(&rotated).contains("new primary master key"));
    let retired = run(d, &["keys", "retire", &old_id]);
    assert!(retired.status.success(), "{}", stderr(&retired));
    // Everything this version wrote is sealed already: resealing finds nothing to do.
    let resealed = run(d, &["keys", "reseal"]);
    assert!(resealed.status.success(), "{}", stderr(&resealed));
    assert!(
        stdout(&resealed).contains("sealed 0 records and blinded 0 search terms"),
        "{}",
        stdout(&resealed)
    );
    let status = stdout(&run(d, &["keys", "status"]));
    let ids: Vec<&str> = status.lines().filter_map(|l| l.split(' ').next()).collect();
    assert!(!ids.contains(&old_id.as_str()), "{status}");
    assert!(status.contains("(primary)"));

    // Operator commands are accesses too: they are in the trail, which still verifies.
    let verify = run(d, &["audit", "verify"]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    let export = stdout(&run(d, &["audit", "export"]));
    for kind in [
        "PlatformMigrationApplied",
        "PlatformMasterKeyRotated",
        "PlatformMasterKeyRetired",
        "PlatformRecordsResealed",
        "AuditTrailVerified",
    ] {
        assert!(export.contains(kind), "{kind} missing from {export}");
    }
    assert!(
        export.contains(&old_id),
        "the retired key is named in the trail"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_reports_tampering_with_the_stored_trail() {
    use sante_store::testing::execute_raw;
    use sante_store::{Db, StoreConfig};

    let (dir, _) = init_dir();
    let d = dir.path();
    for args in [
        &["migrate"][..],
        &["keys", "rotate"],
        &["audit", "seal"],
        &["keys", "status"],
    ] {
        let out = run(d, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let clean = run(d, &["audit", "verify"]);
    assert!(clean.status.success(), "{}", stdout(&clean));
    assert!(stdout(&clean).contains("intact"), "{}", stdout(&clean));

    let db = Db::connect(&StoreConfig {
        url: format!("sqlite:{}", d.join("data/sante.db").display()).into(),
        schema: None,
        max_connections: 1,
    })
    .await
    .unwrap();
    // Someone with database access rewrites what the first record says.
    execute_raw(
        &db,
        "UPDATE audit_records SET event = $1 WHERE stream = 'platform' AND seq = 1",
        &[b"{\"forged\":true}"],
    )
    .await
    .unwrap();
    let tampered = run(d, &["audit", "verify"]);
    assert_eq!(tampered.status.code(), Some(1));
    assert!(
        stdout(&tampered).contains("TAMPERED"),
        "{}",
        stdout(&tampered)
    );
    assert!(
        stdout(&tampered).contains("platform record 1: modified"),
        "{}",
        stdout(&tampered)
    );

    // ...and deletes another one.
    execute_raw(
        &db,
        "DELETE FROM audit_records WHERE stream = 'platform' AND seq = 2",
        &[],
    )
    .await
    .unwrap();
    db.close().await;
    let tampered = run(d, &["audit", "verify"]);
    assert_eq!(tampered.status.code(), Some(1));
    assert!(
        stdout(&tampered).contains("platform records 2..=2: deleted"),
        "{}",
        stdout(&tampered)
    );
}
