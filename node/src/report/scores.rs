//! The statistical sections: assigned values and scores per measurand, charts, verdict
//! agreement, disputes and exclusions, interpretation and comments, verification.

use std::collections::BTreeMap;

use interlab_protocol::{
    governance::{Comparability, DisputeState},
    stats::{
        MeasurandReport,
        assessment::{SigmaBasis, XptBasis},
        criteria::ImpliedThreshold,
        report::LabLine,
        scores::Band,
    },
};

use super::{
    build::Ctx,
    doc::{Block, Section, num, time},
    figure::{self, Bars, SCORE_BANDS, band_color},
};

/// The measurands of the report's own round (the report also holds earlier rounds).
pub(super) fn round_measurands(c: &Comparability) -> Vec<&MeasurandReport> {
    c.report
        .iter()
        .flat_map(|r| &r.measurands)
        .filter(|m| m.round == u64::from(c.round))
        .collect()
}

/// Whether the round scores `m`: a σ_pt is available, or its declared assigned value is
/// still pending (the scores then follow). Other measurands (secondary metrics without a
/// σ_pt) are reported for information only, as on the dashboard.
pub(super) fn scored(m: &MeasurandReport) -> bool {
    m.assessment.sigma_pt.is_some() || matches!(m.assessment.x_pt_basis, XptBasis::Pending { .. })
}

/// The round's measurands split into scored and for-information ones.
fn split(c: &Comparability) -> (Vec<&MeasurandReport>, Vec<&MeasurandReport>) {
    round_measurands(c).into_iter().partition(|m| scored(m))
}

/// Why an unscored measurand has no scores, in words.
fn why_unscored(m: &MeasurandReport) -> &'static str {
    if m.assessment.sigma_pt_basis == SigmaBasis::Undeclared {
        return "no σ_pt is declared: reported for information";
    }
    match (m.assessment.x_pt, m.assessment.no_scale) {
        (None, _) => "no assigned value could be determined",
        (Some(_), true) => "the declared σ_pt needs a scale, but most labs report the same value",
        (Some(_), false) => "the declared σ_pt could not be formed (see the notes)",
    }
}

/// One line per lab-mean range: "0.28 to 0.31", or one value when all agree.
fn range(m: &MeasurandReport) -> String {
    let means: Vec<f64> = m.labs.iter().filter_map(|l| l.mean).collect();
    let lo = means.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match means.len() {
        0 => "no values".to_owned(),
        _ if lo == hi => format!("all {}", num(Some(lo))),
        _ => format!("{} to {}", num(Some(lo)), num(Some(hi))),
    }
}

/// A measurand's lab lines in name order, so every table lists the labs alike.
pub(super) fn by_name(m: &MeasurandReport) -> Vec<&LabLine> {
    let mut v: Vec<&LabLine> = m.labs.iter().collect();
    v.sort_by(|a, b| a.lab.cmp(&b.lab));
    v
}

fn band(b: Option<Band>) -> &'static str {
    match b {
        Some(Band::Satisfactory) => "satisfactory",
        Some(Band::Questionable) => "questionable",
        Some(Band::Unsatisfactory) => "unsatisfactory",
        None => "—",
    }
}

fn traceability(m: &MeasurandReport) -> String {
    let basis = m.assessment.x_pt_basis.to_string();
    if basis.contains("reference") {
        "traceable to the scheme owner's reference run of this round (signed record)".to_owned()
    } else if basis.contains("known") {
        "traceable to the item's construction (sealed known answer, revealed and checked against its commitment)".to_owned()
    } else {
        "consensus of participants: not traceable beyond this round's results".to_owned()
    }
}

