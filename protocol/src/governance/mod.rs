//! What the log means for a scheme: dispute states, the results that count, and the
//! comparability of labs per suite version and round. Pure functions of the accepted
//! records, so every node with the same evidence root derives byte-identical answers.

mod assessments;
mod comparability;
mod disputes;
mod flags;
mod suite;

pub use comparability::{
    Comparability, ComparabilityQuery, CriteriaChange, Flag, GovernanceError, LabAgreement,
    ResultLine, comparability, suite_criteria,
};
pub use disputes::{DisputeState, DisputeView, Resolution, Response, disputes, excluded_results};
pub use suite::{AssignedDecl, MetricAssessment, SuiteItem, SuiteTest, SuiteView};
