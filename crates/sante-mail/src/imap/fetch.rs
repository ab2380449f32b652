//! FETCH (RFC 9051 §6.4.5): what a client may ask of a message, and the message's
//! ENVELOPE, BODYSTRUCTURE and body sections (with partial ranges) from its bytes.

use mail_parser::{Address, Message, MessageParser, MessagePart, MimeHeaders, PartType};

use super::proto::args::{Args, ParseResult};
use super::proto::response::string;

/// One item of a FETCH request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Uid,
    Flags,
    InternalDate,
    Size,
    Envelope,
    /// BODYSTRUCTURE (`extensible`) or BODY (not).
    Structure {
        extensible: bool,
    },
    ModSeq,
    /// BODY[section]<partial>, BODY.PEEK, RFC822, RFC822.HEADER, RFC822.TEXT.
    Section {
        section: Section,
        partial: Option<(u64, u64)>,
        peek: bool,
        /// How the response names it (RFC822 forms keep their own name).
        label: Label,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Label {
    Body,
    Rfc822,
    Rfc822Header,
    Rfc822Text,
}

/// A body section: a part path and what of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub part: Vec<u32>,
    pub what: SectionText,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    Full,
    Header,
    Text,
    Mime,
    Fields { names: Vec<String>, not: bool },
}

impl Item {
    /// Whether answering this item needs the message's bytes.
    pub fn needs_body(&self) -> bool {
        matches!(
            self,
            Item::Envelope | Item::Structure { .. } | Item::Section { .. }
        )
    }

    /// Whether this item sets `\Seen`.
    pub fn marks_seen(&self) -> bool {
        matches!(self, Item::Section { peek: false, label, .. } if *label != Label::Rfc822Header)
    }
}

/// Parses the items of a FETCH: a macro, one item or a parenthesised list.
pub fn items(args: &mut Args<'_>) -> ParseResult<Vec<Item>> {
    if args.eat(b'(') {
        let mut out = Vec::new();
        loop {
            args.maybe_space();
            if args.eat(b')') {
                break;
            }
            out.extend(item(args)?);
        }
        if out.is_empty() {
            return Err("empty FETCH list".into());
        }
        Ok(out)
    } else {
        item(args)
    }
}

fn item(args: &mut Args<'_>) -> ParseResult<Vec<Item>> {
    let name = args.until(b" ()[<").to_ascii_uppercase();
    Ok(match name.as_str() {
        "ALL" => vec![Item::Flags, Item::InternalDate, Item::Size, Item::Envelope],
        "FAST" => vec![Item::Flags, Item::InternalDate, Item::Size],
        "FULL" => vec![
            Item::Flags,
            Item::InternalDate,
            Item::Size,
            Item::Envelope,
            Item::Structure { extensible: false },
        ],
        "UID" => vec![Item::Uid],
        "FLAGS" => vec![Item::Flags],
        "INTERNALDATE" => vec![Item::InternalDate],
        "RFC822.SIZE" => vec![Item::Size],
        "ENVELOPE" => vec![Item::Envelope],
        "BODYSTRUCTURE" => vec![Item::Structure { extensible: true }],
        "MODSEQ" => vec![Item::ModSeq],
        "RFC822" => vec![whole(Label::Rfc822, SectionText::Full, false)],
        "RFC822.HEADER" => vec![whole(Label::Rfc822Header, SectionText::Header, true)],
        "RFC822.TEXT" => vec![whole(Label::Rfc822Text, SectionText::Text, false)],
        "BODY" | "BODY.PEEK" | "BINARY" | "BINARY.PEEK" => {
            if args.peek() != Some(b'[') {
                if name == "BODY" {
                    return Ok(vec![Item::Structure { extensible: false }]);
                }
                return Err(format!("{name} needs a section"));
            }
            let section = section(args)?;
            let partial = if args.eat(b'<') {
                let start = args.number()?;
                args.expect(b'.')?;
                let len = args.number()?;
                args.expect(b'>')?;
                Some((start, len))
            } else {
                None
            };
            vec![Item::Section {
                section,
                partial,
                peek: name.ends_with(".PEEK"),
                label: Label::Body,
            }]
        }
        "" => return Err("expected a FETCH item".into()),
        other => return Err(format!("unknown FETCH item {other}")),
    })
}

