//! The identity service on both storage backends, with a real audit trail and a clock
//! moved by hand.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use sante_audit::testing::TestPlatform;
use sante_audit::{AuditEvent, EventKind, Outcome, Source};
use sante_store::{Db, storage_test};
use sante_types::{Clock, CredentialKind, LevelOfAssurance, ManualClock, Quality, Service};

use super::*;

const NIN: &str = "1978040912345";
const NO_CODE: &str = "000000";
const PASSWORD: &str = "correct horse battery";

struct Fixture {
    identity: Identity,
    db: Db,
    clock: Arc<ManualClock>,
    platform: TestPlatform,
}

async fn fixture(db: Db) -> Fixture {
    let platform = TestPlatform::new(
        db.clone(),
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
    )
    .await;
    let identity = Identity::new(db.clone(), platform.recorder(), platform.clock.clone());
    Fixture {
        identity,
        db,
        clock: platform.clock.clone(),
        platform,
    }
}

fn web() -> Source {
    Source::default()
}

impl Fixture {
    async fn events(&self) -> Vec<AuditEvent> {
        self.platform.events("platform").await
    }

    async fn outcomes(&self, kind: EventKind) -> Vec<Outcome> {
        self.events()
            .await
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.outcome)
            .collect()
    }

    fn unix(&self) -> u64 {
        self.clock.now().timestamp() as u64
    }

    /// The code the holder's phone shows now.
    fn code(&self, seed: &str) -> String {
        secrets::totp_code(seed, self.unix()).unwrap()
    }

    /// A patient account activated with password and authenticator; returns it and
    /// its authenticator seed.
    async fn active_patient(&self, subject: &str, nin: &str) -> (Account, String) {
        let letter = self
            .identity
            .create_account(
                &Administrator::Operator,
                NewAccount {
                    quality: Quality::Patient,
                    subject: subject.into(),
                    national_id: nin.into(),
                },
                &web(),
            )
            .await
            .unwrap();
        let seed = secrets::new_totp_secret();
        let account = self
            .identity
            .activate(
                &Activation {
                    login: &letter.account.login,
                    national_id: nin,
                    code: &letter.code,
                    email: "marie@example.lu",
                    password: PASSWORD,
                    totp_seed: &seed,
                    totp_code: &self.code(&seed),
                },
                &web(),
            )
            .await
            .unwrap();
        // The next login needs a fresh code: move to the next time step.
        self.clock.advance(Duration::seconds(30));
        (account, seed)
    }

    async fn login(
        &self,
        account: &Account,
        password: &str,
        code: Option<&str>,
    ) -> IdentityResult<(Zeroizing<String>, Authenticated)> {
        self.identity
            .login_password(
                &PasswordLogin {
                    login: &account.login,
                    quality: account.quality,
                    password,
                    totp_code: code,
                    client: "test",
                },
                &web(),
            )
            .await
    }
}

fn activation<'a>(
    letter: &'a ActivationLetter,
    code: &'a str,
    nin: &'a str,
    seed: &'a str,
    totp_code: &'a str,
) -> Activation<'a> {
    Activation {
        login: &letter.account.login,
        national_id: nin,
        code,
        email: "marie@example.lu",
        password: PASSWORD,
        totp_seed: seed,
        totp_code,
    }
}

