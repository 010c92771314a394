//! The assigned value x_pt and the standard deviation for proficiency assessment σ_pt
//! (ISO 13528:2022 §7–§8), as a scheme declares them, and which score they allow.
//!
//! σ_pt is a statement of fitness for purpose made by the scheme, not a property of the
//! round's data: it is prescribed, follows from a model of the measurement (a proportion
//! over n rows), comes from an earlier round, or — only where the scheme says so — is the
//! participants' robust SD. A measurand without a declaration is for information: the
//! participants' consensus is shown, but there is no σ_pt and no score (labs that ran the
//! same engine agree by construction; their spread is no fitness-for-purpose statement).
//! When the participants' values have no scale (more than half equal) no SD is taken from
//! them: the report says so instead of letting an iteration cap pick a number.

use serde::{Deserialize, Serialize};

use super::{qhampel, robust, scores};

/// How the assigned value is obtained (ISO 13528:2022 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsensusMethod {
    /// ISO 13528 Algorithm A (C.3).
    AlgorithmA,
    /// Q method scale with the Hampel location (C.5).
    QHampel,
}

/// Where a given assigned value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ValueSource {
    /// The scheme owner's run of the reference implementation on the item (§7.5).
    Reference,
    /// Known by construction of the item, sealed until the round closes (§7.3).
    Known,
    /// Given by the analyst (`interlab stats --x-pt`).
    Given,
}

/// The assigned value for one measurand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Assigned {
    /// Robust consensus of the participants' means.
    Consensus {
        /// The estimator.
        method: ConsensusMethod,
    },
    /// A value with its standard uncertainty.
    Value {
        /// Where it comes from.
        source: ValueSource,
        /// x_pt.
        value: f64,
        /// u(x_pt).
        u: f64,
    },
    /// Declared but not available (yet): e.g. a known answer still sealed, or no reference
    /// run published. No scores are formed; the reason is reported.
    Pending {
        /// Where it will come from.
        source: ValueSource,
        /// Why it is not available.
        reason: String,
    },
}

/// σ_pt for one measurand (ISO 13528:2022 §8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SigmaPt {
    /// A fitness-for-purpose value prescribed by the scheme (§8.2).
    Prescribed {
        /// σ_pt.
        value: f64,
    },
    /// A model of the measurement: a proportion over `n` test rows has standard deviation
    /// √(p(1 − p)/n), evaluated at the assigned value (§8.3, general model).
    Binomial {
        /// Number of rows the proportion is taken over.
        n: u64,
    },
    /// The value used in an earlier round (§8.4).
    PreviousRound {
        /// σ_pt.
        value: f64,
        /// The round it was set in.
        round: u64,
    },
    /// The participants' robust SD from the consensus estimator (§8.5); only where the
    /// scheme declares it.
    Participants,
    /// No σ_pt is declared: the measurand's results are for information and are not
    /// scored. What a measurand without a declaration gets; a σ_pt is never taken from
    /// the participants unless the scheme declares `Participants`.
    Undeclared,
}

/// x_pt and σ_pt as declared for one measurand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assessment {
    /// How x_pt is set.
    pub assigned: Assigned,
    /// How σ_pt is set.
    pub sigma_pt: SigmaPt,
}

impl Default for Assessment {
    /// No declaration: the Algorithm A consensus as information and no σ_pt, so no
    /// scores (the report says why).
    fn default() -> Self {
        Self {
            assigned: Assigned::Consensus {
                method: ConsensusMethod::AlgorithmA,
            },
            sigma_pt: SigmaPt::Undeclared,
        }
    }
}

impl Assessment {
    /// Whether the measurand is scored at all: a σ_pt basis is declared.
    pub fn is_declared(&self) -> bool {
        self.sigma_pt != SigmaPt::Undeclared
    }
}

