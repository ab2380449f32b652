//! The DSP service on both storage backends, with the real directory, a real audit
//! trail, the encrypted blob store and a clock moved by hand: every window of time,
//! every holder's control and every life-cycle date.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use sante_audit::testing::TestPlatform;
use sante_directory::Request;
use sante_directory::model::*;
use sante_directory::nin::NationalId;
use sante_store::storage_test;
use sante_types::ManualClock;

use super::*;
use crate::model::{CareKind, Confidentiality, ItemStatus, RecordState, ReferentDeclaration};
use crate::service::controls::OrganDonation;
use crate::service::items::{ItemQuery, NewItem};

struct Fixture {
    dsp: DspService,
    directory: Directory,
    clock: Arc<ManualClock>,
    db: Db,
    holder: String,
    other_patient: String,
    _platform: TestPlatform,
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn professional(id: &str, profession: Profession, establishment: Option<&str>) -> Professional {
    Professional {
        id: id.into(),
        national_id: None,
        family_name: format!("Family {id}"),
        given_names: vec!["Anne".into()],
        sex: Sex::Female,
        profession,
        specialities: vec![],
        authorisation: Authorisation {
            status: AuthorisationStatus::Active,
            granted_on: day(2010, 1, 1),
            status_since: day(2010, 1, 1),
            suspended_until: None,
        },
        locations: vec![],
        affiliations: establishment
            .map(|e| Affiliation {
                establishment: e.into(),
                site: None,
                start: day(2015, 1, 1),
                end: None,
            })
            .into_iter()
            .collect(),
        contact: Contact::default(),
    }
}

fn patient(serial: u16, family: &str) -> Patient {
    let birth = day(1980, 3, 4);
    Patient {
        id: String::new(),
        national_id: NationalId::from_parts(birth, serial),
        birth_name: family.into(),
        used_name: None,
        given_names: vec!["Marie".into()],
        sex: Sex::Female,
        birth_date: Some(birth),
        birth_place: Some("Luxembourg".into()),
        address: Some(Address {
            lines: vec!["12 rue des Bains".into()],
            postcode: Some("L-1212".into()),
            town: Some("Luxembourg".into()),
            country: Some("LU".into()),
        }),
        insurance: Some(InsuranceAffiliation {
            insurer: "CNS".into(),
            start: day(2000, 1, 1),
            end: None,
        }),
        death_date: None,
        legal_representative: None,
        status: IdentityStatus::Qualified,
        doubtful: false,
        homonym: false,
        merged_into: None,
    }
}

async fn fixture(db: Db) -> Fixture {
    let platform = TestPlatform::new(
        db.clone(),
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
    )
    .await;
    let clock = platform.clock.clone();
    let directory = Directory::new(db.clone(), platform.recorder(), clock.clone());
    let op = Request::operator();
    directory
        .upsert(
            &op,
            &[
                professional("phy-1", Profession::Physician, None),
                professional("phy-2", Profession::Physician, None),
                professional("pha-1", Profession::Pharmacist, None),
                professional("nur-1", Profession::Nurse, Some("est-1")),
                professional("nur-2", Profession::Nurse, Some("est-2")),
            ],
        )
        .await
        .unwrap();
    let created = |c: sante_directory::service::Creation| match c {
        sante_directory::service::Creation::Created(p)
        | sante_directory::service::Creation::Existing(p)
        | sante_directory::service::Creation::CreatedForReview(p, _) => p.id,
    };
    let holder = created(
        directory
            .create_patient(&op, patient(123, "Schmit"))
            .await
            .unwrap(),
    );
    let other_patient = created(
        directory
            .create_patient(&op, patient(456, "Weber"))
            .await
            .unwrap(),
    );
    let dsp = DspService::new(
        db.clone(),
        platform.blobs.clone(),
        directory.clone(),
        platform.recorder(),
        clock.clone(),
    );
    Fixture {
        dsp,
        directory,
        clock,
        db,
        holder,
        other_patient,
        _platform: platform,
    }
}

fn holder_caller(f: &Fixture) -> Caller {
    Caller {
        account: "acc-holder".into(),
        quality: Quality::Patient,
        assurance: LevelOfAssurance::Substantial,
        credential: CredentialKind::PasswordTotp,
        entry: f.holder.clone(),
        system: None,
        source: Source::default(),
    }
}

fn patient_caller(entry: &str) -> Caller {
    Caller {
        account: format!("acc-{entry}"),
        quality: Quality::Patient,
        assurance: LevelOfAssurance::Substantial,
        credential: CredentialKind::PasswordTotp,
        entry: entry.into(),
        system: None,
        source: Source::default(),
    }
}

fn pro(entry: &str) -> Caller {
    Caller {
        account: format!("acc-{entry}"),
        quality: Quality::Professional,
        assurance: LevelOfAssurance::High,
        credential: CredentialKind::ClientCertificate,
        entry: entry.into(),
        system: None,
        source: Source::default(),
    }
}

fn via_system(entry: &str, establishment: &str) -> Caller {
    Caller {
        credential: CredentialKind::SystemAssertion,
        system: Some((format!("sys-{establishment}"), establishment.into())),
        ..pro(entry)
    }
}

fn doc(type_code: &str, title: &str) -> NewItem {
    NewItem {
        type_system: crate::category::LOINC.into(),
        type_code: type_code.into(),
        title: title.into(),
        mime_type: "application/pdf".into(),
        content: format!("%PDF-1.4 {title}").into_bytes(),
        service_date: None,
        confidentiality: Confidentiality::Restricted,
        replaces: None,
        master_identifier: None,
    }
}

const LAB: &str = "11502-2";
const SUMMARY: &str = "34133-9";

impl Fixture {
    /// The holder's DSP, created and activated, and a consultation of `professional`.
    async fn active_with(&self, professional: &str) {
        assert!(
            self.dsp
                .create(&self.holder, &Source::default())
                .await
                .unwrap()
        );
        self.dsp
            .activate(&holder_caller(self), &self.holder)
            .await
            .unwrap();
        self.consult(professional).await;
    }