storage_test!(
    activation_needs_the_letters_code_and_the_persons_number,
    |db: Db| async move {
        let f = fixture(db).await;
        let letter = f
            .identity
            .create_account(
                &Administrator::Operator,
                NewAccount {
                    quality: Quality::Patient,
                    subject: "pat-1".into(),
                    national_id: NIN.into(),
                },
                &web(),
            )
            .await
            .unwrap();
        assert!(letter.account.login.starts_with("P-"));
        assert!(matches!(letter.account.state, AccountState::Pending { .. }));
        // Stored: only the code's hash.
        let raw =
            f.db.get(ACCOUNTS, &letter.account.id)
                .await
                .unwrap()
                .unwrap();
        let stored = String::from_utf8(raw.value).unwrap();
        assert!(!stored.contains(letter.code.as_str()));
        assert!(!stored.contains(NIN));

        let seed = secrets::new_totp_secret();
        let totp = f.code(&seed);
        // Wrong code, wrong national number: refused, traced, nothing activated.
        for (code, nin) in [
            ("AAAA-BBBB-CCCC-DDDD", NIN),
            (letter.code.as_str(), "1978040912346"),
        ] {
            assert!(matches!(
                f.identity
                    .activate(&activation(&letter, code, nin, &seed, NO_CODE), &web())
                    .await,
                Err(IdentityError::BadActivation)
            ));
        }
        // A weak password or a bad address is named and changes nothing.
        let mut weak = activation(&letter, &letter.code, NIN, &seed, NO_CODE);
        weak.password = "short";
        assert!(
            matches!(f.identity.activate(&weak, &web()).await, Err(IdentityError::Invalid(m)) if m.contains("12"))
        );
        let mut bad_mail = activation(&letter, &letter.code, NIN, &seed, NO_CODE);
        bad_mail.email = "marie at example";
        assert!(
            matches!(f.identity.activate(&bad_mail, &web()).await, Err(IdentityError::Invalid(m)) if m.contains("e-mail"))
        );
        // The authenticator must prove it holds the seed.
        assert!(matches!(
            f.identity
                .activate(
                    &activation(&letter, &letter.code, NIN, &seed, NO_CODE),
                    &web()
                )
                .await,
            Err(IdentityError::Invalid(_))
        ));
        let lower = letter.code.to_lowercase();
        let good = activation(&letter, &lower, NIN, &seed, &totp);
        let account = f.identity.activate(&good, &web()).await.unwrap();
        assert_eq!(account.state, AccountState::Active);
        assert_eq!(account.methods(), vec![CredentialKind::PasswordTotp]);
        // A code works once.
        assert!(matches!(
            f.identity.activate(&good, &web()).await,
            Err(IdentityError::BadActivation)
        ));
        let failures = f.outcomes(EventKind::IdentityActivationFailed).await;
        assert!(failures.contains(&Outcome::Failure(Token::code("wrong_code_or_identifier"))));
        assert!(failures.contains(&Outcome::Failure(Token::code("not_pending"))));
        assert_eq!(
            f.outcomes(EventKind::IdentityAccountActivated).await.len(),
            1
        );
    }
);

storage_test!(
    activation_codes_die_after_five_failures_and_after_ninety_days,
    |db: Db| async move {
        let f = fixture(db).await;
        let new = |subject: &str| NewAccount {
            quality: Quality::Patient,
            subject: subject.into(),
            national_id: NIN.into(),
        };
        let seed = secrets::new_totp_secret();
        let letter = f
            .identity
            .create_account(&Administrator::Operator, new("pat-1"), &web())
            .await
            .unwrap();
        for _ in 0..5 {
            let wrong = activation(&letter, "WRONG", NIN, &seed, NO_CODE);
            assert!(f.identity.activate(&wrong, &web()).await.is_err());
        }
        let code = f.code(&seed);
        let right = activation(&letter, &letter.code, NIN, &seed, &code);
        assert!(matches!(
            f.identity.activate(&right, &web()).await,
            Err(IdentityError::BadActivation)
        ));
        let late = f
            .identity
            .create_account(&Administrator::Operator, new("pat-2"), &web())
            .await
            .unwrap();
        f.clock.advance(Duration::days(91));
        let code = f.code(&seed);
        let right = activation(&late, &late.code, NIN, &seed, &code);
        assert!(matches!(
            f.identity.activate(&right, &web()).await,
            Err(IdentityError::BadActivation)
        ));
        let failures = f.outcomes(EventKind::IdentityActivationFailed).await;
        assert!(failures.contains(&Outcome::Failure(Token::code("code_used_up"))));
        assert!(failures.contains(&Outcome::Failure(Token::code("code_expired"))));
    }
);

storage_test!(
    password_and_one_time_password_give_substantial_assurance,
    |db: Db| async move {
        let f = fixture(db).await;
        let (account, seed) = f.active_patient("pat-1", NIN).await;
        // The password alone is not enough for an account with an authenticator.
        assert!(matches!(
            f.login(&account, PASSWORD, None).await,
            Err(IdentityError::BadCredentials)
        ));
        let code = f.code(&seed);
        let (secret, who) = f.login(&account, PASSWORD, Some(&code)).await.unwrap();
        assert_eq!(who.quality, Quality::Patient);
        assert_eq!(who.assurance, LevelOfAssurance::Substantial);
        assert_eq!(who.credential, CredentialKind::PasswordTotp);
        assert_eq!(f.identity.authenticate(&secret, &web()).await.unwrap(), who);
        // The same code cannot be replayed, even within its 30 seconds.
        assert!(matches!(
            f.login(&account, PASSWORD, Some(&code)).await,
            Err(IdentityError::BadCredentials)
        ));
        // Wrong login, wrong quality: the same answer as a wrong password.
        let mut other = account.clone();
        other.quality = Quality::Professional;
        f.clock.advance(Duration::seconds(30));
        assert!(matches!(
            f.login(&other, PASSWORD, Some(&f.code(&seed))).await,
            Err(IdentityError::BadCredentials)
        ));
        // The session secret is stored hashed only.
        assert!(f.db.get(SESSIONS, &secret).await.unwrap().is_none());
        let events = f.events().await;
        let success = events
            .iter()
            .find(|e| e.kind == EventKind::IdentityLoginSucceeded)
            .unwrap();
        assert_eq!(success.actor.assurance, Some(LevelOfAssurance::Substantial));
        assert_eq!(success.actor.quality, Some(Quality::Patient));
        let json = serde_json::to_string(&events).unwrap();
        assert!(
            !json.contains(PASSWORD) && !json.contains(&code) && !json.contains(&account.login)
        );
    }
);

