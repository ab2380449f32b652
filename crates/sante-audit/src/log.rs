//! The audit log: a single writer task that chains, seals and purges.
//!
//! Callers send events over a channel and wait for the acknowledgement, which comes
//! only after the transaction holding the event has committed (group commit: whatever
//! is queued goes into one transaction). One writer per process keeps the chain
//! ordered; a second process appending at the same time (the CLI beside a running
//! server) loses the race on the `(stream, seq)` key, reloads the head and retries.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Months, Utc};
use sante_store::Db;
use sante_store::StoreError;
use sante_store::audit_log::{AuditRow, CheckpointRow, PurgeRow};
use sante_store::retry::{Retry, Step, on_conflict};
use sante_types::Clock;
use tokio::sync::{mpsc, oneshot};

use crate::chain::{CheckpointBody, GENESIS, PurgeBody, record_hash};
use crate::event::{Action, Actor, AuditEvent, EventKind, Stream, Token};
use crate::signer::CheckpointSigner;
use crate::{AuditError, RecordError, Recorder};

/// When an open epoch is sealed with a signed checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct SealPolicy {
    /// Seal once the epoch holds this many records.
    pub max_records: u64,
    /// Seal once the epoch's first record is this old.
    pub max_age: chrono::Duration,
}

impl Default for SealPolicy {
    fn default() -> Self {
        SealPolicy {
            max_records: 10_000,
            max_age: chrono::Duration::minutes(60),
        }
    }
}

/// How long traces are kept (PLT-7).
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub platform_months: u32,
    pub messaging_months: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            platform_months: 13,
            messaging_months: 12,
        }
    }
}

impl Retention {
    fn months(&self, stream: Stream) -> u32 {
        match stream {
            Stream::Platform => self.platform_months,
            Stream::Messaging => self.messaging_months,
        }
    }
}

/// An epoch that was sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEpoch {
    pub stream: Stream,
    pub epoch: i64,
    pub records: i64,
}

/// What a purge removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Per stream: the last epoch purged and how many records went with it.
    pub purged: Vec<(Stream, i64, u64)>,
}

enum Command {
    Record(Box<AuditEvent>, oneshot::Sender<Result<(), String>>),
    Seal(bool, oneshot::Sender<Result<Vec<SealedEpoch>, String>>),
    Purge(Retention, oneshot::Sender<Result<PurgeReport, String>>),
    Close,
}

/// A handle on the audit log. Cheap to clone; the writer stops when every handle is
/// dropped or [`AuditLog::close`] is called.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Command>,
    writer: Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

/// The chain position of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    seq: i64,
    hash: Vec<u8>,
    /// The epoch the next record goes to.
    epoch: i64,
    /// Whether `epoch` already holds records (and so is open).
    open: bool,
    epoch_first_seq: i64,
    epoch_start_hash: Vec<u8>,
    epoch_count: i64,
    epoch_first_recorded_at: i64,
    epoch_last_recorded_at: i64,
    last_checkpoint_hash: Vec<u8>,
}

struct Writer {
    db: Db,
    /// This writer's name when it takes the turn.
    id: String,
    signer: CheckpointSigner,
    clock: Arc<dyn Clock>,
    policy: SealPolicy,
    /// Where each stream's chain stands for this writer. Behind a lock that no await
    /// holds, so that a retried attempt borrows the writer shared and still moves the
    /// heads when it loses a race.
    heads: Mutex<Heads>,
}

type Heads = BTreeMap<&'static str, Head>;

impl AuditLog {
    /// Opens the log on `db` (migrated) and starts its writer task.
    pub async fn open(
        db: Db,
        signer: CheckpointSigner,
        clock: Arc<dyn Clock>,
        policy: SealPolicy,
    ) -> Result<AuditLog, AuditError> {
        let writer = Writer {
            db,
            id: uuid::Uuid::new_v4().simple().to_string(),
            signer,
            clock,
            policy,
            heads: Mutex::new(BTreeMap::new()),
        };
        writer.reload().await?;
        let (tx, rx) = mpsc::channel(4096);
        let handle = tokio::spawn(writer.run(rx));
        Ok(AuditLog {
            tx,
            writer: Arc::new(tokio::sync::Mutex::new(Some(handle))),
        })
    }

