//! Human-readable text of the regulator's answers (the JSON is the contract; this is
//! for people at a terminal).

use std::fmt::Write;

use interlab_protocol::{
    Digest,
    stats::{
        MeasurandReport,
        assessment::{ScoreKind, SigmaBasis, XptBasis},
    },
};
use serde::Serialize;

use interlab_node::api::types::ComparabilityAnswer;

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(
        || "—".to_owned(),
        |x| {
            if x != 0.0 && x.abs() < 0.5 * 10f64.powi(-(digits as i32)) {
                format!("{x:.2e}")
            } else {
                format!("{x:.digits$}")
            }
        },
    )
}

/// The wire word of a unit enum value (`not-reproducible`, `algorithm_a`, …), so that the
/// text and the JSON name things alike.
fn word(v: &impl Serialize) -> String {
    serde_json::to_string(v)
        .map(|s| s.trim_matches('"').to_owned())
        .unwrap_or_default()
}

/// The basis of x_pt in words.
fn xpt_basis(b: &XptBasis) -> String {
    match b {
        XptBasis::Consensus { method, .. } => {
            format!("consensus, {}", word(method).replace('_', " "))
        }
        XptBasis::Value { source } => format!("{} value", word(source)),
        XptBasis::Pending { source } => format!("{} value, pending", word(source)),
    }
}

/// The basis of σ_pt in words.
fn sigma_basis(b: &SigmaBasis) -> String {
    match b {
        SigmaBasis::Prescribed => "prescribed".to_owned(),
        SigmaBasis::Binomial { n } => format!("binomial, n = {n}"),
        SigmaBasis::PreviousRound { round } => format!("round {round}"),
        SigmaBasis::Participants { .. } => "participants' robust SD".to_owned(),
        SigmaBasis::Undeclared => "undeclared".to_owned(),
    }
}

