//! The audit trail on both backends: clean trails verify, every kind of tampering is
//! reported, retention purges whole epochs and the rest still verifies.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use sante_store::testing::execute_raw;
use sante_store::{Db, storage_test};
use sante_types::{Clock, ManualClock, Service};

use crate::*;

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 9, 0, 0).unwrap()
}

fn event(clock: &dyn Clock, service: Service, n: u32) -> AuditEvent {
    AuditEvent::new(
        EventKind::PortalPageViewed,
        clock.now(),
        Actor::platform(),
        service,
        Action::Read,
    )
    .resource(
        Token::new("http-route").unwrap(),
        Token::new(format!("page-{n}")).unwrap(),
    )
    .patient(Token::new("1985031212345").unwrap())
}

struct Trail {
    log: AuditLog,
    keys: VerifyingKeys,
    clock: ManualClock,
}

async fn trail(db: &Db, max_records: u64) -> Trail {
    let clock = ManualClock::new(start());
    let signer = CheckpointSigner::generate();
    let keys = VerifyingKeys::from_signer(&signer);
    let log = AuditLog::open(
        db.clone(),
        signer,
        Arc::new(clock.clone()),
        SealPolicy {
            max_records,
            max_age: Duration::days(1),
        },
    )
    .await
    .unwrap();
    Trail { log, keys, clock }
}

/// 4 sealed epochs of 5 records, plus 2 unsealed records.
async fn filled(db: &Db) -> Trail {
    let t = trail(db, 5).await;
    for n in 0..22 {
        t.log
            .record(event(&t.clock, Service::Portal, n))
            .await
            .unwrap();
        t.clock.advance(Duration::minutes(1));
    }
    t
}

async fn problems(db: &Db, t: &Trail) -> Vec<Problem> {
    verify(db, &t.keys).await.unwrap().problems
}

storage_test!(a_clean_trail_verifies, |db: Db| async move {
    let t = filled(&db).await;
    let report = verify(&db, &t.keys).await.unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.records, 20);
    assert_eq!(report.epochs, 4);
    assert_eq!(report.unsealed, 2);
    t.log.seal_now().await.unwrap();
    let report = verify(&db, &t.keys).await.unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!((report.records, report.epochs, report.unsealed), (22, 5, 0));
});

storage_test!(a_modified_record_is_reported, |db: Db| async move {
    let t = filled(&db).await;
    let forged = serde_json::to_vec(&event(&t.clock, Service::Portal, 999)).unwrap();
    execute_raw(
        &db,
        "UPDATE audit_records SET event = $1 WHERE stream = 'platform' AND seq = 7",
        &[&forged],
    )
    .await
    .unwrap();
    let found = problems(&db, &t).await;
    assert!(
        found.contains(&Problem::Modified {
            stream: "platform".into(),
            seq: 7
        }),
        "{found:?}"
    );
});

storage_test!(a_deleted_record_is_reported, |db: Db| async move {
    let t = filled(&db).await;
    execute_raw(
        &db,
        "DELETE FROM audit_records WHERE stream = 'platform' AND seq = 12",
        &[],
    )
    .await
    .unwrap();
    let found = problems(&db, &t).await;
    assert!(
        found.contains(&Problem::Deleted {
            stream: "platform".into(),
            from_seq: 12,
            to_seq: 12
        }),
        "{found:?}"
    );
    // Deleting in the unsealed tail is caught too.
    execute_raw(
        &db,
        "DELETE FROM audit_records WHERE stream = 'platform' AND seq = 21",
        &[],
    )
    .await
    .unwrap();
    let found = problems(&db, &t).await;
    assert!(
        found.contains(&Problem::Deleted {
            stream: "platform".into(),
            from_seq: 21,
            to_seq: 21
        }),
        "{found:?}"
    );
});

storage_test!(an_inserted_record_is_reported, |db: Db| async move {
    let t = filled(&db).await;
    // A forged record claiming to belong to the sealed epoch 1.
    let forged = serde_json::to_vec(&event(&t.clock, Service::Portal, 777)).unwrap();
    let fake_hash = [7u8; 32];
    execute_raw(
        &db,
        "INSERT INTO audit_records (stream, seq, epoch, recorded_at, event, prev_hash, hash) \
         VALUES ('platform', 500, 1, 0, $1, $2, $3)",
        &[&forged, &fake_hash, &fake_hash],
    )
    .await
    .unwrap();
    let found = problems(&db, &t).await;
    assert!(
        found.contains(&Problem::Inserted {
            stream: "platform".into(),
            seq: 500
        }),
        "{found:?}"
    );
});

