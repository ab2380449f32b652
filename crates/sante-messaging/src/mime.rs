//! What the metadata log may know of a message's structure (MSG-16, MSG-17): the
//! types and sizes of its attachments. Read from the MIME headers; the names of the
//! files and every byte of content stay out.

use mail_parser::{MessageParser, MimeHeaders};

use crate::model::AttachmentMeta;

/// At most this many attachments are listed per message (the rest are counted in
/// the last line as `application/x-more`).
const MAX_LISTED: usize = 64;

/// The attachments of `raw`, by MIME type and decoded size, in order.
pub fn attachments(raw: &[u8]) -> Vec<AttachmentMeta> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let mut out: Vec<AttachmentMeta> = Vec::new();
    for part in message.attachments() {
        let content_type = part
            .content_type()
            .map(|ct| {
                let sub = ct.c_subtype.as_deref().unwrap_or("octet-stream");
                clean_type(&format!("{}/{}", ct.c_type, sub))
            })
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let size = part.len() as u64;
        if out.len() == MAX_LISTED {
            if let Some(last) = out.last_mut() {
                last.content_type = "application/x-more".into();
                last.size += size;
            }
            continue;
        }
        out.push(AttachmentMeta { content_type, size });
    }
    out
}

/// A MIME type reduced to `type/subtype` in lower case, letters, digits and `.+-`:
/// a header that smuggles text in its type does not get it into the log.
pub fn clean_type(content_type: &str) -> String {
    let lower = content_type.to_ascii_lowercase();
    let (t, s) = lower.split_once('/').unwrap_or((lower.as_str(), ""));
    let keep = |x: &str| -> String {
        x.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || ".+-".contains(*c))
            .take(64)
            .collect()
    };
    let (t, s) = (keep(t), keep(s));
    if t.is_empty() || s.is_empty() {
        "application/octet-stream".to_owned()
    } else {
        format!("{t}/{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_types_and_sizes_only() {
        let raw = b"From: a@x.example\r\nTo: b@y.example\r\nSubject: secret subject\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain\r\n\r\nsecret body\r\n\
--b1\r\nContent-Type: application/pdf; name=\"secret-name.pdf\"\r\n\
Content-Disposition: attachment; filename=\"secret-name.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n\
--b1\r\nContent-Type: image/PNG\r\nContent-Disposition: attachment\r\n\r\nPNGDATA\r\n\
--b1--\r\n";
        let found = attachments(raw);
        assert_eq!(
            found,
            vec![
                AttachmentMeta {
                    content_type: "application/pdf".into(),
                    size: 9
                },
                AttachmentMeta {
                    content_type: "image/png".into(),
                    size: 7
                },
            ]
        );
        let printed = format!("{found:?}");
        assert!(!printed.contains("secret"));
    }

    #[test]
    fn types_are_cleaned() {
        assert_eq!(clean_type("Application/PDF"), "application/pdf");
        assert_eq!(clean_type("text/plain secret words"), "text/plain");
        assert_eq!(clean_type("garbage"), "application/octet-stream");
    }
}