    /// Records one event; returns once it is durably committed.
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Command::Record(Box::new(event), ack))
            .await
            .map_err(|_| AuditError::Closed)?;
        done.await
            .map_err(|_| AuditError::Closed)?
            .map_err(AuditError::Write)
    }

    /// Seals the open epochs that the policy says are due.
    pub async fn seal_due(&self) -> Result<Vec<SealedEpoch>, AuditError> {
        self.seal(false).await
    }

    /// Seals every open epoch now (at shutdown, before an export).
    pub async fn seal_now(&self) -> Result<Vec<SealedEpoch>, AuditError> {
        self.seal(true).await
    }

    async fn seal(&self, force: bool) -> Result<Vec<SealedEpoch>, AuditError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Command::Seal(force, ack))
            .await
            .map_err(|_| AuditError::Closed)?;
        done.await
            .map_err(|_| AuditError::Closed)?
            .map_err(AuditError::Write)
    }

    /// Drops the sealed epochs whose every record is older than the retention, behind a
    /// signed purge marker, and records the purge.
    pub async fn purge_expired(&self, retention: &Retention) -> Result<PurgeReport, AuditError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Command::Purge(*retention, ack))
            .await
            .map_err(|_| AuditError::Closed)?;
        done.await
            .map_err(|_| AuditError::Closed)?
            .map_err(AuditError::Write)
    }

    /// Stops the writer after the queued commands are done.
    pub async fn close(&self) {
        let handle = self.writer.lock().await.take();
        if let Some(handle) = handle {
            // Everything queued before the close is still written and acknowledged.
            let _ = self.tx.send(Command::Close).await;
            let _ = handle.await;
        }
    }
}

impl Recorder for AuditLog {
    fn record(
        &self,
        event: AuditEvent,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), RecordError>> + Send + '_>>
    {
        Box::pin(async move {
            AuditLog::record(self, event)
                .await
                .map_err(|e| RecordError(e.to_string()))
        })
    }
}

