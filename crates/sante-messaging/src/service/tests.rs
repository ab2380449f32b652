//! The messaging service on both storage backends, with the real directory, a real
//! audit trail, the encrypted blob store, a real clamd (with test signatures) and a
//! clock moved by hand: entitlement, addresses, relay rules, the quota sequence,
//! anti-virus, folders and flags, the outbound queue, closure and the metadata log.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use sante_audit::testing::TestPlatform;
use sante_directory::Request;
use sante_directory::model::*;
use sante_store::storage_test;
use sante_types::ManualClock;

use super::*;
use crate::antivirus::dev::{DevClamd, EICAR, TEST_SIGNATURE};
use crate::model::{DELETED, MailboxState, MessageEntry, SEEN};
use crate::relay::{Network, Partner};

const DOMAIN: &str = "mss.sante.example";
const PARTNER: &str = "hopital-nord.example";

struct Fixture {
    messaging: Messaging,
    clock: Arc<ManualClock>,
    db: Db,
    _clamd: DevClamd,
    _platform: TestPlatform,
    _clam_dir: tempfile::TempDir,
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn professional(id: &str, given: &str, family: &str) -> Professional {
    Professional {
        id: id.into(),
        national_id: None,
        family_name: family.into(),
        given_names: vec![given.into()],
        sex: Sex::Female,
        profession: Profession::Physician,
        specialities: vec![],
        authorisation: Authorisation {
            status: AuthorisationStatus::Active,
            granted_on: day(2010, 1, 1),
            status_since: day(2010, 1, 1),
            suspended_until: None,
        },
        locations: vec![],
        affiliations: vec![],
        contact: Contact::default(),
    }
}

async fn fixture_with(db: Db, quota: u64) -> Fixture {
    // Tuesday 1 December 2026.
    let platform = TestPlatform::new(
        db.clone(),
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
    )
    .await;
    let clock = platform.clock.clone();
    let directory = Directory::new(db.clone(), platform.recorder(), clock.clone());
    directory
        .upsert(
            &Request::operator(),
            &[
                professional("phy-1", "Anne", "Weber"),
                professional("phy-2", "Anne", "Weber"),
                professional("phy-3", "Élodie", "Dupré"),
            ],
        )
        .await
        .unwrap();
    let clam_dir = tempfile::tempdir().unwrap();
    let clamd = DevClamd::start(clam_dir.path(), StdDuration::from_secs(60)).unwrap();
    let mut config = MessagingConfig::new(DOMAIN, "mx.sante.example");
    config.quota_bytes = quota;
    let mut partner = Partner::new(PARTNER).unwrap();
    partner.relay = Some("127.0.0.1:1".into());
    partner.networks = vec![Network::parse("192.0.2.0/24").unwrap()];
    config.partners = vec![partner];
    let messaging = Messaging::new(
        db.clone(),
        platform.blobs.clone(),
        directory,
        platform.recorder(),
        clock.clone(),
        Clamd::new(clamd.address(), StdDuration::from_secs(30)),
        config,
    );
    Fixture {
        messaging,
        clock,
        db,
        _clamd: clamd,
        _platform: platform,
        _clam_dir: clam_dir,
    }
}

async fn fixture(db: Db) -> Fixture {
    fixture_with(db, DEFAULT_QUOTA_BYTES).await
}

fn pro(entry: &str) -> MailUser {
    MailUser {
        account: format!("acc-{entry}"),
        quality: Quality::Professional,
        assurance: LevelOfAssurance::High,
        credential: CredentialKind::ApplicationPassword,
        subject: entry.into(),
    }
}

fn loopback() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

fn partner_ip() -> IpAddr {
    "192.0.2.10".parse().unwrap()
}

fn message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: Tue, 1 Dec 2026 09:00:00 +0000\r\n\
         Message-ID: <{}@test>\r\n\r\n{body}\r\n",
        uuid::Uuid::now_v7().simple()
    )
    .into_bytes()
}

/// Submits like an SMTP session would: MAIL, RCPT for each, then DATA.
async fn submit(
    f: &Fixture,
    user: &MailUser,
    to: &[&str],
    raw: &[u8],
) -> Result<Accepted, MessagingError> {
    let mailbox = f.messaging.open_mailbox(user, &Source::default()).await?;
    let origin = Origin::Submission {
        user: user.clone(),
        mailbox: mailbox.clone(),
    };
    f.messaging
        .check_sender(&origin, Some(&mailbox.address), loopback())
        .await?;
    let mut recipients = Vec::new();
    for r in to {
        let route = f
            .messaging
            .check_recipient(&origin, r, Some(raw.len() as u64))
            .await?;
        recipients.push(((*r).to_owned(), route));
    }
    let envelope = Envelope {
        origin,
        from: Some(mailbox.address.clone()),
        recipients,
        helo: "client.example".into(),
        peer: loopback(),
        session: "s1".into(),
    };
    f.messaging.accept(&envelope, raw, &Source::default()).await
}

