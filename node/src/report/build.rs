//! The first sections of the report: scheme and provider, test items (with what stands
//! in for homogeneity and stability of ML items), design of the round, participants'
//! results. Every fact is read from the records of the snapshot.

use std::collections::{BTreeMap, BTreeSet};

use interlab_protocol::{
    Body, Direction, Opened, PublicKey, RunResult,
    governance::{Comparability, DisputeState, SuiteView},
};

use super::{
    doc::{Block, Content, Section, num, time},
    scores,
};
use crate::api::reports::Snapshot;

/// What the reading node knows about itself and the scheme.
pub(super) struct Ctx<'a> {
    pub(super) snap: &'a Snapshot,
    pub(super) c: &'a Comparability,
    /// The reading lab's display name, when the node is an accredited lab.
    pub(super) own: Option<String>,
}

/// The whole report content.
pub(super) fn content(snap: &Snapshot, c: &Comparability, own: Option<PublicKey>) -> Content {
    let own = own
        .and_then(|k| crate::api::dashboard::yours::own(&snap.authority, &k))
        .map(|o| o.name);
    let ctx = Ctx { snap, c, own };
    let (status, why) = status(&ctx);
    let issued = time(issue_ms(&ctx));
    let number = format!("IL-{}-R{}", &c.suite.to_hex()[..12], c.round);
    let sections = vec![
        scheme(&ctx, &number, status, &why, &issued),
        items(&ctx),
        design(&ctx),
        results(&ctx),
        scores::assigned(&ctx),
        scores::charts(&ctx),
        scores::verdicts(&ctx),
        scores::disputes(&ctx),
        scores::interpretation(&ctx),
        scores::verification(&ctx),
    ];
    Content {
        title: format!(
            "Proficiency-testing round report: {} {}, round {}",
            c.suite_name, c.suite_version, c.round
        ),
        number,
        status,
        issued,
        evidence_root: snap.evidence.root.to_hex(),
        sections,
    }
}

fn round_records<'a>(ctx: &'a Ctx<'_>) -> impl Iterator<Item = &'a Opened> {
    let (suite, round) = (ctx.c.suite, ctx.c.round);
    ctx.snap
        .records
        .iter()
        .map(|o| &**o)
        .filter(move |o| o.record.body.suite_round() == Some((suite, Some(round))))
}

/// The latest time of a record of the round (results, opening, disputes about them).
fn issue_ms(ctx: &Ctx<'_>) -> u64 {
    let disputes = ctx.c.disputes.iter().flat_map(|d| {
        std::iter::once(d.time_ms)
            .chain(d.responses.iter().map(|r| r.time_ms))
            .chain(d.resolution.iter().map(|r| r.time_ms))
    });
    round_records(ctx)
        .map(|o| o.record.time_ms)
        .chain(disputes)
        .max()
        .unwrap_or(0)
}

/// Final when the round had a deadline, the owner signed a record after it, and no
/// dispute about the round's results is unresolved; interim otherwise, with the reason.
fn status(ctx: &Ctx<'_>) -> (&'static str, String) {
    let owner = ctx.snap.authority.owner();
    let Some(deadline) = ctx.c.deadline_ms else {
        return (
            "interim",
            "the round has no deadline, so it never closes; the report stays interim".to_owned(),
        );
    };
    let owner_after = ctx
        .snap
        .records
        .iter()
        .any(|o| Some(o.record.author) == owner && o.record.time_ms > deadline);
    let open = ctx
        .c
        .disputes
        .iter()
        .filter(|d| d.state != DisputeState::Resolved)
        .count();
    match (owner_after, open) {
        (false, _) => (
            "interim",
            format!(
                "the scheme owner has signed no record after the deadline {}",
                time(deadline)
            ),
        ),
        (true, n) if n > 0 => (
            "interim",
            format!("{n} dispute(s) of the round are unresolved"),
        ),
        _ => (
            "final",
            format!(
                "the deadline {} has passed by the scheme owner's records and every dispute is resolved",
                time(deadline)
            ),
        ),
    }
}

