//! Which reason code each failure gets, and messages a person can act on (no Rust debug
//! output such as `Some(0)` or `None`). `docs/protocol.md` §7 lists the same table.

use interlab_protocol::{
    Body, Bundle, BundleError, Digest, Disposition, Envelope, MAX_TEXT, MemoryLog, Record,
    Rejection, diagnose, domain,
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
    Digest::of(domain::SUITE, b"reasons")
}

#[derive(serde::Serialize)]
struct ManifestTest {
    id: String,
    criterion: interlab_protocol::Criterion,
}

#[derive(serde::Serialize)]
struct Manifest {
    tests: Vec<ManifestTest>,
}

/// A scheme with `labs` labs, a published suite and round 1 open; returns the suite id.
fn with_suite(labs: usize, seed: u64) -> (TestScheme, Digest) {
    let mut s = TestScheme::new("r", labs, seed);
    let manifest = interlab_protocol::to_canonical_vec(&Manifest {
        tests: vec![ManifestTest {
            id: "pgd".into(),
            criterion: interlab_protocol::testkit::sample_criterion(),
        }],
    });
    let suite = Digest::of(domain::SUITE, &manifest);
    let published = s.owner.next(Body::SuitePublished {
        suite,
        name: "reasons".into(),
        version: "1".into(),
        manifest,
        artefacts: vec![],
        supersedes: None,
    });
    let round = s.owner.next(Body::RoundOpened {
        suite,
        round: 1,
        deadline_ms: None,
    });
    s.envelopes.extend([published, round]);
    (s, suite)
}

fn bundle_of(envelopes: &[Vec<u8>], suite: Digest) -> Bundle {
    let mut log = MemoryLog::new();
    assert!(log.ingest_all(envelopes, NOW).is_empty());
    let query = interlab_protocol::governance::ComparabilityQuery {
        suite,
        round: Some(1),
        include_disputed: false,
    };
    let report = interlab_protocol::report_bytes(&log, &[], &query).unwrap();
    Bundle {
        v: interlab_protocol::BUNDLE_VERSION,
        suite,
        round: 1,
        include_disputed: false,
        evidence_root: log.evidence().root,
        envelopes: envelopes
            .iter()
            .cloned()
            .map(serde_bytes::ByteBuf::from)
            .collect(),
        forks: vec![],
        report: serde_bytes::ByteBuf::from(report),
    }
}

fn result(v: f64) -> Body {
    Body::RunResult(sample_run_result(suite(), 1, v))
}

fn no_debug_output(message: &str) {
    for bad in ["Some(", "None", "Semantic(", "Syntax(", "Io("] {
        assert!(!message.contains(bad), "debug output in {message:?}");
    }
}

#[test]
fn a_run_result_of_the_owner_is_accepted_as_the_reference_run() {
    let mut s = TestScheme::new("r", 1, 21);
    let mut log = log_with(&s);
    let env = s.owner.next(result(0.3));
    log.ingest(&env.to_bytes(), NOW).unwrap();
    assert!(log.get(&env.id()).is_some());
}

#[test]
fn a_lab_may_not_write_an_owner_only_record() {
    let mut s = TestScheme::new("r", 1, 22);
    let mut log = log_with(&s);
    let lab = s.labs[0].public();
    let env = s.labs[0].next(Body::LabAccredited {
        lab,
        name: "self".into(),
    });
    let err = log.ingest(&env.to_bytes(), NOW).unwrap_err();
    assert_eq!(err.code(), "unauthorized", "{err}");
    assert!(err.to_string().contains("only the scheme owner"), "{err}");
}

#[test]
fn a_retraction_of_an_unknown_record_is_unknown_target_not_retracts_others() {
    let mut s = TestScheme::new("r", 1, 23);
    let mut log = log_with(&s);
    let nowhere = Digest::of(domain::RECORD_ID, b"nowhere");
    let env = s.labs[0].next(Body::Retraction {
        target: nowhere,
        reason: "typo".into(),
    });
    let err = log.ingest(&env.to_bytes(), NOW).unwrap_err();
    assert_eq!(err, Rejection::UnknownTarget(nowhere));
    assert_eq!(err.code(), "unknown_target");
    assert_eq!(err.disposition(), Disposition::Reject);
}

