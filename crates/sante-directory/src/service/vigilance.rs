//! Identity vigilance (DIR-6): searching before creating a patient (national
//! identifier, then blocking and Fellegi-Sunter matching), the review queue, and
//! reversible merges.

use super::*;

/// A pair of identities waiting for identity vigilance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    #[serde(skip)]
    pub id: String,
    pub new_identity: String,
    pub existing_identity: String,
    pub score: f64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    pub decision: Option<ReviewDecision>,
}

/// What identity vigilance decided about a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// Two different people who look alike: both are flagged homonyms.
    Distinct,
    /// The same person: the new identity was merged into the existing one.
    Merged,
}

/// One merge, kept so it can be undone exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeRecord {
    #[serde(skip)]
    pub id: String,
    pub survivor: String,
    pub merged: String,
    pub by: String,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The merged entry as it was before, restored by an unmerge.
    pub before: Patient,
    #[serde(default)]
    pub undone_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// How a patient creation ended (search before create).
#[derive(Debug, Clone, PartialEq)]
pub enum Creation {
    /// The identity already existed (same national identifier, or a certain match):
    /// no new entry, here is the existing one.
    Existing(Patient),
    /// A new entry was created.
    Created(Patient),
    /// A new entry was created, flagged doubtful, and sent to review with these
    /// existing identities.
    CreatedForReview(Patient, Vec<String>),
}

impl Directory {
    pub(super) fn review_op(
        &self,
        new: &str,
        existing: &str,
        score: f64,
    ) -> DirectoryResult<WriteOp> {
        let item = ReviewItem {
            id: String::new(),
            new_identity: new.to_owned(),
            existing_identity: existing.to_owned(),
            score,
            created_at: self.clock.now(),
            decision: None,
        };
        Ok(WriteOp::Put {
            collection: REVIEWS.into(),
            key: format!("{:020}-{}", self.now_micros(), new_id()),
            value: encode(&item)?,
            expect: Expect::Absent,
        })
    }

    /// For each identity, the stored ones that score at least the review threshold
    /// (other national identifiers: the same number is the same person).
    pub(super) async fn similar_identities(
        &self,
        identities: &[Patient],
    ) -> DirectoryResult<Vec<Vec<(String, f64)>>> {
        let scored = self.score_candidates(identities).await?;
        Ok(scored
            .into_iter()
            .map(|list| {
                list.into_iter()
                    .filter(|(_, score, decision)| {
                        *decision != Decision::Distinct && score.is_finite()
                    })
                    .map(|(p, score, _)| (p.id, score))
                    .collect()
            })
            .collect())
    }

    /// Candidates by blocking keys, scored, best first.
    pub(super) async fn score_candidates(
        &self,
        identities: &[Patient],
    ) -> DirectoryResult<Vec<Vec<(Patient, f64, Decision)>>> {
        let prepared: Vec<Prepared> = identities
            .iter()
            .map(|p| Prepared::new(&identity_fields(p)))
            .collect();
        let keys: Vec<Vec<String>> = prepared.iter().map(Prepared::blocking_keys).collect();
        let mut all: Vec<String> = keys.iter().flatten().cloned().collect();
        all.sort();
        all.dedup();
        let pairs = self
            .db
            .find_terms(PATIENTS, "block", &all, MAX_CANDIDATES * 16)
            .await?;
        let mut by_key: HashMap<String, Vec<String>> = HashMap::new();
        for (term, key) in pairs {
            by_key.entry(term).or_default().push(key);
        }
        let mut wanted: Vec<String> = by_key.values().flatten().cloned().collect();
        wanted.sort();
        wanted.dedup();
        let mut stored: HashMap<String, (Patient, Prepared)> = HashMap::new();
        for r in self.db.get_many(PATIENTS, &wanted).await? {
            let p: Patient = decode(&r)?;
            let prep = Prepared::new(&identity_fields(&p));
            stored.insert(r.key, (p, prep));
        }
        let mut out = Vec::with_capacity(identities.len());
        for ((identity, prep), keys) in identities.iter().zip(&prepared).zip(&keys) {
            let mut seen = HashSet::new();
            let mut found = Vec::new();
            for k in keys {
                for cand in by_key.get(k).into_iter().flatten() {
                    if cand == &identity.id || !seen.insert(cand.clone()) {
                        continue;
                    }
                    let Some((p, cp)) = stored.get(cand) else {
                        continue;
                    };
                    if p.merged_into.is_some() {
                        continue;
                    }
                    let same_nin =
                        identity.national_id.is_some() && identity.national_id == p.national_id;
                    let (score, decision) = if same_nin {
                        (f64::INFINITY, Decision::Link)
                    } else {
                        self.matcher.assess(prep, cp)
                    };
                    found.push((p.clone(), score, decision));
                }
            }
            found.sort_by(|a, b| b.1.total_cmp(&a.1));
            out.push(found);
        }
        Ok(out)
    }

