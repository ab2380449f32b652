//! Searches and reads of the public registers (professionals, establishments) and
//! the queries of every register.

use super::*;

/// Criteria of a professional search (mCSD, the public search page).
#[derive(Debug, Clone, Default)]
pub struct ProfessionalQuery {
    pub id: Option<String>,
    /// Words of the given or family names, each matched as a prefix.
    pub name: Option<String>,
    pub family: Option<String>,
    pub given: Option<String>,
    pub profession: Option<Profession>,
    pub category: Option<AccessCategory>,
    pub speciality: Option<String>,
    pub town: Option<String>,
    pub postcode: Option<String>,
    pub establishment: Option<String>,
    /// A practice location's id.
    pub location: Option<String>,
}

/// Criteria of an establishment search.
#[derive(Debug, Clone, Default)]
pub struct EstablishmentQuery {
    pub id: Option<String>,
    pub name: Option<String>,
    pub kind: Option<EstablishmentKind>,
    pub town: Option<String>,
    pub identifier: Option<String>,
    pub active: Option<bool>,
}

/// Criteria of a patient search (PDQm).
#[derive(Debug, Clone, Default)]
pub struct PatientQuery {
    pub national_id: Option<String>,
    pub family: Option<String>,
    pub given: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<crate::model::Sex>,
    pub postcode: Option<String>,
    pub town: Option<String>,
}

pub(super) fn prefix_words(field: &str, text: &Option<String>, out: &mut Vec<TermQuery>) {
    if let Some(text) = text {
        for w in normalise(text).split(' ').filter(|w| !w.is_empty()) {
            out.push(TermQuery::prefix(field, w));
        }
    }
}

pub(super) fn exact(field: &str, value: Option<String>, out: &mut Vec<TermQuery>) {
    if let Some(v) = value {
        out.push(TermQuery::exact(field, v));
    }
}

impl ProfessionalQuery {
    pub(super) fn terms(&self) -> Vec<TermQuery> {
        let mut q = Vec::new();
        exact(
            "id",
            self.id.as_ref().map(|s| s.to_ascii_lowercase()),
            &mut q,
        );
        prefix_words("name", &self.name, &mut q);
        prefix_words("family", &self.family, &mut q);
        prefix_words("given", &self.given, &mut q);
        exact(
            "profession",
            self.profession.map(|p| p.code().into()),
            &mut q,
        );
        exact("category", self.category.map(|c| c.code().into()), &mut q);
        exact("speciality", self.speciality.clone(), &mut q);
        prefix_words("town", &self.town, &mut q);
        exact("postcode", self.postcode.as_deref().map(normalise), &mut q);
        exact(
            "establishment",
            self.establishment.as_ref().map(|s| s.to_ascii_lowercase()),
            &mut q,
        );
        exact(
            "location",
            self.location.as_ref().map(|s| s.to_ascii_lowercase()),
            &mut q,
        );
        q
    }
}

impl EstablishmentQuery {
    pub(super) fn terms(&self) -> Vec<TermQuery> {
        let mut q = Vec::new();
        exact(
            "id",
            self.id.as_ref().map(|s| s.to_ascii_lowercase()),
            &mut q,
        );
        prefix_words("name", &self.name, &mut q);
        exact("kind", self.kind.map(|k| k.code().into()), &mut q);
        prefix_words("town", &self.town, &mut q);
        exact("identifier", self.identifier.clone(), &mut q);
        exact(
            "active",
            self.active.map(|a| if a { "true" } else { "false" }.into()),
            &mut q,
        );
        q
    }
}

impl PatientQuery {
    /// Whether the query names one person (DIR-5): the national number, or the
    /// family name (two letters at least) with the birth date.
    pub fn identifies(&self) -> bool {
        let given = |text: &Option<String>, least: usize| {
            text.as_deref().is_some_and(|t| {
                normalise(t).chars().filter(|c| c.is_alphanumeric()).count() >= least
            })
        };
        let nin = self
            .national_id
            .as_deref()
            .is_some_and(|n| n.chars().any(|c| c.is_ascii_digit()));
        nin || (given(&self.family, 2) && self.birth_date.is_some())
    }

    pub(super) fn terms(&self) -> Vec<TermQuery> {
        let mut q = Vec::new();
        exact(
            "nin",
            self.national_id
                .as_ref()
                .map(|n| n.chars().filter(char::is_ascii_digit).collect()),
            &mut q,
        );
        prefix_words("family", &self.family, &mut q);
        prefix_words("given", &self.given, &mut q);
        exact(
            "birthdate",
            self.birth_date.map(|d| d.format("%Y-%m-%d").to_string()),
            &mut q,
        );
        exact("gender", self.sex.map(|s| s.code().into()), &mut q);
        exact("postcode", self.postcode.as_deref().map(normalise), &mut q);
        prefix_words("town", &self.town, &mut q);
        q
    }
}

