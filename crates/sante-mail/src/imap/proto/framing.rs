//! Cutting the client's byte stream into whole commands (RFC 9051 §2.2, §4.3):
//! a command is one line, or several when it carries literals (`{n}` synchronising,
//! the client waiting for `+`; `{n+}` of LITERAL+, sent at once). The framer only
//! looks at the bytes the session has buffered and says what it needs next, so the
//! literal policy is tested without a socket.

use zeroize::Zeroizing;

/// How much the framer accepts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest line (without its literals) buffered while waiting for its end.
    pub line: usize,
    /// The largest literal: a few bytes before login (LOGIN and AUTHENTICATE only
    /// take literals then), a message's size after.
    pub literal: usize,
}

/// What the framer found in the buffered input.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole command, literals inline as `{n}\r\n<bytes>`, without the final CRLF.
    /// Zeroized when dropped: a LOGIN password is in it.
    Command(Zeroizing<Vec<u8>>),
    /// More input is needed.
    Incomplete,
    /// A synchronising literal was announced and accepted: the session sends
    /// `+ go ahead`, then calls again once more input came.
    Continue,
    /// No line end within [`Limits::line`]: the session ends (nothing can be resynchronised).
    LineTooLong,
    /// A synchronising literal larger than [`Limits::literal`]: the command is
    /// dropped and answered BAD; the client has not sent the literal.
    LiteralRefused { size: usize },
    /// A non-synchronising literal too large: the client sends it anyway, so it cannot
    /// be skipped safely and the session ends.
    LiteralTooBig { size: usize },
}

/// The command being assembled across reads.
#[derive(Default)]
pub struct Framer {
    command: Zeroizing<Vec<u8>>,
    /// Bytes of an accepted literal still to come.
    awaiting: Option<usize>,
}

impl Framer {
    /// Consumes from `input` what makes progress on the current command.
    pub fn next(&mut self, input: &mut Vec<u8>, limits: Limits) -> Frame {
        loop {
            if let Some(size) = self.awaiting {
                if input.len() < size {
                    return Frame::Incomplete;
                }
                self.command.extend(input.drain(..size));
                self.awaiting = None;
            }
            let Some(end) = input.iter().position(|&b| b == b'\n') else {
                if input.len() > limits.line {
                    return Frame::LineTooLong;
                }
                return Frame::Incomplete;
            };
            let line = Zeroizing::new(input.drain(..=end).collect::<Vec<u8>>());
            let body = line
                .strip_suffix(b"\r\n")
                .or_else(|| line.strip_suffix(b"\n"))
                .unwrap_or(&line);
            let literal = announced_literal(body);
            self.command.extend_from_slice(body);
            let Some((size, synchronising)) = literal else {
                return Frame::Command(std::mem::take(&mut self.command));
            };
            if size > limits.literal {
                self.command = Zeroizing::default();
                return if synchronising {
                    Frame::LiteralRefused { size }
                } else {
                    Frame::LiteralTooBig { size }
                };
            }
            self.command.extend_from_slice(b"\r\n");
            self.awaiting = Some(size);
            if synchronising {
                return Frame::Continue;
            }
        }
    }
}

/// A literal announced at the end of a line: `{n}` (synchronising) or `{n+}`.
fn announced_literal(line: &[u8]) -> Option<(usize, bool)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&c| c == b'{')?;
    let spec = &inner[open + 1..];
    let (digits, synchronising) = match spec.strip_suffix(b"+") {
        Some(d) => (d, false),
        None => (spec, true),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((size, synchronising))
}