const MAX_BATCH: usize = 1024;
/// The chain's writers retry by the storage's policy for the audit chain; between
/// attempts the loser moves its heads (catches up, reloads, takes the turn).
const RETRY: Retry = Retry::AUDIT_CHAIN;
/// Lost races after which a writer takes the turn.
const TURN_AFTER: usize = 2;
/// How long a turn lasts at most (a writer that dies holding it blocks the others
/// no longer than this).
const TURN_MICROS: i64 = 5_000_000;

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<Command>) {
        while let Some(first) = rx.recv().await {
            let mut commands = vec![first];
            while commands.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(c) => commands.push(c),
                    Err(_) => break,
                }
            }
            let mut events = Vec::new();
            let mut acks = Vec::new();
            let mut controls = Vec::new();
            let mut close = false;
            for c in commands {
                match c {
                    Command::Record(event, ack) => {
                        events.push(*event);
                        acks.push(ack);
                    }
                    Command::Close => close = true,
                    other => controls.push(other),
                }
            }
            if !events.is_empty() {
                let result = self.append(events).await.map_err(|e| {
                    tracing::error!(error = %e, "audit append failed");
                    e.to_string()
                });
                for ack in acks {
                    let _ = ack.send(result.clone());
                }
            }
            for control in controls {
                match control {
                    Command::Seal(force, ack) => {
                        let _ = ack.send(self.seal(force).await.map_err(|e| e.to_string()));
                    }
                    Command::Purge(retention, ack) => {
                        let _ = ack.send(self.purge(&retention).await.map_err(|e| e.to_string()));
                    }
                    Command::Record(..) | Command::Close => {}
                }
            }
            if close {
                break;
            }
        }
    }

    /// A copy of the heads, for an attempt to advance.
    fn heads(&self) -> Heads {
        self.heads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_heads(&self, heads: Heads) {
        *self.heads.lock().unwrap_or_else(PoisonError::into_inner) = heads;
    }

    fn set_head(&self, name: &'static str, head: Head) {
        self.heads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, head);
    }

    /// Reads every stream's head from the database.
    async fn reload(&self) -> Result<(), AuditError> {
        let mut heads = BTreeMap::new();
        for stream in Stream::ALL {
            // A head is read in several queries: another writer sealing an epoch
            // between them gives an inconsistent picture, read again.
            let db = &self.db;
            let head = on_conflict(RETRY, "audit head read", || async move {
                Ok::<_, AuditError>(match load_head(db, stream.as_str()).await? {
                    Some(head) => Step::Done(head),
                    None => Step::Raced,
                })
            })
            .await?;
            heads.insert(stream.as_str(), head);
        }
        self.set_heads(heads);
        Ok(())
    }

    /// Moves the heads of `streams` to where another writer left them: past the
    /// records it appended, into the epoch it opened after sealing one. A few
    /// queries per stream, so that the retry comes before that writer's next commit
    /// (reloading every stream is slow enough to lose every race against a busy
    /// server). `false` when nothing moved or the chain is in a state only a full
    /// reload reads (after a purge): the caller reloads.
    async fn catch_up(&self, streams: &[Stream]) -> Result<bool, AuditError> {
        let mut names: Vec<&'static str> = streams.iter().map(|s| s.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut moved = false;
        for name in names {
            let Some(tip) = self.db.audit_head(name).await? else {
                return Ok(false);
            };
            let Some(current) = self.current(name) else {
                return Ok(false);
            };
            let checkpoint = self.db.audit_last_checkpoint(name).await?;
            let last_checkpoint_hash = checkpoint
                .as_ref()
                .map(|c| c.checkpoint_hash.clone())
                .unwrap_or_else(|| current.last_checkpoint_hash.clone());
            let next = if checkpoint.as_ref().is_some_and(|c| c.epoch >= tip.epoch) {
                // The tip's epoch is sealed: the next record opens the following one.
                Head {
                    seq: tip.seq,
                    hash: tip.hash.clone(),
                    epoch: tip.epoch + 1,
                    open: false,
                    epoch_first_seq: 0,
                    epoch_start_hash: Vec::new(),
                    epoch_count: 0,
                    epoch_first_recorded_at: 0,
                    epoch_last_recorded_at: 0,
                    last_checkpoint_hash,
                }
            } else if current.open && tip.epoch == current.epoch && tip.seq >= current.seq {
                Head {
                    epoch_count: current.epoch_count + (tip.seq - current.seq),
                    seq: tip.seq,
                    hash: tip.hash.clone(),
                    epoch_last_recorded_at: tip.recorded_at,
                    ..current.clone()
                }
            } else {
                // An epoch opened by the other writer right after its last checkpoint.
                let Some(cp) = checkpoint.filter(|c| c.epoch + 1 == tip.epoch) else {
                    return Ok(false);
                };
                let first = self.db.audit_records(name, cp.last_seq, 1).await?;
                let Some(first) = first.first() else {
                    return Ok(false);
                };
                Head {
                    seq: tip.seq,
                    hash: tip.hash.clone(),
                    epoch: tip.epoch,
                    open: true,
                    epoch_first_seq: first.seq,
                    epoch_start_hash: first.prev_hash.clone(),
                    epoch_count: tip.seq - first.seq + 1,
                    epoch_first_recorded_at: first.recorded_at,
                    epoch_last_recorded_at: tip.recorded_at,
                    last_checkpoint_hash: cp.checkpoint_hash,
                }
            };
            if next != current {
                moved = true;
                self.set_head(name, next);
            }
        }
        Ok(moved)
    }

    /// Where one stream stands (a copy of its head alone).
    fn current(&self, name: &str) -> Option<Head> {
        self.heads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    async fn append(&self, events: Vec<AuditEvent>) -> Result<(), AuditError> {
        let mut encoded = Vec::with_capacity(events.len());
        for event in &events {
            let bytes = serde_json::to_vec(event).map_err(|e| AuditError::Write(e.to_string()))?;
            encoded.push((event.stream(), bytes));
        }
        let has_turn = AtomicBool::new(false);
        let result = self.append_encoded(&encoded, &has_turn).await;
        if has_turn.into_inner()
            && let Err(e) = self.db.audit_give_turn(&self.id).await
        {
            // It expires on its own.
            tracing::warn!(error = %e, "cannot give the audit turn back");
        }
        result
    }

    async fn append_encoded(
        &self,
        encoded: &[(Stream, Vec<u8>)],
        has_turn: &AtomicBool,
    ) -> Result<(), AuditError> {
        let lost = AtomicUsize::new(0);
        let (this, lost) = (self, &lost);
        on_conflict(RETRY, "audit append", || async move {
            let now = this.clock.now().timestamp_micros();
            let mut heads = this.heads();
            let mut rows = Vec::with_capacity(encoded.len());
            let mut checkpoints = Vec::new();
            for (stream, bytes) in encoded {
                let name = stream.as_str();
                let mut head = heads
                    .get(name)
                    .cloned()
                    .ok_or_else(|| AuditError::Write(format!("no head for stream {name}")))?;
                if head.open && this.age_due(&head, now) {
                    checkpoints.push(this.checkpoint(name, &mut head, now));
                }
                if !head.open {
                    head.open = true;
                    head.epoch_first_seq = head.seq + 1;
                    head.epoch_start_hash = head.hash.clone();
                    head.epoch_count = 0;
                    head.epoch_first_recorded_at = now;
                }
                let seq = head.seq + 1;
                let hash = record_hash(name, seq, head.epoch, &head.hash, bytes);
                rows.push(AuditRow {
                    stream: name.to_owned(),
                    seq,
                    epoch: head.epoch,
                    recorded_at: now,
                    event: bytes.clone(),
                    prev_hash: head.hash.clone(),
                    hash: hash.to_vec(),
                });
                head.seq = seq;
                head.hash = hash.to_vec();
                head.epoch_count += 1;
                head.epoch_last_recorded_at = now;
                if head.epoch_count as u64 >= this.policy.max_records {
                    checkpoints.push(this.checkpoint(name, &mut head, now));
                }
                heads.insert(name_static(*stream), head);
            }
            match this
                .db
                .audit_append(&this.id, now, &rows, &checkpoints)
                .await
            {
                Ok(()) => {
                    this.set_heads(heads);
                    Ok(Step::Done(()))
                }
                Err(StoreError::Conflict(_)) => {
                    // Another process appended (or holds the turn). After a few lost
                    // races, take the turn: the others wait while this writer catches
                    // up and appends, so a busy server cannot starve a CLI command.
                    let lost = lost.fetch_add(1, Ordering::Relaxed) + 1;
                    if lost >= TURN_AFTER && !has_turn.load(Ordering::Relaxed) {
                        let taken = this
                            .db
                            .audit_take_turn(&this.id, now, now + TURN_MICROS)
                            .await?;
                        has_turn.store(taken, Ordering::Relaxed);
                    }
                    let streams: Vec<Stream> = encoded.iter().map(|(s, _)| *s).collect();
                    if !this.catch_up(&streams).await? {
                        this.reload().await?;
                    }
                    Ok(Step::Raced)
                }
                Err(e) => {
                    // The head may be stale after a failed commit: re-read it.
                    let _ = this.reload().await;
                    Err(e.into())
                }
            }
        })
        .await
    }

    fn age_due(&self, head: &Head, now: i64) -> bool {
        let age = now - head.epoch_first_recorded_at;
        self.policy
            .max_age
            .num_microseconds()
            .is_some_and(|max| age >= max)
    }

    /// Builds the signed checkpoint closing `head`'s open epoch, and moves the head to
    /// the next epoch.
    fn checkpoint(&self, stream: &str, head: &mut Head, now: i64) -> CheckpointRow {
        let body = CheckpointBody {
            stream,
            epoch: head.epoch,
            first_seq: head.epoch_first_seq,
            last_seq: head.seq,
            record_count: head.epoch_count,
            start_hash: &head.epoch_start_hash,
            end_hash: &head.hash,
            last_recorded_at: head.epoch_last_recorded_at,
            sealed_at: now,
            prev_checkpoint_hash: &head.last_checkpoint_hash,
        };
        let bytes = body.bytes();
        let checkpoint_hash = body.hash().to_vec();
        let row = CheckpointRow {
            stream: stream.to_owned(),
            epoch: head.epoch,
            first_seq: head.epoch_first_seq,
            last_seq: head.seq,
            record_count: head.epoch_count,
            start_hash: head.epoch_start_hash.clone(),
            end_hash: head.hash.clone(),
            last_recorded_at: head.epoch_last_recorded_at,
            sealed_at: now,
            prev_checkpoint_hash: head.last_checkpoint_hash.clone(),
            checkpoint_hash: checkpoint_hash.clone(),
            key_id: self.signer.key_id().to_owned(),
            signature: self.signer.sign(&bytes),
        };
        head.last_checkpoint_hash = checkpoint_hash;
        head.epoch += 1;
        head.open = false;
        head.epoch_count = 0;
        row
    }

    async fn seal(&self, force: bool) -> Result<Vec<SealedEpoch>, AuditError> {
        on_conflict(RETRY, "audit seal", || async move {
            let now = self.clock.now().timestamp_micros();
            let mut heads = self.heads();
            let mut checkpoints = Vec::new();
            let mut sealed = Vec::new();
            for stream in Stream::ALL {
                let name = stream.as_str();
                let mut head = heads
                    .get(name)
                    .cloned()
                    .ok_or_else(|| AuditError::Write(format!("no head for stream {name}")))?;
                if head.open && (force || self.age_due(&head, now)) {
                    sealed.push(SealedEpoch {
                        stream,
                        epoch: head.epoch,
                        records: head.epoch_count,
                    });
                    checkpoints.push(self.checkpoint(name, &mut head, now));
                    heads.insert(name_static(stream), head);
                }
            }
            if checkpoints.is_empty() {
                return Ok(Step::Done(sealed));
            }
            match self.db.audit_append(&self.id, now, &[], &checkpoints).await {
                Ok(()) => {
                    self.set_heads(heads);
                    Ok(Step::Done(sealed))
                }
                Err(StoreError::Conflict(_)) => {
                    self.reload().await?;
                    Ok(Step::Raced)
                }
                Err(e) => {
                    let _ = self.reload().await;
                    Err(e.into())
                }
            }
        })
        .await
    }

    async fn purge(&self, retention: &Retention) -> Result<PurgeReport, AuditError> {
        let now: DateTime<Utc> = self.clock.now();
        let mut report = PurgeReport::default();
        for stream in Stream::ALL {
            let months = retention.months(stream);
            let Some(cutoff) = now.checked_sub_months(Months::new(months)) else {
                continue;
            };
            let cutoff = cutoff.timestamp_micros();
            let checkpoints = self.db.audit_checkpoints(stream.as_str()).await?;
            // Only a prefix of whole sealed epochs goes: the chain stays verifiable
            // from the marker onwards.
            let expired: Vec<&CheckpointRow> = checkpoints
                .iter()
                .take_while(|c| c.last_recorded_at < cutoff)
                .collect();
            let Some(last) = expired.last() else {
                continue;
            };
            let body = PurgeBody {
                stream: stream.as_str(),
                purged_through_epoch: last.epoch,
                last_seq: last.last_seq,
                last_end_hash: &last.end_hash,
                last_checkpoint_hash: &last.checkpoint_hash,
                purged_at: now.timestamp_micros(),
            };
            let marker = PurgeRow {
                stream: stream.as_str().to_owned(),
                purged_through_epoch: last.epoch,
                last_seq: last.last_seq,
                last_end_hash: last.end_hash.clone(),
                last_checkpoint_hash: last.checkpoint_hash.clone(),
                purged_at: now.timestamp_micros(),
                key_id: self.signer.key_id().to_owned(),
                signature: self.signer.sign(&body.bytes()),
            };
            let deleted = self.db.audit_purge_through(&marker).await?;
            report.purged.push((stream, last.epoch, deleted));
        }
        for (stream, epoch, records) in &report.purged {
            tracing::info!(
                stream = stream.as_str(),
                through_epoch = epoch,
                records,
                "audit epochs purged"
            );
            let event = AuditEvent::new(
                EventKind::AuditEpochPurged,
                now,
                Actor::platform(),
                sante_types::Service::Platform,
                Action::Delete,
            );
            let event = match (
                Token::new("AuditEpoch"),
                Token::new(format!("{}:{epoch}", stream.as_str())),
            ) {
                (Ok(kind), Ok(id)) => event.resource(kind, id),
                _ => event,
            };
            self.append(vec![event]).await?;
        }
        Ok(report)
    }
}