async fn inbox(f: &Fixture, mailbox: &str) -> Vec<MessageEntry> {
    let number = f.messaging.folder(mailbox, "INBOX").await.unwrap().0.number;
    f.messaging.messages(mailbox, number).await.unwrap().1
}

async fn messaging_audit(db: &Db) -> Vec<serde_json::Value> {
    db.audit_records("messaging", 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| serde_json::from_slice(&r.event).unwrap())
        .collect()
}

fn kinds(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

storage_test!(
    only_professionals_at_high_assurance_get_a_mailbox_with_an_address_of_their_name,
    |db: Db| async move {
        let f = fixture(db).await;
        let s = Source::default();
        let patient = MailUser {
            quality: Quality::Patient,
            assurance: LevelOfAssurance::Substantial,
            ..pro("pat-1")
        };
        assert!(matches!(
            f.messaging.open_mailbox(&patient, &s).await,
            Err(MessagingError::NotEntitled("not_a_professional"))
        ));
        let low = MailUser {
            assurance: LevelOfAssurance::Substantial,
            ..pro("phy-1")
        };
        assert!(matches!(
            f.messaging.open_mailbox(&low, &s).await,
            Err(MessagingError::NotEntitled("assurance_too_low"))
        ));
        assert!(
            f.messaging
                .existing_mailbox(&pro("phy-1"))
                .await
                .unwrap()
                .is_none()
        );

        let first = f.messaging.open_mailbox(&pro("phy-1"), &s).await.unwrap();
        assert_eq!(first.address, format!("anne.weber@{DOMAIN}"));
        let again = f.messaging.open_mailbox(&pro("phy-1"), &s).await.unwrap();
        assert_eq!(again.id, first.id);
        // A homonym gets the next free address.
        let homonym = f.messaging.open_mailbox(&pro("phy-2"), &s).await.unwrap();
        assert_eq!(homonym.address, format!("anne.weber2@{DOMAIN}"));
        let accented = f.messaging.open_mailbox(&pro("phy-3"), &s).await.unwrap();
        assert_eq!(accented.address, format!("elodie.dupre@{DOMAIN}"));
        let names: Vec<String> = f
            .messaging
            .folders(&first.id)
            .await
            .unwrap()
            .into_iter()
            .map(|x| x.name)
            .collect();
        assert_eq!(names, ["INBOX", "Drafts", "Sent", "Trash"]);

        let events = messaging_audit(&f.db).await;
        let k = kinds(&events);
        assert_eq!(
            k.iter().filter(|k| *k == "MessagingAccessDenied").count(),
            2
        );
        assert_eq!(
            k.iter().filter(|k| *k == "MessagingMailboxCreated").count(),
            3
        );
    }
);

storage_test!(
    concurrent_first_accesses_make_one_mailbox,
    |db: Db| async move {
        let f = fixture(db).await;
        let m = f.messaging.clone();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move { m.open_mailbox(&pro("phy-1"), &Source::default()).await })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap().unwrap().id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{ids:?}");
    }
);

storage_test!(relay_rules_refuse_what_is_not_ours, |db: Db| async move {
    let f = fixture(db).await;
    let s = Source::default();
    let anne = f.messaging.open_mailbox(&pro("phy-1"), &s).await.unwrap();
    let sub = Origin::Submission {
        user: pro("phy-1"),
        mailbox: anne.clone(),
    };
    // The envelope sender must be the user's own address.
    assert_eq!(
        f.messaging
            .check_sender(&sub, Some(&format!("elodie.dupre@{DOMAIN}")), loopback())
            .await,
        Err(Refusal::SenderMismatch)
    );
    assert_eq!(
        f.messaging.check_sender(&sub, None, loopback()).await,
        Err(Refusal::SenderMismatch)
    );
    assert_eq!(
        f.messaging
            .check_sender(&sub, Some(&anne.address.to_uppercase()), loopback())
            .await,
        Ok(())
    );
    // Never a relay to the outside world.
    assert_eq!(
        f.messaging
            .check_recipient(&sub, "someone@gmail.example", None)
            .await,
        Err(Refusal::RelayDenied)
    );
    assert_eq!(
        f.messaging
            .check_recipient(&sub, &format!("nobody@{DOMAIN}"), None)
            .await,
        Err(Refusal::UnknownRecipient)
    );
    assert_eq!(
        f.messaging
            .check_recipient(&sub, &format!("dr@{PARTNER}"), None)
            .await,
        Ok(Route::Partner {
            domain: PARTNER.into()
        })
    );
    // Inbound: from partners' servers only, for our domain only.
    let inbound = Origin::Inbound;
    assert_eq!(
        f.messaging
            .check_sender(&inbound, Some("spam@elsewhere.example"), partner_ip())
            .await,
        Err(Refusal::SenderNotPartner)
    );
    assert_eq!(
        f.messaging
            .check_sender(&inbound, Some(&format!("dr@{PARTNER}")), loopback())
            .await,
        Err(Refusal::SenderNotPartner),
        "a partner's domain from outside its networks"
    );
    assert_eq!(
        f.messaging
            .check_sender(&inbound, Some(&anne.address), partner_ip())
            .await,
        Err(Refusal::SenderNotPartner),
        "our own domain from outside"
    );
    assert_eq!(
        f.messaging
            .check_sender(&inbound, Some(&format!("dr@{PARTNER}")), partner_ip())
            .await,
        Ok(())
    );
    assert_eq!(
        f.messaging.check_sender(&inbound, None, partner_ip()).await,
        Ok(())
    );
    assert_eq!(
        f.messaging
            .check_recipient(&inbound, &format!("other@{PARTNER}"), None)
            .await,
        Err(Refusal::RelayDenied),
        "inbound mail is never relayed, even to a partner"
    );
    assert_eq!(
        f.messaging
            .check_recipient(&inbound, "x@gmail.example", None)
            .await,
        Err(Refusal::RelayDenied)
    );
    assert!(matches!(
        f.messaging
            .check_recipient(&inbound, &anne.address, None)
            .await,
        Ok(Route::Local { .. })
    ));
});

