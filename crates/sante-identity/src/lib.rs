//! Accounts, credentials, levels of assurance and sessions (ACC-1 to ACC-8, PLT-3,
//! PLT-4, DIR-4: the security directory).
//!
//! One account per person and quality ([`model`]), activated with the code of a
//! letter, with its own credentials ([`secrets`]: Argon2id passwords, RFC 6238
//! one-time passwords) and its own sessions. The [`service`] authenticates logins
//! (lock-out with back-off after failures), checks every session at every request
//! (a revoked credential or a blocked account is refused at once), and applies the
//! operator's actions; [`policy`] says which level of assurance each service needs per
//! quality. Every authentication event is traced.
//!
//! Architecture invariant: knows nothing of HTTP, cookies or the directories' entries
//! beyond their identifiers; stores through `sante-store` only; never stores a bearer
//! secret or an activation code in clear, and never traces a password or a login typed.

pub mod model;
pub mod policy;
pub mod secrets;
pub mod service;

pub use model::{Account, AccountState, Authenticated, Session, SessionLimits};
pub use policy::{ServiceRefusal, authorise_service, minimum_assurance};
pub use service::{
    AccountStatus, AccountSummary, Activation, ActivationLetter, ActivationProof, Administrator,
    AppPassword, AttemptLimits, CredentialSummary, Identity, IdentityError, IdentityResult,
    NewAccount, NewAppPassword, PasskeyChallenge, PasswordLogin,
};