    async fn consult(&self, professional: &str) {
        let code = self
            .dsp
            .issue_access_code(&holder_caller(self), &self.holder)
            .await
            .unwrap();
        self.dsp
            .redeem_access_code(&pro(professional), &code.code)
            .await
            .unwrap();
    }

    async fn titles(&self, caller: &Caller) -> Vec<String> {
        self.dsp
            .search(caller, &self.holder, &ItemQuery::default(), 0, 100)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|i| i.title)
            .collect()
    }
}

storage_test!(
    creation_letter_activation_window_objection,
    |db: Db| async move {
        let f = fixture(db).await;
        assert!(f.dsp.create(&f.holder, &Source::default()).await.unwrap());
        assert!(
            !f.dsp.create(&f.holder, &Source::default()).await.unwrap(),
            "one DSP per person"
        );
        // The information letter (DSP-5) waits to be printed.
        let letter = f.dsp.letter(&f.holder).await.unwrap();
        assert!(letter.starts_with(b"%PDF-"));
        assert_eq!(
            f.dsp.letters_pending(10).await.unwrap(),
            vec![f.holder.clone()]
        );
        // Before activation and within 30 days of the letter, professionals in care
        // are refused (DSP-7).
        f.consult("phy-1").await;
        assert!(matches!(
            f.dsp.file(&pro("phy-1"), &f.holder, doc(LAB, "Lab")).await,
            Err(DspError::Denied("dsp_not_yet_open"))
        ));
        f.clock.advance(Duration::days(29));
        f.consult("phy-1").await;
        assert!(
            f.dsp
                .search(&pro("phy-1"), &f.holder, &ItemQuery::default(), 0, 10)
                .await
                .is_err()
        );
        f.clock.advance(Duration::days(1));
        f.dsp
            .file(&pro("phy-1"), &f.holder, doc(LAB, "Lab after 30 days"))
            .await
            .unwrap();
        // Another DSP: the holder objects, and it is gone with everything.
        let other = patient_caller(&f.other_patient);
        f.dsp
            .create(&f.other_patient, &Source::default())
            .await
            .unwrap();
        f.dsp.object(&other, &f.other_patient).await.unwrap();
        assert!(matches!(
            f.dsp.record(&other, &f.other_patient).await,
            Err(DspError::NotFound(_))
        ));
        // An activated DSP is closed, not objected to.
        f.dsp.activate(&holder_caller(&f), &f.holder).await.unwrap();
        assert!(matches!(
            f.dsp.object(&holder_caller(&f), &f.holder).await,
            Err(DspError::Conflict(_))
        ));
    }
);

