//! The directory service on both storage backends, with a real audit trail.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use sante_audit::testing::TestPlatform;
use sante_audit::{AuditEvent, EventKind, Outcome, Source};
use sante_store::{Db, storage_test};
use sante_types::{CredentialKind, LevelOfAssurance, ManualClock, Quality, Service};

use super::*;
use crate::access::Caller;
use crate::lookups::LookupLimits;
use crate::model::*;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

struct Fixture {
    dir: Directory,
    clock: Arc<ManualClock>,
    platform: TestPlatform,
}

async fn fixture(db: Db) -> Fixture {
    let platform = TestPlatform::new(
        db.clone(),
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
    )
    .await;
    let dir = Directory::new(db.clone(), platform.recorder(), platform.clock.clone());
    Fixture {
        dir,
        clock: platform.clock.clone(),
        platform,
    }
}

impl Fixture {
    async fn events(&self) -> Vec<AuditEvent> {
        self.platform.events("platform").await
    }
}

fn professional(id: &str, family: &str, profession: Profession, town: &str) -> Professional {
    Professional {
        id: id.into(),
        national_id: None,
        family_name: family.into(),
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
        locations: vec![PracticeLocation {
            id: format!("{id}-loc"),
            name: "Cabinet".into(),
            address: Address {
                lines: vec!["1 rue de la Gare".into()],
                postcode: Some("L-1611".into()),
                town: Some(town.into()),
                country: Some("LU".into()),
            },
            contact: Contact::default(),
        }],
        affiliations: vec![],
        contact: Contact::default(),
    }
}

fn patient(nin_birth: NaiveDate, serial: u16, family: &str, given: &str) -> Patient {
    Patient {
        id: String::new(),
        national_id: NationalId::from_parts(nin_birth, serial),
        birth_name: family.into(),
        used_name: None,
        given_names: vec![given.into()],
        sex: Sex::Female,
        birth_date: Some(nin_birth),
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

fn dsp_service() -> Request {
    Request::new(
        Caller::Service {
            name: "dsp".into(),
            service: Service::Dsp,
        },
        Source::default(),
    )
}

fn officer() -> Request {
    Request::new(
        Caller::Person {
            account: "agent-7".into(),
            quality: Quality::Agent,
            assurance: LevelOfAssurance::Substantial,
            credential: CredentialKind::PasswordTotp,
            roles: vec![AgentRole::IdentityVigilance],
            system: None,
        },
        Source::default(),
    )
}

fn professional_caller() -> Request {
    Request::new(
        Caller::Person {
            account: "pro-1".into(),
            quality: Quality::Professional,
            assurance: LevelOfAssurance::High,
            credential: CredentialKind::ClientCertificate,
            roles: vec![],
            system: None,
        },
        Source::default(),
    )
}

storage_test!(
    professionals_are_searchable_by_name_profession_and_town,
    |db: Db| async move {
        let f = fixture(db).await;
        let op = Request::operator();
        let batch = vec![
            professional("p1", "Müller", Profession::Physician, "Esch-sur-Alzette"),
            professional("p2", "Muller", Profession::Nurse, "Luxembourg"),
            professional("p3", "Schmit", Profession::Dentist, "Esch-sur-Alzette"),
        ];
        let out = f.dir.upsert(&op, &batch).await.unwrap();
        assert_eq!(out.created, 3);
        let q = ProfessionalQuery {
            name: Some("mul".into()),
            ..Default::default()
        };
        let page = f.dir.search_professionals(&q, None, 10).await.unwrap();
        assert_eq!(page.total, 2);
        let q = ProfessionalQuery {
            category: Some(AccessCategory::Physician),
            town: Some("esch".into()),
            ..Default::default()
        };
        let ids: Vec<String> = f
            .dir
            .search_professionals(&q, None, 10)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids, ["p1", "p3"], "a dentist is in the physician column");
        // Paging.
        let all = ProfessionalQuery::default();
        let first = f.dir.search_professionals(&all, None, 2).await.unwrap();
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.total, 3);
        let second = f
            .dir
            .search_professionals(&all, first.next.as_deref(), 2)
            .await
            .unwrap();
        assert_eq!(second.items.len(), 1);
        assert!(second.next.is_none());
    }
);

