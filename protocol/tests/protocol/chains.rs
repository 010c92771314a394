//! Chain rules: gaps, wrong prev, time order, equivocation and authority.

use interlab_protocol::{
    Body, Digest, Disposition, ForkProofError, MemoryLog, Record, Rejection, domain,
    testkit::{Author, T0_MS, TestScheme, sample_run_result},
};

const NOW: u64 = T0_MS + 86_400_000;

fn log_with(s: &TestScheme) -> MemoryLog {
    let mut log = MemoryLog::new();
    for b in s.bytes() {
        log.ingest(&b, NOW).unwrap();
    }
    log
}

fn suite() -> Digest {
    Digest::of(domain::SUITE, b"chains")
}

#[test]
fn a_gap_in_a_chain_is_held_back_without_blame() {
    let mut s = TestScheme::new("c", 1, 1);
    let mut log = log_with(&s);
    let _skipped = s.labs[0].next(Body::RunResult(sample_run_result(suite(), 1, 0.3)));
    let second = s.labs[0].next(Body::RunResult(sample_run_result(suite(), 1, 0.4)));
    let err = log.ingest(&second.to_bytes(), NOW).unwrap_err();
    assert!(
        matches!(
            err,
            Rejection::Gap {
                have: None,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.disposition(), Disposition::Ignore);
}

#[test]
fn wrong_prev_is_rejected_with_both_ids() {
    let mut s = TestScheme::new("c", 1, 2);
    let mut log = log_with(&s);
    let first = s.labs[0].next(Body::RunResult(sample_run_result(suite(), 1, 0.3)));
    log.ingest(&first.to_bytes(), NOW).unwrap();
    let lab = &s.labs[0];
    let bad = Record {
        prev: Some(Digest::of(domain::RECORD_ID, b"elsewhere")),
        ..lab.record(Body::RunResult(sample_run_result(suite(), 1, 0.5)))
    };
    let err = log.ingest(&lab.sign(&bad).to_bytes(), NOW).unwrap_err();
    match err {
        Rejection::WrongPrev {
            seq: 1, expected, ..
        } => assert_eq!(expected, Some(first.id())),
        other => panic!("expected WrongPrev, got {other}"),
    }
}

#[test]
fn time_going_backwards_is_rejected() {
    let mut s = TestScheme::new("c", 1, 3);
    let mut log = log_with(&s);
    log.ingest(
        &s.labs[0]
            .next(Body::RunResult(sample_run_result(suite(), 1, 0.3)))
            .to_bytes(),
        NOW,
    )
    .unwrap();
    let lab = &s.labs[0];
    let back = Record {
        time_ms: T0_MS - 1,
        ..lab.record(Body::RunResult(sample_run_result(suite(), 1, 0.5)))
    };
    let err = log.ingest(&lab.sign(&back).to_bytes(), NOW).unwrap_err();
    assert!(matches!(err, Rejection::TimeWentBack { .. }), "{err}");
}

#[test]
fn two_records_at_one_seq_yield_a_checkable_fork_proof() {
    let mut s = TestScheme::new("c", 1, 4);
    let mut log = log_with(&s);
    let lab = s.labs[0].clone();
    let a = s.labs[0].next(Body::RunResult(sample_run_result(suite(), 1, 0.3)));
    let b = lab.sign(&lab.record(Body::RunResult(sample_run_result(suite(), 1, 0.9))));
    log.ingest(&a.to_bytes(), NOW).unwrap();
    let err = log.ingest(&b.to_bytes(), NOW).unwrap_err();
    let Rejection::Equivocation(proof) = err else {
        panic!("expected an equivocation");
    };
    let fork = proof.verify().unwrap();
    assert_eq!(fork.author, lab.public());
    assert_eq!(fork.seq, 0);
    assert_eq!(log.forks().len(), 1);
    // The proof survives encoding and still verifies on its own.
    let decoded = interlab_protocol::ForkProof::decode(&proof.to_bytes()).unwrap();
    assert!(decoded.verify().is_ok());
    // A "proof" of one record twice proves nothing.
    let same = interlab_protocol::ForkProof { a: a.clone(), b: a };
    assert!(matches!(same.verify(), Err(ForkProofError::SameRecord(_))));
}

#[test]
fn unaccredited_lab_result_is_rejected() {
    let s = TestScheme::new("c", 1, 5);
    let mut log = log_with(&s);
    let mut stranger = Author::new(999_999);
    stranger.join(s.id);
    let env = stranger.next(Body::RunResult(sample_run_result(suite(), 1, 0.3)));
    let err = log.ingest(&env.to_bytes(), NOW).unwrap_err();
    assert_eq!(err, Rejection::UnknownAuthor(stranger.public()));
    assert_eq!(err.disposition(), Disposition::Reject);
}

#[test]
fn a_lab_cannot_write_owner_records() {
    let mut s = TestScheme::new("c", 1, 6);
    let mut log = log_with(&s);
    let other = Author::new(5);
    let env = s.labs[0].next(Body::LabAccredited {
        lab: other.public(),
        name: "self-made".into(),
    });
    let err = log.ingest(&env.to_bytes(), NOW).unwrap_err();
    assert!(
        matches!(
            err,
            Rejection::Unauthorized {
                kind: "lab_accredited",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn records_of_another_scheme_are_rejected() {
    let s = TestScheme::new("c", 1, 7);
    let mut other = TestScheme::new("other", 1, 8);
    let mut log = log_with(&s);
    let env = other.labs[0].next(Body::RunResult(sample_run_result(suite(), 1, 0.3)));
    let err = log.ingest(&env.to_bytes(), NOW).unwrap_err();
    assert!(matches!(err, Rejection::WrongScheme { .. }), "{err}");
    let err = log.ingest(&other.envelopes[0].to_bytes(), NOW).unwrap_err();
    assert!(matches!(err, Rejection::WrongScheme { .. }), "{err}");
}

#[test]
fn revocation_removes_later_records_and_rejects_new_ones() {
    let mut s = TestScheme::new("c", 1, 9);
    let mut log = log_with(&s);
    let r0 = s.labs[0].next(Body::RunResult(sample_run_result(suite(), 1, 0.3)));
    let r1 = s.labs[0].next(Body::RunResult(sample_run_result(suite(), 1, 0.4)));
    log.ingest(&r0.to_bytes(), NOW).unwrap();
    log.ingest(&r1.to_bytes(), NOW).unwrap();
    let lab = s.labs[0].public();
    let rev = s.owner.next(Body::LabRevoked {
        lab,
        reason: "key compromised".into(),
        last_seq: Some(0),
    });
    log.ingest(&rev.to_bytes(), NOW).unwrap();
    assert!(log.get(&r0.id()).is_some());
    assert!(log.get(&r1.id()).is_none());
    assert_eq!(log.quarantined().len(), 1);
    let r2 = s.labs[0].next(Body::RunResult(sample_run_result(suite(), 1, 0.5)));
    let err = log.ingest(&r2.to_bytes(), NOW).unwrap_err();
    assert!(
        matches!(
            err,
            Rejection::LabRevoked {
                last_seq: Some(0),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn ingest_all_accepts_any_order_and_reaches_the_same_root() {
    let mut s = TestScheme::new("c", 3, 10);
    let mut envs = s.bytes();
    for round in 1..4 {
        for lab in &mut s.labs {
            envs.push(
                lab.next(Body::RunResult(sample_run_result(suite(), round, 0.3)))
                    .to_bytes(),
            );
        }
    }
    let mut forward = MemoryLog::new();
    assert!(forward.ingest_all(&envs, NOW).is_empty());
    let mut reversed = envs.clone();
    reversed.reverse();
    let mut backward = MemoryLog::new();
    assert!(backward.ingest_all(&reversed, NOW).is_empty());
    assert_eq!(forward.evidence(), backward.evidence());
    assert_eq!(forward.len(), envs.len());
}

#[test]
fn records_from_the_far_future_wait_without_blame() {
    let mut s = TestScheme::new("c", 1, 11);
    let mut log = log_with(&s);
    let lab = &mut s.labs[0];
    let rec = Record {
        time_ms: NOW + 3_600_000,
        ..lab.record(Body::RunResult(sample_run_result(suite(), 1, 0.3)))
    };
    let err = log.ingest(&lab.sign(&rec).to_bytes(), NOW).unwrap_err();
    assert!(matches!(err, Rejection::FromTheFuture { .. }), "{err}");
    assert_eq!(err.disposition(), Disposition::Ignore);
}

#[test]
fn nan_in_a_run_result_is_rejected_by_name() {
    let mut s = TestScheme::new("c", 1, 12);
    let mut log = log_with(&s);
    let mut r = sample_run_result(suite(), 1, 0.3);
    r.tests[0].measurements[0].u = f64::NAN;
    let env = s.labs[0].next(Body::RunResult(r));
    let err = log.ingest(&env.to_bytes(), NOW).unwrap_err();
    assert_eq!(
        err.to_string(),
        "run result: test \"pgd\" metric \"robust_accuracy\": u is not a finite number"
    );
}

#[test]
fn suite_id_must_match_the_manifest() {
    let mut s = TestScheme::new("c", 0, 13);
    let mut log = log_with(&s);
    let env = s.owner.next(Body::SuitePublished {
        suite: Digest::of(domain::SUITE, b"not the manifest"),
        name: "x".into(),
        version: "1".into(),
        manifest: b"manifest".to_vec(),
        artefacts: vec![],
        supersedes: None,
    });
    let err = log.ingest(&env.to_bytes(), NOW).unwrap_err();
    assert!(matches!(err, Rejection::SuiteIdMismatch { .. }), "{err}");
}
