//! Writing entries: the registers' imports (idempotent, resumable per file) and the
//! change events every write publishes in the same batch.

use super::*;

/// A patient identity as a feed or a care provider gives it: no platform id yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientInput {
    pub entry: Patient,
}

impl Directory {
    pub(super) fn change_op(
        &self,
        kind: ChangeKind,
        register: Register,
        entry: &str,
        related: Option<String>,
    ) -> DirectoryResult<WriteOp> {
        let now = self.clock.now();
        let event = ChangeEvent {
            cursor: String::new(),
            at: now,
            kind,
            register,
            entry: entry.to_owned(),
            related,
        };
        // Time, then this process's sequence, so the feed reads in order; the random
        // part keeps other processes' writers from colliding.
        let seq = self
            .sequence
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let key = format!(
            "{:020}-{seq:012}-{}",
            now.timestamp_micros(),
            &new_id()[..8]
        );
        Ok(WriteOp::Put {
            collection: CHANGES.into(),
            key,
            value: encode(&event)?,
            expect: Expect::Absent,
        })
    }

    /// The write operations that store `new` over `old` (at `version`), with its terms
    /// and change events.
    pub(super) fn entry_ops<E: Entry>(
        &self,
        old: Option<(&E, i64)>,
        new: &E,
        ops: &mut Vec<WriteOp>,
    ) -> DirectoryResult<()> {
        ops.push(WriteOp::Put {
            collection: E::COLLECTION.into(),
            key: new.key().to_owned(),
            value: encode(new)?,
            expect: old.map_or(Expect::Absent, |(_, v)| Expect::Version(v)),
        });
        ops.push(WriteOp::Index {
            collection: E::COLLECTION.into(),
            key: new.key().to_owned(),
            terms: new.terms(),
        });
        for (kind, related) in E::changes(old.map(|(e, _)| e), new) {
            ops.push(self.change_op(kind, E::REGISTER, new.key(), related)?);
        }
        Ok(())
    }

    /// Loads a batch of register entries (professionals, establishments, agents):
    /// validated first, then written in one transaction with their change events.
    /// An entry equal to the stored one writes nothing, so re-running a feed is a no-op.
    pub async fn upsert<E: Entry>(
        &self,
        req: &Request,
        entries: &[E],
    ) -> DirectoryResult<BatchOutcome> {
        self.check(req, DirectoryAction::ImportRegisters, Action::Update)
            .await?;
        for e in entries {
            e.validate()?;
        }
        let keys: Vec<String> = entries.iter().map(|e| e.key().to_owned()).collect();
        let unique: HashSet<&String> = keys.iter().collect();
        if unique.len() != keys.len() {
            return Err(DirectoryError::Conflict(
                "the same entry appears twice in one batch".into(),
            ));
        }
        let stored = self.db.get_many(E::COLLECTION, &keys).await?;
        let mut old: HashMap<String, (E, i64)> = HashMap::with_capacity(stored.len());
        for r in &stored {
            old.insert(r.key.clone(), (decode(r)?, r.version));
        }
        let mut outcome = BatchOutcome::default();
        let mut ops = Vec::new();
        for e in entries {
            match old.get(e.key()) {
                Some((o, _)) if o == e => outcome.unchanged += 1,
                Some((o, v)) => {
                    outcome.updated += 1;
                    self.entry_ops(Some((o, *v)), e, &mut ops)?;
                }
                None => {
                    outcome.created += 1;
                    self.entry_ops(None, e, &mut ops)?;
                }
            }
        }
        if !ops.is_empty() {
            self.db.write_batch(&ops, self.now_micros()).await?;
        }
        Ok(outcome)
    }

    /// Loads a batch of patients from the national register, keyed by national
    /// identification number (required). A known number updates its entry (keeping
    /// the platform id and the identity-vigilance state); a new one is matched against
    /// the directory first, and a resemblance sends the pair to review.
    pub async fn upsert_patients(
        &self,
        req: &Request,
        inputs: &[Patient],
    ) -> DirectoryResult<BatchOutcome> {
        self.check(req, DirectoryAction::ImportRegisters, Action::Update)
            .await?;
        let mut nins = Vec::with_capacity(inputs.len());
        for p in inputs {
            // Register lines carry no platform id yet; one is given on creation.
            let mut probe = p.clone();
            probe.id = "new".into();
            probe.validate()?;
            let nin = p.national_id.as_ref().ok_or_else(|| InvalidEntry {
                field: "national_id",
                reason: "the national register keys patients by it".into(),
            })?;
            nins.push(nin.as_str().to_owned());
        }
        if nins.iter().collect::<HashSet<_>>().len() != nins.len() {
            return Err(DirectoryError::Conflict(
                "the same national identifier appears twice in one batch".into(),
            ));
        }
        let by_nin: HashMap<String, String> = self
            .db
            .find_terms(PATIENTS, "nin", &nins, u32::MAX)
            .await?
            .into_iter()
            .collect();
        let known_keys: Vec<String> = by_nin.values().cloned().collect();
        let mut old: HashMap<String, (Patient, i64)> = HashMap::new();
        for r in self.db.get_many(PATIENTS, &known_keys).await? {
            old.insert(r.key.clone(), (decode(&r)?, r.version));
        }

        let mut outcome = BatchOutcome::default();
        let mut ops = Vec::new();
        let mut fresh = Vec::new();
        for (p, nin) in inputs.iter().zip(&nins) {
            match by_nin.get(nin).and_then(|k| old.get(k)) {
                Some((o, v)) => {
                    let mut updated = p.clone();
                    updated.id = o.id.clone();
                    updated.doubtful = o.doubtful;
                    updated.homonym = o.homonym;
                    updated.merged_into = o.merged_into.clone();
                    if updated == *o {
                        outcome.unchanged += 1;
                    } else {
                        outcome.updated += 1;
                        self.entry_ops(Some((o, *v)), &updated, &mut ops)?;
                    }
                }
                None => {
                    let mut created = p.clone();
                    created.id = new_id();
                    fresh.push(created);
                }
            }
        }
        // Search before create, for the whole batch at once.
        let similar = self.similar_identities(&fresh).await?;
        for (mut p, lookalikes) in fresh.into_iter().zip(similar) {
            outcome.created += 1;
            if !lookalikes.is_empty() {
                p.doubtful = true;
                outcome.sent_to_review += 1;
                for (existing, score) in &lookalikes {
                    ops.push(self.review_op(&p.id, existing, *score)?);
                }
            }
            self.entry_ops(None, &p, &mut ops)?;
        }
        if !ops.is_empty() {
            self.db.write_batch(&ops, self.now_micros()).await?;
        }
        Ok(outcome)
    }

    /// The last line committed by an import of the file identified by `source`.
    pub async fn import_checkpoint(&self, source: &str) -> DirectoryResult<u64> {
        Ok(match self.db.get(IMPORTS, source).await? {
            Some(r) => decode(&r)?,
            None => 0,
        })
    }

    /// Records that an import of `source` committed every line up to `line`.
    pub async fn set_import_checkpoint(&self, source: &str, line: u64) -> DirectoryResult<()> {
        self.db
            .put(
                IMPORTS,
                source,
                &encode(&line)?,
                Expect::Any,
                self.now_micros(),
            )
            .await?;
        Ok(())
    }
}