storage_test!(close_reopen_and_the_ten_year_dates, |db: Db| async move {
    let f = fixture(db).await;
    f.active_with("phy-1").await;
    f.dsp
        .file(&pro("phy-1"), &f.holder, doc(SUMMARY, "Summary 2026"))
        .await
        .unwrap();
    let holder = holder_caller(&f);
    f.dsp.close(&holder, &f.holder).await.unwrap();
    // Closed: inaccessible, to the holder too; professionals refused.
    assert!(matches!(
        f.dsp
            .search(&holder, &f.holder, &ItemQuery::default(), 0, 10)
            .await,
        Err(DspError::Denied("dsp_closed"))
    ));
    assert!(matches!(
        f.dsp
            .search(&pro("phy-1"), &f.holder, &ItemQuery::default(), 0, 10)
            .await,
        Err(DspError::Denied("dsp_closed"))
    ));
    // Reopened within ten years: exactly what it held.
    f.clock.advance(Duration::days(365 * 9));
    f.dsp.reopen(&holder, &f.holder).await.unwrap();
    assert_eq!(f.titles(&holder).await, vec!["Summary 2026".to_owned()]);
    // Closed again, and ten years later deleted by the housekeeping.
    f.dsp.close(&holder, &f.holder).await.unwrap();
    f.clock.advance(Duration::days(365 * 10 - 5));
    let report = f.dsp.housekeeping(&Source::default()).await.unwrap();
    assert_eq!(report.deleted_after_closure, 0);
    assert!(
        f.dsp.reopen(&holder, &f.holder).await.is_ok(),
        "still within ten years"
    );
    f.dsp.close(&holder, &f.holder).await.unwrap();
    f.clock.advance(Duration::days(365 * 10 + 3));
    assert!(matches!(
        f.dsp.reopen(&holder, &f.holder).await,
        Err(DspError::Conflict(_))
    ));
    let report = f.dsp.housekeeping(&Source::default()).await.unwrap();
    assert_eq!(report.deleted_after_closure, 1);
    assert!(matches!(
        f.dsp.record(&holder, &f.holder).await,
        Err(DspError::NotFound(_))
    ));
    assert_eq!(f.db.count(ITEMS).await.unwrap(), 0);
});

storage_test!(
    inactivity_death_and_document_retention,
    |db: Db| async move {
        let f = fixture(db).await;
        f.active_with("phy-1").await;
        let kept = f
            .dsp
            .file(&pro("phy-1"), &f.holder, doc(LAB, "Kept"))
            .await
            .unwrap();
        f.dsp
            .file(&pro("phy-1"), &f.holder, doc(LAB, "Expires"))
            .await
            .unwrap();
        let holder = holder_caller(&f);
        f.dsp
            .agree_to_keep(&holder, &f.holder, &kept.id)
            .await
            .unwrap();
        // Ten years: documents without the holder's agreement are deleted (DSP-12); the
        // agreement itself is dated in his personal space.
        f.clock.advance(Duration::days(365 * 9 + 300));
        f.dsp
            .search(&holder, &f.holder, &ItemQuery::default(), 0, 10)
            .await
            .unwrap();
        f.clock.advance(Duration::days(70));
        let report = f.dsp.housekeeping(&Source::default()).await.unwrap();
        assert_eq!(
            report.items_expired, 2,
            "the unkept report and the personal note of the agreement"
        );
        let titles = f.titles(&holder).await;
        assert!(titles.contains(&"Kept".to_owned()), "{titles:?}");
        assert!(!titles.contains(&"Expires".to_owned()), "{titles:?}");
        // Ten years without any access close the DSP (DSP-11).
        f.clock.advance(Duration::days(365 * 10 + 3));
        let report = f.dsp.housekeeping(&Source::default()).await.unwrap();
        assert_eq!(report.closed_for_inactivity, 1);
        let record = f
            .dsp
            .get::<CareRecord>(RECORDS, &f.holder)
            .await
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(record.state, RecordState::Closed);
        // Death closes a DSP; it cannot be reopened.
        f.dsp
            .create(&f.other_patient, &Source::default())
            .await
            .unwrap();
        assert!(
            f.dsp
                .holder_died(&f.other_patient, &Source::default())
                .await
                .unwrap()
        );
        assert!(
            f.dsp
                .reopen(&patient_caller(&f.other_patient), &f.other_patient)
                .await
                .is_err()
        );
    }
);