storage_test!(
    guessing_the_one_time_password_behind_the_right_password_locks_the_account,
    |db: Db| async move {
        let f = fixture(db).await;
        let (account, seed) = f.active_patient("pat-1", NIN).await;
        let right = f.code(&seed);
        // Someone who has the password tries codes: each try is a failed login, so a
        // million codes cannot be walked through; the answer never says which of
        // the two was wrong.
        let wrong: Vec<String> = (0..5u32)
            .map(|i| format!("{:06}", (right.parse::<u32>().unwrap() + 1 + i) % 1_000_000))
            .collect();
        for code in &wrong {
            assert!(matches!(
                f.login(&account, PASSWORD, Some(code)).await,
                Err(IdentityError::BadCredentials)
            ));
        }
        let refused = f.login(&account, PASSWORD, Some(&right)).await;
        assert!(
            matches!(refused, Err(IdentityError::Locked(_))),
            "the right code after five guesses: {refused:?}"
        );
        assert_eq!(f.outcomes(EventKind::IdentityAccountLocked).await.len(), 1);
        // The lock over, the right code of the next step opens the session.
        f.clock.advance(Duration::seconds(61));
        f.login(&account, PASSWORD, Some(&f.code(&seed)))
            .await
            .unwrap();
    }
);

storage_test!(
    failed_logins_lock_the_account_with_growing_delays,
    |db: Db| async move {
        let f = fixture(db).await;
        let (account, seed) = f.active_patient("pat-1", NIN).await;
        for _ in 0..5 {
            assert!(matches!(
                f.login(&account, "wrong password!", Some(&f.code(&seed)))
                    .await,
                Err(IdentityError::BadCredentials)
            ));
        }
        // Locked: even the right credentials are refused.
        let refused = f.login(&account, PASSWORD, Some(&f.code(&seed))).await;
        assert!(
            matches!(refused, Err(IdentityError::Locked(_))),
            "{refused:?}"
        );
        f.clock.advance(Duration::seconds(61));
        // One more failure doubles the delay.
        assert!(
            f.login(&account, "wrong password!", Some(&f.code(&seed)))
                .await
                .is_err()
        );
        f.clock.advance(Duration::seconds(61));
        assert!(matches!(
            f.login(&account, PASSWORD, Some(&f.code(&seed))).await,
            Err(IdentityError::Locked(_))
        ));
        f.clock.advance(Duration::seconds(61));
        f.login(&account, PASSWORD, Some(&f.code(&seed)))
            .await
            .unwrap();
        assert_eq!(f.outcomes(EventKind::IdentityAccountLocked).await.len(), 2);
        assert!(
            f.outcomes(EventKind::IdentityLoginFailed)
                .await
                .contains(&Outcome::Denied(Token::code("locked")))
        );
    }
);

storage_test!(
    a_revoked_credential_is_refused_at_the_very_next_request,
    |db: Db| async move {
        let f = fixture(db).await;
        let (account, seed) = f.active_patient("pat-1", NIN).await;
        let (phone, who) = f
            .login(&account, PASSWORD, Some(&f.code(&seed)))
            .await
            .unwrap();
        f.clock.advance(Duration::seconds(30));
        let (laptop, _) = f
            .login(&account, PASSWORD, Some(&f.code(&seed)))
            .await
            .unwrap();
        assert_eq!(f.identity.sessions(&who).await.unwrap().len(), 2);
        // The phone with its authenticator is stolen: the holder reports it.
        f.identity.report_lost(&who, &web()).await.unwrap();
        for secret in [&phone, &laptop] {
            assert!(f.identity.authenticate(secret, &web()).await.is_err());
        }
        f.clock.advance(Duration::seconds(30));
        assert!(matches!(
            f.login(&account, PASSWORD, Some(&f.code(&seed))).await,
            Err(IdentityError::BadCredentials)
        ));
        assert_eq!(
            f.outcomes(EventKind::IdentityCredentialRevoked).await.len(),
            1
        );
    }
);