#[test]
fn a_retraction_of_another_authors_record_is_retracts_others() {
    let mut s = TestScheme::new("r", 2, 24);
    let mut log = log_with(&s);
    let theirs = s.labs[1].next(result(0.3));
    log.ingest(&theirs.to_bytes(), NOW).unwrap();
    let env = s.labs[0].next(Body::Retraction {
        target: theirs.id(),
        reason: "not mine".into(),
    });
    let err = log.ingest(&env.to_bytes(), NOW).unwrap_err();
    assert_eq!(err, Rejection::RetractsOthers(theirs.id()));
    assert_eq!(err.code(), "retracts_others");
}

#[test]
fn a_record_whose_author_differs_from_the_envelopes_is_author_mismatch() {
    let s = TestScheme::new("r", 1, 25);
    let mut log = log_with(&s);
    let lab = &s.labs[0];
    // The lab signs a record that claims the owner as its author.
    let rec = Record {
        author: s.owner.public(),
        ..lab.record(result(0.3))
    };
    let env = lab.sign(&rec);
    let err = log.ingest(&env.to_bytes(), NOW).unwrap_err();
    assert_eq!(err.code(), "author_mismatch", "{err}");
    assert!(
        err.to_string().contains("differs from record author"),
        "{err}"
    );
}

#[test]
fn the_same_seq_with_a_different_prev_is_an_equivocation() {
    // §7: the equivocation check comes before the prev check, so a second record at a
    // held seq is a fork proof whatever its prev says.
    let mut s = TestScheme::new("r", 1, 26);
    let mut log = log_with(&s);
    let lab = s.labs[0].clone();
    log.ingest(&s.labs[0].next(result(0.3)).to_bytes(), NOW)
        .unwrap();
    let other = Record {
        prev: Some(Digest::of(domain::RECORD_ID, b"elsewhere")),
        ..lab.record(result(0.9))
    };
    let err = log.ingest(&lab.sign(&other).to_bytes(), NOW).unwrap_err();
    assert_eq!(err.code(), "equivocation", "{err}");
}

#[test]
fn a_too_long_text_names_its_field() {
    let mut s = TestScheme::new("r", 1, 27);
    let mut log = log_with(&s);
    let env = s.labs[0].next(Body::Dispute {
        target: Digest::of(domain::RECORD_ID, b"x"),
        grounds: interlab_protocol::Grounds::Outlier,
        statement: "x".repeat(MAX_TEXT + 1),
        evidence: vec![],
    });
    let err = log.ingest(&env.to_bytes(), NOW).unwrap_err();
    assert_eq!(err.code(), "text_too_long");
    assert_eq!(
        err.to_string(),
        format!(
            "text field `statement` is {} bytes, over the limit of 4096 bytes",
            MAX_TEXT + 1
        )
    );
}

