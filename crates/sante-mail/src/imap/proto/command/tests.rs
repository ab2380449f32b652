//! Wire text to typed command, one row per command form the server accepts.

use super::*;

fn parsed(wire: &str, names: Names) -> String {
    match parse(wire.as_bytes(), names) {
        Ok(request) => match request.command {
            Ok(command) => format!("{} {command:?}", request.tag),
            Err(why) => format!("{} {:?} BAD {why}", request.tag, request.verb),
        },
        Err(unreadable) => format!("{unreadable:?}"),
    }
}

/// Each row: what the client sends (one whole command, as the framer delivers it)
/// and the typed command, or the verb and the reason it is refused.
#[test]
fn every_command_parses_to_its_type() {
    let rows: &[(&str, &str)] = &[
        ("a CAPABILITY", "a Capability"),
        ("a noop", "a Noop"),
        ("a CHECK", "a Noop"),
        ("a LOGOUT", "a Logout"),
        ("a ID (\"name\" \"Thunderbird\")", "a Id"),
        (
            "a LOGIN joe secret",
            "a Login { login: \"joe\", password: Password(..) }",
        ),
        (
            "a LOGIN \"dr meyer@sante.lu\" {6}\r\nsecret",
            "a Login { login: \"dr meyer@sante.lu\", password: Password(..) }",
        ),
        ("a LOGIN joe", "a Login BAD expected a space"),
        (
            "a LOGIN joe pass extra",
            "a Login BAD unexpected characters at the end of the command",
        ),
        (
            "a AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=",
            "a Authenticate { mechanism: Plain, initial: Some(Zeroizing { .. }) }",
        ),
        (
            "a authenticate plain",
            "a Authenticate { mechanism: Plain, initial: None }",
        ),
        (
            "a AUTHENTICATE EXTERNAL =",
            "a Authenticate { mechanism: External, initial: Some(Zeroizing { .. }) }",
        ),
        (
            "a AUTHENTICATE CRAM-MD5",
            "a Authenticate { mechanism: Other(\"CRAM-MD5\"), initial: None }",
        ),
        (
            "a AUTHENTICATE",
            "a Authenticate BAD AUTHENTICATE needs a mechanism",
        ),
        (
            "a ENABLE CONDSTORE imap4rev2",
            "a Enable([\"CONDSTORE\", \"IMAP4REV2\"])",
        ),
        ("a ENABLE (x)", "a Enable BAD ENABLE takes capability names"),
        (
            "a SELECT INBOX",
            "a Select { name: \"INBOX\", read_only: false, condstore: false }",
        ),
        (
            "a SELECT \"Sent\" (CONDSTORE)",
            "a Select { name: \"Sent\", read_only: false, condstore: true }",
        ),
        (
            "a EXAMINE Archive",
            "a Select { name: \"Archive\", read_only: true, condstore: false }",
        ),
        ("a SELECT", "a Select BAD expected a space"),
        (
            "a CREATE Dossiers/Cardiologie",
            "a Create(\"Dossiers/Cardiologie\")",
        ),
        ("a CREATE Entw&APw-rfe", "a Create(\"Entwürfe\")"),
        ("a CREATE \"Projets &- co\"", "a Create(\"Projets & co\")"),
        (
            "a CREATE &AMk",
            "a Create BAD not a modified UTF-7 mailbox name: &AMk",
        ),
        ("a DELETE Old", "a Delete(\"Old\")"),
        (
            "a DELETE &AMk-l&AOk-ments envoy&AOk-s",
            "a Delete BAD unexpected characters at the end of the command",
        ),
        (
            "a DELETE \"&AMk-l&AOk-ments envoy&AOk-s\"",
            "a Delete(\"Éléments envoyés\")",
        ),
        (
            "a RENAME Old New",
            "a Rename { from: \"Old\", to: \"New\" }",
        ),
        ("a RENAME Old", "a Rename BAD expected a space"),
        (
            "a SUBSCRIBE Work",
            "a Subscribe { name: \"Work\", on: true }",
        ),
        (
            "a UNSUBSCRIBE Work",
            "a Subscribe { name: \"Work\", on: false }",
        ),
        (
            "a LIST \"\" *",
            "a List { lsub: false, subscribed_only: false, reference: \"\", patterns: [\"*\"] }",
        ),
        (
            "a LIST (SUBSCRIBED) \"\" (\"INBOX\" Dossiers/%) RETURN (SPECIAL-USE)",
            "a List { lsub: false, subscribed_only: true, reference: \"\", patterns: [\"INBOX\", \"Dossiers/%\"] }",
        ),
        (
            "a LIST \"\" P&AOk-diatrie/*",
            "a List { lsub: false, subscribed_only: false, reference: \"\", patterns: [\"Pédiatrie/*\"] }",
        ),
        (
            "a LSUB \"\" %",
            "a List { lsub: true, subscribed_only: true, reference: \"\", patterns: [\"%\"] }",
        ),
        ("a NAMESPACE", "a Namespace"),
        (
            "a STATUS INBOX (MESSAGES UIDNEXT uidvalidity UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ)",
            "a Status { name: \"INBOX\", items: [Messages, UidNext, UidValidity, Unseen, Deleted, Size, Recent, HighestModSeq] }",
        ),
        (
            "a STATUS INBOX (WHATEVER)",
            "a Status BAD unknown STATUS item WHATEVER",
        ),
        (
            "a APPEND Drafts (\\Draft \\Seen) \"01-Feb-2026 10:00:00 +0100\" {7+}\r\nSubject",
            "a Append { folder: \"Drafts\", flags: [\"\\\\Draft\", \"\\\\Seen\"], internal_date: Some(2026-02-01T09:00:00Z), message: [83, 117, 98, 106, 101, 99, 116] }",
        ),
        (
            "a APPEND INBOX UTF8 (~{2}\r\nhi)",
            "a Append BAD expected a string",
        ),
        (
            "a APPEND INBOX UTF8 ({2}\r\nhi)",
            "a Append { folder: \"INBOX\", flags: [], internal_date: None, message: [104, 105] }",
        ),
        (
            "a APPEND INBOX \"31-Foo-2026 10:00:00 +0000\" {1}\r\nx",
            "a Append BAD not a date-time: 31-Foo-2026 10:00:00 +0000",
        ),
        ("a GETQUOTA \"\"", "a GetQuota(\"\")"),
        ("a GETQUOTAROOT INBOX", "a GetQuotaRoot(\"INBOX\")"),
        ("a IDLE", "a Idle"),
        ("a CLOSE", "a Close { expunge: true }"),
        ("a UNSELECT", "a Close { expunge: false }"),
        ("a EXPUNGE", "a Expunge(None)"),
        (
            "a SEARCH SUBJECT bilan FLAGGED",
            "a Search { by_uid: false, returns: None, key: And([Header(\"subject\", \"bilan\"), Flag(\"\\\\Flagged\", true)]) }",
        ),
        (
            "a SEARCH RETURN (min count) UNSEEN",
            "a Search { by_uid: false, returns: Some([\"MIN\", \"COUNT\"]), key: Flag(\"\\\\Seen\", false) }",
        ),
        ("a SEARCH", "a Search BAD SEARCH needs keys"),
        (
            "a FETCH 1:* (UID FLAGS)",
            "a Fetch { by_uid: false, set: Ranges([(N(1), Star)]), items: [Uid, Flags], changed_since: None }",
        ),
        (
            "a FETCH 2 FLAGS (CHANGEDSINCE 12)",
            "a Fetch { by_uid: false, set: Ranges([(N(2), N(2))]), items: [Flags], changed_since: Some(12) }",
        ),
        (
            "a FETCH 2 FLAGS (SINCE 12)",
            "a Fetch BAD unknown FETCH modifier SINCE",
        ),
        ("a FETCH 0 FLAGS", "a Fetch BAD sequence numbers start at 1"),
        (
            "a STORE 1,3 +FLAGS.SILENT (\\Seen)",
            "a Store { by_uid: false, set: Ranges([(N(1), N(1)), (N(3), N(3))]), unchanged_since: None, change: Add, silent: true, flags: [\"\\\\Seen\"] }",
        ),
        (
            "a STORE 1 (UNCHANGEDSINCE 5) FLAGS \\Flagged $Work",
            "a Store { by_uid: false, set: Ranges([(N(1), N(1))]), unchanged_since: Some(5), change: Replace, silent: false, flags: [\"\\\\Flagged\", \"$Work\"] }",
        ),
        (
            "a STORE 1 =FLAGS (\\Seen)",
            "a Store BAD unknown STORE item =FLAGS",
        ),
        (
            "a COPY 1:2 Archive",
            "a Copy { by_uid: false, set: Ranges([(N(1), N(2))]), target: \"Archive\", moving: false }",
        ),
        (
            "a MOVE 3 Entw&APw-rfe",
            "a Copy { by_uid: false, set: Ranges([(N(3), N(3))]), target: \"Entwürfe\", moving: true }",
        ),
        (
            "a UID FETCH 7:9 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
            "a Fetch { by_uid: true, set: Ranges([(N(7), N(9))]), items: [Section { section: Section { part: [], what: Fields { names: [\"subject\"], not: false } }, partial: None, peek: true, label: Body }], changed_since: None }",
        ),
        (
            "a UID SEARCH UID 3:*",
            "a Search { by_uid: true, returns: None, key: Uid(Ranges([(N(3), Star)])) }",
        ),
        (
            "a UID STORE 4 -FLAGS (\\Deleted)",
            "a Store { by_uid: true, set: Ranges([(N(4), N(4))]), unchanged_since: None, change: Remove, silent: false, flags: [\"\\\\Deleted\"] }",
        ),
        (
            "a UID COPY 4 Sent",
            "a Copy { by_uid: true, set: Ranges([(N(4), N(4))]), target: \"Sent\", moving: false }",
        ),
        (
            "a UID MOVE 4 Trash",
            "a Copy { by_uid: true, set: Ranges([(N(4), N(4))]), target: \"Trash\", moving: true }",
        ),
        (
            "a UID EXPUNGE 4:5",
            "a Expunge(Some(Ranges([(N(4), N(5))])))",
        ),
        ("a UID", "a Uid BAD UID needs a command"),
        ("a UID THREAD REFS", "a Uid BAD unknown UID command"),
        ("a XYZZY", "a Unknown BAD unknown command"),
        ("a", "Verb { tag: \"a\" }"),
        ("", "Tag"),
        ("* NOOP", "Tag"),
        ("a{1} NOOP", "Tag"),
    ];
    let wrong: Vec<String> = rows
        .iter()
        .filter(|(wire, expected)| parsed(wire, Names::ModifiedUtf7) != *expected)
        .map(|(wire, _)| format!("{wire:?}\n  gives {}", parsed(wire, Names::ModifiedUtf7)))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Once UTF-8 is enabled (IMAP4rev2, UTF8=ACCEPT), names are taken as they are:
/// `&` is a plain character and non-ASCII arrives in quoted strings.
#[test]
fn utf8_sessions_take_names_as_they_are() {
    let rows: &[(&str, &str)] = &[
        ("a CREATE \"Entwürfe\"", "a Create(\"Entwürfe\")"),
        ("a CREATE \"Projets & co\"", "a Create(\"Projets & co\")"),
        ("a CREATE Entw&APw-rfe", "a Create(\"Entw&APw-rfe\")"),
        (
            "a RENAME \"Éléments\" \"Éléments envoyés\"",
            "a Rename { from: \"Éléments\", to: \"Éléments envoyés\" }",
        ),
    ];
    for (wire, expected) in rows {
        assert_eq!(parsed(wire, Names::Utf8), *expected, "{wire:?}");
    }
}
