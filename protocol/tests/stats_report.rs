//! The report entry point, verdict agreement, implied thresholds and drift charts.

#![allow(clippy::unwrap_used)]

use interlab_protocol::{
    Criterion, Direction, Verdict,
    stats::{
        Assessment, ConsensusMethod, Observation, ReportConfig, ReportError, SigmaPt,
        assessment::{SigmaBasis, UNDECLARED_NOTE},
        comparability_report,
        criteria::{self, ImpliedThreshold, Judged, PassingSide},
        drift::{self, DriftConfig},
    },
};

fn j(value: f64, pass: bool) -> Judged {
    Judged {
        value,
        verdict: if pass { Verdict::Pass } else { Verdict::Fail },
        round: None,
    }
}

#[test]
fn overlapping_verdicts_give_a_logistic_threshold_at_the_point_of_symmetry() {
    // Fails at 1,2,3,4,6 and passes at 5,7,8,9,10: symmetric about 5.5.
    let data: Vec<Judged> = (1..=10).map(|v| j(v as f64, !(v <= 4 || v == 6))).collect();
    let ImpliedThreshold::Logistic {
        beta0,
        beta1,
        x50,
        se,
    } = criteria::implied_threshold(&data)
    else {
        panic!("expected a logistic fit");
    };
    assert!((x50 - 5.5).abs() < 1e-9, "x50 = {x50}");
    assert!(
        beta1 > 0.0 && se > 0.0 && se < 5.0,
        "beta1 {beta1}, se {se}"
    );
    // The maximum-likelihood score equations hold at the estimate.
    let (mut g0, mut g1) = (0.0, 0.0);
    for d in &data {
        let p = 1.0 / (1.0 + (-(beta0 + beta1 * d.value)).exp());
        let y = if d.verdict == Verdict::Pass { 1.0 } else { 0.0 };
        g0 += y - p;
        g1 += (y - p) * d.value;
    }
    assert!(g0.abs() < 1e-8 && g1.abs() < 1e-7, "score ({g0}, {g1})");
}

#[test]
fn perfectly_separated_verdicts_give_the_interval_between_the_groups() {
    let data = [j(0.2, true), j(0.3, true), j(0.45, false), j(0.6, false)];
    assert_eq!(
        criteria::implied_threshold(&data),
        ImpliedThreshold::Separated {
            lower: 0.3,
            upper: 0.45,
            passing_side: PassingSide::Below
        }
    );
    let only_passes = [j(0.2, true), j(0.3, true)];
    assert!(matches!(
        criteria::implied_threshold(&only_passes),
        ImpliedThreshold::Undetermined { .. }
    ));
}

#[test]
fn agreement_lists_each_verdict_the_harmonized_criterion_contradicts() {
    let c = Criterion {
        metric: "asr".into(),
        threshold: 0.3,
        direction: Direction::AtMost,
    };
    let data = [j(0.2, true), j(0.35, true), j(0.5, false), j(0.1, false)];
    let a = criteria::agreement(&data, &c);
    assert_eq!(a.n, 4);
    assert_eq!(a.rate, Some(0.5));
    let values: Vec<f64> = a.disagreements.iter().map(|d| d.value).collect();
    assert_eq!(values, vec![0.35, 0.1]);
    assert_eq!(a.disagreements[0].harmonized, Verdict::Fail);
}

