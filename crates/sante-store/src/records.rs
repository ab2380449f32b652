//! Versioned records: the generic part of the storage API.
//!
//! A record is an opaque value under `(collection, key)` with a version that grows by
//! one at every write. Writers state what they expect to find ([`Expect`]) so that
//! concurrent updates never overwrite each other silently. Several writes can be
//! committed atomically with [`Db::write_batch`].

use crate::db::{Db, Pool};
use crate::error::{StoreError, StoreResult};
use crate::sealing::Ready;

/// Largest value accepted in a record; larger content belongs in the blob store.
pub const MAX_VALUE_BYTES: usize = 4 * 1024 * 1024;
const MAX_KEY_BYTES: usize = 512;
const MAX_LIST_LIMIT: u32 = 10_000;

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: String,
    pub version: i64,
    pub value: Vec<u8>,
    /// Unix microseconds of the last write.
    pub updated_at: i64,
}

/// What a writer expects to find before its write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No record under the key: create only.
    Absent,
    /// The record exists at exactly this version.
    Version(i64),
    /// Whatever is there (last writer wins).
    Any,
}

/// One write in a batch.
#[derive(Debug, Clone)]
pub enum WriteOp {
    Put {
        collection: String,
        key: String,
        value: Vec<u8>,
        expect: Expect,
    },
    Delete {
        collection: String,
        key: String,
        expect: Expect,
    },
    /// Replaces the search terms of a record (see [`Db::search`]). Deleting a record
    /// deletes its terms; writing a value leaves them as they were.
    Index {
        collection: String,
        key: String,
        terms: Vec<Term>,
    },
}

/// One search term of a record: a field name and a normalised value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Term {
    pub field: String,
    pub value: String,
}

impl Term {
    pub fn new(field: impl Into<String>, value: impl Into<String>) -> Term {
        Term {
            field: field.into(),
            value: value.into(),
        }
    }
}

/// One condition of a search: the record has a term of `field` equal to `value`, or
/// starting with it when `prefix` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermQuery {
    pub field: String,
    pub value: String,
    pub prefix: bool,
}

impl TermQuery {
    pub fn exact(field: impl Into<String>, value: impl Into<String>) -> TermQuery {
        TermQuery {
            field: field.into(),
            value: value.into(),
            prefix: false,
        }
    }

    pub fn prefix(field: impl Into<String>, value: impl Into<String>) -> TermQuery {
        TermQuery {
            field: field.into(),
            value: value.into(),
            prefix: true,
        }
    }
}

/// Most terms one record may carry; more means the caller indexes content, not keys.
const MAX_TERMS_PER_RECORD: usize = 256;
/// Most conditions in one search.
const MAX_SEARCH_TERMS: usize = 16;

/// Runs the same sqlx expression against whichever pool or transaction is held.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

fn check_key(collection: &str, key: &str) -> StoreResult<()> {
    if collection.is_empty() || collection.len() > MAX_KEY_BYTES {
        return Err(StoreError::Invalid {
            field: "collection",
            reason: format!("must be 1 to {MAX_KEY_BYTES} bytes"),
        });
    }
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(StoreError::Invalid {
            field: "key",
            reason: format!("must be 1 to {MAX_KEY_BYTES} bytes"),
        });
    }
    if key.contains('\0') {
        return Err(no_nul("key"));
    }
    Ok(())
}

/// PostgreSQL's text holds no NUL character, so no key or term holds one on either
/// backend: a write with one is refused, a read for one finds nothing (the same
/// answers on SQLite and PostgreSQL, never a database error for a client's input).
fn no_nul(field: &'static str) -> StoreError {
    StoreError::Invalid {
        field,
        reason: "must not contain a NUL character".into(),
    }
}

/// Whether a key or term of a read can name anything stored (see [`no_nul`]).
fn storable(text: &str) -> bool {
    !text.contains('\0')
}

fn check_value(value: &[u8]) -> StoreResult<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(StoreError::Invalid {
            field: "value",
            reason: format!(
                "{} bytes exceeds the {MAX_VALUE_BYTES}-byte limit; store it as a blob",
                value.len()
            ),
        });
    }
    Ok(())
}

type Row = (String, i64, Vec<u8>, i64);

