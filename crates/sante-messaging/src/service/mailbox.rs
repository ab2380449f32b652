//! Who gets a mailbox (MSG-1) and which address (MSG-2).

use sante_audit::{Action, EventKind, Outcome, Source};
use sante_store::retry::{Retry, Step, on_conflict};
use sante_store::{Expect, Term, TermQuery, WriteOp};
use sante_types::{LevelOfAssurance, Quality};

use super::{
    ACCOUNTS, ADDRESSES, FOLDERS, MAILBOXES, MailUser, Messaging, MessagingError, MessagingResult,
    folder_key,
};
use crate::address::{Address, candidate, local_part_from_name};
use crate::model::{AddressRecord, Folder, Mailbox, MailboxState, SpecialUse};

/// The folders every mailbox starts with.
const INITIAL_FOLDERS: [(&str, Option<SpecialUse>); 4] = [
    ("INBOX", None),
    ("Sent", Some(SpecialUse::Sent)),
    ("Drafts", Some(SpecialUse::Drafts)),
    ("Trash", Some(SpecialUse::Trash)),
];

/// The pointer from an account to its current mailbox.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct AccountMailbox {
    mailbox: String,
}

/// Numbered candidates tried before giving up on a name.
const MAX_CANDIDATES: u32 = 500;

impl Messaging {
    /// The user's mailbox, created at his first access (MSG-2). Only professionals
    /// logged in at high assurance get one (MSG-1); anyone else is refused, traced.
    pub async fn open_mailbox(&self, user: &MailUser, source: &Source) -> MessagingResult<Mailbox> {
        if let Err(e) = self.entitled(user) {
            let code = match &e {
                MessagingError::NotEntitled(c) => *c,
                _ => "not_entitled",
            };
            self.trace(
                EventKind::MessagingAccessDenied,
                user.actor(),
                Action::Read,
                None,
                source,
                Outcome::Denied(sante_audit::Token::code(code)),
            )
            .await?;
            return Err(e);
        }
        // Two logins of one account at once may both create its mailbox: the loser
        // reads the winner's.
        let this = self;
        on_conflict(Retry::RARE, "mailbox creation", || async move {
            if let Some(mailbox) = this.mailbox_of_account(&user.account).await? {
                return match mailbox.state {
                    MailboxState::Open => Ok(Step::Done(mailbox)),
                    MailboxState::Closing => {
                        this.trace(
                            EventKind::MessagingAccessDenied,
                            user.actor(),
                            Action::Read,
                            Some(("Mailbox", &mailbox.id)),
                            source,
                            Outcome::Denied(sante_audit::Token::code("mailbox_closing")),
                        )
                        .await?;
                        Err(MessagingError::MailboxClosed)
                    }
                    // A closed mailbox is gone; a new one, with a new address, follows.
                    MailboxState::Closed => this.create_mailbox(user, source).await.map(Step::Done),
                };
            }
            match this.create_mailbox(user, source).await {
                Err(MessagingError::Conflict(_)) => Ok(Step::Raced),
                other => other.map(Step::Done),
            }
        })
        .await
    }

    /// Traces a mail program's session opened on the user's mailbox.
    pub async fn session_opened(
        &self,
        user: &MailUser,
        mailbox: &str,
        source: &Source,
    ) -> MessagingResult<()> {
        self.trace(
            EventKind::MessagingSessionOpened,
            user.actor(),
            Action::Execute,
            Some(("Mailbox", mailbox)),
            source,
            Outcome::Success,
        )
        .await
    }

    /// Traces a session the front end refused or closed on its own (a password
    /// offered on a clear-text connection, a limit reached), `code` saying why.
    pub async fn session_refused(
        &self,
        code: &'static str,
        source: &Source,
    ) -> MessagingResult<()> {
        self.trace(
            EventKind::MessagingAccessDenied,
            sante_audit::Actor::default(),
            Action::Execute,
            None,
            source,
            Outcome::Denied(sante_audit::Token::code(code)),
        )
        .await
    }

