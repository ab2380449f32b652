//! The storage conformance suite: every test body runs on SQLite and on PostgreSQL.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use sante_types::{Clock, ManualClock};
use secrecy::ExposeSecret;

use crate::blob::{BlobBackend, BlobStore};
use crate::db::Pool;
use crate::keyring::{Keyring, SharedKeyring};
use crate::{Db, Expect, StoreError, Term, TermQuery, WriteOp, storage_test};

const T0: i64 = 1_790_000_000_000_000;

fn clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap(),
    ))
}

storage_test!(
    put_then_get_returns_the_value_and_version,
    |db: Db| async move {
        let v = db
            .put("people", "p1", b"alice", Expect::Absent, T0)
            .await
            .unwrap();
        assert_eq!(v, 1);
        let got = db.get("people", "p1").await.unwrap().unwrap();
        assert_eq!(got.value, b"alice");
        assert_eq!(got.version, 1);
        assert_eq!(got.updated_at, T0);
        assert!(db.get("people", "nobody").await.unwrap().is_none());
        assert!(db.get("other", "p1").await.unwrap().is_none());
    }
);

storage_test!(create_only_refuses_an_existing_key, |db: Db| async move {
    db.put("c", "k", b"one", Expect::Absent, T0).await.unwrap();
    let err = db
        .put("c", "k", b"two", Expect::Absent, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(db.get("c", "k").await.unwrap().unwrap().value, b"one");
});

storage_test!(versioned_update_detects_lost_updates, |db: Db| async move {
    db.put("c", "k", b"v1", Expect::Absent, T0).await.unwrap();
    let v2 = db
        .put("c", "k", b"v2", Expect::Version(1), T0 + 1)
        .await
        .unwrap();
    assert_eq!(v2, 2);
    // A writer still holding version 1 must not overwrite version 2.
    let err = db
        .put("c", "k", b"stale", Expect::Version(1), T0 + 2)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)));
    let err = db
        .put("c", "missing", b"x", Expect::Version(1), T0)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)));
    assert_eq!(
        db.put("c", "k", b"v3", Expect::Any, T0 + 3).await.unwrap(),
        3
    );
    assert_eq!(db.put("c", "new", b"n", Expect::Any, T0).await.unwrap(), 1);
    assert_eq!(db.get("c", "k").await.unwrap().unwrap().value, b"v3");
});

storage_test!(delete_respects_expectations, |db: Db| async move {
    db.put("c", "k", b"v", Expect::Absent, T0).await.unwrap();
    let err = db.delete("c", "k", Expect::Version(7)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)));
    db.delete("c", "k", Expect::Version(1)).await.unwrap();
    assert!(db.get("c", "k").await.unwrap().is_none());
    // Deleting what is not there is fine without an expectation.
    db.delete("c", "k", Expect::Any).await.unwrap();
});

storage_test!(a_failed_batch_leaves_nothing_behind, |db: Db| async move {
    db.put("c", "taken", b"orig", Expect::Absent, T0)
        .await
        .unwrap();
    let ops = vec![
        WriteOp::Put {
            collection: "c".into(),
            key: "a".into(),
            value: b"A".to_vec(),
            expect: Expect::Absent,
        },
        WriteOp::Put {
            collection: "c".into(),
            key: "taken".into(),
            value: b"clobber".to_vec(),
            expect: Expect::Absent,
        },
    ];
    assert!(db.write_batch(&ops, T0).await.is_err());
    assert!(
        db.get("c", "a").await.unwrap().is_none(),
        "half a batch was committed"
    );
    assert_eq!(db.get("c", "taken").await.unwrap().unwrap().value, b"orig");

    let ok = vec![
        WriteOp::Put {
            collection: "c".into(),
            key: "a".into(),
            value: b"A".to_vec(),
            expect: Expect::Absent,
        },
        WriteOp::Delete {
            collection: "c".into(),
            key: "taken".into(),
            expect: Expect::Version(1),
        },
    ];
    assert_eq!(db.write_batch(&ok, T0).await.unwrap(), vec![1, 0]);
    assert!(db.get("c", "taken").await.unwrap().is_none());
});