/// `op` as it is stored: its value sealed, its blind terms blinded.
fn seal_op(ready: &Ready<'_>, op: &WriteOp) -> StoreResult<WriteOp> {
    Ok(match op {
        WriteOp::Put {
            collection,
            key,
            value,
            expect,
        } => WriteOp::Put {
            collection: collection.clone(),
            key: key.clone(),
            value: ready.seal(collection, key, value)?,
            expect: *expect,
        },
        WriteOp::Index {
            collection,
            key,
            terms,
        } => WriteOp::Index {
            collection: collection.clone(),
            key: key.clone(),
            terms: terms
                .iter()
                .map(|t| Term::new(t.field.clone(), ready.term(&t.field, &t.value)))
                .collect(),
        },
        WriteOp::Delete { .. } => op.clone(),
    })
}

impl Db {
    /// The records of `collection` as read, their values opened.
    async fn to_records(&self, collection: &str, rows: Vec<Row>) -> StoreResult<Vec<Record>> {
        let ready = match &self.sealing {
            Some(sealing) => Some(sealing.ready(self).await?),
            None => None,
        };
        rows.into_iter()
            .map(|(key, version, value, updated_at)| {
                let value = match &ready {
                    Some(ready) => ready.open(collection, &key, value)?,
                    None => value,
                };
                Ok(Record {
                    key,
                    version,
                    value,
                    updated_at,
                })
            })
            .collect()
    }

    /// `queries` as the terms are stored: blind fields blinded, and searched exactly.
    async fn stored_queries<'q>(
        &self,
        queries: &'q [TermQuery],
    ) -> StoreResult<std::borrow::Cow<'q, [TermQuery]>> {
        let Some(sealing) = &self.sealing else {
            return Ok(std::borrow::Cow::Borrowed(queries));
        };
        if !queries.iter().any(|q| sealing.is_blind(&q.field)) {
            return Ok(std::borrow::Cow::Borrowed(queries));
        }
        let ready = sealing.ready(self).await?;
        queries
            .iter()
            .map(|q| {
                if !sealing.is_blind(&q.field) {
                    return Ok(q.clone());
                }
                if q.prefix {
                    return Err(StoreError::Invalid {
                        field: "search",
                        reason: format!("{} is searched exactly, never by prefix", q.field),
                    });
                }
                Ok(TermQuery::exact(
                    q.field.clone(),
                    ready.term(&q.field, &q.value),
                ))
            })
            .collect::<StoreResult<Vec<_>>>()
            .map(std::borrow::Cow::Owned)
    }
}

