//! Retention of agents' entries (DIR-7): deleted 12 months after their mission.

use super::*;

impl Directory {
    /// Deletes the agents whose mission ended more than 12 months ago (DIR-7).
    /// Returns how many were deleted; each deletion is traced.
    pub async fn purge_agents(&self, req: &Request) -> DirectoryResult<u64> {
        self.check(req, DirectoryAction::Purge, Action::Delete)
            .await?;
        let today = self.today();
        let mut due = Vec::new();
        let mut after: Option<String> = None;
        let with_end = [TermQuery::prefix("purge_due", "")];
        loop {
            let keys = self
                .db
                .search(AGENTS, &with_end, after.as_deref(), 1000)
                .await?;
            let Some(last) = keys.last() else { break };
            after = Some(last.clone());
            for r in self.db.get_many(AGENTS, &keys).await? {
                let agent: Agent = decode(&r)?;
                if agent.purge_due().is_some_and(|d| d <= today) {
                    due.push(r.key);
                }
            }
        }
        let mut purged = 0;
        for key in due {
            self.db.delete(AGENTS, &key, Expect::Any).await?;
            let event = self
                .event(req, EventKind::DirectoryAgentPurged, Action::Delete)
                .resource(Token::code("Agent"), token(&key));
            self.recorder.record(event).await?;
            purged += 1;
        }
        Ok(purged)
    }
}