storage_test!(list_pages_in_key_order, |db: Db| async move {
    for i in (0..25).rev() {
        db.put("page", &format!("k{i:03}"), &[i as u8], Expect::Absent, T0)
            .await
            .unwrap();
    }
    db.put("elsewhere", "k000", b"x", Expect::Absent, T0)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = db.list("page", after.as_deref(), 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        after = page.last().map(|r| r.key.clone());
        seen.extend(page.into_iter().map(|r| r.key));
    }
    let expected: Vec<String> = (0..25).map(|i| format!("k{i:03}")).collect();
    assert_eq!(seen, expected);
    assert_eq!(db.count("page").await.unwrap(), 25);
});

storage_test!(
    bad_input_is_refused_and_changes_nothing,
    |db: Db| async move {
        let err = db.put("", "k", b"v", Expect::Any, T0).await.unwrap_err();
        assert!(matches!(
            err,
            StoreError::Invalid {
                field: "collection",
                ..
            }
        ));
        let err = db.put("c", "", b"v", Expect::Any, T0).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { field: "key", .. }));
        let huge = vec![0u8; crate::records::MAX_VALUE_BYTES + 1];
        let err = db.put("c", "k", &huge, Expect::Any, T0).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { field: "value", .. }));
        assert_eq!(db.count("c").await.unwrap(), 0);
    }
);

storage_test!(
    a_nul_character_names_nothing_on_either_backend,
    |db: Db| async move {
        let err = db.put("c", "k\0", b"v", Expect::Any, T0).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: "key", .. }),
            "{err:?}"
        );
        db.put("c", "k", b"v", Expect::Absent, T0).await.unwrap();
        let err = db
            .write_batch(
                &[WriteOp::Index {
                    collection: "c".into(),
                    key: "k".into(),
                    terms: vec![Term::new("name", "a\0b")],
                }],
                T0,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: "term", .. }),
            "{err:?}"
        );
        // Reads with one find nothing, as no key or term can hold one.
        assert!(db.get("c", "k\0").await.unwrap().is_none());
        assert!(
            db.get_many("c", &["k\0".into(), "k".into()])
                .await
                .unwrap()
                .len()
                == 1
        );
        let nul = [TermQuery::exact("name", "\0")];
        assert!(db.search("c", &nul, None, 10).await.unwrap().is_empty());
        assert_eq!(db.search_count("c", &nul).await.unwrap(), 0);
        assert!(
            db.find_terms("c", "name", &["\0".into()], 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(db.count("c").await.unwrap(), 1);
    }
);

fn sealed(db: &Db) -> Db {
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
    db.clone().sealed(crate::sealing::Sealing::new(
        SharedKeyring::in_memory(Keyring::generate(now)),
        clock(),
        &["nin"],
    ))
}

