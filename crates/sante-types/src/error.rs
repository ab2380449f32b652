//! What every error of the platform tells its front ends: a stable code to find it in
//! logs and documentation, and the kind of failure, from which each front end derives
//! its answer (an HTTP status, an OperationOutcome, an OAuth error, an SMTP or IMAP
//! reply) in one place.
//!
//! Codes are three letters naming the crate and three digits (`DSP001`); a code never
//! changes meaning once published, and a removed variant's code is not reused.

/// The kind of a failure, as far as a client is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed or breaks a rule of its input.
    Invalid,
    /// No valid credential was presented, or the one presented was refused.
    Unauthenticated,
    /// The caller is known but may not do this.
    Denied,
    /// What the request names does not exist (or may not be known to exist).
    NotFound,
    /// The request conflicts with the current state (a concurrent change, a rule of
    /// the life cycle, a name already taken).
    Conflict,
    /// The caller asked too much or too often: the request may succeed later, when
    /// its allowance is renewed.
    Throttled,
    /// The platform cannot serve now (storage, audit trail, a dependency down): the
    /// request may succeed later, unchanged.
    Unavailable,
    /// Stored data failed a check, or the platform is at fault: the operator must look.
    Internal,
}

impl ErrorKind {
    /// Whether the platform, not the request, is at fault: such errors are logged
    /// with their detail, and the client is told nothing internal.
    pub fn is_platform_fault(self) -> bool {
        matches!(self, ErrorKind::Unavailable | ErrorKind::Internal)
    }
}

/// An error with a stable code and a kind: implemented by every library error enum.
pub trait Coded: std::error::Error {
    /// The stable code of this error, e.g. `DSP001`.
    fn code(&self) -> &'static str;
    /// What kind of failure it is.
    fn kind(&self) -> ErrorKind;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_and_internal_are_the_platforms_fault() {
        let faults: Vec<ErrorKind> = [
            ErrorKind::Invalid,
            ErrorKind::Unauthenticated,
            ErrorKind::Denied,
            ErrorKind::NotFound,
            ErrorKind::Conflict,
            ErrorKind::Unavailable,
            ErrorKind::Internal,
        ]
        .into_iter()
        .filter(|k| k.is_platform_fault())
        .collect();
        assert_eq!(faults, [ErrorKind::Unavailable, ErrorKind::Internal]);
    }
}
