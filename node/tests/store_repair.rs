//! A node whose store was damaged on disk (one flipped bit in a stored record id, inside
//! a stored envelope, or in a signature) finds the damage — at open, or by its scrub —
//! quarantines the record, never serves it, fetches a good copy from a peer over real
//! TCP, and ends on the network's evidence root.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use interlab_node::{
    net::{Multiaddr, NetClient, NetConfig, spawn},
    store::{Damage, ScrubConfig, Store},
};
use interlab_protocol::{Body, Envelope, EvidenceState, PublicKey, RecordId, testkit::Workload};
use redb::{Database, ReadableTable, TableDefinition};
use tempfile::TempDir;

/// The records table of store layout 2: `author ‖ seq` → 70-byte summary ‖ envelope.
const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records_v2");
const SUMMARY_LEN: usize = 70;

struct Node {
    client: NetClient,
    task: tokio::task::JoinHandle<()>,
    store: Store,
    addr: Multiaddr,
}

async fn start(store: Store, key: u8, bootstrap: Vec<Multiaddr>, scrub: bool) -> Node {
    let scheme = store.scheme().map(|(s, _)| s);
    let cfg = NetConfig::default()
        .with_sync_interval(Duration::from_millis(300))
        .with_heartbeat(Duration::from_millis(100))
        .with_pending_ttl(Duration::from_millis(800))
        .with_bootstrap(bootstrap)
        .with_scheme(scheme)
        .with_scrub(scrub.then(|| {
            ScrubConfig::default()
                .with_interval(Duration::from_millis(20))
                .with_batch(64)
        }))
        .build()
        .unwrap();
    let (client, task) = spawn(cfg, [key; 32], store.clone()).await.unwrap();
    let addr = client.listen_addrs().await.unwrap().remove(0);
    Node {
        client,
        task,
        store,
        addr,
    }
}

async fn stop(nodes: Vec<Node>) {
    for n in nodes {
        n.client.shutdown().await;
        n.task.await.unwrap();
    }
}

/// The whole log, and a store holding it.
fn full_store(dir: &TempDir, log: &[Vec<u8>], now: u64) -> Store {
    let store = Store::open(&dir.path().join("store.redb")).unwrap();
    let results = store.ingest(log, now).unwrap();
    assert!(results.iter().all(Result::is_ok));
    store
}

fn log() -> (Vec<Vec<u8>>, u64) {
    let mut w = Workload::new(5, 3);
    let log = w.take(600);
    (log, w.now_ms())
}

/// The position and id of a run result at seq 25 of a lab's chain.
fn victim(log: &[Vec<u8>]) -> (PublicKey, u64, RecordId) {
    log.iter()
        .map(|b| Envelope::open_bytes(b).unwrap())
        .find(|o| o.record.seq == 25 && matches!(o.record.body, Body::RunResult(_)))
        .map(|o| (o.record.author, o.record.seq, o.id))
        .unwrap()
}

/// Flips bit `bit` of byte `at` of the stored value at `(author, seq)`; the store must
/// be closed.
fn flip(path: &std::path::Path, author: &PublicKey, seq: u64, at: impl Fn(usize) -> usize) {
    let db = Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut table = txn.open_table(RECORDS).unwrap();
        let mut key = author.as_bytes().to_vec();
        key.extend_from_slice(&seq.to_be_bytes());
        let mut value = table.get(&key[..]).unwrap().unwrap().value().to_vec();
        let i = at(value.len());
        value[i] ^= 0x08;
        table.insert(&key[..], &value[..]).unwrap();
    }
    txn.commit().unwrap();
}