pub(super) fn assigned(ctx: &Ctx<'_>) -> Section {
    let mut s = Section::new("assigned", "5. Assigned values, σ_pt and scores");
    s.para(
        "Statistical procedures (ISO 13528): robust consensus by Algorithm A (or Q/Hampel), \
         u(x_pt) = 1.25·s*/√p for a consensus; z = (x − x_pt)/σ_pt, z′ when u(x_pt) is not \
         negligible, ζ = (x − x_pt)/√(u² + u(x_pt)²), En with expanded uncertainties; \
         precision by ISO 5725-2 (s_r, s_L, s_R, Mandel h and k, Cochran, Grubbs).",
    );
    let (ms, info) = split(ctx.c);
    if ms.is_empty() && info.is_empty() {
        s.para(
            ctx.c
                .report_note
                .clone()
                .unwrap_or_else(|| "No measurand has counted results in this round.".to_owned()),
        );
    } else if ms.is_empty() {
        s.para("No measurand of this round has a σ_pt, so no lab is scored in this round.");
    }
    for m in ms {
        let a = &m.assessment;
        s.heading(m.measurand.clone());
        let p = &m.precision;
        s.blocks.push(Block::Facts(vec![
            ("Assigned value x_pt".into(), num(a.x_pt)),
            ("How it was determined".into(), a.x_pt_basis.to_string()),
            ("u(x_pt)".into(), num(a.u_x_pt)),
            ("Traceability".into(), traceability(m)),
            ("σ_pt".into(), num(a.sigma_pt)),
            ("σ_pt basis".into(), a.sigma_pt_basis.to_string()),
            (
                "u(x_pt) ≤ 0.3 σ_pt".into(),
                a.u_negligible
                    .map_or("—".into(), |b| if b { "yes" } else { "no" }.into()),
            ),
            (
                "Score used".into(),
                a.score.map_or("none".into(), |k| k.to_string()),
            ),
            ("Participants p".into(), m.p.to_string()),
            (
                "s_r, s_L, s_R".into(),
                format!("{}, {}, {}", num(p.s_r), num(p.s_l), num(p.s_big_r)),
            ),
        ]));
        let mut mark = Vec::new();
        let rows = by_name(m)
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                if ctx.own.as_deref() == Some(l.lab.as_str()) {
                    mark.push(i);
                }
                vec![
                    l.lab.clone(),
                    num(l.mean),
                    l.score.map_or("—".into(), |x| num(Some(x.value))),
                    band(l.score.map(|x| x.band)).to_owned(),
                    num(l.zeta),
                    band(l.zeta_band).to_owned(),
                    num(l.en),
                    if l.outlier { "outlier" } else { "—" }.to_owned(),
                ]
            })
            .collect();
        s.table_marked(
            &[
                "Lab",
                "Mean",
                "Score",
                "Band",
                "ζ",
                "ζ band",
                "En",
                "Screening",
            ],
            rows,
            mark,
        );
        for n in &m.notes {
            s.para(format!("Note: {n}"));
        }
    }
    if !info.is_empty() {
        s.heading("Measurands reported for information (not scored)");
        s.para(
            "The suite declares σ_pt by fitness for purpose for the metrics its criteria judge. \
             The measurands below have no σ_pt, so no lab is scored on them: a σ_pt is never \
             taken from the participants' spread unless the suite declares it, because labs \
             that run the same engine agree by construction. Their consensus is shown for \
             information; each lab's values and uncertainties are in section 4.",
        );
        s.table(
            &[
                "Measurand",
                "Labs",
                "x_pt",
                "How x_pt was determined",
                "Lab means",
                "Why not scored",
            ],
            info.iter()
                .map(|m| {
                    vec![
                        m.measurand.clone(),
                        m.p.to_string(),
                        num(m.assessment.x_pt),
                        m.assessment.x_pt_basis.to_string(),
                        range(m),
                        why_unscored(m).to_owned(),
                    ]
                })
                .collect(),
        );
    }
    s
}

