//! The one entry point: measurements in, a comparability report per measurand out.
//! Every number is finite or absent; an absent number comes with a note saying why.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{
    assessment::{Assessment, AssessmentLine, EQUAL_TOLERANCE, ScoreKind},
    criteria::{Agreement, ImpliedThreshold},
    drift::{Drift, DriftConfig},
    kappa::{Cohen, Fleiss},
    outliers::Class,
    precision::{MandelCritical, Precision},
    qhampel::QHampel,
    robust::{AlgorithmA, AlgorithmAConfig},
    scores::{self, Band},
};
use crate::{Criterion, Verdict};

/// One reported value (or a lab's empty cell when `value` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Laboratory name.
    pub lab: String,
    /// Measurand name.
    pub measurand: String,
    /// The value; `None` records that the lab took part but reported nothing.
    pub value: Option<f64>,
    /// Standard uncertainty of the value, if the lab gave one.
    pub u: Option<f64>,
    /// Expanded uncertainty U of the value, if the lab gave one (En uses it; else 2u).
    pub expanded: Option<f64>,
    /// The verdict the lab reported, if any.
    pub verdict: Option<Verdict>,
    /// Round (proficiency-testing round); `None` counts as round 0.
    pub round: Option<u64>,
    /// The method or tool that produced the value (grouping only; `None`: not stated).
    pub method: Option<String>,
    /// Produced by the harmonized method. Deviating values are scored against x_pt but
    /// take no part in the consensus, precision or outlier statistics.
    pub conforming: bool,
}

/// Why no report could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A value or uncertainty is NaN or infinite.
    #[error("observation {index} (lab {lab:?}) has a non-finite {field}: {value}")]
    NonFinite {
        /// Position in the input.
        index: usize,
        /// Its lab.
        lab: String,
        /// `value` or `u`.
        field: &'static str,
        /// The value.
        value: f64,
    },
    /// A value so large that its square would overflow (|v| > 1e150).
    #[error("observation {index} (lab {lab:?}) has {field} = {value}, beyond ±1e150")]
    OutOfRange {
        /// Position in the input.
        index: usize,
        /// Its lab.
        lab: String,
        /// `value` or `u`.
        field: &'static str,
        /// The value.
        value: f64,
    },
    /// A standard uncertainty is negative.
    #[error("observation {index} (lab {lab:?}) has a negative uncertainty: {value}")]
    NegativeUncertainty {
        /// Position in the input.
        index: usize,
        /// Its lab.
        lab: String,
        /// The value.
        value: f64,
    },
    /// No observations at all.
    #[error("no observations")]
    Empty,
}

/// Settings of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportConfig {
    /// Algorithm A settings (assigned value x_pt = x*, σ_pt = s*).
    pub algorithm_a: AlgorithmAConfig,
    /// Drift chart settings.
    pub drift: DriftConfig,
    /// |En| at or below this is satisfactory.
    pub en_limit: f64,
    /// Harmonized criterion per measurand.
    pub criteria: HashMap<String, Criterion>,
    /// Q/Hampel is O(p²): computed only up to this many labs.
    pub q_hampel_max_labs: usize,
    /// Declared x_pt and σ_pt per measurand.
    pub assessments: HashMap<String, Assessment>,
    /// The declaration for measurands not in `assessments`; by default none (σ_pt
    /// undeclared: those measurands are for information and not scored).
    pub default_assessment: Assessment,
    /// Values equal within this relative tolerance are one value.
    pub equal_tolerance: f64,
}

impl Default for ReportConfig {
    /// ISO Algorithm A, default drift charts, En limit 1, no criteria, Q/Hampel up to
    /// 200 labs, no declared σ_pt (every measurand for information: the consensus is
    /// shown, nothing is scored), values equal within a relative 1e-9 taken as equal.
    fn default() -> Self {
        Self {
            algorithm_a: AlgorithmAConfig::iso(),
            drift: DriftConfig::default(),
            en_limit: scores::EN_LIMIT,
            criteria: HashMap::new(),
            q_hampel_max_labs: 200,
            assessments: HashMap::new(),
            default_assessment: Assessment::default(),
            equal_tolerance: EQUAL_TOLERANCE,
        }
    }
}

/// The report: one entry per measurand, in order of first appearance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    /// Per-measurand reports.
    pub measurands: Vec<MeasurandReport>,
}