storage_test!(
    the_three_care_windows_and_their_limits,
    |db: Db| async move {
        let f = fixture(db).await;
        f.active_with("phy-1").await;
        // Consultation: 15 days from the code.
        f.clock.advance(Duration::days(14) + Duration::hours(23));
        f.dsp
            .file(&pro("phy-1"), &f.holder, doc(LAB, "Day 14"))
            .await
            .unwrap();
        f.clock.advance(Duration::hours(2));
        assert!(matches!(
            f.dsp
                .file(&pro("phy-1"), &f.holder, doc(LAB, "Day 15"))
                .await,
            Err(DspError::Denied("no_care_relationship"))
        ));
        // A code serves once and lives two hours.
        let code = f
            .dsp
            .issue_access_code(&holder_caller(&f), &f.holder)
            .await
            .unwrap();
        f.dsp
            .redeem_access_code(&pro("phy-2"), &code.code)
            .await
            .unwrap();
        assert!(matches!(
            f.dsp.redeem_access_code(&pro("phy-1"), &code.code).await,
            Err(DspError::Denied("access_code_invalid"))
        ));
        let late = f
            .dsp
            .issue_access_code(&holder_caller(&f), &f.holder)
            .await
            .unwrap();
        f.clock.advance(Duration::hours(3));
        assert!(
            f.dsp
                .redeem_access_code(&pro("phy-1"), &late.code)
                .await
                .is_err()
        );
        // Guessing is throttled: after five wrong codes in a quarter of an hour (the
        // expired one was the first), even a good code is refused until it passes;
        // another professional is not held back.
        for _ in 0..4 {
            assert!(matches!(
                f.dsp.redeem_access_code(&pro("phy-1"), "AAAAA-AAAAA").await,
                Err(DspError::Denied("access_code_invalid"))
            ));
        }
        let good = f
            .dsp
            .issue_access_code(&holder_caller(&f), &f.holder)
            .await
            .unwrap();
        let throttled = f.dsp.redeem_access_code(&pro("phy-1"), &good.code).await;
        assert!(
            matches!(throttled, Err(DspError::Throttled)),
            "{throttled:?}"
        );
        assert_eq!(DspError::Throttled.kind(), ErrorKind::Throttled);
        assert!(matches!(
            f.dsp.redeem_access_code(&pro("phy-3"), "BBBBB-BBBBB").await,
            Err(DspError::Denied("access_code_invalid"))
        ));
        f.clock.advance(Duration::minutes(16));
        f.dsp
            .redeem_access_code(&pro("phy-1"), &good.code)
            .await
            .unwrap();
        // A patient cannot redeem a code.
        let code = f
            .dsp
            .issue_access_code(&holder_caller(&f), &f.holder)
            .await
            .unwrap();
        assert!(
            f.dsp
                .redeem_access_code(&patient_caller(&f.other_patient), &code.code)
                .await
                .is_err()
        );

        // Admission: 45 days, renewable by at most 30 while the stay lasts, through the
        // establishment's system only.
        assert!(matches!(
            f.dsp
                .register_stay(&pro("nur-1"), &f.holder, CareKind::Admission)
                .await,
            Err(DspError::Denied("through_the_establishments_system_only"))
        ));
        assert!(
            f.dsp
                .register_stay(
                    &via_system("nur-2", "est-1"),
                    &f.holder,
                    CareKind::Admission
                )
                .await
                .is_err(),
            "not staff there"
        );
        let stay = f
            .dsp
            .register_stay(
                &via_system("nur-1", "est-1"),
                &f.holder,
                CareKind::Admission,
            )
            .await
            .unwrap();
        let nurse = via_system("nur-1", "est-1");
        f.dsp
            .file(&nurse, &f.holder, doc("28651-8", "Nursing transfer"))
            .await
            .unwrap();
        assert!(
            f.dsp
                .search(&pro("nur-1"), &f.holder, &ItemQuery::default(), 0, 10)
                .await
                .is_err(),
            "through the portal: no grant"
        );
        assert!(matches!(
            f.dsp.renew_stay(&nurse, &stay.id, 31).await,
            Err(DspError::Invalid(_))
        ));
        f.clock.advance(Duration::days(44));
        f.dsp.renew_stay(&nurse, &stay.id, 30).await.unwrap();
        f.clock.advance(Duration::days(29));
        f.dsp
            .search(&nurse, &f.holder, &ItemQuery::default(), 0, 10)
            .await
            .unwrap();
        f.dsp.end_stay(&nurse, &stay.id).await.unwrap();
        assert!(matches!(
            f.dsp.renew_stay(&nurse, &stay.id, 10).await,
            Err(DspError::Conflict(_))
        ));
        f.clock.advance(Duration::days(2));
        assert!(
            f.dsp
                .search(&nurse, &f.holder, &ItemQuery::default(), 0, 10)
                .await
                .is_err()
        );

        // Emergency: 24 hours + 15 days.
        f.dsp
            .register_stay(&nurse, &f.holder, CareKind::Emergency)
            .await
            .unwrap();
        f.clock.advance(Duration::days(16) - Duration::minutes(1));
        f.dsp
            .search(&nurse, &f.holder, &ItemQuery::default(), 0, 10)
            .await
            .unwrap();
        f.clock.advance(Duration::minutes(2));
        assert!(
            f.dsp
                .search(&nurse, &f.holder, &ItemQuery::default(), 0, 10)
                .await
                .is_err()
        );
    }
);