storage_test!(
    revoking_one_credential_refuses_sessions_that_used_it,
    |db: Db| async move {
        let f = fixture(db).await;
        let (account, seed) = f.active_patient("pat-1", NIN).await;
        let (secret, _) = f
            .login(&account, PASSWORD, Some(&f.code(&seed)))
            .await
            .unwrap();
        let totp_id = f
            .identity
            .account(&account.id)
            .await
            .unwrap()
            .totp()
            .unwrap()
            .0
            .id
            .clone();
        // Revoke behind the service's back (as another node would) and keep the session
        // record: the session must still be refused, by the credential check.
        let mut stored = f.identity.account(&account.id).await.unwrap();
        let version =
            f.db.get(ACCOUNTS, &account.id)
                .await
                .unwrap()
                .unwrap()
                .version;
        for c in &mut stored.credentials {
            if c.id == totp_id {
                c.revoked = Some(f.clock.now());
            }
        }
        f.identity.save(&stored, version).await.unwrap();
        assert!(matches!(
            f.identity.authenticate(&secret, &web()).await,
            Err(IdentityError::SessionRefused("credential_revoked"))
        ));
        assert!(
            f.outcomes(EventKind::IdentitySessionRefused)
                .await
                .contains(&Outcome::Denied(Token::code("credential_revoked")))
        );
    }
);

storage_test!(
    blocked_accounts_lose_their_sessions_until_unblocked,
    |db: Db| async move {
        let f = fixture(db).await;
        let (account, seed) = f.active_patient("pat-1", NIN).await;
        let (secret, _) = f
            .login(&account, PASSWORD, Some(&f.code(&seed)))
            .await
            .unwrap();
        f.identity
            .block(
                &Administrator::Operator,
                &account.id,
                "fraud_suspected",
                &web(),
            )
            .await
            .unwrap();
        assert!(f.identity.authenticate(&secret, &web()).await.is_err());
        f.clock.advance(Duration::seconds(30));
        assert!(matches!(
            f.login(&account, PASSWORD, Some(&f.code(&seed))).await,
            Err(IdentityError::Blocked)
        ));
        assert!(
            f.identity
                .block(&Administrator::Operator, &account.id, "not a code!", &web())
                .await
                .is_err()
        );
        f.identity
            .unblock(&Administrator::Operator, &account.id, &web())
            .await
            .unwrap();
        f.clock.advance(Duration::seconds(30));
        f.login(&account, PASSWORD, Some(&f.code(&seed)))
            .await
            .unwrap();
    }
);

storage_test!(
    sessions_expire_when_idle_and_when_old,
    |db: Db| async move {
        let f = fixture(db).await;
        let (account, seed) = f.active_patient("pat-1", NIN).await;
        let start = f.clock.now();
        let (secret, _) = f
            .login(&account, PASSWORD, Some(&f.code(&seed)))
            .await
            .unwrap();
        // Active use keeps it alive...
        for _ in 0..8 {
            f.clock.advance(Duration::minutes(14));
            f.identity.authenticate(&secret, &web()).await.unwrap();
        }
        // ... up to the absolute limit of 8 hours.
        for _ in 0..27 {
            f.clock.advance(Duration::minutes(14));
            if f.identity.authenticate(&secret, &web()).await.is_err() {
                break;
            }
        }
        assert!(f.identity.authenticate(&secret, &web()).await.is_err());
        let lived = f.clock.now() - start;
        assert!(lived > Duration::hours(8) && lived <= Duration::hours(8) + Duration::minutes(14));
        f.clock.advance(Duration::seconds(30));
        let (idle, _) = f
            .login(&account, PASSWORD, Some(&f.code(&seed)))
            .await
            .unwrap();
        f.clock.advance(Duration::minutes(16));
        assert!(matches!(
            f.identity.authenticate(&idle, &web()).await,
            Err(IdentityError::NoSession)
        ));
        assert!(matches!(
            f.identity.authenticate("not-a-session", &web()).await,
            Err(IdentityError::NoSession)
        ));
    }
);

storage_test!(
    holders_list_and_end_their_own_sessions_only,
    |db: Db| async move {
        let f = fixture(db).await;
        let (marie, seed) = f.active_patient("pat-1", NIN).await;
        let (paul, paul_seed) = f.active_patient("pat-2", "1981021712345").await;
        let (s1, who) = f
            .login(&marie, PASSWORD, Some(&f.code(&seed)))
            .await
            .unwrap();
        f.clock.advance(Duration::seconds(30));
        let (s2, _) = f
            .login(&marie, PASSWORD, Some(&f.code(&seed)))
            .await
            .unwrap();
        let (_, paul_who) = f
            .login(&paul, PASSWORD, Some(&f.code(&paul_seed)))
            .await
            .unwrap();
        let sessions = f.identity.sessions(&who).await.unwrap();
        assert_eq!(sessions.len(), 2);
        assert!(sessions.iter().all(|s| s.account == marie.id));
        // Paul cannot end Marie's session.
        let first = f.identity.authenticate(&s1, &web()).await.unwrap();
        assert!(matches!(
            f.identity
                .end_session(&paul_who, &first.session, &web())
                .await,
            Err(IdentityError::NotFound(_))
        ));
        f.identity
            .end_session(&who, &first.session, &web())
            .await
            .unwrap();
        assert!(f.identity.authenticate(&s1, &web()).await.is_err());
        f.identity.authenticate(&s2, &web()).await.unwrap();
        f.identity.logout(&s2, &web()).await.unwrap();
        assert!(f.identity.authenticate(&s2, &web()).await.is_err());
    }
);

