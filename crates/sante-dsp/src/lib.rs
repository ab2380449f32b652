//! The shared care record (DSP, dsp.md): the platform's flagship service.
//!
//! - [`category`]: the 19 data categories, the 11 professional categories and the
//!   default access matrix between them; document types mapped to categories.
//! - [`policy`]: the one access decision, [`policy::decide`]: every read, search and
//!   filing asks it, and its permit or refusal (with the reason) is traced.
//! - [`model`]: records, documents, care relationships, the holder's controls, the
//!   access history, notices.
//! - [`service`]: the DSP service: life cycle with an injected clock, care
//!   relationships, documents in the encrypted blob store, the holder's controls,
//!   histories and notices, filing duties.
//!
//! Architecture invariant: a service over the platform contexts (storage, audit, the
//! directories); it never depends on another service (PLT-5) and knows nothing of
//! HTTP or FHIR: the front ends translate.

pub mod category;
pub mod model;
pub mod policy;
pub mod service;

pub use service::{Caller, DspError, DspResult, DspService};