    /// The mailbox of a user who is already entitled, without creating one: `None`
    /// before his first access.
    pub async fn existing_mailbox(&self, user: &MailUser) -> MessagingResult<Option<Mailbox>> {
        self.entitled(user)?;
        Ok(self
            .mailbox_of_account(&user.account)
            .await?
            .filter(|m| m.state != MailboxState::Closed))
    }

    fn entitled(&self, user: &MailUser) -> MessagingResult<()> {
        if user.quality != Quality::Professional {
            return Err(MessagingError::NotEntitled("not_a_professional"));
        }
        if user.assurance < LevelOfAssurance::High {
            return Err(MessagingError::NotEntitled("assurance_too_low"));
        }
        Ok(())
    }

    /// The account's current mailbox (open, closing, or the last closed one) and the
    /// version of the account's pointer to it.
    async fn mailbox_of_account(&self, account: &str) -> MessagingResult<Option<Mailbox>> {
        Ok(self.current_of_account(account).await?.map(|(m, _)| m))
    }

    async fn current_of_account(&self, account: &str) -> MessagingResult<Option<(Mailbox, i64)>> {
        let Some((pointer, version)) = self.get::<AccountMailbox>(ACCOUNTS, account).await? else {
            return Ok(None);
        };
        Ok(self
            .get::<Mailbox>(MAILBOXES, &pointer.mailbox)
            .await?
            .map(|(m, _)| (m, version)))
    }

    /// The mailbox by id, whatever its state.
    pub async fn mailbox(&self, id: &str) -> MessagingResult<Mailbox> {
        Ok(self
            .get::<Mailbox>(MAILBOXES, id)
            .await?
            .ok_or_else(|| MessagingError::NotFound(format!("mailbox {id}")))?
            .0)
    }

