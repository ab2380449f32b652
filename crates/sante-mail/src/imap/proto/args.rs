//! Reading IMAP command arguments (RFC 9051 §9): atoms, quoted strings, literals
//! (already read in full by the session), parenthesised lists and sequence sets.

/// A cursor over one complete command, literals included inline as `{n}\r\n<bytes>`.
pub struct Args<'a> {
    bytes: &'a [u8],
    at: usize,
}

pub type ParseResult<T> = Result<T, String>;

/// Characters that end an atom.
fn atom_special(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\' | b']'
    ) || b < 0x20
        || b == 0x7f
}

impl<'a> Args<'a> {
    pub fn new(bytes: &'a [u8]) -> Args<'a> {
        Args { bytes, at: 0 }
    }

    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    pub fn at_end(&self) -> bool {
        self.at >= self.bytes.len()
    }

    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, b: u8) -> ParseResult<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(format!("expected '{}'", b as char))
        }
    }

    /// One space (clients sometimes send more; tolerated).
    pub fn space(&mut self) -> ParseResult<()> {
        if !self.eat(b' ') {
            return Err("expected a space".into());
        }
        while self.eat(b' ') {}
        Ok(())
    }

    /// Skips an optional space; true when one was there.
    pub fn maybe_space(&mut self) -> bool {
        let had = self.eat(b' ');
        while self.eat(b' ') {}
        had
    }

    pub fn end(&self) -> ParseResult<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err("unexpected characters at the end of the command".into())
        }
    }

    /// An atom, which may include `]` when `allow_bracket` (not used) and `\` flags.
    pub fn atom(&mut self) -> ParseResult<String> {
        let start = self.at;
        // A flag's leading backslash is part of the atom.
        if self.peek() == Some(b'\\') {
            self.at += 1;
        }
        while let Some(b) = self.peek() {
            if atom_special(b) {
                break;
            }
            self.at += 1;
        }
        if self.at == start {
            return Err("expected an atom".into());
        }
        Ok(String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned())
    }

    /// The characters up to (not including) one of `stops`.
    pub fn until(&mut self, stops: &[u8]) -> String {
        let start = self.at;
        while let Some(b) = self.peek() {
            if stops.contains(&b) {
                break;
            }
            self.at += 1;
        }
        String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned()
    }

    pub fn number(&mut self) -> ParseResult<u64> {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        std::str::from_utf8(&self.bytes[start..self.at])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "expected a number".to_owned())
    }

    fn quoted(&mut self) -> ParseResult<Vec<u8>> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("unterminated quoted string".into()),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let Some(b) = self.peek() else {
                        return Err("unterminated quoted string".into());
                    };
                    out.push(b);
                    self.at += 1;
                }
                Some(b'\r' | b'\n') => return Err("line break in a quoted string".into()),
                Some(b) => {
                    out.push(b);
                    self.at += 1;
                }
            }
        }
    }

    fn literal(&mut self) -> ParseResult<Vec<u8>> {
        self.expect(b'{')?;
        let n = self.number()? as usize;
        self.eat(b'+');
        self.expect(b'}')?;
        self.expect(b'\r')?;
        self.expect(b'\n')?;
        let Some(end) = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
        else {
            return Err("literal shorter than announced".into());
        };
        let out = self.bytes[self.at..end].to_vec();
        self.at = end;
        Ok(out)
    }

    /// A string: quoted or literal.
    pub fn string(&mut self) -> ParseResult<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(),
            _ => Err("expected a string".into()),
        }
    }

    /// An astring: an atom (with `]` allowed) or a string.
    pub fn astring(&mut self) -> ParseResult<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let start = self.at;
                while let Some(b) = self.peek() {
                    if atom_special(b) && b != b']' {
                        break;
                    }
                    self.at += 1;
                }
                if self.at == start {
                    return Err("expected a string".into());
                }
                Ok(self.bytes[start..self.at].to_vec())
            }
        }
    }

    pub fn astring_text(&mut self) -> ParseResult<String> {
        let bytes = self.astring()?;
        String::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())
    }

    /// A mailbox name or LIST pattern (which may hold `*` and `%`).
    pub fn list_mailbox(&mut self) -> ParseResult<String> {
        match self.peek() {
            Some(b'"' | b'{') => self.astring_text(),
            _ => {
                let start = self.at;
                while let Some(b) = self.peek() {
                    if b == b' ' || b == b'(' || b == b')' || b < 0x20 {
                        break;
                    }
                    self.at += 1;
                }
                // Nothing read is no name: a caller looping over names (LIST's
                // pattern list) would otherwise loop for ever without progress.
                if self.at == start {
                    return Err("expected a mailbox name or pattern".into());
                }
                Ok(String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned())
            }
        }
    }

    /// A parenthesised list of flags: `(\Seen $Label)`.
    pub fn flag_list(&mut self) -> ParseResult<Vec<String>> {
        self.expect(b'(')?;
        let mut flags = Vec::new();
        loop {
            self.maybe_space();
            if self.eat(b')') {
                return Ok(flags);
            }
            flags.push(self.atom()?);
        }
    }

    /// A sequence set: `1:4,7,9:*`.
    pub fn sequence_set(&mut self) -> ParseResult<SequenceSet> {
        if self.eat(b'$') {
            return Ok(SequenceSet::Saved);
        }
        let mut ranges = Vec::new();
        loop {
            let a = self.seq_number()?;
            let b = if self.eat(b':') {
                self.seq_number()?
            } else {
                a
            };
            ranges.push((a, b));
            if !self.eat(b',') {
                break;
            }
        }
        Ok(SequenceSet::Ranges(ranges))
    }

    fn seq_number(&mut self) -> ParseResult<Bound> {
        if self.eat(b'*') {
            return Ok(Bound::Star);
        }
        let n = self.number()?;
        if n == 0 || n > u64::from(u32::MAX) {
            return Err("sequence numbers start at 1".into());
        }
        Ok(Bound::N(n as u32))
    }

    /// The rest of the command.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.bytes[self.at..];
        self.at = self.bytes.len();
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    N(u32),
    /// The largest number in use.
    Star,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSet {
    Ranges(Vec<(Bound, Bound)>),
    /// `$`, the saved search result (RFC 5182): not kept by this server, empty.
    Saved,
}

