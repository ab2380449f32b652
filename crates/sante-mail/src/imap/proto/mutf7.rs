//! Modified UTF-7 mailbox names (RFC 3501 §5.1.3), which IMAP4rev1 clients send and
//! expect unless they enabled UTF-8 (IMAP4rev2 or `UTF8=ACCEPT`, RFC 6855). Folders
//! are stored under their Unicode name, so webmail and every kind of client see the
//! same "Éléments envoyés".

use base64::Engine;
use base64::alphabet::IMAP_MUTF7;
use base64::engine::{GeneralPurpose, general_purpose::NO_PAD};

const BASE64: GeneralPurpose = GeneralPurpose::new(&IMAP_MUTF7, NO_PAD);

/// How a session spells mailbox names on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// IMAP4rev1 without UTF-8: modified UTF-7.
    ModifiedUtf7,
    /// IMAP4rev2 or `UTF8=ACCEPT` enabled: UTF-8 as it is.
    Utf8,
}

impl Names {
    /// A name the client sent, as stored.
    pub fn decode(self, wire: &str) -> Result<String, String> {
        match self {
            Names::Utf8 => Ok(wire.to_owned()),
            Names::ModifiedUtf7 => decode(wire),
        }
    }

    /// A stored name as this client expects it.
    pub fn encode(self, name: &str) -> String {
        match self {
            Names::Utf8 => name.to_owned(),
            Names::ModifiedUtf7 => encode(name),
        }
    }
}

fn printable(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// `Entwürfe` → `Entw&APw-rfe`; `&` → `&-`.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if printable(c) {
            shift_out(&mut out, &mut pending);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    shift_out(&mut out, &mut pending);
    out
}

fn shift_out(out: &mut String, pending: &mut Vec<u16>) {
    if pending.is_empty() {
        return;
    }
    let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    out.push_str(&BASE64.encode(bytes));
    out.push('-');
    pending.clear();
}

/// The inverse of [`encode`]. Refuses what no conforming client sends (an unclosed
/// `&`, bad base64, printable ASCII encoded), so that one folder has one name. Bytes
/// beyond ASCII are taken as UTF-8 (clients that send UTF-8 without enabling it).
pub fn decode(wire: &str) -> Result<String, String> {
    let invalid = || format!("not a modified UTF-7 mailbox name: {wire}");
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after.find('-').ok_or_else(invalid)?;
        let encoded = &after[..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            let bytes = BASE64.decode(encoded).map_err(|_| invalid())?;
            if bytes.len() % 2 != 0 {
                return Err(invalid());
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            let text = String::from_utf16(&units).map_err(|_| invalid())?;
            if text.chars().any(printable) {
                return Err(invalid());
            }
            out.push_str(&text);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let rows = [
            ("INBOX", "INBOX"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("Éléments envoyés", "&AMk-l&AOk-ments envoy&AOk-s"),
            ("Projets & co", "Projets &- co"),
            ("Dossiers/Pédiatrie", "Dossiers/P&AOk-diatrie"),
            ("日本語", "&ZeVnLIqe-"),
            ("🩺", "&2D7eeg-"),
            ("", ""),
        ];
        for (name, wire) in rows {
            assert_eq!(encode(name), wire, "encoding {name}");
            assert_eq!(decode(wire).as_deref(), Ok(name), "decoding {wire}");
        }
    }

    #[test]
    fn malformed_names_are_refused() {
        for wire in ["&AMk", "&A-", "&AGE-", "&Jjo!-", "&2D4-"] {
            assert!(decode(wire).is_err(), "{wire} accepted");
        }
        // UTF-8 sent without enabling it is taken as it is.
        assert_eq!(decode("Entwürfe").as_deref(), Ok("Entwürfe"));
    }

    #[test]
    fn the_session_chooses_the_spelling() {
        assert_eq!(Names::Utf8.encode("Entwürfe"), "Entwürfe");
        assert_eq!(Names::ModifiedUtf7.encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(Names::Utf8.decode("Entw&APw-rfe").unwrap(), "Entw&APw-rfe");
    }
}
