//! Sessions: opened by a login, checked at every request against the account's
//! state, the credentials the login used and the timeouts; listed and ended by their
//! holder; and the services a session may reach (ACC-5).

use super::*;

/// A session about to be opened: how the person authenticated.
#[derive(Debug)]
pub(crate) struct NewSession<'a> {
    pub assurance: LevelOfAssurance,
    pub credential: CredentialKind,
    /// The credentials used: revoking any of them ends the session.
    pub credential_ids: Vec<String>,
    pub client: &'a str,
}

impl Identity {
    pub(crate) async fn store_session(
        &self,
        key: &str,
        session: &Session,
        expect: Expect,
    ) -> IdentityResult<()> {
        let value = serde_json::to_vec(session)
            .map_err(|_| IdentityError::from(PlatformError::corrupt(session.id.clone())))?;
        let mut ops = vec![WriteOp::Put {
            collection: SESSIONS.into(),
            key: key.to_owned(),
            value,
            expect,
        }];
        if expect == Expect::Absent {
            ops.push(WriteOp::Index {
                collection: SESSIONS.into(),
                key: key.to_owned(),
                terms: vec![
                    Term::new("account", session.account.clone()),
                    Term::new("id", session.id.clone()),
                ],
            });
        }
        self.db.write_batch(&ops, self.micros()).await?;
        Ok(())
    }

