//! The report entry point, verdict agreement, implied thresholds and drift charts.

#![allow(clippy::unwrap_used)]

use interlab_protocol::{
    Criterion, Direction, Verdict,
    stats::{
        Observation, ReportConfig, ReportError, comparability_report,
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
    let r = comparability_report(&input, &ReportConfig::default()).unwrap();
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
