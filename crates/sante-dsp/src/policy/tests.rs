//! The access decision, cell by cell and refusal by refusal.

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::model::{Controls, ReferentDeclaration, Restriction};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
}

fn record(state: RecordState) -> CareRecord {
    CareRecord {
        holder: "pat-1".into(),
        state,
        created: now() - Duration::days(100),
        letter_sent: now() - Duration::days(100),
        activated: Some(now() - Duration::days(90)),
        closure: None,
        last_access: now() - Duration::days(1),
        organ_donation_asked: true,
        first_professional_access: None,
        controls: Controls::default(),
        referents: vec![],
    }
}

fn pro(category: ProfessionalCategory) -> ProfessionalFacts {
    ProfessionalFacts {
        id: "pro-1".into(),
        category,
        authorised: true,
        via_establishment: None,
        affiliated: false,
        system_attested_for_dsp: false,
    }
}

fn consultation(professional: &str) -> CareRelationship {
    CareRelationship {
        id: "rel-1".into(),
        record: "pat-1".into(),
        kind: CareKind::Consultation,
        professional: Some(professional.into()),
        establishment: None,
        start: now() - Duration::days(1),
        end: now() + Duration::days(14),
        renewals: 0,
        stay_ended: None,
        revoked: None,
    }
}

fn facts<'a>(
    role: Role,
    record: &'a CareRecord,
    relationships: &'a [CareRelationship],
) -> Facts<'a> {
    Facts {
        role,
        assurance: LevelOfAssurance::High,
        record,
        relationships,
        now: now(),
    }
}

/// The whole matrix for read and for filing: 11 columns × 19 categories × 2.
#[test]
fn every_cell_of_the_matrix_for_read_and_for_filing() {
    let mut checked = 0;
    for column in ProfessionalCategory::ALL {
        // The referring doctor is a physician declared for the holder; the others are
        // in a consultation.
        let (mut rec, base, rels) = if column == ProfessionalCategory::Referent {
            let mut r = record(RecordState::Active);
            r.referents.push(ReferentDeclaration {
                professional: "pro-1".into(),
                from: now().date_naive() - Duration::days(400),
                until: None,
            });
            (r, ProfessionalCategory::Physician, vec![])
        } else {
            (
                record(RecordState::Active),
                column,
                vec![consultation("pro-1")],
            )
        };
        rec.controls = Controls::default();
        for category in DataCategory::ALL {
            let f = facts(Role::Professional(pro(base)), &rec, &rels);
            let expected = right(category, column);
            let read = decide(
                &f,
                Intent::Read {
                    category,
                    item: "item-1",
                },
            );
            assert_eq!(
                read.is_permit(),
                expected >= Right::Read,
                "read {category:?} as {column:?}: {read:?}"
            );
            let file = decide(&f, Intent::File { category });
            let may_file = expected == Right::Write && category != DataCategory::PersonalExpression;
            assert_eq!(
                file.is_permit(),
                may_file,
                "file {category:?} as {column:?}: {file:?}"
            );
            if !file.is_permit() {
                assert!(matches!(
                    file,
                    Decision::Deny("matrix" | "holder_writes_personal_space_only")
                ));
            }
            checked += 2;
        }
    }
    assert_eq!(checked, 11 * 19 * 2);
}

#[test]
fn the_holder_reads_everything_and_writes_his_personal_space() {
    let rec = record(RecordState::Active);
    for role in [Role::Holder, Role::Assistant] {
        for category in DataCategory::ALL {
            let f = Facts {
                assurance: LevelOfAssurance::Substantial,
                ..facts(role.clone(), &rec, &[])
            };
            assert!(
                decide(
                    &f,
                    Intent::Read {
                        category,
                        item: "i"
                    }
                )
                .is_permit()
            );
            assert_eq!(
                decide(&f, Intent::File { category }).is_permit(),
                category == DataCategory::PersonalExpression
            );
        }
        let low = Facts {
            assurance: LevelOfAssurance::Low,
            ..facts(role.clone(), &rec, &[])
        };
        assert_eq!(
            decide(&low, Intent::Search),
            Decision::Deny("assurance_too_low")
        );
    }
    // Another patient and an agent never.
    for (role, reason) in [
        (Role::OtherPatient, "not_the_holder"),
        (Role::Agent, "quality_not_served"),
    ] {
        let f = facts(role, &rec, &[]);
        assert_eq!(decide(&f, Intent::Search), Decision::Deny(reason));
        assert_eq!(
            decide(
                &f,
                Intent::Read {
                    category: DataCategory::PersonalExpression,
                    item: "i"
                }
            ),
            Decision::Deny(reason)
        );
    }
}

