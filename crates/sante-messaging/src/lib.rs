//! Secure messaging for health professionals (MSG-1 to MSG-6, MSG-11 to MSG-20).
//!
//! Only professionals logged in at high assurance get a mailbox (MSG-1); its address
//! is made from their name and never given to anyone else (MSG-2). Messages are blobs
//! in the encrypted blob store, one per copy, owned by the mailbox, so that closing a
//! mailbox destroys its keys (MSG-12); their index (folders, UIDs, flags,
//! modification sequences) is in the database. Every message is scanned by clamd
//! before it is accepted (MSG-15); the relay rules accept mail for the platform's
//! domain and from partner domains only, and relay to partner domains only
//! (MSG-13); the quota refuses what goes beyond it and notifies at 90 % (MSG-11).
//! The metadata log keeps envelopes and MIME types, never content (MSG-16, MSG-17).
//!
//! Architecture invariant: no wire protocol (SMTP, IMAP and POP3 are the front ends'
//! business); stores through `sante-store` only; never depends on another service;
//! nothing here logs or traces a subject, a body or a file name.

pub mod address;
pub mod antivirus;
pub mod indicators;
pub mod mime;
pub mod model;
pub mod relay;
pub mod service;

pub use service::{
    Accepted, DeliveryOutcome, Envelope, FlagChange, FlagUpdate, HousekeepingReport, MailUser,
    Messaging, MessagingConfig, MessagingError, MessagingResult, Origin, PersonalData, Refusal,
    Route,
};
