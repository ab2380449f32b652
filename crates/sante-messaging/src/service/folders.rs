//! A mailbox's folders (IMAP mailboxes): list, create, rename, delete, subscribe.

use sante_store::retry::{Retry, on_conflict, settle};
use sante_store::{Expect, WriteOp};

use super::{
    FOLDERS, MESSAGES, Messaging, MessagingError, MessagingResult, folder_key, folder_prefix,
};
use crate::model::{Folder, MessageEntry};

/// The hierarchy separator of folder names.
pub const SEPARATOR: char = '/';
const MAX_FOLDER_NAME: usize = 200;
const MAX_FOLDERS: usize = 500;

/// `INBOX` in any case is the inbox; other names are kept as given.
pub fn canonical_name(name: &str) -> String {
    if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_owned()
    } else {
        name.to_owned()
    }
}

fn check_name(name: &str) -> MessagingResult<()> {
    let bad = |why: &str| Err(MessagingError::Invalid(format!("folder name: {why}")));
    if name.is_empty() || name.len() > MAX_FOLDER_NAME {
        return bad("1 to 200 bytes");
    }
    if name.starts_with(SEPARATOR) || name.ends_with(SEPARATOR) || name.contains("//") {
        return bad("misplaced '/'");
    }
    if name.chars().any(|c| c.is_control() || c == '*' || c == '%') {
        return bad("control characters, '*' and '%' are not allowed");
    }
    Ok(())
}

impl Messaging {
    /// Every folder of the mailbox, by name.
    pub async fn folders(&self, mailbox: &str) -> MessagingResult<Vec<Folder>> {
        self.open(mailbox).await?;
        let mut folders: Vec<Folder> = self
            .scan_prefix::<Folder>(FOLDERS, &format!("{mailbox}/"))
            .await?
            .into_iter()
            .map(|(_, f, _)| f)
            .collect();
        folders.sort_by(|a, b| {
            (a.name != "INBOX")
                .cmp(&(b.name != "INBOX"))
                .then(a.name.cmp(&b.name))
        });
        Ok(folders)
    }

    /// The folder named `name` and its record's version.
    pub async fn folder(&self, mailbox: &str, name: &str) -> MessagingResult<(Folder, i64)> {
        let name = canonical_name(name);
        let found = self
            .scan_prefix::<Folder>(FOLDERS, &format!("{mailbox}/"))
            .await?
            .into_iter()
            .find(|(_, f, _)| f.name == name);
        match found {
            Some((_, f, v)) => Ok((f, v)),
            None => Err(MessagingError::NotFound(format!("folder {name}"))),
        }
    }

    /// The folder numbered `number`, as it is now.
    pub async fn folder_by_number(
        &self,
        mailbox: &str,
        number: u32,
    ) -> MessagingResult<(Folder, i64)> {
        self.get::<Folder>(FOLDERS, &folder_key(mailbox, number))
            .await?
            .ok_or_else(|| MessagingError::NotFound("folder".into()))
    }

    /// Creates a folder (and, as IMAP CREATE does, its missing parents).
    pub async fn create_folder(&self, mailbox: &str, name: &str) -> MessagingResult<Folder> {
        let name = canonical_name(name.trim_end_matches(SEPARATOR));
        check_name(&name)?;
        let (this, name) = (self, &name);
        on_conflict(Retry::CONTENDED, "folder creation", || async move {
            let (mut mbx, version) = this.open(mailbox).await?;
            let existing = this.folders(mailbox).await?;
            if existing.iter().any(|f| f.name == *name) {
                return Err(MessagingError::Exists(format!("folder {name}")));
            }
            if existing.len() >= MAX_FOLDERS {
                return Err(MessagingError::Invalid("too many folders".into()));
            }
            let mut wanted: Vec<String> = Vec::new();
            let mut prefix = String::new();
            for part in name.split(SEPARATOR) {
                if !prefix.is_empty() {
                    prefix.push(SEPARATOR);
                }
                prefix.push_str(part);
                if !existing.iter().any(|f| f.name == prefix) {
                    wanted.push(prefix.clone());
                }
            }
            let mut ops: Vec<WriteOp> = Vec::new();
            let mut created = None;
            for folder_name in wanted {
                mbx.last_uidvalidity = mbx
                    .last_uidvalidity
                    .saturating_add(1)
                    .max(u32::try_from(this.now().timestamp()).unwrap_or(1));
                let folder = Folder {
                    number: mbx.next_folder,
                    name: folder_name,
                    uidvalidity: mbx.last_uidvalidity,
                    uidnext: 1,
                    highest_modseq: 1,
                    subscribed: true,
                    special_use: None,
                };
                mbx.next_folder += 1;
                ops.push(Self::put_op(
                    FOLDERS,
                    &folder_key(mailbox, folder.number),
                    &folder,
                    Expect::Absent,
                )?);
                created = Some(folder);
            }
            ops.extend(Self::mailbox_ops(&mbx, version)?);
            let created =
                created.ok_or_else(|| MessagingError::Exists(format!("folder {name}")))?;
            let written = this.db.write_batch(&ops, this.micros()).await;
            Ok::<_, MessagingError>(settle(written, |_| created)?)
        })
        .await
    }

