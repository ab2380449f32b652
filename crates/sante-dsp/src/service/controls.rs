//! The holder's controls (DSP-18 to DSP-24): the personal space and the organ-donation
//! question, the private level (block named professionals), the restricted level (hide
//! named items from named professionals, effective once the health-risk warning is
//! acknowledged), the objection to filing during a care relationship, the assistant,
//! and the agreement to keep a document beyond its retention (DSP-12). Each change is
//! traced as the person who made it (the assistant, when he acts).

use sante_store::Expect;

use super::*;
use crate::model::{Assistant, Confidentiality, Item, Restriction};
use crate::service::items::NewItem;

/// The holder's answer to the organ-donation question (DSP-18).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrganDonation {
    Consents,
    Objects,
    /// He prefers not to answer now; the question is not asked again.
    NoAnswer,
}

impl DspService {
    /// Applies a change of the holder's controls after the decision, and traces it.
    async fn control<F>(
        &self,
        caller: &Caller,
        holder: &str,
        what: &str,
        item: Option<&str>,
        change: F,
    ) -> DspResult<CareRecord>
    where
        F: Fn(&mut CareRecord) -> DspResult<()>,
    {
        let (record, _) = self.load(holder).await?;
        let resolved = self
            .gate(caller, &record, Intent::HolderControls, item)
            .await?;
        let updated = self.update(holder, change).await?;
        self.note(
            caller,
            &resolved,
            holder,
            EventKind::DspControlChanged,
            what,
            item,
            Decision::Permit,
        )
        .await?;
        Ok(updated)
    }

    async fn known_professional(&self, professional: &str) -> DspResult<()> {
        self.directory
            .professional(professional)
            .await
            .map(|_| ())
            .map_err(|_| {
                DspError::Invalid(format!("no professional {professional} in the directory"))
            })
    }

    /// Private level: forbids `professional` the whole DSP (DSP-19).
    pub async fn block(
        &self,
        caller: &Caller,
        holder: &str,
        professional: &str,
    ) -> DspResult<CareRecord> {
        self.known_professional(professional).await?;
        let p = professional.to_owned();
        self.control(caller, holder, "block", None, move |r| {
            if !r.controls.blocked.contains(&p) {
                r.controls.blocked.push(p.clone());
            }
            Ok(())
        })
        .await
    }

    pub async fn unblock(
        &self,
        caller: &Caller,
        holder: &str,
        professional: &str,
    ) -> DspResult<CareRecord> {
        let p = professional.to_owned();
        self.control(caller, holder, "unblock", None, move |r| {
            r.controls.blocked.retain(|b| b != &p);
            Ok(())
        })
        .await
    }

    /// The holder read the warning on the health risks of restricting access (DSP-21);
    /// restrictions take effect from now.
    pub async fn acknowledge_risks(&self, caller: &Caller, holder: &str) -> DspResult<CareRecord> {
        let now = self.now();
        self.control(caller, holder, "acknowledge_risks", None, move |r| {
            r.controls.risk_acknowledged.get_or_insert(now);
            Ok(())
        })
        .await
    }

    /// Restricted level: hides `item` from `professional` (DSP-20). Refused until the
    /// warning is acknowledged.
    pub async fn restrict(
        &self,
        caller: &Caller,
        holder: &str,
        item: &str,
        professional: &str,
    ) -> DspResult<CareRecord> {
        self.known_professional(professional).await?;
        let found: Option<(Item, i64)> = self.get(ITEMS, item).await?;
        if found.is_none_or(|(i, _)| i.record != holder) {
            return Err(DspError::NotFound("document".into()));
        }
        let (record, _) = self.load(holder).await?;
        if record.controls.risk_acknowledged.is_none() {
            return Err(DspError::Conflict(
                "read and acknowledge the warning on the health risks of restricting access first"
                    .into(),
            ));
        }
        let now = self.now();
        let (i, p) = (item.to_owned(), professional.to_owned());
        self.control(caller, holder, "restrict", Some(item), move |r| {
            if !r
                .controls
                .restrictions
                .iter()
                .any(|x| x.item == i && x.professional == p)
            {
                r.controls.restrictions.push(Restriction {
                    item: i.clone(),
                    professional: p.clone(),
                    since: now,
                });
            }
            Ok(())
        })
        .await
    }

