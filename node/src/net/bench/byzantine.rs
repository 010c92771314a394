//! Honest propagation with and without a byzantine peer flooding the network: the same
//! network measures a baseline, then again while an accredited lab equivocates and
//! publishes forged, non-canonical, oversized, replayed, unauthorised and garbage
//! messages. It also checks what must hold whatever the timing: no hostile record stored,
//! the fork proof on every honest node, the attacker's score below the gossip threshold
//! on every honest node it reached (connected, or banned and disconnected), one evidence
//! root.

use std::time::{Duration, Instant};

use rand::Rng;
use serde::Serialize;

use super::{Latencies, PropagationSpec, key, launch, start};
use crate::{
    net::{
        GOSSIP_THRESHOLD, NetError,
        byzantine::{AttackLog, Attacker},
    },
    publisher::now_ms,
    store::Store,
};

/// Settings of the byzantine benchmark.
#[derive(Debug, Clone)]
pub struct ByzantineSpec {
    /// The honest network and its load, measured once without and once with the attack
    /// (`records` in each phase); its seed also fixes the attack.
    pub net: PropagationSpec,
    /// Hostile messages per second during the attack.
    pub flood_rate: f64,
    /// Honest nodes the attacker connects to.
    pub attacker_degree: usize,
}

/// What the byzantine benchmark measured and checked.
#[derive(Debug, Clone, Serialize)]
pub struct ByzantineReport {
    /// Honest nodes.
    pub nodes: usize,
    /// Propagation to every honest node without the attack.
    pub baseline: Latencies,
    /// The same while the attacker floods.
    pub attack: Latencies,
    /// `attack.p99_ms / baseline.p99_ms`.
    pub p99_ratio: f64,
    /// What the attacker sent.
    pub sent: AttackLog,
    /// Hostile records found in any honest store (must be 0).
    pub hostile_stored: usize,
    /// Honest nodes holding the attacker's fork proof.
    pub nodes_with_fork_proof: usize,
    /// The attacker's score on the honest nodes, read as its last message was sent.
    pub scores_at_end_of_attack: Scores,
    /// The same, read once the fork proofs settled (up to 15 s later): invalid
    /// deliveries decay, so this shows how long the attacker stays shut out.
    pub scores_after_settling: Scores,
    /// Whether every honest node ends on one evidence root.
    pub converged: bool,
}

/// How the honest nodes the attacker reached score it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scores {
    /// Honest nodes connected to the attacker or banning it.
    pub reached: usize,
    /// Of those, how many banned it (score below the graylist threshold: disconnected
    /// and refused).
    pub banned: usize,
    /// Of those, how many score it below the gossip threshold.
    pub below_gossip_threshold: usize,
    /// Lowest score an honest node gives it.
    pub min: Option<f64>,
    /// Highest score an honest node gives it.
    pub max: Option<f64>,
}

impl Scores {
    async fn read(net: &super::Testnet, attacker: &str) -> Result<Scores, NetError> {
        let mut out = Scores::default();
        for n in &net.nodes {
            let connected = n.client.peers().await?;
            let score = match connected.iter().find(|p| p.peer_id == attacker) {
                Some(p) => p.score,
                None => {
                    let banned = n.client.banned().await?;
                    let Some(b) = banned.iter().find(|p| p.peer_id == attacker) else {
                        continue;
                    };
                    out.banned += 1;
                    b.score
                }
            };
            out.reached += 1;
            if let Some(s) = score {
                out.min = Some(out.min.map_or(s, |m: f64| m.min(s)));
                out.max = Some(out.max.map_or(s, |m: f64| m.max(s)));
                if s < GOSSIP_THRESHOLD {
                    out.below_gossip_threshold += 1;
                }
            }
        }
        Ok(out)
    }
}

/// Runs the byzantine benchmark.
pub async fn byzantine(spec: &ByzantineSpec) -> Result<ByzantineReport, NetError> {
    let mallory = key(spec.net.seed, 1_000_000);
    let (mut net, mut rng) = launch(&spec.net, "byzantine", std::slice::from_ref(&mallory)).await?;
    let honest = net.nodes.len();
    // The attacker: an accredited lab's node, its store holding the scheme so far,
    // dialing a few honest nodes.
    let store = Store::open(&net.dir.join("mallory.redb"))?;
    store.ingest(&net.nodes[0].store.all_envelopes()?, now_ms())?;
    if store.authority().standing(&mallory.public()) == interlab_protocol::Standing::Unknown {
        return Err(NetError::Config(
            "the attacker's key is not accredited in its own store".into(),
        ));
    }
    let mut boot: Vec<_> = (0..spec.attacker_degree.max(1))
        .map(|_| net.addrs[rng.random_range(0..honest)].clone())
        .collect();
    boot.sort();
    boot.dedup();
    let (evil, _) = start(&mallory, store, boot, spec.net.heartbeat).await?;
    let scheme = net.scheme;
    // Let connections, subscriptions and meshes form.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let (records, rate) = (spec.net.records, spec.net.rate);
    let baseline = net.measure(records, rate, "baseline").await?;

    let flood = (spec.flood_rate * records as f64 / rate.max(0.1)).ceil() as u64;
    let gap = Duration::from_secs_f64(1.0 / spec.flood_rate.max(0.1));
    let attack_client = evil.client.clone();
    let attack_store = evil.store.clone();
    let mut attacker = Attacker::new(mallory, scheme, spec.net.seed ^ 0xbad);
    let attack = tokio::spawn(async move {
        attacker
            .run(&attack_client, &attack_store, flood, gap)
            .await
    });
    let under_attack = net.measure(records, rate, "attack").await?;
    let sent = attack
        .await
        .map_err(|e| NetError::Config(format!("the attack task failed: {e}")))??;
    let evil_id = evil.client.peer_id().to_string();
    let scores_at_end_of_attack = Scores::read(&net, &evil_id).await?;

    // Let fork proofs and the last rejections settle, then look.
    let settle = Instant::now() + Duration::from_secs(15);
    let (a, b) = sent.equivocation.unwrap_or_default();
    loop {
        let with_proof = net
            .nodes
            .iter()
            .filter(|n| has_fork(&n.store, &a, &b))
            .count();
        if (with_proof == honest && net.converged()) || Instant::now() > settle {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut hostile_stored = 0;
    let mut nodes_with_fork_proof = 0;
    for n in &net.nodes {
        hostile_stored += sent
            .forbidden
            .iter()
            .filter(|id| n.store.contains(id))
            .count();
        if has_fork(&n.store, &a, &b) {
            nodes_with_fork_proof += 1;
        }
    }
    let scores_after_settling = Scores::read(&net, &evil_id).await?;
    let report = ByzantineReport {
        nodes: honest,
        p99_ratio: under_attack.p99_ms / baseline.p99_ms,
        baseline,
        attack: under_attack,
        sent,
        hostile_stored,
        nodes_with_fork_proof,
        scores_at_end_of_attack,
        scores_after_settling,
        converged: net.converged(),
    };
    evil.client.shutdown().await;
    let _ = evil.task.await;
    net.stop().await;
    Ok(report)
}

fn has_fork(
    store: &Store,
    a: &interlab_protocol::RecordId,
    b: &interlab_protocol::RecordId,
) -> bool {
    store.forks().is_ok_and(|forks| {
        forks.iter().any(|f| {
            let ids = (f.a.id(), f.b.id());
            ids == (*a, *b) || ids == (*b, *a)
        })
    })
}
