//! The session states of RFC 9051 §3 and which commands each admits. The session
//! asks [`admit`] before it runs anything. Its state is read from what it holds (a
//! credential, a selected folder), so the two cannot disagree.

use super::command::Verb;
use super::response::{Done, bad};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    NotAuthenticated,
    Authenticated,
    Selected,
}

/// Where a command may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Any,
    NotAuthenticated,
    /// Authenticated or selected.
    Authenticated,
    Selected,
    /// Not a command this server knows.
    None,
}

fn scope(verb: Verb) -> Scope {
    match verb {
        Verb::Capability | Verb::Noop | Verb::Check | Verb::Logout | Verb::Id => Scope::Any,
        Verb::Login | Verb::Authenticate => Scope::NotAuthenticated,
        Verb::Enable
        | Verb::Select
        | Verb::Examine
        | Verb::Create
        | Verb::Delete
        | Verb::Rename
        | Verb::Subscribe
        | Verb::Unsubscribe
        | Verb::List
        | Verb::Lsub
        | Verb::Namespace
        | Verb::Status
        | Verb::Append
        | Verb::GetQuota
        | Verb::GetQuotaRoot
        | Verb::Idle => Scope::Authenticated,
        Verb::Close
        | Verb::Unselect
        | Verb::Expunge
        | Verb::Search
        | Verb::Fetch
        | Verb::Store
        | Verb::Copy
        | Verb::Move
        | Verb::Uid => Scope::Selected,
        Verb::Unknown => Scope::None,
    }
}

/// Whether `verb` may run in `state`; the BAD answer when it may not.
pub fn admit(state: State, verb: Verb) -> Result<(), Done> {
    match (state, scope(verb)) {
        (_, Scope::None) => Err(bad("unknown command")),
        (_, Scope::Any) => Ok(()),
        (State::NotAuthenticated, Scope::NotAuthenticated) => Ok(()),
        (State::NotAuthenticated, _) => Err(bad("log in first")),
        (_, Scope::NotAuthenticated) => Err(bad("already logged in")),
        (State::Authenticated, Scope::Selected) => Err(bad("select a folder first")),
        (State::Authenticated | State::Selected, _) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every verb in every state: `.` runs, otherwise the first letter of the refusal
    /// (`u`nknown, `l`og in first, `a`lready logged in, `s`elect first).
    #[test]
    fn each_state_admits_its_commands() {
        use Verb::*;
        let rows: &[(Verb, &str)] = &[
            // NotAuthenticated, Authenticated, Selected
            (Capability, "..."),
            (Noop, "..."),
            (Check, "..."),
            (Logout, "..."),
            (Id, "..."),
            (Login, ".aa"),
            (Authenticate, ".aa"),
            (Enable, "l.."),
            (Select, "l.."),
            (Examine, "l.."),
            (Create, "l.."),
            (Delete, "l.."),
            (Rename, "l.."),
            (Subscribe, "l.."),
            (Unsubscribe, "l.."),
            (List, "l.."),
            (Lsub, "l.."),
            (Namespace, "l.."),
            (Status, "l.."),
            (Append, "l.."),
            (GetQuota, "l.."),
            (GetQuotaRoot, "l.."),
            (Idle, "l.."),
            (Close, "ls."),
            (Unselect, "ls."),
            (Expunge, "ls."),
            (Search, "ls."),
            (Fetch, "ls."),
            (Store, "ls."),
            (Copy, "ls."),
            (Move, "ls."),
            (Uid, "ls."),
            (Unknown, "uuu"),
        ];
        let states = [
            State::NotAuthenticated,
            State::Authenticated,
            State::Selected,
        ];
        for (verb, expected) in rows {
            let got: String = states
                .iter()
                .map(|&state| match admit(state, *verb) {
                    Ok(()) => '.',
                    Err(done) => match done.text.as_str() {
                        "unknown command" => 'u',
                        "log in first" => 'l',
                        "already logged in" => 'a',
                        "select a folder first" => 's',
                        other => panic!("unexpected refusal {other}"),
                    },
                })
                .collect();
            assert_eq!(&got, expected, "{verb:?}");
        }
    }
}
