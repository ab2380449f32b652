//! SEARCH keys (RFC 9051 §6.4.4, MODSEQ of RFC 7162) and their evaluation against a
//! message's index entry and, when a key needs it, its bytes.

use chrono::NaiveDate;
use mail_parser::MessageParser;
use sante_messaging::model::{ANSWERED, DELETED, DRAFT, FLAGGED, MessageEntry, SEEN};

use super::proto::args::{self as parse, Args, ParseResult, SequenceSet};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    All,
    Flag(String, bool),
    Seq(SequenceSet),
    Uid(SequenceSet),
    Not(Box<Key>),
    Or(Box<Key>, Box<Key>),
    And(Vec<Key>),
    Larger(u64),
    Smaller(u64),
    Before(NaiveDate),
    On(NaiveDate),
    Since(NaiveDate),
    SentBefore(NaiveDate),
    SentOn(NaiveDate),
    SentSince(NaiveDate),
    Header(String, String),
    Body(String),
    Text(String),
    ModSeq(u64),
    New,
    Old,
    Recent,
}

/// How deep parentheses, `NOT` and `OR` may nest in one SEARCH. Real clients nest a
/// few levels; without a bound, a 64 KiB line of `(` would recurse until the stack
/// overflows and the whole server aborts.
pub const MAX_NESTING: usize = 32;

/// Parses the keys of a SEARCH up to the end of the command (after an optional
/// `CHARSET x` and `RETURN (...)`, which are accepted and ignored: UTF-8 is used).
pub fn keys(args: &mut Args<'_>) -> ParseResult<Key> {
    let mut all = Vec::new();
    loop {
        args.maybe_space();
        if args.at_end() {
            break;
        }
        all.push(key(args, 0)?);
    }
    if all.is_empty() {
        return Err("SEARCH needs at least one key".into());
    }
    Ok(if all.len() == 1 {
        all.remove(0)
    } else {
        Key::And(all)
    })
}

fn text(args: &mut Args<'_>) -> ParseResult<String> {
    args.space()?;
    Ok(String::from_utf8_lossy(&args.astring()?).into_owned())
}

fn day(args: &mut Args<'_>) -> ParseResult<NaiveDate> {
    args.space()?;
    let t = String::from_utf8_lossy(&args.astring()?).into_owned();
    parse::date(&t)
}

fn key(args: &mut Args<'_>, depth: usize) -> ParseResult<Key> {
    if depth >= MAX_NESTING {
        return Err(format!("SEARCH keys nested deeper than {MAX_NESTING}"));
    }
    let inner_key = |args: &mut Args<'_>| key(args, depth + 1);
    if args.eat(b'(') {
        let mut inner = Vec::new();
        loop {
            args.maybe_space();
            if args.eat(b')') {
                break;
            }
            if args.at_end() {
                return Err("unclosed '(' in SEARCH".into());
            }
            inner.push(inner_key(args)?);
        }
        return Ok(Key::And(inner));
    }
    if args
        .peek()
        .is_some_and(|b| b.is_ascii_digit() || b == b'*' || b == b'$')
    {
        return Ok(Key::Seq(args.sequence_set()?));
    }
    let word = args.atom()?.to_ascii_uppercase();
    let flag = |f: &str, on: bool| Ok(Key::Flag(f.to_owned(), on));
    match word.as_str() {
        "ALL" => Ok(Key::All),
        "SEEN" => flag(SEEN, true),
        "UNSEEN" => flag(SEEN, false),
        "ANSWERED" => flag(ANSWERED, true),
        "UNANSWERED" => flag(ANSWERED, false),
        "FLAGGED" => flag(FLAGGED, true),
        "UNFLAGGED" => flag(FLAGGED, false),
        "DELETED" => flag(DELETED, true),
        "UNDELETED" => flag(DELETED, false),
        "DRAFT" => flag(DRAFT, true),
        "UNDRAFT" => flag(DRAFT, false),
        "NEW" => Ok(Key::New),
        "OLD" => Ok(Key::Old),
        "RECENT" => Ok(Key::Recent),
        "KEYWORD" | "UNKEYWORD" => {
            args.space()?;
            let k = args.atom()?;
            Ok(Key::Flag(k, word == "KEYWORD"))
        }
        "UID" => {
            args.space()?;
            Ok(Key::Uid(args.sequence_set()?))
        }
        "NOT" => {
            args.space()?;
            Ok(Key::Not(Box::new(inner_key(args)?)))
        }
        "OR" => {
            args.space()?;
            let a = inner_key(args)?;
            args.space()?;
            let b = inner_key(args)?;
            Ok(Key::Or(Box::new(a), Box::new(b)))
        }
        "LARGER" | "SMALLER" => {
            args.space()?;
            let n = args.number()?;
            Ok(if word == "LARGER" {
                Key::Larger(n)
            } else {
                Key::Smaller(n)
            })
        }
        "BEFORE" => Ok(Key::Before(day(args)?)),
        "ON" => Ok(Key::On(day(args)?)),
        "SINCE" => Ok(Key::Since(day(args)?)),
        "SENTBEFORE" => Ok(Key::SentBefore(day(args)?)),
        "SENTON" => Ok(Key::SentOn(day(args)?)),
        "SENTSINCE" => Ok(Key::SentSince(day(args)?)),
        "FROM" | "TO" | "CC" | "BCC" | "SUBJECT" => {
            let value = text(args)?;
            Ok(Key::Header(word.to_ascii_lowercase(), value))
        }
        "HEADER" => {
            let name = text(args)?;
            let value = text(args)?;
            Ok(Key::Header(name.to_ascii_lowercase(), value))
        }
        "BODY" => Ok(Key::Body(text(args)?)),
        "TEXT" => Ok(Key::Text(text(args)?)),
        "MODSEQ" => {
            args.space()?;
            // Optional entry name and type (`"/flags/\\seen" all`), then the number.
            if args.peek() == Some(b'"') {
                args.astring()?;
                args.space()?;
                args.atom()?;
                args.space()?;
            }
            Ok(Key::ModSeq(args.number()?))
        }
        "CHARSET" => {
            args.space()?;
            args.astring()?;
            Ok(Key::All)
        }
        other => Err(format!("unknown SEARCH key {other}")),
    }
}

