//! The commands on the selected folder (CLOSE, UNSELECT, EXPUNGE, SEARCH, FETCH,
//! STORE, COPY, MOVE and their UID forms) and the synchronisation that tells the
//! client what changed since it last heard.

use std::collections::HashMap;

use sante_messaging::FlagChange;
use sante_messaging::model::{MessageEntry, SEEN};

use super::fetch::{self, Item, Label, Parsed};
use super::proto::args::SequenceSet;
use super::proto::response::{self, Done, bad, flag_list, join, no_code, ok, ok_code, uid_set};
use super::search::{self, Key};
use super::{CHANNEL, Known, Session, refusal};
use crate::auth::source;

/// What STORE does to the flags.
pub(super) struct Store {
    pub change: FlagChange,
    /// `.SILENT`: no FETCH response for the new flags.
    pub silent: bool,
    /// CONDSTORE's UNCHANGEDSINCE.
    pub unchanged_since: Option<u64>,
}

impl Session {
    pub(super) async fn close(&mut self, expunge: bool) -> Done {
        if expunge && self.selected.as_ref().is_some_and(|s| !s.read_only) {
            let Some(auth) = self.auth.clone() else {
                return bad("log in first");
            };
            let folder = self.selected.as_ref().map(|s| s.folder).unwrap_or_default();
            let src = source(&self.info, CHANNEL);
            if let Err(e) = self
                .ctx
                .messaging
                .expunge(&auth.user, &auth.mailbox.id, folder, None, &src)
                .await
            {
                return refusal(&e);
            }
        }
        self.selected = None;
        ok("CLOSE completed")
    }

    pub(super) async fn expunge(&mut self, uids: Option<SequenceSet>) -> Done {
        let Some(selected) = &self.selected else {
            return bad("select a folder first");
        };
        if selected.read_only {
            return no_code("READ-ONLY", "the folder is read-only");
        }
        let Some(auth) = self.auth.clone() else {
            return bad("log in first");
        };
        let folder = selected.folder;
        let max_uid = selected.known.last().map(|k| k.uid).unwrap_or(0);
        let only: Option<Vec<u32>> = uids.map(|set| {
            selected
                .known
                .iter()
                .map(|k| k.uid)
                .filter(|u| set.contains(*u, max_uid))
                .collect()
        });
        let src = source(&self.info, CHANNEL);
        match self
            .ctx
            .messaging
            .expunge(&auth.user, &auth.mailbox.id, folder, only.as_deref(), &src)
            .await
        {
            Ok(_) => {
                self.sync(true).await;
                ok("EXPUNGE completed")
            }
            Err(e) => refusal(&e),
        }
    }

