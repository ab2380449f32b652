//! Terms on both storage backends, with a real audit trail and a clock moved by hand.

use chrono::{Duration, TimeZone};
use sante_audit::testing::TestPlatform;
use sante_store::storage_test;
use sante_types::ManualClock;

use super::*;

fn texts(word: &str) -> Texts {
    Texts {
        fr: format!("{word} (fr)"),
        de: format!("{word} (de)"),
        en: format!("{word} (en)"),
    }
}

async fn terms(db: Db) -> (Terms, Arc<ManualClock>) {
    let platform = TestPlatform::new(
        db.clone(),
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
    )
    .await;
    let clock = platform.clock.clone();
    (Terms::new(db, platform.recorder(), clock.clone()), clock)
}

storage_test!(
    a_new_version_must_be_accepted_before_the_service_is_used_again,
    |db: Db| async move {
        let (terms, clock) = terms(db).await;
        let src = Source::default();
        // Nothing published: nothing to accept.
        terms
            .require(Actor::default(), "acc-1", Service::Dsp, &src)
            .await
            .unwrap();
        let general = terms
            .publish(Document::General, texts("Title"), texts("General v1"), &src)
            .await
            .unwrap();
        let dsp = terms
            .publish(
                Document::Service(Service::Dsp),
                texts("DSP"),
                texts("DSP v1"),
                &src,
            )
            .await
            .unwrap();
        assert_eq!((general.version, dsp.version), (1, 1));
        let pending = terms.pending("acc-1", Service::Dsp).await.unwrap();
        assert_eq!(
            pending.iter().map(|v| v.document).collect::<Vec<_>>(),
            vec![Document::General, Document::Service(Service::Dsp)]
        );
        assert!(matches!(
            terms.require(Actor::default(), "acc-1", Service::Dsp, &src).await,
            Err(TermsError::NotAccepted(v)) if v.len() == 2
        ));
        // Messaging has no particular terms yet: the general ones suffice.
        terms
            .accept(Actor::default(), "acc-1", Document::General, 1, "de", &src)
            .await
            .unwrap();
        terms
            .require(Actor::default(), "acc-1", Service::Messaging, &src)
            .await
            .unwrap();
        assert!(
            terms
                .require(Actor::default(), "acc-1", Service::Dsp, &src)
                .await
                .is_err()
        );
        terms
            .accept(
                Actor::default(),
                "acc-1",
                Document::Service(Service::Dsp),
                1,
                "fr",
                &src,
            )
            .await
            .unwrap();
        terms
            .require(Actor::default(), "acc-1", Service::Dsp, &src)
            .await
            .unwrap();
        // The acceptance is recorded: account, version, time, language.
        let recorded = terms
            .acceptance("acc-1", Document::General, 1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(recorded.lang, "de");
        assert_eq!(recorded.at, clock.now());

        // A new version applies from its publication.
        clock.advance(Duration::days(30));
        let v2 = terms
            .publish(Document::General, texts("Title"), texts("General v2"), &src)
            .await
            .unwrap();
        assert_eq!(v2.version, 2);
        assert!(
            terms
                .require(Actor::default(), "acc-1", Service::Dsp, &src)
                .await
                .is_err()
        );
        assert!(
            terms
                .accepted_before("acc-1", Document::General, 2)
                .await
                .unwrap()
        );
        assert!(
            !terms
                .accepted_before("acc-2", Document::General, 2)
                .await
                .unwrap()
        );
        // Only the current version can be accepted.
        assert!(matches!(
            terms
                .accept(Actor::default(), "acc-1", Document::General, 1, "fr", &src)
                .await,
            Err(TermsError::NotCurrent(_))
        ));
        terms
            .accept(Actor::default(), "acc-1", Document::General, 2, "fr", &src)
            .await
            .unwrap();
        terms
            .require(Actor::default(), "acc-1", Service::Dsp, &src)
            .await
            .unwrap();
        // Accepting twice keeps the first acceptance.
        clock.advance(Duration::hours(1));
        let again = terms
            .accept(Actor::default(), "acc-1", Document::General, 2, "en", &src)
            .await
            .unwrap();
        assert_eq!(again.lang, "fr");
        // Another account is not concerned by acc-1's acceptance.
        assert!(
            terms
                .require(Actor::default(), "acc-2", Service::Dsp, &src)
                .await
                .is_err()
        );
        // Every text is needed.
        let mut missing = texts("x");
        missing.de = " ".into();
        assert!(matches!(
            terms
                .publish(Document::General, texts("t"), missing, &src)
                .await,
            Err(TermsError::Invalid(_))
        ));
        assert_eq!(
            terms
                .version(Document::General, 1)
                .await
                .unwrap()
                .unwrap()
                .body
                .get("en"),
            "General v1 (en)"
        );
    }
);