storage_test!(
    agents_log_in_with_a_password_at_low_assurance_only,
    |db: Db| async move {
        let f = fixture(db).await;
        assert!(
            f.identity
                .create_account(
                    &Administrator::Operator,
                    NewAccount {
                        quality: Quality::Agent,
                        subject: "agt-1".into(),
                        national_id: NIN.into()
                    },
                    &web()
                )
                .await
                .is_err()
        );
        let agent = f
            .identity
            .create_agent_account(
                &Administrator::Operator,
                "agt-1",
                NIN,
                "agent password 1",
                &web(),
            )
            .await
            .unwrap();
        assert!(agent.login.starts_with("A-"));
        let (_, who) = f.login(&agent, "agent password 1", None).await.unwrap();
        assert_eq!(who.assurance, LevelOfAssurance::Low);
        // A low-assurance session never reaches the DSP or messaging; refusals are traced.
        for service in [Service::Dsp, Service::Messaging] {
            assert!(
                f.identity
                    .authorise_service(&who, service, &web())
                    .await
                    .is_err()
            );
        }
        f.identity
            .authorise_service(&who, Service::Directory, &web())
            .await
            .unwrap();
        assert_eq!(f.outcomes(EventKind::IdentityServiceDenied).await.len(), 2);
    }
);

storage_test!(
    a_required_method_change_blocks_logins_after_its_deadline,
    |db: Db| async move {
        let f = fixture(db).await;
        let agent = f
            .identity
            .create_agent_account(
                &Administrator::Operator,
                "agt-1",
                NIN,
                "agent password 1",
                &web(),
            )
            .await
            .unwrap();
        let deadline = f.clock.now() + Duration::days(30);
        f.identity
            .require_method_change(
                &Administrator::Operator,
                &agent.id,
                CredentialKind::WebAuthn,
                deadline,
                &web(),
            )
            .await
            .unwrap();
        // Before the deadline: still allowed (the notice is shown at login).
        f.login(&agent, "agent password 1", None).await.unwrap();
        f.clock.advance(Duration::days(31));
        assert!(matches!(
            f.login(&agent, "agent password 1", None).await,
            Err(IdentityError::MethodChangeOverdue)
        ));
        f.identity
            .unblock(&Administrator::Operator, &agent.id, &web())
            .await
            .unwrap();
        f.login(&agent, "agent password 1", None).await.unwrap();
    }
);

storage_test!(
    a_person_has_one_account_per_quality_and_losing_one_keeps_the_others,
    |db: Db| async move {
        let f = fixture(db).await;
        let (patient, seed) = f.active_patient("pat-1", NIN).await;
        let agent = f
            .identity
            .create_agent_account(
                &Administrator::Operator,
                "agt-1",
                NIN,
                "agent password 1",
                &web(),
            )
            .await
            .unwrap();
        assert_eq!(agent.person, patient.person);
        assert_ne!(agent.id, patient.id);
        // A second account for the same entry and quality is refused.
        assert!(matches!(
            f.identity
                .create_agent_account(
                    &Administrator::Operator,
                    "agt-1",
                    NIN,
                    "agent password 1",
                    &web()
                )
                .await,
            Err(IdentityError::Conflict(_))
        ));
        // Patient credentials do not open the agent account, and the reverse.
        let mut as_agent = patient.clone();
        as_agent.quality = Quality::Agent;
        as_agent.login = agent.login.clone();
        assert!(
            f.login(&as_agent, PASSWORD, Some(&f.code(&seed)))
                .await
                .is_err()
        );
        let (patient_session, patient_who) = f
            .login(&patient, PASSWORD, Some(&f.code(&seed)))
            .await
            .unwrap();
        let (agent_session, agent_who) = f.login(&agent, "agent password 1", None).await.unwrap();
        assert_eq!(
            f.identity.other_qualities(&patient_who).await.unwrap(),
            vec![Quality::Agent]
        );
        assert_eq!(agent_who.quality, Quality::Agent);
        // The mission ends (PLT-4): the agent account closes, the patient one lives on.
        assert!(
            f.identity
                .close_quality(Quality::Agent, "agt-1", &web())
                .await
                .unwrap()
        );
        assert!(
            f.identity
                .authenticate(&agent_session, &web())
                .await
                .is_err()
        );
        assert!(matches!(
            f.login(&agent, "agent password 1", None).await,
            Err(IdentityError::Closed)
        ));
        f.identity
            .authenticate(&patient_session, &web())
            .await
            .unwrap();
        // A session carries its quality: the patient session is not a professional one.
        assert!(
            f.identity
                .authorise_service(&patient_who, Service::Messaging, &web())
                .await
                .is_err()
        );
    }
);

