//! The provider's records: JSON values in collections of `sante-store`, each with an
//! expiry so that housekeeping can drop what has lapsed.

use chrono::{DateTime, Utc};
use sante_store::{Db, Expect, Term, TermQuery, WriteOp};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{SsoError, SsoResult};

pub const CLIENTS: &str = "sso-client";
pub const KEYS: &str = "sso-key";
/// Authorization codes, by SHA-256 of the code.
pub const CODES: &str = "sso-code";
/// Live refresh tokens, by SHA-256 of the token; terms `family`, `sid`.
pub const GRANTS: &str = "sso-grant";
/// Refresh tokens already exchanged, by SHA-256: a second use is a theft.
pub const USED_REFRESH: &str = "sso-used-refresh";
/// Revoked token families (all tokens of one login at one client), by family id.
pub const REVOKED_FAMILIES: &str = "sso-revoked-family";
/// Revoked access tokens, by `jti`, until they would have expired anyway.
pub const REVOKED_JTI: &str = "sso-revoked-jti";
/// Identifiers of systems' assertions already used, against replay.
pub const ASSERTIONS: &str = "sso-assertion";
/// Back-channel logout tokens still to deliver.
pub const OUTBOX: &str = "sso-logout-outbox";

/// The collections whose records carry an `expires` field, purged when past.
pub const EXPIRING: &[&str] = &[
    CODES,
    GRANTS,
    USED_REFRESH,
    REVOKED_FAMILIES,
    REVOKED_JTI,
    ASSERTIONS,
    OUTBOX,
];

fn corrupt(what: &str) -> SsoError {
    SsoError::Signing(format!("stored {what} cannot be read"))
}

pub async fn get<T: DeserializeOwned>(
    db: &Db,
    collection: &str,
    key: &str,
) -> SsoResult<Option<(T, i64)>> {
    match db.get(collection, key).await? {
        Some(record) => Ok(Some((
            serde_json::from_slice(&record.value).map_err(|_| corrupt(collection))?,
            record.version,
        ))),
        None => Ok(None),
    }
}

pub async fn put<T: Serialize>(
    db: &Db,
    collection: &str,
    key: &str,
    value: &T,
    expect: Expect,
    now: DateTime<Utc>,
    terms: Option<Vec<Term>>,
) -> SsoResult<()> {
    let bytes = serde_json::to_vec(value).map_err(|_| corrupt(collection))?;
    let mut ops = vec![WriteOp::Put {
        collection: collection.into(),
        key: key.into(),
        value: bytes,
        expect,
    }];
    if let Some(terms) = terms {
        ops.push(WriteOp::Index {
            collection: collection.into(),
            key: key.into(),
            terms,
        });
    }
    db.write_batch(&ops, now.timestamp_micros()).await?;
    Ok(())
}

/// Reads and deletes a record in one go: a second taker finds nothing (single use).
pub async fn take<T: DeserializeOwned>(
    db: &Db,
    collection: &str,
    key: &str,
) -> SsoResult<Option<T>> {
    let Some((value, version)) = get::<T>(db, collection, key).await? else {
        return Ok(None);
    };
    match db.delete(collection, key, Expect::Version(version)).await {
        Ok(()) => Ok(Some(value)),
        // Someone else took it between the read and the delete.
        Err(sante_store::StoreError::Conflict(_) | sante_store::StoreError::NotFound(_)) => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn keys_with(
    db: &Db,
    collection: &str,
    field: &str,
    value: &str,
) -> SsoResult<Vec<String>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    // Bounded: a login's families and grants are few.
    for _ in 0..20 {
        let page = db
            .search(
                collection,
                &[TermQuery::exact(field, value)],
                after.as_deref(),
                500,
            )
            .await?;
        let Some(last) = page.last().cloned() else {
            break;
        };
        let full = page.len() == 500;
        out.extend(page);
        if !full {
            break;
        }
        after = Some(last);
    }
    Ok(out)
}

#[derive(serde::Deserialize)]
struct Expiring {
    expires: DateTime<Utc>,
}

/// Deletes the records of the expiring collections that are past their expiry.
/// Bounded per call; returns how many were deleted.
pub async fn purge_expired(db: &Db, now: DateTime<Utc>) -> SsoResult<u64> {
    let mut purged = 0;
    for collection in EXPIRING {
        let mut after: Option<String> = None;
        for _ in 0..50 {
            let page = db.list(collection, after.as_deref(), 500).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.key.clone());
            let ops: Vec<WriteOp> = page
                .iter()
                .filter(|r| {
                    serde_json::from_slice::<Expiring>(&r.value)
                        .map(|e| e.expires < now)
                        .unwrap_or(true)
                })
                .map(|r| WriteOp::Delete {
                    collection: (*collection).into(),
                    key: r.key.clone(),
                    expect: Expect::Any,
                })
                .collect();
            if !ops.is_empty() {
                purged += ops.len() as u64;
                db.write_batch(&ops, now.timestamp_micros()).await?;
            }
        }
    }
    Ok(purged)
}
