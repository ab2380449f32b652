//! Writing responses (RFC 9051 §7): status lines, strings quoted or sent as literals
//! as their bytes require, mailbox names in the client's spelling, flag lists and
//! compact sets.

use super::mutf7::Names;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        }
    }
}

/// The completion of a command: status, optional response code, human text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub status: Status,
    pub code: Option<String>,
    pub text: String,
}

pub fn ok(text: &str) -> Done {
    done(Status::Ok, None, text)
}

pub fn ok_code(code: String, text: &str) -> Done {
    done(Status::Ok, Some(code), text)
}

pub fn no(text: &str) -> Done {
    done(Status::No, None, text)
}

pub fn no_code(code: &str, text: &str) -> Done {
    done(Status::No, Some(code.to_owned()), text)
}

pub fn bad(text: &str) -> Done {
    done(Status::Bad, None, text)
}

fn done(status: Status, code: Option<String>, text: &str) -> Done {
    Done {
        status,
        code,
        text: text.to_owned(),
    }
}

/// Human text on a status line: one line, whatever a refusal's message holds.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// `* <line>`.
pub fn untagged(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(b"* ");
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `<tag> OK [CODE] text`.
pub fn tagged(out: &mut Vec<u8>, tag: &str, done: &Done) {
    out.extend_from_slice(tag.as_bytes());
    out.push(b' ');
    out.extend_from_slice(done.status.word().as_bytes());
    out.push(b' ');
    if let Some(code) = &done.code {
        out.push(b'[');
        out.extend_from_slice(one_line(code).as_bytes());
        out.extend_from_slice(b"] ");
    }
    out.extend_from_slice(one_line(&done.text).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Longer strings go as literals: a client need not scan them for escapes.
const QUOTED_MAX: usize = 1024;

/// A string: quoted (with `"` and `\` escaped) when every byte is 7-bit text, a
/// literal otherwise (line ends, NUL, 8-bit bytes, or long).
pub fn string(out: &mut Vec<u8>, value: &[u8]) {
    let text = value.len() < QUOTED_MAX
        && value
            .iter()
            .all(|&b| b != 0 && b != b'\r' && b != b'\n' && b.is_ascii());
    if text {
        quote_into(out, value);
    } else {
        literal(out, value);
    }
}

fn quote_into(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    for &b in value {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

pub fn literal(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", value.len()).as_bytes());
    out.extend_from_slice(value);
}

/// A string for a line built as text (a tag, a name without line ends).
pub fn quoted(value: &str) -> String {
    let mut out = Vec::new();
    string(&mut out, value.as_bytes());
    String::from_utf8_lossy(&out).into_owned()
}

/// A mailbox name in the client's spelling: modified UTF-7 (always 7-bit), or UTF-8
/// in a quoted string, which RFC 6855 §3 allows once UTF-8 is enabled.
pub fn mailbox(names: Names, name: &str) -> String {
    let spelled = names.encode(name);
    let controls = spelled.chars().any(char::is_control);
    if names == Names::Utf8 && !controls && spelled.len() < QUOTED_MAX {
        let mut out = Vec::new();
        quote_into(&mut out, spelled.as_bytes());
        return String::from_utf8_lossy(&out).into_owned();
    }
    quoted(&spelled)
}

/// `(\Seen \Flagged)`.
pub fn flag_list(flags: &[String]) -> String {
    format!("({})", flags.join(" "))
}

/// UIDs as a compact set: `1:3,7`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// UIDs in the order given (COPYUID pairs them by position).
pub fn join(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_or_literal_as_their_bytes_require() {
        let rows: &[(&[u8], &str)] = &[
            (b"Bilan", "\"Bilan\""),
            (b"", "\"\""),
            (b"say \"hi\"", "\"say \\\"hi\\\"\""),
            (b"C:\\dir", "\"C:\\\\dir\""),
            (b"two\r\nlines", "{10}\r\ntwo\r\nlines"),
            ("Résultats".as_bytes(), "{10}\r\nRésultats"),
            (b"nul\0", "{4}\r\nnul\0"),
        ];
        for (value, wire) in rows {
            let mut out = Vec::new();
            string(&mut out, value);
            assert_eq!(String::from_utf8_lossy(&out), *wire);
        }
        let mut long = Vec::new();
        string(&mut long, &[b'a'; 1024]);
        assert!(long.starts_with(b"{1024}\r\n"));
    }

    #[test]
    fn mailbox_names_follow_the_client() {
        assert_eq!(mailbox(Names::ModifiedUtf7, "Entwürfe"), "\"Entw&APw-rfe\"");
        assert_eq!(mailbox(Names::Utf8, "Entwürfe"), "\"Entwürfe\"");
        assert_eq!(mailbox(Names::Utf8, "a \"b\""), "\"a \\\"b\\\"\"");
        assert_eq!(mailbox(Names::ModifiedUtf7, "A&B"), "\"A&-B\"");
    }

    #[test]
    fn status_lines_are_one_line() {
        let mut out = Vec::new();
        tagged(&mut out, "a1", &no_code("CANNOT", "bad\r\nname"));
        assert_eq!(out, b"a1 NO [CANNOT] bad  name\r\n");
        out.clear();
        tagged(&mut out, "a2", &ok("done"));
        assert_eq!(out, b"a2 OK done\r\n");
    }

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[5, 1, 2, 3, 9, 10]), "1:3,5,9:10");
        assert_eq!(uid_set(&[]), "");
        assert_eq!(join(&[3, 1, 2]), "3,1,2");
    }
}