    /// Tells the client what changed in the selected folder since it last heard:
    /// expunges (when allowed), new messages, flag changes.
    pub(super) async fn sync(&mut self, allow_expunge: bool) {
        let Some(selected) = &self.selected else {
            return;
        };
        let folder = selected.folder;
        let known_state = selected.state;
        let mailbox = self.mailbox_id();
        // One record read tells whether anything changed at all.
        match self.ctx.messaging.folder_by_number(&mailbox, folder).await {
            Ok((f, _)) if (f.uidnext, f.highest_modseq) == known_state => return,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "IMAP: cannot refresh the selected folder");
                return;
            }
        }
        let (state, current) = match self.ctx.messaging.messages(&mailbox, folder).await {
            Ok((f, entries)) => ((f.uidnext, f.highest_modseq), entries),
            Err(e) => {
                tracing::warn!(error = %e, "IMAP: cannot refresh the selected folder");
                return;
            }
        };
        let condstore = self.condstore;
        let mut lines = Vec::new();
        let Some(selected) = self.selected.as_mut() else {
            return;
        };
        let by_uid: HashMap<u32, &MessageEntry> = current.iter().map(|e| (e.uid, e)).collect();
        let removed = selected.known.iter().any(|k| !by_uid.contains_key(&k.uid));
        // Expunges not yet told keep the folder "changed" until they can be.
        if allow_expunge || !removed {
            selected.state = state;
        }
        if allow_expunge {
            for i in (0..selected.known.len()).rev() {
                if !by_uid.contains_key(&selected.known[i].uid) {
                    selected.known.remove(i);
                    lines.push(format!("{} EXPUNGE", i + 1));
                }
            }
        }
        for (i, k) in selected.known.iter_mut().enumerate() {
            if let Some(e) = by_uid.get(&k.uid)
                && (e.flags != k.flags || e.modseq != k.modseq)
            {
                k.flags = e.flags.clone();
                k.modseq = e.modseq;
                let modseq = if condstore {
                    format!(" MODSEQ ({})", e.modseq)
                } else {
                    String::new()
                };
                lines.push(format!(
                    "{} FETCH (UID {} FLAGS {}{modseq})",
                    i + 1,
                    e.uid,
                    flag_list(&e.flags)
                ));
            }
        }
        let last = selected.known.last().map(|k| k.uid).unwrap_or(0);
        let before = selected.known.len();
        for e in current.iter().filter(|e| e.uid > last) {
            selected.known.push(Known {
                uid: e.uid,
                flags: e.flags.clone(),
                modseq: e.modseq,
            });
        }
        if selected.known.len() != before {
            lines.push(format!("{} EXISTS", selected.known.len()));
        }
        for line in lines {
            self.untagged(&line);
        }
    }

    /// The messages a set names, as `(sequence number, UID)`.
    fn resolve(&self, set: &SequenceSet, by_uid: bool) -> Vec<(u32, u32)> {
        let Some(selected) = &self.selected else {
            return Vec::new();
        };
        let max_seq = selected.known.len() as u32;
        let max_uid = selected.known.last().map(|k| k.uid).unwrap_or(0);
        selected
            .known
            .iter()
            .enumerate()
            .map(|(i, k)| (i as u32 + 1, k.uid))
            .filter(|(seq, uid)| {
                if by_uid {
                    set.contains(*uid, max_uid)
                } else {
                    set.contains(*seq, max_seq)
                }
            })
            .collect()
    }

    /// The selected folder's messages as they are now, by UID.
    async fn current(&mut self) -> Result<HashMap<u32, MessageEntry>, Done> {
        let folder = self.selected.as_ref().map(|s| s.folder).unwrap_or_default();
        match self
            .ctx
            .messaging
            .messages(&self.mailbox_id(), folder)
            .await
        {
            Ok((_, entries)) => Ok(entries.into_iter().map(|e| (e.uid, e)).collect()),
            Err(e) => Err(refusal(&e)),
        }
    }

    /// Only the messages `uids` of the selected folder, by UID.
    async fn current_of(&mut self, uids: &[u32]) -> Result<HashMap<u32, MessageEntry>, Done> {
        let folder = self.selected.as_ref().map(|s| s.folder).unwrap_or_default();
        match self
            .ctx
            .messaging
            .messages_by_uid(&self.mailbox_id(), folder, uids)
            .await
        {
            Ok(entries) => Ok(entries.into_iter().map(|e| (e.uid, e)).collect()),
            Err(e) => Err(refusal(&e)),
        }
    }

    async fn body(&mut self, entry: &MessageEntry) -> Result<Vec<u8>, Done> {
        self.ctx
            .messaging
            .body(&self.mailbox_id(), entry)
            .await
            .map_err(|e| refusal(&e))
    }

    pub(super) async fn search(
        &mut self,
        tag: &str,
        by_uid: bool,
        returns: Option<Vec<String>>,
        key: &Key,
    ) -> Done {
        let current = match self.current().await {
            Ok(c) => c,
            Err(done) => return done,
        };
        let known: Vec<(u32, u32)> = self
            .selected
            .as_ref()
            .map(|s| {
                s.known
                    .iter()
                    .enumerate()
                    .map(|(i, k)| (i as u32 + 1, k.uid))
                    .collect()
            })
            .unwrap_or_default();
        let max_seq = known.len() as u32;
        let max_uid = known.last().map(|(_, u)| *u).unwrap_or(0);
        let mut hits: Vec<u32> = Vec::new();
        let mut highest = 0u64;
        for (seq, uid) in known {
            let Some(entry) = current.get(&uid) else {
                continue;
            };
            let raw = if key.needs_body() {
                match self.body(entry).await {
                    Ok(b) => Some(b),
                    Err(done) => return done,
                }
            } else {
                None
            };
            let candidate = search::Candidate {
                seq,
                max_seq,
                max_uid,
                entry,
                raw: raw.as_deref(),
            };
            if key.matches(&candidate) {
                hits.push(if by_uid { uid } else { seq });
                highest = highest.max(entry.modseq);
            }
        }
        let uses_modseq = key.uses_modseq();
        if self.rev2 || returns.is_some() {
            let wanted = returns
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| vec!["ALL".to_owned()]);
            let mut line = format!(
                "ESEARCH (TAG {}){}",
                response::quoted(tag),
                if by_uid { " UID" } else { "" }
            );
            for r in &wanted {
                match r.as_str() {
                    "MIN" if !hits.is_empty() => {
                        line.push_str(&format!(" MIN {}", hits.iter().min().copied().unwrap_or(0)));
                    }
                    "MAX" if !hits.is_empty() => {
                        line.push_str(&format!(" MAX {}", hits.iter().max().copied().unwrap_or(0)));
                    }
                    "COUNT" => line.push_str(&format!(" COUNT {}", hits.len())),
                    "ALL" if !hits.is_empty() => {
                        line.push_str(&format!(" ALL {}", uid_set(&hits)));
                    }
                    "SAVE" | "MIN" | "MAX" | "ALL" => {}
                    other => return bad(&format!("unknown RETURN option {other}")),
                }
            }
            if uses_modseq && !hits.is_empty() {
                line.push_str(&format!(" MODSEQ {highest}"));
            }
            self.untagged(&line);
        } else {
            let mut line = String::from("SEARCH");
            for h in &hits {
                line.push_str(&format!(" {h}"));
            }
            if uses_modseq && !hits.is_empty() {
                line.push_str(&format!(" (MODSEQ {highest})"));
            }
            self.untagged(&line);
        }
        self.sync(false).await;
        ok("SEARCH completed")
    }

    pub(super) async fn fetch(
        &mut self,
        by_uid: bool,
        set: &SequenceSet,
        mut items: Vec<Item>,
        changed_since: Option<u64>,
    ) -> Done {
        if changed_since.is_some() {
            self.condstore = true;
        }
        if (by_uid || changed_since.is_some()) && !items.contains(&Item::Uid) {
            items.insert(0, Item::Uid);
        }
        if self.condstore && changed_since.is_some() && !items.contains(&Item::ModSeq) {
            items.push(Item::ModSeq);
        }
        let targets = self.resolve(set, by_uid);
        let read_only = self.selected.as_ref().is_none_or(|s| s.read_only);
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let mut current = match self.current_of(&uids).await {
            Ok(c) => c,
            Err(done) => return done,
        };
        // Reading a body marks the message \Seen, before the answer shows its flags.
        if !read_only && items.iter().any(Item::marks_seen) {
            let unseen: Vec<u32> = targets
                .iter()
                .filter(|(_, uid)| current.get(uid).is_some_and(|e| !e.has_flag(SEEN)))
                .map(|(_, uid)| *uid)
                .collect();
            if !unseen.is_empty() {
                let folder = self.selected.as_ref().map(|s| s.folder).unwrap_or_default();
                match self
                    .ctx
                    .messaging
                    .set_flags(
                        &self.mailbox_id(),
                        folder,
                        &unseen,
                        FlagChange::Add,
                        &[SEEN.to_owned()],
                        None,
                    )
                    .await
                {
                    Ok(update) => {
                        for e in update.entries {
                            current.insert(e.uid, e);
                        }
                    }
                    Err(e) => return refusal(&e),
                }
                if !items.contains(&Item::Flags) {
                    items.push(Item::Flags);
                }
            }
        }
        for (seq, uid) in targets {
            let Some(entry) = current.get(&uid) else {
                continue;
            };
            if changed_since.is_some_and(|n| entry.modseq <= n) {
                continue;
            }
            let raw = if items.iter().any(Item::needs_body) {
                match self.body(entry).await {
                    Ok(b) => Some(b),
                    Err(done) => return done,
                }
            } else {
                None
            };
            let parsed = raw.as_deref().map(Parsed::new);
            let mut out = format!("* {seq} FETCH (").into_bytes();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_item(&mut out, item, entry, parsed.as_ref());
            }
            out.extend_from_slice(b")\r\n");
            self.wire.output.extend_from_slice(&out);
            // Keep the session's view of the flags in step with what it just said.
            if let Some(k) = self
                .selected
                .as_mut()
                .and_then(|s| s.known.iter_mut().find(|k| k.uid == uid))
                && items.contains(&Item::Flags)
            {
                k.flags = entry.flags.clone();
                k.modseq = entry.modseq;
            }
        }
        self.sync(by_uid).await;
        ok("FETCH completed")
    }

    pub(super) async fn store(
        &mut self,
        by_uid: bool,
        set: &SequenceSet,
        store: Store,
        flags: &[String],
    ) -> Done {
        let Store {
            change,
            silent,
            unchanged_since,
        } = store;
        if self.selected.as_ref().is_none_or(|s| s.read_only) {
            return no_code("READ-ONLY", "the folder is read-only");
        }
        if unchanged_since.is_some() {
            self.condstore = true;
        }
        let targets = self.resolve(set, by_uid);
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let folder = self.selected.as_ref().map(|s| s.folder).unwrap_or_default();
        let update = match self
            .ctx
            .messaging
            .set_flags(
                &self.mailbox_id(),
                folder,
                &uids,
                change,
                flags,
                unchanged_since,
            )
            .await
        {
            Ok(u) => u,
            Err(e) => return refusal(&e),
        };
        let condstore = self.condstore;
        for e in &update.entries {
            let Some(seq) = targets.iter().find(|(_, u)| *u == e.uid).map(|(s, _)| *s) else {
                continue;
            };
            let changed = self
                .selected
                .as_mut()
                .and_then(|s| s.known.get_mut(seq as usize - 1))
                .map(|k| {
                    let changed = k.flags != e.flags || k.modseq != e.modseq;
                    k.flags = e.flags.clone();
                    k.modseq = e.modseq;
                    changed
                })
                .unwrap_or(false);
            if update.modified.contains(&e.uid) {
                continue;
            }
            if !silent || (condstore && changed) {
                let uid = if by_uid {
                    format!("UID {} ", e.uid)
                } else {
                    String::new()
                };
                let modseq = if condstore {
                    format!(" MODSEQ ({})", e.modseq)
                } else {
                    String::new()
                };
                let flags = if silent {
                    String::new()
                } else {
                    format!(" FLAGS {}", flag_list(&e.flags))
                };
                let body = format!("{uid}{}{modseq}", flags.trim_start());
                let body = if silent {
                    body.trim_start().to_owned()
                } else {
                    body
                };
                self.untagged(&format!("{seq} FETCH ({})", body.trim()));
            }
        }
        self.sync(by_uid).await;
        if update.modified.is_empty() {
            ok("STORE completed")
        } else {
            let modified: Vec<u32> = if by_uid {
                update.modified.clone()
            } else {
                targets
                    .iter()
                    .filter(|(_, u)| update.modified.contains(u))
                    .map(|(s, _)| *s)
                    .collect()
            };
            ok_code(
                format!("MODIFIED {}", uid_set(&modified)),
                "conditional STORE failed",
            )
        }
    }

    pub(super) async fn copy(
        &mut self,
        by_uid: bool,
        set: &SequenceSet,
        target: &str,
        moving: bool,
    ) -> Done {
        if moving && self.selected.as_ref().is_none_or(|s| s.read_only) {
            return no_code("READ-ONLY", "the folder is read-only");
        }
        let targets = self.resolve(set, by_uid);
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        if uids.is_empty() {
            return ok("nothing to do");
        }
        let folder = self.selected.as_ref().map(|s| s.folder).unwrap_or_default();
        let mailbox = self.mailbox_id();
        let result = if moving {
            self.ctx
                .messaging
                .move_messages(&mailbox, folder, &uids, target)
                .await
        } else {
            self.ctx
                .messaging
                .copy(&mailbox, folder, &uids, target)
                .await
        };
        let (validity, pairs) = match result {
            Ok(r) => r,
            Err(e) => return refusal(&e),
        };
        let from: Vec<u32> = pairs.iter().map(|(a, _)| *a).collect();
        let to: Vec<u32> = pairs.iter().map(|(_, b)| *b).collect();
        // The pairs in source-UID order, as COPYUID wants both sets aligned.
        let code = format!("COPYUID {validity} {} {}", join(&from), join(&to));
        if moving {
            self.untagged(&format!("OK [{code}] moved"));
            self.sync(true).await;
            ok("MOVE completed")
        } else {
            ok_code(code, "COPY completed")
        }
    }
}