storage_test!(
    accepted_mail_is_stored_for_each_recipient_with_its_trace_fields,
    |db: Db| async move {
        let f = fixture(db).await;
        let s = Source::default();
        let anne = f.messaging.open_mailbox(&pro("phy-1"), &s).await.unwrap();
        let elodie = f.messaging.open_mailbox(&pro("phy-3"), &s).await.unwrap();
        let raw = message(&anne.address, &elodie.address, "Hello", "Body text");
        let accepted = submit(
            &f,
            &pro("phy-1"),
            &[
                &elodie.address,
                &elodie.address.to_uppercase(),
                &format!("dr@{PARTNER}"),
            ],
            &raw,
        )
        .await
        .unwrap();
        assert_eq!(accepted.delivered.len(), 2);
        assert_eq!(accepted.queued, vec![format!("dr@{PARTNER}")]);
        // One copy per mailbox, however many of its addresses are recipients.
        let entries = inbox(&f, &elodie.id).await;
        assert_eq!(entries.len(), 1);
        let stored = f.messaging.body(&elodie.id, &entries[0]).await.unwrap();
        let text = String::from_utf8(stored).unwrap();
        assert!(text.starts_with(&format!(
            "Return-Path: <{}>\r\nReceived: from client.example ([127.0.0.1])",
            anne.address
        )));
        assert!(text.ends_with(std::str::from_utf8(&raw).unwrap()));
        assert_eq!(entries[0].size as usize, text.len());
        let (used, _) = f.messaging.quota(&elodie.id).await.unwrap();
        assert_eq!(used, entries[0].size);
        assert!(inbox(&f, &anne.id).await.is_empty());
        // Queued for the partner, durably.
        let due = f.messaging.due_deliveries(10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].recipients, vec![format!("dr@{PARTNER}")]);
        let queued = f.messaging.queued_body(&due[0]).await.unwrap();
        assert!(queued.starts_with(b"Received: "));
        let k = kinds(&messaging_audit(&f.db).await);
        assert!(k.contains(&"MessagingMessageAccepted".to_owned()));
    }
);

storage_test!(infected_mail_is_refused_and_logged, |db: Db| async move {
    let f = fixture(db).await;
    let s = Source::default();
    let anne = f.messaging.open_mailbox(&pro("phy-1"), &s).await.unwrap();
    let elodie = f.messaging.open_mailbox(&pro("phy-3"), &s).await.unwrap();
    let raw = message(&anne.address, &elodie.address, "Results", TEST_SIGNATURE);
    let refused = submit(&f, &pro("phy-1"), &[&elodie.address], &raw).await;
    assert!(
        matches!(&refused, Err(MessagingError::Refused(Refusal::Infected(name))) if name.contains("Sante.Test")),
        "{refused:?}"
    );
    // As an attachment, base64-encoded, too: clamd decodes MIME.
    let attachment = format!(
        "From: <{a}>\r\nTo: <{e}>\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n\
         --b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=eicar.com\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, EICAR),
        a = anne.address,
        e = elodie.address
    );
    let refused = submit(&f, &pro("phy-1"), &[&elodie.address], attachment.as_bytes()).await;
    assert!(
        matches!(&refused, Err(MessagingError::Refused(Refusal::Infected(_)))),
        "{refused:?}"
    );
    assert!(inbox(&f, &elodie.id).await.is_empty());
    // Also through APPEND.
    let appended = f
        .messaging
        .append(&pro("phy-1"), &anne.id, "Drafts", &[], None, &raw, &s)
        .await;
    assert!(matches!(
        appended,
        Err(MessagingError::Refused(Refusal::Infected(_)))
    ));
    let log = f
        .messaging
        .metadata_between(
            f.clock.now() - Duration::hours(1),
            f.clock.now() + Duration::hours(1),
            100,
        )
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|e| e.outcome == "virus_found"));
});

