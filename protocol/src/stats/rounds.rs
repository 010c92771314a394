//! The statistics that look across rounds: each lab's score in every round for the drift
//! charts, and verdict agreement (κ) over the rounds.

use std::collections::HashMap;

use super::{
    assemble::{group, round_of},
    assessment::{self, Assessment, Assigned, ConsensusMethod, SigmaPt},
    drift, kappa,
    report::{KappaLine, Observation, ReportConfig},
    robust, scores,
};
use crate::Verdict;

/// z-scores of every lab in every round (Algorithm A per round), then the drift charts.
pub(super) fn drift_series<'a>(
    rows: &[&'a Observation],
    rounds: &[u64],
    decl: &Assessment,
    cfg: &ReportConfig,
) -> HashMap<&'a str, drift::Drift> {
    let mut series: HashMap<&'a str, Vec<(u64, f64)>> = HashMap::new();
    for &r in rounds {
        let in_round: Vec<&Observation> =
            rows.iter().copied().filter(|o| round_of(o) == r).collect();
        let labs = group(in_round.iter().copied(), |o| o.lab.as_str());
        let means: Vec<(&str, f64)> = labs
            .iter()
            .filter_map(|(lab, rs)| {
                let v: Vec<f64> = rs.iter().filter_map(|o| o.value).collect();
                robust::mean_sd(&v).map(|(m, _)| (*lab, m))
            })
            .collect();
        if means.len() < 3 {
            continue;
        }
        let xs: Vec<f64> = means.iter().map(|m| m.1).collect();
        let Some((x, s)) = round_scale(&xs, decl, cfg) else {
            continue;
        };
        for (lab, m) in means {
            if let Some(z) = scores::z(m, x, s) {
                series.entry(lab).or_default().push((r, z));
            }
        }
    }
    series
        .into_iter()
        .map(|(lab, s)| (lab, drift::drift(&s, &cfg.drift)))
        .collect()
}

/// x_pt and σ_pt of one earlier round for the drift charts: the round's own consensus
/// (assigned values given for the current round do not apply to earlier ones) with the
/// declared σ_pt rule; `None` when the round's data have no scale and σ_pt would come
/// from them.
fn round_scale(xs: &[f64], decl: &Assessment, cfg: &ReportConfig) -> Option<(f64, f64)> {
    let method = match &decl.assigned {
        Assigned::Consensus { method } => *method,
        _ => ConsensusMethod::AlgorithmA,
    };
    let no_scale = assessment::has_no_scale(xs);
    let c = if no_scale {
        None
    } else {
        assessment::consensus(xs, method, &cfg.algorithm_a)
    };
    let x = match &c {
        Some(c) => c.x,
        None => robust::median(xs).ok()?,
    };
    let s = match &decl.sigma_pt {
        SigmaPt::Prescribed { value } | SigmaPt::PreviousRound { value, .. } => *value,
        SigmaPt::Binomial { n } => ((x * (1.0 - x)).max(0.0) / *n as f64).sqrt(),
        SigmaPt::Participants => c?.s,
        // For information only: no σ_pt, so no standardised drift chart.
        SigmaPt::Undeclared => return None,
    };
    (s > 0.0).then_some((x, s))
}

/// Fleiss κ over rounds (items) and labs that gave a verdict in every round; a lab's
/// verdict for a round is `fail` if any of its rows in that round says fail.
pub(super) fn kappa_line(rows: &[&Observation], notes: &mut Vec<String>) -> Option<KappaLine> {
    let with: Vec<&Observation> = rows
        .iter()
        .copied()
        .filter(|o| o.verdict.is_some())
        .collect();
    if with.is_empty() {
        return None;
    }
    let mut rounds: Vec<u64> = with.iter().map(|o| round_of(o)).collect();
    rounds.sort_unstable();
    rounds.dedup();
    let per_lab = group(with.iter().copied(), |o| o.lab.as_str());
    let mut matrix: Vec<Vec<bool>> = Vec::new();
    let mut dropped = 0;
    for (_, rs) in &per_lab {
        let mut v = Vec::with_capacity(rounds.len());
        for r in &rounds {
            let mine: Vec<Verdict> = rs
                .iter()
                .filter(|o| round_of(o) == *r)
                .filter_map(|o| o.verdict)
                .collect();
            if mine.is_empty() {
                break;
            }
            v.push(mine.iter().all(|x| *x == Verdict::Pass));
        }
        if v.len() == rounds.len() {
            matrix.push(v);
        } else {
            dropped += 1;
        }
    }
    if dropped > 0 {
        notes.push(format!(
            "{dropped} lab(s) without a verdict in every round are left out of kappa"
        ));
    }
    let labs = matrix.len();
    let table: Vec<Vec<f64>> = (0..rounds.len())
        .map(|j| {
            let pass = matrix.iter().filter(|v| v[j]).count() as f64;
            vec![pass, labs as f64 - pass]
        })
        .collect();
    let fleiss = match kappa::fleiss(&table) {
        Ok(f) => Some(f),
        Err(e) => {
            notes.push(format!("fleiss kappa: {e}"));
            None
        }
    };
    let cohen = (labs == 2)
        .then(|| {
            let mut t = vec![vec![0.0; 2]; 2];
            for j in 0..rounds.len() {
                t[usize::from(!matrix[0][j])][usize::from(!matrix[1][j])] += 1.0;
            }
            kappa::cohen(&t)
                .map_err(|e| notes.push(format!("cohen kappa: {e}")))
                .ok()
        })
        .flatten();
    Some(KappaLine {
        items: rounds.len(),
        labs,
        fleiss,
        cohen,
    })
}