impl SequenceSet {
    /// Whether `n` is in the set, `max` being what `*` stands for.
    pub fn contains(&self, n: u32, max: u32) -> bool {
        match self {
            SequenceSet::Saved => false,
            SequenceSet::Ranges(ranges) => ranges.iter().any(|(a, b)| {
                let value = |x: &Bound| match x {
                    Bound::N(v) => *v,
                    Bound::Star => max,
                };
                let (lo, hi) = (value(a).min(value(b)), value(a).max(value(b)));
                (lo..=hi).contains(&n)
            }),
        }
    }
}

/// Parses an IMAP date (`1-Feb-2026`), as SEARCH uses.
pub fn date(text: &str) -> ParseResult<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text.trim_matches('"'), "%d-%b-%Y")
        .map_err(|_| format!("not a date (d-Mon-yyyy): {text}"))
}

/// Parses an IMAP date-time (`"01-Feb-2026 10:00:00 +0100"`), as APPEND uses.
pub fn date_time(text: &str) -> ParseResult<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_str(text.trim(), "%d-%b-%Y %H:%M:%S %z")
        .map(|d| d.with_timezone(&chrono::Utc))
        .map_err(|_| format!("not a date-time: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_atoms_literals_and_sets() {
        let mut a = Args::new(b"\"a \\\"b\\\"\" atom {3}\r\nxyz (\\Seen $Work) 1:3,5,7:*");
        assert_eq!(a.astring().unwrap(), b"a \"b\"");
        a.space().unwrap();
        assert_eq!(a.atom().unwrap(), "atom");
        a.space().unwrap();
        assert_eq!(a.astring().unwrap(), b"xyz");
        a.space().unwrap();
        assert_eq!(a.flag_list().unwrap(), vec!["\\Seen", "$Work"]);
        a.space().unwrap();
        let set = a.sequence_set().unwrap();
        a.end().unwrap();
        assert!(set.contains(2, 10) && set.contains(5, 10) && set.contains(10, 10));
        assert!(!set.contains(4, 10) && !set.contains(6, 10));
        // `4:2` is the same as `2:4`; `*` stands for the largest.
        let mut b = Args::new(b"4:2,*");
        let set = b.sequence_set().unwrap();
        assert!(set.contains(3, 9) && set.contains(9, 9) && !set.contains(8, 9));
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        assert!(Args::new(b"\"open").astring().is_err());
        assert!(Args::new(b"{10}\r\nshort").astring().is_err());
        assert!(Args::new(b"0:3").sequence_set().is_err());
        assert!(Args::new(b"(\\Seen").flag_list().is_err());
        // Found by fuzzing: a literal's size near usize::MAX overflowed the bounds
        // check, and an empty unquoted pattern let LIST's pattern list loop for ever.
        assert!(Args::new(b"{18446744073709551615}\r\nx").astring().is_err());
        assert!(Args::new(b"").list_mailbox().is_err());
        assert!(Args::new(b"(rest").list_mailbox().is_err());
        assert_eq!(Args::new(b"\"\"").list_mailbox().unwrap(), "");
        assert!(date("31-Foo-2026").is_err());
        assert_eq!(
            date_time("01-Feb-2026 10:00:00 +0100")
                .unwrap()
                .to_rfc3339(),
            "2026-02-01T09:00:00+00:00"
        );
    }
}