/// Everything the database holds for `collection`, read raw: values and terms.
async fn raw(db: &Db, collection: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let values: Vec<Vec<u8>> = crate::records::on_pool!(&db.pool, |p| sqlx::query_scalar(
        "SELECT value FROM records WHERE collection = $1"
    )
    .bind(collection)
    .fetch_all(p)
    .await
    .unwrap());
    let terms: Vec<String> = crate::records::on_pool!(&db.pool, |p| sqlx::query_scalar(
        "SELECT term FROM record_terms WHERE collection = $1"
    )
    .bind(collection)
    .fetch_all(p)
    .await
    .unwrap());
    for v in values {
        out.extend(v);
    }
    for t in terms {
        out.extend(t.into_bytes());
    }
    out
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

storage_test!(
    sealed_records_and_blind_terms_hold_nothing_in_clear,
    |db: Db| async move {
        let sealed = sealed(&db);
        let value = br#"{"family":"Schmit","nin":"1980010112345","diagnosis":"asthma"}"#;
        sealed
            .write_batch(
                &[
                    put_any("patients", "p1", value),
                    index(
                        "patients",
                        "p1",
                        &[("nin", "1980010112345"), ("family", "schmit")],
                    ),
                ],
                T0,
            )
            .await
            .unwrap();
        assert_eq!(
            sealed.get("patients", "p1").await.unwrap().unwrap().value,
            value
        );
        assert_eq!(
            sealed.list("patients", None, 10).await.unwrap()[0].value,
            value
        );
        let stored = raw(&db, "patients").await;
        for clear in ["1980010112345", "Schmit", "asthma"] {
            assert!(!holds(&stored, clear), "{clear} is stored in clear");
        }
        // A blind field is found exactly, by the value asked for, never by prefix.
        let by_nin = [TermQuery::exact("nin", "1980010112345")];
        assert_eq!(
            sealed.search("patients", &by_nin, None, 10).await.unwrap(),
            ["p1"]
        );
        assert_eq!(sealed.search_count("patients", &by_nin).await.unwrap(), 1);
        assert_eq!(
            sealed
                .find_terms("patients", "nin", &["1980010112345".into(), "0".into()], 10)
                .await
                .unwrap(),
            [("1980010112345".to_owned(), "p1".to_owned())]
        );
        let err = sealed
            .search("patients", &[TermQuery::prefix("nin", "1980")], None, 10)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
        let by_name = [TermQuery::prefix("family", "sch")];
        assert_eq!(
            sealed.search("patients", &by_name, None, 10).await.unwrap(),
            ["p1"]
        );
        // A sealed value copied to another record fails its integrity check.
        crate::records::on_pool!(&db.pool, |p| sqlx::query(
            "INSERT INTO records (collection, key, version, value, updated_at) \
             SELECT collection, 'p2', 1, value, updated_at FROM records WHERE key = 'p1'"
        )
        .execute(p)
        .await
        .unwrap()
        .rows_affected());
        let err = sealed.get("patients", "p2").await.unwrap_err();
        assert!(matches!(err, StoreError::Integrity(_)), "{err:?}");
        // What was written before sealing reads as it was.
        db.put("patients", "old", b"in clear", Expect::Absent, T0)
            .await
            .unwrap();
        assert_eq!(
            sealed.get("patients", "old").await.unwrap().unwrap().value,
            b"in clear"
        );
    }
);

storage_test!(
    resealing_seals_what_was_written_in_clear_and_keeps_it_findable,
    |db: Db| async move {
        // Written before sealing was enabled.
        db.write_batch(
            &[
                put_any("patients", "p1", b"Schmit 1980010112345"),
                index(
                    "patients",
                    "p1",
                    &[("nin", "1980010112345"), ("family", "schmit")],
                ),
            ],
            T0,
        )
        .await
        .unwrap();
        let sealed = sealed(&db);
        let version = sealed.get("patients", "p1").await.unwrap().unwrap().version;
        let mut seen = 0;
        assert_eq!(sealed.reseal(|n| seen = n).await.unwrap(), (1, 1));
        assert_eq!(seen, 1);
        let stored = raw(&db, "patients").await;
        assert!(!holds(&stored, "1980010112345") && !holds(&stored, "Schmit"));
        let record = sealed.get("patients", "p1").await.unwrap().unwrap();
        assert_eq!(record.value, b"Schmit 1980010112345");
        assert_eq!(record.version, version, "the value did not change");
        let by_nin = [TermQuery::exact("nin", "1980010112345")];
        assert_eq!(
            sealed.search("patients", &by_nin, None, 10).await.unwrap(),
            ["p1"]
        );
        // A second run has nothing left to do.
        assert_eq!(sealed.reseal(|_| {}).await.unwrap(), (0, 0));
    }
);

storage_test!(binary_values_round_trip_exactly, |db: Db| async move {
    let value: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    db.put("bin", "all-bytes", &value, Expect::Absent, T0)
        .await
        .unwrap();
    assert_eq!(
        db.get("bin", "all-bytes").await.unwrap().unwrap().value,
        value
    );
});

storage_test!(
    concurrent_creates_of_one_key_have_one_winner,
    |db: Db| async move {
        let mut tasks = Vec::new();
        for i in 0..8u8 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.put("race", "k", &[i], Expect::Absent, T0).await
            }));
        }
        let mut wins = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => wins += 1,
                Err(StoreError::Conflict(_)) => {}
                Err(StoreError::Database(e)) => {
                    // SQLite may report a busy writer instead of a conflict: still no double win.
                    assert!(
                        e.to_string().contains("locked") || e.to_string().contains("busy"),
                        "{e}"
                    );
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(wins, 1);
    }
);