storage_test!(
    reloading_the_same_register_changes_nothing,
    |db: Db| async move {
        let f = fixture(db).await;
        let op = Request::operator();
        let batch = vec![professional("p1", "Weber", Profession::Midwife, "Diekirch")];
        f.dir.upsert(&op, &batch).await.unwrap();
        let changes = f.dir.changes_after(None, 100).await.unwrap().len();
        let again = f.dir.upsert(&op, &batch).await.unwrap();
        assert_eq!(
            again,
            BatchOutcome {
                unchanged: 1,
                ..Default::default()
            }
        );
        assert_eq!(f.dir.changes_after(None, 100).await.unwrap().len(), changes);
    }
);

storage_test!(
    register_updates_publish_change_events,
    |db: Db| async move {
        let f = fixture(db).await;
        let op = Request::operator();
        let mut p = professional("p1", "Weber", Profession::Physician, "Diekirch");
        p.affiliations.push(Affiliation {
            establishment: "chl".into(),
            site: None,
            start: day(2020, 1, 1),
            end: None,
        });
        f.dir.upsert(&op, std::slice::from_ref(&p)).await.unwrap();
        let cursor = f
            .dir
            .changes_after(None, 100)
            .await
            .unwrap()
            .last()
            .unwrap()
            .cursor
            .clone();

        p.authorisation.status = AuthorisationStatus::Suspended;
        p.authorisation.status_since = day(2026, 11, 1);
        p.affiliations[0].end = Some(day(2026, 10, 31));
        f.clock.advance(chrono::Duration::seconds(1));
        f.dir.upsert(&op, std::slice::from_ref(&p)).await.unwrap();
        p.authorisation.status = AuthorisationStatus::Active;
        f.clock.advance(chrono::Duration::seconds(1));
        f.dir.upsert(&op, std::slice::from_ref(&p)).await.unwrap();

        let kinds: Vec<ChangeKind> = f
            .dir
            .changes_after(Some(&cursor), 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                ChangeKind::AuthorisationSuspended,
                ChangeKind::AffiliationEnded,
                ChangeKind::AuthorisationRestored
            ]
        );
    }
);

storage_test!(
    losing_one_quality_never_touches_the_others,
    |db: Db| async move {
        let f = fixture(db).await;
        let op = Request::operator();
        let birth = day(1975, 4, 2);
        let nin = NationalId::from_parts(birth, 42).unwrap();
        let mut pro = professional("p1", "Weber", Profession::Nurse, "Diekirch");
        pro.national_id = Some(nin.clone());
        f.dir.upsert(&op, std::slice::from_ref(&pro)).await.unwrap();
        f.dir
            .upsert_patients(&op, &[patient(birth, 42, "Weber", "Anne")])
            .await
            .unwrap();
        assert_eq!(
            f.dir.qualities_of(&nin).await.unwrap(),
            [Register::Patient, Register::Professional]
        );
        pro.authorisation.status = AuthorisationStatus::Withdrawn;
        pro.authorisation.status_since = day(2026, 11, 1);
        f.dir.upsert(&op, std::slice::from_ref(&pro)).await.unwrap();
        assert_eq!(f.dir.qualities_of(&nin).await.unwrap(), [Register::Patient]);
    }
);

