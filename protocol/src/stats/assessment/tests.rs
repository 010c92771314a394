//! Declarations resolved against the participants' means.

use super::*;

#[test]
fn values_equal_but_for_the_last_bit_become_one_value() {
    let mut v = vec![0.98, 0.980_000_000_000_000_1, 0.5, 0.979_999_999_999_999_9];
    snap(&mut v, EQUAL_TOLERANCE);
    assert_eq!(v[0], v[1]);
    assert_eq!(v[0], v[3]);
    assert_eq!(v[2], 0.5);
    assert!(has_no_scale(&v));
}

#[test]
fn one_sample_in_500_is_not_equal() {
    let mut v = vec![0.228, 0.228, 0.228, 0.228, 0.226];
    snap(&mut v, EQUAL_TOLERANCE);
    assert_eq!(v[4], 0.226);
    assert!(has_no_scale(&v));
    assert!(!has_no_scale(&[0.1, 0.2, 0.2, 0.3]));
}

#[test]
fn binomial_sigma_is_evaluated_at_the_assigned_value() {
    let decl = Assessment {
        assigned: Assigned::Value {
            source: ValueSource::Reference,
            value: 0.25,
            u: 0.001,
        },
        sigma_pt: SigmaPt::Binomial { n: 500 },
    };
    let mut notes = Vec::new();
    let line = resolve(&decl, None, None, 5, false, &mut notes);
    let want = (0.25_f64 * 0.75 / 500.0).sqrt();
    assert_eq!(line.sigma_pt, Some(want));
    assert_eq!(line.score, Some(ScoreKind::Z));
    assert!(notes.is_empty());
}

#[test]
fn participants_sigma_is_refused_when_the_data_have_no_scale() {
    let mut notes = Vec::new();
    let participants = Assessment {
        sigma_pt: SigmaPt::Participants,
        ..Assessment::default()
    };
    let line = resolve(&participants, None, Some(0.228), 5, true, &mut notes);
    assert_eq!(line.x_pt, Some(0.228));
    assert_eq!(line.sigma_pt, None);
    assert_eq!(line.score, None);
    assert!(notes.iter().any(|n| n.contains("no scale")), "{notes:?}");
}

#[test]
fn an_undeclared_sigma_is_not_taken_from_the_participants() {
    let consensus = Consensus {
        x: 0.3,
        s: 0.02,
        u: 0.01,
    };
    let mut notes = Vec::new();
    let line = resolve(
        &Assessment::default(),
        Some(&consensus),
        Some(0.3),
        5,
        false,
        &mut notes,
    );
    assert_eq!(line.x_pt, Some(0.3));
    assert_eq!(line.sigma_pt, None);
    assert_eq!(line.sigma_pt_basis, SigmaBasis::Undeclared);
    assert_eq!(line.score, None);
    assert_eq!(notes, vec![UNDECLARED_NOTE.to_owned()]);
}

#[test]
fn declarations_with_bad_numbers_are_refused() {
    let bad = Assessment {
        assigned: Assigned::Consensus {
            method: ConsensusMethod::AlgorithmA,
        },
        sigma_pt: SigmaPt::Prescribed { value: -0.1 },
    };
    assert!(matches!(
        bad.check(),
        Err(AssessmentError::NotPositive { field: "σ_pt", .. })
    ));
    let bad = Assessment {
        assigned: Assigned::Value {
            source: ValueSource::Given,
            value: 0.5,
            u: f64::NAN,
        },
        sigma_pt: SigmaPt::Participants,
    };
    assert!(matches!(
        bad.check(),
        Err(AssessmentError::Negative {
            field: "u(x_pt)",
            ..
        })
    ));
}