/// Waits until every node names `target`'s root and holds no damage.
async fn converge(nodes: &[&Node], target: &EvidenceState) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done = nodes
            .iter()
            .all(|n| n.store.evidence() == *target && n.store.damaged().is_empty());
        if done {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let seen: Vec<_> = nodes
                .iter()
                .map(|n| {
                    let e = n.store.evidence();
                    (e.records, e.root.short(), n.store.damaged().len())
                })
                .collect();
            panic!(
                "nodes did not reach {} records, root {}: {seen:?}",
                target.records,
                target.root.short()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Damages one record of a copy of the network's store with `at`, checks what the open
/// finds, then lets the node heal from a peer.
async fn heal_from_a_peer(at: impl Fn(usize) -> usize, expect: fn(&Damage) -> bool) {
    let (log, now) = log();
    let (good_dir, bad_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let good = full_store(&good_dir, &log, now);
    let network = good.evidence();
    let (author, seq, id) = victim(&log);
    drop(full_store(&bad_dir, &log, now));
    let path = bad_dir.path().join("store.redb");
    flip(&path, &author, seq, at);

    let bad = Store::open(&path).unwrap();
    let damaged = bad.damaged();
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert_eq!((damaged[0].author, damaged[0].seq), (author, seq));
    assert!(expect(&damaged[0].damage), "{}", damaged[0]);
    // What the node advertises is only what it can back.
    let before = bad.evidence();
    assert!(before.records < network.records);
    assert_ne!(before.root, network.root);
    let head = before.frontier.iter().find(|f| f.author == author).unwrap();
    assert_eq!(head.seq, seq - 1);
    assert_eq!(bad.get(&id).unwrap(), None);

    let a = start(good, 1, vec![], false).await;
    let b = start(bad, 2, vec![a.addr.clone()], false).await;
    converge(&[&a, &b], &network).await;
    let repaired = b.store.get(&id).unwrap().unwrap();
    assert_eq!(Envelope::decode(&repaired).unwrap().id(), id);
    assert!(b.store.check().unwrap().is_sound());
    stop(vec![b, a]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_in_a_stored_id_is_found_at_open_and_the_record_fetched_from_a_peer() {
    // Byte 7 of the value is inside the stored record id.
    heal_from_a_peer(|_| 7, |d| matches!(d, Damage::Id { .. })).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_inside_a_stored_envelope_is_found_at_open_and_the_record_fetched_from_a_peer()
 {
    // A byte in the middle of the record body.
    heal_from_a_peer(
        |len| SUMMARY_LEN + (len - SUMMARY_LEN) / 2,
        |d| matches!(d, Damage::Id { .. } | Damage::Envelope(_)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_node_serves_peers_only_what_it_can_back_and_its_scrub_finds_a_bad_signature() {
    let (log, now) = log();
    let dirs: Vec<TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let good = full_store(&dirs[0], &log, now);
    let network = good.evidence();
    let (author, seq, id) = victim(&log);
    drop(full_store(&dirs[1], &log, now));
    let path = dirs[1].path().join("store.redb");
    // The signature is the envelope's last 64 bytes: nothing at open sees this.
    flip(&path, &author, seq, |len| len - 20);
    let bad = Store::open(&path).unwrap();
    assert!(bad.damaged().is_empty());
    assert_eq!(bad.evidence(), network);

    // Alone with an empty node, the damaged node's scrub finds the record; the empty
    // node never receives it, nor anything after it in its chain.
    let scheme = bad.scheme().unwrap().0;
    let b = start(bad, 2, vec![], true).await;
    let fresh = Store::open(&dirs[2].path().join("store.redb")).unwrap();
    let cfg_scheme = Some(scheme);
    let c = {
        let cfg = NetConfig::default()
            .with_sync_interval(Duration::from_millis(300))
            .with_heartbeat(Duration::from_millis(100))
            .with_pending_ttl(Duration::from_millis(800))
            .with_bootstrap(vec![b.addr.clone()])
            .with_scheme(cfg_scheme)
            .with_scrub(None)
            .build()
            .unwrap();
        let (client, task) = spawn(cfg, [3; 32], fresh.clone()).await.unwrap();
        let addr = client.listen_addrs().await.unwrap().remove(0);
        Node {
            client,
            task,
            store: fresh,
            addr,
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (eb, ec) = (b.store.evidence(), c.store.evidence());
        if b.store.quarantines() > 0 && eb == ec {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "b: {} records, {} quarantined; c: {} records",
            eb.records,
            b.store.quarantines(),
            ec.records
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let damaged = b.store.damaged();
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert_eq!((damaged[0].author, damaged[0].seq), (author, seq));
    assert!(
        matches!(damaged[0].damage, Damage::Signature(_)),
        "{}",
        damaged[0]
    );
    assert!(c.store.get(&id).unwrap().is_none());
    assert!(c.store.evidence().records < network.records);
    assert!(c.store.check().unwrap().is_sound());

    // A peer with the good copy: both end on the network's root.
    let a = start(good, 1, vec![b.addr.clone()], false).await;
    converge(&[&a, &b, &c], &network).await;
    assert_eq!(
        Envelope::decode(&c.store.get(&id).unwrap().unwrap())
            .unwrap()
            .id(),
        id
    );
    stop(vec![c, b, a]).await;
}
