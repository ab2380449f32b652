//! The IMAP protocol without I/O, below the session that executes it: the framer cuts
//! the byte stream into commands (literals included), the parser turns a command into
//! a typed [`command::Command`], the state machine admits it or not, and the response
//! writer quotes what it sends. Each is table-tested from wire text.
//!
//! In-house rather than `imap-codec`: see "IMAP protocol layer" in docs/messaging.md.

pub mod args;
pub mod command;
pub mod framing;
pub mod mutf7;
pub mod response;
pub mod state;
