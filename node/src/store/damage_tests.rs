//! A damaged store: bit flips in ids, envelopes and signatures, a missing record. Each is
//! found (at open, or by the full check and the scrub), quarantined — not counted, not
//! served — and repaired by a good copy, after which the held records come back.

use interlab_protocol::{Body, Envelope, MemoryLog, PublicKey};
use redb::{Database, ReadableTable};

use super::{Damage, RecordFilter, Store, StoreError, tables, tests::temp_store};
use interlab_protocol::testkit::Workload;

/// A valid log of 400 records by the owner and three labs, stored, and the clock.
fn filled() -> (tempfile::TempDir, Store, Vec<Vec<u8>>, u64) {
    let mut w = Workload::new(21, 3);
    let log = w.take(400);
    let now = w.now_ms();
    let (dir, store) = temp_store();
    let results = store.ingest(&log, now).unwrap();
    assert!(results.iter().all(Result::is_ok));
    (dir, store, log, now)
}

/// The author, seq and bytes of every envelope of `log`.
fn positions(log: &[Vec<u8>]) -> Vec<(PublicKey, u64, Vec<u8>)> {
    log.iter()
        .map(|b| {
            let o = Envelope::open_bytes(b).unwrap();
            (o.record.author, o.record.seq, b.clone())
        })
        .collect()
}

/// A lab record in the middle of its chain: (author, seq, bytes, records after it).
fn middle_of_a_chain(log: &[Vec<u8>]) -> (PublicKey, u64, Vec<u8>, u64) {
    let all = positions(log);
    let (author, seq, bytes) = all
        .iter()
        .find(|(a, s, b)| {
            *s == 20
                && matches!(
                    Envelope::open_bytes(b).unwrap().record.body,
                    Body::RunResult(_)
                )
                && all.iter().filter(|(x, _, _)| x == a).count() > 40
        })
        .cloned()
        .unwrap();
    let after = all
        .iter()
        .filter(|(a, s, _)| *a == author && *s > seq)
        .count() as u64;
    (author, seq, bytes, after)
}

/// Changes the stored value at `(author, seq)` with `f`, with the store closed.
fn damage(
    dir: &tempfile::TempDir,
    store: Store,
    author: &PublicKey,
    seq: u64,
    f: impl FnOnce(&mut Vec<u8>),
) {
    drop(store);
    let db = Database::open(dir.path().join("store.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut records = txn.open_table(tables::RECORDS).unwrap();
        let key = tables::pos_key(author, seq);
        let mut value = records.get(&key[..]).unwrap().unwrap().value().to_vec();
        f(&mut value);
        if value.is_empty() {
            records.remove(&key[..]).unwrap();
        } else {
            records.insert(&key[..], &value[..]).unwrap();
        }
    }
    txn.commit().unwrap();
}

fn reopen(dir: &tempfile::TempDir) -> Store {
    Store::open(&dir.path().join("store.redb")).unwrap()
}

fn root_of(log: &[Vec<u8>], now: u64) -> interlab_protocol::EvidenceState {
    let mut m = MemoryLog::new();
    for b in log {
        m.ingest(b, now).unwrap();
    }
    m.evidence()
}

/// What every quarantine must guarantee: the damaged record and the ones after it are
/// neither counted nor served, and the chain the node advertises ends before it.
fn assert_quarantined(store: &Store, author: &PublicKey, seq: u64, after: u64, total: u64) {
    let ev = store.evidence();
    assert_eq!(ev.records, total - after - 1);
    let head = ev.frontier.iter().find(|f| f.author == *author).unwrap();
    assert_eq!(
        head.seq,
        seq - 1,
        "the advertised chain ends before the damage"
    );
    assert!(store.range(author, seq, 10).unwrap().is_empty());
    assert_eq!(store.range(author, 0, 1000).unwrap().len() as u64, seq);
    assert_eq!(
        store.all_envelopes().unwrap().len() as u64,
        total - after - 1
    );
    let listed = store
        .records(
            &RecordFilter {
                author: Some(*author),
                ..Default::default()
            },
            None,
            1000,
        )
        .unwrap();
    assert_eq!(listed.len() as u64, seq);
    // Every served envelope decodes.
    for b in store.all_envelopes().unwrap() {
        Envelope::open_bytes(&b).unwrap();
    }
    assert_eq!(store.held(), after);
    // The node's own key would sign above everything it once held.
    assert_eq!(store.head(author).unwrap().seq, seq + after);
}

#[test]
fn a_flipped_bit_in_a_stored_id_is_found_at_open_quarantined_and_repaired_by_a_good_copy() {
    let (dir, store, log, now) = filled();
    let (author, seq, good, after) = middle_of_a_chain(&log);
    let expected = root_of(&log, now);
    assert_eq!(store.evidence(), expected);
    damage(&dir, store, &author, seq, |v| v[3] ^= 0x10);
    let store = reopen(&dir);
    let found = store.damaged();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].author, found[0].seq), (author, seq));
    assert!(matches!(found[0].damage, Damage::Id { .. }), "{}", found[0]);
    assert_quarantined(&store, &author, seq, after, log.len() as u64);
    let real = Envelope::decode(&good).unwrap().id();
    assert_eq!(store.get(&real).unwrap(), None);

    // The good copy (as a peer would send it) repairs the chain.
    let results = store.ingest(&[good], now).unwrap();
    assert_eq!(results[0].as_ref().ok(), Some(&real));
    assert!(store.damaged().is_empty());
    assert_eq!(store.held(), 0);
    assert_eq!(store.evidence(), expected);
    assert!(store.check().unwrap().is_sound());
    // And it stays repaired.
    drop(store);
    let store = reopen(&dir);
    assert!(store.damaged().is_empty());
    assert_eq!(store.evidence(), expected);
}