storage_test!(
    a_withdrawn_authorisation_ends_rights_at_once_and_holders_are_told,
    |db: Db| async move {
        let f = fixture(db).await;
        f.active_with("phy-1").await;
        f.dsp
            .file(&pro("phy-1"), &f.holder, doc(LAB, "Lab"))
            .await
            .unwrap();
        // The ministry withdraws the authorisation: the directory says so, the DSP ends
        // his relationships and tells the holder (DSP-16).
        let mut withdrawn = professional("phy-1", Profession::Physician, None);
        withdrawn.authorisation.status = AuthorisationStatus::Withdrawn;
        withdrawn.authorisation.status_since = f.clock.now().date_naive();
        f.directory
            .upsert(&Request::operator(), &[withdrawn])
            .await
            .unwrap();
        assert!(matches!(
            f.dsp
                .search(&pro("phy-1"), &f.holder, &ItemQuery::default(), 0, 10)
                .await,
            Err(DspError::Denied("authorisation_withdrawn"))
        ));
        assert_eq!(
            f.dsp
                .professional_withdrawn("phy-1", &Source::default())
                .await
                .unwrap(),
            1
        );
        let notices = f.dsp.notices(&holder_caller(&f), &f.holder).await.unwrap();
        assert!(notices.iter().any(|n| matches!(&n.kind, NoticeKind::ProfessionalWithdrawn { professional } if professional == "phy-1")));
        // Restored later, he still has no relationship: a new code is needed.
        f.directory
            .upsert(
                &Request::operator(),
                &[professional("phy-1", Profession::Physician, None)],
            )
            .await
            .unwrap();
        assert!(matches!(
            f.dsp
                .search(&pro("phy-1"), &f.holder, &ItemQuery::default(), 0, 10)
                .await,
            Err(DspError::Denied("no_care_relationship"))
        ));
    }
);

storage_test!(
    searches_show_only_what_the_caller_may_read,
    |db: Db| async move {
        let f = fixture(db).await;
        f.active_with("phy-1").await;
        f.consult("pha-1").await;
        let phy = pro("phy-1");
        let summary = f
            .dsp
            .file(&phy, &f.holder, doc(SUMMARY, "Summary"))
            .await
            .unwrap();
        let lab = f.dsp.file(&phy, &f.holder, doc(LAB, "Lab")).await.unwrap();
        // The pharmacist reads analyses, not syntheses (matrix), and cannot file a summary.
        let pha = pro("pha-1");
        let page = f
            .dsp
            .search(&pha, &f.holder, &ItemQuery::default(), 0, 10)
            .await
            .unwrap();
        assert_eq!(page.total, 1);
        assert_eq!(page.items[0].id, lab.id);
        // A document he may not read answers as one that does not exist; the reason
        // is in the trail.
        assert!(matches!(
            f.dsp.item_metadata(&pha, &summary.id).await,
            Err(DspError::NotFound(_))
        ));
        let absent = f.dsp.item_metadata(&pha, "no-such-document").await;
        assert!(matches!(absent, Err(DspError::NotFound(_))), "{absent:?}");
        assert!(matches!(
            f.dsp.file(&pha, &f.holder, doc(SUMMARY, "x")).await,
            Err(DspError::Denied("matrix"))
        ));
        // The holder restricts the lab report from the pharmacist: first the warning.
        let holder = holder_caller(&f);
        assert!(matches!(
            f.dsp.restrict(&holder, &f.holder, &lab.id, "pha-1").await,
            Err(DspError::Conflict(_))
        ));
        f.dsp.acknowledge_risks(&holder, &f.holder).await.unwrap();
        f.dsp
            .restrict(&holder, &f.holder, &lab.id, "pha-1")
            .await
            .unwrap();
        let page = f
            .dsp
            .search(&pha, &f.holder, &ItemQuery::default(), 0, 10)
            .await
            .unwrap();
        assert_eq!(page.total, 0, "a hidden item is neither listed nor counted");
        assert!(matches!(
            f.dsp.retrieve(&pha, &lab.id).await,
            Err(DspError::NotFound(_))
        ));
        // The physician still reads it; the holder reads everything.
        assert_eq!(
            f.dsp.retrieve(&phy, &lab.id).await.unwrap().content,
            b"%PDF-1.4 Lab"
        );
        assert_eq!(f.titles(&holder).await.len(), 2);
        // Another patient sees nothing, not even whether a DSP exists.
        let other = patient_caller(&f.other_patient);
        assert!(matches!(
            f.dsp
                .search(&other, &f.holder, &ItemQuery::default(), 0, 10)
                .await,
            Err(DspError::Denied("not_the_holder"))
        ));
        assert!(matches!(
            f.dsp.record(&other, &f.holder).await,
            Err(DspError::Denied("holder_only"))
        ));
        // Filters and paging.
        let labs = f
            .dsp
            .search(
                &holder,
                &f.holder,
                &ItemQuery {
                    categories: vec![crate::category::DataCategory::Analyses],
                    ..ItemQuery::default()
                },
                0,
                10,
            )
            .await
            .unwrap();
        assert_eq!(labs.total, 1);
        let first = f
            .dsp
            .search(&holder, &f.holder, &ItemQuery::default(), 0, 1)
            .await
            .unwrap();
        let second = f
            .dsp
            .search(&holder, &f.holder, &ItemQuery::default(), 1, 1)
            .await
            .unwrap();
        assert_eq!(
            (first.total, first.items.len(), second.items.len()),
            (2, 1, 1)
        );
        assert_ne!(first.items[0].id, second.items[0].id);
        // Only the author replaces a document: a hidden one behaves as absent, one
        // another professional may read but did not write is refused; both traced.
        let mut forged = doc(LAB, "Lab, forged");
        forged.replaces = Some(lab.id.clone());
        f.consult("phy-2").await;
        let phy2 = pro("phy-2");
        assert!(matches!(
            f.dsp.file(&phy2, &f.holder, forged.clone()).await,
            Err(DspError::Denied("not_author"))
        ));
        f.dsp
            .restrict(&holder, &f.holder, &lab.id, "phy-2")
            .await
            .unwrap();
        assert!(matches!(
            f.dsp.file(&phy2, &f.holder, forged.clone()).await,
            Err(DspError::NotFound(_))
        ));
        forged.replaces = Some("no-such-document".into());
        assert!(matches!(
            f.dsp.file(&phy, &f.holder, forged).await,
            Err(DspError::NotFound(_))
        ));
        assert_eq!(f.titles(&holder).await.len(), 2, "nothing was replaced");
        // A new version replaces the old one; the old one is superseded.
        let mut v2 = doc(LAB, "Lab, corrected");
        v2.replaces = Some(lab.id.clone());
        let new = f.dsp.file(&phy, &f.holder, v2).await.unwrap();
        let current = f.titles(&holder).await;
        assert!(
            current.contains(&"Lab, corrected".to_owned()) && !current.contains(&"Lab".to_owned())
        );
        let old = f.dsp.item_metadata(&holder, &lab.id).await.unwrap();
        assert_eq!(
            (old.status, old.replaced_by.as_deref()),
            (ItemStatus::Superseded, Some(new.id.as_str()))
        );
        // Only the author withdraws a document.
        f.consult("phy-2").await;
        assert!(matches!(
            f.dsp.deprecate(&pro("phy-2"), &new.id).await,
            Err(DspError::Denied("not_the_author"))
        ));
        f.dsp.deprecate(&phy, &new.id).await.unwrap();
        // An unknown document type is refused, naming it.
        let mut odd = doc(LAB, "odd");
        odd.type_code = "00000-0".into();
        assert!(
            matches!(f.dsp.file(&phy, &f.holder, odd).await, Err(DspError::Invalid(m)) if m.contains("00000-0"))
        );
    }
);