    /// Deletes a folder and its messages. The inbox cannot be deleted.
    pub async fn delete_folder(&self, mailbox: &str, name: &str) -> MessagingResult<()> {
        let name = canonical_name(name);
        if name == "INBOX" {
            return Err(MessagingError::Invalid(
                "the INBOX cannot be deleted".into(),
            ));
        }
        // A message arriving or changing meanwhile makes the write conflict: read again.
        let (this, name) = (self, &name);
        let entries = on_conflict(Retry::CONTENDED, "folder deletion", || async move {
            let (folder, folder_version) = this.folder(mailbox, name).await?;
            let entries = this.entries(mailbox, &folder).await?;
            let (mut mbx, version) = this.open(mailbox).await?;
            let freed: u64 = entries.iter().map(|(_, e, _)| e.size).sum();
            mbx.used_bytes = mbx.used_bytes.saturating_sub(freed);
            this.reset_notice(&mut mbx);
            let mut ops = vec![Self::delete_op(
                FOLDERS,
                &folder_key(mailbox, folder.number),
                Expect::Version(folder_version),
            )];
            for (key, _, v) in &entries {
                ops.push(Self::delete_op(MESSAGES, key, Expect::Version(*v)));
            }
            ops.extend(Self::mailbox_ops(&mbx, version)?);
            let written = this.db.write_batch(&ops, this.micros()).await;
            Ok::<_, MessagingError>(settle(written, |_| entries)?)
        })
        .await?;
        for (_, e, _) in &entries {
            self.blobs.delete(mailbox, &e.blob).await?;
        }
        self.changed(mailbox);
        Ok(())
    }

    /// Renames a folder and its children. The inbox cannot be renamed here.
    pub async fn rename_folder(&self, mailbox: &str, from: &str, to: &str) -> MessagingResult<()> {
        let from = canonical_name(from);
        let to = canonical_name(to.trim_end_matches(SEPARATOR));
        check_name(&to)?;
        if from == "INBOX" || to == "INBOX" {
            return Err(MessagingError::Invalid(
                "the INBOX cannot be renamed; create a folder and move the messages".into(),
            ));
        }
        self.open(mailbox).await?;
        let all = self
            .scan_prefix::<Folder>(FOLDERS, &format!("{mailbox}/"))
            .await?;
        if all.iter().any(|(_, f, _)| f.name == to) {
            return Err(MessagingError::Exists(format!("folder {to}")));
        }
        let child_prefix = format!("{from}{SEPARATOR}");
        let mut ops = Vec::new();
        let mut found = false;
        for (key, mut f, v) in all {
            let renamed = if f.name == from {
                found = true;
                to.clone()
            } else if let Some(rest) = f.name.strip_prefix(&child_prefix) {
                format!("{to}{SEPARATOR}{rest}")
            } else {
                continue;
            };
            f.name = renamed;
            ops.push(Self::put_op(FOLDERS, &key, &f, Expect::Version(v))?);
        }
        if !found {
            return Err(MessagingError::NotFound(format!("folder {from}")));
        }
        self.db.write_batch(&ops, self.micros()).await?;
        Ok(())
    }

    /// Subscribes to a folder or unsubscribes from it.
    pub async fn subscribe(&self, mailbox: &str, name: &str, on: bool) -> MessagingResult<()> {
        self.open(mailbox).await?;
        let (mut folder, version) = self.folder(mailbox, name).await?;
        folder.subscribed = on;
        self.db
            .write_batch(
                &[Self::put_op(
                    FOLDERS,
                    &folder_key(mailbox, folder.number),
                    &folder,
                    Expect::Version(version),
                )?],
                self.micros(),
            )
            .await?;
        Ok(())
    }

    /// The index entries of a folder with their keys and versions, by UID.
    pub(crate) async fn entries(
        &self,
        mailbox: &str,
        folder: &Folder,
    ) -> MessagingResult<Vec<(String, MessageEntry, i64)>> {
        self.scan_prefix::<MessageEntry>(MESSAGES, &folder_prefix(mailbox, folder))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_checked() {
        assert_eq!(canonical_name("inbox"), "INBOX");
        assert_eq!(canonical_name("Projets/2026"), "Projets/2026");
        assert!(check_name("Projets/2026").is_ok());
        for bad in ["", "/a", "a/", "a//b", "a*", "a%b", "a\u{7}b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
