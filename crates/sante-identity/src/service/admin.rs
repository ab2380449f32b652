//! The operator's and administrators' actions on accounts: block, unblock, revoke a
//! credential, require a change of connection method; and the holder's report of a
//! lost means.

use super::*;

/// Who asks for an administrative action. The front end establishes it; the service
/// refuses anyone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Administrator {
    /// A command run on the server by the operator.
    Operator,
    /// An agent whose directory entry carries the administrator role, logged in.
    Agent(Authenticated),
}

impl Administrator {
    pub(super) fn actor(&self) -> Actor {
        match self {
            Administrator::Operator => Actor::platform(),
            Administrator::Agent(a) => actor_of(a),
        }
    }
}

impl Identity {
    /// Lost or stolen credentials (ACC-7): revokes every credential of the account
    /// (`credential` = None) or one of them, and ends every session of the account at
    /// once. The holder (for his own account) or an administrator may do it.
    pub async fn revoke_credential(
        &self,
        actor: Actor,
        account_id: &str,
        credential: Option<&str>,
        source: &Source,
    ) -> IdentityResult<()> {
        let now = self.now();
        self.update(account_id, |a| {
            let mut hit = false;
            for c in a.credentials.iter_mut().filter(|c| c.is_active()) {
                if credential.is_none_or(|id| id == c.id) {
                    c.revoked = Some(now);
                    hit = true;
                }
            }
            if hit {
                Ok(())
            } else {
                Err(IdentityError::NotFound("active credential".into()))
            }
        })
        .await?;
        self.end_all_sessions(account_id).await?;
        self.trace_update(
            EventKind::IdentityCredentialRevoked,
            actor,
            account_id,
            source,
        )
        .await
    }

    /// The holder reports his own credentials lost or stolen.
    pub async fn report_lost(&self, who: &Authenticated, source: &Source) -> IdentityResult<()> {
        self.revoke_credential(actor_of(who), &who.account, None, source)
            .await
    }

    /// An administrator blocks an account (ACC-7): every session ends at once.
    pub async fn block(
        &self,
        by: &Administrator,
        account_id: &str,
        reason: &str,
        source: &Source,
    ) -> IdentityResult<()> {
        let reason = Token::new(reason.to_owned())
            .map_err(|_| IdentityError::Invalid("the reason must be a code".into()))?;
        let now = self.now();
        self.update(account_id, |a| {
            a.state = AccountState::Blocked {
                reason: reason.as_str().to_owned(),
                since: now,
            };
            Ok(())
        })
        .await?;
        self.end_all_sessions(account_id).await?;
        self.trace_update(
            EventKind::IdentityAccountBlocked,
            by.actor(),
            account_id,
            source,
        )
        .await
    }

    /// An administrator unblocks an account; a lock after failed logins is lifted too,
    /// and an overdue change of connection method is waived.
    pub async fn unblock(
        &self,
        by: &Administrator,
        account_id: &str,
        source: &Source,
    ) -> IdentityResult<()> {
        self.update(account_id, |a| {
            if matches!(a.state, AccountState::Blocked { .. }) {
                a.state = AccountState::Active;
            }
            a.failed_logins = 0;
            a.locked_until = None;
            a.method_change = None;
            Ok(())
        })
        .await?;
        self.trace_update(
            EventKind::IdentityAccountUnblocked,
            by.actor(),
            account_id,
            source,
        )
        .await
    }

    /// The operator requires the holder of an account to switch to `required` by
    /// `deadline` (ACC-6); past it, logins without it are refused until an
    /// administrator waives the requirement or the holder has switched.
    pub async fn require_method_change(
        &self,
        by: &Administrator,
        account_id: &str,
        required: CredentialKind,
        deadline: DateTime<Utc>,
        source: &Source,
    ) -> IdentityResult<()> {
        self.update(account_id, |a| {
            a.method_change = Some(MethodChange { required, deadline });
            Ok(())
        })
        .await?;
        self.trace_update(
            EventKind::IdentityMethodChangeRequired,
            by.actor(),
            account_id,
            source,
        )
        .await
    }
}
