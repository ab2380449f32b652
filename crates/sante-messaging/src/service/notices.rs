//! Messages the platform writes to a holder: the 90 % quota notice (MSG-11) and
//! delivery status notifications (RFC 3464).

use base64::Engine;
use chrono::{DateTime, Utc};

use super::Messaging;
use crate::model::Mailbox;

/// A recipient a message could not reach, and why.
#[derive(Debug, Clone)]
pub(crate) struct Undelivered {
    pub recipient: String,
    /// RFC 3463 status, `5.2.2`.
    pub status: String,
    pub diagnostic: String,
}

fn encoded_word(text: &str) -> String {
    if text.is_ascii() {
        text.to_owned()
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
        )
    }
}

fn wrapped_base64(text: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push_str("\r\n");
    }
    out
}

/// A value written into a header field or a delivery-status field: one line, so that
/// nothing a sender or a remote server chose can start a field of its own.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

impl Messaging {
    fn postmaster(&self) -> String {
        format!("postmaster@{}", self.config.domain)
    }

    fn message_id(&self) -> String {
        format!(
            "<{}@{}>",
            uuid::Uuid::now_v7().simple(),
            self.config.hostname
        )
    }

    /// The notice sent when a mailbox reaches 90 % of its quota.
    pub(crate) fn quota_notice(&self, mailbox: &Mailbox) -> String {
        let mb = |b: u64| b as f64 / 1_000_000.0;
        let used = mb(mailbox.used_bytes);
        let quota = mb(self.config.quota_bytes);
        let text = format!(
            "Votre boîte aux lettres {address} est utilisée à {pct} % ({used:.1} Mo sur {quota:.0} Mo).\r\n\
             Au-delà de {quota:.0} Mo, vous ne pourrez plus ni recevoir ni envoyer de messages.\r\n\
             Supprimez les messages dont vous n'avez plus besoin, et videz la corbeille.\r\n\
             \r\n\
             Your mailbox {address} is {pct} % full ({used:.1} MB of {quota:.0} MB).\r\n\
             Beyond {quota:.0} MB you can neither receive nor send messages.\r\n\
             Delete the messages you no longer need, and empty the trash.\r\n",
            address = mailbox.address,
            pct = mailbox.used_bytes.saturating_mul(100) / self.config.quota_bytes.max(1),
        );
        format!(
            "From: {from}\r\nTo: <{to}>\r\nDate: {date}\r\nMessage-ID: {id}\r\n\
             Subject: {subject}\r\nAuto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{body}",
            from = one_line(&self.postmaster()),
            to = one_line(&mailbox.address),
            date = date(self.now()),
            id = self.message_id(),
            subject = encoded_word(
                "Votre boîte aux lettres est presque pleine / Your mailbox is almost full"
            ),
            body = wrapped_base64(&text),
        )
    }

    /// A delivery status notification (RFC 3464) to `sender` for the recipients a
    /// message could not reach, with the original's header section.
    pub(crate) fn failure_notice(
        &self,
        sender: &str,
        undelivered: &[Undelivered],
        original: &[u8],
        arrival: DateTime<Utc>,
    ) -> String {
        let boundary = format!("dsn-{}", uuid::Uuid::now_v7().simple());
        let mut human = String::from(
            "Votre message n'a pas pu être remis aux destinataires suivants.\r\n\
             Your message could not be delivered to the following recipients.\r\n\r\n",
        );
        let mut status = format!(
            "Reporting-MTA: dns; {}\r\nArrival-Date: {}\r\n",
            one_line(&self.config.hostname),
            date(arrival)
        );
        for u in undelivered {
            human.push_str(&format!("  <{}>: {}\r\n", u.recipient, u.diagnostic));
            status.push_str(&format!(
                "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {}\r\n\
                 Diagnostic-Code: smtp; {}\r\n",
                one_line(&u.recipient),
                one_line(&u.status),
                one_line(&u.diagnostic)
            ));
        }
        let headers_end = original
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 2)
            .unwrap_or(original.len().min(64 * 1024));
        let headers = String::from_utf8_lossy(&original[..headers_end]);
        format!(
            "From: Mail Delivery System <{from}>\r\nTo: <{to}>\r\nDate: {date}\r\n\
             Message-ID: {id}\r\nSubject: {subject}\r\nAuto-Submitted: auto-replied\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"{b}\"\r\n\r\n\
             --{b}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
             {human}\
             --{b}\r\nContent-Type: message/delivery-status\r\n\r\n{status}\r\n\
             --{b}\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n\
             --{b}--\r\n",
            from = one_line(&self.postmaster()),
            to = one_line(sender),
            date = date(self.now()),
            id = self.message_id(),
            subject = encoded_word("Échec de remise / Undelivered mail"),
            b = boundary,
            human = wrapped_base64(&human),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_kept_to_one_line() {
        assert_eq!(
            one_line("a\r\nBcc: x@evil.example\n\0b"),
            "a  Bcc: x@evil.example  b"
        );
    }
}