pub(super) fn charts(ctx: &Ctx<'_>) -> Section {
    let mut s = Section::new("charts", "6. Charts");
    let (ms, info) = split(ctx.c);
    if !info.is_empty() {
        s.para(format!(
            "Charts are drawn for the {} scored measurand(s); the {} measurand(s) reported for \
             information (section 5) have no scores to chart.",
            ms.len(),
            info.len()
        ));
    }
    for m in &ms {
        let kind = m.assessment.score.map_or("z".to_owned(), |k| k.to_string());
        let label = |l: &str| {
            if ctx.own.as_deref() == Some(l) {
                format!("▶ {l}")
            } else {
                l.to_owned()
            }
        };
        if m.labs.iter().any(|l| l.score.is_some()) {
            s.blocks.push(Block::Figure(figure::bars(Bars {
                caption: format!("{kind}-scores of {} with the ±2 and ±3 bands", m.measurand),
                items: by_name(m)
                    .into_iter()
                    .map(|l| {
                        (
                            label(&l.lab),
                            l.score.map(|x| x.value),
                            band_color(l.score.map(|x| x.band)),
                        )
                    })
                    .collect(),
                bands: &SCORE_BANDS,
                rules: vec![(0.0, false)],
                min_range: (-3.5, 3.5),
            })));
        } else {
            s.para(format!(
                "{}: no scores, so no score chart (see section 5).",
                m.measurand
            ));
        }
        if m.labs.iter().any(|l| l.zeta.is_some()) {
            s.blocks.push(Block::Figure(figure::bars(Bars {
                caption: format!("ζ-scores of {}", m.measurand),
                items: by_name(m)
                    .into_iter()
                    .map(|l| (label(&l.lab), l.zeta, band_color(l.zeta_band)))
                    .collect(),
                bands: &SCORE_BANDS,
                rules: vec![(0.0, false)],
                min_range: (-3.5, 3.5),
            })));
        }
        let mc = &m.mandel_critical;
        if m.labs.iter().any(|l| l.h.is_some()) {
            let mut rules = vec![(0.0, false)];
            for v in [mc.h_5, mc.h_1].into_iter().flatten() {
                rules.push((v, v == mc.h_5.unwrap_or(f64::NAN)));
                rules.push((-v, v == mc.h_5.unwrap_or(f64::NAN)));
            }
            s.blocks.push(Block::Figure(figure::bars(Bars {
                caption: format!(
                    "Mandel h of {}: dashed 5 %, solid 1 % critical values (ISO 5725-2)",
                    m.measurand
                ),
                items: by_name(m)
                    .into_iter()
                    .map(|l| (label(&l.lab), l.h, super::doc::INK))
                    .collect(),
                bands: &[],
                rules,
                min_range: (-1.0, 1.0),
            })));
        }
        if m.labs.iter().any(|l| l.k.is_some()) {
            let mut rules = Vec::new();
            if let Some(v) = mc.k_5 {
                rules.push((v, true));
            }
            if let Some(v) = mc.k_1 {
                rules.push((v, false));
            }
            s.blocks.push(Block::Figure(figure::bars(Bars {
                caption: format!(
                    "Mandel k of {}: dashed 5 %, solid 1 % critical values",
                    m.measurand
                ),
                items: by_name(m)
                    .into_iter()
                    .map(|l| (label(&l.lab), l.k, super::doc::INK))
                    .collect(),
                bands: &[],
                rules,
                min_range: (0.0, 1.0),
            })));
        }
    }
    if let Some(f) = ms
        .iter()
        .enumerate()
        .flat_map(|(i, a)| ms[i + 1..].iter().map(move |b| (*a, *b)))
        .find_map(|(a, b)| figure::youden(a, b))
    {
        s.blocks.push(Block::Figure(f));
    } else {
        s.para("No Youden plot: fewer than two measurands share two labs with results.");
    }
    let all: Vec<&MeasurandReport> = ctx.c.report.iter().flat_map(|r| &r.measurands).collect();
    for m in &ms {
        let mut series: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
        for past in all.iter().filter(|p| p.measurand == m.measurand) {
            for l in &past.labs {
                if let Some(sc) = l.score {
                    series
                        .entry(l.lab.clone())
                        .or_default()
                        .push((past.round, sc.value));
                }
            }
        }
        for v in series.values_mut() {
            v.sort_by_key(|p| p.0);
        }
        let rounds = series
            .values()
            .flatten()
            .map(|p| p.0)
            .collect::<std::collections::BTreeSet<_>>();
        if rounds.len() >= 2
            && let Some(f) = figure::control(&m.measurand, &series)
        {
            s.blocks.push(Block::Figure(f));
        }
    }
    if !ms.is_empty()
        && ms
            .iter()
            .all(|m| all.iter().filter(|p| p.measurand == m.measurand).count() < 2)
    {
        s.para("No control chart: this is the first round with scores for these measurands.");
    }
    s
}