storage_test!(
    the_patient_directory_refuses_and_traces_anonymous_callers,
    |db: Db| async move {
        let f = fixture(db).await;
        let anonymous = Request::new(Caller::Anonymous, Source::default());
        let q = PatientQuery {
            family: Some("weber".into()),
            ..Default::default()
        };
        let err = f
            .dir
            .search_patients(&anonymous, &q, None, 10)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            DirectoryError::Denied(Denied::NotAuthenticated)
        ));
        let err = f.dir.patient(&anonymous, "abc").await.unwrap_err();
        assert!(matches!(err, DirectoryError::Denied(_)));
        let messaging = Request::new(
            Caller::Service {
                name: "mail".into(),
                service: Service::Messaging,
            },
            Source::default(),
        );
        let err = f
            .dir
            .search_patients(&messaging, &q, None, 10)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            DirectoryError::Denied(Denied::ServiceNotEntitled)
        ));
        let denied: Vec<_> = f
            .events()
            .await
            .into_iter()
            .filter(|e| e.kind == EventKind::DirectoryAccessDenied)
            .collect();
        assert_eq!(denied.len(), 3);
        assert!(
            matches!(&denied[0].outcome, Outcome::Denied(code) if code.as_str() == "not-authenticated")
        );
    }
);

storage_test!(every_patient_entry_read_is_traced, |db: Db| async move {
    let f = fixture(db).await;
    let op = Request::operator();
    f.dir
        .upsert_patients(
            &op,
            &[
                patient(day(1980, 1, 2), 1, "Weber", "Anne"),
                patient(day(1980, 1, 2), 2, "Weber", "Marc"),
            ],
        )
        .await
        .unwrap();
    let q = PatientQuery {
        family: Some("web".into()),
        birth_date: Some(day(1980, 1, 2)),
        ..Default::default()
    };
    let page = f
        .dir
        .search_patients(&professional_caller(), &q, None, 10)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let one = f
        .dir
        .patient(&dsp_service(), &page.items[0].id)
        .await
        .unwrap();
    assert_eq!(one.birth_name, "Weber");
    let reads: Vec<_> = f
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::DirectoryPatientRead)
        .collect();
    assert_eq!(reads.len(), 3, "two by the search, one by the read");
    assert_eq!(
        reads[2].actor.client_system.as_ref().unwrap().as_str(),
        "dsp"
    );
    assert_eq!(reads[0].actor.quality, Some(Quality::Professional));
    assert!(reads.iter().all(|e| e.patient.is_some()));
    // A search without criteria would list the whole directory: refused.
    let err = f
        .dir
        .search_patients(&professional_caller(), &PatientQuery::default(), None, 10)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), sante_types::ErrorKind::Invalid, "{err:?}");
});

storage_test!(
    a_patient_confirms_only_a_person_he_names_and_nobody_else_does,
    |db: Db| async move {
        let f = fixture(db).await;
        let op = Request::operator();
        let anne = patient(day(1980, 1, 2), 1, "Weber", "Anne");
        let nin = anne.national_id.clone().unwrap().to_string();
        f.dir.upsert_patients(&op, &[anne]).await.unwrap();
        let as_patient = Request::new(
            Caller::Person {
                account: "acc-holder".into(),
                quality: Quality::Patient,
                assurance: LevelOfAssurance::Substantial,
                credential: CredentialKind::PasswordTotp,
                roles: vec![],
                system: None,
            },
            Source::default(),
        );
        let found = f
            .dir
            .confirm_patient(&as_patient, &nin, "WEBER")
            .await
            .unwrap()
            .expect("Anne Weber");
        assert_eq!(found.name, "Anne Weber");
        // Another name, or no number: nothing, and nothing else said.
        for (n, family) in [(nin.as_str(), "Schmit"), ("", "Weber"), (nin.as_str(), " ")] {
            assert_eq!(
                f.dir.confirm_patient(&as_patient, n, family).await.unwrap(),
                None
            );
        }
        // Professionals and services have their own ways; this one is a patient's.
        for other in [professional_caller(), dsp_service()] {
            let err = f
                .dir
                .confirm_patient(&other, &nin, "Weber")
                .await
                .unwrap_err();
            assert_eq!(err.kind(), sante_types::ErrorKind::Denied, "{err:?}");
        }
    }
);

