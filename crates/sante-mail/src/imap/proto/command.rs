//! Typed commands (RFC 9051 §6 and the extensions the server announces), parsed from
//! one whole command as the [framer](super::framing) delivers it.
//!
//! Parsing is split in two on purpose: the tag and the verb first, which is all the
//! [state machine](super::state) needs to admit or refuse a command, then the
//! arguments. A command that is not allowed in the session's state is refused as such
//! even when its arguments are also wrong.

use chrono::{DateTime, Utc};
use sante_messaging::FlagChange;
use zeroize::Zeroizing;

use super::args::{self, Args, ParseResult, SequenceSet};
use super::mutf7::Names;
use crate::imap::fetch::{self, Item};
use crate::imap::search::{self, Key};

/// What the client asks, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Capability,
    Noop,
    Check,
    Logout,
    Id,
    Login,
    Authenticate,
    Enable,
    Select,
    Examine,
    Create,
    Delete,
    Rename,
    Subscribe,
    Unsubscribe,
    List,
    Lsub,
    Namespace,
    Status,
    Append,
    GetQuota,
    GetQuotaRoot,
    Idle,
    Close,
    Unselect,
    Expunge,
    Search,
    Fetch,
    Store,
    Copy,
    Move,
    /// `UID FETCH|SEARCH|STORE|COPY|MOVE|EXPUNGE`.
    Uid,
    Unknown,
}

impl Verb {
    fn of(name: &str) -> Verb {
        match name.to_ascii_uppercase().as_str() {
            "CAPABILITY" => Verb::Capability,
            "NOOP" => Verb::Noop,
            "CHECK" => Verb::Check,
            "LOGOUT" => Verb::Logout,
            "ID" => Verb::Id,
            "LOGIN" => Verb::Login,
            "AUTHENTICATE" => Verb::Authenticate,
            "ENABLE" => Verb::Enable,
            "SELECT" => Verb::Select,
            "EXAMINE" => Verb::Examine,
            "CREATE" => Verb::Create,
            "DELETE" => Verb::Delete,
            "RENAME" => Verb::Rename,
            "SUBSCRIBE" => Verb::Subscribe,
            "UNSUBSCRIBE" => Verb::Unsubscribe,
            "LIST" => Verb::List,
            "LSUB" => Verb::Lsub,
            "NAMESPACE" => Verb::Namespace,
            "STATUS" => Verb::Status,
            "APPEND" => Verb::Append,
            "GETQUOTA" => Verb::GetQuota,
            "GETQUOTAROOT" => Verb::GetQuotaRoot,
            "IDLE" => Verb::Idle,
            "CLOSE" => Verb::Close,
            "UNSELECT" => Verb::Unselect,
            "EXPUNGE" => Verb::Expunge,
            "SEARCH" => Verb::Search,
            "FETCH" => Verb::Fetch,
            "STORE" => Verb::Store,
            "COPY" => Verb::Copy,
            "MOVE" => Verb::Move,
            "UID" => Verb::Uid,
            _ => Verb::Unknown,
        }
    }
}

/// A LOGIN password: zeroized when dropped, never shown by `Debug`.
pub struct Password(pub Zeroizing<String>);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// A SASL mechanism the client names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    External,
    Other(String),
}

/// The data items STATUS may ask (RFC 9051 §6.3.11, CONDSTORE's HIGHESTMODSEQ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    UidNext,
    UidValidity,
    Unseen,
    Deleted,
    Size,
    Recent,
    HighestModSeq,
}

impl StatusItem {
    pub fn name(self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::Deleted => "DELETED",
            StatusItem::Size => "SIZE",
            StatusItem::Recent => "RECENT",
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
        }
    }
}

