//! What is accepted from whom (MSG-13), and how an accepted message is stored: one
//! transaction for every local mailbox, the outbound queue and the metadata log, so
//! that a message acknowledged is never lost nor half delivered.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sante_audit::{Action, Actor, EventKind, Outcome, Source, Token};
use sante_store::retry::{Retry, Step, on_conflict, settle};
use sante_store::{Expect, WriteOp};

use super::notices::Undelivered;
use super::{MailUser, Messaging, MessagingError, MessagingResult, QUEUE, QUEUE_OWNER, Refusal};
use crate::address::Address;
use crate::model::{Channel, Mailbox, QueuedMessage};

/// Who hands a message over.
// One per SMTP session: the size of the larger variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Origin {
    /// A professional's mail program, authenticated, sending from his mailbox.
    Submission { user: MailUser, mailbox: Mailbox },
    /// Another server, unauthenticated, on the inbound listener.
    Inbound,
}

impl Origin {
    fn channel(&self) -> Channel {
        match self {
            Origin::Submission { .. } => Channel::Submission,
            Origin::Inbound => Channel::Inbound,
        }
    }

    fn actor(&self) -> Actor {
        match self {
            Origin::Submission { user, .. } => user.actor(),
            Origin::Inbound => Actor::default(),
        }
    }
}

/// Where an accepted recipient's copy goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A mailbox of the platform.
    Local { mailbox: String },
    /// A partner domain's server, through the outbound queue.
    Partner { domain: String },
}

/// A message's envelope, as the SMTP session gathered it.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub origin: Origin,
    /// The reverse path; `None` for the null sender `<>` (bounces).
    pub from: Option<String>,
    /// The accepted recipients and their routes.
    pub recipients: Vec<(String, Route)>,
    /// The name the client gave in EHLO.
    pub helo: String,
    pub peer: IpAddr,
    /// The session's id, for the `Received` field and the trace.
    pub session: String,
}

/// What became of an accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub id: String,
    /// Recipients whose copy is stored in their mailbox.
    pub delivered: Vec<String>,
    /// Recipients whose copy waits in the outbound queue.
    pub queued: Vec<String>,
    /// Recipients whose mailbox filled up between RCPT and the end of DATA: the
    /// sender gets a delivery status notification.
    pub failed: Vec<String>,
}

impl Messaging {
    /// MAIL FROM: may this origin send from `from`?
    pub async fn check_sender(
        &self,
        origin: &Origin,
        from: Option<&str>,
        peer: IpAddr,
    ) -> Result<(), Refusal> {
        match origin {
            Origin::Submission { mailbox, .. } => {
                let Some(from) = from else {
                    return Err(Refusal::SenderMismatch);
                };
                let Ok(from) = Address::parse(from) else {
                    return Err(Refusal::SenderMismatch);
                };
                if !from.to_string().eq_ignore_ascii_case(&mailbox.address) {
                    return Err(Refusal::SenderMismatch);
                }
                let current = self
                    .mailbox(&mailbox.id)
                    .await
                    .map_err(|_| Refusal::SenderMismatch)?;
                if !current.is_open() {
                    return Err(Refusal::SenderMismatch);
                }
                if current.used_bytes >= self.config.quota_bytes {
                    return Err(Refusal::SenderFull);
                }
                Ok(())
            }
            Origin::Inbound => match from {
                // Bounces: only from a partner's known servers.
                None => {
                    if self
                        .config
                        .partners
                        .iter()
                        .any(|p| !p.networks.is_empty() && p.admits(peer))
                    {
                        Ok(())
                    } else {
                        Err(Refusal::SenderNotPartner)
                    }
                }
                Some(from) => {
                    let Ok(from) = Address::parse(from) else {
                        return Err(Refusal::SenderNotPartner);
                    };
                    match self.config.partner(from.domain()) {
                        Some(p) if p.admits(peer) => Ok(()),
                        _ => Err(Refusal::SenderNotPartner),
                    }
                }
            },
        }
    }