/// Why a declaration cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AssessmentError {
    /// A number is NaN, infinite, negative or zero where it must be positive.
    #[error("{field} must be a finite number above zero but is {value}")]
    NotPositive {
        /// The field.
        field: &'static str,
        /// The value.
        value: f64,
    },
    /// A number is NaN, infinite or negative.
    #[error("{field} must be a finite number at or above zero but is {value}")]
    Negative {
        /// The field.
        field: &'static str,
        /// The value.
        value: f64,
    },
    /// A binomial model over no rows.
    #[error("the binomial model of σ_pt needs n ≥ 1 rows")]
    NoRows,
}

impl Assessment {
    /// Checks every number of the declaration.
    pub fn check(&self) -> Result<(), AssessmentError> {
        if let Assigned::Value { value, u, .. } = &self.assigned {
            if !value.is_finite() {
                return Err(AssessmentError::Negative {
                    field: "x_pt",
                    value: *value,
                });
            }
            if !(u.is_finite() && *u >= 0.0) {
                return Err(AssessmentError::Negative {
                    field: "u(x_pt)",
                    value: *u,
                });
            }
        }
        match &self.sigma_pt {
            SigmaPt::Prescribed { value } | SigmaPt::PreviousRound { value, .. } => {
                if !(value.is_finite() && *value > 0.0) {
                    return Err(AssessmentError::NotPositive {
                        field: "σ_pt",
                        value: *value,
                    });
                }
            }
            SigmaPt::Binomial { n: 0 } => return Err(AssessmentError::NoRows),
            SigmaPt::Binomial { .. } | SigmaPt::Participants | SigmaPt::Undeclared => {}
        }
        Ok(())
    }
}

/// Which score the report uses for a lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ScoreKind {
    /// z = (x − x_pt)/σ_pt, when u(x_pt) ≤ 0.3 σ_pt (§9.4).
    Z,
    /// z′ = (x − x_pt)/√(σ_pt² + u²(x_pt)), when u(x_pt) > 0.3 σ_pt (§9.5).
    ZPrime,
}

/// Basis of x_pt as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum XptBasis {
    /// Consensus of the participants.
    Consensus {
        /// The estimator.
        method: ConsensusMethod,
        /// The data had no scale: x_pt is the median (the value most labs share).
        no_scale: bool,
    },
    /// A given value.
    Value {
        /// Its source.
        source: ValueSource,
    },
    /// Declared but not available.
    Pending {
        /// Its source.
        source: ValueSource,
    },
}

/// Basis of σ_pt as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SigmaBasis {
    /// Prescribed (fitness for purpose).
    Prescribed,
    /// √(x_pt(1 − x_pt)/n).
    Binomial {
        /// Rows.
        n: u64,
    },
    /// From an earlier round.
    PreviousRound {
        /// That round.
        round: u64,
    },
    /// The participants' robust SD.
    Participants {
        /// The estimator it came from.
        method: ConsensusMethod,
    },
    /// None declared: the measurand is reported for information and not scored.
    Undeclared,
}

/// What the report used for one measurand: x_pt, u(x_pt), σ_pt, their bases, and the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssessmentLine {
    /// The assigned value.
    pub x_pt: Option<f64>,
    /// Its standard uncertainty.
    pub u_x_pt: Option<f64>,
    /// How x_pt was set.
    pub x_pt_basis: XptBasis,
    /// σ_pt.
    pub sigma_pt: Option<f64>,
    /// How σ_pt was set.
    pub sigma_pt_basis: SigmaBasis,
    /// Whether u(x_pt) ≤ 0.3 σ_pt (`None` when either is missing).
    pub u_negligible: Option<bool>,
    /// The score the bands are read from (`None`: no scores).
    pub score: Option<ScoreKind>,
    /// More than half of the participants' means are equal: their data have no scale.
    pub no_scale: bool,
}

impl std::fmt::Display for ConsensusMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConsensusMethod::AlgorithmA => "Algorithm A",
            ConsensusMethod::QHampel => "Q/Hampel",
        })
    }
}

impl std::fmt::Display for ValueSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ValueSource::Reference => "reference value (scheme owner's reference run)",
            ValueSource::Known => "known value (by construction of the item)",
            ValueSource::Given => "given value",
        })
    }
}