    pub async fn unrestrict(
        &self,
        caller: &Caller,
        holder: &str,
        item: &str,
        professional: &str,
    ) -> DspResult<CareRecord> {
        let (i, p) = (item.to_owned(), professional.to_owned());
        self.control(caller, holder, "unrestrict", Some(item), move |r| {
            r.controls
                .restrictions
                .retain(|x| !(x.item == i && x.professional == p));
            Ok(())
        })
        .await
    }

    /// The holder objects to filing during a care relationship (DSP-22), or lifts it.
    pub async fn object_to_filing(
        &self,
        caller: &Caller,
        holder: &str,
        relationship: &str,
        objects: bool,
    ) -> DspResult<CareRecord> {
        let found: Option<(CareRelationship, i64)> = self.get(RELATIONSHIPS, relationship).await?;
        if found.is_none_or(|(r, _)| r.record != holder) {
            return Err(DspError::NotFound("care relationship".into()));
        }
        let rel = relationship.to_owned();
        self.control(
            caller,
            holder,
            if objects {
                "object_to_filing"
            } else {
                "allow_filing"
            },
            None,
            move |r| {
                r.controls.filing_objections.retain(|x| x != &rel);
                if objects {
                    r.controls.filing_objections.push(rel.clone());
                }
                Ok(())
            },
        )
        .await
    }

    /// Appoints another patient as the holder's DSP assistant (DSP-24). Only the holder
    /// himself appoints or revokes.
    pub async fn appoint_assistant(
        &self,
        caller: &Caller,
        holder: &str,
        patient: &str,
    ) -> DspResult<CareRecord> {
        if caller.entry != holder || caller.quality != Quality::Patient {
            return Err(DspError::Denied("holder_only"));
        }
        if patient == holder {
            return Err(DspError::Invalid(
                "the holder cannot be his own assistant".into(),
            ));
        }
        let request = Self::directory_request(&caller.source);
        let assistant = self
            .directory
            .patient(&request, patient)
            .await
            .map_err(|_| {
                DspError::Invalid("the assistant must be a patient of the directory".into())
            })?;
        self.appoint(caller, holder, patient, assistant.display_name())
            .await
    }

    /// Appoints as assistant the patient the holder names by national number and
    /// family name (DSP-24): he knows his assistant, not an identifier. The directory
    /// confirms the pair against the holder's own allowance; every mismatch has the
    /// same answer, so the form tells nothing of who is in the directory.
    pub async fn appoint_assistant_named(
        &self,
        caller: &Caller,
        holder: &str,
        national_id: &str,
        family_name: &str,
    ) -> DspResult<CareRecord> {
        if caller.entry != holder || caller.quality != Quality::Patient {
            return Err(DspError::Denied("holder_only"));
        }
        let as_holder = sante_directory::access::Request::new(
            sante_directory::access::Caller::Person {
                account: caller.account.clone(),
                quality: caller.quality,
                assurance: caller.assurance,
                credential: caller.credential,
                roles: Vec::new(),
                system: None,
            },
            caller.source.clone(),
        );
        let confirmed = match self
            .directory
            .confirm_patient(&as_holder, national_id, family_name)
            .await
        {
            Ok(Some(found)) => found,
            Ok(None) => {
                return Err(DspError::Invalid(
                    "no patient has this national number and this name".into(),
                ));
            }
            // Too many look-ups this hour included: the directory's answer stands.
            Err(e) => return Err(DspError::Directory(e)),
        };
        if confirmed.id == holder {
            return Err(DspError::Invalid(
                "the holder cannot be his own assistant".into(),
            ));
        }
        self.appoint(caller, holder, &confirmed.id, confirmed.name)
            .await
    }

    async fn appoint(
        &self,
        caller: &Caller,
        holder: &str,
        patient: &str,
        name: String,
    ) -> DspResult<CareRecord> {
        // The assistant is told whom he acts for by name.
        let holder_name = self
            .directory
            .patient(&Self::directory_request(&caller.source), holder)
            .await
            .ok()
            .map(|h| h.display_name());
        let now = self.now();
        let p = patient.to_owned();
        self.control(caller, holder, "appoint_assistant", None, move |r| {
            if !r.has_assistant(&p) {
                r.controls.assistants.push(Assistant {
                    patient: p.clone(),
                    since: now,
                    name: Some(name.clone()),
                    holder_name: holder_name.clone(),
                });
            }
            Ok(())
        })
        .await
    }