storage_test!(
    the_quota_notifies_once_at_90_percent_and_refuses_beyond_100,
    |db: Db| async move {
        // A small quota so that a few messages fill it.
        let quota = 30_000u64;
        let f = fixture_with(db, quota).await;
        let s = Source::default();
        let anne = f.messaging.open_mailbox(&pro("phy-1"), &s).await.unwrap();
        let elodie = f.messaging.open_mailbox(&pro("phy-3"), &s).await.unwrap();
        let body = "x".repeat(4_000);
        let used = |f: &Fixture| {
            let id = elodie.id.clone();
            let m = f.messaging.clone();
            async move { m.quota(&id).await.unwrap().0 }
        };
        // Below 90 %: no notice.
        let mut sent = 0;
        while used(&f).await + 4_500 < quota * 9 / 10 {
            let raw = message(&anne.address, &elodie.address, &format!("m{sent}"), &body);
            submit(&f, &pro("phy-1"), &[&elodie.address], &raw)
                .await
                .unwrap();
            sent += 1;
        }
        assert!(sent >= 4);
        assert_eq!(inbox(&f, &elodie.id).await.len(), sent);
        // The one that crosses 90 %: one notice.
        // Just past the mark, leaving room for the notice and one more small message.
        let to_mark = (quota * 9 / 10 - used(&f).await) as usize;
        let crossing = message(
            &anne.address,
            &elodie.address,
            "crossing",
            &"c".repeat(to_mark),
        );
        submit(&f, &pro("phy-1"), &[&elodie.address], &crossing)
            .await
            .unwrap();
        let entries = inbox(&f, &elodie.id).await;
        assert_eq!(entries.len(), sent + 2, "the messages and the notice");
        let notice = f
            .messaging
            .body(&elodie.id, entries.last().unwrap())
            .await
            .unwrap();
        let notice = String::from_utf8(notice).unwrap();
        assert!(notice.contains(&format!("From: postmaster@{DOMAIN}")));
        assert!(notice.contains("Auto-Submitted: auto-generated"));
        assert!(
            f.messaging
                .mailbox(&elodie.id)
                .await
                .unwrap()
                .quota_notice_sent
        );
        // What does not fit is refused at RCPT (announced size) and after DATA.
        let room = quota - used(&f).await;
        let big = message(
            &anne.address,
            &elodie.address,
            "big",
            &"z".repeat(room as usize + 10),
        );
        let origin = Origin::Submission {
            user: pro("phy-1"),
            mailbox: anne.clone(),
        };
        assert_eq!(
            f.messaging
                .check_recipient(&origin, &elodie.address, Some(big.len() as u64))
                .await,
            Err(Refusal::RecipientFull)
        );
        let envelope = Envelope {
            origin: origin.clone(),
            from: Some(anne.address.clone()),
            recipients: vec![(
                elodie.address.clone(),
                Route::Local {
                    mailbox: elodie.id.clone(),
                },
            )],
            helo: "c".into(),
            peer: loopback(),
            session: "s".into(),
        };
        assert!(matches!(
            f.messaging.accept(&envelope, &big, &s).await,
            Err(MessagingError::Refused(Refusal::RecipientFull))
        ));
        // No second notice while usage stays above 90 %.
        let small = message(&anne.address, &elodie.address, "m7", "tiny");
        submit(&f, &pro("phy-1"), &[&elodie.address], &small)
            .await
            .unwrap();
        assert_eq!(inbox(&f, &elodie.id).await.len(), sent + 3);
        // Fill it completely: she can no longer send either.
        let elodie_user = pro("phy-3");
        while used(&f).await < quota {
            let room = quota - used(&f).await;
            f.messaging
                .append(
                    &elodie_user,
                    &elodie.id,
                    "Drafts",
                    &[],
                    None,
                    format!(
                        "Subject: fill\r\n\r\n{}",
                        "f".repeat((room as usize).saturating_sub(17).max(1))
                    )
                    .as_bytes(),
                    &s,
                )
                .await
                .unwrap();
        }
        let her_origin = Origin::Submission {
            user: elodie_user.clone(),
            mailbox: elodie.clone(),
        };
        assert_eq!(
            f.messaging
                .check_sender(&her_origin, Some(&elodie.address), loopback())
                .await,
            Err(Refusal::SenderFull)
        );
        assert!(matches!(
            f.messaging
                .append(
                    &elodie_user,
                    &elodie.id,
                    "Drafts",
                    &[],
                    None,
                    b"Subject: x\r\n\r\nmore",
                    &s
                )
                .await,
            Err(MessagingError::Refused(Refusal::RecipientFull))
        ));
        // She deletes most of it: below 90 %, and the next crossing notifies again.
        let inbox_number = f
            .messaging
            .folder(&elodie.id, "INBOX")
            .await
            .unwrap()
            .0
            .number;
        let drafts = f
            .messaging
            .folder(&elodie.id, "Drafts")
            .await
            .unwrap()
            .0
            .number;
        for folder in [inbox_number, drafts] {
            let uids: Vec<u32> = f
                .messaging
                .messages(&elodie.id, folder)
                .await
                .unwrap()
                .1
                .iter()
                .map(|e| e.uid)
                .collect();
            f.messaging
                .set_flags(
                    &elodie.id,
                    folder,
                    &uids,
                    FlagChange::Add,
                    &[DELETED.into()],
                    None,
                )
                .await
                .unwrap();
            f.messaging
                .expunge(&elodie_user, &elodie.id, folder, None, &s)
                .await
                .unwrap();
        }
        let mbx = f.messaging.mailbox(&elodie.id).await.unwrap();
        assert_eq!(mbx.used_bytes, 0);
        assert!(!mbx.quota_notice_sent);
        let mut sent = 0;
        while used(&f).await + 4_500 < quota * 9 / 10 {
            let raw = message(
                &anne.address,
                &elodie.address,
                &format!("again{sent}"),
                &body,
            );
            submit(&f, &pro("phy-1"), &[&elodie.address], &raw)
                .await
                .unwrap();
            sent += 1;
        }
        let to_mark = (quota * 9 / 10 - used(&f).await) as usize;
        let crossing = message(
            &anne.address,
            &elodie.address,
            "crossing",
            &"c".repeat(to_mark),
        );
        submit(&f, &pro("phy-1"), &[&elodie.address], &crossing)
            .await
            .unwrap();
        assert_eq!(
            inbox(&f, &elodie.id).await.len(),
            sent + 2,
            "the messages and a second notice"
        );
        let k = kinds(&messaging_audit(&f.db).await);
        assert_eq!(
            k.iter().filter(|k| *k == "MessagingQuotaNotified").count(),
            2
        );
        assert!(k.contains(&"MessagingMessageRefused".to_owned()));
    }
);