impl std::fmt::Display for XptBasis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XptBasis::Consensus {
                no_scale: true,
                method,
            } => write!(f, "consensus ({method} not run: no scale; median)"),
            XptBasis::Consensus { method, .. } => write!(f, "consensus ({method})"),
            XptBasis::Value { source } => write!(f, "{source}"),
            XptBasis::Pending { source } => write!(f, "{source}, not yet available"),
        }
    }
}

impl std::fmt::Display for SigmaBasis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigmaBasis::Prescribed => f.write_str("prescribed (fitness for purpose)"),
            SigmaBasis::Binomial { n } => write!(f, "binomial model √(x_pt(1−x_pt)/{n})"),
            SigmaBasis::PreviousRound { round } => write!(f, "from round {round}"),
            SigmaBasis::Participants { method } => {
                write!(f, "participants' robust SD ({method})")
            }
            SigmaBasis::Undeclared => f.write_str("undeclared (for information, not scored)"),
        }
    }
}

impl std::fmt::Display for ScoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScoreKind::Z => "z",
            ScoreKind::ZPrime => "z′",
        })
    }
}

/// Consensus estimates of the participants' means (computed only when the data have scale).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Consensus {
    pub(crate) x: f64,
    pub(crate) s: f64,
    pub(crate) u: f64,
}

/// Relative tolerance within which two reported values are the same value.
pub const EQUAL_TOLERANCE: f64 = 1e-9;

/// Whether `a` and `b` are equal within `tol` relative to the larger magnitude.
pub fn nearly_equal(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs())
}

/// Replaces values equal within `tol` by one representative (the smallest of a run of
/// sorted values each within `tol` of the run's first), so that 0.98 and
/// 0.9800000000000001 are one value for every statistic. Order is kept.
pub fn snap(values: &mut [f64], tol: f64) {
    if tol <= 0.0 || values.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_unstable_by(|&i, &j| values[i].total_cmp(&values[j]).then(i.cmp(&j)));
    let mut first = values[order[0]];
    for &i in &order[1..] {
        if nearly_equal(values[i], first, tol) {
            values[i] = first;
        } else {
            first = values[i];
        }
    }
}

/// Whether more than half of the (snapped) values are one value.
pub fn has_no_scale(values: &[f64]) -> bool {
    let mut s = values.to_vec();
    s.sort_unstable_by(f64::total_cmp);
    let mut best = 0;
    let mut run = 0;
    for (i, v) in s.iter().enumerate() {
        run = if i > 0 && s[i - 1] == *v { run + 1 } else { 1 };
        best = best.max(run);
    }
    2 * best > s.len()
}

/// The consensus of `means` by `method`; `None` when it cannot be formed.
pub(crate) fn consensus(
    means: &[f64],
    method: ConsensusMethod,
    cfg: &robust::AlgorithmAConfig,
) -> Option<Consensus> {
    match method {
        ConsensusMethod::AlgorithmA => robust::algorithm_a(means, cfg).ok().map(|a| Consensus {
            x: a.x,
            s: a.s,
            u: a.u_x_pt,
        }),
        ConsensusMethod::QHampel => qhampel::q_hampel(means).ok().map(|q| Consensus {
            x: q.x,
            s: q.s,
            u: q.u_x_pt,
        }),
    }
}

/// Why a measurand without a declared σ_pt has no scores, and how to declare one.
pub const UNDECLARED_NOTE: &str = "no σ_pt is declared for this measurand: its results are for \
     information and are not scored (no z, z′, ζ or En); a scheme declares σ_pt by fitness for \
     purpose (prescribed, binomial model, previous round) or explicitly as the participants' \
     robust SD";

