//! Care relationships (DSP-13 to DSP-17): the holder's access code in a consultation
//! (15 days), an admission in an establishment (45 days, renewable by at most 30
//! while the stay lasts), an emergency registration (24 hours + 15 days); the
//! referring doctor as the insurer declared him; and the end of every right of a
//! professional whose authorisation to practise is withdrawn.

use chrono::Duration;
use sante_audit::{Actor, Source};
use sante_store::{Expect, Term};

use super::*;
use crate::model::{CareKind, ReferentDeclaration};

const CONSULTATION_DAYS: i64 = 15;
const ADMISSION_DAYS: i64 = 45;
const RENEWAL_MAX_DAYS: i64 = 30;
const EMERGENCY_HOURS: i64 = 24;
const EMERGENCY_FOLLOW_UP_DAYS: i64 = 15;
/// How long an access code the holder shows may be used.
const CODE_HOURS: i64 = 2;
/// Wrong codes a professional may enter within [`GUESS_WINDOW_MINUTES`]; past them,
/// every code he enters is refused until the window ends. A holder reads his code
/// aloud or shows it: a few typing errors, never dozens.
const GUESSES: u32 = 5;
const GUESS_WINDOW_MINUTES: i64 = 15;

/// A professional's wrong codes in the current window, kept in the store so that a
/// restart or another node does not reset them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Failures {
    since: DateTime<Utc>,
    count: u32,
}

/// An access code the holder gives a professional in a consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessCode {
    pub code: String,
    pub expires: DateTime<Utc>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct StoredCode {
    holder: String,
    expires: DateTime<Utc>,
}

fn sha256(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// 10 characters without look-alikes, in two groups (about 50 bits: it lives two
/// hours, serves once, and a wrong one is traced).
fn new_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let mut rng = rand::rngs::OsRng;
    let mut code = String::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]));
    }
    code
}