storage_test!(
    migrations_are_recorded_and_idempotent,
    |db: Db| async move {
        let status = db.migration_status().await.unwrap();
        assert!(!status.known.is_empty());
        assert!(status.pending().is_empty(), "{status:?}");
        db.migrate().await.unwrap();
        assert_eq!(db.migration_status().await.unwrap(), status);
    }
);

fn local_blobs(db: &Db, dir: &std::path::Path, keyring: SharedKeyring) -> BlobStore {
    BlobStore::open(
        &BlobBackend::Local {
            path: dir.to_owned(),
        },
        db.clone(),
        keyring,
        clock(),
    )
    .unwrap()
}

storage_test!(blobs_round_trip_encrypted_at_rest, |db: Db| async move {
    let dir = tempfile::tempdir().unwrap();
    let keyring = SharedKeyring::in_memory(Keyring::generate(clock().now()));
    let blobs = local_blobs(&db, dir.path(), keyring);
    let content = b"Compte rendu: hypertension arterielle, traitement adapte.".repeat(100);
    let meta = blobs.put("patient:1", "doc-1", &content).await.unwrap();
    assert_eq!(meta.size, content.len() as u64);
    assert_eq!(blobs.get("patient:1", "doc-1").await.unwrap(), content);
    // Nothing on disk holds the content or the owner's identifier in clear.
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !contains(&bytes, b"hypertension"),
            "clear text at rest in {entry:?}"
        );
        assert!(
            !entry.to_string_lossy().contains("patient"),
            "owner in path {entry:?}"
        );
    }
    assert!(matches!(
        blobs.get("patient:1", "missing").await.unwrap_err(),
        StoreError::NotFound(_)
    ));
    blobs.delete("patient:1", "doc-1").await.unwrap();
    assert!(matches!(
        blobs.get("patient:1", "doc-1").await.unwrap_err(),
        StoreError::NotFound(_)
    ));
});

storage_test!(
    tampered_or_moved_blobs_fail_their_integrity_check,
    |db: Db| async move {
        let dir = tempfile::tempdir().unwrap();
        let keyring = SharedKeyring::in_memory(Keyring::generate(clock().now()));
        let blobs = local_blobs(&db, dir.path(), keyring);
        blobs.put("owner-a", "doc", b"first content").await.unwrap();
        blobs
            .put("owner-a", "other", b"second content")
            .await
            .unwrap();
        let files = walk(dir.path());
        assert_eq!(files.len(), 2);
        // Flip one bit of the ciphertext of one blob.
        let target = files.iter().find(|f| f.ends_with("doc")).unwrap();
        let mut bytes = std::fs::read(target).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(target, &bytes).unwrap();
        assert!(matches!(
            blobs.get("owner-a", "doc").await.unwrap_err(),
            StoreError::Integrity(_)
        ));
        // Swap a blob under another name: the name is bound to the content.
        let other = files.iter().find(|f| f.ends_with("other")).unwrap();
        std::fs::copy(other, target).unwrap();
        assert!(matches!(
            blobs.get("owner-a", "doc").await.unwrap_err(),
            StoreError::Integrity(_)
        ));
        // Bad names are refused before touching storage.
        assert!(matches!(
            blobs.put("owner-a", "../escape", b"x").await.unwrap_err(),
            StoreError::Invalid { .. }
        ));
    }
);

storage_test!(
    erasing_an_owner_makes_its_blobs_unreadable,
    |db: Db| async move {
        let dir = tempfile::tempdir().unwrap();
        let keyring = SharedKeyring::in_memory(Keyring::generate(clock().now()));
        let blobs = local_blobs(&db, dir.path(), keyring);
        blobs.put("closed-record", "doc", b"secret").await.unwrap();
        blobs.put("kept", "doc", b"kept").await.unwrap();
        blobs.erase_owner("closed-record").await.unwrap();
        assert!(blobs.get("closed-record", "doc").await.is_err());
        assert_eq!(blobs.get("kept", "doc").await.unwrap(), b"kept");
    }
);