    /// The mailbox that owns an address of the platform's domain; `None` for an
    /// address never assigned.
    pub async fn mailbox_by_address(&self, address: &Address) -> MessagingResult<Option<Mailbox>> {
        if address.domain() != self.config.domain {
            return Ok(None);
        }
        let Some((record, _)) = self
            .get::<AddressRecord>(ADDRESSES, &address.local_key())
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .get::<Mailbox>(MAILBOXES, &record.mailbox)
            .await?
            .map(|(m, _)| m))
    }

    /// Every address ever given to this professional, oldest first.
    pub async fn addresses_of(&self, professional: &str) -> MessagingResult<Vec<AddressRecord>> {
        let keys = self
            .db
            .search(
                ADDRESSES,
                &[TermQuery::exact("professional", professional)],
                None,
                1000,
            )
            .await?;
        let mut out: Vec<AddressRecord> = Vec::new();
        for r in self.db.get_many(ADDRESSES, &keys).await? {
            out.push(super::decode(ADDRESSES, &r.value)?);
        }
        out.sort_by_key(|a| a.assigned);
        Ok(out)
    }

    async fn create_mailbox(&self, user: &MailUser, source: &Source) -> MessagingResult<Mailbox> {
        let professional = self
            .directory
            .professional(&user.subject)
            .await
            .map_err(MessagingError::Directory)?;
        let given = professional
            .given_names
            .first()
            .cloned()
            .unwrap_or_default();
        let base = local_part_from_name(&given, &professional.family_name)
            .unwrap_or_else(|| format!("pro.{}", user.subject.to_lowercase()));
        let now = self.now();
        let id = format!("mbx-{}", uuid::Uuid::now_v7().simple());
        // One current mailbox per account: the pointer is created, or moved from a
        // closed mailbox, only if nobody else did it meanwhile.
        let pointer_expect = match self.current_of_account(&user.account).await? {
            None => Expect::Absent,
            Some((m, v)) if m.state == MailboxState::Closed => Expect::Version(v),
            Some(_) => return Err(MessagingError::Conflict("mailbox created meanwhile".into())),
        };
        for n in 1..=MAX_CANDIDATES {
            let local = candidate(&base, n);
            if self.db.get(ADDRESSES, &local).await?.is_some() {
                continue;
            }
            let address = format!("{local}@{}", self.config.domain);
            let uidvalidity = u32::try_from(now.timestamp()).unwrap_or(1).max(1);
            let mailbox = Mailbox {
                id: id.clone(),
                account: user.account.clone(),
                professional: user.subject.clone(),
                address: address.clone(),
                state: MailboxState::Open,
                created: now,
                used_bytes: 0,
                quota_notice_sent: false,
                last_uidvalidity: uidvalidity + INITIAL_FOLDERS.len() as u32 - 1,
                next_folder: INITIAL_FOLDERS.len() as u32 + 1,
                closure_requested: None,
                purge_due: None,
                purged: None,
            };
            let record = AddressRecord {
                address: address.clone(),
                mailbox: id.clone(),
                professional: user.subject.clone(),
                assigned: now,
            };
            // The address record is created only if absent: two professionals with
            // the same name cannot both get it.
            let mut ops = vec![
                Self::put_op(ADDRESSES, &local, &record, Expect::Absent)?,
                Self::index_op(
                    ADDRESSES,
                    &local,
                    vec![Term::new("professional", user.subject.clone())],
                ),
                Self::put_op(MAILBOXES, &id, &mailbox, Expect::Absent)?,
                Self::put_op(
                    ACCOUNTS,
                    &user.account,
                    &AccountMailbox {
                        mailbox: id.clone(),
                    },
                    pointer_expect,
                )?,
                Self::index_op(MAILBOXES, &id, mailbox_terms(&mailbox)),
            ];
            for (i, (name, special)) in INITIAL_FOLDERS.iter().enumerate() {
                let folder = Folder {
                    number: i as u32 + 1,
                    name: (*name).to_owned(),
                    uidvalidity: uidvalidity + i as u32,
                    uidnext: 1,
                    highest_modseq: 1,
                    subscribed: true,
                    special_use: *special,
                };
                ops.push(Self::put_op(
                    FOLDERS,
                    &folder_key(&id, folder.number),
                    &folder,
                    Expect::Absent,
                )?);
            }
            match self.db.write_batch(&ops, self.micros()).await {
                Ok(_) => {}
                // The address taken meanwhile: try the next number; the account's
                // mailbox created meanwhile: the caller takes that one.
                Err(sante_store::StoreError::Conflict(_)) => {
                    if self
                        .current_of_account(&user.account)
                        .await?
                        .is_some_and(|(m, _)| m.state != MailboxState::Closed)
                    {
                        return Err(MessagingError::Conflict("mailbox created meanwhile".into()));
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            self.trace(
                EventKind::MessagingMailboxCreated,
                user.actor(),
                Action::Create,
                Some(("Mailbox", &id)),
                source,
                Outcome::Success,
            )
            .await?;
            tracing::info!(mailbox = %id, "mailbox created");
            return Ok(mailbox);
        }
        Err(MessagingError::Invalid(
            "no free address for this name; ask the operator".into(),
        ))
    }

    /// Writes a changed mailbox record in a batch.
    pub(crate) fn mailbox_ops(mailbox: &Mailbox, version: i64) -> MessagingResult<Vec<WriteOp>> {
        Ok(vec![
            Self::put_op(MAILBOXES, &mailbox.id, mailbox, Expect::Version(version))?,
            Self::index_op(MAILBOXES, &mailbox.id, mailbox_terms(mailbox)),
        ])
    }
}

pub(crate) fn mailbox_terms(mailbox: &Mailbox) -> Vec<Term> {
    let state = match mailbox.state {
        MailboxState::Open => "open",
        MailboxState::Closing => "closing",
        MailboxState::Closed => "closed",
    };
    vec![
        Term::new("account", mailbox.account.clone()),
        Term::new("state", state),
    ]
}