    pub async fn revoke_assistant(
        &self,
        caller: &Caller,
        holder: &str,
        patient: &str,
    ) -> DspResult<CareRecord> {
        if caller.entry != holder || caller.quality != Quality::Patient {
            return Err(DspError::Denied("holder_only"));
        }
        let p = patient.to_owned();
        self.control(caller, holder, "revoke_assistant", None, move |r| {
            r.controls.assistants.retain(|a| a.patient != p);
            Ok(())
        })
        .await
    }

    /// The holder agrees to keep a document beyond its ten-year retention (DSP-12):
    /// the agreement is dated and recorded in his personal space.
    pub async fn agree_to_keep(
        &self,
        caller: &Caller,
        holder: &str,
        item: &str,
    ) -> DspResult<Item> {
        let (mut found, version) = self
            .get::<Item>(ITEMS, item)
            .await?
            .filter(|(i, _)| i.record == holder)
            .ok_or_else(|| DspError::NotFound("document".into()))?;
        let (record, _) = self.load(holder).await?;
        let resolved = self
            .gate(caller, &record, Intent::HolderControls, Some(item))
            .await?;
        let now = self.now();
        found.keep_agreed = Some(now);
        self.db
            .write_batch(
                &[Self::put_op(ITEMS, item, &found, Expect::Version(version))?],
                self.micros(),
            )
            .await?;
        let note = format!(
            "Le {} : accord pour conserver au-delà de dix ans le document « {} ».",
            now.format("%d/%m/%Y"),
            found.title
        );
        self.file(
            caller,
            holder,
            personal_note("Accord de conservation", &note),
        )
        .await?;
        self.note(
            caller,
            &resolved,
            holder,
            EventKind::DspControlChanged,
            "keep_agreement",
            Some(item),
            Decision::Permit,
        )
        .await?;
        Ok(found)
    }

    /// Whether the organ-donation question must be put now: at the holder's first
    /// access (DSP-18).
    pub async fn organ_donation_pending(&self, caller: &Caller, holder: &str) -> DspResult<bool> {
        let record = self.record(caller, holder).await?;
        Ok(!record.organ_donation_asked && caller.entry == holder)
    }

    /// The holder answers the organ-donation question; an answer is filed in his
    /// personal space.
    pub async fn answer_organ_donation(
        &self,
        caller: &Caller,
        holder: &str,
        answer: OrganDonation,
    ) -> DspResult<()> {
        if caller.entry != holder {
            return Err(DspError::Denied("holder_only"));
        }
        let text = match answer {
            OrganDonation::Consents => {
                Some("Je ne m'oppose pas au prélèvement de mes organes après mon décès.")
            }
            OrganDonation::Objects => {
                Some("Je m'oppose au prélèvement de mes organes après mon décès.")
            }
            OrganDonation::NoAnswer => None,
        };
        if let Some(text) = text {
            let mut item = personal_note("Don d'organes", text);
            item.type_code = "organ-donation".into();
            self.file(caller, holder, item).await?;
        }
        self.control(caller, holder, "organ_donation", None, |r| {
            r.organ_donation_asked = true;
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// The holder writes in his personal space (DSP-18): a note, advance directives.
    pub async fn write_personal(
        &self,
        caller: &Caller,
        holder: &str,
        kind: &str,
        title: &str,
        text: &str,
    ) -> DspResult<Item> {
        let type_code = match kind {
            "advance-directives" | "personal-expression" => kind,
            _ => return Err(DspError::Invalid("a note or advance directives".into())),
        };
        if text.trim().is_empty() || text.len() > 64 * 1024 {
            return Err(DspError::Invalid("the text is empty or too long".into()));
        }
        let mut item = personal_note(title, text);
        item.type_code = type_code.into();
        self.file(caller, holder, item).await
    }
}

fn personal_note(title: &str, text: &str) -> NewItem {
    NewItem {
        type_system: crate::category::SANTE_TYPES.into(),
        type_code: "personal-expression".into(),
        title: title.to_owned(),
        mime_type: "text/plain".into(),
        content: text.as_bytes().to_vec(),
        service_date: None,
        confidentiality: Confidentiality::Restricted,
        replaces: None,
        master_identifier: None,
    }
}