    /// RCPT TO: where would a copy for `rcpt` go, if anywhere? `size` is the SIZE the
    /// client announced, if any.
    pub async fn check_recipient(
        &self,
        origin: &Origin,
        rcpt: &str,
        size: Option<u64>,
    ) -> Result<Route, Refusal> {
        let Ok(address) = Address::parse(rcpt) else {
            return Err(Refusal::UnknownRecipient);
        };
        if address.domain() == self.config.domain {
            let mailbox = match self.mailbox_by_address(&address).await {
                Ok(Some(m)) => m,
                Ok(None) => return Err(Refusal::UnknownRecipient),
                Err(e) => {
                    tracing::warn!(error = %e, "recipient lookup failed");
                    return Err(Refusal::ScanUnavailable);
                }
            };
            if !mailbox.is_open() {
                return Err(Refusal::RecipientDisabled);
            }
            if mailbox.used_bytes >= self.config.quota_bytes
                || self.over_quota(&mailbox, size.unwrap_or(0))
            {
                return Err(Refusal::RecipientFull);
            }
            return Ok(Route::Local {
                mailbox: mailbox.id,
            });
        }
        match (origin, self.config.partner(address.domain())) {
            (Origin::Submission { .. }, Some(p)) if p.relay.is_some() => Ok(Route::Partner {
                domain: p.domain.clone(),
            }),
            _ => Err(Refusal::RelayDenied),
        }
    }