    /// Creates a patient identity from a care provider's declaration, searching before
    /// creating (DIR-6): an existing national identifier or a certain match returns the
    /// existing entry; a resemblance creates a provisional, doubtful entry and sends
    /// the pair to the review queue.
    pub async fn create_patient(&self, req: &Request, input: Patient) -> DirectoryResult<Creation> {
        self.check(req, DirectoryAction::WritePatients, Action::Create)
            .await?;
        let mut p = input;
        p.id = new_id();
        p.merged_into = None;
        p.validate()?;
        let candidates = self
            .score_candidates(std::slice::from_ref(&p))
            .await?
            .pop()
            .unwrap_or_default();
        let creation = match candidates.first() {
            Some((existing, _, Decision::Link)) => Creation::Existing(existing.clone()),
            _ => {
                let review: Vec<(String, f64)> = candidates
                    .iter()
                    .filter(|(_, _, d)| *d == Decision::Review)
                    .map(|(c, s, _)| (c.id.clone(), *s))
                    .collect();
                let mut ops = Vec::new();
                if !review.is_empty() {
                    p.doubtful = true;
                    for (existing, score) in &review {
                        ops.push(self.review_op(&p.id, existing, *score)?);
                    }
                }
                self.entry_ops(None, &p, &mut ops)?;
                self.db.write_batch(&ops, self.now_micros()).await?;
                if review.is_empty() {
                    Creation::Created(p.clone())
                } else {
                    Creation::CreatedForReview(
                        p.clone(),
                        review.into_iter().map(|(id, _)| id).collect(),
                    )
                }
            }
        };
        let (kind, patient) = match &creation {
            Creation::Existing(e) => (EventKind::DirectoryPatientRead, e),
            Creation::Created(c) | Creation::CreatedForReview(c, _) => {
                (EventKind::DirectoryPatientCreated, c)
            }
        };
        let event = self
            .event(req, kind, Action::Create)
            .resource(Token::code("Patient"), token(&patient.id))
            .patient(token(&patient.id));
        self.recorder.record(event).await?;
        Ok(creation)
    }

    /// Scores the stored identities against `candidate` (PDQm `$match`): best first,
    /// with the matcher's score and decision. Every entry returned is traced.
    pub async fn match_patient(
        &self,
        req: &Request,
        candidate: &Patient,
        limit: usize,
    ) -> DirectoryResult<Vec<(Patient, f64, Decision)>> {
        self.check(req, DirectoryAction::ReadPatients, Action::Read)
            .await?;
        let bound = self.lookup_bound(req, Action::Execute).await?;
        let names_one = candidate.national_id.is_some()
            || (candidate
                .birth_name
                .chars()
                .filter(|c| c.is_alphanumeric())
                .count()
                >= 2
                && candidate.birth_date.is_some());
        if bound.identifying() && !names_one {
            self.trace_refusal(req, Action::Execute, "broad-search")
                .await?;
            return Err(DirectoryError::Undiscriminating);
        }
        let event = self.event(req, EventKind::DirectoryPatientSearched, Action::Execute);
        self.recorder.record(event).await?;
        let mut found = self
            .score_candidates(std::slice::from_ref(candidate))
            .await?
            .pop()
            .unwrap_or_default();
        found.retain(|(_, _, d)| *d != Decision::Distinct);
        found.truncate(bound.page(u32::try_from(limit).unwrap_or(u32::MAX)) as usize);
        let patients: Vec<Patient> = found.iter().map(|(p, _, _)| p.clone()).collect();
        self.trace_reads(req, &patients).await?;
        self.count_lookups(&bound, patients.len());
        Ok(found)
    }