storage_test!(reordered_records_are_reported, |db: Db| async move {
    let t = filled(&db).await;
    for sql in [
        "UPDATE audit_records SET seq = -1 WHERE stream = 'platform' AND seq = 8",
        "UPDATE audit_records SET seq = 8 WHERE stream = 'platform' AND seq = 9",
        "UPDATE audit_records SET seq = 9 WHERE stream = 'platform' AND seq = -1",
    ] {
        execute_raw(&db, sql, &[]).await.unwrap();
    }
    let found = problems(&db, &t).await;
    assert!(
        found.contains(&Problem::Reordered {
            stream: "platform".into(),
            seq: 8,
            chained_at: 9
        }),
        "{found:?}"
    );
});

storage_test!(a_deleted_epoch_is_reported, |db: Db| async move {
    let t = filled(&db).await;
    execute_raw(
        &db,
        "DELETE FROM audit_records WHERE stream = 'platform' AND epoch = 1",
        &[],
    )
    .await
    .unwrap();
    execute_raw(
        &db,
        "DELETE FROM audit_checkpoints WHERE stream = 'platform' AND epoch = 1",
        &[],
    )
    .await
    .unwrap();
    let found = problems(&db, &t).await;
    assert!(
        found.contains(&Problem::EpochMissing {
            stream: "platform".into(),
            epoch: 1
        }),
        "{found:?}"
    );
});

storage_test!(
    a_forged_checkpoint_signature_is_reported,
    |db: Db| async move {
        let t = filled(&db).await;
        execute_raw(
            &db,
            "UPDATE audit_checkpoints SET signature = $1 WHERE stream = 'platform' AND epoch = 2",
            &[&[0u8; 64]],
        )
        .await
        .unwrap();
        let found = problems(&db, &t).await;
        assert!(
            found.contains(&Problem::BadSignature {
                stream: "platform".into(),
                epoch: 2
            }),
            "{found:?}"
        );
        // A trail checked with another key is not trusted either.
        let stranger = VerifyingKeys::from_signer(&CheckpointSigner::generate());
        let report = verify(&db, &stranger).await.unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| matches!(p, Problem::UnknownKey { .. })),
            "{report}"
        );
    }
);

storage_test!(
    retention_purges_whole_expired_epochs_only,
    |db: Db| async move {
        let t = trail(&db, 1_000_000).await;
        // One epoch a month for 15 months, in both streams.
        for month in 0..15 {
            for n in 0..3 {
                t.log
                    .record(event(&t.clock, Service::Portal, month * 10 + n))
                    .await
                    .unwrap();
                t.log
                    .record(event(&t.clock, Service::Messaging, month * 10 + n))
                    .await
                    .unwrap();
            }
            t.log.seal_now().await.unwrap();
            t.clock.advance(Duration::days(30));
        }
        // Now: about 15 months after the start.
        let report = t.log.purge_expired(&Retention::default()).await.unwrap();
        let platform = report
            .purged
            .iter()
            .find(|p| p.0 == Stream::Platform)
            .unwrap();
        let messaging = report
            .purged
            .iter()
            .find(|p| p.0 == Stream::Messaging)
            .unwrap();
        // Messaging keeps 12 months, the platform 13: messaging loses one epoch more.
        assert_eq!(messaging.1, platform.1 + 1, "{report:?}");
        assert_eq!(platform.2, 3 * (platform.1 as u64 + 1));
        let after = verify(&db, &t.keys).await.unwrap();
        assert!(after.is_clean(), "{after}");
        assert!(after.purged_epochs > 0);
        // Every remaining platform record is younger than 13 months.
        let cutoff = (t.clock.now() - chrono::Months::new(13)).timestamp_micros();
        let rows = db.audit_records("platform", 0, 10_000).await.unwrap();
        let oldest_epoch = rows.iter().map(|r| r.epoch).min().unwrap();
        let cps = db.audit_checkpoints("platform").await.unwrap();
        assert!(
            cps.iter()
                .filter(|c| c.epoch >= oldest_epoch)
                .all(|c| c.last_recorded_at >= cutoff)
        );
        // A second purge changes nothing, and the trail keeps growing and verifying.
        let again = t.log.purge_expired(&Retention::default()).await.unwrap();
        assert!(again.purged.is_empty(), "{again:?}");
        t.log
            .record(event(&t.clock, Service::Portal, 1))
            .await
            .unwrap();
        t.log.seal_now().await.unwrap();
        assert!(verify(&db, &t.keys).await.unwrap().is_clean());
        // Deleting a remaining epoch behind the marker is still caught.
        execute_raw(
            &db,
            &format!(
                "DELETE FROM audit_checkpoints WHERE stream = 'platform' AND epoch = {}",
                oldest_epoch
            ),
            &[],
        )
        .await
        .unwrap();
        execute_raw(
            &db,
            &format!(
                "DELETE FROM audit_records WHERE stream = 'platform' AND epoch = {}",
                oldest_epoch
            ),
            &[],
        )
        .await
        .unwrap();
        let found = verify(&db, &t.keys).await.unwrap().problems;
        assert!(
            found.contains(&Problem::EpochMissing {
                stream: "platform".into(),
                epoch: oldest_epoch
            }),
            "{found:?}"
        );
    }
);