storage_test!(
    the_holders_controls_and_his_assistant,
    |db: Db| async move {
        let f = fixture(db).await;
        f.active_with("phy-1").await;
        let holder = holder_caller(&f);
        // Private level: the blocked professional is refused everything.
        f.dsp.block(&holder, &f.holder, "phy-1").await.unwrap();
        assert!(matches!(
            f.dsp
                .search(&pro("phy-1"), &f.holder, &ItemQuery::default(), 0, 10)
                .await,
            Err(DspError::Denied("blocked_by_holder"))
        ));
        f.dsp.unblock(&holder, &f.holder, "phy-1").await.unwrap();
        f.dsp
            .search(&pro("phy-1"), &f.holder, &ItemQuery::default(), 0, 10)
            .await
            .unwrap();
        // Objection to filing during this care (DSP-22).
        let rels = f.dsp.care_relationships(&holder, &f.holder).await.unwrap();
        f.dsp
            .object_to_filing(&holder, &f.holder, &rels[0].id, true)
            .await
            .unwrap();
        assert!(matches!(
            f.dsp.file(&pro("phy-1"), &f.holder, doc(LAB, "x")).await,
            Err(DspError::Denied("holder_objects_to_filing"))
        ));
        f.dsp
            .object_to_filing(&holder, &f.holder, &rels[0].id, false)
            .await
            .unwrap();
        f.dsp
            .file(&pro("phy-1"), &f.holder, doc(LAB, "Lab"))
            .await
            .unwrap();
        // Personal space and the organ-donation question at the first access.
        assert!(
            f.dsp
                .organ_donation_pending(&holder, &f.holder)
                .await
                .unwrap()
        );
        f.dsp
            .answer_organ_donation(&holder, &f.holder, OrganDonation::Objects)
            .await
            .unwrap();
        assert!(
            !f.dsp
                .organ_donation_pending(&holder, &f.holder)
                .await
                .unwrap()
        );
        f.dsp
            .write_personal(
                &holder,
                &f.holder,
                "advance-directives",
                "Directives",
                "No relentless treatment.",
            )
            .await
            .unwrap();
        assert!(matches!(
            f.dsp
                .file(
                    &pro("phy-1"),
                    &f.holder,
                    NewItem {
                        type_system: crate::category::SANTE_TYPES.into(),
                        type_code: "personal-expression".into(),
                        ..doc(LAB, "x")
                    }
                )
                .await,
            Err(DspError::Denied("holder_writes_personal_space_only"))
        ));
        // The assistant acts with the holder's rights, traced as himself for the holder.
        let assistant = patient_caller(&f.other_patient);
        assert!(
            f.dsp
                .search(&assistant, &f.holder, &ItemQuery::default(), 0, 10)
                .await
                .is_err()
        );
        // The holder names his assistant by national number and family name: a wrong
        // name, an unknown number and a malformed one get the same answer.
        let weber_nin = NationalId::from_parts(day(1980, 3, 4), 456)
            .unwrap()
            .to_string();
        let unknown_nin = NationalId::from_parts(day(1980, 3, 4), 789)
            .unwrap()
            .to_string();
        let mut answers = Vec::new();
        for (nin, family) in [
            (weber_nin.as_str(), "Schmit"),
            (unknown_nin.as_str(), "Weber"),
            ("12", "Weber"),
            (weber_nin.as_str(), ""),
        ] {
            match f
                .dsp
                .appoint_assistant_named(&holder, &f.holder, nin, family)
                .await
            {
                Err(DspError::Invalid(reason)) => answers.push(reason),
                other => panic!("{nin} {family}: {other:?}"),
            }
        }
        answers.dedup();
        assert_eq!(answers.len(), 1, "{answers:?}");
        // Himself, by his own number, is refused.
        let schmit_nin = NationalId::from_parts(day(1980, 3, 4), 123)
            .unwrap()
            .to_string();
        assert!(matches!(
            f.dsp
                .appoint_assistant_named(&holder, &f.holder, &schmit_nin, "Schmit")
                .await,
            Err(DspError::Invalid(_))
        ));
        // Only the holder names one.
        assert!(matches!(
            f.dsp
                .appoint_assistant_named(&assistant, &f.holder, &weber_nin, "Weber")
                .await,
            Err(DspError::Denied("holder_only"))
        ));
        let record = f
            .dsp
            .appoint_assistant_named(&holder, &f.holder, &weber_nin, " weber ")
            .await
            .unwrap();
        let appointed = &record.controls.assistants[0];
        assert_eq!(appointed.patient, f.other_patient);
        assert_eq!(appointed.name.as_deref(), Some("Marie Weber"));
        assert_eq!(
            f.dsp.assisted(&assistant).await.unwrap(),
            vec![crate::service::Assisted {
                holder: f.holder.clone(),
                name: Some("Marie Schmit".into()),
            }]
        );
        assert_eq!(f.titles(&assistant).await.len(), 3);
        f.dsp.block(&assistant, &f.holder, "phy-2").await.unwrap();
        // Only the holder appoints or revokes.
        assert!(
            f.dsp
                .appoint_assistant(&assistant, &f.holder, "someone")
                .await
                .is_err()
        );
        f.dsp
            .revoke_assistant(&holder, &f.holder, &f.other_patient)
            .await
            .unwrap();
        assert!(
            f.dsp
                .search(&assistant, &f.holder, &ItemQuery::default(), 0, 10)
                .await
                .is_err()
        );
        let history = f.dsp.history(&holder, &f.holder, 500).await.unwrap();
        let block = history
            .iter()
            .find(|h| h.action == "block" && h.role == "assistant")
            .expect("the assistant's block");
        assert_eq!(block.account, assistant.account);
    }
);