    /// The open items of the review queue (identity vigilance only).
    pub async fn review_queue(
        &self,
        req: &Request,
        limit: u32,
    ) -> DirectoryResult<Vec<ReviewItem>> {
        self.check(req, DirectoryAction::IdentityVigilance, Action::Read)
            .await?;
        let mut open = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.db.list(REVIEWS, after.as_deref(), 1000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for r in &page {
                let mut item: ReviewItem = decode(r)?;
                item.id = r.key.clone();
                if item.decision.is_none() {
                    open.push(item);
                    if open.len() >= limit as usize {
                        return Ok(open);
                    }
                }
            }
        }
        Ok(open)
    }

    /// Merges `merged` into `survivor` (identity vigilance only): reads of the merged
    /// identity lead to the survivor; the history keeps what is needed to undo it.
    pub async fn merge(
        &self,
        req: &Request,
        survivor: &str,
        merged: &str,
    ) -> DirectoryResult<String> {
        self.check(req, DirectoryAction::IdentityVigilance, Action::Update)
            .await?;
        if survivor == merged {
            return Err(DirectoryError::Conflict(
                "an identity cannot be merged into itself".into(),
            ));
        }
        let (s, _) = self.patient_with_version(survivor).await?;
        let (m, m_version) = self.patient_with_version(merged).await?;
        if s.merged_into.is_some() || m.merged_into.is_some() {
            return Err(DirectoryError::Conflict(
                "one of the identities is already merged".into(),
            ));
        }
        let mut after = m.clone();
        after.merged_into = Some(s.id.clone());
        let record = MergeRecord {
            id: String::new(),
            survivor: s.id.clone(),
            merged: m.id.clone(),
            by: req
                .caller
                .actor()
                .person
                .map(|t| t.to_string())
                .unwrap_or_default(),
            at: self.clock.now(),
            before: m.clone(),
            undone_at: None,
        };
        let merge_id = format!("{:020}-{}", self.now_micros(), new_id());
        let mut ops = vec![WriteOp::Put {
            collection: MERGES.into(),
            key: merge_id.clone(),
            value: encode(&record)?,
            expect: Expect::Absent,
        }];
        self.entry_ops(Some((&m, m_version)), &after, &mut ops)?;
        ops.push(self.change_op(
            ChangeKind::IdentityMerged,
            Register::Patient,
            &m.id,
            Some(s.id.clone()),
        )?);
        self.db.write_batch(&ops, self.now_micros()).await?;
        let event = self
            .event(req, EventKind::DirectoryIdentityMerged, Action::Update)
            .resource(Token::code("Patient"), token(&m.id))
            .patient(token(&s.id));
        self.recorder.record(event).await?;
        Ok(merge_id)
    }

