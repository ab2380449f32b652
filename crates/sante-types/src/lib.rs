//! Vocabulary shared by every Sante crate.
//!
//! This crate does no IO and knows nothing of storage, HTTP or mail: it holds the
//! few types that every bounded context must agree on (time, qualities, levels of
//! assurance, services). Anything that belongs to one context lives in that context.

mod address;
mod cert;
mod clock;
pub mod error;
mod quality;

pub use address::subscriber_address;
pub use cert::{PeerCertificate, revocation_key};
pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use error::{Coded, ErrorKind};
pub use quality::{CredentialKind, LevelOfAssurance, Quality, Service};