storage_test!(
    folders_flags_copy_move_and_expunge_keep_uids_and_modseqs,
    |db: Db| async move {
        let f = fixture(db).await;
        let s = Source::default();
        let user = pro("phy-1");
        let anne = f.messaging.open_mailbox(&user, &s).await.unwrap();
        let id = &anne.id;
        let folder = f.messaging.create_folder(id, "Projets/2026").await.unwrap();
        assert!(
            f.messaging.folder(id, "Projets").await.is_ok(),
            "parents are created"
        );
        assert!(matches!(
            f.messaging.create_folder(id, "Projets/2026").await,
            Err(MessagingError::Exists(_))
        ));
        let (validity, uid1) = f
            .messaging
            .append(
                &user,
                id,
                "Projets/2026",
                &[SEEN.into()],
                None,
                b"Subject: one\r\n\r\n1",
                &s,
            )
            .await
            .unwrap();
        assert_eq!(validity, folder.uidvalidity);
        let (_, uid2) = f
            .messaging
            .append(
                &user,
                id,
                "Projets/2026",
                &[],
                None,
                b"Subject: two\r\n\r\n2",
                &s,
            )
            .await
            .unwrap();
        assert_eq!((uid1, uid2), (1, 2));
        let before = f
            .messaging
            .folder(id, "Projets/2026")
            .await
            .unwrap()
            .0
            .highest_modseq;
        let update = f
            .messaging
            .set_flags(
                id,
                folder.number,
                &[uid2],
                FlagChange::Add,
                &["\\flagged".into(), "$Urgent".into()],
                None,
            )
            .await
            .unwrap();
        assert_eq!(update.entries[0].flags, vec!["$Urgent", "\\Flagged"]);
        assert!(update.entries[0].modseq > before);
        // CONDSTORE: a change based on an older modseq is refused for that message.
        let stale = f
            .messaging
            .set_flags(
                id,
                folder.number,
                &[uid2],
                FlagChange::Remove,
                &["$Urgent".into()],
                Some(before),
            )
            .await
            .unwrap();
        assert_eq!(stale.modified, vec![uid2]);
        // Copy: new UIDs in the target, a second copy counted.
        let used = f.messaging.quota(id).await.unwrap().0;
        let (inbox_validity, pairs) = f
            .messaging
            .copy(id, folder.number, &[uid1, uid2], "INBOX")
            .await
            .unwrap();
        assert_eq!(pairs, vec![(1, 1), (2, 2)]);
        assert_eq!(
            inbox_validity,
            f.messaging.folder(id, "INBOX").await.unwrap().0.uidvalidity
        );
        assert_eq!(f.messaging.quota(id).await.unwrap().0, used * 2);
        // Move: gone from the source, quota unchanged.
        let (_, moved) = f
            .messaging
            .move_messages(id, folder.number, &[uid1], "Trash")
            .await
            .unwrap();
        assert_eq!(moved, vec![(1, 1)]);
        assert_eq!(f.messaging.quota(id).await.unwrap().0, used * 2);
        let left = f.messaging.messages(id, folder.number).await.unwrap().1;
        assert_eq!(left.iter().map(|e| e.uid).collect::<Vec<_>>(), vec![2]);
        let trash = f.messaging.folder(id, "Trash").await.unwrap().0;
        let in_trash = f.messaging.messages(id, trash.number).await.unwrap().1;
        assert_eq!(
            f.messaging.body(id, &in_trash[0]).await.unwrap(),
            b"Subject: one\r\n\r\n1"
        );
        // Expunge removes only \Deleted messages, and their UIDs are never reused.
        f.messaging
            .set_flags(
                id,
                folder.number,
                &[2],
                FlagChange::Add,
                &[DELETED.into()],
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            f.messaging
                .expunge(&user, id, folder.number, None, &s)
                .await
                .unwrap(),
            vec![2]
        );
        let (_, uid3) = f
            .messaging
            .append(
                &user,
                id,
                "Projets/2026",
                &[],
                None,
                b"Subject: 3\r\n\r\n3",
                &s,
            )
            .await
            .unwrap();
        assert_eq!(uid3, 3);
        // Rename keeps the UIDVALIDITY and the messages, children follow.
        f.messaging
            .rename_folder(id, "Projets", "Archives")
            .await
            .unwrap();
        let renamed = f.messaging.folder(id, "Archives/2026").await.unwrap().0;
        assert_eq!(renamed.uidvalidity, folder.uidvalidity);
        assert_eq!(
            f.messaging
                .messages(id, renamed.number)
                .await
                .unwrap()
                .1
                .len(),
            1
        );
        // Delete frees the quota; a new folder of the same name gets a new UIDVALIDITY.
        let before_delete = f.messaging.quota(id).await.unwrap().0;
        f.messaging
            .delete_folder(id, "Archives/2026")
            .await
            .unwrap();
        assert!(f.messaging.quota(id).await.unwrap().0 < before_delete);
        let again = f
            .messaging
            .create_folder(id, "Archives/2026")
            .await
            .unwrap();
        assert!(again.uidvalidity > renamed.uidvalidity);
        assert!(matches!(
            f.messaging.delete_folder(id, "inbox").await,
            Err(MessagingError::Invalid(_))
        ));
    }
);