impl Key {
    /// Whether evaluating needs the message's bytes.
    pub fn needs_body(&self) -> bool {
        match self {
            Key::Header(..)
            | Key::Body(_)
            | Key::Text(_)
            | Key::SentBefore(_)
            | Key::SentOn(_)
            | Key::SentSince(_) => true,
            Key::Not(k) => k.needs_body(),
            Key::Or(a, b) => a.needs_body() || b.needs_body(),
            Key::And(all) => all.iter().any(Key::needs_body),
            _ => false,
        }
    }

    /// Whether a MODSEQ key is among the keys (the answer then reports the highest
    /// modification sequence, RFC 7162 §3.1.5).
    pub fn uses_modseq(&self) -> bool {
        match self {
            Key::ModSeq(_) => true,
            Key::Not(k) => k.uses_modseq(),
            Key::Or(a, b) => a.uses_modseq() || b.uses_modseq(),
            Key::And(all) => all.iter().any(Key::uses_modseq),
            _ => false,
        }
    }

    /// Whether the message matches; `raw` is given when [`Key::needs_body`].
    pub fn matches(&self, m: &Candidate<'_>) -> bool {
        let e = m.entry;
        match self {
            Key::All => true,
            Key::Flag(f, on) => e.has_flag(f) == *on,
            Key::New => false,
            Key::Old => true,
            Key::Recent => false,
            Key::Seq(set) => set.contains(m.seq, m.max_seq),
            Key::Uid(set) => set.contains(e.uid, m.max_uid),
            Key::Not(k) => !k.matches(m),
            Key::Or(a, b) => a.matches(m) || b.matches(m),
            Key::And(all) => all.iter().all(|k| k.matches(m)),
            Key::Larger(n) => e.size > *n,
            Key::Smaller(n) => e.size < *n,
            Key::Before(d) => e.internal_date.date_naive() < *d,
            Key::On(d) => e.internal_date.date_naive() == *d,
            Key::Since(d) => e.internal_date.date_naive() >= *d,
            Key::SentBefore(d) => m.sent().is_some_and(|s| s < *d),
            Key::SentOn(d) => m.sent().is_some_and(|s| s == *d),
            Key::SentSince(d) => m.sent().is_some_and(|s| s >= *d),
            Key::ModSeq(n) => e.modseq >= *n,
            Key::Header(name, value) => m.header_contains(name, value),
            Key::Body(value) => m.body_contains(value),
            Key::Text(value) => m.header_text_contains(value) || m.body_contains(value),
        }
    }
}

/// What a key is evaluated on.
pub struct Candidate<'a> {
    pub seq: u32,
    pub max_seq: u32,
    pub max_uid: u32,
    pub entry: &'a MessageEntry,
    pub raw: Option<&'a [u8]>,
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