/// A command with its arguments. Mailbox names are as stored (decoded from the
/// client's spelling).
#[derive(Debug)]
pub enum Command {
    Capability,
    /// NOOP and CHECK.
    Noop,
    Logout,
    Id,
    Login {
        login: String,
        password: Password,
    },
    Authenticate {
        mechanism: Mechanism,
        /// The SASL-IR initial response, still base64.
        initial: Option<Zeroizing<Vec<u8>>>,
    },
    Enable(Vec<String>),
    Select {
        name: String,
        read_only: bool,
        condstore: bool,
    },
    Create(String),
    Delete(String),
    Rename {
        from: String,
        to: String,
    },
    Subscribe {
        name: String,
        on: bool,
    },
    List {
        lsub: bool,
        subscribed_only: bool,
        reference: String,
        patterns: Vec<String>,
    },
    Namespace,
    Status {
        name: String,
        items: Vec<StatusItem>,
    },
    Append {
        folder: String,
        flags: Vec<String>,
        internal_date: Option<DateTime<Utc>>,
        message: Vec<u8>,
    },
    GetQuota(String),
    GetQuotaRoot(String),
    Idle,
    /// CLOSE (`expunge`) and UNSELECT.
    Close {
        expunge: bool,
    },
    /// EXPUNGE, or UID EXPUNGE of some UIDs.
    Expunge(Option<SequenceSet>),
    Search {
        by_uid: bool,
        /// ESEARCH's RETURN options (RFC 4731), upper-cased.
        returns: Option<Vec<String>>,
        key: Key,
    },
    Fetch {
        by_uid: bool,
        set: SequenceSet,
        items: Vec<Item>,
        changed_since: Option<u64>,
    },
    Store {
        by_uid: bool,
        set: SequenceSet,
        unchanged_since: Option<u64>,
        change: FlagChange,
        silent: bool,
        flags: Vec<String>,
    },
    /// COPY and MOVE.
    Copy {
        by_uid: bool,
        set: SequenceSet,
        target: String,
        moving: bool,
    },
}

/// A command line whose tag or verb cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Answered untagged: there is no tag to answer with.
    Tag,
    /// A tag and nothing after it.
    Verb { tag: String },
}

/// One parsed command: the tag and verb always, the arguments if they parse.
#[derive(Debug)]
pub struct Request {
    pub tag: String,
    pub verb: Verb,
    /// The reason, answered BAD, when the arguments do not parse.
    pub command: Result<Command, String>,
}

/// Parses one whole command, mailbox names spelled as `names` says.
pub fn parse(wire: &[u8], names: Names) -> Result<Request, Unreadable> {
    let mut args = Args::new(wire);
    let tag = args.until(b" ");
    if tag.is_empty() || tag.contains(['*', '+', '(', ')', '{', '%', '"', '\\']) {
        return Err(Unreadable::Tag);
    }
    if args.space().is_err() {
        return Err(Unreadable::Verb { tag });
    }
    let verb = Verb::of(&args.until(b" "));
    let command = arguments(verb, &mut args, names);
    Ok(Request { tag, verb, command })
}