/// Generates one write step for a given sqlx executor type; shared by the single-write
/// methods and by batches so the rules live in one place.
macro_rules! apply_write {
    ($conn:expr, $op:expr, $now:expr) => {{
        match $op {
            WriteOp::Put {
                collection,
                key,
                value,
                expect,
            } => {
                check_key(collection, key)?;
                let version: Option<i64> =
                    match expect {
                        Expect::Absent => {
                            let done = sqlx::query(
                                "INSERT INTO records (collection, key, version, value, updated_at) \
                             VALUES ($1, $2, 1, $3, $4) ON CONFLICT (collection, key) DO NOTHING",
                            )
                            .bind(collection.as_str())
                            .bind(key.as_str())
                            .bind(value.as_slice())
                            .bind($now)
                            .execute(&mut *$conn)
                            .await?;
                            (done.rows_affected() == 1).then_some(1)
                        }
                        Expect::Version(expected) => sqlx::query_scalar(
                            "UPDATE records SET version = version + 1, value = $3, updated_at = $4 \
                         WHERE collection = $1 AND key = $2 AND version = $5 RETURNING version",
                        )
                        .bind(collection.as_str())
                        .bind(key.as_str())
                        .bind(value.as_slice())
                        .bind($now)
                        .bind(*expected)
                        .fetch_optional(&mut *$conn)
                        .await?,
                        Expect::Any => Some(
                            sqlx::query_scalar(
                                "INSERT INTO records (collection, key, version, value, updated_at) \
                             VALUES ($1, $2, 1, $3, $4) ON CONFLICT (collection, key) DO UPDATE \
                             SET version = records.version + 1, value = excluded.value, \
                             updated_at = excluded.updated_at RETURNING version",
                            )
                            .bind(collection.as_str())
                            .bind(key.as_str())
                            .bind(value.as_slice())
                            .bind($now)
                            .fetch_one(&mut *$conn)
                            .await?,
                        ),
                    };
                version.ok_or_else(|| {
                    StoreError::Conflict(format!("{collection}/{key}: expected {expect:?}"))
                })
            }
            WriteOp::Delete {
                collection,
                key,
                expect,
            } => {
                check_key(collection, key)?;
                let done = match expect {
                    Expect::Version(expected) => sqlx::query(
                        "DELETE FROM records WHERE collection = $1 AND key = $2 AND version = $3",
                    )
                    .bind(collection.as_str())
                    .bind(key.as_str())
                    .bind(*expected)
                    .execute(&mut *$conn)
                    .await?,
                    Expect::Any | Expect::Absent => {
                        sqlx::query("DELETE FROM records WHERE collection = $1 AND key = $2")
                            .bind(collection.as_str())
                            .bind(key.as_str())
                            .execute(&mut *$conn)
                            .await?
                    }
                };
                sqlx::query("DELETE FROM record_terms WHERE collection = $1 AND key = $2")
                    .bind(collection.as_str())
                    .bind(key.as_str())
                    .execute(&mut *$conn)
                    .await?;
                match (expect, done.rows_affected()) {
                    (Expect::Version(_), 0) => Err(StoreError::Conflict(format!(
                        "{collection}/{key}: expected {expect:?}"
                    ))),
                    (Expect::Absent, 1) => Err(StoreError::Conflict(format!(
                        "{collection}/{key}: expected absent"
                    ))),
                    _ => Ok(0),
                }
            }
            WriteOp::Index {
                collection,
                key,
                terms,
            } => {
                check_key(collection, key)?;
                check_terms(terms)?;
                sqlx::query("DELETE FROM record_terms WHERE collection = $1 AND key = $2")
                    .bind(collection.as_str())
                    .bind(key.as_str())
                    .execute(&mut *$conn)
                    .await?;
                let mut unique: Vec<&Term> = terms.iter().collect();
                unique.sort();
                unique.dedup();
                // One multi-row statement per record keeps bulk imports to one round
                // trip per record rather than one per term.
                for chunk in unique.chunks(64) {
                    let mut sql = String::from(
                        "INSERT INTO record_terms (collection, key, field, term) VALUES ",
                    );
                    for i in 0..chunk.len() {
                        if i > 0 {
                            sql.push_str(", ");
                        }
                        sql.push_str(&format!("($1, $2, ${}, ${})", 3 + 2 * i, 4 + 2 * i));
                    }
                    let mut query = sqlx::query(&sql)
                        .bind(collection.as_str())
                        .bind(key.as_str());
                    for term in chunk {
                        query = query.bind(term.field.as_str()).bind(term.value.as_str());
                    }
                    query.execute(&mut *$conn).await?;
                }
                Ok(0)
            }
        }
    }};
}

fn check_terms(terms: &[Term]) -> StoreResult<()> {
    if terms.len() > MAX_TERMS_PER_RECORD {
        return Err(StoreError::Invalid {
            field: "terms",
            reason: format!(
                "{} terms exceed the limit of {MAX_TERMS_PER_RECORD}",
                terms.len()
            ),
        });
    }
    for term in terms {
        if term.field.is_empty() || term.field.len() > MAX_KEY_BYTES {
            return Err(StoreError::Invalid {
                field: "term field",
                reason: format!("must be 1 to {MAX_KEY_BYTES} bytes"),
            });
        }
        if term.value.len() > MAX_KEY_BYTES {
            return Err(StoreError::Invalid {
                field: "term value",
                reason: format!("must be at most {MAX_KEY_BYTES} bytes"),
            });
        }
        if !storable(&term.field) || !storable(&term.value) {
            return Err(no_nul("term"));
        }
    }
    Ok(())
}

