//! The accounts following the directories' change feed.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use sante_audit::{AuditLog, CheckpointSigner, SealPolicy, Source};
use sante_directory::model::{Agent, AgentRole, Contact};
use sante_directory::{Directory, Request};
use sante_identity::{Administrator, Identity, IdentityError, PasswordLogin};
use sante_store::{Backend, testing};
use sante_types::{ManualClock, Quality};

use super::feeds::AccountsFollower;

/// Applies the directories' changes to the accounts, as the server's job does.
async fn apply_directory_changes(
    directory: &Directory,
    identity: &Identity,
) -> anyhow::Result<usize> {
    let follower = AccountsFollower {
        identity: identity.clone(),
        directory: directory.clone(),
    };
    Ok(sante_directory::follow::follow(directory, &follower).await?)
}

fn agent(valid_until: Option<NaiveDate>) -> Agent {
    Agent {
        id: "agent-1".into(),
        national_id: None,
        family_name: "Kieffer".into(),
        given_names: vec!["Claude".into()],
        organisation: "Agence eSanté".into(),
        function: "administrator".into(),
        requesting_organisation: "Agence eSanté".into(),
        valid_from: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        valid_until,
        roles: vec![AgentRole::Administrator],
        contact: Contact::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mission_that_ends_closes_the_agent_account_only_once_it_is_past() {
    let t = testing::fresh(Backend::Sqlite).await.unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
    ));
    let log = AuditLog::open(
        t.db.clone(),
        CheckpointSigner::generate(),
        clock.clone(),
        SealPolicy::default(),
    )
    .await
    .unwrap();
    let directory = Directory::new(t.db.clone(), Arc::new(log.clone()), clock.clone());
    let identity = Identity::new(t.db.clone(), Arc::new(log), clock.clone());
    let req = Request::operator();
    directory.upsert(&req, &[agent(None)]).await.unwrap();
    let account = identity
        .create_agent_account(
            &Administrator::Operator,
            "agent-1",
            "agent-1",
            "agent password 1",
            &Source::default(),
        )
        .await
        .unwrap();
    let login = || PasswordLogin {
        login: &account.login,
        quality: Quality::Agent,
        password: "agent password 1",
        totp_code: None,
        client: "test",
    };
    assert_eq!(
        apply_directory_changes(&directory, &identity)
            .await
            .unwrap(),
        0
    );
    // An end announced for next month: the account stays open.
    directory
        .upsert(&req, &[agent(NaiveDate::from_ymd_opt(2026, 12, 31))])
        .await
        .unwrap();
    assert_eq!(
        apply_directory_changes(&directory, &identity)
            .await
            .unwrap(),
        0
    );
    let (session, _) = identity
        .login_password(&login(), &Source::default())
        .await
        .unwrap();
    // Ended yesterday: closed, its session refused, and the feed position moved on.
    directory.upsert(&req, &[agent(None)]).await.unwrap();
    directory
        .upsert(&req, &[agent(NaiveDate::from_ymd_opt(2026, 11, 22))])
        .await
        .unwrap();
    assert_eq!(
        apply_directory_changes(&directory, &identity)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        apply_directory_changes(&directory, &identity)
            .await
            .unwrap(),
        0
    );
    assert!(
        identity
            .authenticate(&session, &Source::default())
            .await
            .is_err()
    );
    assert!(matches!(
        identity.login_password(&login(), &Source::default()).await,
        Err(IdentityError::Closed)
    ));
}
