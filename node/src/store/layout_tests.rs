//! Store layout tests: the summaries stored with each record, and the migration from
//! layout 1.

use interlab_protocol::{Envelope, MemoryLog};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use super::{
    RecordFilter, Store, StoreError, tables,
    tests::{rich_log, temp_store},
};

/// Feeds `log` until nothing more is accepted.
fn fill(store: &Store, log: &[Vec<u8>], now: u64) {
    for _ in 0..4 {
        store.ingest(log, now).unwrap();
    }
}

#[test]
fn a_layout_1_store_is_migrated_on_open_and_keeps_every_record() {
    let (log, now) = rich_log(11);
    let (dir, store) = temp_store();
    fill(&store, &log, now);
    let expected = store.evidence();
    let envelopes = store.all_envelopes().unwrap();
    let quarantined = store.quarantined().unwrap();
    let forks = store.forks().unwrap();
    assert!(!quarantined.is_empty() && !forks.is_empty());
    let runs = RecordFilter {
        kind: Some("run_result".into()),
        ..Default::default()
    };
    let expected_runs = store.records(&runs, None, usize::MAX).unwrap();
    drop(store);

    // The same evidence written in layout 1: plain envelopes and four index tables.
    let path = dir.path().join("v1.redb");
    {
        let old = Database::create(&path).unwrap();
        let txn = old.begin_write().unwrap();
        {
            let mut records = txn.open_table(tables::v1::RECORDS).unwrap();
            let mut ids: redb::Table<&[u8], &[u8]> =
                txn.open_table(TableDefinition::new("ids_v1")).unwrap();
            let mut heads = txn.open_table(tables::HEADS).unwrap();
            let mut meta = txn.open_table(tables::META).unwrap();
            for bytes in &envelopes {
                let opened = Envelope::open_bytes(bytes).unwrap();
                let rec = &opened.record;
                let pos = tables::pos_key(&rec.author, rec.seq);
                records.insert(&pos[..], &bytes[..]).unwrap();
                ids.insert(&opened.id.as_bytes()[..], &pos[..]).unwrap();
                let head = tables::head_value(rec.seq, &opened.id, rec.time_ms);
                heads.insert(&rec.author.as_bytes()[..], &head[..]).unwrap();
                if rec.seq == 0 && rec.scheme.is_none() {
                    meta.insert(tables::META_GENESIS, &opened.id.as_bytes()[..])
                        .unwrap();
                }
            }
            meta.insert(tables::META_LAYOUT, &1u32.to_be_bytes()[..])
                .unwrap();
            for name in ["by_kind_v1", "by_suite_v1", "by_suite_round_v1"] {
                let mut t: redb::Table<&[u8], ()> =
                    txn.open_table(TableDefinition::new(name)).unwrap();
                t.insert(&[1u8][..], ()).unwrap();
            }
            let mut q = txn.open_table(tables::QUARANTINE).unwrap();
            for (i, bytes) in quarantined.iter().enumerate() {
                q.insert(&(i as u64).to_be_bytes()[..], &bytes[..]).unwrap();
            }
            let mut f = txn.open_table(tables::FORKS).unwrap();
            for (i, proof) in forks.iter().enumerate() {
                f.insert(&(i as u64).to_be_bytes()[..], &proof.to_bytes()[..])
                    .unwrap();
            }
        }
        txn.commit().unwrap();
    }

    let store = Store::open(&path).unwrap();
    assert_eq!(store.evidence(), expected);
    assert_eq!(store.all_envelopes().unwrap(), envelopes);
    assert_eq!(
        store.records(&runs, None, usize::MAX).unwrap(),
        expected_runs
    );
    assert_eq!(store.quarantined().unwrap(), quarantined);
    assert_eq!(store.forks().unwrap().len(), forks.len());
    store.check().unwrap();
    drop(store);
    // Only layout 2's tables are left, and opening again changes nothing.
    let db = Database::open(&path).unwrap();
    let names: Vec<String> = db
        .begin_read()
        .unwrap()
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_owned())
        .collect();
    drop(db);
    assert!(
        names.iter().all(|n| !n.ends_with("_v1")
            || [
                "damaged_v1",
                "heads_v1",
                "forks_v1",
                "quarantine_v1",
                "meta_v1",
                "artefacts_v1"
            ]
            .contains(&n.as_str())),
        "{names:?}"
    );
    let store = Store::open(&path).unwrap();
    assert_eq!(store.evidence(), expected);
}

#[test]
fn a_store_of_an_unknown_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.redb");
    {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(tables::META)
            .unwrap()
            .insert(tables::META_LAYOUT, &9u32.to_be_bytes()[..])
            .unwrap();
        txn.commit().unwrap();
    }
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::Layout {
            found: 9,
            expected: tables::LAYOUT_VERSION
        })
    ));
}

#[test]
fn a_summary_that_does_not_describe_its_record_is_found_by_check() {
    let (log, now) = rich_log(12);
    let (dir, store) = temp_store();
    fill(&store, &log, now);
    let mem = {
        let mut m = MemoryLog::new();
        for _ in 0..4 {
            for b in &log {
                let _ = m.ingest(b, now);
            }
        }
        m
    };
    assert_eq!(store.evidence().root, mem.evidence().root);
    store.check().unwrap();
    drop(store);
    // Rewrite one run result's summary as if it were a dispute.
    let path = dir.path().join("store.redb");
    {
        let db = Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut records = txn.open_table(tables::RECORDS).unwrap();
            let (key, mut value) = records
                .iter()
                .unwrap()
                .map(Result::unwrap)
                .map(|(k, v)| (k.value().to_vec(), v.value().to_vec()))
                .find(|(_, v)| tables::split_record(v).unwrap().0.kind == 7)
                .unwrap();
            value[32] = 8;
            records.insert(&key[..], &value[..]).unwrap();
        }
        txn.commit().unwrap();
    }
    // The open-time check finds it and quarantines the record (and its chain's tail).
    let store = Store::open(&path).unwrap();
    let damaged = store.damaged();
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert_eq!(damaged[0].damage, super::Damage::SummaryMismatch);
    let report = store.check().unwrap();
    assert_eq!(report.damaged, damaged);
    // The listing no longer believes the summary: only the real dispute is listed.
    let disputes = RecordFilter {
        kind: Some("dispute".into()),
        ..Default::default()
    };
    let listed = store.records(&disputes, None, 10).unwrap();
    assert!(listed.len() <= 1);
    for b in listed {
        let o = interlab_protocol::Envelope::open_bytes(&b).unwrap();
        assert_eq!(o.record.body.kind(), "dispute");
    }
}