storage_test!(
    search_before_create_links_reviews_or_creates,
    |db: Db| async move {
        let f = fixture(db).await;
        let op = Request::operator();
        f.dir
            .upsert_patients(&op, &[patient(day(1980, 1, 2), 1, "Weber", "Anne")])
            .await
            .unwrap();
        let req = dsp_service();
        // Same person declared without a number, name with an accent and a typo in the street.
        let mut same = patient(day(1980, 1, 2), 1, "Wéber", "Anne");
        same.national_id = None;
        same.status = IdentityStatus::Provisional;
        let c = f.dir.create_patient(&req, same).await.unwrap();
        let Creation::Existing(existing) = c else {
            panic!("expected the existing identity, got {c:?}")
        };
        assert!(existing.national_id.is_some());
        // Same names, same year and town, another birth day: review.
        let mut lookalike = patient(day(1980, 1, 2), 1, "Weber", "Anne");
        lookalike.national_id = None;
        lookalike.birth_date = Some(day(1980, 9, 23));
        lookalike.address = Some(Address {
            town: Some("Luxembourg".into()),
            ..Address::default()
        });
        lookalike.status = IdentityStatus::Provisional;
        let c = f.dir.create_patient(&req, lookalike).await.unwrap();
        let Creation::CreatedForReview(created, with) = c else {
            panic!("expected a review, got {c:?}")
        };
        assert!(created.doubtful);
        assert_eq!(with, std::slice::from_ref(&existing.id));
        // Somebody else entirely.
        let mut other = patient(day(2001, 7, 8), 5, "Rodrigues", "Tiago");
        other.national_id = None;
        let c = f.dir.create_patient(&req, other).await.unwrap();
        assert!(matches!(c, Creation::Created(_)));
        assert_eq!(f.dir.review_queue(&officer(), 10).await.unwrap().len(), 1);
    }
);

storage_test!(
    merges_are_for_identity_vigilance_and_reversible,
    |db: Db| async move {
        let f = fixture(db).await;
        let op = Request::operator();
        f.dir
            .upsert_patients(
                &op,
                &[
                    patient(day(1980, 1, 2), 1, "Weber", "Anne"),
                    patient(day(1980, 1, 2), 2, "Weber", "Anne-Marie"),
                ],
            )
            .await
            .unwrap();
        let q = PatientQuery {
            family: Some("weber".into()),
            birth_date: Some(day(1980, 1, 2)),
            ..Default::default()
        };
        let ids: Vec<String> = f
            .dir
            .search_patients(&dsp_service(), &q, None, 10)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|p| p.id)
            .collect();
        let (a, b) = (&ids[0], &ids[1]);
        for refused in [Request::operator(), dsp_service(), professional_caller()] {
            let err = f.dir.merge(&refused, a, b).await.unwrap_err();
            assert!(
                matches!(err, DirectoryError::Denied(Denied::NotIdentityVigilance)),
                "{:?}",
                refused.caller
            );
        }
        let merge = f.dir.merge(&officer(), a, b).await.unwrap();
        assert_eq!(
            f.dir.patient(&dsp_service(), b).await.unwrap().id,
            *a,
            "reads follow the merge"
        );
        let after = f
            .dir
            .search_patients(&dsp_service(), &q, None, 10)
            .await
            .unwrap();
        assert_eq!(
            after.items.len(),
            1,
            "the merged identity is no longer listed"
        );
        let err = f.dir.unmerge(&dsp_service(), &merge).await.unwrap_err();
        assert!(matches!(err, DirectoryError::Denied(_)));
        f.dir.unmerge(&officer(), &merge).await.unwrap();
        assert_eq!(f.dir.patient(&dsp_service(), b).await.unwrap().id, *b);
        let err = f.dir.unmerge(&officer(), &merge).await.unwrap_err();
        assert!(matches!(err, DirectoryError::Conflict(_)));
        let kinds: Vec<EventKind> = f.events().await.into_iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&EventKind::DirectoryIdentityMerged));
        assert!(kinds.contains(&EventKind::DirectoryIdentityUnmerged));
    }
);