#[test]
fn gap_wrong_prev_and_revocation_messages_carry_no_debug_output() {
    let mut s = TestScheme::new("r", 1, 28);
    let mut log = log_with(&s);
    // Gap with nothing held, then with seq 0 held.
    let _skipped = s.labs[0].next(result(0.1));
    let second = s.labs[0].next(result(0.2));
    let gap = log.ingest(&second.to_bytes(), NOW).unwrap_err();
    assert_eq!(gap.code(), "gap");
    assert_eq!(
        gap.to_string(),
        format!(
            "gap: record has seq 1, but no record of author {} is held (seq 0 is missing)",
            s.labs[0].public()
        )
    );
    no_debug_output(&gap.to_string());

    let mut s = TestScheme::new("r", 1, 29);
    let mut log = log_with(&s);
    let first = s.labs[0].next(result(0.1));
    log.ingest(&first.to_bytes(), NOW).unwrap();
    let lab = &s.labs[0];
    let bad = Record {
        prev: None,
        ..lab.record(result(0.2))
    };
    let wrong = log.ingest(&lab.sign(&bad).to_bytes(), NOW).unwrap_err();
    assert_eq!(wrong.code(), "wrong_prev");
    assert!(
        wrong.to_string().contains(&format!(
            "prev is null but the author's record at seq 0 is {}",
            first.id()
        )),
        "{wrong}"
    );
    no_debug_output(&wrong.to_string());

    let lab_key = s.labs[0].public();
    let rev = s.owner.next(Body::LabRevoked {
        lab: lab_key,
        reason: "gone".into(),
        last_seq: None,
    });
    log.ingest(&rev.to_bytes(), NOW).unwrap();
    let after = s.labs[0].next(result(0.3));
    let revoked = log.ingest(&after.to_bytes(), NOW).unwrap_err();
    assert_eq!(revoked.code(), "lab_revoked");
    assert_eq!(
        revoked.to_string(),
        format!("lab {lab_key} was revoked with no record kept; all its records are rejected")
    );
}

#[test]
fn a_record_too_far_in_the_future_is_from_the_future_and_ignored() {
    let mut s = TestScheme::new("r", 1, 30);
    let mut log = log_with(&s);
    let env = s.labs[0].next(result(0.3));
    // The lab's clock is at T0; a verifier whose clock is 5 minutes and 1 ms behind it.
    let t = T0_MS + 1000;
    let err = log
        .ingest(
            &env.to_bytes(),
            t - interlab_protocol::MAX_CLOCK_SKEW_MS - 1,
        )
        .unwrap_err();
    assert_eq!(err.code(), "from_the_future", "{err}");
    assert_eq!(err.disposition(), Disposition::Ignore);
}

#[test]
fn a_damaged_owner_record_is_named_as_the_root_cause_and_the_labs_failures_follow_from_it() {
    let mut s = TestScheme::new("r", 0, 31);
    let mut lab = Author::new(31_001);
    lab.join(s.id);
    let acc = s.owner.next(Body::LabAccredited {
        lab: lab.public(),
        name: "downstream".into(),
    });
    let r0 = lab.next(result(0.3));
    let r1 = lab.next(result(0.4));
    let mut damaged = acc.clone();
    damaged.sig.0[5] ^= 0x01;
    // The lab's records come first in the file, the owner's damaged one last.
    let envelopes = vec![
        r0.to_bytes(),
        r1.to_bytes(),
        s.envelopes[0].to_bytes(),
        damaged.to_bytes(),
    ];
    let mut log = MemoryLog::new();
    let failed = log.ingest_all(&envelopes, NOW);
    let out = diagnose(&envelopes, &log, failed);
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].index, 3);
    assert_eq!(out[0].rejection.code(), "bad_signature");
    assert_eq!(out[0].follows_from, None);
    let owner_ref = out[0].record.unwrap();
    assert!(owner_ref.owner);
    assert_eq!(owner_ref.seq, Some(1));
    assert_eq!(owner_ref.id, acc.id());
    assert!(
        out[0].to_string().contains("the scheme owner's record"),
        "{}",
        out[0]
    );
    for f in &out[1..] {
        assert_eq!(f.follows_from, Some(3), "{f}");
        assert_eq!(f.record.unwrap().author, lab.public());
        assert!(f.to_string().ends_with("(follows from envelope 3)"), "{f}");
    }
    let codes: Vec<&str> = out[1..].iter().map(|f| f.rejection.code()).collect();
    assert_eq!(codes, ["unknown_author", "unknown_author"]);
}