fn implied(t: &ImpliedThreshold) -> String {
    match t {
        ImpliedThreshold::Logistic { x50, se, .. } => {
            format!("{} ± {}", num(Some(*x50)), num(Some(*se)))
        }
        ImpliedThreshold::Separated { lower, upper, .. } => {
            format!("between {} and {}", num(Some(*lower)), num(Some(*upper)))
        }
        ImpliedThreshold::Undetermined { reason } => reason.clone(),
    }
}

pub(super) fn verdicts(ctx: &Ctx<'_>) -> Section {
    let c = ctx.c;
    let mut s = Section::new("verdicts", "7. Verdict agreement and implied thresholds");
    if c.agreement.is_empty() {
        s.para("No counted verdicts to compare with the harmonized criteria.");
    }
    s.table(
        &[
            "Lab",
            "Test",
            "Names suite criterion",
            "Verdicts",
            "Agreement",
            "Implied threshold",
        ],
        c.agreement
            .iter()
            .map(|a| {
                vec![
                    a.lab.clone(),
                    a.test.clone(),
                    if a.named_suite_criterion { "yes" } else { "no" }.to_owned(),
                    a.agreement.n.to_string(),
                    a.agreement
                        .rate
                        .map_or("—".into(), |r| format!("{:.0} %", r * 100.0)),
                    implied(&a.implied_threshold),
                ]
            })
            .collect(),
    );
    match (&c.fleiss, &c.fleiss_note) {
        (Some(f), _) => s.para(format!(
            "Fleiss κ of the labs' verdicts: {} (se₀ {}, {} tests).",
            num(Some(f.kappa)),
            num(Some(f.se0)),
            f.items
        )),
        (None, Some(n)) => s.para(format!("Fleiss κ: {n}")),
        (None, None) => {}
    }
    if !c.flags.is_empty() {
        s.heading("Labs flagged by the network");
        s.table(
            &["Lab", "Findings"],
            c.flags
                .iter()
                .map(|f| vec![f.lab.clone(), f.reasons.join("; ")])
                .collect(),
        );
    }
    s
}