storage_test!(
    master_key_rotation_rewraps_without_downtime,
    |db: Db| async move {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("master.keys");
        let first = Keyring::generate(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        first.save(&key_file).unwrap();
        let old_id = first.primary_id().to_owned();
        // The "running server" and the "rotation command" are two handles on one file.
        let server = local_blobs(
            &db,
            &dir.path().join("blobs"),
            SharedKeyring::from_file(&key_file).unwrap(),
        );
        for i in 0..30 {
            server
                .put(
                    &format!("owner-{i}"),
                    "doc",
                    format!("content {i}").as_bytes(),
                )
                .await
                .unwrap();
        }
        let command_keys = SharedKeyring::from_file(&key_file).unwrap();
        let mut rotated = command_keys.current().unwrap();
        let new_id = rotated.rotate(Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap());
        command_keys.replace(rotated.clone()).unwrap();
        let command = local_blobs(&db, &dir.path().join("blobs"), command_keys.clone());
        let mut calls = 0;
        let n = command.rewrap_all(|_, _| calls += 1).await.unwrap();
        assert_eq!(n, 30);
        assert_eq!(calls, 30);
        assert_eq!(
            command.master_key_usage().await.unwrap(),
            vec![(new_id.clone(), 30)]
        );
        // The server keeps reading old blobs and writing new ones without a restart.
        let fresh_server = local_blobs(
            &db,
            &dir.path().join("blobs"),
            SharedKeyring::from_file(&key_file).unwrap(),
        );
        for i in 0..30 {
            assert_eq!(
                fresh_server
                    .get(&format!("owner-{i}"), "doc")
                    .await
                    .unwrap(),
                format!("content {i}").as_bytes()
            );
        }
        server
            .put("owner-new", "doc", b"after rotation")
            .await
            .unwrap();
        assert_eq!(
            command.master_key_usage().await.unwrap(),
            vec![(new_id.clone(), 31)]
        );
        // The old key can now be retired, and everything still reads.
        rotated.retire(&old_id).unwrap();
        command_keys.replace(rotated).unwrap();
        let after = local_blobs(
            &db,
            &dir.path().join("blobs"),
            SharedKeyring::from_file(&key_file).unwrap(),
        );
        assert_eq!(after.get("owner-7", "doc").await.unwrap(), b"content 7");
    }
);

#[test]
fn keyring_file_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.keys");
    Keyring::generate(clock().now()).save(&path).unwrap();
    assert!(Keyring::load(&path).is_ok());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Keyring::load(&path).unwrap_err().to_string();
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn keyring_debug_never_prints_key_material() {
    let keyring = Keyring::generate(clock().now());
    let printed = format!("{keyring:?}");
    assert!(printed.contains("Key(..)"));
}

#[tokio::test]
async fn unknown_database_schemes_are_refused_with_a_clear_message() {
    let err = Db::connect(&crate::StoreConfig {
        url: "mysql://localhost/x".into(),
        schema: None,
        max_connections: 1,
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("sqlite: or postgres://"), "{err}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Environment variable that turns [`crash_writer_child_process`] into the writer half
/// of the crash test: it holds the database URL (and `|schema` for PostgreSQL).
const CRASH_CHILD_ENV: &str = "SANTE_STORE_CRASH_CHILD";

/// The writer process of the crash test. Run normally it does nothing; the crash test
/// re-runs this test binary with only this test selected and [`CRASH_CHILD_ENV`] set, and
/// kills it with SIGKILL in the middle of its write load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_writer_child_process() {
    let Ok(target) = std::env::var(CRASH_CHILD_ENV) else {
        return;
    };
    let (url, schema) = match target.split_once('|') {
        Some((url, schema)) => (url.to_owned(), Some(schema.to_owned())),
        None => (target, None),
    };
    let db = Db::connect(&crate::StoreConfig {
        url: url.into(),
        schema,
        max_connections: 4,
    })
    .await
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for writer in 0..4 {
        let db = db.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            // Bounded: the parent kills us long before this ends.
            for i in 0..1_000_000u32 {
                let key = format!("w{writer}-{i}");
                let value = format!("value of {key}").repeat(8);
                db.put("crash", &key, value.as_bytes(), Expect::Absent, T0)
                    .await
                    .unwrap();
                if tx.send(key).is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    while let Some(key) = rx.recv().await {
        // One line per acknowledged write, flushed before the next is counted.
        writeln!(out, "ACK {key}").unwrap();
        out.flush().unwrap();
    }
}

async fn crash_test(backend: crate::Backend) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let t = crate::testing::fresh(backend).await.unwrap();
    let target = match &t.config.schema {
        Some(schema) => format!("{}|{schema}", t.config.url.expose_secret()),
        None => t.config.url.expose_secret().to_owned(),
    };
    #[expect(clippy::disallowed_methods)]
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tests::crash_writer_child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD_ENV, target)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = Vec::new();
    // Let the load run until it is well under way, then kill it mid-write.
    while acked.len() < 400 {
        match lines.next() {
            Some(line) => {
                if let Some(key) = line.unwrap().strip_prefix("ACK ") {
                    acked.push(key.to_owned());
                }
            }
            None => panic!("writer exited early after {} acks", acked.len()),
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    // Acks printed before the kill still count.
    for line in lines {
        let Ok(line) = line else { break };
        if let Some(key) = line.strip_prefix("ACK ") {
            acked.push(key.to_owned());
        }
    }
    child.wait().unwrap();
    t.db.close().await;

    let db = Db::connect(&t.config).await.unwrap();
    db.migrate().await.unwrap();
    for key in &acked {
        let record = db.get("crash", key).await.unwrap();
        let record = record.unwrap_or_else(|| panic!("acknowledged write {key} lost"));
        assert_eq!(record.value, format!("value of {key}").repeat(8).as_bytes());
    }
    assert!(db.count("crash").await.unwrap() >= acked.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_during_writes_loses_no_acknowledged_write_sqlite() {
    crash_test(crate::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_during_writes_loses_no_acknowledged_write_postgres() {
    if !crate::testing::postgres_expected().await {
        return;
    }
    crash_test(crate::Backend::Postgres).await;
}

/// A real S3-compatible server (moto, from PyPI) on loopback, killed on drop.
struct S3Server {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_s3_server(bucket: &str) -> S3Server {
    use std::io::{Read, Write};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let program = std::env::var("SANTE_TEST_S3_SERVER").unwrap_or_else(|_| "moto_server".into());
    #[expect(clippy::disallowed_methods)]
    let child = std::process::Command::new(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {program} (pip install 'moto[server]', or run `cargo xtask test`): {e}")
        });
    let server = S3Server {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    // Wait for the server to accept connections: bounded, about 30 s at most.
    let mut up = false;
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "S3 server did not start on port {port}");
    // Create the bucket (moto accepts an unsigned request).
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 200"),
        "bucket creation: {reply}"
    );
    server
}

storage_test!(blobs_on_s3_round_trip_encrypted, |db: Db| async move {
    let s3 = start_s3_server("sante-test").await;
    let backend = BlobBackend::S3 {
        bucket: "sante-test".into(),
        endpoint: Some(s3.endpoint.clone()),
        region: "eu-central-1".into(),
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
        allow_http: true,
    };
    let keyring = SharedKeyring::in_memory(Keyring::generate(clock().now()));
    let blobs = BlobStore::open(&backend, db.clone(), keyring, clock()).unwrap();
    blobs.ping().await.unwrap();
    let content = b"Lettre de liaison: allergie a la penicilline".repeat(50);
    blobs.put("patient:42", "letter", &content).await.unwrap();
    assert_eq!(blobs.get("patient:42", "letter").await.unwrap(), content);

    // What the S3 server holds is ciphertext: read it back raw through object_store.
    let raw = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("sante-test")
        .with_endpoint(&s3.endpoint)
        .with_region("eu-central-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_allow_http(true)
        .build()
        .unwrap();
    use object_store::ObjectStore;
    let listed: Vec<_> = futures::TryStreamExt::try_collect(raw.list(None))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let stored = raw
        .get(&listed[0].location)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(!contains(&stored, b"penicilline"));
    assert!(!listed[0].location.to_string().contains("patient"));

    // Tampering on the server is caught on read.
    let mut tampered = stored.to_vec();
    tampered[20] ^= 0xff;
    raw.put(&listed[0].location, tampered.into()).await.unwrap();
    assert!(matches!(
        blobs.get("patient:42", "letter").await.unwrap_err(),
        StoreError::Integrity(_)
    ));
    blobs.delete("patient:42", "letter").await.unwrap();
    assert!(matches!(
        blobs.get("patient:42", "letter").await.unwrap_err(),
        StoreError::NotFound(_)
    ));
});

fn index(collection: &str, key: &str, terms: &[(&str, &str)]) -> WriteOp {
    WriteOp::Index {
        collection: collection.into(),
        key: key.into(),
        terms: terms.iter().map(|(f, v)| Term::new(*f, *v)).collect(),
    }
}

fn put_any(collection: &str, key: &str, value: &[u8]) -> WriteOp {
    WriteOp::Put {
        collection: collection.into(),
        key: key.into(),
        value: value.to_vec(),
        expect: Expect::Any,
    }
}

storage_test!(
    search_finds_records_by_exact_and_prefix_terms,
    |db: Db| async move {
        db.write_batch(
            &[
                put_any("pro", "a", b"1"),
                index(
                    "pro",
                    "a",
                    &[
                        ("family", "muller"),
                        ("town", "luxembourg"),
                        ("prof", "nurse"),
                    ],
                ),
                put_any("pro", "b", b"2"),
                index(
                    "pro",
                    "b",
                    &[("family", "mueller"), ("town", "esch"), ("prof", "nurse")],
                ),
                put_any("pro", "c", b"3"),
                index(
                    "pro",
                    "c",
                    &[
                        ("family", "muller"),
                        ("family", "schmit"),
                        ("town", "esch"),
                        ("prof", "physician"),
                    ],
                ),
                put_any("other", "a", b"4"),
                index("other", "a", &[("family", "muller")]),
            ],
            T0,
        )
        .await
        .unwrap();
        let exact = db
            .search("pro", &[TermQuery::exact("family", "muller")], None, 10)
            .await
            .unwrap();
        assert_eq!(exact, ["a", "c"]);
        let prefix = db
            .search("pro", &[TermQuery::prefix("family", "mu")], None, 10)
            .await
            .unwrap();
        assert_eq!(
            prefix,
            ["a", "b", "c"],
            "a record with two matching terms is listed once"
        );
        let both = db
            .search(
                "pro",
                &[
                    TermQuery::prefix("family", "mu"),
                    TermQuery::exact("town", "esch"),
                ],
                None,
                10,
            )
            .await
            .unwrap();
        assert_eq!(both, ["b", "c"]);
        assert_eq!(
            db.search_count(
                "pro",
                &[
                    TermQuery::prefix("family", "mu"),
                    TermQuery::exact("town", "esch")
                ]
            )
            .await
            .unwrap(),
            2
        );
        let none = db
            .search(
                "pro",
                &[
                    TermQuery::exact("prof", "nurse"),
                    TermQuery::exact("family", "schmit"),
                ],
                None,
                10,
            )
            .await
            .unwrap();
        assert!(none.is_empty());
        // A prefix is a prefix of the term, not of its field: "mul" must not reach "muller" in "town".
        assert!(
            db.search("pro", &[TermQuery::prefix("town", "mul")], None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // Paging: after the last key of a page.
        let page1 = db
            .search("pro", &[TermQuery::prefix("family", "")], None, 2)
            .await
            .unwrap();
        let page2 = db
            .search("pro", &[TermQuery::prefix("family", "")], Some("b"), 2)
            .await
            .unwrap();
        assert_eq!(page1, ["a", "b"]);
        assert_eq!(page2, ["c"]);
        let records = db
            .get_many("pro", &["c".into(), "zz".into(), "a".into()])
            .await
            .unwrap();
        let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["c", "a"], "in the order asked, missing keys skipped");
    }
);

storage_test!(
    reindexing_replaces_terms_and_deleting_drops_them,
    |db: Db| async move {
        db.write_batch(
            &[put_any("p", "k", b"v"), index("p", "k", &[("name", "old")])],
            T0,
        )
        .await
        .unwrap();
        db.write_batch(&[index("p", "k", &[("name", "new"), ("name", "new")])], T0)
            .await
            .unwrap();
        assert!(
            db.search("p", &[TermQuery::exact("name", "old")], None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            db.search("p", &[TermQuery::exact("name", "new")], None, 10)
                .await
                .unwrap(),
            ["k"]
        );
        db.delete("p", "k", Expect::Any).await.unwrap();
        assert_eq!(
            db.search_count("p", &[TermQuery::prefix("name", "")])
                .await
                .unwrap(),
            0
        );
    }
);

storage_test!(
    terms_of_a_failed_batch_are_not_written,
    |db: Db| async move {
        db.put("p", "taken", b"v", Expect::Absent, T0)
            .await
            .unwrap();
        let err = db
            .write_batch(
                &[
                    put_any("p", "fresh", b"v"),
                    index("p", "fresh", &[("name", "fresh")]),
                    WriteOp::Put {
                        collection: "p".into(),
                        key: "taken".into(),
                        value: b"w".to_vec(),
                        expect: Expect::Absent,
                    },
                ],
                T0,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)));
        assert!(
            db.search("p", &[TermQuery::exact("name", "fresh")], None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(db.get("p", "fresh").await.unwrap().is_none());
    }
);

storage_test!(searches_refuse_bad_requests, |db: Db| async move {
    let err = db.search("p", &[], None, 10).await.unwrap_err();
    assert!(matches!(
        err,
        StoreError::Invalid {
            field: "search",
            ..
        }
    ));
    let many: Vec<Term> = (0..300).map(|i| Term::new("f", format!("{i}"))).collect();
    let err = db
        .write_batch(
            &[WriteOp::Index {
                collection: "p".into(),
                key: "k".into(),
                terms: many,
            }],
            T0,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { field: "terms", .. }));
});

storage_test!(
    concurrent_writers_all_get_through_the_retry,
    |db: Db| async move {
        use crate::retry::{Retry, on_conflict, settle};
        const WRITERS: u64 = 8;
        const EACH: u64 = 5;
        db.put("counter", "c", b"0", Expect::Absent, 1)
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..WRITERS {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..EACH {
                    let db = &db;
                    let done: crate::StoreResult<()> =
                        on_conflict(Retry::CONTENDED, "increment", || async move {
                            let current = db.get("counter", "c").await?.unwrap();
                            let n: u64 = String::from_utf8(current.value).unwrap().parse().unwrap();
                            let written = db
                                .put(
                                    "counter",
                                    "c",
                                    (n + 1).to_string().as_bytes(),
                                    Expect::Version(current.version),
                                    2,
                                )
                                .await;
                            settle(written, |_| ())
                        })
                        .await;
                    done.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let last = db.get("counter", "c").await.unwrap().unwrap();
        assert_eq!(
            String::from_utf8(last.value).unwrap(),
            (WRITERS * EACH).to_string(),
            "no increment lost, none failed"
        );
        // A writer that always loses gives up with a conflict naming its operation.
        let stale = last.version - 1;
        let db = &db;
        let gave_up: crate::StoreResult<()> =
            on_conflict(Retry::RARE, "stale write", || async move {
                settle(
                    db.put("counter", "c", b"x", Expect::Version(stale), 3)
                        .await,
                    |_| (),
                )
            })
            .await;
        assert!(matches!(gave_up, Err(StoreError::Conflict(what)) if what.contains("stale write")));
    }
);
