//! Reads of the patient register: decided by the access policy and traced, every
//! patient entry revealed. A professional or a service identifies one patient at a
//! time, within an hourly allowance (DIR-5); only the directory's staff search
//! broadly.

use super::*;
use crate::access::{Caller, IDENTIFY_MAX, PatientSearch, patient_search};
use sante_types::Quality;

/// How a lookup is bounded for its caller.
pub(super) struct Bound {
    /// Counted under this caller, at most this many entries a call; `None` for the
    /// directory's staff.
    identify: Option<String>,
}

impl Bound {
    pub(super) fn identifying(&self) -> bool {
        self.identify.is_some()
    }

    /// The page size a caller gets of the `asked` entries.
    pub(super) fn page(&self, asked: u32) -> u32 {
        if self.identifying() {
            asked.min(IDENTIFY_MAX)
        } else {
            asked
        }
    }
}

impl Directory {
    /// Before a lookup: how it is bounded for this caller, or, for one past its hourly
    /// allowance, the refusal, traced and logged for the operator's watch.
    pub(super) async fn lookup_bound(
        &self,
        req: &Request,
        audit_action: Action,
    ) -> DirectoryResult<Bound> {
        let (caller, service) = match patient_search(&req.caller) {
            PatientSearch::Broad => return Ok(Bound { identify: None }),
            PatientSearch::Identify { caller, service } => (caller, service),
        };
        let limits = self.lookups.limits;
        let per_hour = if service {
            limits.service_per_hour
        } else {
            limits.person_per_hour
        };
        if self.lookups.exhausted(&caller, per_hour, self.clock.now()) {
            tracing::warn!(
                caller = %caller,
                per_hour,
                "patient identities looked up past the hourly allowance: refused"
            );
            self.trace_refusal(req, audit_action, "lookup-volume")
                .await?;
            return Err(DirectoryError::Throttled);
        }
        Ok(Bound {
            identify: Some(caller),
        })
    }

    /// Counts the entries a lookup showed against its caller's allowance.
    pub(super) fn count_lookups(&self, bound: &Bound, shown: usize) {
        if let Some(caller) = &bound.identify {
            self.lookups.count(caller, shown, self.clock.now());
        }
    }

    /// Records one read event per patient entry revealed.
    pub(super) async fn trace_reads(
        &self,
        req: &Request,
        patients: &[Patient],
    ) -> DirectoryResult<()> {
        let events = patients.iter().map(|p| {
            self.recorder.record(
                self.event(req, EventKind::DirectoryPatientRead, Action::Read)
                    .resource(Token::code("Patient"), token(&p.id))
                    .patient(token(&p.id)),
            )
        });
        for result in futures::future::join_all(events).await {
            result?;
        }
        Ok(())
    }

    /// Reads a patient entry, following merges to the surviving identity. Traced.
    pub async fn patient(&self, req: &Request, id: &str) -> DirectoryResult<Patient> {
        self.check(req, DirectoryAction::ReadPatients, Action::Read)
            .await?;
        let bound = self.lookup_bound(req, Action::Read).await?;
        let current = self.load_surviving(id).await?;
        self.trace_reads(req, std::slice::from_ref(&current))
            .await?;
        self.count_lookups(&bound, 1);
        Ok(current)
    }

    /// A patient's own entry, for his view of his data (PRV-1): the caller is the
    /// patient signed in, `subject` his account's entry as the security directory
    /// gives it (the front end passes the session's, never a parameter). Merges are
    /// followed; the read is traced like any other.
    pub async fn own_patient_entry(
        &self,
        req: &Request,
        subject: &str,
    ) -> DirectoryResult<Patient> {
        if !matches!(
            req.caller,
            Caller::Person {
                quality: Quality::Patient,
                ..
            }
        ) {
            let denied = Denied::QualityNotEntitled;
            self.trace_refusal(req, Action::Read, denied.reason())
                .await?;
            return Err(denied.into());
        }
        let current = self.load_surviving(subject).await?;
        self.trace_reads(req, std::slice::from_ref(&current))
            .await?;
        Ok(current)
    }