fn whole(label: Label, what: SectionText, peek: bool) -> Item {
    Item::Section {
        section: Section {
            part: Vec::new(),
            what,
        },
        partial: None,
        peek,
        label,
    }
}

fn section(args: &mut Args<'_>) -> ParseResult<Section> {
    args.expect(b'[')?;
    let spec = args.until(b" ]").to_ascii_uppercase();
    let mut part = Vec::new();
    let mut what = SectionText::Full;
    let mut rest = spec.as_str();
    while !rest.is_empty() {
        let (head, tail) = rest.split_once('.').unwrap_or((rest, ""));
        if let Ok(n) = head.parse::<u32>() {
            if n == 0 {
                return Err("part numbers start at 1".into());
            }
            part.push(n);
            rest = tail;
            continue;
        }
        what = match rest {
            "HEADER" => SectionText::Header,
            "TEXT" => SectionText::Text,
            "MIME" if !part.is_empty() => SectionText::Mime,
            "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
                args.space()?;
                let names = args
                    .flag_list()?
                    .into_iter()
                    .map(|n| n.to_ascii_lowercase())
                    .collect();
                SectionText::Fields {
                    names,
                    not: rest.ends_with(".NOT"),
                }
            }
            other => return Err(format!("unknown section {other}")),
        };
        break;
    }
    args.expect(b']')?;
    Ok(Section { part, what })
}

impl Section {
    /// How the response names this section.
    pub fn spec(&self) -> String {
        let mut out: Vec<String> = self.part.iter().map(u32::to_string).collect();
        match &self.what {
            SectionText::Full => {}
            SectionText::Header => out.push("HEADER".into()),
            SectionText::Text => out.push("TEXT".into()),
            SectionText::Mime => out.push("MIME".into()),
            SectionText::Fields { names, not } => {
                let list = names
                    .iter()
                    .map(|n| n.to_ascii_uppercase())
                    .collect::<Vec<_>>()
                    .join(" ");
                out.push(format!(
                    "HEADER.FIELDS{} ({list})",
                    if *not { ".NOT" } else { "" }
                ));
            }
        }
        out.join(".")
    }
}

/// A message parsed once for every item asked of it.
pub struct Parsed<'a> {
    pub raw: &'a [u8],
    pub message: Option<Message<'a>>,
}