/// The SQL condition and the parameters of a search, shared by `search` and
/// `search_count`. Parameter `$1` is the collection.
fn search_condition(queries: &[TermQuery]) -> StoreResult<(String, Vec<String>)> {
    if queries.is_empty() || queries.len() > MAX_SEARCH_TERMS {
        return Err(StoreError::Invalid {
            field: "search",
            reason: format!("needs 1 to {MAX_SEARCH_TERMS} conditions"),
        });
    }
    // Exact and long conditions are the most selective: let them drive the search.
    let mut ordered: Vec<&TermQuery> = queries.iter().collect();
    ordered.sort_by_key(|q| (q.prefix, std::cmp::Reverse(q.value.len())));
    let mut params = Vec::new();
    let mut next = 2;
    let mut placeholder = |params: &mut Vec<String>, value: String| {
        params.push(value);
        let p = format!("${next}");
        next += 1;
        p
    };
    let mut clauses = Vec::new();
    for (i, q) in ordered.iter().enumerate() {
        let alias = format!("t{i}");
        let field = placeholder(&mut params, q.field.clone());
        let term = if q.prefix {
            let low = placeholder(&mut params, q.value.clone());
            // U+10FFFF is the greatest character: its UTF-8 bytes sort after every
            // other's in binary (and "C") collation, so [p, p+U+10FFFF) is "starts with p".
            let high = placeholder(&mut params, format!("{}{}", q.value, char::MAX));
            format!("{alias}.term >= {low} AND {alias}.term < {high}")
        } else {
            let value = placeholder(&mut params, q.value.clone());
            format!("{alias}.term = {value}")
        };
        if i == 0 {
            clauses.push(format!(
                "t0.collection = $1 AND t0.field = {field} AND {term}"
            ));
        } else {
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM record_terms {alias} WHERE {alias}.collection = $1 \
                 AND {alias}.key = t0.key AND {alias}.field = {field} AND {term})"
            ));
        }
    }
    Ok((clauses.join(" AND "), params))
}

