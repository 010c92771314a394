//! Which labs the network flags, and why: performance scores (z and ζ together),
//! verdicts against the harmonized criterion, drift alarms, upheld disputes and
//! equivocation. Kept apart from the counting rules so each can be read on its own.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    comparability::{Flag, LabAgreement, lab_name},
    disputes::DisputeView,
};
use crate::{
    Opened, PublicKey, RunResult,
    authority::Authority,
    stats::{Report, criteria::ImpliedThreshold, scores::Band},
};

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "undefined".to_owned(), |x| format!("{x:.4}"))
}

pub(super) fn flag_labs(
    authority: &Authority,
    equivocators: &BTreeSet<PublicKey>,
    counted: &[(&Opened, &RunResult)],
    report: Option<&Report>,
    round: u32,
    agreement: &[LabAgreement],
    disputes: &[DisputeView],
) -> Vec<Flag> {
    let mut labs: BTreeMap<String, PublicKey> = counted
        .iter()
        .map(|(o, _)| (lab_name(authority, &o.record.author), o.record.author))
        .collect();
    for k in equivocators
        .iter()
        .chain(disputes.iter().filter_map(|d| d.target_author.as_ref()))
    {
        labs.insert(lab_name(authority, k), *k);
    }
    let mut flags = Vec::new();
    for (lab, key) in labs {
        let mut kinds = Vec::new();
        let mut reasons = Vec::new();
        if equivocators.contains(&key) {
            kinds.push("equivocation");
            reasons.push(
                "signed two different records at one position of its chain (fork proof held)"
                    .to_owned(),
            );
        }
        for m in report.map(|r| r.measurands.as_slice()).unwrap_or_default() {
            if m.round != u64::from(round) {
                continue;
            }
            let Some(line) = m.labs.iter().find(|l| l.lab == lab) else {
                continue;
            };
            // The performance score is the one the measurand's assessment chose (z or z′
            // with the declared σ_pt); without one (no σ_pt), ζ alone. A measurand with no
            // σ_pt declared is for information and has neither: it never flags a lab.
            let bad = |b: Option<Band>| b.map(|b| b != Band::Satisfactory);
            let band = line.score.map(|s| s.band).or(line.zeta_band);
            if bad(band) == Some(true) {
                if !kinds.contains(&"z_score") {
                    kinds.push("z_score");
                }
                let band = if band == Some(Band::Unsatisfactory) {
                    "unsatisfactory"
                } else {
                    "questionable"
                };
                let score = match line.score {
                    Some(s) => format!("{} = {:.2}", s.kind, s.value),
                    None => format!("ζ = {}", fmt(line.zeta)),
                };
                reasons.push(format!(
                    "{}: mean {} vs x_pt {}, {score} ({band}){}",
                    m.measurand,
                    fmt(line.mean),
                    fmt(m.assessment.x_pt),
                    if line.conforming {
                        ""
                    } else {
                        "; the result deviates from the harmonized method"
                    }
                ));
            }
            if let Some(d) = &line.drift
                && let Some(a) = d.alarms.first()
            {
                if !kinds.contains(&"drift") {
                    kinds.push("drift");
                }
                reasons.push(format!(
                    "{}: {} alarm at round {} (value {:.2})",
                    m.measurand, a.rule, a.round, a.value
                ));
            }
        }
        for d in disputes.iter().filter(|d| {
            d.target_author == Some(key)
                && d.resolution
                    .as_ref()
                    .is_some_and(|r| r.outcome == crate::Outcome::Upheld)
        }) {
            if !kinds.contains(&"dispute_upheld") {
                kinds.push("dispute_upheld");
            }
            let action = d
                .resolution
                .as_ref()
                .map_or(crate::Action::None, |r| r.action);
            reasons.push(format!(
                "a dispute ({}) against its result {} was upheld (action {})",
                d.grounds.name(),
                d.target.short(),
                action.name()
            ));
        }
        for a in agreement.iter().filter(|a| a.lab == lab) {
            let disagree = a.agreement.disagreements.len();
            if !a.named_suite_criterion || disagree > 0 {
                if !kinds.contains(&"criterion") {
                    kinds.push("criterion");
                }
                let what = if a.named_suite_criterion {
                    format!(
                        "{}: {disagree} of {} verdicts disagree with the harmonized criterion",
                        a.test, a.agreement.n
                    )
                } else {
                    format!(
                        "{}: verdicts name a criterion other than the suite's",
                        a.test
                    )
                };
                let implied = match &a.implied_threshold {
                    ImpliedThreshold::Logistic { x50, se, .. } => {
                        format!("; implied threshold {x50:.4} ± {se:.4}")
                    }
                    ImpliedThreshold::Separated { lower, upper, .. } => {
                        format!("; implied threshold in ({lower:.4}, {upper:.4})")
                    }
                    ImpliedThreshold::Undetermined { .. } => String::new(),
                };
                reasons.push(format!("{what}{implied}"));
            }
        }
        if !kinds.is_empty() {
            flags.push(Flag {
                lab,
                key,
                kinds: kinds.into_iter().map(str::to_owned).collect(),
                reasons,
            });
        }
    }
    flags
}
