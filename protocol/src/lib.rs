//! The Interlab protocol: what labs sign, how it is checked, and what it proves.
//!
//! This crate is pure — no I/O, no async, no clock, no randomness; callers pass time
//! and keys in — so that every node, the offline verifier and the simulator run exactly
//! the same rules.
//!
//! ```
//! use interlab_protocol::{Body, Envelope, MemoryLog, Record, SecretKey, RECORD_VERSION};
//!
//! let owner = SecretKey::from_bytes(&[1; 32]);
//! let genesis = Record {
//!     v: RECORD_VERSION,
//!     author: owner.public(),
//!     scheme: None,
//!     seq: 0,
//!     prev: None,
//!     time_ms: 1_700_000_000_000,
//!     body: Body::SchemeGenesis {
//!         name: "demo".into(),
//!         lab_codes: false,
//!         contact: None,
//!     },
//! };
//! let envelope = Envelope::seal(&owner, &genesis);
//! let mut log = MemoryLog::new();
//! let id = log.ingest(&envelope.to_bytes(), 1_700_000_000_000).unwrap();
//! assert_eq!(log.authority().scheme(), Some((id, owner.public())));
//! ```

#![deny(unreachable_pub)]

mod authority;
mod bundle;
mod canonical_report;
mod cbor;
mod chain;
mod diagnosis;
mod digest;
mod envelope;
mod evidence;
pub mod governance;
mod hexbytes;
mod keys;
mod measurement;
mod memlog;
#[cfg(feature = "openapi")]
mod openapi;
mod record;
mod reveal;
mod validate;

pub mod stats;

#[cfg(any(test, feature = "test-utils"))]
pub mod testkit;

pub use authority::{Authority, Lab, Revocation};
pub use bundle::{
    BUNDLE_VERSION, Bundle, BundleError, BundleFailure, MAX_BUNDLE_BYTES, Verified, report_bytes,
};
pub use canonical_report::{ReportEncodingError, report_canonical_bytes, report_digest};
pub use cbor::{CborError, from_slice_canonical, to_vec as to_canonical_vec};
pub use chain::{Fork, ForkProof, ForkProofError};
pub use diagnosis::{EnvelopeFailure, RecordRef, diagnose};
pub use digest::{Digest, ParseDigestError, RecordId, SchemeId, domain};
pub use envelope::{
    DecodedEnvelope, Envelope, EnvelopeError, MAX_ENVELOPE_BYTES, Opened, SIGN_CONTEXT, open_all,
    open_all_decoded, split_sequence,
};
pub use evidence::{
    Blake3Tree, EvidenceState, EvidenceTree, FrontierEntry, InclusionProof, TreeHash, audit_path,
    evidence_root, merkle_root, verify_path,
};
pub use keys::{KeyCache, ParseKeyError, PublicKey, SecretKey, Signature, SignatureError};
pub use measurement::{
    Criterion, Deviation, Direction, Environment, EvidenceRef, Measurement, MeasurementError,
    Method, RunResult, Software, TestResult, Verdict,
};
pub use memlog::MemoryLog;
pub use record::{
    Action, ArtefactRef, Body, Grounds, MAX_TEXT, Outcome, RECORD_VERSION, Record, is_lab_code,
};
pub use reveal::{KnownAnswer, MAX_ANSWERS, MAX_SALT, MIN_SALT, RevealError, SealedAnswers};
pub use validate::{
    Accepted, Disposition, Head, LogView, MAX_CLOCK_SKEW_MS, Rejection, Standing, validate,
    validate_opened,
};
