//! The peer network over real TCP on 127.0.0.1, with real stores in temporary
//! directories: convergence, late join, partitions, hostile gossip.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use interlab_node::{
    net::{
        GOSSIP_THRESHOLD, Multiaddr, NetClient, NetConfig, PeerId, peer_id_of, spawn, wire::Gossip,
    },
    store::Store,
};
use interlab_protocol::{
    Body, Digest, Envelope, Grounds, RecordId, SchemeId,
    testkit::{Author, TestScheme},
};
use tempfile::TempDir;

struct Node {
    client: NetClient,
    task: tokio::task::JoinHandle<()>,
    store: Store,
    addr: Multiaddr,
    _dir: TempDir,
}

fn config() -> NetConfig {
    NetConfig::default()
        .with_sync_interval(Duration::from_millis(300))
        .with_heartbeat(Duration::from_millis(100))
        .with_pending_ttl(Duration::from_millis(800))
}

async fn start(
    author: &Author,
    bootstrap: Vec<Multiaddr>,
    scheme: Option<SchemeId>,
    seed: &[Vec<u8>],
) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store.redb")).unwrap();
    if !seed.is_empty() {
        let results = store.ingest(seed, now_ms()).unwrap();
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    }
    let cfg = config()
        .with_bootstrap(bootstrap)
        .with_scheme(scheme)
        .build()
        .unwrap();
    let (client, task) = spawn(cfg, author.secret().to_bytes(), store.clone())
        .await
        .unwrap();
    let addr = client.listen_addrs().await.unwrap().remove(0);
    Node {
        client,
        task,
        store,
        addr,
        _dir: dir,
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn dispute(n: u64) -> Body {
    Body::Dispute {
        target: Digest::of("test target", &n.to_le_bytes()),
        grounds: Grounds::Outlier,
        statement: format!("statement {n}"),
        evidence: vec![],
    }
}

/// Signs the author's next record, ingests it on its own node and publishes it.
async fn publish(node: &Node, author: &mut Author, n: u64) -> RecordId {
    let env = author.next(dispute(n));
    let bytes = env.to_bytes();
    let r = node
        .store
        .ingest(std::slice::from_ref(&bytes), now_ms())
        .unwrap();
    assert_eq!(r[0].as_ref().ok(), Some(&env.id()), "{r:?}");
    node.client.publish(bytes).await.unwrap();
    env.id()
}

async fn wait_for(nodes: &[&Node], records: u64) -> Digest {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let states: Vec<_> = nodes.iter().map(|n| n.store.evidence()).collect();
        if states
            .iter()
            .all(|s| s.records == records && s.root == states[0].root)
        {
            return states[0].root;
        }
        if tokio::time::Instant::now() > deadline {
            let seen: Vec<_> = states.iter().map(|s| (s.records, s.root.short())).collect();
            panic!("nodes did not converge on {records} records: {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stop(nodes: Vec<Node>) {
    for n in nodes {
        n.client.shutdown().await;
        n.task.await.unwrap();
    }
}

/// An owner node holding the scheme, and `labs` lab nodes that join by scheme id.
async fn network(scheme: &TestScheme) -> Vec<Node> {
    let owner = start(&scheme.owner, vec![], None, &scheme.bytes()).await;
    let mut nodes = vec![owner];
    for lab in &scheme.labs {
        let mut boot = vec![nodes[0].addr.clone()];
        boot.extend(nodes.last().map(|n| n.addr.clone()));
        boot.dedup();
        nodes.push(start(lab, boot, Some(scheme.id), &[]).await);
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_converge_to_one_root_and_a_late_joiner_catches_up() {
    let mut scheme = TestScheme::new("five", 4, 11);
    let nodes = network(&scheme).await;
    let refs: Vec<&Node> = nodes.iter().collect();
    // Every lab joins by fetching the genesis, then catches up the accreditations.
    wait_for(&refs, 5).await;
    let mut n = 0;
    for round in 0..3 {
        for (i, lab) in scheme.labs.iter_mut().enumerate() {
            n += 1;
            publish(&nodes[i + 1], lab, n).await;
        }
        let env = scheme.owner.next(Body::RoundOpened {
            suite: Digest::of("suite", b"s"),
            round,
            deadline_ms: None,
        });
        let bytes = env.to_bytes();
        nodes[0]
            .store
            .ingest(std::slice::from_ref(&bytes), now_ms())
            .unwrap();
        nodes[0].client.publish(bytes).await.unwrap();
    }
    let root = wait_for(&refs, 5 + 12 + 3).await;

    let late_author = Author::new(9_999);
    let late = start(
        &late_author,
        vec![nodes[2].addr.clone()],
        Some(scheme.id),
        &[],
    )
    .await;
    let late_root = wait_for(&[&late], 20).await;
    assert_eq!(late_root, root);
    let peers = late.client.peers().await.unwrap();
    assert!(!peers.is_empty());
    let mut all = nodes;
    all.push(late);
    stop(all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_with_writes_on_both_sides_heals_to_one_root() {
    let mut scheme = TestScheme::new("partition", 3, 12);
    let nodes = network(&scheme).await;
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_for(&refs, 4).await;
    let ids: Vec<PeerId> = nodes.iter().map(|n| n.client.peer_id()).collect();
    let (left, right) = ([0usize, 1], [2usize, 3]);
    for &i in &left {
        nodes[i]
            .client
            .set_blocked(right.iter().map(|&j| ids[j]).collect())
            .await
            .unwrap();
    }
    for &i in &right {
        nodes[i]
            .client
            .set_blocked(left.iter().map(|&j| ids[j]).collect())
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let a = publish(&nodes[1], &mut scheme.labs[0], 1).await;
    let b = publish(&nodes[2], &mut scheme.labs[1], 2).await;
    let c = publish(&nodes[3], &mut scheme.labs[2], 3).await;
    wait_for(&[&nodes[0], &nodes[1]], 5).await;
    wait_for(&[&nodes[2], &nodes[3]], 6).await;
    assert!(
        nodes[0].store.get(&b).unwrap().is_none(),
        "the partition leaked"
    );
    assert!(
        nodes[3].store.get(&a).unwrap().is_none(),
        "the partition leaked"
    );

    for n in &nodes {
        n.client.set_blocked(vec![]).await.unwrap();
    }
    nodes[2].client.dial(nodes[0].addr.clone()).await.unwrap();
    nodes[3].client.dial(nodes[1].addr.clone()).await.unwrap();
    wait_for(&refs, 7).await;
    for n in &nodes {
        for id in [a, b, c] {
            assert!(n.store.get(&id).unwrap().is_some());
        }
    }
    stop(nodes).await;
}

/// Envelope bytes with the 32-byte author key re-encoded in a longer CBOR length form.
fn non_canonical(env: &Envelope) -> Vec<u8> {
    let bytes = env.to_bytes();
    let key = env.author.as_bytes();
    let at = bytes
        .windows(34)
        .position(|w| w[0] == 0x58 && w[1] == 32 && &w[2..] == key)
        .unwrap();
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(&[0x59, 0x00, 32]);
    out.extend_from_slice(&bytes[at + 2..]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_gossip_is_rejected_and_lowers_the_senders_score_while_honest_records_flow() {
    let mut scheme = TestScheme::new("hostile", 2, 13);
    let nodes = network(&scheme).await;
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_for(&refs, 3).await;
    // The attacker holds the scheme too (it is public) but was never accredited.
    let mut stranger = Author::new(4242);
    stranger.join(scheme.id);
    let boot = vec![
        nodes[0].addr.clone(),
        nodes[1].addr.clone(),
        nodes[2].addr.clone(),
    ];
    let evil = start(&stranger, boot, Some(scheme.id), &[]).await;
    wait_for(&[&evil], 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut bad_ids = Vec::new();
    // 1. A forged signature on a record claiming lab 0 as author.
    let mut forged = scheme.labs[0].sign(&scheme.labs[0].record(dispute(666)));
    forged.sig.0[10] ^= 1;
    bad_ids.push(forged.id());
    // 2. A validly signed record of an unaccredited key.
    let unaccredited = stranger.next(dispute(667));
    bad_ids.push(unaccredited.id());
    // 3. A replay of a record from another scheme.
    let other = TestScheme::new("elsewhere", 1, 14);
    let replayed = other.envelopes[1].clone();
    bad_ids.push(replayed.id());
    // 4. A valid lab record in non-canonical bytes.
    let honest_next = scheme.labs[1].record(dispute(668));
    let canonical_twin = scheme.labs[1].sign(&honest_next);
    let noncanon = non_canonical(&canonical_twin);
    for data in [
        Gossip::Record(forged.to_bytes()).to_bytes(),
        Gossip::Record(unaccredited.to_bytes()).to_bytes(),
        Gossip::Record(replayed.to_bytes()).to_bytes(),
        Gossip::Record(noncanon).to_bytes(),
        vec![0xff, 0x00, 0x13],
    ] {
        evil.client.publish_raw(data).await.unwrap();
    }
    // Honest traffic keeps flowing meanwhile.
    let mut honest = Vec::new();
    for n in 0..4 {
        honest.push(publish(&nodes[1], &mut scheme.labs[0], 100 + n).await);
    }
    wait_for(&refs, 7).await;

    let evil_id = peer_id_of(&stranger.public()).unwrap();
    assert_eq!(evil_id, evil.client.peer_id());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for node in &nodes {
        loop {
            let score = score_of(&node.client, &evil_id).await;
            if score.is_some_and(|s| s < GOSSIP_THRESHOLD) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "attacker's score stayed at {score:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for id in &bad_ids {
            assert!(
                node.store.get(id).unwrap().is_none(),
                "hostile record {id} stored"
            );
        }
        for id in &honest {
            assert!(node.store.get(id).unwrap().is_some());
        }
    }
    // The non-canonical twin's id would be the honest record's: it must not be stored.
    assert!(nodes[0].store.get(&canonical_twin.id()).unwrap().is_none());
    assert_eq!(nodes[0].store.evidence().records, 7);
    let mut all = nodes;
    all.push(evil);
    stop(all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_artefact_is_fetched_by_digest_and_checked() {
    let scheme = TestScheme::new("artefacts", 1, 15);
    let nodes = network(&scheme).await;
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_for(&refs, 2).await;
    let blob: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let digest = nodes[0].store.put_artefact(&blob).unwrap();
    let got = nodes[1].client.fetch_artefact(digest).await.unwrap();
    assert_eq!(got, blob);
    assert!(nodes[1].store.has_artefact(&digest).unwrap());
    let missing = Digest::of("nothing", b"x");
    let err = nodes[1].client.fetch_artefact(missing).await.unwrap_err();
    assert!(err.to_string().contains("not available"), "{err}");
    stop(nodes).await;
}

/// A node that asks for an artefact before any peer is connected (it just started, or
/// its connections are being re-established) waits for the first peer instead of
/// failing at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_artefact_fetch_waits_for_the_first_peer_to_connect() {
    let scheme = TestScheme::new("artefact wait", 1, 16);
    let seed = scheme.bytes();
    let holder = start(&scheme.labs[0], vec![], Some(scheme.id), &seed).await;
    let blob: Vec<u8> = (0..10_000u32).map(|i| (i % 13) as u8).collect();
    let digest = holder.store.put_artefact(&blob).unwrap();
    let alone = start(&scheme.owner, vec![], Some(scheme.id), &seed).await;
    let asker = alone.client.clone();
    let fetch = tokio::spawn(async move { asker.fetch_artefact(digest).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !fetch.is_finished(),
        "the fetch gave up with no peer connected"
    );
    alone.client.dial(holder.addr.clone()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(20), fetch)
        .await
        .expect("the fetch did not finish after a peer connected")
        .unwrap()
        .unwrap();
    assert_eq!(got, blob);
    stop(vec![holder, alone]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_proof_known_to_one_node_reaches_the_others_by_catch_up_alone() {
    let mut scheme = TestScheme::new("forks", 2, 16);
    let nodes = network(&scheme).await;
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_for(&refs, 3).await;
    // Lab 0 signs two records at its seq 0; only node 0 ever sees the proof (no gossip).
    let lab = &mut scheme.labs[0];
    let a = lab.sign(&lab.record(dispute(1)));
    let b = lab.sign(&lab.record(dispute(2)));
    let proof = interlab_protocol::ForkProof::new(a, b);
    assert!(nodes[0].store.add_fork(&proof).unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    for node in &nodes[1..] {
        while node.store.forks().unwrap().is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the fork proof did not reach every node"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(node.store.forks().unwrap()[0], proof);
    }
    stop(nodes).await;
}

/// The byzantine benchmark at a small size: whatever the timing, an accredited lab that
/// equivocates and floods forged, non-canonical, oversized, replayed, unauthorised and
/// garbage messages gets nothing stored, is flagged everywhere, loses its standing in
/// every honest peer's score and is banned (disconnected) by the peers it floods, while
/// honest records keep reaching every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_equivocating_lab_is_shut_out_and_honest_records_still_propagate() {
    let dir = tempfile::tempdir().unwrap();
    let spec = interlab_node::net::bench::ByzantineSpec {
        net: interlab_node::net::bench::PropagationSpec {
            nodes: 6,
            publishers: 3,
            records: 30,
            rate: 20.0,
            degree: 2,
            heartbeat: Duration::from_millis(300),
            seed: 17,
            dir: dir.path().to_owned(),
        },
        flood_rate: 200.0,
        attacker_degree: 3,
    };
    let r = interlab_node::net::bench::byzantine(&spec).await.unwrap();
    // Publishes fail once every peer it reached has banned it.
    let sent: u64 = r.sent.sent.values().sum();
    assert!(
        sent + r.sent.refused >= 250,
        "the attacker tried only {sent}: {:?}",
        r.sent
    );
    assert_eq!(
        r.sent.sent.len(),
        6,
        "every kind of hostile message: {:?}",
        r.sent
    );
    assert_eq!(r.hostile_stored, 0);
    assert_eq!(r.baseline.complete, r.baseline.records);
    assert_eq!(
        r.attack.complete, r.attack.records,
        "honest records lost under attack"
    );
    assert_eq!(r.nodes_with_fork_proof, r.nodes);
    assert!(
        r.scores_at_end_of_attack.banned > 0,
        "nobody banned the attacker: {:?}",
        r.scores_at_end_of_attack
    );
    for scores in [&r.scores_at_end_of_attack, &r.scores_after_settling] {
        assert!(scores.reached > 0, "{scores:?}");
        assert_eq!(
            scores.below_gossip_threshold, scores.reached,
            "the attacker is not below the gossip threshold everywhere: {scores:?}"
        );
    }
    assert!(r.converged);
}

/// `peer`'s score on the node of `client`, whether connected or banned.
async fn score_of(client: &NetClient, peer: &PeerId) -> Option<f64> {
    let id = peer.to_string();
    let peers = client.peers().await.unwrap();
    if let Some(p) = peers.iter().find(|p| p.peer_id == id) {
        return p.score;
    }
    let banned = client.banned().await.unwrap();
    banned
        .iter()
        .find(|p| p.peer_id == id)
        .and_then(|p| p.score)
}