storage_test!(
    agents_are_purged_twelve_months_after_their_mission,
    |db: Db| async move {
        let f = fixture(db).await;
        let op = Request::operator();
        let agent = |id: &str, until: Option<NaiveDate>| Agent {
            id: id.into(),
            national_id: None,
            family_name: "Schmit".into(),
            given_names: vec!["Paul".into()],
            organisation: "CNS".into(),
            function: "clerk".into(),
            requesting_organisation: "CNS".into(),
            valid_from: day(2020, 1, 1),
            valid_until: until,
            roles: vec![],
            contact: Contact::default(),
        };
        f.dir
            .upsert(
                &op,
                &[
                    agent("a-gone", Some(day(2025, 11, 1))),
                    agent("a-recent", Some(day(2026, 1, 1))),
                    agent("a-active", None),
                ],
            )
            .await
            .unwrap();
        assert_eq!(f.dir.purge_agents(&op).await.unwrap(), 1);
        assert!(matches!(
            f.dir.agent("a-gone").await,
            Err(DirectoryError::NotFound(_))
        ));
        f.dir.agent("a-recent").await.unwrap();
        f.clock.advance(chrono::Duration::days(40));
        assert_eq!(f.dir.purge_agents(&op).await.unwrap(), 1);
        f.dir.agent("a-active").await.unwrap();
        let err = f.dir.purge_agents(&dsp_service()).await.unwrap_err();
        assert!(matches!(err, DirectoryError::Denied(Denied::OperatorOnly)));
    }
);

storage_test!(
    an_invalid_entry_leaves_the_batch_unwritten,
    |db: Db| async move {
        let f = fixture(db).await;
        let op = Request::operator();
        let good = professional("p1", "Weber", Profession::Nurse, "Diekirch");
        let mut bad = professional("p2", "Weber", Profession::Nurse, "Diekirch");
        bad.specialities.push("astrology".into());
        let err = f.dir.upsert(&op, &[good, bad]).await.unwrap_err();
        assert!(matches!(err, DirectoryError::Invalid(e) if e.field == "specialities"));
        assert_eq!(f.dir.counts().await.unwrap()[0].1, 0);
    }
);

const GIVEN: [&str; 12] = [
    "Anne", "Marc", "Paul", "Sophie", "Luc", "Claire", "Yves", "Nadine", "Tom", "Lea", "Jean",
    "Mia",
];

/// Twelve Webers born the same day, and one born another day.
async fn webers(f: &Fixture) {
    let mut people: Vec<Patient> = GIVEN
        .iter()
        .enumerate()
        .map(|(i, given)| patient(day(1980, 1, 2), i as u16 + 1, "Weber", given))
        .collect();
    people.push(patient(day(1990, 3, 4), 1, "Weber", "Anne"));
    let done = f
        .dir
        .upsert_patients(&Request::operator(), &people)
        .await
        .unwrap();
    assert_eq!(done.created, 13, "{done:?}");
}

fn refusals(events: &[AuditEvent], reason: &str) -> usize {
    events
        .iter()
        .filter(|e| e.kind == EventKind::DirectoryAccessDenied)
        .filter(|e| matches!(&e.outcome, Outcome::Denied(code) if code.as_str() == reason))
        .count()
}