    /// Traces a refusal at MAIL or RCPT time, and logs its envelope metadata.
    pub async fn refused(
        &self,
        origin: &Origin,
        from: Option<&str>,
        recipients: &[String],
        size: u64,
        refusal: &Refusal,
        source: &Source,
    ) -> MessagingResult<()> {
        self.log_refusal(origin, from, recipients, size, &[], refusal, source)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn log_refusal(
        &self,
        origin: &Origin,
        from: Option<&str>,
        recipients: &[String],
        size: u64,
        raw: &[u8],
        refusal: &Refusal,
        source: &Source,
    ) -> MessagingResult<()> {
        let entry = self.metadata_entry(
            origin.channel(),
            from,
            recipients,
            size,
            raw,
            refusal.code(),
        );
        self.db
            .write_batch(&self.metadata_ops(&entry)?, self.micros())
            .await?;
        self.trace(
            EventKind::MessagingMessageRefused,
            origin.actor(),
            Action::Create,
            Some(("Message", &entry.id)),
            source,
            Outcome::Denied(Token::code(refusal.code())),
        )
        .await
    }

    /// DATA done: scans, stores every local copy, queues the partners' copies and
    /// logs the metadata, in one transaction. When this returns `Ok`, the message is
    /// durable and SMTP may answer 250.
    pub async fn accept(
        &self,
        envelope: &Envelope,
        raw: &[u8],
        source: &Source,
    ) -> MessagingResult<Accepted> {
        let recipients: Vec<String> = envelope.recipients.iter().map(|(r, _)| r.clone()).collect();
        let from = envelope.from.as_deref();
        if raw.len() as u64 > self.config.max_message_bytes {
            return Err(self
                .refusal(envelope, &recipients, raw, Refusal::TooBig, source)
                .await);
        }
        if envelope.recipients.is_empty() {
            return Err(MessagingError::Invalid("no recipients".into()));
        }
        if !has_header_section(raw) {
            return Err(self
                .refusal(
                    envelope,
                    &recipients,
                    raw,
                    Refusal::Malformed("no header section"),
                    source,
                )
                .await);
        }
        // A bare LF or CR ends nothing here (the end of data is CRLF.CRLF), but a
        // server further on that reads `LF.LF` as the end would see a second message
        // the sender smuggled in (CVE-2023-51764): refused, as Postfix does.
        if has_bare_line_break(raw) {
            return Err(self
                .refusal(envelope, &recipients, raw, Refusal::BareLineBreak, source)
                .await);
        }
        if let Origin::Submission { mailbox, .. } = &envelope.origin {
            if !authored_by(raw, &mailbox.address) {
                return Err(self
                    .refusal(envelope, &recipients, raw, Refusal::SenderMismatch, source)
                    .await);
            }
            let current = self.mailbox(&mailbox.id).await?;
            if current.used_bytes >= self.config.quota_bytes {
                return Err(self
                    .refusal(envelope, &recipients, raw, Refusal::SenderFull, source)
                    .await);
            }
        }
        if let Err(refusal) = self.screen(raw).await {
            return Err(self
                .refusal(envelope, &recipients, raw, refusal, source)
                .await);
        }

        let id = uuid::Uuid::now_v7().simple().to_string();
        let now = self.now();
        let received = self.received_field(envelope, &id, now);
        let return_path = format!("Return-Path: <{}>\r\n", from.unwrap_or(""));

        // Copies for each local mailbox (once per mailbox, whatever the number of its
        // addresses among the recipients) and one per partner domain.
        let mut local: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut partners: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (rcpt, route) in &envelope.recipients {
            match route {
                Route::Local { mailbox } => {
                    local.entry(mailbox.clone()).or_default().push(rcpt.clone())
                }
                Route::Partner { domain } => partners
                    .entry(domain.clone())
                    .or_default()
                    .push(rcpt.clone()),
            }
        }
        let size_local = (return_path.len() + received.len() + raw.len()) as u64;
        let mut blobs: BTreeMap<String, String> = BTreeMap::new();
        for mailbox in local.keys() {
            let blob = uuid::Uuid::now_v7().simple().to_string();
            let mut bytes = Vec::with_capacity(size_local as usize);
            bytes.extend_from_slice(return_path.as_bytes());
            bytes.extend_from_slice(received.as_bytes());
            bytes.extend_from_slice(raw);
            self.blobs.put(mailbox, &blob, &bytes).await?;
            blobs.insert(mailbox.clone(), blob);
        }
        let mut queued: Vec<QueuedMessage> = Vec::new();
        if !partners.is_empty() {
            let blob = id.clone();
            let mut bytes = Vec::with_capacity(received.len() + raw.len());
            bytes.extend_from_slice(received.as_bytes());
            bytes.extend_from_slice(raw);
            self.blobs.put(QUEUE_OWNER, &blob, &bytes).await?;
            let sending_mailbox = match &envelope.origin {
                Origin::Submission { mailbox, .. } => mailbox.id.clone(),
                Origin::Inbound => String::new(),
            };
            for (domain, rcpts) in &partners {
                queued.push(QueuedMessage {
                    id: format!("{id}-{}", queued.len()),
                    mailbox: sending_mailbox.clone(),
                    sender: from.unwrap_or("").to_owned(),
                    domain: domain.clone(),
                    recipients: rcpts.clone(),
                    blob: blob.clone(),
                    size: bytes.len() as u64,
                    queued: now,
                    attempts: 0,
                    next_attempt: now,
                    last_error: None,
                });
            }
        }

        let entry = self.metadata_entry(
            envelope.origin.channel(),
            from,
            &recipients,
            raw.len() as u64,
            raw,
            "accepted",
        );
        let mut accepted = Accepted {
            id: entry.id.clone(),
            delivered: Vec::new(),
            queued: queued.iter().flat_map(|q| q.recipients.clone()).collect(),
            failed: Vec::new(),
        };
        let local_ids: Vec<&str> = local.keys().map(String::as_str).collect();
        let turn = self.write_turn(&local_ids).await;
        let (this, local_ref, blobs_ref, queued_ref, entry_ref) =
            (self, &local, &blobs, &queued, &entry);
        let placed = on_conflict(Retry::CONTENDED, "delivery", || async move {
            let mut ops: Vec<WriteOp> = Vec::new();
            let (mut delivered, mut failed) = (Vec::new(), Vec::new());
            for (mailbox, rcpts) in local_ref {
                let Some(blob) = blobs_ref.get(mailbox) else {
                    continue;
                };
                let inbox = match this.folder(mailbox, "INBOX").await {
                    Ok((f, _)) => f,
                    Err(MessagingError::NotFound(_)) | Err(MessagingError::MailboxClosed) => {
                        failed.extend(rcpts.iter().cloned());
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let mut p = match this.placement(mailbox, inbox.number).await {
                    Ok(p) => p,
                    Err(MessagingError::MailboxClosed) => {
                        failed.extend(rcpts.iter().cloned());
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                if this.over_quota(&p.mailbox, size_local) {
                    failed.extend(rcpts.iter().cloned());
                    continue;
                }
                p.place(blob.clone(), size_local, Vec::new(), now, true);
                ops.extend(p.ops(true)?);
                delivered.extend(rcpts.iter().cloned());
            }
            if delivered.is_empty() && queued_ref.is_empty() {
                // Nothing to write: every local recipient refused.
                return Ok(Step::Done((delivered, failed, false)));
            }
            for q in queued_ref {
                ops.push(Self::put_op(QUEUE, &q.id, q, Expect::Absent)?);
            }
            ops.extend(this.metadata_ops(entry_ref)?);
            let written = this.db.write_batch(&ops, this.micros()).await;
            Ok::<_, MessagingError>(settle(written, |_| (delivered, failed, true))?)
        })
        .await;
        drop(turn);
        let (delivered, failed, committed) = match placed {
            Ok(placed) => placed,
            Err(e) => {
                self.forget_blobs_of(&blobs).await;
                return Err(e);
            }
        };
        accepted.delivered = delivered;
        accepted.failed = failed;
        if !committed {
            self.forget_blobs_of(&blobs).await;
            if !accepted.failed.is_empty() {
                return Err(self
                    .refusal(envelope, &recipients, raw, Refusal::RecipientFull, source)
                    .await);
            }
            return Err(MessagingError::Conflict(
                "delivery: nothing to deliver".into(),
            ));
        }
        // Copies not placed (their mailbox filled up or closed meanwhile).
        for (mailbox, rcpts) in &local {
            if rcpts.iter().any(|r| accepted.failed.contains(r))
                && let Some(blob) = blobs.get(mailbox)
            {
                self.blobs.delete(mailbox, blob).await?;
            }
        }
        for mailbox in local.keys() {
            self.changed(mailbox);
            self.notice_after_write(mailbox).await;
        }
        self.trace(
            EventKind::MessagingMessageAccepted,
            envelope.origin.actor(),
            Action::Create,
            Some(("Message", &entry.id)),
            source,
            Outcome::Success,
        )
        .await?;
        if !accepted.failed.is_empty() {
            let undelivered: Vec<Undelivered> = accepted
                .failed
                .iter()
                .map(|r| Undelivered {
                    recipient: r.clone(),
                    status: "5.2.2".into(),
                    diagnostic: "mailbox full".into(),
                })
                .collect();
            self.notify_sender(envelope.from.as_deref(), &undelivered, raw, now)
                .await?;
        }
        Ok(accepted)
    }

    /// Deletes the copies a delivery wrote ahead, one per mailbox.
    async fn forget_blobs_of(&self, blobs: &BTreeMap<String, String>) {
        for (mailbox, blob) in blobs {
            self.forget_blobs(mailbox, std::slice::from_ref(blob)).await;
        }
    }

    /// Logs and traces a refusal after DATA; the error to return.
    async fn refusal(
        &self,
        envelope: &Envelope,
        recipients: &[String],
        raw: &[u8],
        refusal: Refusal,
        source: &Source,
    ) -> MessagingError {
        let from = envelope.from.as_deref();
        match self
            .log_refusal(
                &envelope.origin,
                from,
                recipients,
                raw.len() as u64,
                raw,
                &refusal,
                source,
            )
            .await
        {
            Ok(()) => MessagingError::Refused(refusal),
            Err(e) => e,
        }
    }

    /// Sends a delivery status notification to a sender of the platform (a remote
    /// sender learns of a failure from the SMTP reply instead).
    pub(crate) async fn notify_sender(
        &self,
        sender: Option<&str>,
        undelivered: &[Undelivered],
        original: &[u8],
        arrival: DateTime<Utc>,
    ) -> MessagingResult<()> {
        let Some(sender) = sender.and_then(|s| Address::parse(s).ok()) else {
            return Ok(());
        };
        let Some(mailbox) = self.mailbox_by_address(&sender).await? else {
            return Ok(());
        };
        if !mailbox.is_open() {
            return Ok(());
        }
        let notice = self.failure_notice(&sender.to_string(), undelivered, original, arrival);
        self.deliver_platform_message(&mailbox.id, notice.as_bytes())
            .await
    }

    fn received_field(&self, envelope: &Envelope, id: &str, now: DateTime<Utc>) -> String {
        let with = match envelope.origin {
            Origin::Submission { .. } => "ESMTPSA",
            Origin::Inbound => "ESMTPS",
        };
        let helo: String = envelope
            .helo
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || ".-[]:".contains(*c))
            .take(255)
            .collect();
        format!(
            "Received: from {helo} ([{peer}])\r\n\tby {host} with {with} id {id};\r\n\t{date}\r\n",
            peer = envelope.peer,
            host = self.config.hostname,
            date = now.format("%a, %d %b %Y %H:%M:%S +0000"),
        )
    }
}

/// Whether `raw` starts with a header field (`Name: value`), as every message must.
fn has_header_section(raw: &[u8]) -> bool {
    let first_line = raw.split(|&b| b == b'\n').next().unwrap_or_default();
    match first_line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => first_line[..colon]
            .iter()
            .all(|&b| b.is_ascii_graphic() && b != b':'),
        _ => false,
    }
}

/// Whether a line of `raw` ends otherwise than in CRLF (such a message is refused with
/// [`Refusal::BareLineBreak`]).
pub fn has_bare_line_break(raw: &[u8]) -> bool {
    raw.iter().enumerate().any(|(i, &b)| match b {
        b'\n' => i == 0 || raw[i - 1] != b'\r',
        b'\r' => raw.get(i + 1) != Some(&b'\n'),
        _ => false,
    })
}

/// Whether the message says it is from `address` and from nobody else: exactly one
/// From field, and every address in it and in any Sender field is the sender's own
/// (a mail program cannot sign a letter with a colleague's name).
fn authored_by(raw: &[u8], address: &str) -> bool {
    let Some(message) = mail_parser::MessageParser::new().parse_headers(raw) else {
        return false;
    };
    let mut from_fields = 0;
    for header in message.headers() {
        let field = match header.name {
            mail_parser::HeaderName::From => {
                from_fields += 1;
                "From"
            }
            mail_parser::HeaderName::Sender => "Sender",
            _ => continue,
        };
        let Some(addresses) = header.value.as_address() else {
            tracing::debug!(field, "an author field that holds no address");
            return false;
        };
        let mut any = false;
        for addr in addresses.iter() {
            any = true;
            if !addr
                .address()
                .is_some_and(|a| a.trim().eq_ignore_ascii_case(address))
            {
                return false;
            }
        }
        if !any {
            return false;
        }
    }
    from_fields == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_must_end_in_crlf() {
        assert!(!has_bare_line_break(b"A: b\r\n\r\nbody\r\n"));
        for raw in [
            &b"A: b\r\n\r\nbody\n.\nMAIL FROM:<x@y>\r\n"[..],
            b"A: b\r\n\r\nbody\r\n.\nx\r\n",
            b"A: b\r\n\r\nbody\n.\r\nx\r\n",
            b"A: b\r\n\r\nbody\r.\r\nx\r\n",
            b"A: b\r\n\r\nbody\r",
            b"\nA: b\r\n",
        ] {
            assert!(has_bare_line_break(raw), "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn only_the_sender_signs_the_message() {
        let own = "anne.martin@mss.sante.example";
        let ok = [
            "From: <anne.martin@mss.sante.example>\r\n\r\nx\r\n",
            "From: \"Dr Anne Martin\" <Anne.Martin@mss.sante.example>\r\nSender: anne.martin@mss.sante.example\r\n\r\nx\r\n",
        ];
        for raw in ok {
            assert!(authored_by(raw.as_bytes(), own), "{raw}");
        }
        let refused = [
            "Subject: no author\r\n\r\nx\r\n",
            "From: <paul.durand@mss.sante.example>\r\n\r\nx\r\n",
            "From: <anne.martin@mss.sante.example>, <paul.durand@mss.sante.example>\r\n\r\nx\r\n",
            "From: <anne.martin@mss.sante.example>\r\nSender: <paul.durand@mss.sante.example>\r\n\r\nx\r\n",
            "From: <anne.martin@mss.sante.example>\r\nFrom: <paul.durand@mss.sante.example>\r\n\r\nx\r\n",
            "From: undisclosed:;\r\n\r\nx\r\n",
        ];
        for raw in refused {
            assert!(!authored_by(raw.as_bytes(), own), "{raw}");
        }
    }

    #[test]
    fn a_message_starts_with_a_header_field() {
        assert!(has_header_section(b"From: a@b.example\r\n\r\nbody"));
        assert!(has_header_section(b"X-Y: z\r\n"));
        assert!(!has_header_section(b"hello there\r\n"));
        assert!(!has_header_section(b": no name\r\n"));
        assert!(!has_header_section(b""));
    }
}