impl Candidate<'_> {
    fn split(&self) -> (&[u8], &[u8]) {
        let raw = self.raw.unwrap_or_default();
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
            .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
            .unwrap_or(raw.len());
        raw.split_at(end)
    }

    fn sent(&self) -> Option<NaiveDate> {
        let m = MessageParser::default().parse_headers(self.raw?)?;
        let d = m.date()?;
        chrono::DateTime::from_timestamp(d.to_timestamp(), 0).map(|t| t.date_naive())
    }

    fn header_contains(&self, name: &str, value: &str) -> bool {
        let Some(raw) = self.raw else { return false };
        let Some(m) = MessageParser::default().parse_headers(raw) else {
            return false;
        };
        m.root_part().headers().iter().any(|h| {
            h.name.as_str().eq_ignore_ascii_case(name)
                && raw
                    .get(h.offset_start as usize..h.offset_end as usize)
                    .is_some_and(|v| {
                        let decoded = match &h.value {
                            mail_parser::HeaderValue::Text(t) => t.to_string(),
                            _ => String::from_utf8_lossy(v).into_owned(),
                        };
                        value.is_empty()
                            || contains_ci(&decoded, value)
                            || contains_ci(&String::from_utf8_lossy(v), value)
                    })
        })
    }

    fn header_text_contains(&self, value: &str) -> bool {
        contains_ci(&String::from_utf8_lossy(self.split().0), value)
    }

    fn body_contains(&self, value: &str) -> bool {
        let Some(raw) = self.raw else { return false };
        // Decoded text of every part, so that quoted-printable or base64 bodies match.
        if let Some(m) = MessageParser::default().parse(raw) {
            let decoded = m.parts.iter().any(|p| match &p.body {
                mail_parser::PartType::Text(t) | mail_parser::PartType::Html(t) => {
                    contains_ci(t, value)
                }
                _ => false,
            });
            if decoded {
                return true;
            }
        }
        contains_ci(&String::from_utf8_lossy(self.split().1), value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn entry(uid: u32, flags: &[&str], size: u64) -> MessageEntry {
        MessageEntry {
            uid,
            blob: String::new(),
            size,
            internal_date: chrono::Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap(),
            flags: flags.iter().map(|f| f.to_string()).collect(),
            modseq: u64::from(uid) * 10,
        }
    }

    fn search(text: &str, e: &MessageEntry, raw: &[u8]) -> bool {
        let k = keys(&mut Args::new(text.as_bytes())).unwrap();
        k.matches(&Candidate {
            seq: 1,
            max_seq: 3,
            max_uid: e.uid,
            entry: e,
            raw: Some(raw),
        })
    }

    #[test]
    fn nesting_is_bounded_rather_than_recursing_until_the_stack_overflows() {
        let deep = |n: usize| format!("{}SEEN{}", "(".repeat(n), ")".repeat(n));
        assert!(keys(&mut Args::new(deep(MAX_NESTING - 1).as_bytes())).is_ok());
        for hostile in [
            deep(MAX_NESTING),
            "(".repeat(64 * 1024),
            "NOT ".repeat(16 * 1024) + "SEEN",
            "OR SEEN ".repeat(8 * 1024) + "SEEN",
        ] {
            let refused = keys(&mut Args::new(hostile.as_bytes())).unwrap_err();
            assert!(refused.contains("nested deeper"), "{refused}");
        }
    }

    #[test]
    fn keys_combine_flags_dates_sizes_and_text() {
        let raw = b"From: Dr A <a@mss.example>\r\nSubject: =?utf-8?q?R=C3=A9sultats?=\r\n\
Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n\r\nLe patient va bien.\r\n";
        let e = entry(7, &["\\Seen", "$Urgent"], 500);
        assert!(search("SEEN", &e, raw));
        assert!(!search("UNSEEN", &e, raw));
        assert!(search("KEYWORD $Urgent LARGER 100 SMALLER 1000", &e, raw));
        assert!(search("OR DELETED FROM \"dr a\"", &e, raw));
        assert!(search("SUBJECT résultats", &e, raw));
        assert!(search("BODY \"va bien\" NOT BODY absent", &e, raw));
        assert!(search(
            "SINCE 1-Mar-2026 BEFORE 3-Mar-2026 ON 2-Mar-2026",
            &e,
            raw
        ));
        assert!(search("SENTON 2-Mar-2026", &e, raw));
        assert!(search("UID 5:* MODSEQ 70", &e, raw));
        assert!(!search("MODSEQ 71", &e, raw));
        assert!(search("(SEEN UNDELETED) 1", &e, raw));
        assert!(!search("TEXT nowhere", &e, raw));
    }

    #[test]
    fn bad_keys_are_refused() {
        for bad in ["", "BOGUS", "SINCE yesterday", "OR SEEN", "(SEEN"] {
            assert!(keys(&mut Args::new(bad.as_bytes())).is_err(), "{bad}");
        }
    }
}
