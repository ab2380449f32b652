//! Reference directories and identity vigilance (DIR-1 to DIR-7).
//!
//! The model of the registers' entries ([`model`]: professionals, establishments,
//! patients, agents), the one access decision of the directory ([`access`]), the
//! service that stores, searches, traces and publishes changes ([`service`]), the
//! register feeds ([`feed`]), the loop that follows the change feed ([`follow`]), the
//! national identification number ([`nin`]) and the
//! probabilistic matching of patient identities ([`matching`]).
//!
//! Architecture invariant: knows nothing of HTTP or FHIR wire formats; stores through
//! `sante-store` only.

pub mod access;
pub mod feed;
pub mod follow;
pub mod lookups;
pub mod matching;
pub mod model;
pub mod nin;
pub mod register_file;
pub mod service;
pub mod synthetic;

pub use access::{Caller, Denied, DirectoryAction, Request};
pub use service::{Directory, DirectoryError, DirectoryResult};
