//! Documents: filed (alone or as a submission set, in one transaction), replaced by a
//! new version, deprecated, searched and read. Contents go to the encrypted blob store
//! under the holder's own data key; metadata to the database. Searches show only what
//! the caller may read: an item he may not see is neither listed nor counted.

use chrono::NaiveDate;
use sante_store::{Expect, Term, TermQuery};
use sha2::{Digest, Sha256};

use super::*;
use crate::category::{DataCategory, document_type};
use crate::model::{Author, Confidentiality, Item, ItemStatus, RecordState};
use crate::policy::{Facts, current_relationship};

/// A document's content is at most this large (a report, a scanned letter).
pub const MAX_CONTENT_BYTES: usize = 20 * 1024 * 1024;
/// Items listed per page at most.
const MAX_PAGE: usize = 500;

/// A document to file.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub type_system: String,
    pub type_code: String,
    pub title: String,
    pub mime_type: String,
    pub content: Vec<u8>,
    pub service_date: Option<NaiveDate>,
    pub confidentiality: Confidentiality,
    /// The current item this one replaces (XDS RPLC).
    pub replaces: Option<String>,
    pub master_identifier: Option<String>,
}

/// What to search.
#[derive(Debug, Clone, Default)]
pub struct ItemQuery {
    pub categories: Vec<DataCategory>,
    pub type_code: Option<String>,
    /// The author professional's directory identifier.
    pub author: Option<String>,
    /// Filed on or after / before (exclusive) these days.
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    /// Current only, unless asked.
    pub statuses: Vec<ItemStatus>,
}

/// A page of search results.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub items: Vec<Item>,
    /// How many items match that the caller may see, over all pages.
    pub total: usize,
}

/// A document and its content.
#[derive(Debug, Clone)]
pub struct Retrieved {
    pub item: Item,
    pub content: Vec<u8>,
}

/// A document ready to store: its metadata, its content, and the version it replaces
/// (with that one's stored version).
type Prepared = (Item, Vec<u8>, Option<(Item, i64)>);

fn item_terms(item: &Item) -> Vec<Term> {
    vec![
        Term::new("record", item.record.clone()),
        Term::new("submission", item.submission_set.clone()),
    ]
}

const ALLOWED_MIME: &[&str] = &[
    "application/pdf",
    "text/plain",
    "text/xml",
    "application/xml",
    "application/hl7-v3+xml",
    "application/fhir+json",
    "application/fhir+xml",
    "image/jpeg",
    "image/png",
    "application/dicom",
];

impl DspService {
    async fn items_of(&self, holder: &str) -> DspResult<Vec<Item>> {
        self.all_with(ITEMS, "record", holder, 100_000).await
    }

    async fn item(&self, id: &str) -> DspResult<(Item, i64)> {
        self.get::<Item>(ITEMS, id)
            .await?
            .ok_or_else(|| DspError::NotFound("document".into()))
    }