#[test]
fn a_gap_follows_from_the_failed_record_it_waits_for() {
    let mut s = TestScheme::new("r", 1, 32);
    let r0 = s.labs[0].next(result(0.1));
    let r1 = s.labs[0].next(result(0.2));
    let r2 = s.labs[0].next(result(0.3));
    let mut bad = r1.clone();
    bad.sig.0[0] ^= 0x80;
    let mut envelopes = s.bytes();
    envelopes.extend([r2.to_bytes(), bad.to_bytes(), r0.to_bytes()]);
    let mut log = MemoryLog::new();
    let failed = log.ingest_all(&envelopes, NOW);
    let out = diagnose(&envelopes, &log, failed);
    let summary: Vec<(usize, &str, Option<usize>)> = out
        .iter()
        .map(|f| (f.index, f.rejection.code(), f.follows_from))
        .collect();
    assert_eq!(summary, [(3, "bad_signature", None), (2, "gap", Some(3))]);
}

#[test]
fn a_bundle_with_a_damaged_owner_record_lists_every_failure_root_cause_first() {
    let (mut s, suite) = with_suite(2, 33);
    let r0 = s.labs[0].next(Body::RunResult(sample_run_result(suite, 1, 0.4)));
    let r1 = s.labs[1].next(Body::RunResult(sample_run_result(suite, 1, 0.5)));
    let envelopes: Vec<Vec<u8>> = s
        .bytes()
        .into_iter()
        .chain([r0.to_bytes(), r1.to_bytes()])
        .collect();
    let mut b = bundle_of(&envelopes, suite);
    let verified = b.verify(NOW).unwrap();
    assert_eq!(verified.envelopes, envelopes.len());
    assert_eq!(
        verified.report_digest,
        Digest::of(domain::REPORT, &b.report)
    );
    // Damage the owner's accreditation of lab 0 (envelope 1).
    let mut acc = Envelope::decode(&envelopes[1]).unwrap();
    acc.sig.0[1] ^= 0x01;
    b.envelopes[1] = serde_bytes::ByteBuf::from(acc.to_bytes());
    let failures = b.verify(NOW).unwrap_err();
    let codes: Vec<&str> = failures.iter().map(|f| f.error.code()).collect();
    // The owner's record first; lab 0's result, the owner's later records (a gap), the
    // root and the report all follow from it.
    assert_eq!(codes[0], "bad_signature", "{codes:?}");
    assert!(failures[0].follows_from.is_empty());
    assert!(failures[0].record.unwrap().owner);
    assert!(
        failures[0]
            .to_string()
            .contains("the scheme owner's record")
    );
    for f in &failures[1..] {
        assert_eq!(f.follows_from, vec![1], "{f}");
    }
    for code in ["gap", "unknown_author", "root_mismatch"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    let lab_failure = failures
        .iter()
        .find(|f| matches!(f.error, BundleError::Envelope { index, .. } if index == envelopes.len() - 2))
        .unwrap();
    assert_eq!(
        lab_failure.to_string(),
        format!(
            "envelope {} [unknown_author] record {} by {} at seq 0: author {} is not the scheme \
             owner and has not been accredited (follows from envelope 1)",
            envelopes.len() - 2,
            r0.id(),
            s.labs[0].public(),
            s.labs[0].public()
        )
    );
}

#[test]
fn a_bundle_record_from_the_future_of_the_verifiers_clock_is_rejected() {
    let (s, suite) = with_suite(1, 34);
    let b = bundle_of(&s.bytes(), suite);
    assert!(b.verify(NOW).is_ok());
    // A verifier whose clock reads the genesis time minus 5 minutes and 1 ms.
    let failures = b
        .verify(T0_MS - interlab_protocol::MAX_CLOCK_SKEW_MS - 1)
        .unwrap_err();
    assert_eq!(failures[0].error.code(), "from_the_future", "{failures:#?}");
    assert!(failures[0].follows_from.is_empty());
}

#[test]
fn a_record_naming_no_scheme_says_null_not_none() {
    let s = TestScheme::new("r", 1, 35);
    let mut log = log_with(&s);
    let lab = &s.labs[0];
    let rec = Record {
        scheme: None,
        ..lab.record(result(0.3))
    };
    let err = log.ingest(&lab.sign(&rec).to_bytes(), NOW).unwrap_err();
    assert_eq!(err.code(), "wrong_scheme");
    assert_eq!(
        err.to_string(),
        format!("record names scheme null, but this log is scheme {}", s.id)
    );
}