storage_test!(
    every_access_is_in_the_history_and_the_first_professional_one_is_notified,
    |db: Db| async move {
        let f = fixture(db).await;
        f.active_with("phy-1").await;
        let nurse = via_system("nur-1", "est-1");
        f.dsp
            .register_stay(&nurse, &f.holder, CareKind::Emergency)
            .await
            .unwrap();
        let lab = f
            .dsp
            .file(&pro("phy-1"), &f.holder, doc(LAB, "Lab"))
            .await
            .unwrap();
        f.dsp.retrieve(&nurse, &lab.id).await.unwrap();
        let _ = f
            .dsp
            .search(&pro("phy-2"), &f.holder, &ItemQuery::default(), 0, 10)
            .await;
        let holder = holder_caller(&f);
        let history = f.dsp.history(&holder, &f.holder, 500).await.unwrap();
        let read = history
            .iter()
            .find(|h| h.action == "read")
            .expect("the nurse's read");
        assert_eq!(read.professional.as_deref(), Some("nur-1"));
        assert_eq!(read.role, "nurse");
        assert_eq!(read.establishment.as_deref(), Some("est-1"));
        assert_eq!(read.system.as_deref(), Some("sys-est-1"));
        assert_eq!(read.item.as_deref(), Some(lab.id.as_str()));
        let refused = history
            .iter()
            .find(|h| h.professional.as_deref() == Some("phy-2"))
            .expect("the refusal");
        assert_eq!(refused.outcome, "no_care_relationship");
        assert!(
            history
                .iter()
                .any(|h| h.action == "file" && h.professional.as_deref() == Some("phy-1"))
        );
        // The first professional access was notified, once.
        let notices = f.dsp.notices(&holder, &f.holder).await.unwrap();
        let firsts = notices
            .iter()
            .filter(|n| matches!(n.kind, NoticeKind::FirstProfessionalAccess { .. }))
            .count();
        assert_eq!(firsts, 1);
        // The referring doctor reads the traces dashboard; another physician does not.
        assert!(f.dsp.history(&pro("phy-1"), &f.holder, 10).await.is_err());
        f.dsp
            .declare_referent(
                &f.holder,
                ReferentDeclaration {
                    professional: "phy-1".into(),
                    from: f.clock.now().date_naive(),
                    until: None,
                },
                &Source::default(),
            )
            .await
            .unwrap();
        f.dsp.history(&pro("phy-1"), &f.holder, 10).await.unwrap();
    }
);

