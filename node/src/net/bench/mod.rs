//! Network benchmarks on loopback, in one process: propagation latency across many nodes,
//! the same under a byzantine flood, and catch-up time of a node that missed a long log.
//! Driven by `interlab bench-net`.

mod byzantine;

pub use byzantine::{ByzantineReport, ByzantineSpec, Scores, byzantine};

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use interlab_protocol::{
    Body, Digest, Grounds, RecordId, SecretKey,
    testkit::{Author, Workload},
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{Multiaddr, NetClient, NetConfig, NetError, spawn};
use crate::{bench_stats::percentile, publisher::now_ms, store::Store};

/// Settings of the propagation benchmark.
#[derive(Debug, Clone)]
pub struct PropagationSpec {
    /// Nodes (one scheme owner, the rest labs).
    pub nodes: usize,
    /// Labs that publish (on nodes 1..=publishers).
    pub publishers: usize,
    /// Records published in total.
    pub records: usize,
    /// Records published per second (steady rate, round robin over publishers).
    pub rate: f64,
    /// Each node dials this many random earlier nodes.
    pub degree: usize,
    /// Gossipsub heartbeat (mesh repair and lazy gossip).
    pub heartbeat: Duration,
    /// Seed of keys and topology.
    pub seed: u64,
    /// Directory for the stores (a fresh subdirectory is made and removed).
    pub dir: PathBuf,
}

/// Result of the propagation benchmark: time from publish until every node accepted.
#[derive(Debug, Clone, Serialize)]
pub struct PropagationReport {
    /// Nodes.
    pub nodes: usize,
    /// Time from publish until every node accepted.
    #[serde(flatten)]
    pub latencies: Latencies,
    /// Whether all nodes ended on one evidence root.
    pub converged: bool,
}

/// Settings of the catch-up benchmark.
#[derive(Debug, Clone)]
pub struct CatchUpSpec {
    /// Records the late node missed.
    pub records: usize,
    /// Labs writing them.
    pub labs: usize,
    /// Seed of the workload.
    pub seed: u64,
    /// Directory for the stores.
    pub dir: PathBuf,
}

/// Result of the catch-up benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct CatchUpReport {
    /// Records caught up.
    pub records: u64,
    /// Seconds from the late node's start until its root equals the source's.
    pub seconds: f64,
    /// Records per second.
    pub records_per_s: f64,
}

fn bench_config() -> NetConfig {
    NetConfig::default().with_sync_interval(Duration::from_secs(2))
}

fn key(seed: u64, i: u64) -> SecretKey {
    let mut m = [0u8; 16];
    m[..8].copy_from_slice(&seed.to_be_bytes());
    m[8..].copy_from_slice(&i.to_be_bytes());
    SecretKey::from_bytes(&Digest::of("interlab bench-net key v1", &m).0)
}

