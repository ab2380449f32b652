//! How each register's entries are indexed: their search terms, and the changes an
//! update publishes.

use super::*;

pub(super) fn words(field: &str, text: &str, out: &mut Vec<Term>) {
    for w in normalise(text).split(' ').filter(|w| !w.is_empty()) {
        out.push(Term::new(field, w));
    }
}

impl Entry for Professional {
    const COLLECTION: &'static str = PROFESSIONALS;
    const REGISTER: Register = Register::Professional;
    fn key(&self) -> &str {
        &self.id
    }
    fn validate(&self) -> Result<(), InvalidEntry> {
        Professional::validate(self)
    }
    fn terms(&self) -> Vec<Term> {
        let mut t = Vec::new();
        t.push(Term::new("id", self.id.to_ascii_lowercase()));
        if let Some(nin) = &self.national_id {
            t.push(Term::new("nin", nin.as_str()));
        }
        words("family", &self.family_name, &mut t);
        for g in &self.given_names {
            words("given", g, &mut t);
        }
        words("name", &self.family_name, &mut t);
        for g in &self.given_names {
            words("name", g, &mut t);
        }
        t.push(Term::new("profession", self.profession.code()));
        t.push(Term::new(
            "category",
            self.profession.access_category().code(),
        ));
        for s in &self.specialities {
            t.push(Term::new("speciality", s.as_str()));
        }
        for l in &self.locations {
            t.push(Term::new("location", l.id.to_ascii_lowercase()));
            if let Some(town) = &l.address.town {
                words("town", town, &mut t);
            }
            if let Some(pc) = &l.address.postcode {
                t.push(Term::new("postcode", normalise(pc)));
            }
        }
        for a in &self.affiliations {
            t.push(Term::new(
                "establishment",
                a.establishment.to_ascii_lowercase(),
            ));
        }
        t.push(Term::new("authorisation", self.authorisation.status.code()));
        t
    }
    fn changes(old: Option<&Self>, new: &Self) -> Vec<(ChangeKind, Option<String>)> {
        use crate::model::AuthorisationStatus as S;
        let mut out = Vec::new();
        let Some(old) = old else {
            out.push((ChangeKind::QualityGained, None));
            for a in &new.affiliations {
                out.push((
                    ChangeKind::AffiliationStarted,
                    Some(a.establishment.clone()),
                ));
            }
            return out;
        };
        match (old.authorisation.status, new.authorisation.status) {
            (S::Active, S::Suspended) => out.push((ChangeKind::AuthorisationSuspended, None)),
            (S::Active | S::Suspended, S::Withdrawn) => {
                out.push((ChangeKind::AuthorisationWithdrawn, None));
                out.push((ChangeKind::QualityLost, None));
            }
            (S::Suspended | S::Withdrawn, S::Active) => {
                out.push((ChangeKind::AuthorisationRestored, None));
            }
            _ => {}
        }
        for a in &new.affiliations {
            let before = old
                .affiliations
                .iter()
                .find(|o| o.establishment == a.establishment && o.start == a.start);
            match before {
                None if a.end.is_none() => {
                    out.push((
                        ChangeKind::AffiliationStarted,
                        Some(a.establishment.clone()),
                    ));
                }
                Some(o) if o.end.is_none() && a.end.is_some() => {
                    out.push((ChangeKind::AffiliationEnded, Some(a.establishment.clone())));
                }
                _ => {}
            }
        }
        for o in &old.affiliations {
            let kept = new
                .affiliations
                .iter()
                .any(|a| a.establishment == o.establishment && a.start == o.start);
            if !kept && o.end.is_none() {
                out.push((ChangeKind::AffiliationEnded, Some(o.establishment.clone())));
            }
        }
        out
    }
}

impl Entry for Establishment {
    const COLLECTION: &'static str = ESTABLISHMENTS;
    const REGISTER: Register = Register::Establishment;
    fn key(&self) -> &str {
        &self.id
    }
    fn validate(&self) -> Result<(), InvalidEntry> {
        Establishment::validate(self)
    }
    fn terms(&self) -> Vec<Term> {
        let mut t = vec![
            Term::new("id", self.id.to_ascii_lowercase()),
            Term::new("kind", self.kind.code()),
            Term::new("active", if self.active { "true" } else { "false" }),
        ];
        words("name", &self.name, &mut t);
        for i in &self.identifiers {
            t.push(Term::new("identifier", format!("{}|{}", i.system, i.value)));
            t.push(Term::new("identifier", i.value.clone()));
        }
        for s in &self.sites {
            words("name", &s.name, &mut t);
            if let Some(town) = &s.address.town {
                words("town", town, &mut t);
            }
        }
        t
    }
    fn changes(old: Option<&Self>, new: &Self) -> Vec<(ChangeKind, Option<String>)> {
        match old {
            None => vec![(ChangeKind::QualityGained, None)],
            Some(o) if o.active && !new.active => vec![(ChangeKind::QualityLost, None)],
            _ => Vec::new(),
        }
    }
}