fn arguments(verb: Verb, args: &mut Args<'_>, names: Names) -> ParseResult<Command> {
    let mailbox = |args: &mut Args<'_>| -> ParseResult<String> {
        args.space()?;
        names.decode(&args.astring_text()?)
    };
    // The one name a command takes, and nothing after it: an unquoted name with a
    // space is refused rather than cut.
    let only_mailbox = |args: &mut Args<'_>| -> ParseResult<String> {
        let name = mailbox(args)?;
        args.end()?;
        Ok(name)
    };
    Ok(match verb {
        // These take no arguments; what a client adds is ignored, as it always was.
        Verb::Capability => Command::Capability,
        Verb::Noop | Verb::Check => Command::Noop,
        Verb::Logout => Command::Logout,
        Verb::Id => Command::Id,
        Verb::Namespace => Command::Namespace,
        Verb::Idle => Command::Idle,
        Verb::Close => Command::Close { expunge: true },
        Verb::Unselect => Command::Close { expunge: false },
        Verb::Expunge => Command::Expunge(None),
        Verb::Login => {
            args.space()?;
            let login = args.astring_text()?;
            args.space()?;
            let password = Password(Zeroizing::new(args.astring_text()?));
            args.end()?;
            Command::Login { login, password }
        }
        Verb::Authenticate => {
            if args.space().is_err() {
                return Err("AUTHENTICATE needs a mechanism".into());
            }
            let mechanism = match args.until(b" ").to_ascii_uppercase().as_str() {
                "PLAIN" => Mechanism::Plain,
                "EXTERNAL" => Mechanism::External,
                other => Mechanism::Other(other.to_owned()),
            };
            let initial = args
                .maybe_space()
                .then(|| Zeroizing::new(args.rest().to_vec()));
            Command::Authenticate { mechanism, initial }
        }
        Verb::Enable => {
            let mut capabilities = Vec::new();
            while args.maybe_space() {
                let Ok(cap) = args.atom() else {
                    return Err("ENABLE takes capability names".into());
                };
                capabilities.push(cap.to_ascii_uppercase());
            }
            Command::Enable(capabilities)
        }
        Verb::Select | Verb::Examine => {
            let name = mailbox(args)?;
            // SELECT parameters (RFC 4466): (CONDSTORE) enables it, others are ignored.
            let condstore = args.maybe_space()
                && String::from_utf8_lossy(args.rest())
                    .to_ascii_uppercase()
                    .contains("CONDSTORE");
            Command::Select {
                name,
                read_only: verb == Verb::Examine,
                condstore,
            }
        }
        Verb::Create => Command::Create(only_mailbox(args)?),
        Verb::Delete => Command::Delete(only_mailbox(args)?),
        Verb::Rename => {
            let from = mailbox(args)?;
            let to = only_mailbox(args)?;
            Command::Rename { from, to }
        }
        Verb::Subscribe | Verb::Unsubscribe => Command::Subscribe {
            name: only_mailbox(args)?,
            on: verb == Verb::Subscribe,
        },
        Verb::List | Verb::Lsub => list(args, verb == Verb::Lsub, names)?,
        Verb::Status => {
            let name = mailbox(args)?;
            args.space()?;
            let items = args
                .flag_list()?
                .iter()
                .map(|item| status_item(item))
                .collect::<ParseResult<_>>()?;
            args.end()?;
            Command::Status { name, items }
        }
        Verb::Append => append(args, names)?,
        Verb::GetQuota => Command::GetQuota(only_mailbox(args)?),
        Verb::GetQuotaRoot => Command::GetQuotaRoot(only_mailbox(args)?),
        Verb::Search => search(args, false)?,
        Verb::Fetch => fetch(args, false)?,
        Verb::Store => store(args, false)?,
        Verb::Copy | Verb::Move => copy(args, false, verb == Verb::Move, names)?,
        Verb::Uid => {
            if args.space().is_err() {
                return Err("UID needs a command".into());
            }
            match Verb::of(&args.until(b" ")) {
                Verb::Search => search(args, true)?,
                Verb::Fetch => fetch(args, true)?,
                Verb::Store => store(args, true)?,
                Verb::Copy => copy(args, true, false, names)?,
                Verb::Move => copy(args, true, true, names)?,
                Verb::Expunge => {
                    args.space()?;
                    Command::Expunge(Some(args.sequence_set()?))
                }
                _ => return Err("unknown UID command".into()),
            }
        }
        Verb::Unknown => return Err("unknown command".into()),
    })
}

fn status_item(item: &str) -> ParseResult<StatusItem> {
    Ok(match item.to_ascii_uppercase().as_str() {
        "MESSAGES" => StatusItem::Messages,
        "UIDNEXT" => StatusItem::UidNext,
        "UIDVALIDITY" => StatusItem::UidValidity,
        "UNSEEN" => StatusItem::Unseen,
        "DELETED" => StatusItem::Deleted,
        "SIZE" => StatusItem::Size,
        "RECENT" => StatusItem::Recent,
        "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
        other => return Err(format!("unknown STATUS item {other}")),
    })
}

fn list(args: &mut Args<'_>, lsub: bool, names: Names) -> ParseResult<Command> {
    args.space()?;
    // LIST-EXTENDED selection options (RFC 5258): SUBSCRIBED is honoured, the
    // others are ignored.
    let mut subscribed_only = lsub;
    if args.peek() == Some(b'(') {
        let options = args.flag_list()?;
        subscribed_only |= options.iter().any(|o| o.eq_ignore_ascii_case("SUBSCRIBED"));
        args.space()?;
    }
    let reference = names.decode(&args.astring_text()?)?;
    args.space()?;
    let mut patterns = Vec::new();
    if args.eat(b'(') {
        loop {
            args.maybe_space();
            if args.eat(b')') {
                break;
            }
            patterns.push(names.decode(&args.list_mailbox()?)?);
        }
    } else {
        patterns.push(names.decode(&args.list_mailbox()?)?);
    }
    // RETURN options (SPECIAL-USE, CHILDREN, SUBSCRIBED): the answer always
    // carries those attributes.
    args.rest();
    Ok(Command::List {
        lsub,
        subscribed_only,
        reference,
        patterns,
    })
}