fn fresh_dir(base: &Path, name: &str) -> Result<PathBuf, NetError> {
    let dir = base.join(format!("interlab-bench-net-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| NetError::Config(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

struct Running {
    client: NetClient,
    task: tokio::task::JoinHandle<()>,
    store: Store,
}

async fn stop(nodes: Vec<Running>) {
    for n in nodes {
        n.client.shutdown().await;
        let _ = n.task.await;
    }
}

/// A running test network: an owner node, labs, and the labs' chains.
struct Testnet {
    nodes: Vec<Running>,
    addrs: Vec<Multiaddr>,
    scheme: RecordId,
    /// Publishing labs' chains; lab `i` runs on node `i + 1`.
    labs: Vec<Author>,
    dir: PathBuf,
}

/// Starts the network `spec` describes (node 0 is the owner, labs 1..=publishers
/// accredited and publishing), plus accreditations for `also_accredit`, with stores in a
/// fresh directory named after `name`. Returns it with the RNG that laid out the
/// topology, for further seeded choices.
async fn launch(
    spec: &PropagationSpec,
    name: &str,
    also_accredit: &[SecretKey],
) -> Result<(Testnet, ChaCha8Rng), NetError> {
    let nodes = spec.nodes.max(2);
    let publishers = spec.publishers.clamp(1, nodes - 1);
    let dir = fresh_dir(&spec.dir, name)?;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let keys: Vec<SecretKey> = (0..nodes as u64).map(|i| key(spec.seed, i)).collect();
    let net = testnet(
        &keys,
        publishers,
        also_accredit,
        spec.degree,
        spec.heartbeat,
        &mut rng,
        dir,
    )
    .await?;
    Ok((net, rng))
}

/// Starts `keys.len()` nodes (node 0 is the owner), each dialing `degree` random earlier
/// nodes; the first `publishers` labs and every key in `also_accredit` are accredited.
async fn testnet(
    keys: &[SecretKey],
    publishers: usize,
    also_accredit: &[SecretKey],
    degree: usize,
    heartbeat: Duration,
    rng: &mut ChaCha8Rng,
    dir: PathBuf,
) -> Result<Testnet, NetError> {
    let mut owner = Author::from_key(keys[0].clone());
    let t0 = now_ms() - 60_000;
    let genesis = owner.append(
        None,
        t0,
        Body::SchemeGenesis {
            name: "bench".into(),
            lab_codes: false,
            contact: None,
        },
    );
    let scheme = genesis.id();
    let mut seed_log = vec![genesis.to_bytes()];
    let accredited = keys.iter().skip(1).take(publishers).chain(also_accredit);
    for (i, k) in accredited.enumerate() {
        let body = Body::LabAccredited {
            lab: k.public(),
            name: format!("lab-{}", i + 1),
        };
        seed_log.push(
            owner
                .append(Some(scheme), t0 + 1 + i as u64, body)
                .to_bytes(),
        );
    }
    let mut nodes: Vec<Running> = Vec::new();
    let mut addrs: Vec<Multiaddr> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let store = Store::open(&dir.join(format!("node-{i}.redb")))?;
        store.ingest(&seed_log, now_ms())?;
        let mut boot = Vec::new();
        for _ in 0..degree.min(i) {
            boot.push(addrs[rng.random_range(0..i)].clone());
        }
        boot.sort();
        boot.dedup();
        let (running, addr) = start(k, store, boot, heartbeat).await?;
        addrs.push(addr);
        nodes.push(running);
    }
    let labs = keys[1..=publishers]
        .iter()
        .map(|k| Author::from_key(k.clone()))
        .collect();
    Ok(Testnet {
        nodes,
        addrs,
        scheme,
        labs,
        dir,
    })
}

async fn start(
    key: &SecretKey,
    store: Store,
    bootstrap: Vec<Multiaddr>,
    heartbeat: Duration,
) -> Result<(Running, Multiaddr), NetError> {
    let cfg = bench_config()
        .with_heartbeat(heartbeat)
        .with_pending_ttl(heartbeat * 5)
        .with_bootstrap(bootstrap)
        .build()?;
    let (client, task) = spawn(cfg, key.to_bytes(), store.clone()).await?;
    let addr = client
        .listen_addrs()
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| NetError::Config("node has no listen address".into()))?;
    Ok((
        Running {
            client,
            task,
            store,
        },
        addr,
    ))
}

/// Propagation latencies of one measured run.
#[derive(Debug, Clone, Serialize)]
pub struct Latencies {
    /// Records published.
    pub records: usize,
    /// Records that reached every watched node before the deadline.
    pub complete: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
}

impl Testnet {
    /// Publishes `records` at `rate` per second, round robin over the labs, and measures
    /// the time from publish until every node accepted it.
    async fn measure(
        &mut self,
        records: usize,
        rate: f64,
        label: &str,
    ) -> Result<Latencies, NetError> {
        let watched = &self.nodes;
        let seen: Arc<Mutex<HashMap<RecordId, (usize, Instant)>>> = Arc::default();
        let mut watchers = Vec::new();
        for n in watched {
            let mut rx = n.client.subscribe_accepted();
            let seen = seen.clone();
            watchers.push(tokio::spawn(async move {
                while let Ok(id) = rx.recv().await {
                    let now = Instant::now();
                    if let Ok(mut m) = seen.lock() {
                        let e = m.entry(id).or_insert((0, now));
                        e.0 += 1;
                        e.1 = now;
                    }
                }
            }));
        }
        let publishers = self.labs.len().max(1);
        let gap = Duration::from_secs_f64(1.0 / rate.max(0.1));
        let mut published: Vec<(RecordId, Instant)> = Vec::new();
        let mut ticker = tokio::time::interval(gap);
        for r in 0..records {
            ticker.tick().await;
            let l = r % publishers;
            let body = Body::Dispute {
                target: Digest::of("bench target", &(r as u64).to_le_bytes()),
                grounds: Grounds::Outlier,
                statement: format!("{label} record {r}"),
                evidence: vec![],
            };
            let env = self.labs[l].append(Some(self.scheme), now_ms(), body);
            let bytes = env.to_bytes();
            let node = &self.nodes[l + 1];
            node.store.ingest(std::slice::from_ref(&bytes), now_ms())?;
            let at = Instant::now();
            node.client.publish(bytes).await?;
            published.push((env.id(), at));
        }
        // Wait for stragglers.
        let need = watched.len();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let done = seen.lock().map_or(0, |m| {
                published
                    .iter()
                    .filter(|(id, _)| m.get(id).is_some_and(|(c, _)| *c >= need))
                    .count()
            });
            if done == published.len() || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut lat: Vec<f64> = seen.lock().map_or_else(
            |_| Vec::new(),
            |m| {
                published
                    .iter()
                    .filter_map(|(id, at)| match m.get(id) {
                        Some((c, last)) if *c >= need => {
                            Some(last.duration_since(*at).as_secs_f64() * 1000.0)
                        }
                        _ => None,
                    })
                    .collect()
            },
        );
        for w in watchers {
            w.abort();
        }
        lat.sort_by(f64::total_cmp);
        Ok(Latencies {
            records: published.len(),
            complete: lat.len(),
            p50_ms: percentile(&lat, 0.5),
            p99_ms: percentile(&lat, 0.99),
            max_ms: lat.last().copied().unwrap_or(f64::NAN),
        })
    }

    /// Whether every node holds one evidence root.
    fn converged(&self) -> bool {
        let roots: std::collections::BTreeSet<Digest> =
            self.nodes.iter().map(|n| n.store.evidence().root).collect();
        roots.len() == 1
    }

    async fn stop(self) {
        stop(self.nodes).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the propagation benchmark.
pub async fn propagation(spec: &PropagationSpec) -> Result<PropagationReport, NetError> {
    let (mut net, _) = launch(spec, "propagation", &[]).await?;
    // Let connections, subscriptions and meshes form.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let latencies = net.measure(spec.records, spec.rate, "bench").await?;
    let report = PropagationReport {
        nodes: net.nodes.len(),
        latencies,
        converged: net.converged(),
    };
    net.stop().await;
    Ok(report)
}

/// Runs the catch-up benchmark: a source node holds `records` records; a fresh node that
/// knows only the scheme id joins and syncs everything.
pub async fn catch_up(spec: &CatchUpSpec) -> Result<CatchUpReport, NetError> {
    let dir = fresh_dir(&spec.dir, "catchup")?;
    let source_store = Store::open(&dir.join("source.redb"))?;
    let mut work = Workload::new(spec.seed, spec.labs.max(1));
    let mut left = spec.records;
    while left > 0 {
        let n = left.min(5000);
        let batch = work.take(n);
        source_store.ingest(&batch, now_ms())?;
        left -= n;
    }
    let target = source_store.evidence();
    let scheme = work
        .scheme()
        .ok_or_else(|| NetError::Config("workload produced no genesis".into()))?;
    let (src, src_task) = spawn(
        bench_config().build()?,
        key(spec.seed, 1).to_bytes(),
        source_store.clone(),
    )
    .await?;
    let src_addr = src
        .listen_addrs()
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| NetError::Config("source has no listen address".into()))?;
    let late_store = Store::open(&dir.join("late.redb"))?;
    let started = Instant::now();
    let cfg = bench_config()
        .with_bootstrap(vec![src_addr])
        .with_scheme(Some(scheme))
        .with_range_limit(super::wire::MAX_RANGE_RECORDS)
        .build()?;
    let (late, late_task) = spawn(cfg, key(spec.seed, 2).to_bytes(), late_store.clone()).await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let e = late_store.evidence();
        if e.root == target.root || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let records = late_store.evidence().records;
    stop(vec![
        Running {
            client: late,
            task: late_task,
            store: late_store,
        },
        Running {
            client: src,
            task: src_task,
            store: source_store,
        },
    ])
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(CatchUpReport {
        records,
        seconds,
        records_per_s: records as f64 / seconds,
    })
}