impl<'a> Parsed<'a> {
    pub fn new(raw: &'a [u8]) -> Parsed<'a> {
        Parsed {
            raw,
            message: MessageParser::default().parse(raw),
        }
    }

    /// The bytes of a section; empty when the message has no such part.
    pub fn section(&self, section: &Section) -> Vec<u8> {
        let Some(message) = &self.message else {
            return match section.what {
                SectionText::Full if section.part.is_empty() => self.raw.to_vec(),
                _ => Vec::new(),
            };
        };
        // The part addressed, within the message (or nested message) that holds it.
        let mut holder: &Message<'_> = message;
        let mut part: &MessagePart<'_> = message.root_part();
        for (depth, n) in section.part.iter().enumerate() {
            let children = match &part.body {
                PartType::Multipart(children) => children.clone(),
                PartType::Message(inner) if depth > 0 => {
                    holder = inner;
                    match &inner.root_part().body {
                        PartType::Multipart(children) => children.clone(),
                        _ => vec![0],
                    }
                }
                // Part 1 of a single-part message is its body.
                _ if *n == 1 && depth == 0 => vec![0],
                _ => return Vec::new(),
            };
            let Some(next) = children
                .get(*n as usize - 1)
                .and_then(|id| holder.part(*id))
            else {
                return Vec::new();
            };
            part = next;
        }
        let raw = holder.raw_message();
        let slice = |a: u32, b: u32| -> Vec<u8> {
            raw.get(a as usize..(b as usize).min(raw.len()))
                .map(<[u8]>::to_vec)
                .unwrap_or_default()
        };
        let header = || slice(part.offset_header, part.offset_body);
        match &section.what {
            SectionText::Full if section.part.is_empty() => self.raw.to_vec(),
            SectionText::Full => slice(part.offset_body, part.offset_end),
            SectionText::Mime => header(),
            SectionText::Header | SectionText::Fields { .. } => {
                // HEADER of a nested message is that message's header.
                let bytes = match (&part.body, section.part.is_empty()) {
                    (PartType::Message(inner), false) => {
                        let r = inner.raw_message();
                        let root = inner.root_part();
                        r.get(root.offset_header as usize..root.offset_body as usize)
                            .map(<[u8]>::to_vec)
                            .unwrap_or_default()
                    }
                    _ => header(),
                };
                match &section.what {
                    SectionText::Fields { names, not } => header_fields(&bytes, names, *not),
                    _ => bytes,
                }
            }
            SectionText::Text => match (&part.body, section.part.is_empty()) {
                (PartType::Message(inner), false) => {
                    let r = inner.raw_message();
                    let root = inner.root_part();
                    r.get(root.offset_body as usize..)
                        .map(<[u8]>::to_vec)
                        .unwrap_or_default()
                }
                _ => slice(part.offset_body, part.offset_end),
            },
        }
    }
}

/// The header lines (with their continuations) named, or not named, in `names`,
/// followed by the blank line.
fn header_fields(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            let name = line
                .split(|&b| b == b':')
                .next()
                .map(|n| String::from_utf8_lossy(n).trim().to_ascii_lowercase())
                .unwrap_or_default();
            keep = names.contains(&name) != not;
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn nstring(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(v) => string(out, v.as_bytes()),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// ENVELOPE: date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to,
/// message-id, raw as the header gives them (clients decode encoded words).
pub fn envelope(out: &mut Vec<u8>, parsed: &Parsed<'_>) {
    let Some(m) = &parsed.message else {
        out.extend_from_slice(b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
        return;
    };
    let raw = |name: &'static str| m.header_raw(name).map(str::trim);
    out.push(b'(');
    nstring(out, raw("Date"));
    out.push(b' ');
    nstring(out, raw("Subject"));
    let from = m.from();
    for list in [
        from,
        m.sender().or(from),
        m.reply_to().or(from),
        m.to(),
        m.cc(),
        m.bcc(),
    ] {
        out.push(b' ');
        addresses(out, list);
    }
    out.push(b' ');
    nstring(out, raw("In-Reply-To"));
    out.push(b' ');
    nstring(out, raw("Message-ID"));
    out.push(b')');
}

fn addresses(out: &mut Vec<u8>, list: Option<&Address<'_>>) {
    let all: Vec<(Option<&str>, Option<&str>)> = match list {
        Some(Address::List(addrs)) => addrs
            .iter()
            .map(|a| (a.name.as_deref(), a.address.as_deref()))
            .collect(),
        Some(Address::Group(groups)) => groups
            .iter()
            .flat_map(|g| g.addresses.iter())
            .map(|a| (a.name.as_deref(), a.address.as_deref()))
            .collect(),
        None => Vec::new(),
    };
    if all.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (name, address) in all {
        let (mailbox, host) = match address.and_then(|a| a.rsplit_once('@')) {
            Some((l, h)) => (Some(l), Some(h)),
            None => (address, None),
        };
        out.push(b'(');
        nstring(out, name);
        out.extend_from_slice(b" NIL ");
        nstring(out, mailbox);
        out.push(b' ');
        nstring(out, host);
        out.push(b')');
    }
    out.push(b')');
}

/// BODYSTRUCTURE (or BODY without extension data).
pub fn structure(out: &mut Vec<u8>, parsed: &Parsed<'_>, extensible: bool) {
    match &parsed.message {
        Some(m) => part_structure(out, m, m.root_part(), extensible),
        None => out.extend_from_slice(
            format!(
                "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" {} {})",
                parsed.raw.len(),
                parsed.raw.split(|&b| b == b'\n').count()
            )
            .as_bytes(),
        ),
    }
}

fn part_structure(out: &mut Vec<u8>, m: &Message<'_>, part: &MessagePart<'_>, ext: bool) {
    let ctype = part.content_type();
    let main = ctype
        .map(|c| c.c_type.to_ascii_uppercase())
        .unwrap_or_else(|| {
            if part.is_multipart() {
                "MULTIPART".into()
            } else {
                "TEXT".into()
            }
        });
    let sub = ctype
        .and_then(|c| c.c_subtype.as_deref())
        .map(str::to_ascii_uppercase)
        .unwrap_or_else(|| {
            if part.is_multipart() {
                "MIXED".into()
            } else {
                "PLAIN".into()
            }
        });
    let params = |out: &mut Vec<u8>| {
        let attrs: Vec<(String, String)> = ctype
            .and_then(|c| c.attributes())
            .map(|a| {
                a.iter()
                    .map(|a| (a.name.to_ascii_uppercase(), a.value.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        if attrs.is_empty() {
            if main == "TEXT" {
                out.extend_from_slice(b"(\"CHARSET\" \"US-ASCII\")");
            } else {
                out.extend_from_slice(b"NIL");
            }
            return;
        }
        out.push(b'(');
        for (i, (k, v)) in attrs.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            string(out, k.as_bytes());
            out.push(b' ');
            string(out, v.as_bytes());
        }
        out.push(b')');
    };
    let raw = m.raw_message();
    if let PartType::Multipart(children) = &part.body {
        out.push(b'(');
        for id in children {
            if let Some(child) = m.part(*id) {
                part_structure(out, m, child, ext);
            }
        }
        if children.is_empty() {
            out.extend_from_slice(b"(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)");
        }
        out.push(b' ');
        string(out, sub.as_bytes());
        if ext {
            out.push(b' ');
            params(out);
            out.extend_from_slice(b" NIL NIL NIL");
        }
        out.push(b')');
        return;
    }
    let body = raw
        .get(part.offset_body as usize..(part.offset_end as usize).min(raw.len()))
        .unwrap_or_default();
    out.push(b'(');
    string(out, main.as_bytes());
    out.push(b' ');
    string(out, sub.as_bytes());
    out.push(b' ');
    params(out);
    out.push(b' ');
    nstring(out, part.content_id());
    out.push(b' ');
    nstring(out, part.content_description());
    out.push(b' ');
    let encoding = part
        .content_transfer_encoding()
        .map(str::to_ascii_uppercase)
        .unwrap_or_else(|| "7BIT".into());
    string(out, encoding.as_bytes());
    out.extend_from_slice(format!(" {}", body.len()).as_bytes());
    if let PartType::Message(inner) = &part.body {
        out.push(b' ');
        let nested = Parsed {
            raw: inner.raw_message(),
            message: Some(inner.clone()),
        };
        envelope(out, &nested);
        out.push(b' ');
        part_structure(out, inner, inner.root_part(), ext);
    }
    if main == "TEXT" || part.is_message() {
        let lines = body.iter().filter(|&&b| b == b'\n').count();
        out.extend_from_slice(format!(" {lines}").as_bytes());
    }
    if ext {
        out.extend_from_slice(b" NIL ");
        match part.content_disposition() {
            Some(d) => {
                out.push(b'(');
                string(out, d.c_type.to_ascii_uppercase().as_bytes());
                out.push(b' ');
                match d.attributes() {
                    Some(attrs) if !attrs.is_empty() => {
                        out.push(b'(');
                        for (i, a) in attrs.iter().enumerate() {
                            if i > 0 {
                                out.push(b' ');
                            }
                            string(out, a.name.to_ascii_uppercase().as_bytes());
                            out.push(b' ');
                            string(out, a.value.as_bytes());
                        }
                        out.push(b')');
                    }
                    _ => out.extend_from_slice(b"NIL"),
                }
                out.push(b')');
            }
            None => out.extend_from_slice(b"NIL"),
        }
        out.extend_from_slice(b" NIL NIL");
    }
    out.push(b')');
}

/// Applies a partial range `<start.len>`.
pub fn partial(bytes: Vec<u8>, range: Option<(u64, u64)>) -> Vec<u8> {
    match range {
        None => bytes,
        Some((start, len)) => {
            let start = (start as usize).min(bytes.len());
            let end = start.saturating_add(len as usize).min(bytes.len());
            bytes[start..end].to_vec()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"From: Dr A <a@mss.example>\r\nTo: b@mss.example\r\n\
Subject: Results\r\nMessage-ID: <1@x>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n\
--b1\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\n\
Content-Disposition: attachment; filename=\"r.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b1--\r\n";

    fn fetch_items(text: &str) -> Vec<Item> {
        items(&mut Args::new(text.as_bytes())).unwrap()
    }

    #[test]
    fn sections_address_parts_headers_and_ranges() {
        let p = Parsed::new(MIXED);
        let sec = |text: &str| match &fetch_items(text)[0] {
            Item::Section { section, .. } => p.section(section),
            other => panic!("{other:?}"),
        };
        // The line break before a boundary belongs to the boundary (RFC 2046).
        assert_eq!(sec("BODY[1]"), b"Hello".to_vec());
        assert_eq!(sec("BODY.PEEK[2]"), b"JVBERi0=".to_vec());
        assert!(
            String::from_utf8(sec("BODY[2.MIME]"))
                .unwrap()
                .contains("application/pdf")
        );
        assert_eq!(
            sec("BODY[HEADER.FIELDS (SUBJECT TO)]"),
            b"To: b@mss.example\r\nSubject: Results\r\n\r\n".to_vec()
        );
        let header = String::from_utf8(sec("BODY[HEADER]")).unwrap();
        assert!(header.starts_with("From:") && header.ends_with("\r\n\r\n"));
        assert!(sec("BODY[TEXT]").starts_with(b"--b1"));
        assert_eq!(sec("BODY[]"), MIXED.to_vec());
        assert!(sec("BODY[9]").is_empty());
        assert_eq!(
            partial(b"0123456789".to_vec(), Some((2, 3))),
            b"234".to_vec()
        );
        assert_eq!(partial(b"0123".to_vec(), Some((9, 3))), Vec::<u8>::new());
    }

    #[test]
    fn envelope_and_structure_describe_the_message() {
        let p = Parsed::new(MIXED);
        let mut env = Vec::new();
        envelope(&mut env, &p);
        let env = String::from_utf8(env).unwrap();
        assert!(env.contains("\"Results\""), "{env}");
        assert!(
            env.contains("((\"Dr A\" NIL \"a\" \"mss.example\"))"),
            "{env}"
        );
        assert!(env.ends_with("NIL \"<1@x>\")"), "{env}");
        let mut bs = Vec::new();
        structure(&mut bs, &p, true);
        let bs = String::from_utf8(bs).unwrap();
        assert!(
            bs.starts_with("((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\")"),
            "{bs}"
        );
        assert!(
            bs.contains("\"APPLICATION\" \"PDF\" (\"NAME\" \"r.pdf\")"),
            "{bs}"
        );
        assert!(
            bs.contains("(\"ATTACHMENT\" (\"FILENAME\" \"r.pdf\"))"),
            "{bs}"
        );
        assert!(bs.contains(" \"MIXED\" (\"BOUNDARY\" \"b1\")"), "{bs}");
    }

    #[test]
    fn fetch_items_parse_and_unknown_ones_are_refused() {
        assert_eq!(
            fetch_items("FAST"),
            vec![Item::Flags, Item::InternalDate, Item::Size]
        );
        let list = fetch_items("(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM)]<0.100>)");
        assert_eq!(list.len(), 3);
        assert!(!list[2].marks_seen());
        assert!(fetch_items("BODY[]")[0].marks_seen());
        assert!(items(&mut Args::new(b"BOGUS")).is_err());
        assert!(items(&mut Args::new(b"BODY[0]")).is_err());
    }
}