storage_test!(
    agents_act_only_from_the_configured_networks,
    |db: Db| async move {
        let f = fixture(db).await;
        let identity = f
            .identity
            .clone()
            .with_agent_networks(vec!["10.0.0.0/8".parse().unwrap()]);
        let agent = identity
            .create_agent_account(
                &Administrator::Operator,
                "agt-1",
                NIN,
                "agent password 1",
                &web(),
            )
            .await
            .unwrap();
        let from = |ip: &str| Source {
            ip: Some(ip.parse().unwrap()),
            ..Source::default()
        };
        let login = PasswordLogin {
            login: &agent.login,
            quality: Quality::Agent,
            password: "agent password 1",
            totp_code: None,
            client: "test",
        };
        assert!(matches!(
            identity.login_password(&login, &from("192.168.1.20")).await,
            Err(IdentityError::NetworkNotAllowed)
        ));
        assert!(matches!(
            identity.login_password(&login, &Source::default()).await,
            Err(IdentityError::NetworkNotAllowed)
        ));
        let (secret, _) = identity
            .login_password(&login, &from("10.1.2.3"))
            .await
            .unwrap();
        identity
            .authenticate(&secret, &from("10.9.9.9"))
            .await
            .unwrap();
        // The session cookie carried outside the network is refused, and dies.
        assert!(matches!(
            identity.authenticate(&secret, &from("203.0.113.7")).await,
            Err(IdentityError::SessionRefused("network_not_allowed"))
        ));
        assert!(
            identity
                .authenticate(&secret, &from("10.9.9.9"))
                .await
                .is_err()
        );
        // Patients are not limited by the agents' networks.
        let (patient, seed) = f.active_patient("pat-1", "1981021712345").await;
        identity
            .login_password(
                &PasswordLogin {
                    login: &patient.login,
                    quality: Quality::Patient,
                    password: PASSWORD,
                    totp_code: Some(&f.code(&seed)),
                    client: "test",
                },
                &from("192.168.1.20"),
            )
            .await
            .unwrap();
        assert!(
            f.outcomes(EventKind::IdentityLoginFailed)
                .await
                .contains(&Outcome::Denied(Token::code("network_not_allowed")))
        );
    }
);

/// A card's certificate as the TLS layer hands it over.
fn card(serial: &str, now: chrono::DateTime<Utc>) -> sante_types::PeerCertificate {
    sante_types::PeerCertificate {
        sha256: secrets::sha256_hex(&format!("certificate {serial}")),
        issuer: "CN=Test smartcard CA".into(),
        serial: serial.into(),
        subject: format!("CN=Dr Test {serial}"),
        not_before: now - Duration::days(1),
        not_after: now + Duration::days(365),
        public_key: vec![4, 1, 2],
        key_algorithm: "ec-p256".into(),
    }
}

fn proof<'a>(letter: &'a ActivationLetter, nin: &'a str) -> ActivationProof<'a> {
    ActivationProof {
        login: &letter.account.login,
        national_id: nin,
        code: &letter.code,
        email: "dr.test@example.lu",
    }
}

impl Fixture {
    async fn letter(&self, quality: Quality, subject: &str, nin: &str) -> ActivationLetter {
        self.identity
            .create_account(
                &Administrator::Operator,
                NewAccount {
                    quality,
                    subject: subject.into(),
                    national_id: nin.into(),
                },
                &web(),
            )
            .await
            .unwrap()
    }

    /// A professional activated with his card; returns the account and the card.
    async fn professional_with_card(
        &self,
        subject: &str,
        serial: &str,
    ) -> (Account, sante_types::PeerCertificate) {
        let letter = self.letter(Quality::Professional, subject, NIN).await;
        let cert = card(serial, self.clock.now());
        let account = self
            .identity
            .activate_with_certificate(&proof(&letter, NIN), &cert, &web())
            .await
            .unwrap();
        (account, cert)
    }
}