pub(super) fn disputes(ctx: &Ctx<'_>) -> Section {
    let c = ctx.c;
    let mut s = Section::new("disputes", "8. Disputes and exclusions");
    let name = |k: &interlab_protocol::PublicKey| {
        ctx.snap
            .authority
            .lab(k)
            .map_or_else(|| k.short(), |l| l.name.clone())
    };
    if c.disputes.is_empty() {
        s.para("No dispute was raised about the results of this suite.");
    }
    s.table(
        &["Dispute", "By", "Against", "Grounds", "State", "Resolution"],
        c.disputes
            .iter()
            .map(|d| {
                vec![
                    format!("{} ({})", d.id.short(), time(d.time_ms)),
                    name(&d.author),
                    d.target_author.as_ref().map_or("—".into(), name),
                    d.grounds.name().to_owned(),
                    match d.state {
                        DisputeState::Open => "open",
                        DisputeState::Answered => "answered",
                        DisputeState::Resolved => "resolved",
                        DisputeState::AwaitingTarget => "awaiting its target",
                    }
                    .to_owned(),
                    d.resolution.as_ref().map_or("pending".into(), |r| {
                        format!(
                            "{}, {}: {}",
                            match r.outcome {
                                interlab_protocol::Outcome::Upheld => "upheld",
                                interlab_protocol::Outcome::Dismissed => "dismissed",
                            },
                            r.action.name(),
                            r.statement
                        )
                    }),
                ]
            })
            .collect(),
    );
    let excluded: Vec<Vec<String>> = c
        .results
        .iter()
        .filter(|r| r.round == c.round && !r.counted)
        .map(|r| {
            vec![
                r.lab_name.clone(),
                r.id.short(),
                r.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    if excluded.is_empty() {
        s.para("No result of this round is excluded from the statistics.");
    } else {
        s.heading("Results not in the statistics");
        s.table(&["Lab", "Record", "Reason"], excluded);
    }
    s
}

pub(super) fn interpretation(ctx: &Ctx<'_>) -> Section {
    let mut s = Section::new(
        "interpretation",
        "9. Interpreting the scores; comments on performance",
    );
    s.para(
        "|z| ≤ 2 is satisfactory, 2 < |z| < 3 questionable (a warning signal), |z| ≥ 3 \
         unsatisfactory (an action signal: investigate and correct). ζ uses the lab's own \
         uncertainty: a large |ζ| with a small |z| means the lab under-states its uncertainty. \
         One questionable score is expected by chance in about 1 of 20 results; repeated \
         warnings across rounds (control chart) matter more than one.",
    );
    let (ms, info) = split(ctx.c);
    for m in &ms {
        let action: Vec<&str> = m
            .labs
            .iter()
            .filter(|l| l.score.map(|x| x.band) == Some(Band::Unsatisfactory))
            .map(|l| l.lab.as_str())
            .collect();
        let warn: Vec<&str> = m
            .labs
            .iter()
            .filter(|l| l.score.map(|x| x.band) == Some(Band::Questionable))
            .map(|l| l.lab.as_str())
            .collect();
        let mut line = format!("{}: ", m.measurand);
        // A scored measurand has a σ_pt that does not come from the labs' spread, so
        // identical results still score (z = 0 at the assigned value).
        if m.assessment.no_scale {
            line.push_str("most labs report the same value; ");
        }
        if m.labs.iter().all(|l| l.score.is_none()) {
            line.push_str("no scores (no assigned value or σ_pt).");
        } else if action.is_empty() && warn.is_empty() {
            line.push_str("every scored lab is satisfactory.");
        } else {
            if !action.is_empty() {
                line.push_str(&format!(
                    "action signal (|score| ≥ 3) for {}; ",
                    action.join(", ")
                ));
            }
            if !warn.is_empty() {
                line.push_str(&format!("warning signal for {}.", warn.join(", ")));
            }
        }
        s.para(line);
    }
    if !info.is_empty() {
        s.para(format!(
            "{} measurand(s) are reported for information only and carry no performance \
             judgement (section 5).",
            info.len()
        ));
    }
    for f in &ctx.c.flags {
        s.para(format!("{} is flagged: {}.", f.lab, f.reasons.join("; ")));
    }
    s
}

pub(super) fn verification(ctx: &Ctx<'_>) -> Section {
    let c = ctx.c;
    let mut s = Section::new("verification", "10. How to verify this report");
    s.blocks.push(Block::Facts(vec![
        ("Evidence root".into(), ctx.snap.evidence.root.to_hex()),
        ("Records".into(), ctx.snap.evidence.records.to_string()),
        (
            "Export the evidence".into(),
            format!(
                "interlab export --suite {} --round {} round.bundle",
                c.suite.to_hex(),
                c.round
            ),
        ),
        (
            "Check it offline".into(),
            "interlab verify round.bundle".into(),
        ),
        (
            "Re-render the report".into(),
            format!(
                "interlab report --suite {} --round {} --format pdf --out report.pdf",
                c.suite.to_hex(),
                c.round
            ),
        ),
    ]));
    s.para(
        "The report digest printed below is BLAKE3 (report domain) of the canonical CBOR of \
         this report's content: every section, table and chart, the report number, status, \
         issue date and evidence root. It does not cover the rendering (HTML or PDF layout), \
         so the HTML and PDF of one round carry the same digest, and any node holding the \
         same evidence root prints the same digest and byte-identical PDF.",
    );
    s
}