fn normalise(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn relationship_terms(r: &CareRelationship) -> Vec<Term> {
    let mut terms = vec![Term::new("record", r.record.clone())];
    if let Some(p) = &r.professional {
        terms.push(Term::new("professional", p.clone()));
    }
    if let Some(e) = &r.establishment {
        terms.push(Term::new("establishment", e.clone()));
    }
    terms
}

impl DspService {
    async fn store_relationship(&self, r: &CareRelationship, expect: Expect) -> DspResult<()> {
        self.db
            .write_batch(
                &[
                    Self::put_op(RELATIONSHIPS, &r.id, r, expect)?,
                    Self::index_op(RELATIONSHIPS, &r.id, relationship_terms(r)),
                ],
                self.micros(),
            )
            .await?;
        Ok(())
    }

    /// Traces a refused access code with its reason.
    async fn refuse_code(&self, caller: &Caller, reason: &'static str) -> DspResult<()> {
        let event = AuditEvent::new(
            EventKind::DspAccessDenied,
            self.now(),
            caller.actor(),
            Service::Dsp,
            Action::Execute,
        )
        .source(caller.source.clone())
        .outcome(Outcome::Denied(Token::code(reason)))
        .resource(Token::code("AccessCode"), Token::code("redeem"));
        self.recorder.record(event).await?;
        Ok(())
    }

    /// The holder (or his assistant) makes an access code to give a professional in a
    /// consultation.
    pub async fn issue_access_code(&self, caller: &Caller, holder: &str) -> DspResult<AccessCode> {
        let (record, _) = self.load(holder).await?;
        let resolved = self
            .gate(caller, &record, Intent::HolderControls, None)
            .await?;
        let code = new_code();
        let expires = self.now() + Duration::hours(CODE_HOURS);
        self.db
            .write_batch(
                &[Self::put_op(
                    CODES,
                    &sha256(&normalise(&code)),
                    &StoredCode {
                        holder: holder.to_owned(),
                        expires,
                    },
                    Expect::Absent,
                )?],
                self.micros(),
            )
            .await?;
        self.note(
            caller,
            &resolved,
            holder,
            EventKind::DspControlChanged,
            "access_code",
            None,
            Decision::Permit,
        )
        .await?;
        Ok(AccessCode { code, expires })
    }

    /// A professional enters the code the holder gave him: a consultation relationship
    /// of 15 days begins. A code serves once; a wrong or expired one is traced.
    pub async fn redeem_access_code(
        &self,
        caller: &Caller,
        code: &str,
    ) -> DspResult<CareRelationship> {
        if caller.quality != Quality::Professional {
            return Err(DspError::Denied("professionals_only"));
        }
        let failures = self.get::<Failures>(CODE_FAILURES, &caller.account).await?;
        let window = Duration::minutes(GUESS_WINDOW_MINUTES);
        let current = failures
            .as_ref()
            .filter(|(f, _)| self.now() < f.since + window);
        if current.is_some_and(|(f, _)| f.count >= GUESSES) {
            self.refuse_code(caller, "access_code_throttled").await?;
            return Err(DspError::Throttled);
        }
        let key = sha256(&normalise(code));
        let stored = match self.get::<StoredCode>(CODES, &key).await? {
            Some((stored, version)) => {
                self.db
                    .delete(CODES, &key, Expect::Version(version))
                    .await?;
                Some(stored)
            }
            None => None,
        };
        let Some(stored) = stored.filter(|s| self.now() <= s.expires) else {
            let counted = match current {
                Some((f, _)) => Failures {
                    since: f.since,
                    count: f.count + 1,
                },
                None => Failures {
                    since: self.now(),
                    count: 1,
                },
            };
            // Two wrong codes at once may count as one: the limit is about dozens.
            self.db
                .write_batch(
                    &[Self::put_op(
                        CODE_FAILURES,
                        &caller.account,
                        &counted,
                        Expect::Any,
                    )?],
                    self.micros(),
                )
                .await?;
            self.refuse_code(caller, "access_code_invalid").await?;
            return Err(DspError::Denied("access_code_invalid"));
        };
        let (record, _) = self.load(&stored.holder).await?;
        let resolved = self.resolve(caller, &record).await?;
        let Some(pro) = resolved.professional().cloned() else {
            return Err(DspError::Denied("professionals_only"));
        };
        if !pro.authorised || caller.assurance < LevelOfAssurance::High {
            let reason = if pro.authorised {
                "assurance_too_low"
            } else {
                "authorisation_withdrawn"
            };
            self.note(
                caller,
                &resolved,
                &record.holder,
                EventKind::DspAccessDenied,
                "care",
                None,
                Decision::Deny(reason),
            )
            .await?;
            return Err(DspError::Denied(reason));
        }
        let now = self.now();
        let relationship = CareRelationship {
            id: uuid::Uuid::new_v4().to_string(),
            record: record.holder.clone(),
            kind: CareKind::Consultation,
            professional: Some(pro.id.clone()),
            establishment: None,
            start: now,
            end: now + Duration::days(CONSULTATION_DAYS),
            renewals: 0,
            stay_ended: None,
            revoked: None,
        };
        self.store_relationship(&relationship, Expect::Absent)
            .await?;
        self.note(
            caller,
            &resolved,
            &record.holder,
            EventKind::DspRelationshipStarted,
            "care",
            None,
            Decision::Permit,
        )
        .await?;
        Ok(relationship)
    }

    /// The professional of an establishment's system whose staff member acts.
    fn establishment_of(caller: &Caller) -> DspResult<String> {
        caller
            .system
            .as_ref()
            .map(|(_, e)| e.clone())
            .ok_or(DspError::Denied("through_the_establishments_system_only"))
    }

    /// An establishment registers the holder's admission or emergency through its
    /// certified system: its staff reach the DSP through that system for the period.
    pub async fn register_stay(
        &self,
        caller: &Caller,
        holder: &str,
        kind: CareKind,
    ) -> DspResult<CareRelationship> {
        let establishment = Self::establishment_of(caller)?;
        if kind == CareKind::Consultation {
            return Err(DspError::Invalid(
                "a consultation begins with the holder's access code".into(),
            ));
        }
        let (record, _) = self.load(holder).await?;
        let resolved = self.resolve(caller, &record).await?;
        let allowed = resolved
            .professional()
            .is_some_and(|p| p.authorised && p.affiliated)
            && caller.assurance >= LevelOfAssurance::High;
        if !allowed {
            self.note(
                caller,
                &resolved,
                holder,
                EventKind::DspAccessDenied,
                "care",
                None,
                Decision::Deny("not_staff_of_the_establishment"),
            )
            .await?;
            return Err(DspError::Denied("not_staff_of_the_establishment"));
        }
        let now = self.now();
        let end = match kind {
            CareKind::Admission => now + Duration::days(ADMISSION_DAYS),
            _ => now + Duration::hours(EMERGENCY_HOURS) + Duration::days(EMERGENCY_FOLLOW_UP_DAYS),
        };
        let relationship = CareRelationship {
            id: uuid::Uuid::new_v4().to_string(),
            record: holder.to_owned(),
            kind,
            professional: None,
            establishment: Some(establishment),
            start: now,
            end,
            renewals: 0,
            stay_ended: None,
            revoked: None,
        };
        self.store_relationship(&relationship, Expect::Absent)
            .await?;
        self.note(
            caller,
            &resolved,
            holder,
            EventKind::DspRelationshipStarted,
            kind.code(),
            None,
            Decision::Permit,
        )
        .await?;
        Ok(relationship)
    }

    async fn own_stay(
        &self,
        caller: &Caller,
        relationship: &str,
    ) -> DspResult<(CareRelationship, i64, Resolved)> {
        let establishment = Self::establishment_of(caller)?;
        let (r, version) = self
            .get::<CareRelationship>(RELATIONSHIPS, relationship)
            .await?
            .ok_or_else(|| DspError::NotFound("care relationship".into()))?;
        let (record, _) = self.load(&r.record).await?;
        let resolved = self.resolve(caller, &record).await?;
        let staff = resolved
            .professional()
            .is_some_and(|p| p.authorised && p.affiliated);
        if r.establishment.as_deref() != Some(establishment.as_str()) || !staff {
            return Err(DspError::Denied("not_staff_of_the_establishment"));
        }
        Ok((r, version, resolved))
    }

    /// Renews an admission by at most 30 days while the stay lasts (DSP-14).
    pub async fn renew_stay(
        &self,
        caller: &Caller,
        relationship: &str,
        days: i64,
    ) -> DspResult<CareRelationship> {
        if !(1..=RENEWAL_MAX_DAYS).contains(&days) {
            return Err(DspError::Invalid(format!(
                "a renewal is 1 to {RENEWAL_MAX_DAYS} days"
            )));
        }
        let (mut r, version, resolved) = self.own_stay(caller, relationship).await?;
        if r.kind != CareKind::Admission {
            return Err(DspError::Invalid("only admissions are renewed".into()));
        }
        if r.stay_ended.is_some() || r.revoked.is_some() {
            return Err(DspError::Conflict("the stay has ended".into()));
        }
        let now = self.now();
        if now >= r.end {
            return Err(DspError::Conflict(
                "the admission's period has ended".into(),
            ));
        }
        r.end += Duration::days(days);
        r.renewals += 1;
        self.store_relationship(&r, Expect::Version(version))
            .await?;
        let holder = r.record.clone();
        self.note(
            caller,
            &resolved,
            &holder,
            EventKind::DspRelationshipStarted,
            "renew",
            None,
            Decision::Permit,
        )
        .await?;
        Ok(r)
    }

    /// The stay ended: no more renewals (the grant runs to its end, for the filing
    /// duties of DSP-26).
    pub async fn end_stay(
        &self,
        caller: &Caller,
        relationship: &str,
    ) -> DspResult<CareRelationship> {
        let (mut r, version, resolved) = self.own_stay(caller, relationship).await?;
        r.stay_ended = Some(self.now());
        self.store_relationship(&r, Expect::Version(version))
            .await?;
        let holder = r.record.clone();
        self.note(
            caller,
            &resolved,
            &holder,
            EventKind::DspRelationshipEnded,
            "stay_ended",
            None,
            Decision::Permit,
        )
        .await?;
        Ok(r)
    }

    /// Records the referring doctor the insurer declared for the holder (DSP-15,
    /// REF-15): he gets the referring doctor's column of the matrix while it runs.
    pub async fn declare_referent(
        &self,
        holder: &str,
        declaration: ReferentDeclaration,
        source: &Source,
    ) -> DspResult<()> {
        self.directory
            .professional(&declaration.professional)
            .await
            .map_err(|e| DspError::Invalid(format!("referring doctor: {e}")))?;
        self.update(holder, |r| {
            // One active referring doctor: a new declaration ends the previous one.
            for old in r.referents.iter_mut().filter(|d| d.until.is_none()) {
                old.until = Some(declaration.from - Duration::days(1));
            }
            r.referents.push(declaration.clone());
            Ok(())
        })
        .await?;
        let mut event = AuditEvent::new(
            EventKind::DspRelationshipStarted,
            self.now(),
            Actor::platform(),
            Service::Dsp,
            Action::Update,
        )
        .source(source.clone())
        .outcome(Outcome::Success);
        if let Ok(p) = Token::new(holder.to_owned()) {
            event = event.patient(p);
        }
        self.recorder.record(event).await?;
        Ok(())
    }

    /// The professional's authorisation to practise was withdrawn (DSP-16): every care
    /// relationship of his ends now, and each holder concerned is told. Returns how
    /// many holders were told.
    pub async fn professional_withdrawn(
        &self,
        professional: &str,
        source: &Source,
    ) -> DspResult<usize> {
        let now = self.now();
        let relationships: Vec<CareRelationship> = self
            .all_with(RELATIONSHIPS, "professional", professional, 10_000)
            .await?;
        let mut holders: Vec<String> = Vec::new();
        for mut r in relationships.into_iter().filter(|r| r.in_force(now)) {
            r.revoked = Some(now);
            self.store_relationship(&r, Expect::Any).await?;
            if !holders.contains(&r.record) {
                holders.push(r.record.clone());
            }
        }
        for holder in &holders {
            self.notify(
                holder,
                NoticeKind::ProfessionalWithdrawn {
                    professional: professional.to_owned(),
                },
            )
            .await?;
            let mut event = AuditEvent::new(
                EventKind::DspRelationshipEnded,
                now,
                Actor::platform(),
                Service::Dsp,
                Action::Update,
            )
            .source(source.clone())
            .outcome(Outcome::Success);
            if let Ok(p) = Token::new(holder.clone()) {
                event = event.patient(p);
            }
            self.recorder.record(event).await?;
        }
        Ok(holders.len())
    }

    /// The care relationships in force for the holder, for his portal.
    pub async fn care_relationships(
        &self,
        caller: &Caller,
        holder: &str,
    ) -> DspResult<Vec<CareRelationship>> {
        let (record, _) = self.load(holder).await?;
        self.gate(caller, &record, Intent::HolderControls, None)
            .await?;
        let now = self.now();
        Ok(self
            .relationships(holder)
            .await?
            .into_iter()
            .filter(|r| r.in_force(now))
            .collect())
    }

    /// The holders a professional is in a care relationship with now (his portal's
    /// list of patients).
    pub async fn patients_in_care(&self, caller: &Caller) -> DspResult<Vec<String>> {
        if caller.quality != Quality::Professional {
            return Ok(Vec::new());
        }
        let now = self.now();
        let mut out: Vec<String> = Vec::new();
        let mine: Vec<CareRelationship> = self
            .all_with(RELATIONSHIPS, "professional", &caller.entry, 10_000)
            .await?;
        let theirs: Vec<CareRelationship> = match &caller.system {
            Some((_, establishment)) => {
                self.all_with(RELATIONSHIPS, "establishment", establishment, 10_000)
                    .await?
            }
            None => Vec::new(),
        };
        for r in mine.into_iter().chain(theirs).filter(|r| r.in_force(now)) {
            if !out.contains(&r.record) {
                out.push(r.record);
            }
        }
        Ok(out)
    }
}
