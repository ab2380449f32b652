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

/// The most a single file of an archive may expand to, and all its files together,
/// and how many it may hold: clamd's `MaxFileSize`, `MaxScanSize` and `MaxFiles`
/// ([`crate::antivirus::ARCHIVE_LIMITS`]). Past them clamd scans a part and calls the
/// whole clean.
const MAX_EXPANDED_FILE: u64 = 100 * 1024 * 1024;
const MAX_EXPANDED_TOTAL: u64 = 400 * 1024 * 1024;
const MAX_FILES: usize = 10_000;
/// Deflate cannot compress better than about 1 032 to 1: a file declaring more is
/// made to mislead (overlapping entries, a forged size).
const MAX_RATIO: u64 = 1032;

/// Whether an attachment of `raw` is a zip archive that expands past what the
/// anti-virus scans whole, by the sizes its central directory declares (a zip bomb).
/// Archives nested in archives are clamd's to count (`MaxRecursion`, alerting past
/// it).
pub fn unscannable_archive(raw: &[u8]) -> bool {
    let Some(message) = MessageParser::default().parse(raw) else {
        return false;
    };
    message.attachments().any(|part| {
        let contents = part.contents();
        contents.starts_with(b"PK\x03\x04") && zip_expands_too_far(contents)
    })
}

fn zip_expands_too_far(contents: &[u8]) -> bool {
    // An archive whose directory cannot be read is not unpacked by us: clamd scans
    // its bytes as they are.
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(contents)) else {
        return false;
    };
    if archive.len() > MAX_FILES {
        return true;
    }
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let Ok(file) = archive.by_index_raw(i) else {
            return false;
        };
        let (size, packed) = (file.size(), file.compressed_size().max(1));
        total = total.saturating_add(size);
        if size > MAX_EXPANDED_FILE || total > MAX_EXPANDED_TOTAL || size / packed > MAX_RATIO {
            return true;
        }
    }
    false
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

    fn with_zip(files: usize) -> Vec<u8> {
        use std::io::Write;
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for i in 0..files {
            zip.start_file(format!("f{i}.txt"), stored).unwrap();
            zip.write_all(b"text").unwrap();
        }
        zip.finish().unwrap();
        let archive =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, out.into_inner());
        format!(
            "From: a@x.example\r\nTo: b@y.example\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n\
hello\r\n--b1\r\nContent-Type: application/zip\r\nContent-Disposition: attachment\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{archive}\r\n--b1--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn an_archive_is_refused_past_what_the_anti_virus_unpacks() {
        assert!(!unscannable_archive(&with_zip(3)));
        assert!(unscannable_archive(&with_zip(MAX_FILES + 1)));
        assert!(!unscannable_archive(
            b"Subject: no attachment\r\n\r\nPK\x03\x04\r\n"
        ));
    }
}