storage_test!(
    a_card_bound_at_activation_logs_in_at_high_assurance,
    |db: Db| async move {
        let f = fixture(db).await;
        let (account, cert) = f.professional_with_card("pro-1", "1001").await;
        assert!(account.login.starts_with("H-"));
        assert_eq!(account.methods(), vec![CredentialKind::ClientCertificate]);
        let (secret, who) = f
            .identity
            .login_certificate(&cert, Quality::Professional, "test", &web())
            .await
            .unwrap();
        assert_eq!(who.assurance, LevelOfAssurance::High);
        assert_eq!(who.credential, CredentialKind::ClientCertificate);
        f.identity
            .authorise_service(&who, Service::Dsp, &web())
            .await
            .unwrap();
        f.identity
            .authorise_service(&who, Service::Messaging, &web())
            .await
            .unwrap();
        f.identity.authenticate(&secret, &web()).await.unwrap();

        // The card opens its own quality only, and another card opens nothing.
        assert!(matches!(
            f.identity
                .login_certificate(&cert, Quality::Patient, "test", &web())
                .await,
            Err(IdentityError::BadCredentials)
        ));
        assert!(matches!(
            f.identity
                .login_certificate(
                    &card("9999", f.clock.now()),
                    Quality::Professional,
                    "test",
                    &web()
                )
                .await,
            Err(IdentityError::BadCredentials)
        ));
        // A card is bound to one account only.
        let other = f.letter(Quality::Patient, "pat-9", "1990010112345").await;
        assert!(matches!(
            f.identity
                .activate_with_certificate(&proof(&other, "1990010112345"), &cert, &web())
                .await,
            Err(IdentityError::Conflict(_))
        ));
        // Password and authenticator application are for patients, not professionals.
        let pro = f
            .letter(Quality::Professional, "pro-2", "1970010112345")
            .await;
        let seed = secrets::new_totp_secret();
        let code = f.code(&seed);
        let mut activation = activation(&pro, &pro.code, "1970010112345", &seed, &code);
        activation.email = "dr.two@example.lu";
        assert!(matches!(
            f.identity.activate(&activation, &web()).await,
            Err(IdentityError::Invalid(_))
        ));
    }
);

storage_test!(
    a_revocation_list_revokes_the_card_and_its_sessions_at_once,
    |db: Db| async move {
        let f = fixture(db).await;
        let (_, cert) = f.professional_with_card("pro-1", "2001").await;
        let (secret, _) = f
            .identity
            .login_certificate(&cert, Quality::Professional, "test", &web())
            .await
            .unwrap();
        // A list naming other certificates changes nothing.
        let unrelated = sante_types::revocation_key(&cert.issuer, "77");
        assert_eq!(
            f.identity
                .revoke_listed_certificates(&[unrelated], &web())
                .await
                .unwrap(),
            0
        );
        f.identity.authenticate(&secret, &web()).await.unwrap();
        let key = cert.revocation_key();
        assert_eq!(
            f.identity
                .revoke_listed_certificates(std::slice::from_ref(&key), &web())
                .await
                .unwrap(),
            1
        );
        // The very next request is refused; a new login is refused and traced.
        assert!(f.identity.authenticate(&secret, &web()).await.is_err());
        assert!(matches!(
            f.identity
                .login_certificate(&cert, Quality::Professional, "test", &web())
                .await,
            Err(IdentityError::CredentialRevoked)
        ));
        assert!(
            f.outcomes(EventKind::IdentityLoginFailed)
                .await
                .contains(&Outcome::Denied(Token::code("credential_revoked")))
        );
        // The same list loaded again revokes nothing more.
        assert_eq!(
            f.identity
                .revoke_listed_certificates(&[key], &web())
                .await
                .unwrap(),
            0
        );
    }
);

storage_test!(
    an_expired_card_and_a_blocked_account_are_refused,
    |db: Db| async move {
        let f = fixture(db).await;
        let (account, cert) = f.professional_with_card("pro-1", "3001").await;
        f.identity
            .block(&Administrator::Operator, &account.id, "misuse", &web())
            .await
            .unwrap();
        assert!(matches!(
            f.identity
                .login_certificate(&cert, Quality::Professional, "test", &web())
                .await,
            Err(IdentityError::Blocked)
        ));
        f.identity
            .unblock(&Administrator::Operator, &account.id, &web())
            .await
            .unwrap();
        f.identity
            .login_certificate(&cert, Quality::Professional, "test", &web())
            .await
            .unwrap();
        f.clock.advance(Duration::days(366));
        assert!(matches!(
            f.identity
                .login_certificate(&cert, Quality::Professional, "test", &web())
                .await,
            Err(IdentityError::CredentialRevoked)
        ));
        assert!(
            f.outcomes(EventKind::IdentityLoginFailed)
                .await
                .contains(&Outcome::Denied(Token::code("certificate_expired")))
        );
    }
);