#[test]
fn professionals_are_refused_outside_care_blocked_withdrawn_or_weakly_logged_in() {
    let rec = record(RecordState::Active);
    let rels = vec![consultation("pro-1")];
    let read = Intent::Read {
        category: DataCategory::Analyses,
        item: "i",
    };
    let physician = || pro(ProfessionalCategory::Physician);
    // Outside any care relationship, or with someone else's.
    let others = vec![consultation("pro-2")];
    assert_eq!(
        decide(&facts(Role::Professional(physician()), &rec, &others), read),
        Decision::Deny("no_care_relationship")
    );
    // An expired relationship.
    let mut old = consultation("pro-1");
    old.end = now() - Duration::seconds(1);
    assert_eq!(
        decide(&facts(Role::Professional(physician()), &rec, &[old]), read),
        Decision::Deny("no_care_relationship")
    );
    // A withdrawn authorisation.
    let mut withdrawn = physician();
    withdrawn.authorised = false;
    assert_eq!(
        decide(&facts(Role::Professional(withdrawn), &rec, &rels), read),
        Decision::Deny("authorisation_withdrawn")
    );
    // A low or substantial login.
    for level in [LevelOfAssurance::Low, LevelOfAssurance::Substantial] {
        let f = Facts {
            assurance: level,
            ..facts(Role::Professional(physician()), &rec, &rels)
        };
        assert_eq!(decide(&f, read), Decision::Deny("assurance_too_low"));
    }
    // Blocked by the holder: even the referring doctor.
    let mut blocked = record(RecordState::Active);
    blocked.controls.blocked.push("pro-1".into());
    blocked.referents.push(ReferentDeclaration {
        professional: "pro-1".into(),
        from: now().date_naive(),
        until: None,
    });
    assert_eq!(
        decide(
            &facts(Role::Professional(physician()), &blocked, &rels),
            read
        ),
        Decision::Deny("blocked_by_holder")
    );
    // Professionals never change the holder's controls.
    assert_eq!(
        decide(
            &facts(Role::Professional(physician()), &rec, &rels),
            Intent::HolderControls
        ),
        Decision::Deny("holder_only")
    );
    // The history is the referring doctor's only.
    assert_eq!(
        decide(
            &facts(Role::Professional(physician()), &rec, &rels),
            Intent::History
        ),
        Decision::Deny("matrix")
    );
}

#[test]
fn establishment_grants_reach_staff_through_the_attested_system_only() {
    let rec = record(RecordState::Active);
    let mut emergency = consultation("unused");
    emergency.kind = CareKind::Emergency;
    emergency.professional = None;
    emergency.establishment = Some("est-1".into());
    let rels = vec![emergency];
    let read = Intent::Read {
        category: DataCategory::Allergies,
        item: "i",
    };
    // Through the portal (no system): no grant.
    assert_eq!(
        decide(
            &facts(
                Role::Professional(pro(ProfessionalCategory::Nurse)),
                &rec,
                &rels
            ),
            read
        ),
        Decision::Deny("no_care_relationship")
    );
    let staff = |affiliated: bool, attested: bool, establishment: &str| ProfessionalFacts {
        via_establishment: Some(establishment.into()),
        affiliated,
        system_attested_for_dsp: attested,
        ..pro(ProfessionalCategory::Nurse)
    };
    assert!(
        decide(
            &facts(Role::Professional(staff(true, true, "est-1")), &rec, &rels),
            read
        )
        .is_permit()
    );
    assert_eq!(
        decide(
            &facts(Role::Professional(staff(false, true, "est-1")), &rec, &rels),
            read
        ),
        Decision::Deny("no_care_relationship")
    );
    assert_eq!(
        decide(
            &facts(Role::Professional(staff(true, true, "est-2")), &rec, &rels),
            read
        ),
        Decision::Deny("no_care_relationship")
    );
    assert_eq!(
        decide(
            &facts(Role::Professional(staff(true, false, "est-1")), &rec, &rels),
            read
        ),
        Decision::Deny("system_not_attested")
    );
    // No break-glass: the holder's block holds in the emergency department.
    let mut blocked = record(RecordState::Active);
    blocked.controls.blocked.push("pro-1".into());
    assert_eq!(
        decide(
            &facts(
                Role::Professional(staff(true, true, "est-1")),
                &blocked,
                &rels
            ),
            read
        ),
        Decision::Deny("blocked_by_holder")
    );
}

#[test]
fn the_state_of_the_dsp_and_the_holders_choices_apply() {
    let rels = vec![consultation("pro-1")];
    let read = Intent::Read {
        category: DataCategory::Analyses,
        item: "item-7",
    };
    let physician = Role::Professional(pro(ProfessionalCategory::Physician));
    // Not activated: closed to professionals for 30 days after the letter.
    let mut fresh = record(RecordState::Created);
    fresh.letter_sent = now() - Duration::days(29);
    assert_eq!(
        decide(&facts(physician.clone(), &fresh, &rels), read),
        Decision::Deny("dsp_not_yet_open")
    );
    fresh.letter_sent = now() - Duration::days(30);
    assert!(decide(&facts(physician.clone(), &fresh, &rels), read).is_permit());
    // Closed: inaccessible, even to the holder, who may only reopen.
    let closed = record(RecordState::Closed);
    assert_eq!(
        decide(&facts(physician.clone(), &closed, &rels), read),
        Decision::Deny("dsp_closed")
    );
    let holder = Facts {
        assurance: LevelOfAssurance::Substantial,
        ..facts(Role::Holder, &closed, &[])
    };
    assert_eq!(decide(&holder, read), Decision::Deny("dsp_closed"));
    assert!(decide(&holder, Intent::HolderControls).is_permit());
    // Restricted item: only once the holder acknowledged the health risks.
    let mut restricted = record(RecordState::Active);
    restricted.controls.restrictions.push(Restriction {
        item: "item-7".into(),
        professional: "pro-1".into(),
        since: now(),
    });
    assert!(decide(&facts(physician.clone(), &restricted, &rels), read).is_permit());
    restricted.controls.risk_acknowledged = Some(now());
    assert_eq!(
        decide(&facts(physician.clone(), &restricted, &rels), read),
        Decision::Deny("restricted_by_holder")
    );
    assert!(
        decide(
            &facts(physician.clone(), &restricted, &rels),
            Intent::Read {
                category: DataCategory::Analyses,
                item: "item-8"
            }
        )
        .is_permit()
    );
    // Objection to filing during this care.
    let mut objecting = record(RecordState::Active);
    objecting.controls.filing_objections.push("rel-1".into());
    assert_eq!(
        decide(
            &facts(physician, &objecting, &rels),
            Intent::File {
                category: DataCategory::Analyses
            }
        ),
        Decision::Deny("holder_objects_to_filing")
    );
}