storage_test!(
    professionals_and_services_identify_one_patient_at_a_time,
    |db: Db| async move {
        let f = fixture(db).await;
        webers(&f).await;
        let q = |family: Option<&str>, birth: Option<NaiveDate>, sex: Option<Sex>| PatientQuery {
            family: family.map(str::to_owned),
            birth_date: birth,
            sex,
            ..Default::default()
        };
        let born = Some(day(1980, 1, 2));
        // (query, professional's result: Some(entries) or refused, operator's entries)
        let rows = [
            (q(Some("weber"), None, None), None, 13),
            (q(None, None, Some(Sex::Female)), None, 13),
            (q(Some("w"), born, None), None, 12),
            (q(None, born, None), None, 12),
            (q(Some("weber"), born, None), Some(10), 12),
            (q(Some("WEB"), Some(day(1990, 3, 4)), None), Some(1), 1),
        ];
        for (query, professional, operator) in rows {
            for caller in [professional_caller(), dsp_service()] {
                let got = f.dir.search_patients(&caller, &query, None, 500).await;
                match professional {
                    None => assert!(
                        matches!(got, Err(DirectoryError::Undiscriminating)),
                        "{query:?}: {got:?}"
                    ),
                    Some(n) => assert_eq!(got.unwrap().items.len(), n, "{query:?}"),
                }
            }
            let staff = f
                .dir
                .search_patients(&Request::operator(), &query, None, 500)
                .await
                .unwrap();
            assert_eq!(staff.items.len(), operator, "{query:?}");
        }
        let by_nin = PatientQuery {
            national_id: NationalId::from_parts(day(1980, 1, 2), 3).map(|n| n.to_string()),
            ..Default::default()
        };
        let found = f
            .dir
            .search_patients(&professional_caller(), &by_nin, None, 10)
            .await
            .unwrap();
        assert_eq!(found.items.len(), 1);
        // $match asks the same: a name with a birth date, or the national number.
        let mut vague = patient(day(1980, 1, 2), 1, "Weber", "Anne");
        vague.national_id = None;
        vague.birth_date = None;
        let got = f
            .dir
            .match_patient(&professional_caller(), &vague, 50)
            .await;
        assert!(
            matches!(got, Err(DirectoryError::Undiscriminating)),
            "{got:?}"
        );
        vague.birth_date = Some(day(1980, 1, 2));
        let matched = f
            .dir
            .match_patient(&professional_caller(), &vague, 50)
            .await
            .unwrap();
        assert!(
            !matched.is_empty() && matched.len() <= 10,
            "{}",
            matched.len()
        );
        // Each broad search was refused and traced with its reason; the caller is told
        // only what a search must name.
        let events = f.events().await;
        assert_eq!(refusals(&events, "broad-search"), 9);
        assert_eq!(
            DirectoryError::Undiscriminating.to_string(),
            "identify the patient: give the national number, or the family name with the birth date"
        );
    }
);

storage_test!(
    a_caller_past_its_hourly_allowance_is_refused_and_traced,
    |db: Db| async move {
        let f = fixture(db).await;
        webers(&f).await;
        let dir = f.dir.clone().with_lookup_limits(LookupLimits {
            person_per_hour: 3,
            service_per_hour: 5,
        });
        let query = PatientQuery {
            family: Some("weber".into()),
            birth_date: Some(day(1990, 3, 4)),
            ..Default::default()
        };
        let id = dir
            .search_patients(&professional_caller(), &query, None, 10)
            .await
            .unwrap()
            .items[0]
            .id
            .clone();
        dir.patient(&professional_caller(), &id).await.unwrap();
        dir.patient(&professional_caller(), &id).await.unwrap();
        for _ in 0..2 {
            let got = dir.patient(&professional_caller(), &id).await;
            assert!(matches!(got, Err(DirectoryError::Throttled)), "{got:?}");
            let got = dir
                .search_patients(&professional_caller(), &query, None, 10)
                .await;
            assert!(matches!(got, Err(DirectoryError::Throttled)), "{got:?}");
        }
        assert_eq!(
            DirectoryError::Throttled.kind(),
            sante_types::ErrorKind::Throttled
        );
        // Another caller has his own allowance; the directory's staff have none.
        dir.patient(&dsp_service(), &id).await.unwrap();
        for _ in 0..5 {
            dir.patient(&Request::operator(), &id).await.unwrap();
        }
        assert_eq!(refusals(&f.events().await, "lookup-volume"), 4);
        // The next hour, a new allowance.
        f.clock.advance(chrono::Duration::minutes(61));
        dir.patient(&professional_caller(), &id).await.unwrap();
    }
);