storage_test!(
    partner_deliveries_are_retried_then_reported_to_the_sender,
    |db: Db| async move {
        let f = fixture(db).await;
        let s = Source::default();
        let anne = f.messaging.open_mailbox(&pro("phy-1"), &s).await.unwrap();
        let raw = message(&anne.address, &format!("dr@{PARTNER}"), "Referral", "text");
        submit(&f, &pro("phy-1"), &[&format!("dr@{PARTNER}")], &raw)
            .await
            .unwrap();
        let q = f.messaging.due_deliveries(10).await.unwrap().remove(0);
        f.messaging
            .delivery_done(&q, DeliveryOutcome::Temporary("connection refused".into()))
            .await
            .unwrap();
        assert!(
            f.messaging.due_deliveries(10).await.unwrap().is_empty(),
            "rescheduled"
        );
        f.clock.advance(Duration::minutes(2));
        let q = f.messaging.due_deliveries(10).await.unwrap().remove(0);
        assert_eq!(q.attempts, 1);
        f.messaging
            .delivery_done(
                &q,
                DeliveryOutcome::Permanent {
                    status: "5.1.1".into(),
                    diagnostic: "550 5.1.1 no such user".into(),
                },
            )
            .await
            .unwrap();
        assert!(f.messaging.queue().await.unwrap().is_empty());
        let entries = inbox(&f, &anne.id).await;
        assert_eq!(entries.len(), 1);
        let dsn =
            String::from_utf8(f.messaging.body(&anne.id, &entries[0]).await.unwrap()).unwrap();
        assert!(dsn.contains("report-type=delivery-status"));
        assert!(dsn.contains(&format!("Final-Recipient: rfc822; dr@{PARTNER}")));
        assert!(dsn.contains("Status: 5.1.1"));
        // A message that keeps failing temporarily is given up after the lifetime.
        submit(&f, &pro("phy-1"), &[&format!("dr@{PARTNER}")], &raw)
            .await
            .unwrap();
        for _ in 0..200 {
            let Some(q) = f.messaging.due_deliveries(10).await.unwrap().pop() else {
                f.clock.advance(Duration::hours(4));
                continue;
            };
            f.messaging
                .delivery_done(&q, DeliveryOutcome::Temporary("421 busy".into()))
                .await
                .unwrap();
            if f.messaging.queue().await.unwrap().is_empty() {
                break;
            }
        }
        assert!(f.messaging.queue().await.unwrap().is_empty());
        let entries = inbox(&f, &anne.id).await;
        assert_eq!(entries.len(), 2);
        let dsn =
            String::from_utf8(f.messaging.body(&anne.id, &entries[1]).await.unwrap()).unwrap();
        assert!(dsn.contains("Status: 4.4.7"));
    }
);