storage_test!(
    concurrent_records_are_all_durable_and_chained,
    |db: Db| async move {
        let t = trail(&db, 50).await;
        let mut tasks = Vec::new();
        for task in 0..16u32 {
            let log = t.log.clone();
            let clock = t.clock.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0..25 {
                    log.record(event(&clock, Service::Portal, task * 100 + n))
                        .await
                        .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let report = verify(&db, &t.keys).await.unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.records + report.unsealed, 400);
    }
);

storage_test!(
    a_second_writer_process_continues_the_same_chain,
    |db: Db| async move {
        let first = filled(&db).await;
        let signer = CheckpointSigner::generate();
        let mut keys = first.keys.clone();
        keys.add(signer.verifying_key());
        // A second log on the same database (the CLI beside a running server).
        let second = AuditLog::open(
            db.clone(),
            signer,
            Arc::new(first.clock.clone()),
            SealPolicy::default(),
        )
        .await
        .unwrap();
        for n in 0..5 {
            first
                .log
                .record(event(&first.clock, Service::Portal, n))
                .await
                .unwrap();
            second
                .record(event(&first.clock, Service::Portal, 100 + n))
                .await
                .unwrap();
        }
        second.seal_now().await.unwrap();
        first
            .log
            .record(event(&first.clock, Service::Portal, 42))
            .await
            .unwrap();
        first.log.seal_now().await.unwrap();
        let report = verify(&db, &keys).await.unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.records, 33);
    }
);

storage_test!(
    two_writers_appending_at_once_both_land_on_one_chain,
    |db: Db| async move {
        let first = filled(&db).await;
        let signer = CheckpointSigner::generate();
        let mut keys = first.keys.clone();
        keys.add(signer.verifying_key());
        let second = AuditLog::open(
            db.clone(),
            signer,
            Arc::new(first.clock.clone()),
            SealPolicy::default(),
        )
        .await
        .unwrap();
        let burst = |log: AuditLog, base: u32| {
            let clock = first.clock.clone();
            async move {
                for n in 0..60 {
                    log.record(event(&clock, Service::Portal, base + n))
                        .await
                        .unwrap();
                }
            }
        };
        tokio::join!(burst(first.log.clone(), 1000), burst(second.clone(), 2000));
        second.seal_now().await.unwrap();
        first.log.seal_now().await.unwrap();
        let report = verify(&db, &keys).await.unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.records, 22 + 120);
    }
);

storage_test!(
    a_lone_writer_is_not_starved_by_a_busy_one,
    |db: Db| async move {
        // The CLI beside a busy server: the server appends without pause while the
        // CLI records a few events one at a time; none of the CLI's may fail.
        let busy = filled(&db).await;
        let signer = CheckpointSigner::generate();
        let mut keys = busy.keys.clone();
        keys.add(signer.verifying_key());
        let lone = AuditLog::open(
            db.clone(),
            signer,
            Arc::new(busy.clock.clone()),
            SealPolicy::default(),
        )
        .await
        .unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut pressure = Vec::new();
        for task in 0..4u32 {
            let log = busy.log.clone();
            let clock = busy.clock.clone();
            let stop = stop.clone();
            pressure.push(tokio::spawn(async move {
                let mut n = 0u32;
                // Bounded: at most 2000 events per task.
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 2000 {
                    log.record(event(&clock, Service::Portal, 10_000 * (task + 1) + n))
                        .await
                        .unwrap();
                    n += 1;
                }
                n
            }));
        }
        for n in 0..20 {
            lone.record(event(&busy.clock, Service::Portal, 500 + n))
                .await
                .unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut written = 0;
        for p in pressure {
            written += p.await.unwrap();
        }
        lone.seal_now().await.unwrap();
        busy.log.seal_now().await.unwrap();
        let report = verify(&db, &keys).await.unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.records, 22 + 20 + u64::from(written));
    }
);