fn append(args: &mut Args<'_>, names: Names) -> ParseResult<Command> {
    args.space()?;
    let folder = names.decode(&args.astring_text()?)?;
    args.space()?;
    let mut flags = Vec::new();
    if args.peek() == Some(b'(') {
        flags = args.flag_list()?;
        args.space()?;
    }
    let mut internal_date = None;
    if args.peek() == Some(b'"') {
        let text = String::from_utf8_lossy(&args.string()?).into_owned();
        internal_date = Some(args::date_time(&text)?);
        args.space()?;
    }
    // `UTF8 (literal)` of RFC 6855 §4 is taken as the literal it wraps.
    let message = if args.peek().is_some_and(|b| b.eq_ignore_ascii_case(&b'U')) {
        let word = args.atom()?;
        if !word.eq_ignore_ascii_case("UTF8") {
            return Err(format!("unexpected {word} in APPEND"));
        }
        args.space()?;
        args.expect(b'(')?;
        let message = args.string()?;
        args.expect(b')')?;
        message
    } else {
        args.string()?
    };
    args.end()?;
    Ok(Command::Append {
        folder,
        flags,
        internal_date,
        message,
    })
}

fn search(args: &mut Args<'_>, by_uid: bool) -> ParseResult<Command> {
    if args.space().is_err() {
        return Err("SEARCH needs keys".into());
    }
    let rest = args.rest();
    let mut keys = Args::new(rest);
    let mut returns = None;
    if rest.len() > 6 && rest[..7].eq_ignore_ascii_case(b"RETURN ") {
        keys.until(b" ");
        keys.space()?;
        let options = keys.flag_list()?;
        returns = Some(options.iter().map(|s| s.to_ascii_uppercase()).collect());
    }
    let key = search::keys(&mut keys)?;
    Ok(Command::Search {
        by_uid,
        returns,
        key,
    })
}

fn fetch(args: &mut Args<'_>, by_uid: bool) -> ParseResult<Command> {
    args.space()?;
    let set = args.sequence_set()?;
    args.space()?;
    let items = fetch::items(args)?;
    // FETCH modifiers (RFC 7162): (CHANGEDSINCE n).
    let mut changed_since = None;
    if args.maybe_space() {
        args.expect(b'(')?;
        let word = args.atom()?.to_ascii_uppercase();
        if word != "CHANGEDSINCE" {
            return Err(format!("unknown FETCH modifier {word}"));
        }
        args.space()?;
        changed_since = Some(args.number()?);
        args.expect(b')')?;
    }
    args.end()?;
    Ok(Command::Fetch {
        by_uid,
        set,
        items,
        changed_since,
    })
}

fn store(args: &mut Args<'_>, by_uid: bool) -> ParseResult<Command> {
    args.space()?;
    let set = args.sequence_set()?;
    args.space()?;
    let mut unchanged_since = None;
    if args.eat(b'(') {
        let word = args.atom()?.to_ascii_uppercase();
        if word != "UNCHANGEDSINCE" {
            return Err(format!("unknown STORE modifier {word}"));
        }
        args.space()?;
        unchanged_since = Some(args.number()?);
        args.expect(b')')?;
        args.space()?;
    }
    let what = args.atom()?.to_ascii_uppercase();
    let silent = what.ends_with(".SILENT");
    let change = match what.trim_end_matches(".SILENT") {
        "FLAGS" => FlagChange::Replace,
        "+FLAGS" => FlagChange::Add,
        "-FLAGS" => FlagChange::Remove,
        other => return Err(format!("unknown STORE item {other}")),
    };
    args.space()?;
    let flags = if args.peek() == Some(b'(') {
        args.flag_list()?
    } else {
        let mut list = vec![args.atom()?];
        while args.maybe_space() {
            list.push(args.atom()?);
        }
        list
    };
    args.end()?;
    Ok(Command::Store {
        by_uid,
        set,
        unchanged_since,
        change,
        silent,
        flags,
    })
}

fn copy(args: &mut Args<'_>, by_uid: bool, moving: bool, names: Names) -> ParseResult<Command> {
    args.space()?;
    let set = args.sequence_set()?;
    args.space()?;
    let target = names.decode(&args.astring_text()?)?;
    args.end()?;
    Ok(Command::Copy {
        by_uid,
        set,
        target,
        moving,
    })
}

#[cfg(test)]
mod tests;