    /// Files one document in the holder's DSP.
    pub async fn file(&self, caller: &Caller, holder: &str, new: NewItem) -> DspResult<Item> {
        self.file_set(caller, holder, vec![new])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| DspError::Invalid("nothing filed".into()))
    }

    /// Files a submission set (ITI-65): every document is checked first, then all
    /// are stored together, or none.
    pub async fn file_set(
        &self,
        caller: &Caller,
        holder: &str,
        items: Vec<NewItem>,
    ) -> DspResult<Vec<Item>> {
        if items.is_empty() || items.len() > 100 {
            return Err(DspError::Invalid(
                "a submission holds 1 to 100 documents".into(),
            ));
        }
        let (record, _) = self.load(holder).await?;
        let now = self.now();
        let submission = uuid::Uuid::new_v4().to_string();
        let mut prepared: Vec<Prepared> = Vec::new();
        let mut resolved = None;
        for new in items {
            let doc_type = document_type(&new.type_system, &new.type_code).ok_or_else(|| {
                DspError::Invalid(format!(
                    "unknown document type {}|{} (see the platform's document types)",
                    new.type_system, new.type_code
                ))
            })?;
            if new.content.is_empty() || new.content.len() > MAX_CONTENT_BYTES {
                return Err(DspError::Invalid(format!(
                    "a document's content is 1 byte to {} MiB",
                    MAX_CONTENT_BYTES / (1024 * 1024)
                )));
            }
            if !ALLOWED_MIME.contains(&new.mime_type.as_str()) {
                return Err(DspError::Invalid(format!(
                    "content type {} is not accepted",
                    new.mime_type
                )));
            }
            let title: String = new
                .title
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            if title.is_empty() {
                return Err(DspError::Invalid("a document needs a title".into()));
            }
            let category = doc_type.category;
            let r = self
                .gate(caller, &record, Intent::File { category }, None)
                .await?;
            let author = match &r.role {
                Role::Professional(p) => Author::Professional {
                    professional: p.id.clone(),
                    establishment: caller.system.as_ref().map(|(_, e)| e.clone()),
                },
                _ => Author::Holder,
            };
            let replaced = match &new.replaces {
                Some(old_id) => Some(
                    self.replaceable(caller, &record, &r, old_id, &author, category)
                        .await?,
                ),
                None => None,
            };
            let relationship = match &r.role {
                Role::Professional(p) => {
                    let rels = self.relationships(holder).await?;
                    current_relationship(p, &rels, now).map(|rel| rel.id.clone())
                }
                _ => None,
            };
            let item = Item {
                id: uuid::Uuid::new_v4().to_string(),
                record: holder.to_owned(),
                category,
                type_system: doc_type.system.to_owned(),
                type_code: doc_type.code.to_owned(),
                type_display: doc_type.display.to_owned(),
                title,
                mime_type: new.mime_type.clone(),
                size: new.content.len() as u64,
                sha256: hex::encode(Sha256::digest(&new.content)),
                author,
                filed_by: caller.account.clone(),
                filed_at: now,
                service_date: new.service_date,
                confidentiality: new.confidentiality,
                status: ItemStatus::Current,
                replaces: new.replaces.clone(),
                replaced_by: None,
                submission_set: submission.clone(),
                retention_until: super::lifecycle::retention_from(now),
                keep_agreed: None,
                relationship,
                master_identifier: new.master_identifier.clone(),
            };
            prepared.push((item, new.content, replaced));
            resolved = Some(r);
        }
        // Contents first: a crash leaves an orphan blob at worst, never metadata
        // pointing at nothing.
        for (item, content, _) in &prepared {
            self.blobs
                .put(&blob_owner(holder), &item.id, content)
                .await?;
        }
        let mut ops = Vec::new();
        for (item, _, replaced) in &prepared {
            ops.push(Self::put_op(ITEMS, &item.id, item, Expect::Absent)?);
            ops.push(Self::index_op(ITEMS, &item.id, item_terms(item)));
            if let Some((old, version)) = replaced {
                let mut old = old.clone();
                old.status = ItemStatus::Superseded;
                old.replaced_by = Some(item.id.clone());
                ops.push(Self::put_op(
                    ITEMS,
                    &old.id,
                    &old,
                    Expect::Version(*version),
                )?);
            }
        }
        self.db.write_batch(&ops, self.micros()).await?;
        let resolved = resolved.ok_or_else(|| DspError::Invalid("nothing filed".into()))?;
        for (item, _, replaced) in &prepared {
            let action = if replaced.is_some() {
                "replace"
            } else {
                "file"
            };
            self.note(
                caller,
                &resolved,
                holder,
                EventKind::DspItemFiled,
                action,
                Some(&item.id),
                Decision::Permit,
            )
            .await?;
        }
        if let Role::Professional(p) = &resolved.role {
            self.fulfil_requests(holder, &p.id).await?;
        }
        self.after_access(&record, &resolved).await?;
        Ok(prepared.into_iter().map(|(item, _, _)| item).collect())
    }

    /// Whether the caller may read `item` of `record`: the decision without a trace,
    /// for filtering search results.
    async fn visible(&self, facts: &Facts<'_>, item: &Item) -> bool {
        decide(
            facts,
            Intent::Read {
                category: item.category,
                item: &item.id,
            },
        )
        .is_permit()
    }

    /// Searches the holder's DSP (ITI-67). A caller who may not search it gets
    /// [`DspError::Denied`] (traced); results hold only what he may read. Sorted by
    /// filing time, newest first.
    pub async fn search(
        &self,
        caller: &Caller,
        holder: &str,
        query: &ItemQuery,
        offset: usize,
        limit: usize,
    ) -> DspResult<SearchPage> {
        let (record, _) = self.load(holder).await?;
        let resolved = self.gate(caller, &record, Intent::Search, None).await?;
        let relationships = match &resolved.role {
            Role::Professional(_) => self.relationships(holder).await?,
            _ => Vec::new(),
        };
        let facts = Facts {
            role: resolved.role.clone(),
            assurance: caller.assurance,
            record: &record,
            relationships: &relationships,
            now: self.now(),
        };
        let statuses = if query.statuses.is_empty() {
            vec![ItemStatus::Current]
        } else {
            query.statuses.clone()
        };
        let mut matching = Vec::new();
        for item in self.items_of(holder).await? {
            let author_ok = match (&query.author, &item.author) {
                (None, _) => true,
                (Some(a), Author::Professional { professional, .. }) => a == professional,
                _ => false,
            };
            let date = item
                .service_date
                .unwrap_or_else(|| item.filed_at.date_naive());
            let keep = statuses.contains(&item.status)
                && (query.categories.is_empty() || query.categories.contains(&item.category))
                && query
                    .type_code
                    .as_ref()
                    .is_none_or(|t| t == &item.type_code)
                && author_ok
                && query.from.is_none_or(|f| date >= f)
                && query.until.is_none_or(|u| date < u);
            if keep && self.visible(&facts, &item).await {
                matching.push(item);
            }
        }
        matching.sort_by(|a, b| b.filed_at.cmp(&a.filed_at).then(a.id.cmp(&b.id)));
        let total = matching.len();
        let items = matching
            .into_iter()
            .skip(offset)
            .take(limit.clamp(1, MAX_PAGE))
            .collect();
        self.note(
            caller,
            &resolved,
            holder,
            EventKind::DspSearched,
            "search",
            None,
            Decision::Permit,
        )
        .await?;
        self.after_access(&record, &resolved).await?;
        Ok(SearchPage { items, total })
    }

    /// Decides a read of `item`. Refused, it answers as if the item did not exist, so
    /// that a caller cannot tell a hidden document from an absent one; the reason is
    /// traced, and the holder sees it in his access history.
    async fn gate_read(
        &self,
        caller: &Caller,
        record: &CareRecord,
        item: &Item,
    ) -> DspResult<Resolved> {
        let decided = self
            .gate(
                caller,
                record,
                Intent::Read {
                    category: item.category,
                    item: &item.id,
                },
                Some(&item.id),
            )
            .await;
        match decided {
            Err(DspError::Denied(_)) => {
                Err(DspError::NotFound(format!("DocumentReference/{}", item.id)))
            }
            other => other,
        }
    }

    /// The current document `old_id` of this DSP, which `author` may replace by a new
    /// version of `category`. Only its author replaces a document (the holder his own
    /// notes, a professional what he filed); one of another DSP, or hidden from the
    /// caller, behaves as absent (the refused read traced); one he may read but did not
    /// write is refused as such, traced.
    async fn replaceable(
        &self,
        caller: &Caller,
        record: &CareRecord,
        resolved: &Resolved,
        old_id: &str,
        author: &Author,
        category: DataCategory,
    ) -> DspResult<(Item, i64)> {
        let absent = || DspError::NotFound(format!("DocumentReference/{old_id}"));
        let (old, version) = self.item(old_id).await?;
        if old.record != record.holder {
            return Err(absent());
        }
        self.gate_read(caller, record, &old).await?;
        // The same professional, whichever way he filed (portal or his establishment's
        // system); the holder for the holder's own writings.
        let same_author = match (&old.author, author) {
            (
                Author::Professional {
                    professional: a, ..
                },
                Author::Professional {
                    professional: b, ..
                },
            ) => a == b,
            (Author::Holder, Author::Holder) => true,
            _ => false,
        };
        if !same_author {
            self.note(
                caller,
                resolved,
                &record.holder,
                EventKind::DspAccessDenied,
                "file",
                Some(&old.id),
                Decision::Deny("not_author"),
            )
            .await?;
            return Err(DspError::Denied("not_author"));
        }
        if old.status != ItemStatus::Current {
            return Err(DspError::Conflict(
                "only a current document can be replaced".into(),
            ));
        }
        // A new version stays in the same category: a replacement cannot move data to
        // where other professionals read it.
        if old.category != category {
            return Err(DspError::Invalid(
                "a new version keeps its document's category".into(),
            ));
        }
        Ok((old, version))
    }

    /// The metadata of one document (a DocumentReference read), if the caller may read
    /// it. An item he may not read answers as if it did not exist.
    pub async fn item_metadata(&self, caller: &Caller, id: &str) -> DspResult<Item> {
        let (item, _) = self.item(id).await?;
        let (record, _) = self.load(&item.record).await?;
        let resolved = self.gate_read(caller, &record, &item).await?;
        self.note(
            caller,
            &resolved,
            &item.record,
            EventKind::DspItemRead,
            "read",
            Some(&item.id),
            Decision::Permit,
        )
        .await?;
        self.after_access(&record, &resolved).await?;
        Ok(item)
    }

    /// One document and its content (ITI-68), decrypted and integrity-checked.
    pub async fn retrieve(&self, caller: &Caller, id: &str) -> DspResult<Retrieved> {
        let (item, _) = self.item(id).await?;
        let (record, _) = self.load(&item.record).await?;
        let resolved = self.gate_read(caller, &record, &item).await?;
        let content = self.blobs.get(&blob_owner(&item.record), &item.id).await?;
        if hex::encode(Sha256::digest(&content)) != item.sha256 {
            return Err(sante_audit::PlatformError::corrupt("document content").into());
        }
        self.note(
            caller,
            &resolved,
            &item.record,
            EventKind::DspItemRead,
            "read",
            Some(&item.id),
            Decision::Permit,
        )
        .await?;
        self.after_access(&record, &resolved).await?;
        Ok(Retrieved { item, content })
    }

    /// Withdraws a document filed in error (DSP-23: rectification by the professional
    /// who filed it): it is kept, marked, and no longer listed by default.
    pub async fn deprecate(&self, caller: &Caller, id: &str) -> DspResult<Item> {
        let (mut item, version) = self.item(id).await?;
        let (record, _) = self.load(&item.record).await?;
        let resolved = self
            .gate(
                caller,
                &record,
                Intent::File {
                    category: item.category,
                },
                Some(&item.id),
            )
            .await?;
        let own = match (&resolved.role, &item.author) {
            (Role::Professional(p), Author::Professional { professional, .. }) => {
                &p.id == professional
            }
            (Role::Holder | Role::Assistant, Author::Holder) => true,
            _ => false,
        };
        if !own {
            self.note(
                caller,
                &resolved,
                &item.record,
                EventKind::DspAccessDenied,
                "deprecate",
                Some(&item.id),
                Decision::Deny("not_the_author"),
            )
            .await?;
            return Err(DspError::Denied("not_the_author"));
        }
        if item.status != ItemStatus::Current {
            return Err(DspError::Conflict(
                "only a current document can be withdrawn".into(),
            ));
        }
        item.status = ItemStatus::Deprecated;
        self.db
            .write_batch(
                &[Self::put_op(
                    ITEMS,
                    &item.id,
                    &item,
                    Expect::Version(version),
                )?],
                self.micros(),
            )
            .await?;
        self.note(
            caller,
            &resolved,
            &item.record.clone(),
            EventKind::DspItemDeprecated,
            "deprecate",
            Some(&item.id),
            Decision::Permit,
        )
        .await?;
        Ok(item)
    }

    /// The submission sets of the holder's DSP (ITI-66), as (id, filed at, items),
    /// keeping only the items the caller may read and the sets that keep one.
    pub async fn submission_sets(
        &self,
        caller: &Caller,
        holder: &str,
    ) -> DspResult<Vec<(String, DateTime<Utc>, Vec<Item>)>> {
        let page = self
            .search(
                caller,
                holder,
                &ItemQuery {
                    statuses: vec![
                        ItemStatus::Current,
                        ItemStatus::Superseded,
                        ItemStatus::Deprecated,
                    ],
                    ..ItemQuery::default()
                },
                0,
                MAX_PAGE,
            )
            .await?;
        let mut sets: Vec<(String, DateTime<Utc>, Vec<Item>)> = Vec::new();
        for item in page.items {
            match sets
                .iter_mut()
                .find(|(id, _, _)| id == &item.submission_set)
            {
                Some((_, _, items)) => items.push(item),
                None => sets.push((item.submission_set.clone(), item.filed_at, vec![item])),
            }
        }
        Ok(sets)
    }

    /// The holders' DSP state, for a front end that must tell "no DSP" from "closed".
    pub async fn exists_open(&self, holder: &str) -> DspResult<bool> {
        Ok(matches!(
            self.get::<CareRecord>(RECORDS, holder).await?,
            Some((r, _)) if r.state != RecordState::Closed
        ))
    }

    /// How many documents a DSP holds (for benchmarks and the operator).
    pub async fn count_items(&self, holder: &str) -> DspResult<u64> {
        Ok(self
            .db
            .search_count(ITEMS, &[TermQuery::exact("record", holder)])
            .await?)
    }
}