storage_test!(
    fhir_export_writes_one_audit_event_per_line,
    |db: Db| async move {
        let t = filled(&db).await;
        let mut out = Vec::new();
        let n = export_fhir_ndjson(&db, &mut out, None).await.unwrap();
        assert_eq!(n, 22);
        let text = String::from_utf8(out).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["resourceType"], "AuditEvent");
        assert_eq!(first["action"], "R");
        assert_eq!(first["outcome"], "0");
        assert_eq!(first["subtype"][0]["code"], "PortalPageViewed");
        let patient = first["entity"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["role"]["code"] == "1")
            .unwrap();
        assert_eq!(patient["what"]["identifier"]["value"], "1985031212345");
        let since = start() + Duration::minutes(20);
        let mut out = Vec::new();
        assert_eq!(
            export_fhir_ndjson(&db, &mut out, Some(since))
                .await
                .unwrap(),
            2
        );
        drop(t);
    }
);

#[test]
fn denied_events_map_to_balp_minor_failure() {
    let clock = ManualClock::new(start());
    let mut e = event(&clock, Service::Dsp, 1);
    e.outcome = Outcome::Denied(Token::new("no-care-relationship").unwrap());
    e.actor.quality = Some(sante_types::Quality::Professional);
    e.actor.client_system = Some(Token::new("his-chl").unwrap());
    let fhir = to_fhir_audit_event(&e);
    assert_eq!(fhir["outcome"], "4");
    assert_eq!(fhir["outcomeDesc"], "denied:no-care-relationship");
    assert_eq!(fhir["agent"].as_array().unwrap().len(), 2);
    let line = to_syslog(&e, "sante");
    assert!(line.starts_with("<84>1 2025-01-01T09:00:00"), "{line}");
}

#[test]
fn tokens_refuse_free_text() {
    assert!(Token::new("DocumentReference").is_ok());
    assert!(Token::new("patient has diabetes").is_err());
    assert!(Token::new("").is_err());
    assert!(Token::new("x".repeat(200)).is_err());
    assert!(serde_json::from_str::<Token>("\"a b\"").is_err());
}

#[test]
fn signer_round_trips_through_pem_and_never_prints_the_key() {
    let signer = CheckpointSigner::generate();
    let pem = signer.to_pem().unwrap();
    let back = CheckpointSigner::from_pem(&pem).unwrap();
    assert_eq!(back.key_id(), signer.key_id());
    assert!(!format!("{signer:?}").contains("PRIVATE"));
    assert!(CheckpointSigner::from_pem("not a key").is_err());
}

/// A TLS syslog collector on loopback: returns its port, its CA, and a receiver of
/// what each connection delivered.
async fn collector() -> (u16, String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::AsyncReadExt;
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let mut tls = acceptor.accept(tcp).await.unwrap();
            let mut received = Vec::new();
            tls.read_to_end(&mut received).await.unwrap();
            if tx.send(String::from_utf8(received).unwrap()).is_err() {
                break;
            }
        }
    });
    (port, ca.pem(), rx)
}

/// Splits RFC 5425 octet-counted frames.
fn frames(mut data: &str) -> Vec<String> {
    let mut out = Vec::new();
    while let Some((len, rest)) = data.split_once(' ') {
        let len: usize = len.parse().unwrap();
        out.push(rest[..len].to_owned());
        data = &rest[len..];
    }
    out
}

#[tokio::test]
async fn syslog_reaches_a_tls_collector_framed() {
    let (port, ca, mut received) = collector().await;
    let t = sante_store::testing::fresh(sante_store::Backend::Sqlite)
        .await
        .unwrap();
    let trail = filled(&t.db).await;
    let exporter = SyslogExporter::new("localhost", port, ca.as_bytes()).unwrap();
    let sent = exporter.export(&t.db, None).await.unwrap();
    assert_eq!(sent, 22);
    let messages = frames(&received.recv().await.unwrap());
    assert_eq!(messages.len(), 22);
    assert!(messages[0].starts_with("<85>1 "), "{}", messages[0]);
    assert!(messages[0].contains("\"resourceType\":\"AuditEvent\""));
    drop(trail);
}

