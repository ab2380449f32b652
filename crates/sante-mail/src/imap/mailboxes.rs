//! The commands on folders: ENABLE, SELECT/EXAMINE, CREATE, DELETE, RENAME,
//! SUBSCRIBE, LIST/LSUB, STATUS, APPEND, GETQUOTA/GETQUOTAROOT.

use chrono::{DateTime, Utc};
use sante_messaging::MessagingError;
use sante_messaging::model::{DELETED, Folder, SEEN};

use super::proto::command::StatusItem;
use super::proto::response::{Done, bad, no_code, ok, ok_code};
use super::{CHANNEL, Known, SEPARATOR, Selected, Session, refusal};
use crate::auth::source;

impl Session {
    pub(super) fn enable(&mut self, capabilities: &[String]) -> Done {
        let mut enabled = Vec::new();
        for cap in capabilities {
            match cap.as_str() {
                "CONDSTORE" => {
                    self.condstore = true;
                    enabled.push("CONDSTORE");
                }
                "IMAP4REV2" => {
                    self.rev2 = true;
                    enabled.push("IMAP4rev2");
                }
                "UTF8=ACCEPT" => {
                    self.utf8 = true;
                    enabled.push("UTF8=ACCEPT");
                }
                _ => {}
            }
        }
        self.untagged(format!("ENABLED {}", enabled.join(" ")).trim_end());
        ok("ENABLE completed")
    }