storage_test!(
    closure_stops_mail_at_once_purges_within_five_working_days_and_retires_the_address,
    |db: Db| async move {
        let f = fixture(db).await;
        let s = Source::default();
        let anne_user = pro("phy-1");
        let anne = f.messaging.open_mailbox(&anne_user, &s).await.unwrap();
        let elodie = f.messaging.open_mailbox(&pro("phy-3"), &s).await.unwrap();
        let raw = message(&elodie.address, &anne.address, "Hi", "text");
        submit(&f, &pro("phy-3"), &[&anne.address], &raw)
            .await
            .unwrap();
        let entry = inbox(&f, &anne.id).await.remove(0);

        // Tuesday 1 December 09:00: requested.
        let closing = f.messaging.request_closure(&anne_user, &s).await.unwrap();
        assert_eq!(closing.state, MailboxState::Closing);
        let due = closing.purge_due.unwrap();
        assert_eq!(
            due,
            Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap(),
            "4 working days later"
        );
        assert!(matches!(
            f.messaging.open_mailbox(&anne_user, &s).await,
            Err(MessagingError::MailboxClosed)
        ));
        let origin = Origin::Submission {
            user: pro("phy-3"),
            mailbox: elodie.clone(),
        };
        assert_eq!(
            f.messaging
                .check_recipient(&origin, &anne.address, None)
                .await,
            Err(Refusal::RecipientDisabled)
        );
        // Not yet purged before the due date.
        f.clock
            .set(Utc.with_ymd_and_hms(2026, 12, 4, 18, 0, 0).unwrap());
        assert_eq!(
            f.messaging.housekeeping().await.unwrap().mailboxes_purged,
            0
        );
        assert!(f.messaging.body(&anne.id, &entry).await.is_ok());
        // Monday 7 December 10:00 (within the 5 working days): purged.
        f.clock
            .set(Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap());
        assert_eq!(
            f.messaging.housekeeping().await.unwrap().mailboxes_purged,
            1
        );
        assert!(
            f.messaging.body(&anne.id, &entry).await.is_err(),
            "beyond recovery"
        );
        let purged = f.messaging.mailbox(&anne.id).await.unwrap();
        assert_eq!(purged.state, MailboxState::Closed);
        assert!(
            f.db.list(MESSAGES, Some(&format!("{}/", anne.id)), 10)
                .await
                .unwrap()
                .iter()
                .all(|r| !r.key.starts_with(&anne.id))
        );
        assert_eq!(
            f.messaging
                .check_recipient(&origin, &anne.address, None)
                .await,
            Err(Refusal::RecipientDisabled),
            "the address stays retired"
        );
        // Coming back later gives a new mailbox and a new address, never the old one.
        let again = f.messaging.open_mailbox(&anne_user, &s).await.unwrap();
        assert_ne!(again.id, anne.id);
        assert_eq!(again.address, format!("anne.weber2@{DOMAIN}"));
        let addresses = f.messaging.addresses_of("phy-1").await.unwrap();
        assert_eq!(addresses.len(), 2);
        // And a homonym after that gets yet another one.
        let homonym = f.messaging.open_mailbox(&pro("phy-2"), &s).await.unwrap();
        assert_eq!(homonym.address, format!("anne.weber3@{DOMAIN}"));
        let k = kinds(&messaging_audit(&f.db).await);
        assert!(k.contains(&"MessagingClosureRequested".to_owned()));
        assert!(k.contains(&"MessagingMailboxPurged".to_owned()));
    }
);