storage_test!(
    application_passwords_open_messaging_only_and_die_when_revoked,
    |db: Db| async move {
        let f = fixture(db).await;
        let (account, cert) = f.professional_with_card("pro-1", "4001").await;
        let (_, high) = f
            .identity
            .login_certificate(&cert, Quality::Professional, "test", &web())
            .await
            .unwrap();
        let made = f
            .identity
            .create_app_password(&high, "Thunderbird", Service::Messaging, &web())
            .await
            .unwrap();
        assert_eq!(made.password.len(), 34);
        // Stored as a hash only.
        let raw = f.db.get(ACCOUNTS, &account.id).await.unwrap().unwrap();
        assert!(
            !String::from_utf8(raw.value)
                .unwrap()
                .contains(made.password.as_str())
        );
        let listed = f.identity.app_passwords(&high).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].label, "Thunderbird");

        // Typed in lower case, without dashes: still the same password.
        let typed = made.password.replace('-', "").to_lowercase();
        let mail = f
            .identity
            .authenticate_app_password(&account.login, &typed, Service::Messaging, &web())
            .await
            .unwrap();
        assert_eq!(mail.scope, Some(Service::Messaging));
        assert_eq!(mail.credential, CredentialKind::ApplicationPassword);
        f.identity
            .authorise_service(&mail, Service::Messaging, &web())
            .await
            .unwrap();
        for other in [Service::Dsp, Service::Portal] {
            assert!(matches!(
                f.identity.authorise_service(&mail, other, &web()).await,
                Err(IdentityError::ServiceRefused(ServiceRefusal::OutOfScope))
            ));
        }
        // An application password cannot make another one.
        assert!(
            f.identity
                .create_app_password(&mail, "phone", Service::Messaging, &web())
                .await
                .is_err()
        );
        // It opens messaging only, and a wrong one is a failed login.
        assert!(matches!(
            f.identity
                .authenticate_app_password(&account.login, &typed, Service::Dsp, &web())
                .await,
            Err(IdentityError::BadCredentials)
        ));
        assert!(matches!(
            f.identity
                .authenticate_app_password(
                    &account.login,
                    "WRONG-PASSWORD",
                    Service::Messaging,
                    &web()
                )
                .await,
            Err(IdentityError::BadCredentials)
        ));
        // Revoked: the open mail connection fails its next check, new logins fail.
        f.identity
            .revoke_app_password(&high, &made.id, &web())
            .await
            .unwrap();
        assert!(f.identity.recheck_app_password(&mail).await.is_err());
        assert!(
            f.identity
                .authenticate_app_password(&account.login, &typed, Service::Messaging, &web())
                .await
                .is_err()
        );
        // A patient's or a substantial session cannot make one.
        let (patient, seed) = f.active_patient("pat-1", "1981021712345").await;
        let (_, substantial) = f
            .login(&patient, PASSWORD, Some(&f.code(&seed)))
            .await
            .unwrap();
        assert!(
            f.identity
                .create_app_password(&substantial, "phone", Service::Messaging, &web())
                .await
                .is_err()
        );
    }
);

storage_test!(
    spraying_from_one_address_is_refused_there_without_locking_the_victims,
    |db: Db| async move {
        let f = fixture(db).await;
        let identity = f
            .identity
            .clone()
            .with_attempt_limits(crate::AttemptLimits {
                failures_per_address: 5,
                window: Duration::minutes(15),
            });
        let (victim, seed) = f.active_patient("pat-victim", NIN).await;
        let attacker = Source {
            ip: Some("203.0.113.7".parse().unwrap()),
            ..Source::default()
        };
        let home = Source {
            ip: Some("198.51.100.20".parse().unwrap()),
            ..Source::default()
        };
        fn login(login: &str) -> PasswordLogin<'_> {
            PasswordLogin {
                login,
                quality: Quality::Patient,
                password: "Summer2026!Summer",
                totp_code: Some("000000"),
                client: "test",
            }
        }
        // One password tried on many logins, known or not: never the same account
        // twice, so no lock-out would ever stop it.
        for name in ["P-AAAA-0001", "P-AAAA-0002", "P-AAAA-0003", "P-AAAA-0004"] {
            let e = identity
                .login_password(&login(name), &attacker)
                .await
                .unwrap_err();
            assert!(matches!(e, IdentityError::BadCredentials), "{e:?}");
        }
        let victim_login = victim.login.as_str();
        let e = identity
            .login_password(&login(victim_login), &attacker)
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::BadCredentials), "{e:?}");
        // The address has used its allowance: refused before any account is looked at,
        // even with the right password.
        let right = PasswordLogin {
            login: victim_login,
            quality: Quality::Patient,
            password: PASSWORD,
            totp_code: Some(&f.code(&seed)),
            client: "test",
        };
        let e = identity
            .login_password(&right, &attacker)
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::TooManyAttempts), "{e:?}");
        assert_eq!(e.kind(), sante_types::ErrorKind::Throttled);
        assert!(
            f.outcomes(EventKind::IdentityLoginFailed)
                .await
                .contains(&Outcome::Denied(Token::code("address_throttled")))
        );
        // The victim, from his own address, is not locked out.
        identity.login_password(&right, &home).await.unwrap();
        // The window over, the address may try again.
        f.clock.advance(Duration::minutes(15));
        let e = identity
            .login_password(&login("P-AAAA-0005"), &attacker)
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::BadCredentials), "{e:?}");
    }
);
