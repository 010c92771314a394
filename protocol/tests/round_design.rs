//! A round as a PT provider runs it: several test items, σ_pt declared by the suite, the
//! owner's reference run as x_pt, a sealed known-answer item revealed after the round,
//! and results that deviate from the harmonized method.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use interlab_protocol::{
    Body, Criterion, Deviation, Digest, Direction, KnownAnswer, MemoryLog, Method, RecordId,
    SealedAnswers, Verdict,
    governance::{AssignedDecl, ComparabilityQuery, MetricAssessment, comparability},
    stats::{ReportConfig, ScoreKind, SigmaPt, assessment::XptBasis, criteria::ImpliedThreshold},
    testkit::{TestScheme, sample_run_result},
    to_canonical_vec,
};

const NOW: u64 = u64::MAX / 2;

#[derive(serde::Serialize)]
struct Test {
    id: String,
    criterion: Criterion,
    assessment: Vec<MetricAssessment>,
}

#[derive(serde::Serialize)]
struct Item {
    id: String,
    known_answer: Option<Digest>,
}

#[derive(serde::Serialize)]
struct Manifest {
    tests: Vec<Test>,
    items: Vec<Item>,
}

fn criterion() -> Criterion {
    Criterion {
        metric: "robust_accuracy".into(),
        threshold: 0.2,
        direction: Direction::AtLeast,
    }
}

fn sealed(value: f64) -> SealedAnswers {
    SealedAnswers {
        item: "kat".into(),
        salt: vec![42; 16],
        answers: vec![KnownAnswer {
            test: "pgd".into(),
            metric: "robust_accuracy".into(),
            value,
            u: 0.0,
        }],
    }
}

/// Item values the labs measure (the kat item's true value is 0.31).
const ITEMS: [(&str, f64); 5] = [
    ("base", 0.228),
    ("hard", 0.6),
    ("weak", 0.15),
    ("broken", 0.05),
    ("kat", 0.31),
];

struct Round {
    log: MemoryLog,
    scheme: TestScheme,
    suite: Digest,
    suite_record: RecordId,
}

/// Owner, seven labs: five honest (small lab-to-lab variation), lab-5 ran ε = 0.15
/// without saying so, lab-6 judges with a threshold of 0.1 instead of 0.2 while naming
/// the suite's criterion. A declared deviation is added by `declared_deviation`.
fn round() -> Round {
    let mut s = TestScheme::new("round design", 7, 5);
    let manifest = to_canonical_vec(&Manifest {
        tests: vec![Test {
            id: "pgd".into(),
            criterion: criterion(),
            assessment: vec![MetricAssessment {
                metric: "robust_accuracy".into(),
                assigned: AssignedDecl::Reference,
                sigma_pt: SigmaPt::Binomial { n: 500 },
            }],
        }],
        items: ITEMS
            .iter()
            .map(|(id, _)| Item {
                id: (*id).into(),
                known_answer: (*id == "kat").then(|| sealed(0.31).commitment()),
            })
            .collect(),
    });
    let suite = Digest::of(interlab_protocol::domain::SUITE, &manifest);
    let env = s.owner.next(Body::SuitePublished {
        suite,
        name: "round".into(),
        version: "1".into(),
        manifest,
        artefacts: vec![],
        supersedes: None,
    });
    let suite_record = env.id();
    let mut all = s.bytes();
    all.push(env.to_bytes());
    // The owner's reference run: the items' values.
    all.push(
        s.owner
            .next(Body::RunResult(result(suite, 0.0, 0.2)))
            .to_bytes(),
    );
    let offsets = [-0.004, -0.002, 0.0, 0.002, 0.004];
    for (i, lab) in s.labs.iter_mut().enumerate() {
        let r = match i {
            0..=4 => result(suite, offsets[i], 0.2),
            5 => result(suite, -0.15, 0.2),
            _ => result(suite, 0.0, 0.1),
        };
        all.push(lab.next(Body::RunResult(r)).to_bytes());
    }
    let mut log = MemoryLog::new();
    assert!(log.ingest_all(&all, NOW).is_empty());
    Round {
        log,
        scheme: s,
        suite,
        suite_record,
    }
}