impl Directory {
    pub(super) async fn search_page<E: Entry>(
        &self,
        collection: &str,
        terms: Vec<TermQuery>,
        after: Option<&str>,
        limit: u32,
    ) -> DirectoryResult<Page<E>> {
        let limit = limit.clamp(1, MAX_PAGE);
        // One more than asked tells whether there is a next page.
        let (keys, total) = if terms.is_empty() {
            let records = self.db.list(collection, after, limit + 1).await?;
            let keys: Vec<String> = records.iter().map(|r| r.key.clone()).collect();
            (keys, self.db.count(collection).await?)
        } else {
            let keys = self.db.search(collection, &terms, after, limit + 1).await?;
            (keys, self.db.search_count(collection, &terms).await?)
        };
        let more = keys.len() > limit as usize;
        let keys: Vec<String> = keys.into_iter().take(limit as usize).collect();
        let records = self.db.get_many(collection, &keys).await?;
        let items = records
            .iter()
            .map(decode)
            .collect::<DirectoryResult<Vec<E>>>()?;
        Ok(Page {
            next: if more { keys.last().cloned() } else { None },
            items,
            total,
        })
    }

    /// A professional by national identifier (public).
    pub async fn professional(&self, id: &str) -> DirectoryResult<Professional> {
        self.public_entry(id).await
    }

    /// An establishment by identifier (public).
    pub async fn establishment(&self, id: &str) -> DirectoryResult<Establishment> {
        self.public_entry(id).await
    }

    pub(super) async fn public_entry<E: Entry>(&self, id: &str) -> DirectoryResult<E> {
        crate::model::check_id("id", id)?;
        let record = self
            .db
            .get(E::COLLECTION, id)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(id.to_owned()))?;
        decode(&record)
    }

    /// Searches the professional directory (public, DIR-1).
    pub async fn search_professionals(
        &self,
        query: &ProfessionalQuery,
        after: Option<&str>,
        limit: u32,
    ) -> DirectoryResult<Page<Professional>> {
        self.search_page(PROFESSIONALS, query.terms(), after, limit)
            .await
    }

    /// Searches establishments (public, DIR-1).
    pub async fn search_establishments(
        &self,
        query: &EstablishmentQuery,
        after: Option<&str>,
        limit: u32,
    ) -> DirectoryResult<Page<Establishment>> {
        self.search_page(ESTABLISHMENTS, query.terms(), after, limit)
            .await
    }

    /// The agents entry by id, for the accounts and the identity-vigilance checks.
    pub async fn agent(&self, id: &str) -> DirectoryResult<Agent> {
        self.public_entry(id).await
    }

    /// Entry counts per register, for the operator.
    pub async fn counts(&self) -> DirectoryResult<Vec<(Register, u64)>> {
        let mut out = Vec::new();
        for (register, collection) in [
            (Register::Professional, PROFESSIONALS),
            (Register::Establishment, ESTABLISHMENTS),
            (Register::Patient, PATIENTS),
            (Register::Agent, AGENTS),
        ] {
            out.push((register, self.db.count(collection).await?));
        }
        Ok(out)
    }

    /// The qualities a person holds today, by national identification number: each
    /// register decides on its own (PLT-4).
    pub async fn qualities_of(&self, nin: &NationalId) -> DirectoryResult<Vec<Register>> {
        let today = self.today();
        let mut out = Vec::new();
        let nin = vec![nin.as_str().to_owned()];
        let patients: Vec<String> = self
            .db
            .find_terms(PATIENTS, "nin", &nin, 10)
            .await?
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        for r in self.db.get_many(PATIENTS, &patients).await? {
            let p: Patient = decode(&r)?;
            if p.merged_into.is_none() && p.affiliated_on(today) {
                out.push(Register::Patient);
            }
        }
        let pros: Vec<String> = self
            .db
            .find_terms(PROFESSIONALS, "nin", &nin, 10)
            .await?
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        for r in self.db.get_many(PROFESSIONALS, &pros).await? {
            let p: Professional = decode(&r)?;
            if p.authorisation.in_force(today) {
                out.push(Register::Professional);
            }
        }
        let agents: Vec<String> = self
            .db
            .find_terms(AGENTS, "nin", &nin, 10)
            .await?
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        for r in self.db.get_many(AGENTS, &agents).await? {
            let a: Agent = decode(&r)?;
            if a.active_on(today) {
                out.push(Register::Agent);
            }
        }
        out.dedup();
        Ok(out)
    }
}
