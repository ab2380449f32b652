//! Persistence of the audit trail (the audit crate lands next).