/// A run result over the four items, each value shifted by `offset`, verdicts judged at
/// `threshold` (the suite's criterion is named either way).
fn result(suite: Digest, offset: f64, threshold: f64) -> interlab_protocol::RunResult {
    let mut r = sample_run_result(suite, 1, 0.0);
    let template = r.tests[0].clone();
    r.tests = ITEMS
        .iter()
        .map(|(item, v)| {
            let v = (v + offset).max(0.0);
            let mut t = template.clone();
            t.item = Some((*item).into());
            t.measurements[0].values = vec![v];
            t.measurements[0].mean = v;
            t.measurements[0].u = 0.01;
            t.measurements[0].expanded = 0.02;
            t.verdict = if v >= threshold {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            t
        })
        .collect();
    r
}

fn compare(log: &MemoryLog, suite: Digest) -> interlab_protocol::governance::Comparability {
    let records: Vec<_> = log.records().cloned().collect();
    comparability(
        &records,
        log.authority(),
        &BTreeSet::new(),
        &ComparabilityQuery {
            suite,
            round: Some(1),
            include_disputed: false,
        },
        &ReportConfig::default(),
    )
    .unwrap()
}

#[test]
fn the_reference_run_sets_x_pt_and_the_binomial_model_sets_sigma_pt() {
    let r = round();
    let c = compare(&r.log, r.suite);
    let report = c.report.unwrap();
    let m = report
        .measurands
        .iter()
        .find(|m| m.measurand == "base/pgd/robust_accuracy")
        .unwrap();
    let a = &m.assessment;
    assert_eq!(a.x_pt, Some(0.228));
    assert!(matches!(a.x_pt_basis, XptBasis::Value { .. }), "{a:?}");
    let sigma = (0.228_f64 * 0.772 / 500.0).sqrt();
    assert!((a.sigma_pt.unwrap() - sigma).abs() < 1e-15);
    assert_eq!(a.score, Some(ScoreKind::Z));
    // The owner's run is not a participant.
    assert!(m.labs.iter().all(|l| l.lab != "owner"));
    assert!(c.reference_run.is_some());
    for lab in ["lab-0", "lab-1", "lab-2", "lab-3", "lab-4", "lab-6"] {
        let l = m.labs.iter().find(|l| l.lab == lab).unwrap();
        assert!(l.score.unwrap().value.abs() <= 2.0, "{lab}: {:?}", l.score);
    }
    let off = m.labs.iter().find(|l| l.lab == "lab-5").unwrap();
    assert!(off.score.unwrap().value.abs() >= 3.0, "{:?}", off.score);
    assert!(c.flags.iter().any(|f| f.lab == "lab-5"));
    for honest in ["lab-0", "lab-1", "lab-2", "lab-3", "lab-4"] {
        assert!(
            c.flags.iter().all(|f| f.lab != honest),
            "{honest} flagged: {:?}",
            c.flags
        );
    }
}

#[test]
fn the_lax_labs_threshold_is_located_over_the_items() {
    let r = round();
    let c = compare(&r.log, r.suite);
    let lax = c
        .agreement
        .iter()
        .find(|a| a.lab == "lab-6" && a.test == "pgd")
        .unwrap();
    assert_eq!(lax.agreement.n, 5);
    assert!(!lax.agreement.disagreements.is_empty());
    match &lax.implied_threshold {
        ImpliedThreshold::Separated { lower, upper, .. } => {
            // It passed 0.15 and failed 0.05: its threshold lies in (0.05, 0.15], below
            // the suite's 0.2.
            assert!(
                (*lower - 0.05).abs() < 1e-12 && (*upper - 0.15).abs() < 1e-12,
                "{lower} {upper}"
            );
        }
        other => panic!("not located: {other:?}"),
    }
    assert!(
        c.flags
            .iter()
            .any(|f| f.lab == "lab-6" && f.kinds.iter().any(|k| k == "criterion"))
    );
    // κ runs over the five items.
    assert!(c.fleiss.is_some() || c.fleiss_note.is_some());
}

#[test]
fn a_known_answer_item_is_pending_until_a_matching_reveal_and_a_wrong_reveal_is_rejected() {
    let mut r = round();
    let before = compare(&r.log, r.suite);
    let kat = |c: &interlab_protocol::governance::Comparability| {
        c.report
            .as_ref()
            .unwrap()
            .measurands
            .iter()
            .find(|m| m.measurand == "kat/pgd/robust_accuracy")
            .unwrap()
            .clone()
    };
    let m = kat(&before);
    assert_eq!(m.assessment.x_pt, None);
    assert!(matches!(m.assessment.x_pt_basis, XptBasis::Pending { .. }));
    assert!(m.labs.iter().all(|l| l.score.is_none()));
    assert!(
        m.notes.iter().any(|n| n.contains("sealed")),
        "{:?}",
        m.notes
    );

    // A reveal whose value differs from the committed one is rejected by validation.
    let wrong = r.scheme.owner.record(Body::KnownAnswerReveal {
        suite: r.suite,
        suite_record: r.suite_record,
        sealed: sealed(0.35),
    });
    let env = r.scheme.owner.sign(&wrong);
    let err = r.log.ingest(&env.to_bytes(), NOW).unwrap_err();
    assert_eq!(err.code(), "bad_reveal", "{err}");
    assert!(err.to_string().contains("not to the committed"), "{err}");

    // A lab cannot reveal.
    let by_lab = r.scheme.labs[0].next(Body::KnownAnswerReveal {
        suite: r.suite,
        suite_record: r.suite_record,
        sealed: sealed(0.31),
    });
    assert_eq!(
        r.log.ingest(&by_lab.to_bytes(), NOW).unwrap_err().code(),
        "unauthorized"
    );

    let right = r.scheme.owner.next(Body::KnownAnswerReveal {
        suite: r.suite,
        suite_record: r.suite_record,
        sealed: sealed(0.31),
    });
    r.log.ingest(&right.to_bytes(), NOW).unwrap();
    let after = compare(&r.log, r.suite);
    let m = kat(&after);
    assert_eq!(m.assessment.x_pt, Some(0.31));
    assert!(matches!(m.assessment.x_pt_basis, XptBasis::Value { .. }));
    assert!(m.labs.iter().all(|l| l.score.is_some()));
    let item = after.items.iter().find(|i| i.id == "kat").unwrap();
    assert_eq!(item.revealed_by, Some(right.id()));
}

#[test]
fn a_declared_deviation_is_scored_but_not_pooled() {
    let mut r = round();
    let mut dev = result(r.suite, -0.15, 0.2);
    dev.method = Method::Tool {
        name: "adversarial-robustness-toolbox".into(),
        version: "1.20.1".into(),
    };
    for t in &mut dev.tests {
        t.deviations = vec![Deviation {
            param: "eps".into(),
            value: "0.15".into(),
            harmonized: "0.1".into(),
        }];
    }
    // lab-0 re-submits with a declared deviation (its later result supersedes).
    let env = r.scheme.labs[0].next(Body::RunResult(dev));
    r.log.ingest(&env.to_bytes(), NOW).unwrap();
    let c = compare(&r.log, r.suite);
    let line = c.results.iter().find(|l| l.id == env.id()).unwrap();
    assert!(!line.conforming);
    let m = c
        .report
        .unwrap()
        .measurands
        .into_iter()
        .find(|m| m.measurand == "base/pgd/robust_accuracy")
        .unwrap();
    let l0 = m.labs.iter().find(|l| l.lab == "lab-0").unwrap();
    assert!(!l0.conforming);
    assert!(l0.score.is_some());
    assert!(l0.h.is_none(), "a deviating lab takes no part in Mandel h");
    assert_eq!(m.p, 6, "p counts the pooled (conforming) labs");
    assert!(m.by_method.len() == 2, "{:?}", m.by_method);
}