#[test]
fn westgard_cusum_and_ewma_alarms_carry_the_round_that_raised_them() {
    let z = [0.2, -0.3, 2.2, 2.4, 0.5, 3.5, -2.5, 2.5, 1.2, 1.3, 1.1, 1.4];
    let series: Vec<(u64, f64)> = z
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64 + 1, *v))
        .collect();
    let d = drift::drift(&series, &DriftConfig::default());
    let rounds = |rule: &str| {
        d.alarms
            .iter()
            .filter(|a| a.rule == rule)
            .map(|a| a.round)
            .collect::<Vec<_>>()
    };
    assert_eq!(rounds("2_2s"), vec![4]);
    assert_eq!(rounds("1_3s"), vec![6]);
    assert_eq!(rounds("R_4s"), vec![7, 8]);
    assert_eq!(rounds("4_1s"), vec![11, 12]);
    // C⁺: 0, 0, 1.7, 3.6, 3.6, 6.6 > 4 at round 6.
    assert_eq!(rounds("cusum_high")[0], 6);
    assert!((d.cusum_high[3] - 3.6).abs() < 1e-12);
    assert!(!rounds("ewma_high").is_empty());
    let steady: Vec<(u64, f64)> = (1..=10).map(|r| (r, 0.3)).collect();
    assert_eq!(
        drift::drift(&steady, &DriftConfig::default())
            .alarms
            .iter()
            .map(|a| a.rule.as_str())
            .collect::<Vec<_>>(),
        vec!["10_x"]
    );
}

fn obs(lab: &str, value: Option<f64>, round: u64) -> Observation {
    Observation {
        lab: lab.into(),
        measurand: "m".into(),
        value,
        u: None,
        expanded: None,
        verdict: None,
        round: Some(round),
        method: None,
        conforming: true,
    }
}

#[test]
fn report_refuses_non_finite_values_naming_the_observation() {
    let input = [obs("A", Some(1.0), 0), obs("B", Some(f64::NAN), 0)];
    match comparability_report(&input, &ReportConfig::default()) {
        Err(ReportError::NonFinite {
            index: 1,
            lab,
            field: "value",
            ..
        }) => assert_eq!(lab, "B"),
        other => panic!("expected a non-finite error, got {other:?}"),
    }
    assert_eq!(
        comparability_report(&[], &ReportConfig::default()),
        Err(ReportError::Empty)
    );
}

#[test]
fn report_uses_the_latest_round_and_tracks_drift_over_all_rounds() {
    let mut input = Vec::new();
    for round in 1..=6u64 {
        for (i, lab) in ["A", "B", "C", "D", "E", "F"].iter().enumerate() {
            // Lab F drifts upwards by one unit per round.
            let v = 10.0 + i as f64 * 0.1 + if *lab == "F" { round as f64 } else { 0.0 };
            input.push(obs(lab, Some(v), round));
            input.push(obs(lab, Some(v + 0.05), round));
        }
    }
    // Drift charts standardise by σ_pt: declare the participants' robust SD.
    let cfg = ReportConfig {
        default_assessment: Assessment {
            sigma_pt: SigmaPt::Participants,
            ..Assessment::default()
        },
        ..ReportConfig::default()
    };
    let r = comparability_report(&input, &cfg).unwrap();
    let m = &r.measurands[0];
    assert_eq!((m.round, m.p), (6, 6));
    let f = m.labs.iter().find(|l| l.lab == "F").unwrap();
    let d = f.drift.as_ref().unwrap();
    assert_eq!(d.rounds, vec![1, 2, 3, 4, 5, 6]);
    assert!(d.alarms.iter().any(|a| a.rule == "1_3s"), "{:?}", d.alarms);
    assert!(m.notes.iter().any(|n| n.contains("use round 6")));
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("NaN"));
}

/// Five labs with distinct means and stated uncertainties on measurand `m`.
fn five_labs() -> Vec<Observation> {
    [0.30, 0.31, 0.29, 0.32, 0.40]
        .iter()
        .enumerate()
        .flat_map(|(i, v)| {
            let lab = format!("lab-{i}");
            [v - 0.005, v + 0.005].map(|x| Observation {
                u: Some(0.01),
                ..obs(&lab, Some(x), 1)
            })
        })
        .collect()
}

