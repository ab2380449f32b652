//! What the platform processes about a person (PRV-1, MSG-20): each context or
//! service that holds data about him answers for its own part, through its own API
//! and rules, and the portal's "my data" page lists the parts as a page and as a JSON
//! download.
//!
//! The contract is the kernel's so that the portal never depends on a service: the
//! binary hands the portal one [`PersonalData`] per service it runs.

use std::future::Future;
use std::pin::Pin;

use sante_audit::Source;
use sante_identity::Authenticated;
use serde_json::{Map, Value};

use crate::Lang;

/// One fact: a stable key for the export, a label and a value in the page's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataField {
    pub key: &'static str,
    pub label: String,
    pub value: String,
}

/// One thing held about the person (his entry, an account, a session, an event).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataItem {
    pub fields: Vec<DataField>,
}

impl DataItem {
    pub fn new() -> DataItem {
        DataItem::default()
    }

    /// Adds a fact; an empty value is left out (nothing is held).
    pub fn field(mut self, key: &'static str, label: &str, value: impl Into<String>) -> DataItem {
        let value = value.into();
        if !value.is_empty() {
            self.fields.push(DataField {
                key,
                label: label.to_owned(),
                value,
            });
        }
        self
    }

    fn to_json(&self) -> Value {
        let fields: Map<String, Value> = self
            .fields
            .iter()
            .map(|f| (f.key.to_owned(), Value::String(f.value.clone())))
            .collect();
        Value::Object(fields)
    }
}

/// One part of the person's data: what it is, who processes it and why, the things.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSection {
    /// Its key in the export (`directory`, `accounts`, `dsp`...).
    pub key: &'static str,
    pub title: String,
    /// Who holds it and where it comes from, in words.
    pub source: String,
    pub items: Vec<DataItem>,
    /// Said when there are more things than the page lists (the newest are listed).
    pub truncated: bool,
}

impl DataSection {
    pub fn new(key: &'static str, title: &str, source: &str) -> DataSection {
        DataSection {
            key,
            title: title.to_owned(),
            source: source.to_owned(),
            items: Vec::new(),
            truncated: false,
        }
    }

    pub fn item(mut self, item: DataItem) -> DataSection {
        self.items.push(item);
        self
    }
}

/// The export: every section under its key, with its source; stable keys, values as
/// the page shows them.
pub fn to_json(sections: &[DataSection], generated: &str, lang: Lang) -> Value {
    let mut out = Map::new();
    out.insert("generated".into(), Value::String(generated.to_owned()));
    out.insert("language".into(), Value::String(lang.code().to_owned()));
    let mut parts = Map::new();
    for s in sections {
        let mut part = Map::new();
        part.insert("title".into(), Value::String(s.title.clone()));
        part.insert("source".into(), Value::String(s.source.clone()));
        part.insert(
            "items".into(),
            Value::Array(s.items.iter().map(DataItem::to_json).collect()),
        );
        if s.truncated {
            part.insert("truncated".into(), Value::Bool(true));
        }
        parts.insert(s.key.to_owned(), Value::Object(part));
    }
    out.insert("sections".into(), Value::Object(parts));
    Value::Object(out)
}

/// Why a part could not be given.
#[derive(Debug, thiserror::Error)]
#[error("{part}: {reason}")]
pub struct DataUnavailable {
    pub part: &'static str,
    pub reason: String,
}

/// A future of one part of the person's data.
pub type DataFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<DataSection>, DataUnavailable>> + Send + 'a>>;

/// A service's answer to "what do you process about this person": `None` when it
/// holds nothing about people of his quality (the DSP for a professional's own
/// account). Reading is traced by the service, as any access.
pub trait PersonalData: Send + Sync {
    fn about<'a>(
        &'a self,
        who: &'a Authenticated,
        source: &'a Source,
        lang: Lang,
    ) -> DataFuture<'a>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_facts_are_left_out_and_keys_are_stable() {
        let s = DataSection::new("accounts", "Vos comptes", "Annuaire de sécurité").item(
            DataItem::new()
                .field("login", "Identifiant", "p1234")
                .field("email", "Courriel", ""),
        );
        let json = to_json(&[s], "2026-12-07", Lang::Fr);
        assert_eq!(json["language"], "fr");
        assert_eq!(json["sections"]["accounts"]["items"][0]["login"], "p1234");
        assert!(
            json["sections"]["accounts"]["items"][0]
                .get("email")
                .is_none()
        );
        assert!(json["sections"]["accounts"].get("truncated").is_none());
    }
}
