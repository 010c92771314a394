//! Store tests: acceptance equals `MemoryLog`'s, chain rules, forks, quarantine, pages,
//! artefacts, and caches rebuilt on reopen.

use interlab_protocol::{Body, Digest, Envelope, ForkProofError, MemoryLog, Rejection, domain};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;

use super::{MAX_ARTEFACT_BYTES, RecordFilter, Store, StoreError};
use interlab_protocol::testkit::Workload;

pub(super) fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store.redb")).unwrap();
    (dir, store)
}

fn reopen(dir: &tempfile::TempDir, store: Store) -> Store {
    drop(store);
    Store::open(&dir.path().join("store.redb")).unwrap()
}

/// A log with everything acceptance has to get right: chains, an equivocation, two
/// revocations (one keeping a prefix), a retraction, a suspension and a bad signature.
pub(super) fn rich_log(seed: u64) -> (Vec<Vec<u8>>, u64) {
    let mut w = Workload::new(seed, 4);
    let mut out = w.take(60);
    let scheme = w.scheme();
    // Lab 0 equivocates at its next seq.
    let t = w.tick();
    let lab0 = w.lab_writer(0);
    let rival = lab0.sign(&lab0.record_at(
        scheme,
        t,
        Body::Retraction {
            target: Digest::default(),
            reason: "rival".into(),
        },
    ));
    let result = w.sample_result();
    let t = w.tick();
    out.push(
        w.lab_writer(0)
            .append(scheme, t, Body::RunResult(result))
            .to_bytes(),
    );
    out.push(rival.to_bytes());
    // Lab 1 writes a few more, then is revoked after seq 1; lab 2 is revoked entirely.
    for _ in 0..4 {
        let result = w.sample_result();
        let t = w.tick();
        out.push(
            w.lab_writer(1)
                .append(scheme, t, Body::RunResult(result))
                .to_bytes(),
        );
    }
    let (lab1, lab2, lab3) = (
        w.lab_writer(1).public(),
        w.lab_writer(2).public(),
        w.lab_writer(3).public(),
    );
    let t = w.tick();
    out.push(
        w.owner_writer()
            .append(
                scheme,
                t,
                Body::LabRevoked {
                    lab: lab1,
                    reason: "fraud".into(),
                    last_seq: Some(1),
                },
            )
            .to_bytes(),
    );
    let t = w.tick();
    out.push(
        w.owner_writer()
            .append(
                scheme,
                t,
                Body::LabSuspended {
                    lab: lab3,
                    reason: "audit".into(),
                    from_ms: t,
                },
            )
            .to_bytes(),
    );
    // Lab 3 retracts its last record (when it has one).
    if let Some(target) = w.lab_writer(3).last_id() {
        let t = w.tick();
        out.push(
            w.lab_writer(3)
                .append(
                    scheme,
                    t,
                    Body::Retraction {
                        target,
                        reason: "typo".into(),
                    },
                )
                .to_bytes(),
        );
    }
    out.extend(w.take(30));
    let t = w.tick();
    out.push(
        w.owner_writer()
            .append(
                scheme,
                t,
                Body::LabRevoked {
                    lab: lab2,
                    reason: "gone".into(),
                    last_seq: None,
                },
            )
            .to_bytes(),
    );
    out.extend(w.take(20));
    // A record with a broken signature.
    let mut bad = Envelope::decode(&w.take(1)[0]).unwrap();
    bad.sig.0[5] ^= 1;
    out.push(bad.to_bytes());
    (out, w.now_ms())
}