/// One line of a SASL exchange or the DONE of IDLE, without its line end; `None`
/// while it is not whole.
pub fn line(input: &mut Vec<u8>) -> Option<Zeroizing<Vec<u8>>> {
    let end = input.iter().position(|&b| b == b'\n')?;
    let line = Zeroizing::new(input.drain(..=end).collect::<Vec<u8>>());
    let body = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))
        .unwrap_or(&line);
    Some(Zeroizing::new(body.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        line: 64,
        literal: 10,
    };

    fn command(text: &[u8]) -> Frame {
        Frame::Command(Zeroizing::new(text.to_vec()))
    }

    /// What a row describes, the chunks the client sends one after the other, and
    /// what the framer answers after each.
    type Row<'a> = (&'a str, &'a [&'a [u8]], &'a [Frame]);

    #[test]
    fn commands_are_cut_at_line_ends_and_literals() {
        let rows: &[Row<'_>] = &[
            ("one line", &[b"a1 NOOP\r\n"], &[command(b"a1 NOOP")]),
            ("bare LF accepted", &[b"a1 NOOP\n"], &[command(b"a1 NOOP")]),
            (
                "a line in two reads",
                &[b"a1 NO", b"OP\r\n"],
                &[Frame::Incomplete, command(b"a1 NOOP")],
            ),
            (
                "synchronising literal: continuation, then the rest",
                &[b"a1 LOGIN {4}\r\n", b"joe  secret\r\n"],
                &[Frame::Continue, command(b"a1 LOGIN {4}\r\njoe  secret")],
            ),
            (
                "LITERAL+ needs no continuation",
                &[b"a1 LOGIN {3+}\r\njoe secret\r\n"],
                &[command(b"a1 LOGIN {3+}\r\njoe secret")],
            ),
            (
                "a literal split across reads",
                &[b"a1 LOGIN {3+}\r\njo", b"e x\r\n"],
                &[Frame::Incomplete, command(b"a1 LOGIN {3+}\r\njoe x")],
            ),
            (
                "two literals",
                &[b"a1 LOGIN {1}\r\n", b"a {1}\r\n", b"b\r\n"],
                &[
                    Frame::Continue,
                    Frame::Continue,
                    command(b"a1 LOGIN {1}\r\na {1}\r\nb"),
                ],
            ),
            (
                "a literal with a line end inside",
                &[b"a1 APPEND x {4+}\r\n\r\n\r\n\r\n"],
                &[command(b"a1 APPEND x {4+}\r\n\r\n\r\n")],
            ),
            (
                "too big synchronising literal: refused, next command read",
                &[b"a1 APPEND x {11}\r\n", b"a2 NOOP\r\n"],
                &[Frame::LiteralRefused { size: 11 }, command(b"a2 NOOP")],
            ),
            (
                "too big LITERAL+: the session must end",
                &[b"a1 APPEND x {11+}\r\n"],
                &[Frame::LiteralTooBig { size: 11 }],
            ),
            (
                "no line end within the limit",
                &[&[b'a'; 65]],
                &[Frame::LineTooLong],
            ),
            (
                "braces that are not a literal",
                &[b"a1 SEARCH SUBJECT {x}\r\n"],
                &[command(b"a1 SEARCH SUBJECT {x}")],
            ),
        ];
        for (what, chunks, expected) in rows {
            let mut framer = Framer::default();
            let mut input = Vec::new();
            for (chunk, want) in chunks.iter().zip(expected.iter()) {
                input.extend_from_slice(chunk);
                assert_eq!(&framer.next(&mut input, LIMITS), want, "{what}");
            }
        }
    }

    #[test]
    fn pipelined_commands_come_one_by_one() {
        let mut framer = Framer::default();
        let mut input = b"a1 NOOP\r\na2 CAPABILITY\r\na3".to_vec();
        assert_eq!(framer.next(&mut input, LIMITS), command(b"a1 NOOP"));
        assert_eq!(framer.next(&mut input, LIMITS), command(b"a2 CAPABILITY"));
        assert_eq!(framer.next(&mut input, LIMITS), Frame::Incomplete);
        assert_eq!(input, b"a3");
    }

    #[test]
    fn sasl_lines() {
        let mut input = b"AGpvZQBzZWNyZXQ=\r\nrest".to_vec();
        assert_eq!(line(&mut input).unwrap().as_slice(), b"AGpvZQBzZWNyZXQ=");
        assert!(line(&mut input).is_none());
        assert_eq!(input, b"rest");
    }
}