/// Renders a `GET /v1/comparability` answer.
pub(crate) fn comparability(answer: &ComparabilityAnswer) -> String {
    let c = &answer.comparability;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Suite {} {} ({}), round {}{}",
        c.suite_name,
        c.suite_version,
        short(&c.suite),
        c.round,
        if c.include_disputed {
            ", including disputed results"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "Evidence root {} over {} records",
        answer.evidence_root, answer.evidence.records
    );
    let counted = c.results.iter().filter(|r| r.counted).count();
    let _ = writeln!(out, "Results: {} ({} counted)", c.results.len(), counted);
    for r in c.results.iter().filter(|r| !r.counted) {
        let _ = writeln!(
            out,
            "  not counted: {} round {} ({})",
            r.lab_name,
            r.round,
            r.reason.as_deref().unwrap_or("?")
        );
    }
    if !c.items.is_empty() {
        let list: Vec<String> = c
            .items
            .iter()
            .map(
                |i| match (i.known_answer.is_some(), i.revealed_by.is_some()) {
                    (true, true) => format!("{} (known answer, revealed)", i.id),
                    (true, false) => format!("{} (known answer, sealed)", i.id),
                    _ => i.id.clone(),
                },
            )
            .collect();
        let _ = writeln!(out, "Test items: {}", list.join(", "));
    }
    if let Some(note) = &c.report_note {
        let _ = writeln!(out, "No statistics: {note}");
    }
    let measurands: Vec<&MeasurandReport> = c.report.iter().flat_map(|r| &r.measurands).collect();
    // Measurands with a declared σ_pt are the round's performance evaluation; the others
    // (secondary metrics) are summarised, their numbers are in the JSON.
    let (scored, other): (Vec<&MeasurandReport>, Vec<&MeasurandReport>) =
        measurands.into_iter().partition(|m| {
            m.assessment.sigma_pt.is_some()
                || matches!(m.assessment.x_pt_basis, XptBasis::Pending { .. })
        });
    // Notes that several scored measurands share are printed once, after them.
    let mut common: Vec<(&String, usize)> = Vec::new();
    for m in &scored {
        for n in &m.notes {
            match common.iter_mut().find(|(c, _)| *c == n) {
                Some((_, k)) => *k += 1,
                None => common.push((n, 1)),
            }
        }
    }
    common.retain(|(_, k)| *k > 1);
    let shared = |n: &String| common.iter().any(|(c, _)| *c == n);
    for m in &scored {
        let a = &m.assessment;
        let score = match a.score {
            Some(ScoreKind::Z) => "z",
            Some(ScoreKind::ZPrime) => "z′",
            None => "—",
        };
        let _ = writeln!(
            out,
            "\n{}  (p = {}, x_pt = {} ± {} [{}], σ_pt = {} [{}], score {score})",
            m.measurand,
            m.p,
            num(a.x_pt, 4),
            num(a.u_x_pt, 4),
            xpt_basis(&a.x_pt_basis),
            num(a.sigma_pt, 4),
            sigma_basis(&a.sigma_pt_basis),
        );
        let _ = writeln!(
            out,
            "  {:<14} {:>3} {:>9} {:>8} {:>7} {:>7} {:>7}  {:<14} method",
            "lab", "n", "mean", "sd", score, "zeta", "h", "band"
        );
        for l in &m.labs {
            let _ = writeln!(
                out,
                "  {:<14} {:>3} {:>9} {:>8} {:>7} {:>7} {:>7}  {:<14} {}{}",
                l.lab,
                l.n,
                num(l.mean, 4),
                num(l.sd, 4),
                num(l.score.map(|s| s.value), 2),
                num(l.zeta, 2),
                num(l.h, 2),
                l.score.map_or_else(|| "—".to_owned(), |s| word(&s.band)),
                l.method.as_deref().unwrap_or("—"),
                if l.conforming {
                    ""
                } else {
                    " (deviates: not pooled)"
                }
            );
        }
        for n in m.notes.iter().filter(|n| !shared(n)) {
            let _ = writeln!(out, "  note: {n}");
        }
    }
    if !common.is_empty() {
        let _ = writeln!(out, "\nNotes shared by several measurands above:");
        for (n, k) in &common {
            let _ = writeln!(out, "  - ({k} of {}) {n}", scored.len());
        }
    }
    if !other.is_empty() {
        let _ = writeln!(
            out,
            "\n{} further measurand(s) are reported for information and not scored (every \
             number is in the JSON answer):",
            other.len()
        );
        for m in &other {
            let why = if m.assessment.sigma_pt_basis == SigmaBasis::Undeclared {
                "no σ_pt is declared".to_owned()
            } else {
                format!(
                    "no σ_pt could be formed ({})",
                    sigma_basis(&m.assessment.sigma_pt_basis)
                )
            };
            let _ = writeln!(
                out,
                "  {}  (p = {}, x_pt = {} [{}]): {why}",
                m.measurand,
                m.p,
                num(m.assessment.x_pt, 4),
                xpt_basis(&m.assessment.x_pt_basis),
            );
        }
    }
    if let Some(f) = &c.fleiss {
        let _ = writeln!(
            out,
            "\nVerdict agreement across labs: Fleiss κ = {} (se₀ {})",
            num(Some(f.kappa), 3),
            num(Some(f.se0), 3)
        );
    } else if let Some(n) = &c.fleiss_note {
        let _ = writeln!(out, "\nVerdict agreement across labs: {n}");
    }
    if c.flags.is_empty() {
        let _ = writeln!(out, "\nNo lab is flagged.");
    } else {
        let _ = writeln!(out, "\nFlagged labs:");
        for f in &c.flags {
            let _ = writeln!(out, "  {}:", f.lab);
            for r in &f.reasons {
                let _ = writeln!(out, "    - {r}");
            }
        }
    }
    if !c.disputes.is_empty() {
        let _ = writeln!(out, "\nDisputes:");
        for d in &c.disputes {
            let _ = writeln!(
                out,
                "  {} {} on {}: {}{}",
                short(&d.id),
                d.grounds.name(),
                short(&d.target),
                d.state.name(),
                match &d.resolution {
                    Some(res) => format!(" ({}, action {})", res.outcome.name(), res.action.name()),
                    None => String::new(),
                }
            );
        }
    }
    out
}

fn short(d: &Digest) -> String {
    d.to_hex().chars().take(8).collect()
}