    /// The entry `id`, or the one it was merged into.
    async fn load_surviving(&self, id: &str) -> DirectoryResult<Patient> {
        let mut current = self.load_patient(id).await?;
        let mut hops = 0;
        while let Some(next) = current.merged_into.clone() {
            hops += 1;
            if hops > 8 {
                return Err(PlatformError::corrupt(id).into());
            }
            current = self.load_patient(&next).await?;
        }
        Ok(current)
    }

    pub(super) async fn load_patient(&self, id: &str) -> DirectoryResult<Patient> {
        crate::model::check_id("id", id)?;
        let record = self
            .db
            .get(PATIENTS, id)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(format!("Patient/{id}")))?;
        decode(&record)
    }

    /// Searches the patient directory (PDQm). At least one criterion is required: the
    /// directory is never listed whole; a professional or a service must name one
    /// person (national number, or family name with birth date) and gets a few entries
    /// a call. Merged entries are left out. Every entry returned is traced.
    pub async fn search_patients(
        &self,
        req: &Request,
        query: &PatientQuery,
        after: Option<&str>,
        limit: u32,
    ) -> DirectoryResult<Page<Patient>> {
        self.check(req, DirectoryAction::ReadPatients, Action::Read)
            .await?;
        let bound = self.lookup_bound(req, Action::Execute).await?;
        if bound.identifying() && !query.identifies() {
            self.trace_refusal(req, Action::Execute, "broad-search")
                .await?;
            return Err(DirectoryError::Undiscriminating);
        }
        let terms = query.terms();
        if terms.is_empty() {
            return Err(InvalidEntry {
                field: "search",
                reason: "give at least one criterion".into(),
            }
            .into());
        }
        let event = self.event(req, EventKind::DirectoryPatientSearched, Action::Execute);
        self.recorder.record(event).await?;
        let mut page: Page<Patient> = self
            .search_page(PATIENTS, terms, after, bound.page(limit))
            .await?;
        page.items.retain(|p| p.merged_into.is_none());
        self.trace_reads(req, &page.items).await?;
        self.count_lookups(&bound, page.items.len());
        Ok(page)
    }

    /// Confirms a patient the caller knows by national number and family name (birth
    /// or used name): a patient naming his DSP assistant (DSP-24), who knows that
    /// person but not an identifier. Only a patient asks; the lookup counts against his
    /// own hourly allowance and is traced; the answer is the entry's identifier and
    /// display name, nothing else, and `None` alike for an unknown number and for a
    /// name that is not that number's.
    pub async fn confirm_patient(
        &self,
        req: &Request,
        national_id: &str,
        family_name: &str,
    ) -> DirectoryResult<Option<ConfirmedPatient>> {
        if !matches!(
            req.caller,
            Caller::Person {
                quality: Quality::Patient,
                ..
            }
        ) {
            let denied = Denied::QualityNotEntitled;
            self.trace_refusal(req, Action::Execute, denied.reason())
                .await?;
            return Err(denied.into());
        }
        let bound = self.lookup_bound(req, Action::Execute).await?;
        let query = PatientQuery {
            national_id: Some(national_id.trim().to_owned()),
            ..PatientQuery::default()
        };
        let wanted = normalise(family_name);
        if !query.identifies() || wanted.is_empty() {
            return Ok(None);
        }
        let event = self.event(req, EventKind::DirectoryPatientSearched, Action::Execute);
        self.recorder.record(event).await?;
        let page: Page<Patient> = self
            .search_page(PATIENTS, query.terms(), None, IDENTIFY_MAX)
            .await?;
        self.count_lookups(&bound, 1);
        let found: Vec<&Patient> = page
            .items
            .iter()
            .filter(|p| p.merged_into.is_none())
            .filter(|p| {
                normalise(&p.birth_name) == wanted
                    || p.used_name
                        .as_deref()
                        .is_some_and(|u| normalise(u) == wanted)
            })
            .collect();
        let [one] = found.as_slice() else {
            return Ok(None);
        };
        self.trace_reads(req, std::slice::from_ref(*one)).await?;
        Ok(Some(ConfirmedPatient {
            id: one.id.clone(),
            name: one.display_name(),
        }))
    }
}

/// A patient confirmed by what the caller knew of him.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedPatient {
    pub id: String,
    pub name: String,
}