fn scheme(ctx: &Ctx<'_>, number: &str, status: &str, why: &str, issued: &str) -> Section {
    let c = ctx.c;
    let snap = ctx.snap;
    let mut s = Section::new("scheme", "1. Scheme, provider and report");
    let genesis = snap.records.iter().find_map(|o| match &o.record.body {
        Body::SchemeGenesis { name, contact, .. } => Some((name.clone(), contact.clone())),
        _ => None,
    });
    let (scheme_name, contact) = match genesis {
        Some((name, Some(contact))) => (name, contact),
        Some((name, None)) => (
            name,
            "none given when the scheme was created (`interlab scheme create --contact`); \
             reach the scheme owner through any node of the scheme"
                .to_owned(),
        ),
        None => (
            "(scheme genesis not held)".to_owned(),
            "(scheme genesis not held)".to_owned(),
        ),
    };
    let (scheme_id, owner) = snap
        .authority
        .scheme()
        .map(|(id, k)| (id.to_hex(), k.to_hex()))
        .unwrap_or_else(|| ("—".to_owned(), "—".to_owned()));
    s.blocks.push(Block::Facts(vec![
        ("Scheme".into(), scheme_name),
        ("Scheme id".into(), scheme_id),
        ("Provider (scheme owner key)".into(), owner),
        ("Contact".into(), contact),
        ("Report number".into(), number.to_owned()),
        (
            "Issue date".into(),
            format!("{issued} (latest record of the round)"),
        ),
        ("Status".into(), format!("{status}: {why}")),
        (
            "Suite".into(),
            format!(
                "{} {} ({})",
                c.suite_name,
                c.suite_version,
                c.suite.to_hex()
            ),
        ),
        ("Round".into(), c.round.to_string()),
        ("Evidence root".into(), snap.evidence.root.to_hex()),
        (
            "Records in the evidence".into(),
            snap.evidence.records.to_string(),
        ),
    ]));
    s.para(
        "Confidentiality: this report identifies participants only as they appear in the \
         scheme's accreditation records. In a scheme that uses lab codes those are codes, and \
         only the scheme owner holds the mapping to laboratory names. Do not pass on results \
         of other participants with anything that identifies them.",
    );
    s
}

fn suite_view(ctx: &Ctx<'_>) -> (Option<SuiteView>, Vec<interlab_protocol::ArtefactRef>) {
    ctx.snap
        .records
        .iter()
        .find_map(|o| match &o.record.body {
            Body::SuitePublished {
                suite,
                manifest,
                artefacts,
                ..
            } if *suite == ctx.c.suite => {
                Some((SuiteView::from_manifest(manifest).ok(), artefacts.clone()))
            }
            _ => None,
        })
        .unwrap_or((None, Vec::new()))
}

fn run_results<'a>(ctx: &'a Ctx<'_>) -> BTreeMap<interlab_protocol::RecordId, &'a RunResult> {
    round_records(ctx)
        .filter_map(|o| match &o.record.body {
            Body::RunResult(r) => Some((o.id, r)),
            _ => None,
        })
        .collect()
}