    pub(super) async fn select(&mut self, name: &str, read_only: bool, condstore: bool) -> Done {
        self.selected = None;
        if condstore {
            self.condstore = true;
        }
        let mailbox = self.mailbox_id();
        let messaging = self.ctx.messaging.clone();
        let folder = match messaging.folder(&mailbox, name).await {
            Ok((f, _)) => f,
            Err(MessagingError::NotFound(_)) => return no_code("NONEXISTENT", "no such folder"),
            Err(e) => return refusal(&e),
        };
        let entries = match messaging.messages(&mailbox, folder.number).await {
            Ok((_, e)) => e,
            Err(e) => return refusal(&e),
        };
        let unseen = entries.iter().position(|e| !e.has_flag(SEEN));
        self.untagged("FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
        if read_only {
            self.untagged("OK [PERMANENTFLAGS ()] read-only");
        } else {
            self.untagged(
                "OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] flags permitted",
            );
        }
        self.untagged(&format!("{} EXISTS", entries.len()));
        if !self.rev2 {
            self.untagged("0 RECENT");
            if let Some(i) = unseen {
                self.untagged(&format!("OK [UNSEEN {}] first unseen", i + 1));
            }
        }
        self.untagged(&format!(
            "OK [UIDVALIDITY {}] UIDs valid",
            folder.uidvalidity
        ));
        self.untagged(&format!(
            "OK [UIDNEXT {}] predicted next UID",
            folder.uidnext
        ));
        self.untagged(&format!(
            "OK [HIGHESTMODSEQ {}] highest",
            folder.highest_modseq
        ));
        if self.rev2 {
            let name = self.mailbox_name(&folder.name);
            self.untagged(&format!("LIST () \"/\" {name}"));
        }
        self.selected = Some(Selected {
            folder: folder.number,
            read_only,
            state: (folder.uidnext, folder.highest_modseq),
            known: entries
                .iter()
                .map(|e| Known {
                    uid: e.uid,
                    flags: e.flags.clone(),
                    modseq: e.modseq,
                })
                .collect(),
        });
        ok_code(
            if read_only { "READ-ONLY" } else { "READ-WRITE" }.into(),
            if read_only {
                "EXAMINE completed"
            } else {
                "SELECT completed"
            },
        )
    }

    pub(super) async fn create(&mut self, name: &str) -> Done {
        match self
            .ctx
            .messaging
            .create_folder(&self.mailbox_id(), name)
            .await
        {
            Ok(_) => ok("CREATE completed"),
            Err(e) => refusal(&e),
        }
    }

    pub(super) async fn delete(&mut self, name: &str) -> Done {
        match self
            .ctx
            .messaging
            .delete_folder(&self.mailbox_id(), name)
            .await
        {
            Ok(()) => ok("DELETE completed"),
            Err(MessagingError::NotFound(_)) => no_code("NONEXISTENT", "no such folder"),
            Err(e) => refusal(&e),
        }
    }

    pub(super) async fn rename(&mut self, from: &str, to: &str) -> Done {
        match self
            .ctx
            .messaging
            .rename_folder(&self.mailbox_id(), from, to)
            .await
        {
            Ok(()) => ok("RENAME completed"),
            Err(MessagingError::NotFound(_)) => no_code("NONEXISTENT", "no such folder"),
            Err(e) => refusal(&e),
        }
    }

    pub(super) async fn subscribe(&mut self, name: &str, on: bool) -> Done {
        match self
            .ctx
            .messaging
            .subscribe(&self.mailbox_id(), name, on)
            .await
        {
            Ok(()) => ok("completed"),
            Err(MessagingError::NotFound(_)) => no_code("NONEXISTENT", "no such folder"),
            Err(e) => refusal(&e),
        }
    }

    async fn folders(&mut self) -> Result<Vec<Folder>, Done> {
        self.ctx
            .messaging
            .folders(&self.mailbox_id())
            .await
            .map_err(|e| refusal(&e))
    }

    pub(super) async fn list(
        &mut self,
        lsub: bool,
        subscribed_only: bool,
        reference: &str,
        patterns: &[String],
    ) -> Done {
        let verb = if lsub { "LSUB" } else { "LIST" };
        if patterns.iter().all(String::is_empty) {
            // The hierarchy delimiter and root.
            self.untagged(&format!("{verb} (\\Noselect) \"/\" \"\""));
            return ok("LIST completed");
        }
        let folders = match self.folders().await {
            Ok(f) => f,
            Err(done) => return done,
        };
        let names: Vec<String> = folders.iter().map(|f| f.name.clone()).collect();
        for f in &folders {
            if subscribed_only && !f.subscribed {
                continue;
            }
            let chars: Vec<char> = f.name.chars().collect();
            let matched = patterns.iter().any(|p| {
                let full: Vec<char> = format!("{reference}{p}").chars().collect();
                // INBOX matches case-insensitively.
                pattern_matches(&full, &chars)
                    || (f.name == "INBOX"
                        && pattern_matches(
                            &format!("{reference}{p}")
                                .to_ascii_uppercase()
                                .chars()
                                .collect::<Vec<_>>(),
                            &chars,
                        ))
            });
            if !matched {
                continue;
            }
            let prefix = format!("{}{SEPARATOR}", f.name);
            let mut attrs = vec![if names.iter().any(|n| n.starts_with(&prefix)) {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            }];
            if let Some(u) = f.special_use {
                attrs.push(u.attribute());
            }
            if f.subscribed && !lsub {
                attrs.push("\\Subscribed");
            }
            let name = self.mailbox_name(&f.name);
            self.untagged(&format!("{verb} ({}) \"/\" {name}", attrs.join(" ")));
        }
        ok("LIST completed")
    }

    pub(super) async fn status(&mut self, name: &str, items: &[StatusItem]) -> Done {
        let mailbox = self.mailbox_id();
        let (folder, entries) = match self.ctx.messaging.folder(&mailbox, name).await {
            Ok((f, _)) => match self.ctx.messaging.messages(&mailbox, f.number).await {
                Ok(x) => x,
                Err(e) => return refusal(&e),
            },
            Err(MessagingError::NotFound(_)) => return no_code("NONEXISTENT", "no such folder"),
            Err(e) => return refusal(&e),
        };
        let mut out = Vec::new();
        for item in items {
            let value = match item {
                StatusItem::Messages => entries.len() as u64,
                StatusItem::UidNext => u64::from(folder.uidnext),
                StatusItem::UidValidity => u64::from(folder.uidvalidity),
                StatusItem::Unseen => entries.iter().filter(|e| !e.has_flag(SEEN)).count() as u64,
                StatusItem::Deleted => {
                    entries.iter().filter(|e| e.has_flag(DELETED)).count() as u64
                }
                StatusItem::Size => entries.iter().map(|e| e.size).sum(),
                StatusItem::Recent => 0,
                StatusItem::HighestModSeq => folder.highest_modseq,
            };
            out.push(format!("{} {value}", item.name()));
        }
        let name = self.mailbox_name(&folder.name);
        self.untagged(&format!("STATUS {name} ({})", out.join(" ")));
        ok("STATUS completed")
    }

    pub(super) async fn append(
        &mut self,
        folder: &str,
        flags: &[String],
        internal_date: Option<DateTime<Utc>>,
        message: &[u8],
    ) -> Done {
        let Some(auth) = self.auth.clone() else {
            return bad("log in first");
        };
        let src = source(&self.info, CHANNEL);
        let result = self
            .ctx
            .messaging
            .append(
                &auth.user,
                &auth.mailbox.id,
                folder,
                flags,
                internal_date,
                message,
                &src,
            )
            .await;
        match result {
            Ok((validity, uid)) => {
                self.sync(true).await;
                ok_code(format!("APPENDUID {validity} {uid}"), "APPEND completed")
            }
            Err(e) => refusal(&e),
        }
    }

    pub(super) async fn quota(&mut self, name: &str, root: bool) -> Done {
        if !root && !name.is_empty() {
            return no_code("NONEXISTENT", "the only quota root is \"\"");
        }
        let (used, limit) = match self.ctx.messaging.quota(&self.mailbox_id()).await {
            Ok(q) => q,
            Err(e) => return refusal(&e),
        };
        if root {
            let name = self.mailbox_name(name);
            self.untagged(&format!("QUOTAROOT {name} \"\""));
        }
        self.untagged(&format!(
            "QUOTA \"\" (STORAGE {} {})",
            used.div_ceil(1024),
            limit / 1024
        ));
        ok("GETQUOTA completed")
    }
}

/// LIST pattern matching: `*` matches anything, `%` anything but the separator.
fn pattern_matches(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|i| pattern_matches(rest, &name[i..])),
        Some(('%', rest)) => (0..=name.len())
            .take_while(|&i| i == 0 || name[i - 1] != '/')
            .any(|i| pattern_matches(rest, &name[i..])),
        Some((c, rest)) => name
            .split_first()
            .is_some_and(|(n, tail)| n == c && pattern_matches(rest, tail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_patterns_follow_the_wildcards() {
        let m = |p: &str, n: &str| {
            pattern_matches(
                &p.chars().collect::<Vec<_>>(),
                &n.chars().collect::<Vec<_>>(),
            )
        };
        assert!(m("*", "Projects/2026"));
        assert!(m("%", "Sent") && !m("%", "Projects/2026"));
        assert!(m("Projects/%", "Projects/2026"));
        assert!(!m("Projects/%", "Projects/2026/Q1"));
        assert!(m("Pro*6", "Projects/2026"));
        assert!(!m("INBOX", "Sent"));
        assert!(m("Entwürfe/%", "Entwürfe/2026"));
    }
}