storage_test!(
    the_forwarder_sends_each_event_once_and_resumes_after_a_restart,
    |db: Db| async move {
        let (port, ca, mut received) = collector().await;
        let t = filled(&db).await;
        let forwarder = SyslogExporter::new("localhost", port, ca.as_bytes()).unwrap();
        assert_eq!(forwarder.forward_new(&db, 0).await.unwrap(), 22);
        assert_eq!(frames(&received.recv().await.unwrap()).len(), 22);
        // Nothing new: no connection at all.
        assert_eq!(forwarder.forward_new(&db, 0).await.unwrap(), 0);
        for n in 0..3 {
            t.log
                .record(event(&t.clock, Service::Messaging, n))
                .await
                .unwrap();
        }
        // A new forwarder (after a restart) sends only what is new.
        let restarted = SyslogExporter::new("localhost", port, ca.as_bytes()).unwrap();
        assert_eq!(restarted.forward_new(&db, 0).await.unwrap(), 3);
        let last = frames(&received.recv().await.unwrap());
        assert_eq!(last.len(), 3);
        assert!(last.iter().all(|m| m.contains(" messaging ")), "{last:?}");
    }
);

storage_test!(
    an_unreachable_collector_loses_nothing,
    |db: Db| async move {
        let t = filled(&db).await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (_, ca, _) = collector().await;
        let forwarder = SyslogExporter::new("localhost", port, ca.as_bytes()).unwrap();
        assert!(forwarder.forward_new(&db, 0).await.is_err());
        // When the collector is back, everything is still to be sent.
        let (port, ca, mut received) = collector().await;
        let forwarder = SyslogExporter::new("localhost", port, ca.as_bytes()).unwrap();
        assert_eq!(forwarder.forward_new(&db, 0).await.unwrap(), 22);
        assert_eq!(frames(&received.recv().await.unwrap()).len(), 22);
        drop(t);
    }
);

storage_test!(
    sealing_from_another_process_never_strands_a_record,
    |db: Db| async move {
        let server = filled(&db).await;
        let signer = CheckpointSigner::generate();
        let mut keys = server.keys.clone();
        keys.add(signer.verifying_key());
        let cli = AuditLog::open(
            db.clone(),
            signer,
            Arc::new(server.clock.clone()),
            SealPolicy::default(),
        )
        .await
        .unwrap();
        // `sante audit seal` seals the server's open epoch behind its back...
        assert_eq!(cli.seal_now().await.unwrap().len(), 1);
        cli.close().await;
        // ...and the server's next record must go to a new epoch, not the sealed one.
        server
            .log
            .record(event(&server.clock, Service::Portal, 5))
            .await
            .unwrap();
        server.log.seal_now().await.unwrap();
        let report = verify(&db, &keys).await.unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.records, 23);
    }
);

storage_test!(
    a_persons_events_are_found_newest_first,
    |db: Db| async move {
        let t = trail(&db, 100).await;
        let by = |person: &str| Actor {
            person: Token::new(person).ok(),
            ..Actor::default()
        };
        let kinds = [
            (by("acc-1"), Service::Portal, None),
            (by("acc-2"), Service::Dsp, Some("patient-1")),
            (by("acc-2"), Service::Dsp, None),
            (by("acc-1"), Service::Messaging, None),
            (
                Actor {
                    on_behalf_of: Token::new("acc-1").ok(),
                    ..by("acc-3")
                },
                Service::Dsp,
                None,
            ),
        ];
        for (actor, service, patient) in kinds {
            let mut e = AuditEvent::new(
                EventKind::PortalPageViewed,
                t.clock.now(),
                actor,
                service,
                Action::Read,
            );
            if let Some(p) = patient {
                e = e.patient(Token::new(p).unwrap());
            }
            t.log.record(e).await.unwrap();
            t.clock.advance(Duration::minutes(1));
        }
        let reader = crate::Trail::new(db.clone());
        let mine = ["acc-1".to_owned(), "patient-1".to_owned()];
        let all = reader.about(&mine, 10).await.unwrap();
        assert_eq!(all.matched, 4);
        assert!(all.events.windows(2).all(|w| w[0].at >= w[1].at));
        // Another's own events are not his.
        assert!(all.events.iter().all(|e| {
            e.patient.is_some()
                || e.actor
                    .person
                    .as_ref()
                    .is_some_and(|p| p.as_str() == "acc-1")
                || e.actor.on_behalf_of.is_some()
        }));
        let newest = reader.about(&mine, 2).await.unwrap();
        assert_eq!(newest.matched, 4);
        assert_eq!(newest.events.len(), 2);
        assert_eq!(newest.events[..], all.events[..2]);
    }
);