fn sd(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    // Identical repetitions are exactly 0, not rounding noise of the mean.
    if values.windows(2).all(|w| w[0] == w[1]) {
        return Some(0.0);
    }
    let n = values.len() as f64;
    let m = values.iter().sum::<f64>() / n;
    Some((values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())
}

fn items(ctx: &Ctx<'_>) -> Section {
    let mut s = Section::new("items", "2. Test items, homogeneity and stability");
    let (_, artefacts) = suite_view(ctx);
    s.para(
        "The test items are the suite's content-addressed artefacts (datasets and reference \
         model weights); every lab checks these digests before it runs.",
    );
    s.table(
        &["Artefact", "BLAKE3 digest", "Bytes"],
        artefacts
            .iter()
            .map(|a| vec![a.path.clone(), a.digest.to_hex(), a.size.to_string()])
            .collect(),
    );
    s.table(
        &["Item", "Sealed known answer", "Revealed"],
        ctx.c
            .items
            .iter()
            .map(|i| match (i.known_answer, i.revealed_by) {
                (None, _) => vec![
                    i.id.clone(),
                    "none: not a known-answer item".into(),
                    "not applicable".into(),
                ],
                (Some(d), r) => vec![
                    i.id.clone(),
                    d.to_hex(),
                    r.map_or("not yet".into(), |r| format!("yes, record {}", r.short())),
                ],
            })
            .collect(),
    );
    let results = run_results(ctx);
    let models: BTreeSet<String> = results.values().map(|r| r.model.to_hex()).collect();
    s.para(format!(
        "Models under test in this round (weights digests): {}.",
        if models.is_empty() {
            "none".to_owned()
        } else {
            models.into_iter().collect::<Vec<_>>().join(", ")
        }
    ));
    s.heading("Homogeneity and stability (ML stand-ins)");
    s.para(
        "Digital test items do not vary between copies: every lab receives bit-identical \
         artefacts, proven by their digests. What stands in for homogeneity and stability is \
         the determinism of the measurement: the spread of repetitions within each run, the \
         thread counts labs used, and the repetition spread of the scheme owner's reference run.",
    );
    match ctx
        .c
        .reference_run
        .and_then(|id| results.get(&id).map(|r| (id, *r)))
    {
        Some((id, r)) => {
            s.para(format!(
                "Reference run {} ({}, seed {}): repetition spread per measurand below. \
                 A test with one repetition has no SD (—): its attack is deterministic for a \
                 given seed and thread count.",
                id.to_hex(),
                threads(r.environment.threads),
                r.seed
            ));
            let rows = r
                .tests
                .iter()
                .flat_map(|t| {
                    t.measurements.iter().map(move |m| {
                        vec![
                            t.measurand(&m.metric),
                            m.values.len().to_string(),
                            num(Some(m.mean)),
                            num(sd(&m.values)),
                            num(Some(m.u)),
                        ]
                    })
                })
                .collect();
            s.table(
                &["Measurand", "Repetitions", "Mean", "SD of repetitions", "u"],
                rows,
            );
        }
        None => s.para(
            "No reference run of the scheme owner is in the evidence for this round, so the \
             stability of a reference run was not measured.",
        ),
    }
    let threads: BTreeSet<u32> = results.values().map(|r| r.environment.threads).collect();
    s.para(format!(
        "Thread counts declared in this round: {}.",
        threads
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    // Counted results and the reference run: what the statistics rest on.
    let counted: Vec<&RunResult> = ctx
        .c
        .results
        .iter()
        .filter(|r| r.counted && r.round == ctx.c.round)
        .map(|r| r.id)
        .chain(ctx.c.reference_run)
        .filter_map(|id| results.get(&id).copied())
        .collect();
    let rows = super::stability::thread_determinism(&counted);
    if rows.is_empty() {
        s.para(
            "No two results of this round used the same executor, model and seed at \
             different thread counts, so this round's evidence does not show determinism \
             across thread counts (the engine's own tests check it, see docs/suites.md). \
             Differences between labs at different thread counts are part of s_L and s_R.",
        );
    } else {
        s.para(
            "Determinism across thread counts, from this round's evidence: results with the \
             same executor, model and seed at different thread counts, compared measurand by \
             measurand (repetition values bit for bit).",
        );
        s.table(
            &[
                "Executor",
                "Seed",
                "Thread counts",
                "Measurands identical",
                "Largest difference of means",
            ],
            rows,
        );
    }
    s
}

/// "1 thread", "4 threads".
fn threads(n: u32) -> String {
    format!("{n} thread{}", if n == 1 { "" } else { "s" })
}

fn design(ctx: &Ctx<'_>) -> Section {
    let c = ctx.c;
    let mut s = Section::new("design", "3. Design of the round");
    s.para(format!(
        "Round {} of suite {} {}. {}",
        c.round,
        c.suite_name,
        c.suite_version,
        c.deadline_ms.map_or_else(
            || "The scheme owner set no results deadline for this round: no result is late, \
                and the report stays interim."
                .to_owned(),
            |d| format!(
                "Results deadline: {}. Results signed after it are kept and marked late.",
                time(d)
            )
        )
    ));
    let (view, _) = suite_view(ctx);
    let rows = view
        .map(|v| {
            v.tests
                .iter()
                .map(|t| {
                    let dir = match t.criterion.direction {
                        Direction::AtLeast => "≥",
                        Direction::AtMost => "≤",
                    };
                    let declared = t
                        .assessment
                        .iter()
                        .map(|a| a.metric.clone())
                        .collect::<Vec<_>>()
                        .join(", ");
                    vec![
                        t.id.clone(),
                        t.criterion.metric.clone(),
                        format!(
                            "pass when {} {dir} {}",
                            t.criterion.metric,
                            num(Some(t.criterion.threshold))
                        ),
                        if declared.is_empty() {
                            "consensus (default)".to_owned()
                        } else {
                            format!("declared for {declared}")
                        },
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    s.table(
        &["Test", "Metric", "Acceptance criterion", "x_pt and σ_pt"],
        rows,
    );
    for ch in &c.criteria_changes {
        s.para(format!(
            "The criterion of {} changed against the superseded suite version.",
            ch.test
        ));
    }
    s
}

fn results(ctx: &Ctx<'_>) -> Section {
    let c = ctx.c;
    let mut s = Section::new("results", "4. Participants' results");
    let mut mark = Vec::new();
    let mut lines: Vec<&interlab_protocol::governance::ResultLine> =
        c.results.iter().filter(|r| r.round == c.round).collect();
    lines.sort_by(|a, b| (&a.lab_name, a.time_ms).cmp(&(&b.lab_name, b.time_ms)));
    let rows: Vec<Vec<String>> = lines
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            if ctx.own.as_deref() == Some(r.lab_name.as_str()) {
                mark.push(i);
            }
            vec![
                r.lab_name.clone(),
                r.id.short(),
                time(r.time_ms),
                r.method.to_string(),
                format!("{}, {}", threads(r.threads), r.executor),
                if r.conforming { "yes" } else { "deviates" }.to_owned(),
                match (&r.counted, &r.reason, r.late) {
                    (true, _, false) => "counted".to_owned(),
                    (true, _, true) => "counted (late)".to_owned(),
                    (false, Some(why), _) => format!("not counted: {why}"),
                    (false, None, _) => "not counted".to_owned(),
                },
            ]
        })
        .collect();
    if rows.is_empty() {
        s.para("No lab submitted results in this round.");
    }
    if ctx.own.is_some() {
        s.para("Rows marked ▶ are your results (this node's own key).");
    }
    s.table_marked(
        &[
            "Lab",
            "Record",
            "Signed",
            "Method or tool",
            "Environment",
            "Harmonized",
            "Status",
        ],
        rows,
        mark,
    );
    for m in scores::round_measurands(c) {
        s.heading(format!("Results for {}", m.measurand));
        let mut mark = Vec::new();
        let rows = scores::by_name(m)
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                if ctx.own.as_deref() == Some(l.lab.as_str()) {
                    mark.push(i);
                }
                vec![
                    l.lab.clone(),
                    l.n.to_string(),
                    num(l.mean),
                    num(l.sd),
                    num(l.u),
                    num(l.expanded),
                    l.method.clone().unwrap_or_else(|| "—".to_owned()),
                ]
            })
            .collect();
        s.table_marked(
            &["Lab", "n", "Mean", "SD", "u", "U", "Method or tool"],
            rows,
            mark,
        );
    }
    s
}
