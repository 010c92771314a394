//! Comparability statistics: how far apart the laboratories are, and whether that
//! matters. Pure functions only, so that every node and an assessor's own tooling get
//! the same numbers from the same measurements.
//!
//! The formulas, constants and stopping rules are written out, with references, in
//! `docs/statistics.md`. [`comparability_report`] is the one entry point that turns
//! measurements into a report per measurand; the modules below hold the pieces.

mod assemble;
pub mod assessment;
pub mod criteria;
pub mod critical;
pub mod drift;
pub mod kappa;
pub mod outliers;
pub mod precision;
pub mod qhampel;
pub mod report;
pub mod robust;
mod rounds;
pub mod scores;

pub use assemble::comparability_report;
pub use assessment::{
    Assessment, AssessmentError, AssessmentLine, Assigned, ConsensusMethod, ScoreKind, SigmaPt,
    ValueSource,
};
pub use critical::CriticalError;
pub use report::{LabScore, MeasurandReport, Observation, Report, ReportConfig, ReportError};
pub use robust::{
    AlgorithmA, AlgorithmAConfig, AlgorithmS, HuberFactor, RobustError, StartScale, Stopping,
    algorithm_a, algorithm_s, made, median, niqr,
};