/// Resolves a declaration against the participants' means.
///
/// `consensus` is the estimate of the declared method (`None` when fewer than three labs
/// or when the data have no scale); `median` the median of the means. Notes explain every
/// missing number.
pub(crate) fn resolve(
    decl: &Assessment,
    consensus: Option<&Consensus>,
    median: Option<f64>,
    p: usize,
    no_scale: bool,
    notes: &mut Vec<String>,
) -> AssessmentLine {
    let (x_pt, u_x_pt, x_pt_basis) = match &decl.assigned {
        Assigned::Value { source, value, u } => {
            (Some(*value), Some(*u), XptBasis::Value { source: *source })
        }
        Assigned::Pending { source, reason } => {
            notes.push(format!("no assigned value yet: {reason}"));
            (None, None, XptBasis::Pending { source: *source })
        }
        Assigned::Consensus { method } => {
            let basis = XptBasis::Consensus {
                method: *method,
                no_scale,
            };
            if no_scale {
                notes.push(
                    "more than half of the labs report the same value: the data have no scale, \
                     so x_pt is their median and u(x_pt) cannot be estimated from them"
                        .into(),
                );
                (median, None, basis)
            } else {
                match consensus {
                    Some(c) => (Some(c.x), Some(c.u), basis),
                    None => (None, None, basis),
                }
            }
        }
    };
    let method_of = |a: &Assigned| match a {
        Assigned::Consensus { method } => *method,
        _ => ConsensusMethod::AlgorithmA,
    };
    let (sigma_pt, sigma_pt_basis) = match &decl.sigma_pt {
        SigmaPt::Prescribed { value } => (Some(*value), SigmaBasis::Prescribed),
        SigmaPt::PreviousRound { value, round } => {
            (Some(*value), SigmaBasis::PreviousRound { round: *round })
        }
        SigmaPt::Binomial { n } => {
            let s = x_pt.and_then(|x| {
                if (0.0..=1.0).contains(&x) {
                    Some((x * (1.0 - x) / *n as f64).sqrt())
                } else {
                    notes.push(format!(
                        "σ_pt by the binomial model needs x_pt in [0, 1] but x_pt = {x}"
                    ));
                    None
                }
            });
            let s = match s {
                Some(s) if s > 0.0 => Some(s),
                Some(_) => {
                    notes
                        .push("σ_pt by the binomial model is 0 at x_pt = 0 or 1: no scores".into());
                    None
                }
                None => None,
            };
            (s, SigmaBasis::Binomial { n: *n })
        }
        SigmaPt::Participants => {
            let method = method_of(&decl.assigned);
            let s = if no_scale {
                notes.push(
                    "σ_pt is declared as the participants' robust SD, but their data have no \
                     scale: no σ_pt and no z-scores (declare σ_pt for this measurand)"
                        .into(),
                );
                None
            } else {
                match consensus {
                    Some(c) if c.s > 0.0 => Some(c.s),
                    Some(_) => {
                        notes.push("the participants' robust SD is 0: no z-scores".into());
                        None
                    }
                    None if p >= 3 => {
                        notes.push("the participants' robust SD could not be computed".into());
                        None
                    }
                    None => None,
                }
            };
            (s, SigmaBasis::Participants { method })
        }
        SigmaPt::Undeclared => {
            notes.push(UNDECLARED_NOTE.into());
            (None, SigmaBasis::Undeclared)
        }
    };
    let u_negligible = sigma_pt
        .zip(u_x_pt)
        .map(|(s, u)| scores::u_negligible(u, s));
    let score = match (x_pt, sigma_pt, u_negligible) {
        (Some(_), Some(_), Some(true)) => Some(ScoreKind::Z),
        (Some(_), Some(_), Some(false)) => Some(ScoreKind::ZPrime),
        (Some(_), Some(_), None) => {
            notes.push("u(x_pt) is unknown: scores are z with the declared σ_pt".into());
            Some(ScoreKind::Z)
        }
        _ => None,
    };
    AssessmentLine {
        x_pt,
        u_x_pt,
        x_pt_basis,
        sigma_pt,
        sigma_pt_basis,
        u_negligible,
        score,
        no_scale,
    }
}

#[cfg(test)]
mod tests;