    /// Undoes a merge exactly (identity vigilance only).
    pub async fn unmerge(&self, req: &Request, merge_id: &str) -> DirectoryResult<()> {
        self.check(req, DirectoryAction::IdentityVigilance, Action::Update)
            .await?;
        let record = self
            .db
            .get(MERGES, merge_id)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(format!("merge {merge_id}")))?;
        let mut merge: MergeRecord = decode(&record)?;
        if merge.undone_at.is_some() {
            return Err(DirectoryError::Conflict(
                "this merge was already undone".into(),
            ));
        }
        let (current, version) = self.patient_with_version(&merge.merged).await?;
        if current.merged_into.as_deref() != Some(merge.survivor.as_str()) {
            return Err(DirectoryError::Conflict(
                "the identity changed since the merge".into(),
            ));
        }
        merge.undone_at = Some(self.clock.now());
        let mut ops = vec![WriteOp::Put {
            collection: MERGES.into(),
            key: merge_id.to_owned(),
            value: encode(&merge)?,
            expect: Expect::Version(record.version),
        }];
        self.entry_ops(Some((&current, version)), &merge.before, &mut ops)?;
        ops.push(self.change_op(
            ChangeKind::IdentityUnmerged,
            Register::Patient,
            &merge.merged,
            Some(merge.survivor.clone()),
        )?);
        self.db.write_batch(&ops, self.now_micros()).await?;
        let event = self
            .event(req, EventKind::DirectoryIdentityUnmerged, Action::Update)
            .resource(Token::code("Patient"), token(&merge.merged))
            .patient(token(&merge.survivor));
        self.recorder.record(event).await?;
        Ok(())
    }

    /// Decides a review item (identity vigilance only): `Merged` merges the new
    /// identity into the existing one; `Distinct` flags both as homonyms and clears
    /// the doubt.
    pub async fn decide_review(
        &self,
        req: &Request,
        item_id: &str,
        decision: ReviewDecision,
    ) -> DirectoryResult<()> {
        self.check(req, DirectoryAction::IdentityVigilance, Action::Update)
            .await?;
        let record = self
            .db
            .get(REVIEWS, item_id)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(format!("review {item_id}")))?;
        let mut item: ReviewItem = decode(&record)?;
        if item.decision.is_some() {
            return Err(DirectoryError::Conflict("already decided".into()));
        }
        match decision {
            ReviewDecision::Merged => {
                self.merge(req, &item.existing_identity, &item.new_identity)
                    .await?;
            }
            ReviewDecision::Distinct => {
                let mut ops = Vec::new();
                for id in [&item.new_identity, &item.existing_identity] {
                    let (p, v) = self.patient_with_version(id).await?;
                    let mut after = p.clone();
                    after.homonym = true;
                    after.doubtful = false;
                    if after != p {
                        self.entry_ops(Some((&p, v)), &after, &mut ops)?;
                    }
                }
                if !ops.is_empty() {
                    self.db.write_batch(&ops, self.now_micros()).await?;
                }
            }
        }
        item.decision = Some(decision);
        self.db
            .put(
                REVIEWS,
                item_id,
                &encode(&item)?,
                Expect::Version(record.version),
                self.now_micros(),
            )
            .await?;
        let event = self
            .event(req, EventKind::DirectoryReviewDecided, Action::Update)
            .resource(Token::code("Patient"), token(&item.new_identity))
            .patient(token(&item.existing_identity));
        self.recorder.record(event).await?;
        Ok(())
    }

    /// Sets the identity status (identity vigilance only).
    pub async fn set_identity_status(
        &self,
        req: &Request,
        id: &str,
        status: IdentityStatus,
    ) -> DirectoryResult<Patient> {
        self.check(req, DirectoryAction::IdentityVigilance, Action::Update)
            .await?;
        let (p, v) = self.patient_with_version(id).await?;
        let mut after = p.clone();
        after.status = status;
        if after != p {
            let mut ops = Vec::new();
            self.entry_ops(Some((&p, v)), &after, &mut ops)?;
            self.db.write_batch(&ops, self.now_micros()).await?;
        }
        Ok(after)
    }

    pub(super) async fn patient_with_version(&self, id: &str) -> DirectoryResult<(Patient, i64)> {
        crate::model::check_id("id", id)?;
        let record = self
            .db
            .get(PATIENTS, id)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(format!("Patient/{id}")))?;
        Ok((decode(&record)?, record.version))
    }
}
