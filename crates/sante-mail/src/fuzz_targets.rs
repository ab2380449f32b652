//! Fuzz targets of the mail front ends (issue 14, item 6): what a mail program sends
//! before anything is decided — IMAP's framer and command parser, modified UTF-7
//! mailbox names, SMTP command lines and the end of DATA as the server reads them,
//! SASL PLAIN, and POP3 commands. Each replays its corpus in `fuzz/<target>/` and
//! then mutates it for the budget `sante-fuzz` sets.

use sante_fuzz::target;
use smtp_proto::Request;
use smtp_proto::request::receiver::DataReceiver;

use crate::imap::proto::command;
use crate::imap::proto::framing::{Frame, Framer, Limits};
use crate::imap::proto::mutf7::{self, Names};

const IMAP_TOKENS: &[&[u8]] = &[
    b"\r\n",
    b" ",
    b"(",
    b")",
    b"{",
    b"}",
    b"{5}\r\n",
    b"{3+}\r\n",
    b"\"",
    b"\\",
    b"UID ",
    b"FETCH ",
    b"SEARCH ",
    b"STORE ",
    b"BODY[",
    b"BODY.PEEK[HEADER.FIELDS (",
    b"]",
    b"<0.10>",
    b"1:*",
    b"*",
    b"$",
    b",",
    b"NOT ",
    b"OR ",
    b"HEADER ",
    b"CHARSET ",
    b"MODSEQ ",
    b"RETURN (",
    b"&",
    b"&-",
    b"&AOk-",
    b"+FLAGS (",
    b"\\Seen",
    b"LOGIN ",
    b"AUTHENTICATE ",
    b"APPEND ",
    b"INBOX",
    b"\x00",
    b"\xff",
];

#[test]
fn imap_framer() {
    // The input as the network cuts it: the first byte sets the size of the reads.
    target!("imap_framer").tokens(IMAP_TOKENS).run(|input| {
        let limits = Limits {
            line: 256,
            literal: 1024,
        };
        let step = usize::from(input.first().copied().unwrap_or(1).max(1));
        let mut framer = Framer::default();
        let mut buffered = Vec::new();
        let mut framed = 0;
        for chunk in input.chunks(step) {
            buffered.extend_from_slice(chunk);
            loop {
                match framer.next(&mut buffered, limits) {
                    Frame::Command(c) => framed += c.len(),
                    Frame::Continue => {}
                    Frame::Incomplete => break,
                    Frame::LineTooLong | Frame::LiteralTooBig { .. } => return,
                    Frame::LiteralRefused { size } => assert!(size > limits.literal),
                }
                // What waits for a line end never exceeds the line limit by more
                // than one read.
                assert!(buffered.len() <= limits.line + step + limits.literal);
            }
        }
        // A command holds the bytes sent, at most with CRLF where LF ended a line.
        assert!(framed <= input.len() * 2);
    });
}

#[test]
fn imap_command() {
    target!("imap_command").tokens(IMAP_TOKENS).run(|input| {
        for names in [Names::ModifiedUtf7, Names::Utf8] {
            if let Ok(request) = command::parse(input, names) {
                assert!(!request.tag.is_empty());
            }
        }
    });
}

#[test]
fn imap_mailbox_names() {
    target!("imap_mailbox_names")
        .tokens(&[b"&", b"-", b"&-", b"&AOk-", b"&2D3cAA-", b"/", b"\x7f"])
        .run(|input| {
            let wire = String::from_utf8_lossy(input);
            if let Ok(name) = mutf7::decode(&wire) {
                // What a client may send decodes to a name that encodes back to a
                // spelling decoding to the same name.
                assert_eq!(mutf7::decode(&mutf7::encode(&name)).as_deref(), Ok(&*name));
            }
        });
}

const SMTP_TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b":",
    b"<",
    b">",
    b"@",
    b"MAIL FROM:",
    b"RCPT TO:",
    b"EHLO ",
    b"AUTH PLAIN ",
    b"BDAT ",
    b" SIZE=",
    b" BODY=8BITMIME",
    b" SMTPUTF8",
    b" NOTIFY=",
    b" ORCPT=",
    b" RET=HDRS",
    b" ENVID=",
    b"\"",
    b"\\",
    b"xtext+2B",
    b"\r\n.\r\n",
    b"\n.\n",
    b"\r.\r",
    b".\r\n",
    b"..",
    b"\x00",
    b"\xff",
];

#[test]
fn smtp_command_lines() {
    // Lines as the server cuts them (at LF, CRLF kept), parsed as it parses them.
    target!("smtp_command_lines")
        .tokens(SMTP_TOKENS)
        .run(|input| {
            for line in input.split_inclusive(|&b| b == b'\n') {
                let _ = Request::parse(&mut line.iter());
            }
        });
}

#[test]
fn smtp_end_of_data() {
    // DATA as the server reads it. Where the codec ends the message elsewhere than at
    // the first CRLF.CRLF, the message holds a bare CR or LF, which the messaging
    // service refuses and on which the session ends: nothing behind such an ending is
    // ever read as commands (CVE-2023-51764; the mail test sends each variant).
    target!("smtp_end_of_data")
        .tokens(SMTP_TOKENS)
        .run(|input| {
            let step = usize::from(input.first().copied().unwrap_or(1).max(1));
            let mut receiver = DataReceiver::new();
            let mut message = Vec::new();
            let mut read = 0;
            for chunk in input.chunks(step) {
                let mut it = chunk.iter();
                let done = receiver.ingest(&mut it, &mut message);
                read += chunk.len() - it.len();
                if done {
                    // (A lone "." first is content to this codec: the data then goes on,
                    // which swallows more, never less.)
                    let first_end = input
                        .windows(5)
                        .position(|w| w == b"\r\n.\r\n")
                        .map(|at| at + 5);
                    if Some(read) != first_end {
                        assert!(
                            sante_messaging::service::has_bare_line_break(&message),
                            "data ended after {read} bytes, not at the first CRLF.CRLF, \
                         and the message would be accepted"
                        );
                    }
                    return;
                }
            }
        });
}

#[test]
fn sasl_plain() {
    target!("sasl_plain")
        .tokens(&[b"\x00", b"user@example.org", b"@"])
        .run(|input| {
            if let Some((login, password)) = crate::auth::plain_credentials(input) {
                assert!(!login.contains('\0') && !password.contains('\0'));
            }
        });
}

#[test]
fn pop3_multi_line_answers() {
    // RETR and TOP send a stored message as a multi-line answer: whatever it holds, the
    // mail program sees the answer end at its final "." and nowhere before, so a
    // message cannot forge the server's next answers. TOP never sends more than the
    // message.
    target!("pop3_multi_line_answers")
        .tokens(&[
            b"\r\n",
            b".",
            b"\r\n.\r\n",
            b"\r\n\r\n",
            b"\n",
            b"\r",
            b"+OK ",
        ])
        .run(|input| {
            let lines = usize::from(input.first().copied().unwrap_or(0) % 8);
            let top = crate::pop3::top(input, lines);
            assert!(input.starts_with(top));
            for body in [input, top] {
                let mut answer = b"\r\n".to_vec();
                crate::pop3::byte_stuff(body, &mut answer);
                let end = answer.windows(5).position(|w| w == b"\r\n.\r\n");
                assert_eq!(
                    end,
                    Some(answer.len() - 5),
                    "{:?}",
                    String::from_utf8_lossy(&answer)
                );
            }
        });
}
