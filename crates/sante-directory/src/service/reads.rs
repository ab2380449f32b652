//! Reads of the patient register: decided by the access policy and traced, every
//! patient entry revealed.

use super::*;

impl Directory {
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
        let mut current = self.load_patient(id).await?;
        let mut hops = 0;
        while let Some(next) = current.merged_into.clone() {
            hops += 1;
            if hops > 8 {
                return Err(PlatformError::corrupt(id).into());
            }
            current = self.load_patient(&next).await?;
        }
        self.trace_reads(req, std::slice::from_ref(&current))
            .await?;
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
    /// directory is never listed whole. Merged entries are left out. Every entry
    /// returned is traced.
    pub async fn search_patients(
        &self,
        req: &Request,
        query: &PatientQuery,
        after: Option<&str>,
        limit: u32,
    ) -> DirectoryResult<Page<Patient>> {
        self.check(req, DirectoryAction::ReadPatients, Action::Read)
            .await?;
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
        let mut page: Page<Patient> = self.search_page(PATIENTS, terms, after, limit).await?;
        page.items.retain(|p| p.merged_into.is_none());
        self.trace_reads(req, &page.items).await?;
        Ok(page)
    }
}