/// One laboratory's line in a measurand report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabLine {
    /// Laboratory.
    pub lab: String,
    /// Number of values.
    pub n: usize,
    /// Mean of its values.
    pub mean: Option<f64>,
    /// SD of its values (n ≥ 2).
    pub sd: Option<f64>,
    /// Mandel h.
    pub h: Option<f64>,
    /// Mandel k.
    pub k: Option<f64>,
    /// The score the report reads this lab by (z or z′, as the measurand's assessment
    /// chose), with its band.
    pub score: Option<LabScore>,
    /// z = (mean − x_pt)/σ_pt.
    pub z: Option<f64>,
    /// Band of z.
    pub z_band: Option<Band>,
    /// z′ = (mean − x_pt)/√(σ_pt² + u²(x_pt)).
    pub z_prime: Option<f64>,
    /// D% = 100 (mean − x_pt)/x_pt.
    pub d_percent: Option<f64>,
    /// Mean of the lab's standard uncertainties.
    pub u: Option<f64>,
    /// Mean of the lab's expanded uncertainties (when it stated U).
    pub expanded: Option<f64>,
    /// ζ with the lab's u.
    pub zeta: Option<f64>,
    /// Band of ζ.
    pub zeta_band: Option<Band>,
    /// En with the lab's U (2u when it stated only u) and U(x_pt) = 2 u(x_pt).
    pub en: Option<f64>,
    /// Band of En against the configured limit.
    pub en_band: Option<Band>,
    /// Set aside as an outlier by the ISO 5725-2 screening.
    pub outlier: bool,
    /// The method or tool the lab stated.
    pub method: Option<String>,
    /// Whether the lab's values follow the harmonized method (deviating ones are scored,
    /// not pooled).
    pub conforming: bool,
    /// Verdict agreement with the harmonized criterion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<Agreement>,
    /// Threshold implied by the lab's verdicts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implied_threshold: Option<ImpliedThreshold>,
    /// Drift over rounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
}

/// A lab's performance score and which one it is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabScore {
    /// z or z′.
    pub kind: ScoreKind,
    /// The score.
    pub value: f64,
    /// Its band (ISO 13528 §9.6).
    pub band: Band,
}

/// Summary of the lab means of one method or tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MethodGroup {
    /// The method (`None`: not stated).
    pub method: Option<String>,
    /// Labs with values.
    pub labs: usize,
    /// Mean of their means.
    pub mean: f64,
    /// SD of their means (two labs or more).
    pub sd: Option<f64>,
}

/// Robust summaries of the lab means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RobustSummary {
    /// Median.
    pub median: f64,
    /// MADe.
    pub made: f64,
    /// nIQR.
    pub niqr: f64,
    /// Q/Hampel (`None` above the lab limit or for p < 2).
    pub q_hampel: Option<QHampel>,
}

/// Cochran's test with lab names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CochranLine {
    /// C.
    #[serde(rename = "C")]
    pub c: f64,
    /// Lab with the largest SD.
    pub lab: String,
    /// Replicate count used for the critical values.
    pub n: usize,
    /// 5 % critical value.
    pub crit_5: f64,
    /// 1 % critical value.
    pub crit_1: f64,
    /// Classification.
    pub class: Class,
}

/// One Grubbs test with lab names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrubbsLine {
    /// Statistic.
    #[serde(rename = "G")]
    pub g: f64,
    /// Suspect lab(s).
    pub labs: Vec<String>,
    /// 5 % critical value.
    pub crit_5: Option<f64>,
    /// 1 % critical value.
    pub crit_1: Option<f64>,
    /// Classification (`None` without critical values).
    pub class: Option<Class>,
}

/// Grubbs tests with lab names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrubbsLines {
    /// Single, largest mean.
    pub single_high: GrubbsLine,
    /// Single, smallest mean.
    pub single_low: GrubbsLine,
    /// Double, two largest.
    pub double_high: Option<GrubbsLine>,
    /// Double, two smallest.
    pub double_low: Option<GrubbsLine>,
}

/// A screening step with lab names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScreeningLine {
    /// Test name.
    pub test: String,
    /// Suspect lab(s).
    pub labs: Vec<String>,
    /// Statistic.
    pub statistic: f64,
    /// Classification.
    pub class: Class,
    /// Set aside before the next step.
    pub excluded: bool,
}

/// Verdict agreement between labs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KappaLine {
    /// Items (rounds) rated.
    pub items: usize,
    /// Labs rating every item.
    pub labs: usize,
    /// Fleiss' κ (`None` with a note when undefined).
    pub fleiss: Option<Fleiss>,
    /// Cohen's κ when exactly two labs gave verdicts.
    pub cohen: Option<Cohen>,
}

/// Comparability report for one measurand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeasurandReport {
    /// Measurand.
    pub measurand: String,
    /// Round the cross-sectional statistics use (the latest).
    pub round: u64,
    /// Labs with at least one value in that round.
    pub p: usize,
    /// x_pt, σ_pt, their bases and the score used.
    pub assessment: AssessmentLine,
    /// Per-lab lines.
    pub labs: Vec<LabLine>,
    /// The lab means grouped by method or tool (when more than one is stated).
    pub by_method: Vec<MethodGroup>,
    /// Algorithm A on the lab means (absent when the data have no scale).
    pub algorithm_a: Option<AlgorithmA>,
    /// Other robust summaries.
    pub robust: Option<RobustSummary>,
    /// ISO 5725-2 precision on all labs.
    pub precision: Precision,
    /// ISO 5725-2 precision without the screening's outliers (when any).
    pub precision_without_outliers: Option<Precision>,
    /// Mandel critical values.
    pub mandel_critical: MandelCritical,
    /// Cochran's test.
    pub cochran: Option<CochranLine>,
    /// Grubbs tests on the lab means.
    pub grubbs: Option<GrubbsLines>,
    /// ISO 5725-2 screening in its order.
    pub screening: Vec<ScreeningLine>,
    /// Verdict agreement (when verdicts were given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kappa: Option<KappaLine>,
    /// Why numbers are missing or how degenerate input was handled.
    pub notes: Vec<String>,
}
