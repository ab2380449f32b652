//! Reference directories and identity vigilance (DIR-1 to DIR-7).
//!
//! This first part holds what needs no storage: the national identification number
//! and the probabilistic matching of patient identities. The directories themselves
//! (professionals, establishments, patients, agents), their feeds and their FHIR
//! APIs come next (issue 3).
//!
//! Architecture invariant: knows nothing of HTTP or FHIR wire formats; stores through
//! `sante-store` only.

pub mod matching;
pub mod nin;
pub mod register_file;
pub mod synthetic;