#[test]
fn a_flipped_bit_inside_a_stored_envelope_is_found_at_open_and_repaired_by_a_range() {
    let (dir, store, log, now) = filled();
    let (author, seq, _, after) = middle_of_a_chain(&log);
    let expected = root_of(&log, now);
    // A byte in the middle of the body: the envelope still decodes.
    damage(&dir, store, &author, seq, |v| {
        let i = tables::SUMMARY_LEN + v.len() / 2 - 40;
        v[i] ^= 0x01;
    });
    let store = reopen(&dir);
    let found = store.damaged();
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].author, found[0].seq), (author, seq));
    assert!(
        matches!(found[0].damage, Damage::Id { .. } | Damage::Envelope(_)),
        "{}",
        found[0]
    );
    assert_quarantined(&store, &author, seq, after, log.len() as u64);
    // A peer answers a range request from the damaged seq on: the first record repairs
    // the chain, the rest are already back.
    let range: Vec<Vec<u8>> = positions(&log)
        .into_iter()
        .filter(|(a, s, _)| *a == author && *s >= seq)
        .map(|(_, _, b)| b)
        .collect();
    let results = store.ingest(&range, now).unwrap();
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(
        results[1..]
            .iter()
            .all(|r| matches!(r, Err(interlab_protocol::Rejection::Duplicate(_)))),
        "{results:?}"
    );
    assert!(store.damaged().is_empty());
    assert_eq!(store.evidence(), expected);
}

#[test]
fn a_bad_signature_is_left_to_the_full_check_and_the_scrub_which_quarantines_it_for_good() {
    let (dir, store, log, now) = filled();
    let (author, seq, good, after) = middle_of_a_chain(&log);
    let expected = root_of(&log, now);
    // The signature is the envelope's last 64 bytes.
    damage(&dir, store, &author, seq, |v| {
        let i = v.len() - 10;
        v[i] ^= 0x04;
    });
    let store = reopen(&dir);
    assert!(store.damaged().is_empty(), "no signature checks at open");
    assert!(
        store
            .check_with(false, super::OpenProgress::Quiet)
            .unwrap()
            .is_sound()
    );
    let report = store.check().unwrap();
    assert_eq!(report.damaged.len(), 1);
    assert_eq!(
        (report.damaged[0].author, report.damaged[0].seq),
        (author, seq)
    );
    assert!(
        matches!(report.damaged[0].damage, Damage::Signature(_)),
        "{}",
        report.damaged[0]
    );
    assert_eq!(report.held, after);
    assert_eq!(
        store.evidence(),
        expected,
        "the check alone quarantines nothing"
    );

    // The scrub goes through the store in small batches and finds it.
    let mut next = None;
    let mut found = Vec::new();
    let mut checked = 0;
    loop {
        let step = store.scrub(next, 37).unwrap();
        checked += step.checked;
        found.extend(step.found);
        next = step.next;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].author, found[0].seq), (author, seq));
    assert!(checked >= log.len() - after as usize - 1);
    assert_eq!(store.quarantines(), 1);
    assert_quarantined(&store, &author, seq, after, log.len() as u64);

    // Recorded on disk: the next open quarantines it without a signature check.
    drop(store);
    let store = reopen(&dir);
    assert_eq!(store.damaged().len(), 1);
    assert!(matches!(store.damaged()[0].damage, Damage::Recorded(_)));
    assert_quarantined(&store, &author, seq, after, log.len() as u64);
    store.ingest(&[good], now).unwrap()[0].as_ref().unwrap();
    assert_eq!(store.evidence(), expected);
    drop(store);
    let store = reopen(&dir);
    assert!(store.damaged().is_empty());
    assert_eq!(store.evidence(), expected);
}

