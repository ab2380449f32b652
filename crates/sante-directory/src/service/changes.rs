//! The change feed subscribers read by cursor.

use super::*;

impl Directory {
    /// Change events after `cursor` (exclusive), oldest first.
    pub async fn changes_after(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> DirectoryResult<Vec<ChangeEvent>> {
        let records = self.db.list(CHANGES, cursor, limit).await?;
        records
            .iter()
            .map(|r| {
                let mut e: ChangeEvent = decode(r)?;
                e.cursor = r.key.clone();
                Ok(e)
            })
            .collect()
    }
}