fn name_static(stream: Stream) -> &'static str {
    stream.as_str()
}

/// Where a stream's chain stands; `None` when another writer moved it while it was
/// being read.
async fn load_head(db: &Db, stream: &str) -> Result<Option<Head>, AuditError> {
    let last_record = db.audit_head(stream).await?;
    let last_checkpoint = db.audit_last_checkpoint(stream).await?;
    let last_purge = db.audit_purges(stream).await?.pop();
    let last_checkpoint_hash = last_checkpoint
        .as_ref()
        .map(|c| c.checkpoint_hash.clone())
        .or_else(|| last_purge.as_ref().map(|p| p.last_checkpoint_hash.clone()))
        .unwrap_or_else(|| GENESIS.to_vec());
    let sealed_epoch = last_checkpoint
        .as_ref()
        .map(|c| c.epoch)
        .or_else(|| last_purge.as_ref().map(|p| p.purged_through_epoch));
    // Where the chain stands: after the last record, else after the last purge, else
    // at the beginning.
    let (seq, hash, epoch, open) = match (&last_record, &last_purge) {
        (Some(r), _) => (r.seq, r.hash.clone(), r.epoch, true),
        (None, Some(p)) => (
            p.last_seq,
            p.last_end_hash.clone(),
            p.purged_through_epoch + 1,
            false,
        ),
        (None, None) => (0, GENESIS.to_vec(), 0, false),
    };
    let mut head = Head {
        seq,
        hash,
        epoch,
        open,
        epoch_first_seq: 0,
        epoch_start_hash: Vec::new(),
        epoch_count: 0,
        epoch_first_recorded_at: 0,
        epoch_last_recorded_at: 0,
        last_checkpoint_hash,
    };
    if last_record.is_some() {
        if sealed_epoch.is_some_and(|e| e >= head.epoch) {
            // The last record's epoch is sealed: the next record opens a new one.
            head.epoch += 1;
            head.open = false;
        } else {
            let spans = db.audit_open_epochs(stream).await?;
            match spans.last() {
                Some(span) if span.epoch == head.epoch => {
                    head.epoch_first_seq = span.first_seq;
                    // From the sequence numbers, not the span's count: the count is
                    // read after the last record and may include a record another
                    // writer added in between (an epoch's records are contiguous).
                    head.epoch_count = head.seq - span.first_seq + 1;
                    head.epoch_first_recorded_at = span.first_recorded_at;
                    head.epoch_last_recorded_at = span.last_recorded_at;
                    let before = db.audit_records(stream, span.first_seq - 1, 1).await?;
                    head.epoch_start_hash = before
                        .first()
                        .map(|r| r.prev_hash.clone())
                        .unwrap_or_else(|| GENESIS.to_vec());
                }
                _ => return Ok(None),
            }
        }
    }
    Ok(Some(head))
}