#[test]
fn a_missing_record_holds_the_rest_of_its_chain_until_it_is_fetched_again() {
    let (dir, store, log, now) = filled();
    let (author, seq, good, after) = middle_of_a_chain(&log);
    let expected = root_of(&log, now);
    damage(&dir, store, &author, seq, Vec::clear);
    let store = reopen(&dir);
    let found = store.damaged();
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].author, found[0].seq), (author, seq));
    assert_eq!(found[0].damage, Damage::Missing);
    assert_quarantined(&store, &author, seq, after, log.len() as u64);
    store.ingest(&[good], now).unwrap()[0].as_ref().unwrap();
    assert_eq!(store.evidence(), expected);
}

#[test]
fn the_node_cannot_sign_over_a_damaged_position_of_its_own_chain() {
    let (dir, store, log, now) = filled();
    let (author, seq, _, after) = middle_of_a_chain(&log);
    damage(&dir, store, &author, seq, |v| v[3] ^= 0x10);
    let store = reopen(&dir);
    // What a publisher would sign next: above the highest position held.
    let mut w = Workload::new(21, 3);
    let _ = w.take(400);
    let key = (0..3)
        .map(|i| w.lab_writer(i).clone())
        .find(|l| l.public() == author)
        .unwrap();
    let top = store.head(&author).unwrap();
    assert_eq!(top.seq, seq + after);
    let mut rec = key.record_at(w.scheme(), now, Body::RunResult(w.sample_result()));
    rec.seq = top.seq + 1;
    rec.prev = Some(top.id);
    let env = key.sign(&rec);
    let r = store.ingest(&[env.to_bytes()], now).unwrap();
    assert!(
        matches!(r[0], Err(interlab_protocol::Rejection::Gap { .. })),
        "{:?}",
        r[0]
    );
}

#[test]
fn a_damaged_owner_record_leaves_the_authority_at_the_record_before() {
    let (dir, store, log, now) = filled();
    let owner = store.scheme().unwrap().1;
    let before = store.authority();
    // The owner's seq 2 accredits the first lab.
    damage(&dir, store, &owner, 2, |v| v[10] ^= 0x80);
    let store = reopen(&dir);
    assert_eq!(store.damaged().len(), 1);
    assert_ne!(store.authority(), before);
    assert_eq!(store.authority().labs().count(), 0);
    let good = positions(&log)
        .into_iter()
        .find(|(a, s, _)| *a == owner && *s == 2)
        .unwrap()
        .2;
    store.ingest(&[good], now).unwrap()[0].as_ref().unwrap();
    assert_eq!(store.authority(), before);
    assert_eq!(store.evidence(), root_of(&log, now));
}

#[test]
fn a_record_key_of_the_wrong_length_is_refused_clearly() {
    let (dir, store, _, _) = filled();
    drop(store);
    let path = dir.path().join("store.redb");
    {
        let db = Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(tables::RECORDS)
            .unwrap()
            .insert(&[1u8; 39][..], &[0u8; 100][..])
            .unwrap();
        txn.commit().unwrap();
    }
    match Store::open(&path) {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("40 bytes"), "{m}"),
        other => panic!("expected a corrupt store, got {other:?}"),
    }
}

#[test]
fn a_damaged_genesis_leaves_the_scheme_unknown_until_a_good_copy_brings_it_back() {
    let (dir, store, log, now) = filled();
    let (scheme, owner) = store.scheme().unwrap();
    let before = store.authority();
    damage(&dir, store, &owner, 0, |v| v[0] ^= 0x01);
    let store = reopen(&dir);
    assert_eq!(store.scheme(), None);
    assert_eq!(store.wanted_scheme(), Some(scheme));
    assert_eq!(store.damaged().len(), 1);
    store.ingest(&log[..1], now).unwrap()[0].as_ref().unwrap();
    assert_eq!(store.scheme(), Some((scheme, owner)));
    assert_eq!(store.authority(), before);
    assert_eq!(store.evidence(), root_of(&log, now));
}

#[test]
fn a_snapshot_grown_from_one_before_a_quarantine_leaves_out_the_cut_records() {
    let (dir, store, log, _) = filled();
    let (author, seq, _, _) = middle_of_a_chain(&log);
    // A bad signature: found by the scrub, not at open.
    damage(&dir, store, &author, seq, |v| {
        let i = v.len() - 10;
        v[i] ^= 0x04;
    });
    let store = reopen(&dir);
    let before = store.snapshot().unwrap();
    assert_eq!(
        before.records.len(),
        log.len(),
        "nothing is quarantined yet"
    );
    let mut next = None;
    loop {
        let step = store.scrub(next, 100).unwrap();
        next = step.next;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(store.quarantines(), 1);
    let grown = store.snapshot_after(Some(&before)).unwrap();
    let fresh = store.snapshot().unwrap();
    let ids = |s: &crate::store::Snapshot| s.records.iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(ids(&grown), ids(&fresh));
    assert_eq!(grown.evidence, fresh.evidence);
    assert!(
        grown
            .records
            .iter()
            .all(|o| o.record.author != author || o.record.seq < seq),
        "the chain ends before the damaged record"
    );
}
