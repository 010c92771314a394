//! Governance over a signed log: drift across rounds, disputes, counting rules.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use interlab_protocol::{
    Action, Body, Digest, MemoryLog, Outcome,
    governance::{
        AssignedDecl, ComparabilityQuery, DisputeState, MetricAssessment, comparability, disputes,
    },
    stats::{AlgorithmAConfig, ConsensusMethod, ReportConfig, SigmaPt, algorithm_a},
    testkit::{TestScheme, sample_run_result},
    to_canonical_vec,
};

const NOW: u64 = u64::MAX / 2;

#[derive(serde::Serialize)]
struct ManifestTest {
    id: String,
    criterion: interlab_protocol::Criterion,
    assessment: Vec<MetricAssessment>,
}

/// The part of a suite manifest (canonical CBOR) that governance reads: test criteria
/// and the declared x_pt/σ_pt.
#[derive(serde::Serialize)]
struct Manifest {
    tests: Vec<ManifestTest>,
}

fn manifest(criterion: interlab_protocol::Criterion) -> Vec<u8> {
    to_canonical_vec(&Manifest {
        tests: vec![ManifestTest {
            id: "pgd".into(),
            criterion,
            // The drift charts standardise by σ_pt: this scheme declares the
            // participants' robust SD explicitly (ISO 13528 §8.5).
            assessment: vec![MetricAssessment {
                metric: "robust_accuracy".into(),
                assigned: AssignedDecl::Consensus {
                    method: ConsensusMethod::AlgorithmA,
                },
                sigma_pt: SigmaPt::Participants,
            }],
        }],
    })
}

/// A suite whose manifest carries the sample criterion.
fn publish_suite(s: &mut TestScheme) -> (Digest, Vec<Vec<u8>>) {
    let manifest = manifest(interlab_protocol::testkit::sample_criterion());
    let suite = Digest::of(interlab_protocol::domain::SUITE, &manifest);
    let env = s.owner.next(Body::SuitePublished {
        suite,
        name: "drift".into(),
        version: "1".into(),
        manifest,
        artefacts: vec![],
        supersedes: None,
    });
    (suite, vec![env.to_bytes()])
}

/// Six steady labs around 0.5 (spread σ ≈ 0.01) and one that moves +1σ per round.
fn drifting_log() -> (MemoryLog, Digest) {
    let mut s = TestScheme::new("drift", 7, 21);
    let (suite, mut envs) = publish_suite(&mut s);
    let mut all = s.bytes();
    all.append(&mut envs);
    let offsets = [-0.012, -0.006, -0.002, 0.002, 0.006, 0.012];
    for round in 1..=3u32 {
        let honest: Vec<f64> = offsets
            .iter()
            .map(|o| 0.5 + o + 0.0005 * f64::from(round % 2))
            .collect();
        // The drifting lab sits `round` robust SDs above the robust mean of the round:
        // solve v = x*(v) + round·s*(v) by fixed-point iteration.
        let mut drift_value = 0.5;
        for _ in 0..50 {
            let mut all = honest.clone();
            all.push(drift_value);
            let a = algorithm_a(&all, &AlgorithmAConfig::iso()).unwrap();
            drift_value = a.x + f64::from(round) * a.s;
        }
        for (i, lab) in s.labs.iter_mut().enumerate() {
            let v = if i == 6 { drift_value } else { honest[i] };
            let mut r = sample_run_result(suite, round, v);
            let m = &mut r.tests[0].measurements[0];
            m.values = vec![v, v];
            m.mean = v;
            all.push(lab.next(Body::RunResult(r)).to_bytes());
        }
    }
    let mut log = MemoryLog::new();
    assert!(log.ingest_all(&all, NOW).is_empty());
    (log, suite)
}

fn records(log: &MemoryLog) -> Vec<interlab_protocol::Opened> {
    log.records().cloned().collect()
}

