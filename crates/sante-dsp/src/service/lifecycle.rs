//! The life cycle of a DSP (DSP-4 to DSP-12): created on affiliation with its
//! information letter, deleted on objection, activated, closed and reopened, closed
//! after ten years without access or on death, deleted ten years after closure;
//! documents deleted at the end of their ten-year retention unless the holder agreed
//! to keep them. Every date comes from the injected clock.

use chrono::{Duration, Months};
use sante_audit::{Actor, AuditEvent, EventKind, Outcome, Source, Token};
use sante_directory::access::{Caller as DirectoryCaller, Request as DirectoryRequest};
use sante_letters::{Block, Letter};
use sante_store::{Expect, WriteOp};
use sante_types::Service;

use super::*;
use crate::model::{Closure, ClosureReason, Controls, Item, RecordState};
use crate::policy::Intent;

/// Years: closed DSPs are deleted, idle ones closed, documents' retention.
const TEN_YEARS_MONTHS: u32 = 120;

/// What a housekeeping pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HousekeepingReport {
    pub closed_for_inactivity: usize,
    pub deleted_after_closure: usize,
    pub items_expired: usize,
}

fn ten_years_after(t: DateTime<Utc>) -> DateTime<Utc> {
    t.checked_add_months(Months::new(TEN_YEARS_MONTHS))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl DspService {
    async fn trace_platform(
        &self,
        kind: EventKind,
        holder: &str,
        source: &Source,
        actor: Actor,
    ) -> DspResult<()> {
        let mut event = AuditEvent::new(
            kind,
            self.now(),
            actor,
            Service::Dsp,
            sante_audit::Action::Update,
        )
        .source(source.clone())
        .outcome(Outcome::Success);
        if let Ok(p) = Token::new(holder.to_owned()) {
            event = event.patient(p);
        }
        self.recorder.record(event).await?;
        Ok(())
    }

    /// The request the DSP makes to the patient directory, as the DSP service.
    pub(crate) fn directory_request(source: &Source) -> DirectoryRequest {
        DirectoryRequest::new(
            DirectoryCaller::Service {
                name: "dsp".into(),
                service: Service::Dsp,
            },
            source.clone(),
        )
    }

    /// Creates the DSP of `holder` (DSP-4: on affiliation; or on the request of a
    /// person treated in the country) and its information letter (DSP-5). Returns
    /// `false` when the holder already has one.
    pub async fn create(&self, holder: &str, source: &Source) -> DspResult<bool> {
        if self.get::<CareRecord>(RECORDS, holder).await?.is_some() {
            return Ok(false);
        }
        let patient = self
            .directory
            .patient(&Self::directory_request(source), holder)
            .await
            .map_err(|e| match e {
                sante_directory::DirectoryError::NotFound(_) => {
                    DspError::NotFound(format!("patient {holder}"))
                }
                other => DspError::Directory(other),
            })?;
        let now = self.now();
        let record = CareRecord {
            holder: patient.id.clone(),
            state: RecordState::Created,
            created: now,
            letter_sent: now,
            activated: None,
            closure: None,
            last_access: now,
            organ_donation_asked: false,
            first_professional_access: None,
            controls: Controls::default(),
            referents: Vec::new(),
        };
        let name = format!(
            "{} {}",
            patient.given_names.join(" "),
            patient.family_name()
        );
        let mut address = vec![name.trim().to_owned()];
        if let Some(a) = &patient.address {
            address.extend(a.lines.iter().cloned());
            address.push(
                [a.postcode.as_deref(), a.town.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        let pdf = sante_letters::render(&information_letter(address, now))
            .map_err(|e| DspError::Invalid(e.to_string()))?;
        self.blobs.put(LETTER_OWNER, &record.holder, &pdf).await?;
        let created = self
            .db
            .write_batch(
                &[
                    Self::put_op(RECORDS, &record.holder, &record, Expect::Absent)?,
                    Self::index_op(RECORDS, &record.holder, record_terms(&record)),
                ],
                self.micros(),
            )
            .await;
        match created {
            Ok(_) => {}
            // Created meanwhile by another instance following the same feed.
            Err(StoreError::Conflict(_)) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.trace_platform(
            EventKind::DspRecordCreated,
            &record.holder,
            source,
            Actor::platform(),
        )
        .await?;
        Ok(true)
    }

    /// The information letter of a DSP, for the operator to print and post.
    pub async fn letter(&self, holder: &str) -> DspResult<Vec<u8>> {
        Ok(self.blobs.get(LETTER_OWNER, holder).await?)
    }

    /// The holders whose letters wait to be printed: created, not activated.
    pub async fn letters_pending(&self, limit: u32) -> DspResult<Vec<String>> {
        Ok(self
            .db
            .search(
                RECORDS,
                &[sante_store::TermQuery::exact("state", "created")],
                None,
                limit,
            )
            .await?)
    }

    /// Marks a printed letter as posted: it leaves the print queue.
    pub async fn letter_posted(&self, holder: &str) -> DspResult<()> {
        self.blobs.delete(LETTER_OWNER, holder).await?;
        Ok(())
    }

    /// The holder activates his DSP: professionals in care reach it from now on.
    pub async fn activate(&self, caller: &Caller, holder: &str) -> DspResult<CareRecord> {
        let (record, _) = self.load(holder).await?;
        let resolved = self
            .gate(caller, &record, Intent::HolderControls, None)
            .await?;
        if record.state != RecordState::Created {
            return Err(DspError::Conflict(
                "the DSP is not waiting for activation".into(),
            ));
        }
        let now = self.now();
        let record = self
            .update(holder, |r| {
                r.state = RecordState::Active;
                r.activated = Some(now);
                r.last_access = now;
                Ok(())
            })
            .await?;
        self.note(
            caller,
            &resolved,
            holder,
            EventKind::DspRecordActivated,
            "activate",
            None,
            Decision::Permit,
        )
        .await?;
        Ok(record)
    }

    /// The holder objects to his DSP (DSP-6): it never becomes active and is deleted.
    pub async fn object(&self, caller: &Caller, holder: &str) -> DspResult<()> {
        let (record, _) = self.load(holder).await?;
        self.gate(caller, &record, Intent::HolderControls, None)
            .await?;
        if record.state != RecordState::Created {
            return Err(DspError::Conflict(
                "an activated DSP is closed, not objected to".into(),
            ));
        }
        self.delete_record(holder).await?;
        let mut actor = caller.actor();
        actor.on_behalf_of = None;
        self.trace_platform(EventKind::DspRecordDeleted, holder, &caller.source, actor)
            .await
    }

    /// The holder closes his DSP (DSP-9): its data become inaccessible and archived.
    pub async fn close(&self, caller: &Caller, holder: &str) -> DspResult<()> {
        let (record, _) = self.load(holder).await?;
        let resolved = self
            .gate(caller, &record, Intent::HolderControls, None)
            .await?;
        if record.state == RecordState::Closed {
            return Err(DspError::Conflict("the DSP is already closed".into()));
        }
        self.close_for(holder, ClosureReason::Holder).await?;
        self.note(
            caller,
            &resolved,
            holder,
            EventKind::DspRecordClosed,
            "close",
            None,
            Decision::Permit,
        )
        .await
    }

    pub(crate) async fn close_for(&self, holder: &str, reason: ClosureReason) -> DspResult<()> {
        let now = self.now();
        self.update(holder, |r| {
            r.state = RecordState::Closed;
            r.closure = Some(Closure { at: now, reason });
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// The holder reopens his closed DSP within ten years (DSP-10): it holds exactly
    /// what it held at closure.
    pub async fn reopen(&self, caller: &Caller, holder: &str) -> DspResult<CareRecord> {
        let (record, _) = self.load(holder).await?;
        let resolved = self
            .gate(caller, &record, Intent::HolderControls, None)
            .await?;
        let Some(closure) = &record.closure else {
            return Err(DspError::Conflict("the DSP is not closed".into()));
        };
        if closure.reason == ClosureReason::Death {
            return Err(DspError::Conflict(
                "the holder's death closed this DSP".into(),
            ));
        }
        if self.now() >= ten_years_after(closure.at) {
            return Err(DspError::Conflict("closed more than ten years ago".into()));
        }
        let now = self.now();
        let reopened = self
            .update(holder, |r| {
                r.state = if r.activated.is_some() {
                    RecordState::Active
                } else {
                    RecordState::Created
                };
                r.closure = None;
                r.last_access = now;
                Ok(())
            })
            .await?;
        self.note(
            caller,
            &resolved,
            holder,
            EventKind::DspRecordReopened,
            "reopen",
            None,
            Decision::Permit,
        )
        .await?;
        Ok(reopened)
    }

    /// The holder's death was reported (DSP-11): his DSP is closed.
    pub async fn holder_died(&self, holder: &str, source: &Source) -> DspResult<bool> {
        let Some((record, _)) = self.get::<CareRecord>(RECORDS, holder).await? else {
            return Ok(false);
        };
        if record.state == RecordState::Closed {
            return Ok(false);
        }
        self.close_for(holder, ClosureReason::Death).await?;
        self.trace_platform(
            EventKind::DspRecordClosed,
            holder,
            source,
            Actor::platform(),
        )
        .await?;
        Ok(true)
    }

    /// Deletes a DSP and everything of it: documents and their blobs, care
    /// relationships, access codes, history and notices (DSP-6, DSP-10, DSP-28).
    pub(crate) async fn delete_record(&self, holder: &str) -> DspResult<()> {
        let mut ops = Vec::new();
        for collection in [ITEMS, RELATIONSHIPS, HISTORY, NOTICES, REQUESTS] {
            let keys = self
                .db
                .search(
                    collection,
                    &[sante_store::TermQuery::exact("record", holder)],
                    None,
                    10_000,
                )
                .await?;
            ops.extend(keys.into_iter().map(|key| WriteOp::Delete {
                collection: collection.into(),
                key,
                expect: Expect::Any,
            }));
        }
        ops.push(WriteOp::Delete {
            collection: RECORDS.into(),
            key: holder.into(),
            expect: Expect::Any,
        });
        for chunk in ops.chunks(500) {
            self.db.write_batch(chunk, self.micros()).await?;
        }
        self.blobs.erase_owner(&blob_owner(holder)).await?;
        let _ = self.blobs.delete(LETTER_OWNER, holder).await;
        Ok(())
    }

    /// The daily pass: DSPs idle ten years are closed (DSP-11), DSPs closed ten years
    /// are deleted (DSP-10), documents past their ten-year retention without the
    /// holder's agreement are deleted (DSP-12). Bounded per call; the next continues.
    pub async fn housekeeping(&self, source: &Source) -> DspResult<HousekeepingReport> {
        let now = self.now();
        let mut report = HousekeepingReport::default();
        let mut after: Option<String> = None;
        for _ in 0..200 {
            let page = self.db.list(RECORDS, after.as_deref(), 500).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for raw in &page {
                let Ok(record) = serde_json::from_slice::<CareRecord>(&raw.value) else {
                    continue;
                };
                match (&record.state, &record.closure) {
                    (RecordState::Closed, Some(closure)) if now >= ten_years_after(closure.at) => {
                        self.delete_record(&record.holder).await?;
                        self.trace_platform(
                            EventKind::DspRecordDeleted,
                            &record.holder,
                            source,
                            Actor::platform(),
                        )
                        .await?;
                        report.deleted_after_closure += 1;
                        continue;
                    }
                    (RecordState::Closed, _) => continue,
                    _ if now >= ten_years_after(record.last_access) => {
                        self.close_for(&record.holder, ClosureReason::Inactivity)
                            .await?;
                        self.notify(&record.holder, NoticeKind::Closed).await?;
                        self.trace_platform(
                            EventKind::DspRecordClosed,
                            &record.holder,
                            source,
                            Actor::platform(),
                        )
                        .await?;
                        report.closed_for_inactivity += 1;
                        continue;
                    }
                    _ => {}
                }
                report.items_expired += self.expire_items(&record.holder, source).await?;
            }
            if page.len() < 500 {
                break;
            }
        }
        Ok(report)
    }

    async fn expire_items(&self, holder: &str, source: &Source) -> DspResult<usize> {
        let now = self.now();
        let items: Vec<Item> = self.all_with(ITEMS, "record", holder, 10_000).await?;
        let mut expired = 0;
        for item in items
            .iter()
            .filter(|i| i.keep_agreed.is_none() && now >= i.retention_until)
        {
            self.db.delete(ITEMS, &item.id, Expect::Any).await?;
            self.blobs.delete(&blob_owner(holder), &item.id).await?;
            let mut event = AuditEvent::new(
                EventKind::DspItemDeprecated,
                now,
                Actor::platform(),
                Service::Dsp,
                sante_audit::Action::Delete,
            )
            .source(source.clone())
            .outcome(Outcome::Success);
            if let Ok(p) = Token::new(holder.to_owned()) {
                event = event.patient(p);
            }
            if let Ok(id) = Token::new(item.id.clone()) {
                event = event.resource(Token::code("DocumentReference"), id);
            }
            self.recorder.record(event).await?;
            expired += 1;
        }
        Ok(expired)
    }
}

/// Ten years from `t`: the retention of a document filed then (DSP-12).
pub(crate) fn retention_from(t: DateTime<Utc>) -> DateTime<Utc> {
    ten_years_after(t)
}

/// The information letter of DSP-5: the creation, how to activate and close it, the
/// personal login, how it works (access rights and their management, security,
/// filing, traceability), the right to object, the holder's own rights, its content.
fn information_letter(addressee: Vec<String>, today: DateTime<Utc>) -> Letter {
    let deadline = (today + Duration::days(crate::policy::ACTIVATION_WINDOW_DAYS))
        .format("%d/%m/%Y")
        .to_string();
    Letter {
        sender: vec![
            "Sante — plateforme nationale d'eSanté".into(),
            "Dossier de soins partagé".into(),
        ],
        addressee,
        place_and_date: format!("Luxembourg, le {}", today.format("%d/%m/%Y")),
        title: "Votre dossier de soins partagé a été créé".into(),
        blocks: vec![
            Block::Paragraph("Comme toute personne affiliée à l'assurance maladie, vous disposez désormais d'un dossier de soins partagé (DSP). Il rassemble les informations utiles à la sécurité, à la continuité et à la coordination de vos soins : comptes rendus, résultats d'analyses et d'imagerie, prescriptions, médicaments délivrés, et ce que vous choisissez d'y écrire vous-même.".into()),
            Block::Heading("L'activer, le fermer, vous y opposer".into()),
            Block::Paragraph(format!("Connectez-vous au portail Sante avec votre compte personnel de patient (la lettre d'activation de votre compte vous indique votre identifiant et votre code) et activez votre DSP. Si vous ne l'avez pas activé avant le {deadline}, les professionnels qui participent à votre prise en charge pourront le consulter et l'alimenter dans la limite de leurs droits. Vous pouvez vous opposer à sa création : il ne sera alors jamais actif et sera supprimé. Vous pouvez aussi le fermer à tout moment, et le rouvrir dans les dix ans avec le contenu qu'il avait à sa fermeture.")),
            Block::Heading("Les droits d'accès et leur gestion".into()),
            Block::Paragraph("Seuls les professionnels de santé qui participent à votre prise en charge y accèdent, pour la durée de celle-ci : quinze jours après que vous leur avez donné un code d'accès en consultation, la durée de votre séjour dans un établissement, ou vingt-quatre heures et quinze jours aux urgences ; chacun selon la matrice d'accès de sa profession. Votre médecin référent consulte en plus l'historique des accès. Vous pouvez interdire votre dossier à des professionnels que vous désignez, rendre certaines données inaccessibles à certains d'entre eux, vous opposer à l'enregistrement d'une donnée, et désigner un assistant qui vous aide à gérer votre dossier.".into()),
            Block::Heading("Vos droits, la sécurité, la traçabilité".into()),
            Block::Paragraph("Vous lisez toutes les données de votre dossier et écrivez dans votre espace d'expression personnelle (vos souhaits sur le don d'organes, les directives anticipées, la fin de vie). Les données sont chiffrées, l'accès demande une authentification forte, et chaque accès et chaque action sont tracés : vous voyez qui a consulté ou alimenté votre dossier, quand, et quoi. Les données sont conservées dix ans, sauf si vous acceptez de les garder plus longtemps.".into()),
            Block::Paragraph("À sa création, votre dossier est vide : il se remplit au fil de vos soins.".into()),
            Block::Heading("Deutsch — English".into()),
            Block::Paragraph("Für Sie wurde eine elektronische Patientenakte (DSP) eingerichtet; Sie können sie auf dem Portal Sante aktivieren, schließen oder ihr widersprechen. A shared care record (DSP) was created for you; you can activate it, close it or object to it on the Sante portal. Seule la version française fait foi.".into()),
        ],
    }
}