impl Db {
    /// Reads one record.
    pub async fn get(&self, collection: &str, key: &str) -> StoreResult<Option<Record>> {
        if !storable(key) {
            return Ok(None);
        }
        check_key(collection, key)?;
        let sql = "SELECT key, version, value, updated_at FROM records \
                   WHERE collection = $1 AND key = $2";
        let row: Option<Row> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(collection)
            .bind(key)
            .fetch_optional(p)
            .await?);
        Ok(self
            .to_records(collection, row.into_iter().collect())
            .await?
            .pop())
    }

    /// Writes one record and returns its new version.
    pub async fn put(
        &self,
        collection: &str,
        key: &str,
        value: &[u8],
        expect: Expect,
        now_micros: i64,
    ) -> StoreResult<i64> {
        let op = WriteOp::Put {
            collection: collection.to_owned(),
            key: key.to_owned(),
            value: value.to_vec(),
            expect,
        };
        let mut versions = self
            .write_batch(std::slice::from_ref(&op), now_micros)
            .await?;
        versions
            .pop()
            .ok_or_else(|| StoreError::Conflict("empty batch result".into()))
    }

    /// Deletes one record. With [`Expect::Any`], deleting a missing record is not an error.
    pub async fn delete(&self, collection: &str, key: &str, expect: Expect) -> StoreResult<()> {
        let op = WriteOp::Delete {
            collection: collection.to_owned(),
            key: key.to_owned(),
            expect,
        };
        self.write_batch(std::slice::from_ref(&op), 0).await?;
        Ok(())
    }

    /// Applies every write or none. Returns, per operation, the new version (0 for deletes).
    /// The batch is durable when this returns.
    pub async fn write_batch(&self, ops: &[WriteOp], now_micros: i64) -> StoreResult<Vec<i64>> {
        for op in ops {
            if let WriteOp::Put { value, .. } = op {
                check_value(value)?;
            }
        }
        let sealed;
        let ops = match &self.sealing {
            None => ops,
            Some(sealing) => {
                let ready = sealing.ready(self).await?;
                sealed = ops
                    .iter()
                    .map(|op| seal_op(&ready, op))
                    .collect::<StoreResult<Vec<WriteOp>>>()?;
                &sealed
            }
        };
        let mut versions = Vec::with_capacity(ops.len());
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin_with(self.write_transaction()).await?;
            for op in ops {
                let version: i64 = apply_write!(tx, op, now_micros)?;
                versions.push(version);
            }
            tx.commit().await?;
        });
        Ok(versions)
    }

    /// Lists a collection in key order, after `after` (exclusive), at most `limit` records.
    pub async fn list(
        &self,
        collection: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Record>> {
        check_key(collection, "-")?;
        if !after.is_none_or(storable) {
            return Err(no_nul("after"));
        }
        let limit = i64::from(limit.clamp(1, MAX_LIST_LIMIT));
        let sql = "SELECT key, version, value, updated_at FROM records \
                   WHERE collection = $1 AND key > $2 ORDER BY key LIMIT $3";
        let rows: Vec<Row> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(collection)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(p)
            .await?);
        self.to_records(collection, rows).await
    }

    /// The keys of the records whose terms satisfy every query, in key order, after
    /// `after` (exclusive), at most `limit`.
    pub async fn search(
        &self,
        collection: &str,
        queries: &[TermQuery],
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        check_key(collection, "-")?;
        let queries = self.stored_queries(queries).await?;
        let (condition, params) = search_condition(&queries)?;
        if !params.iter().all(|p| storable(p)) || !after.is_none_or(storable) {
            return Ok(Vec::new());
        }
        let after_p = params.len() + 2;
        let sql = format!(
            "SELECT DISTINCT t0.key FROM record_terms t0 WHERE {condition} \
             AND t0.key > ${after_p} ORDER BY t0.key LIMIT ${}",
            after_p + 1
        );
        let limit = i64::from(limit.clamp(1, MAX_LIST_LIMIT));
        let keys: Vec<String> = on_pool!(&self.pool, |p| {
            let mut q = sqlx::query_scalar(&sql).bind(collection);
            for param in &params {
                q = q.bind(param.as_str());
            }
            q.bind(after.unwrap_or("")).bind(limit).fetch_all(p).await?
        });
        Ok(keys)
    }

    /// How many records [`Db::search`] would find over all pages.
    pub async fn search_count(&self, collection: &str, queries: &[TermQuery]) -> StoreResult<u64> {
        check_key(collection, "-")?;
        let queries = self.stored_queries(queries).await?;
        let (condition, params) = search_condition(&queries)?;
        if !params.iter().all(|p| storable(p)) {
            return Ok(0);
        }
        let sql = format!("SELECT COUNT(DISTINCT t0.key) FROM record_terms t0 WHERE {condition}");
        let n: i64 = on_pool!(&self.pool, |p| {
            let mut q = sqlx::query_scalar(&sql).bind(collection);
            for param in &params {
                q = q.bind(param.as_str());
            }
            q.fetch_one(p).await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The `(term, key)` pairs of a collection whose term of `field` is one of `values`:
    /// batch lookups (every identity of an import batch by national identifier or by
    /// blocking key) in one round trip per 500 values. At most `limit` pairs.
    pub async fn find_terms(
        &self,
        collection: &str,
        field: &str,
        values: &[String],
        limit: u32,
    ) -> StoreResult<Vec<(String, String)>> {
        check_key(collection, "-")?;
        let mut found = Vec::new();
        let limit = i64::from(limit.max(1));
        if !storable(field) {
            return Ok(found);
        }
        // Blind terms are looked up by their blind form and answered with the value
        // asked for.
        let mut asked: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        let values: Vec<String> = match &self.sealing {
            Some(sealing) if sealing.is_blind(field) => {
                let ready = sealing.ready(self).await?;
                values
                    .iter()
                    .filter(|v| storable(v))
                    .map(|v| {
                        let term = ready.term(field, v);
                        asked.insert(term.clone(), v.clone());
                        term
                    })
                    .collect()
            }
            _ => values.iter().filter(|v| storable(v)).cloned().collect(),
        };
        for chunk in values.chunks(500) {
            let remaining = limit - found.len() as i64;
            if remaining <= 0 {
                break;
            }
            let placeholders: Vec<String> =
                (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!(
                "SELECT term, key FROM record_terms WHERE collection = $1 AND field = $2 \
                 AND term IN ({}) ORDER BY term, key LIMIT ${}",
                placeholders.join(", "),
                chunk.len() + 3
            );
            let rows: Vec<(String, String)> = on_pool!(&self.pool, |p| {
                let mut q = sqlx::query_as(&sql).bind(collection).bind(field);
                for value in chunk {
                    q = q.bind(value.as_str());
                }
                q.bind(remaining).fetch_all(p).await?
            });
            found.extend(rows.into_iter().map(|(term, key)| match asked.get(&term) {
                Some(value) => (value.clone(), key),
                None => (term, key),
            }));
        }
        Ok(found)
    }

    /// Reads several records of one collection; missing keys are skipped. The result
    /// follows the order of `keys`.
    pub async fn get_many(&self, collection: &str, keys: &[String]) -> StoreResult<Vec<Record>> {
        check_key(collection, "-")?;
        let mut found = std::collections::HashMap::with_capacity(keys.len());
        let stored: Vec<&String> = keys.iter().filter(|k| storable(k)).collect();
        for chunk in stored.chunks(500) {
            let placeholders: Vec<String> =
                (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT key, version, value, updated_at FROM records \
                 WHERE collection = $1 AND key IN ({})",
                placeholders.join(", ")
            );
            let rows: Vec<Row> = on_pool!(&self.pool, |p| {
                let mut q = sqlx::query_as(&sql).bind(collection);
                for key in chunk {
                    q = q.bind(key.as_str());
                }
                q.fetch_all(p).await?
            });
            for record in self.to_records(collection, rows).await? {
                found.insert(record.key.clone(), record);
            }
        }
        Ok(keys.iter().filter_map(|k| found.remove(k)).collect())
    }

    /// Counts the records of a collection.
    pub async fn count(&self, collection: &str) -> StoreResult<u64> {
        check_key(collection, "-")?;
        let sql = "SELECT COUNT(*) FROM records WHERE collection = $1";
        let n: i64 = on_pool!(&self.pool, |p| sqlx::query_scalar(sql)
            .bind(collection)
            .fetch_one(p)
            .await?);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Records resealed in one transaction by [`Db::reseal`].
const RESEAL_BATCH: i64 = 500;

impl Db {
    /// Seals what was written before sealing was enabled: every record value in clear
    /// and every term of a blind field not yet blinded. Runs while the platform serves:
    /// a value is replaced only if its version did not move meanwhile (a write since
    /// sealed it already), and a value keeps its version (it did not change). Returns
    /// how many values and terms were sealed. A database opened without sealing has
    /// nothing to do.
    pub async fn reseal(&self, mut progress: impl FnMut(u64)) -> StoreResult<(u64, u64)> {
        let Some(sealing) = &self.sealing else {
            return Ok((0, 0));
        };
        let ready = sealing.ready(self).await?;
        let (mut values, mut terms) = (0u64, 0u64);
        let mut after = (String::new(), String::new());
        loop {
            let rows: Vec<(String, String, i64, Vec<u8>)> = on_pool!(&self.pool, |p| {
                sqlx::query_as(
                    "SELECT collection, key, version, value FROM records \
                     WHERE (collection, key) > ($1, $2) ORDER BY collection, key LIMIT $3",
                )
                .bind(after.0.as_str())
                .bind(after.1.as_str())
                .bind(RESEAL_BATCH)
                .fetch_all(p)
                .await?
            });
            let Some(last) = rows.last() else { break };
            after = (last.0.clone(), last.1.clone());
            for (collection, key, version, value) in rows {
                if crate::sealing::is_sealed(&value) {
                    continue;
                }
                let sealed = ready.seal(&collection, &key, &value)?;
                let done = on_pool!(&self.pool, |p| {
                    sqlx::query(
                    "UPDATE records SET value = $1 WHERE collection = $2 AND key = $3 AND version = $4"
                )
                .bind(sealed.as_slice())
                .bind(collection.as_str())
                .bind(key.as_str())
                .bind(version)
                .execute(p)
                .await?
                .rows_affected()
                });
                values += done;
            }
            progress(values);
        }
        for field in sealing.blind_fields() {
            let clear: Vec<(String, String, String)> = on_pool!(&self.pool, |p| {
                sqlx::query_as(
                    "SELECT collection, key, term FROM record_terms \
                     WHERE field = $1 AND term NOT LIKE 'h:%'",
                )
                .bind(field.as_str())
                .fetch_all(p)
                .await?
            });
            for (collection, key, term) in clear {
                let blind = ready.term(field, &term);
                let done = on_pool!(&self.pool, |p| sqlx::query(
                    "UPDATE record_terms SET term = $1 \
                     WHERE collection = $2 AND key = $3 AND field = $4 AND term = $5"
                )
                .bind(blind.as_str())
                .bind(collection.as_str())
                .bind(key.as_str())
                .bind(field.as_str())
                .bind(term.as_str())
                .execute(p)
                .await?
                .rows_affected());
                terms += done;
            }
        }
        Ok((values, terms))
    }
}