#[test]
fn a_lab_drifting_one_sigma_per_round_raises_cusum_and_ewma_alarms_at_round_three() {
    let (log, suite) = drifting_log();
    let q = ComparabilityQuery {
        suite,
        round: Some(3),
        include_disputed: false,
    };
    let c = comparability(
        &records(&log),
        log.authority(),
        &BTreeSet::new(),
        &q,
        &ReportConfig::default(),
    )
    .unwrap();
    let report = c.report.unwrap();
    let m = report
        .measurands
        .iter()
        .find(|m| m.measurand == "pgd/robust_accuracy")
        .unwrap();
    let drifter = m.labs.iter().find(|l| l.lab == "lab-6").unwrap();
    let d = drifter.drift.as_ref().unwrap();
    // docs/statistics.md: with k = 0.5, h = 4, λ = 0.2, L = 3, z ≈ 1, 2, 3 gives
    // C⁺ ≈ 0.5, 2, 4.5 and EWMA ≈ 0.2, 0.56, 1.05 against limits 0.6, 0.77, 0.86:
    // both alarm first at round 3, neither before.
    let first = |rule: &str| d.alarms.iter().find(|a| a.rule == rule).map(|a| a.round);
    assert_eq!(first("cusum_high"), Some(3), "{d:?}");
    assert_eq!(first("ewma_high"), Some(3), "{d:?}");
    assert!(d.alarms.iter().all(|a| a.round >= 3), "{d:?}");
    // The steady labs raise nothing, and the drifting lab is flagged for drift.
    for l in m.labs.iter().filter(|l| l.lab != "lab-6") {
        assert!(
            l.drift.as_ref().is_none_or(|d| d.alarms.is_empty()),
            "{}",
            l.lab
        );
    }
    let flagged: Vec<&str> = c.flags.iter().map(|f| f.lab.as_str()).collect();
    assert!(flagged.contains(&"lab-6"), "{flagged:?}");
    assert!(c.flags.iter().any(|f| f.kinds.iter().any(|k| k == "drift")));
}

#[test]
fn an_upheld_exclude_removes_the_result_unless_disputed_results_are_asked_for() {
    let mut s = TestScheme::new("disputes", 4, 22);
    let (suite, mut suite_env) = publish_suite(&mut s);
    let mut all = s.bytes();
    all.append(&mut suite_env);
    let values = [0.50, 0.51, 0.49, 0.90];
    let mut ids = Vec::new();
    for (lab, v) in s.labs.iter_mut().zip(values) {
        let env = lab.next(Body::RunResult(sample_run_result(suite, 1, v)));
        ids.push(env.id());
        all.push(env.to_bytes());
    }
    let dispute = s.labs[0].next(Body::Dispute {
        target: ids[3],
        grounds: interlab_protocol::Grounds::NotReproducible,
        statement: "cannot reproduce".into(),
        evidence: vec![ids[0]],
    });
    all.push(dispute.to_bytes());
    // The disputed lab answers with a re-run referencing the disputed result.
    let mut rerun = sample_run_result(suite, 1, 0.905);
    rerun.rerun_of = Some(ids[3]);
    let rerun_env = s.labs[3].next(Body::RunResult(rerun));
    all.push(
        s.labs[3]
            .next(Body::DisputeResponse {
                dispute: dispute.id(),
                statement: "re-run attached".into(),
                evidence: vec![rerun_env.id()],
            })
            .to_bytes(),
    );
    all.insert(all.len() - 1, rerun_env.to_bytes());
    all.push(
        s.owner
            .next(Body::DisputeResolution {
                dispute: dispute.id(),
                outcome: Outcome::Upheld,
                action: Action::Exclude,
                statement: "excluded".into(),
            })
            .to_bytes(),
    );
    let mut log = MemoryLog::new();
    assert!(log.ingest_all(&all, NOW).is_empty());
    let recs = records(&log);
    let ds = disputes(&recs, log.authority());
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].state, DisputeState::Resolved);
    assert_eq!(ds[0].responses.len(), 1);
    let run = |include_disputed| {
        comparability(
            &recs,
            log.authority(),
            &BTreeSet::new(),
            &ComparabilityQuery {
                suite,
                round: Some(1),
                include_disputed,
            },
            &ReportConfig::default(),
        )
        .unwrap()
    };
    let without = run(false);
    let with = run(true);
    let counted = |c: &interlab_protocol::governance::Comparability| {
        c.results.iter().filter(|r| r.counted).count()
    };
    // Excluded: the disputed result; its re-run (not disputed) still counts.
    assert_eq!(counted(&without), 4);
    let excluded = without.results.iter().find(|r| r.id == ids[3]).unwrap();
    assert_eq!(
        excluded.reason.as_deref(),
        Some("excluded by an upheld dispute")
    );
    // Included on request, the re-run supersedes the disputed result of the same lab.
    assert_eq!(counted(&with), 4);
    let superseded = with.results.iter().find(|r| r.id == ids[3]).unwrap();
    assert!(
        superseded
            .reason
            .as_deref()
            .unwrap()
            .starts_with("superseded")
    );
    assert!(
        without
            .flags
            .iter()
            .any(|f| f.kinds.iter().any(|k| k == "dispute_upheld"))
    );
    // Same log, same answer, byte for byte.
    assert_eq!(
        serde_json::to_vec(&run(false)).unwrap(),
        serde_json::to_vec(&without).unwrap()
    );
}