impl Entry for Agent {
    const COLLECTION: &'static str = AGENTS;
    const REGISTER: Register = Register::Agent;
    fn key(&self) -> &str {
        &self.id
    }
    fn validate(&self) -> Result<(), InvalidEntry> {
        Agent::validate(self)
    }
    fn terms(&self) -> Vec<Term> {
        let mut t = Vec::new();
        if let Some(due) = self.purge_due() {
            t.push(Term::new("purge_due", due.format("%Y-%m-%d").to_string()));
        }
        if let Some(nin) = &self.national_id {
            t.push(Term::new("nin", nin.as_str()));
        }
        t
    }
    fn changes(old: Option<&Self>, new: &Self) -> Vec<(ChangeKind, Option<String>)> {
        match old {
            None => vec![(ChangeKind::QualityGained, None)],
            Some(o) if o.valid_until.is_none() && new.valid_until.is_some() => {
                vec![(ChangeKind::QualityLost, None)]
            }
            Some(o) if o.valid_until.is_some() && new.valid_until.is_none() => {
                vec![(ChangeKind::QualityGained, None)]
            }
            _ => Vec::new(),
        }
    }
}

/// The identity fields matching compares, from a patient entry.
pub fn identity_fields(p: &Patient) -> IdentityFields {
    let address = p.address.as_ref();
    IdentityFields {
        national_id: p.national_id.as_ref().map(|n| n.as_str().to_owned()),
        surname: Some(p.family_name().to_owned()),
        birth_name: p.used_name.as_ref().map(|_| p.birth_name.clone()),
        given_names: Some(p.given_names.join(" ")),
        birth_date: p.birth_date,
        sex: Some(
            match p.sex {
                crate::model::Sex::Female => "F",
                crate::model::Sex::Male => "M",
                _ => "",
            }
            .to_owned(),
        )
        .filter(|s| !s.is_empty()),
        street: address.and_then(|a| a.lines.first().cloned()),
        postcode: address.and_then(|a| a.postcode.clone()),
        town: address.and_then(|a| a.town.clone()),
    }
}

impl Entry for Patient {
    const COLLECTION: &'static str = PATIENTS;
    const REGISTER: Register = Register::Patient;
    fn key(&self) -> &str {
        &self.id
    }
    fn validate(&self) -> Result<(), InvalidEntry> {
        Patient::validate(self)
    }
    fn terms(&self) -> Vec<Term> {
        let mut t = Vec::new();
        if let Some(nin) = &self.national_id {
            t.push(Term::new("nin", nin.as_str()));
        }
        words("family", &self.birth_name, &mut t);
        if let Some(u) = &self.used_name {
            words("family", u, &mut t);
        }
        for g in &self.given_names {
            words("given", g, &mut t);
        }
        if let Some(d) = self.birth_date {
            t.push(Term::new("birthdate", d.format("%Y-%m-%d").to_string()));
        }
        t.push(Term::new("gender", self.sex.code()));
        if let Some(a) = &self.address {
            if let Some(pc) = &a.postcode {
                t.push(Term::new("postcode", normalise(pc)));
            }
            if let Some(town) = &a.town {
                words("town", town, &mut t);
            }
        }
        if self.merged_into.is_none() {
            // Merged entries are not candidates any more: matching finds the survivor.
            for key in Prepared::new(&identity_fields(self)).blocking_keys() {
                t.push(Term::new("block", key));
            }
        }
        t
    }
    fn changes(old: Option<&Self>, new: &Self) -> Vec<(ChangeKind, Option<String>)> {
        let mut out = Vec::new();
        let insured = |p: &Patient| p.insurance.as_ref().is_some_and(|i| i.end.is_none());
        match old {
            None => {
                if insured(new) {
                    out.push((ChangeKind::QualityGained, None));
                }
                if new.death_date.is_some() {
                    out.push((ChangeKind::DeathReported, None));
                }
            }
            Some(o) => {
                if insured(o) && !insured(new) {
                    out.push((ChangeKind::QualityLost, None));
                }
                if !insured(o) && insured(new) {
                    out.push((ChangeKind::QualityGained, None));
                }
                if o.death_date.is_none() && new.death_date.is_some() {
                    out.push((ChangeKind::DeathReported, None));
                }
            }
        }
        out
    }
}