/// Feeds `log` in passes until nothing more is accepted; returns every pass's results.
fn feed_store(
    store: &Store,
    log: &[Vec<u8>],
    now: u64,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<Result<Digest, Rejection>>> {
    let mut passes = Vec::new();
    let mut pending: Vec<Vec<u8>> = log.to_vec();
    loop {
        let mut results = Vec::new();
        let mut i = 0;
        while i < pending.len() {
            let n = rng.random_range(1..=9).min(pending.len() - i);
            results.extend(store.ingest(&pending[i..i + n], now).unwrap());
            i += n;
        }
        let progress = results.iter().any(Result::is_ok);
        pending = pending
            .into_iter()
            .zip(&results)
            .filter(|(_, r)| retry(r))
            .map(|(b, _)| b)
            .collect();
        passes.push(results);
        if !progress || pending.is_empty() {
            return passes;
        }
    }
}

fn feed_memlog(
    log: &mut MemoryLog,
    items: &[Vec<u8>],
    now: u64,
) -> Vec<Vec<Result<Digest, Rejection>>> {
    let mut passes = Vec::new();
    let mut pending: Vec<Vec<u8>> = items.to_vec();
    loop {
        let results: Vec<_> = pending.iter().map(|b| log.ingest(b, now)).collect();
        let progress = results.iter().any(Result::is_ok);
        pending = pending
            .into_iter()
            .zip(&results)
            .filter(|(_, r)| retry(r))
            .map(|(b, _)| b)
            .collect();
        passes.push(results);
        if !progress || pending.is_empty() {
            return passes;
        }
    }
}

fn retry(r: &Result<Digest, Rejection>) -> bool {
    matches!(
        r,
        Err(Rejection::Gap { .. }
            | Rejection::NoScheme
            | Rejection::UnknownAuthor(_)
            | Rejection::UnknownTarget(_))
    )
}

#[test]
fn a_shuffled_random_log_gets_the_same_verdicts_and_root_as_memory_log() {
    let (mut forks_seen, mut quarantine_seen) = (0, 0);
    for seed in 0..4u64 {
        let (mut log, now) = rich_log(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        log.shuffle(&mut rng);
        let (dir, store) = temp_store();
        let mut mem = MemoryLog::new();
        let from_store = feed_store(&store, &log, now, &mut rng);
        let from_mem = feed_memlog(&mut mem, &log, now);
        assert_eq!(from_store, from_mem, "seed {seed}");
        assert!(mem.len() > 50, "seed {seed}: only {} accepted", mem.len());
        assert_eq!(store.evidence(), mem.evidence(), "seed {seed}");
        assert_eq!(store.forks().unwrap(), mem.forks().to_vec(), "seed {seed}");
        assert_eq!(store.authority(), *mem.authority());
        let mut quarantined: Vec<Vec<u8>> = mem
            .quarantined()
            .iter()
            .map(|o| o.envelope.to_bytes())
            .collect();
        quarantined.sort();
        let mut stored = store.quarantined().unwrap();
        stored.sort();
        assert_eq!(stored, quarantined, "seed {seed}");
        forks_seen += mem.forks().len();
        quarantine_seen += mem.quarantined().len();
        let store = reopen(&dir, store);
        assert_eq!(store.evidence(), mem.evidence(), "seed {seed} after reopen");
        assert_eq!(store.authority(), *mem.authority());
        let report = store.check().unwrap();
        assert!(report.is_sound(), "seed {seed}: {:?}", report.damaged);
        assert_eq!(report.root, mem.evidence().root);
        assert_eq!(report.forks, mem.forks().len() as u64);
    }
    assert!(
        forks_seen >= 4 && quarantine_seen > 0,
        "{forks_seen} forks, {quarantine_seen} quarantined"
    );
}

#[test]
fn chain_rules_reject_gaps_wrong_prev_duplicates_and_time_going_back() {
    let (_dir, store) = temp_store();
    let mut w = Workload::new(1, 2);
    let setup = w.take(10);
    let now = w.now_ms() + 10_000;
    assert!(store.ingest(&setup, now).unwrap().iter().all(Result::is_ok));
    let scheme = w.scheme();
    let lab = w.lab_writer(0);
    let key = lab.public();
    let head = store.head(&key);
    // Gap: seq one past the next.
    let mut rec = lab.record_at(
        scheme,
        now,
        Body::Retraction {
            target: Digest::default(),
            reason: "x".into(),
        },
    );
    rec.seq += 1;
    let gap = lab.sign(&rec).to_bytes();
    // Wrong prev.
    let mut rec = lab.record_at(
        scheme,
        now,
        Body::Retraction {
            target: Digest::default(),
            reason: "x".into(),
        },
    );
    rec.prev = Some(Digest::of(domain::RECORD_ID, b"elsewhere"));
    let wrong_prev = lab.sign(&rec).to_bytes();
    // Time before the head's.
    let rec = lab.record_at(
        scheme,
        head.map_or(0, |h| h.time_ms.saturating_sub(1)),
        Body::Retraction {
            target: Digest::default(),
            reason: "x".into(),
        },
    );
    let back = lab.sign(&rec).to_bytes();
    let r = store
        .ingest(&[gap, wrong_prev, back, setup[3].clone()], now)
        .unwrap();
    assert!(
        matches!(r[0], Err(Rejection::Gap { found, .. }) if found == head.map_or(0, |h| h.seq + 1) + 1),
        "{:?}",
        r[0]
    );
    assert!(
        matches!(r[1], Err(Rejection::WrongPrev { .. })),
        "{:?}",
        r[1]
    );
    assert!(head.is_some(), "lab 0 wrote a record in the setup");
    assert!(
        matches!(r[2], Err(Rejection::TimeWentBack { .. })),
        "{:?}",
        r[2]
    );
    assert!(matches!(r[3], Err(Rejection::Duplicate(_))), "{:?}", r[3]);
    assert_eq!(store.evidence().records, 10);
}

#[test]
fn later_items_of_a_batch_see_earlier_ones_and_a_crossed_batch_gaps() {
    let (dir, store) = temp_store();
    let mut w = Workload::new(2, 2);
    let log = w.take(30);
    let now = w.now_ms();
    let mut reversed = log.clone();
    reversed.reverse();
    let r = store.ingest(&reversed, now).unwrap();
    assert!(r[29].is_ok(), "the genesis comes last and is accepted");
    assert!(matches!(r[0], Err(Rejection::NoScheme)), "{:?}", r[0]);
    let r = store.ingest(&log, now).unwrap();
    assert_eq!(r.iter().filter(|x| x.is_ok()).count(), 29);
    assert!(matches!(r[0], Err(Rejection::Duplicate(_))));
    let before = store.evidence();
    let store = reopen(&dir, store);
    assert_eq!(store.evidence(), before);
    assert_eq!(store.all_envelopes().unwrap().len(), 30);
}

#[test]
fn an_equivocation_stores_a_fork_proof_that_survives_reopening() {
    let (dir, store) = temp_store();
    let mut w = Workload::new(3, 2);
    let now = w.now_ms() + 100_000;
    store.ingest(&w.take(12), now).unwrap();
    let scheme = w.scheme();
    let t = w.tick();
    let lab = w.lab_writer(1);
    let a = lab.sign(&lab.record_at(
        scheme,
        t,
        Body::Retraction {
            target: Digest::default(),
            reason: "a".into(),
        },
    ));
    let b = lab.sign(&lab.record_at(
        scheme,
        t,
        Body::Retraction {
            target: Digest::default(),
            reason: "b".into(),
        },
    ));
    let r = store
        .ingest(&[a.to_bytes(), b.to_bytes(), b.to_bytes()], now)
        .unwrap();
    assert!(
        matches!(r[0], Err(Rejection::UnknownTarget(_))),
        "a retraction of a record not stored: {:?}",
        r[0]
    );
    // Two different run results at the same seq.
    let result = w.sample_result();
    let mut other = result.clone();
    other.seed ^= 1;
    let lab = w.lab_writer(1);
    let a = lab.sign(&lab.record_at(scheme, t, Body::RunResult(result)));
    let b = lab.sign(&lab.record_at(scheme, t, Body::RunResult(other)));
    let r = store
        .ingest(&[a.to_bytes(), b.to_bytes(), b.to_bytes()], now)
        .unwrap();
    assert_eq!(r[0], Ok(a.id()));
    let Err(Rejection::Equivocation(proof)) = &r[1] else {
        panic!("{:?}", r[1])
    };
    assert!(matches!(r[2], Err(Rejection::Equivocation(_))));
    assert_eq!(store.forks().unwrap(), vec![(**proof).clone()]);
    let store = reopen(&dir, store);
    assert_eq!(store.forks().unwrap(), vec![(**proof).clone()]);
    assert!(!store.add_fork(proof).unwrap(), "the same proof is not new");
    let mut bad = (**proof).clone();
    bad.b = bad.a.clone();
    assert!(matches!(
        store.add_fork(&bad),
        Err(StoreError::BadForkProof(ForkProofError::SameRecord(_)))
    ));
}

#[test]
fn revoking_a_lab_quarantines_its_later_records_durably() {
    let (dir, store) = temp_store();
    let mut w = Workload::new(4, 1);
    let now = w.now_ms() + 1_000_000;
    // Genesis, suite, accreditation, round: the lab has written nothing yet.
    store.ingest(&w.take(4), now).unwrap();
    let scheme = w.scheme();
    let mut lab_records = Vec::new();
    for _ in 0..5 {
        let result = w.sample_result();
        let t = w.tick();
        lab_records.push(w.lab_writer(0).append(scheme, t, Body::RunResult(result)));
    }
    let bytes: Vec<Vec<u8>> = lab_records.iter().map(Envelope::to_bytes).collect();
    assert!(store.ingest(&bytes, now).unwrap().iter().all(Result::is_ok));
    let lab = w.lab_writer(0).public();
    let t = w.tick();
    let revoke = w.owner_writer().append(
        scheme,
        t,
        Body::LabRevoked {
            lab,
            reason: "r".into(),
            last_seq: Some(1),
        },
    );
    assert_eq!(
        store.ingest(&[revoke.to_bytes()], now).unwrap()[0],
        Ok(revoke.id())
    );
    let check = |store: &Store| {
        assert!(store.get(&lab_records[1].id()).unwrap().is_some());
        for gone in &lab_records[2..] {
            assert_eq!(store.get(&gone.id()).unwrap(), None);
        }
        assert_eq!(store.quarantined().unwrap().len(), 3);
        assert_eq!(
            store.head(&lab).map(|h| (h.seq, h.id)),
            Some((1, lab_records[1].id()))
        );
        assert_eq!(store.evidence().records, 4 + 2 + 1);
    };
    check(&store);
    // A quarantined record cannot come back.
    let r = store.ingest(&[bytes[2].clone()], now).unwrap();
    assert!(
        matches!(
            r[0],
            Err(Rejection::LabRevoked {
                last_seq: Some(1),
                ..
            })
        ),
        "{:?}",
        r[0]
    );
    let store = reopen(&dir, store);
    check(&store);
    store.check().unwrap();
}

#[test]
fn listings_page_in_author_seq_order_under_every_filter() {
    let (_dir, store) = temp_store();
    let mut w = Workload::new(5, 3);
    let log = w.take(2300);
    store.ingest(&log, w.now_ms()).unwrap();
    let suite = w.suite();
    let all = store.all_envelopes().unwrap();
    let decoded: Vec<(Envelope, interlab_protocol::Record)> = all
        .iter()
        .map(|b| super::decode_stored(b).unwrap())
        .collect();
    let lab = w.lab_writer(1).public();
    let filters = [
        RecordFilter::default(),
        RecordFilter {
            kind: Some("run_result".into()),
            ..Default::default()
        },
        RecordFilter {
            kind: Some("round_opened".into()),
            ..Default::default()
        },
        RecordFilter {
            suite: Some(suite),
            ..Default::default()
        },
        RecordFilter {
            suite: Some(suite),
            round: Some(2),
            ..Default::default()
        },
        RecordFilter {
            round: Some(3),
            ..Default::default()
        },
        RecordFilter {
            author: Some(lab),
            kind: Some("run_result".into()),
            ..Default::default()
        },
        RecordFilter {
            author: Some(lab),
            suite: Some(suite),
            round: Some(1),
            ..Default::default()
        },
        RecordFilter {
            kind: Some("dispute".into()),
            ..Default::default()
        },
    ];
    for f in &filters {
        let expected: Vec<Vec<u8>> = all
            .iter()
            .zip(&decoded)
            .filter(|(_, (_, r))| {
                f.author.is_none_or(|a| a == r.author)
                    && f.kind.as_deref().is_none_or(|k| k == r.body.kind())
                    && f.suite
                        .is_none_or(|s| r.body.suite_round().is_some_and(|(x, _)| x == s))
                    && f.round
                        .is_none_or(|n| r.body.suite_round().and_then(|(_, x)| x) == Some(n))
            })
            .map(|(b, _)| b.clone())
            .collect();
        let mut pages = Vec::new();
        let mut after = None;
        loop {
            let page = store.records(f, after, 97).unwrap();
            if page.is_empty() {
                break;
            }
            let (_, last) = super::decode_stored(page.last().unwrap()).unwrap();
            after = Some((last.author, last.seq));
            pages.extend(page);
        }
        assert_eq!(pages.len(), expected.len(), "{f:?}");
        assert!(pages == expected, "{f:?}");
    }
    assert_eq!(
        store
            .records(&RecordFilter::default(), None, 0)
            .unwrap()
            .len(),
        0
    );
    // A chain's range.
    let head = store.head(&lab).unwrap();
    let r = store.range(&lab, 3, 5).unwrap();
    assert_eq!(r.len(), 5.min((head.seq + 1 - 3) as usize));
    let (_, first) = super::decode_stored(&r[0]).unwrap();
    assert_eq!((first.author, first.seq), (lab, 3));
}

#[test]
fn artefacts_are_content_addressed_and_bounded() {
    let (_dir, store) = temp_store();
    let d = store.put_artefact(b"weights").unwrap();
    assert_eq!(d, Digest::of(domain::ARTEFACT, b"weights"));
    assert!(store.has_artefact(&d).unwrap());
    assert_eq!(
        store.artefact(&d).unwrap().as_deref(),
        Some(&b"weights"[..])
    );
    assert_eq!(store.put_artefact(b"weights").unwrap(), d);
    let missing = Digest::of(domain::ARTEFACT, b"other");
    assert_eq!(store.artefact(&missing).unwrap(), None);
    assert!(!store.has_artefact(&missing).unwrap());
    let big = vec![0u8; MAX_ARTEFACT_BYTES + 1];
    assert!(matches!(
        store.put_artefact(&big),
        Err(StoreError::ArtefactTooLarge { len, .. }) if len == MAX_ARTEFACT_BYTES + 1
    ));
}

#[test]
fn inclusion_proofs_verify_against_the_current_root() {
    let (_dir, store) = temp_store();
    let mut w = Workload::new(6, 2);
    let log = w.take(40);
    let ids: Vec<Digest> = store
        .ingest(&log, w.now_ms())
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let root = store.evidence().root;
    for id in &ids {
        let p = store.proof(id).unwrap();
        assert!(p.verify());
        assert_eq!(p.root, root);
    }
    assert!(store.proof(&Digest::default()).is_none());
}