#[test]
fn labs_reporting_without_a_declaration_get_no_sigma_pt_and_no_scores_and_are_told_why() {
    let r = comparability_report(&five_labs(), &ReportConfig::default()).unwrap();
    let m = &r.measurands[0];
    // The participants' statistics stay as information ...
    let a = m.algorithm_a.as_ref().expect("Algorithm A as information");
    assert!(a.s > 0.0);
    assert_eq!(m.assessment.x_pt, Some(a.x));
    assert!(m.labs.iter().all(|l| l.h.is_some()));
    // ... but their robust SD is not σ_pt, and no lab has a score of any kind.
    assert_eq!(m.assessment.sigma_pt, None);
    assert_eq!(m.assessment.sigma_pt_basis, SigmaBasis::Undeclared);
    assert_eq!(m.assessment.score, None);
    for l in &m.labs {
        assert_eq!(
            (l.score, l.z, l.z_prime, l.zeta, l.en),
            (None, None, None, None, None),
            "{}",
            l.lab
        );
    }
    assert!(
        m.notes.iter().any(|n| n == UNDECLARED_NOTE),
        "{:?}",
        m.notes
    );
    let json = serde_json::to_string(&r).unwrap();
    assert!(
        json.contains(r#""sigma_pt_basis":{"kind":"undeclared"}"#),
        "{json}"
    );
}

#[test]
fn a_declared_participants_basis_still_scores_with_the_robust_sd() {
    let cfg = ReportConfig {
        default_assessment: Assessment {
            sigma_pt: SigmaPt::Participants,
            ..Assessment::default()
        },
        ..ReportConfig::default()
    };
    let r = comparability_report(&five_labs(), &cfg).unwrap();
    let m = &r.measurands[0];
    let a = m.algorithm_a.as_ref().unwrap();
    assert_eq!(m.assessment.sigma_pt, Some(a.s));
    assert_eq!(
        m.assessment.sigma_pt_basis,
        SigmaBasis::Participants {
            method: ConsensusMethod::AlgorithmA
        }
    );
    assert!(m.labs.iter().all(|l| l.score.is_some() && l.zeta.is_some()));
    assert!(
        !m.notes.iter().any(|n| n == UNDECLARED_NOTE),
        "{:?}",
        m.notes
    );
}

#[test]
fn three_labs_running_one_engine_are_never_scored_on_an_undeclared_secondary_measurand() {
    // As in the demo: the suite declares σ_pt for robust accuracy only; the attack's
    // query count is a secondary metric. One lab's query count differs from the others'
    // by far more than their (engine-determined) spread.
    let mut input = Vec::new();
    for (lab, acc, queries) in [("a", 0.30, 812.0), ("b", 0.31, 812.5), ("c", 0.29, 960.0)] {
        for (measurand, v) in [
            ("square/robust_accuracy", acc),
            ("square/median_queries", queries),
        ] {
            input.push(Observation {
                measurand: measurand.into(),
                u: Some(0.001 * v),
                ..obs(lab, Some(v), 1)
            });
        }
    }
    let mut cfg = ReportConfig::default();
    cfg.assessments.insert(
        "square/robust_accuracy".into(),
        Assessment {
            sigma_pt: SigmaPt::Prescribed { value: 0.05 },
            ..Assessment::default()
        },
    );
    let r = comparability_report(&input, &cfg).unwrap();
    let find = |name: &str| r.measurands.iter().find(|m| m.measurand == name).unwrap();
    let declared = find("square/robust_accuracy");
    assert_eq!(declared.assessment.sigma_pt, Some(0.05));
    assert!(declared.labs.iter().all(|l| l.score.is_some()));
    let secondary = find("square/median_queries");
    assert_eq!(secondary.assessment.sigma_pt_basis, SigmaBasis::Undeclared);
    assert_eq!(secondary.assessment.sigma_pt, None);
    for l in &secondary.labs {
        assert_eq!(
            (l.score, l.z, l.z_prime, l.zeta, l.en),
            (None, None, None, None, None),
            "{}",
            l.lab
        );
    }
}