storage_test!(
    overdue_filings_are_listed_for_the_professional,
    |db: Db| async move {
        let f = fixture(db).await;
        f.active_with("phy-1").await;
        let holder = holder_caller(&f);
        f.dsp
            .request_filing(&holder, &f.holder, "phy-1", "the blood test results")
            .await
            .unwrap();
        assert!(
            f.dsp
                .request_filing(&holder, &f.holder, "phy-2", "x")
                .await
                .is_err(),
            "not in care"
        );
        assert!(f.dsp.overdue(&pro("phy-1")).await.unwrap().is_empty());
        f.clock.advance(Duration::days(16));
        let overdue = f.dsp.overdue(&pro("phy-1")).await.unwrap();
        assert_eq!(
            overdue.len(),
            1,
            "the request, past its 15 days: {overdue:?}"
        );
        // The consultation ended on day 15: its end-of-care documents are due on day 30.
        f.clock.advance(Duration::days(15));
        let overdue = f.dsp.overdue(&pro("phy-1")).await.unwrap();
        assert_eq!(
            overdue.len(),
            2,
            "the request, and the care ended without a report: {overdue:?}"
        );
        // A new code and a filing fulfil the request.
        f.consult("phy-1").await;
        f.dsp
            .file(&pro("phy-1"), &f.holder, doc(LAB, "Results"))
            .await
            .unwrap();
        let overdue = f.dsp.overdue(&pro("phy-1")).await.unwrap();
        assert!(
            overdue
                .iter()
                .all(|o| !matches!(o, crate::service::duties::Overdue::Request(_))),
            "{overdue:?}"
        );
        assert_eq!(
            overdue.len(),
            1,
            "filed too late for the first care: {overdue:?}"
        );
        assert!(f.dsp.overdue(&patient_caller(&f.holder)).await.is_err());
    }
);

storage_test!(
    statistics_are_counts_with_small_cells_suppressed,
    |db: Db| async move {
        let f = fixture(db).await;
        f.active_with("phy-1").await;
        for i in 0..12 {
            f.dsp
                .file(&pro("phy-1"), &f.holder, doc(LAB, &format!("Lab {i}")))
                .await
                .unwrap();
        }
        f.dsp
            .file(&pro("phy-1"), &f.holder, doc(SUMMARY, "Summary"))
            .await
            .unwrap();
        let stats = f.dsp.statistics().await.unwrap();
        let text = serde_json::to_string(&stats).unwrap();
        // No holder, professional or title ever appears.
        assert!(
            !text.contains(&f.holder) && !text.contains("phy-1") && !text.contains("Lab 1"),
            "{text}"
        );
        let labs = stats
            .documents_by_category
            .iter()
            .find(|(k, _)| k.starts_with("dsp-cat-09"))
            .unwrap()
            .1;
        assert_eq!(*labs, crate::service::Count::Value(12));
        let summaries = stats
            .documents_by_category
            .iter()
            .find(|(k, _)| k.starts_with("dsp-cat-02"))
            .unwrap()
            .1;
        assert_eq!(*summaries, crate::service::Count::Suppressed("<10"));
        assert_eq!(
            stats.records_by_state.get("active"),
            Some(&crate::service::Count::Suppressed("<10"))
        );
    }
);