storage_test!(
    no_body_byte_reaches_the_metadata_log_the_indicators_or_the_trail,
    |db: Db| async move {
        let f = fixture(db).await;
        let s = Source::default();
        let anne = f.messaging.open_mailbox(&pro("phy-1"), &s).await.unwrap();
        let elodie = f.messaging.open_mailbox(&pro("phy-3"), &s).await.unwrap();
        let marker = "Zq7MarkerOfContent";
        let raw = format!(
            "From: \"{marker} name\" <{a}>\r\nTo: <{e}>\r\nSubject: {marker} subject\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\n{marker} body\r\n\
             --b\r\nContent-Type: application/pdf; name=\"{marker}.pdf\"\r\n\
             Content-Disposition: attachment; filename=\"{marker}.pdf\"\r\n\r\n%PDF-1.4 {marker}\r\n--b--\r\n",
            a = anne.address,
            e = elodie.address
        );
        submit(&f, &pro("phy-1"), &[&elodie.address], raw.as_bytes())
            .await
            .unwrap();
        // Refused messages are logged too, still without content.
        let infected = format!(
            "From: <{}>\r\nSubject: {marker}\r\n\r\n{TEST_SIGNATURE}",
            anne.address
        );
        let _ = submit(&f, &pro("phy-1"), &[&elodie.address], infected.as_bytes()).await;

        let from = f.clock.now() - Duration::days(1);
        let until = f.clock.now() + Duration::days(1);
        let log = f
            .messaging
            .metadata_between(from, until, 100)
            .await
            .unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].sender, anne.address);
        assert_eq!(log[0].recipients, vec![elodie.address.clone()]);
        assert_eq!(log[0].attachments[0].content_type, "application/pdf");
        assert_eq!(log[0].size, raw.len() as u64);
        let indicators = f.messaging.indicators(from, until).await.unwrap();
        assert_eq!(indicators.accepted["submission"].messages, 1);
        assert_eq!(indicators.refused["virus_found"], 1);
        let personal = f.messaging.personal_data(&pro("phy-3")).await.unwrap();
        assert_eq!(personal.metadata.len(), 2);

        let mut everything = String::new();
        for r in f.db.list(METADATA, None, 10_000).await.unwrap() {
            everything.push_str(&String::from_utf8_lossy(&r.value));
        }
        everything.push_str(&serde_json::to_string(&indicators).unwrap());
        everything.push_str(&serde_json::to_string(&personal).unwrap());
        for r in f.db.audit_records("messaging", 0, 10_000).await.unwrap() {
            everything.push_str(&String::from_utf8_lossy(&r.event));
        }
        for r in f.db.audit_records("platform", 0, 10_000).await.unwrap() {
            everything.push_str(&String::from_utf8_lossy(&r.event));
        }
        for collection in [MAILBOXES, FOLDERS, MESSAGES, ADDRESSES, QUEUE] {
            for r in f.db.list(collection, None, 10_000).await.unwrap() {
                everything.push_str(&String::from_utf8_lossy(&r.value));
            }
        }
        assert!(everything.len() > 1000);
        assert!(
            !everything.contains(marker),
            "content leaked into the metadata, the index or the trail"
        );
        assert!(!everything.contains("%PDF"));

        // Kept 12 months, then purged.
        f.clock.advance(Duration::days(366));
        assert_eq!(f.messaging.housekeeping().await.unwrap().metadata_purged, 2);
        assert!(f.db.list(METADATA, None, 10).await.unwrap().is_empty());
    }
);

/// The header fields of `message`, names in order, as a mail program reads them.
fn field_names(message: &str) -> Vec<String> {
    let parsed = mail_parser::MessageParser::default()
        .parse(message.as_bytes())
        .expect("a message");
    parsed
        .headers()
        .iter()
        .map(|h| h.name().to_ascii_lowercase())
        .collect()
}

storage_test!(
    nothing_a_sender_or_a_remote_server_writes_starts_a_header_field_of_a_notice,
    |db: Db| async move {
        let f = fixture(db).await;
        let hostile = "x@mss.sante.example>\r\nBcc: <spy@evil.example";
        let undelivered = [super::notices::Undelivered {
            recipient: "r@partner.example\r\nX-Injected: 1".into(),
            status: "5.1.1\r\nX-Injected: 2".into(),
            diagnostic: "550 no\r\n\r\nX-Injected: 3".into(),
        }];
        let original = b"Subject: hello\r\nFrom: x@mss.sante.example\r\n\r\nbody\r\n";
        let notice = f
            .messaging
            .failure_notice(hostile, &undelivered, original, f.clock.now());
        assert_eq!(
            field_names(&notice),
            [
                "from",
                "to",
                "date",
                "message-id",
                "subject",
                "auto-submitted",
                "mime-version",
                "content-type"
            ],
            "{notice}"
        );
        // The delivery-status part keeps each of its fields on one line.
        let status_part = notice
            .split("Content-Type: message/delivery-status\r\n\r\n")
            .nth(1)
            .and_then(|rest| rest.split("\r\n--").next())
            .unwrap();
        assert!(
            status_part.lines().all(|l| !l.starts_with("X-Injected")),
            "{status_part}"
        );
    }
);