#[test]
fn late_results_are_kept_but_marked_and_criteria_changes_between_versions_are_reported() {
    let mut s = TestScheme::new("versions", 2, 23);
    let (old_suite, mut envs) = publish_suite(&mut s);
    let mut all = s.bytes();
    all.append(&mut envs);
    // Version 2 tightens the criterion and supersedes version 1.
    let mut stricter = interlab_protocol::testkit::sample_criterion();
    stricter.threshold = 0.4;
    let manifest = manifest(stricter.clone());
    let suite = Digest::of(interlab_protocol::domain::SUITE, &manifest);
    all.push(
        s.owner
            .next(Body::SuitePublished {
                suite,
                name: "drift".into(),
                version: "2".into(),
                manifest,
                artefacts: vec![],
                supersedes: Some(old_suite),
            })
            .to_bytes(),
    );
    // Round 1 closes right away (the deadline is the owner's clock now).
    let deadline = interlab_protocol::testkit::T0_MS + 60_000;
    all.push(
        s.owner
            .next(Body::RoundOpened {
                suite,
                round: 1,
                deadline_ms: Some(deadline),
            })
            .to_bytes(),
    );
    let old_result = s.labs[0].next(Body::RunResult(sample_run_result(old_suite, 1, 0.3)));
    let on_time = s.labs[0].next(Body::RunResult(sample_run_result(suite, 1, 0.5)));
    let lab1 = &s.labs[1];
    let late_record = interlab_protocol::Record {
        time_ms: deadline + 1,
        ..lab1.record(Body::RunResult(sample_run_result(suite, 1, 0.5)))
    };
    let late = lab1.sign(&late_record);
    all.push(old_result.to_bytes());
    all.push(on_time.to_bytes());
    all.push(late.to_bytes());
    let mut log = MemoryLog::new();
    assert!(log.ingest_all(&all, NOW).is_empty());
    let c = comparability(
        &records(&log),
        log.authority(),
        &BTreeSet::new(),
        &ComparabilityQuery {
            suite,
            round: Some(1),
            include_disputed: false,
        },
        &ReportConfig::default(),
    )
    .unwrap();
    let line = |id| c.results.iter().find(|r| r.id == id).unwrap();
    assert!(!line(on_time.id()).late);
    assert!(line(late.id()).late);
    assert!(
        line(late.id()).counted,
        "late results are kept and counted, marked"
    );
    assert_eq!(c.criteria_changes.len(), 1);
    assert_eq!(c.criteria_changes[0].after, Some(stricter));
    // Results of version 1 are not mixed into version 2's report.
    assert_eq!(c.results.len(), 2);
    assert!(c.results.iter().all(|r| r.id != old_result.id()));
}

#[test]
fn a_dispute_whose_target_is_not_in_the_log_awaits_it_and_takes_effect_when_it_arrives() {
    let mut s = TestScheme::new("awaiting", 2, 23);
    let (suite, suite_env) = publish_suite(&mut s);
    let mut all = s.bytes();
    all.extend(suite_env);
    let result = s.labs[1].next(Body::RunResult(sample_run_result(suite, 1, 0.5)));
    let dispute = s.labs[0].next(Body::Dispute {
        target: result.id(),
        grounds: interlab_protocol::Grounds::Outlier,
        statement: "far off".into(),
        evidence: vec![],
    });
    // The dispute arrives first: stored, awaiting its target.
    let mut log = MemoryLog::new();
    assert!(log.ingest_all(&all, NOW).is_empty());
    assert!(log.ingest_all(&[dispute.to_bytes()], NOW).is_empty());
    let ds = disputes(&records(&log), log.authority());
    assert_eq!(ds[0].state, DisputeState::AwaitingTarget);
    assert_eq!(ds[0].target_author, None);
    // The target arrives: the same dispute is open, as on a node that saw them in order.
    assert!(log.ingest_all(&[result.to_bytes()], NOW).is_empty());
    let ds = disputes(&records(&log), log.authority());
    assert_eq!(ds[0].state, DisputeState::Open);
    assert_eq!(ds[0].target_author, Some(s.labs[1].public()));
}