    /// Who is behind a session's bearer secret, checked now: the account is active,
    /// every credential the login used is still valid, the session is neither idle nor
    /// too old. A revoked credential or a blocked account is refused at the very next
    /// request.
    pub async fn authenticate(
        &self,
        secret: &str,
        source: &Source,
    ) -> IdentityResult<Authenticated> {
        if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IdentityError::NoSession);
        }
        let key = secrets::sha256_hex(secret);
        let Some(record) = self.db.get(SESSIONS, &key).await? else {
            return Err(IdentityError::NoSession);
        };
        self.check_session(&key, record, source).await
    }

    /// Who is behind the session with this public id, checked now as [`authenticate`]
    /// checks a cookie: what single sign-on asks when a token carrying the session id
    /// is used or refreshed, so that logout and revocation reach every service at once.
    ///
    /// [`authenticate`]: Identity::authenticate
    pub async fn session_by_id(
        &self,
        session_id: &str,
        source: &Source,
    ) -> IdentityResult<Authenticated> {
        let keys = self
            .db
            .search(SESSIONS, &[TermQuery::exact("id", session_id)], None, 1)
            .await?;
        let Some(key) = keys.first() else {
            return Err(IdentityError::NoSession);
        };
        let Some(record) = self.db.get(SESSIONS, key).await? else {
            return Err(IdentityError::NoSession);
        };
        self.check_session(key, record, source).await
    }

    /// Ends the session with this public id (single sign-on logout); `false` when it
    /// had already ended.
    pub async fn end_session_by_id(
        &self,
        session_id: &str,
        source: &Source,
    ) -> IdentityResult<bool> {
        let Ok(who) = self.session_by_id(session_id, source).await else {
            return Ok(false);
        };
        let keys = self
            .db
            .search(SESSIONS, &[TermQuery::exact("id", session_id)], None, 1)
            .await?;
        for key in &keys {
            self.db.delete(SESSIONS, key, Expect::Any).await?;
        }
        self.trace(
            EventKind::IdentitySessionEnded,
            actor_of(&who),
            Action::Delete,
            Some(&who.account),
            source,
            Outcome::Success,
        )
        .await?;
        Ok(true)
    }

    /// Checks a stored session now: timeouts, the account's state, the credentials the
    /// login used, the network; a refused session is deleted and the refusal traced.
    pub(super) async fn check_session(
        &self,
        key: &str,
        record: sante_store::Record,
        source: &Source,
    ) -> IdentityResult<Authenticated> {
        let mut session: Session = serde_json::from_slice(&record.value)
            .map_err(|_| IdentityError::from(PlatformError::corrupt("session")))?;
        let now = self.now();
        if now - session.last_seen > self.limits.idle
            || now - session.created > self.limits.absolute
        {
            self.db.delete(SESSIONS, key, Expect::Any).await?;
            return Err(IdentityError::NoSession);
        }
        let account = self.account(&session.account).await?;
        let refusal = match &account.state {
            AccountState::Active => None,
            AccountState::Blocked { .. } => Some("blocked"),
            AccountState::Closed { .. } => Some("closed"),
            AccountState::Pending { .. } => Some("not_activated"),
        }
        .or_else(|| {
            let revoked = session.credential_ids.iter().any(|id| {
                !account
                    .credentials
                    .iter()
                    .any(|c| &c.id == id && c.is_active())
            });
            revoked.then_some("credential_revoked")
        })
        .or_else(|| {
            (!self.network_allows(session.quality, source)).then_some("network_not_allowed")
        });
        let who = Authenticated {
            session: session.id.clone(),
            account: account.id.clone(),
            login: account.login.clone(),
            subject: account.subject.clone(),
            quality: session.quality,
            assurance: session.assurance,
            credential: session.credential,
            scope: session.scope,
        };
        if let Some(code) = refusal {
            self.db.delete(SESSIONS, key, Expect::Any).await?;
            self.trace(
                EventKind::IdentitySessionRefused,
                actor_of(&who),
                Action::Execute,
                Some(&account.id),
                source,
                Outcome::Denied(Token::code(code)),
            )
            .await?;
            return Err(IdentityError::SessionRefused(code));
        }
        if (now - session.last_seen).num_seconds() >= TOUCH_EVERY_SECS {
            session.last_seen = now;
            // A concurrent request may have touched it first: either write is as good.
            match self
                .store_session(key, &session, Expect::Version(record.version))
                .await
            {
                Ok(()) | Err(IdentityError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(who)
    }

    /// The active account of a directory entry in `quality`, as who it is when an
    /// establishment's system acts for that person (ACC-3): no session of his own, the
    /// system's assertion as credential, at the level the system vouches for.
    pub async fn acting_for(
        &self,
        quality: Quality,
        subject: &str,
        assurance: LevelOfAssurance,
        assertion_id: &str,
    ) -> IdentityResult<Authenticated> {
        let account = self
            .account_of(quality, subject)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("{} account", quality.as_str())))?;
        match account.state {
            AccountState::Active => {}
            AccountState::Blocked { .. } => return Err(IdentityError::Blocked),
            AccountState::Closed { .. } => return Err(IdentityError::Closed),
            AccountState::Pending { .. } => return Err(IdentityError::NotActivated),
        }
        Ok(Authenticated {
            session: format!("sys:{assertion_id}"),
            account: account.id,
            login: account.login,
            subject: account.subject,
            quality,
            assurance,
            credential: CredentialKind::SystemAssertion,
            scope: None,
        })
    }

    /// May this session reach `service`? Refusals are traced.
    pub async fn authorise_service(
        &self,
        who: &Authenticated,
        service: Service,
        source: &Source,
    ) -> IdentityResult<()> {
        if let Err(refusal) = authorise_service(who, service) {
            self.trace(
                EventKind::IdentityServiceDenied,
                actor_of(who),
                Action::Execute,
                Some(&who.account),
                source,
                Outcome::Denied(Token::code(refusal.reason())),
            )
            .await?;
            return Err(refusal.into());
        }
        Ok(())
    }

    pub(super) async fn session_keys(&self, account: &str) -> IdentityResult<Vec<String>> {
        Ok(self
            .db
            .search(
                SESSIONS,
                &[TermQuery::exact("account", account)],
                None,
                MAX_SESSIONS_LISTED,
            )
            .await?)
    }

    /// The live sessions of an account, newest first, for its holder.
    pub async fn sessions(&self, who: &Authenticated) -> IdentityResult<Vec<Session>> {
        let keys = self.session_keys(&who.account).await?;
        let now = self.now();
        let mut out: Vec<Session> = self
            .db
            .get_many(SESSIONS, &keys)
            .await?
            .iter()
            .filter_map(|r| serde_json::from_slice::<Session>(&r.value).ok())
            .filter(|s| {
                now - s.last_seen <= self.limits.idle && now - s.created <= self.limits.absolute
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.created));
        Ok(out)
    }

    /// Ends one of the holder's own sessions (by its public id).
    pub async fn end_session(
        &self,
        who: &Authenticated,
        session_id: &str,
        source: &Source,
    ) -> IdentityResult<()> {
        let keys = self
            .db
            .search(
                SESSIONS,
                &[
                    TermQuery::exact("account", who.account.clone()),
                    TermQuery::exact("id", session_id),
                ],
                None,
                1,
            )
            .await?;
        let Some(key) = keys.first() else {
            return Err(IdentityError::NotFound(format!("session {session_id}")));
        };
        self.db.delete(SESSIONS, key, Expect::Any).await?;
        self.trace(
            EventKind::IdentitySessionEnded,
            actor_of(who),
            Action::Delete,
            Some(&who.account),
            source,
            Outcome::Success,
        )
        .await
    }

    /// Logs out: the session's secret is dead from now on.
    pub async fn logout(&self, secret: &str, source: &Source) -> IdentityResult<()> {
        let Ok(who) = self.authenticate(secret, source).await else {
            return Ok(());
        };
        self.db
            .delete(SESSIONS, &secrets::sha256_hex(secret), Expect::Any)
            .await?;
        self.trace(
            EventKind::IdentitySessionEnded,
            actor_of(&who),
            Action::Delete,
            Some(&who.account),
            source,
            Outcome::Success,
        )
        .await
    }

    pub(crate) async fn end_all_sessions(&self, account: &str) -> IdentityResult<usize> {
        let keys = self.session_keys(account).await?;
        let ops: Vec<WriteOp> = keys
            .iter()
            .map(|k| WriteOp::Delete {
                collection: SESSIONS.into(),
                key: k.clone(),
                expect: Expect::Any,
            })
            .collect();
        if !ops.is_empty() {
            self.db.write_batch(&ops, self.micros()).await?;
        }
        Ok(keys.len())
    }
}