fn write_item(out: &mut Vec<u8>, item: &Item, entry: &MessageEntry, parsed: Option<&Parsed<'_>>) {
    match item {
        Item::Uid => out.extend_from_slice(format!("UID {}", entry.uid).as_bytes()),
        Item::Flags => {
            out.extend_from_slice(format!("FLAGS {}", flag_list(&entry.flags)).as_bytes())
        }
        Item::InternalDate => out.extend_from_slice(
            format!(
                "INTERNALDATE \"{}\"",
                entry.internal_date.format("%d-%b-%Y %H:%M:%S +0000")
            )
            .as_bytes(),
        ),
        Item::Size => out.extend_from_slice(format!("RFC822.SIZE {}", entry.size).as_bytes()),
        Item::ModSeq => out.extend_from_slice(format!("MODSEQ ({})", entry.modseq).as_bytes()),
        Item::Envelope => {
            out.extend_from_slice(b"ENVELOPE ");
            match parsed {
                Some(p) => fetch::envelope(out, p),
                None => out.extend_from_slice(b"NIL"),
            }
        }
        Item::Structure { extensible } => {
            out.extend_from_slice(if *extensible {
                b"BODYSTRUCTURE "
            } else {
                b"BODY "
            });
            match parsed {
                Some(p) => fetch::structure(out, p, *extensible),
                None => out.extend_from_slice(b"NIL"),
            }
        }
        Item::Section {
            section,
            partial,
            label,
            ..
        } => {
            let bytes = parsed.map(|p| p.section(section)).unwrap_or_default();
            let name = match label {
                Label::Body => {
                    let origin = partial
                        .map(|(start, _)| format!("<{start}>"))
                        .unwrap_or_default();
                    format!("BODY[{}]{origin}", section.spec())
                }
                Label::Rfc822 => "RFC822".into(),
                Label::Rfc822Header => "RFC822.HEADER".into(),
                Label::Rfc822Text => "RFC822.TEXT".into(),
            };
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            response::literal(out, &fetch::partial(bytes, *partial));
        }
    }
}
