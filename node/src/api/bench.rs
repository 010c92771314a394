//! `interlab bench-api`: the read path under load, and what it costs the peer network.
//!
//! Three nodes on loopback in a line, `A — B — C`: A publishes a round's records by
//! gossip, B (a full node: store, network on its own thread, HTTP API) relays them, C
//! only hears them through B. The run has two phases of equal length: first no API load,
//! then concurrent HTTP clients on B's `/v1/comparability`, `/v1/status` and
//! `/v1/proof/{id}`. Both phases publish at the same rate; the gossip latency from A's
//! publish to C's acceptance is compared between them, in the same run.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use interlab_protocol::{RecordId, SecretKey, testkit::Workload};
use libp2p::Multiaddr;
use serde::Serialize;

use super::bench_load::{self, Sample};
use crate::{
    bench_stats::{p99_ratio_interval, percentile},
    config::{Config, NodeDir},
    net::{self, NetClient, NetConfig},
    runtime::{self, Overrides},
    store::Store,
};

/// What to run.
#[derive(Debug, Clone)]
pub struct ApiBenchSpec {
    /// Length of each phase.
    pub duration: Duration,
    /// Concurrent HTTP clients in the loaded phase.
    pub clients: usize,
    /// Records in the log before the run.
    pub initial: usize,
    /// Records A publishes per second, in both phases.
    pub rate: f64,
    /// Seed of the log.
    pub seed: u64,
    /// Directory for the temporary stores.
    pub dir: PathBuf,
    /// Run the three nodes' network workers in the real-time class (`net_realtime`),
    /// if the kernel allows it.
    pub net_realtime: bool,
}

/// Latencies of one route.
#[derive(Debug, Clone, Serialize)]
pub struct RouteStats {
    /// Requests answered.
    pub requests: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Answers by 5xx status.
    pub errors_5xx: BTreeMap<u16, usize>,
    /// Answers by 4xx status (none expected: every request is well formed).
    pub errors_4xx: BTreeMap<u16, usize>,
    /// Requests that got no HTTP answer.
    pub failed: usize,
}

/// Gossip latency A → B → C in one phase.
#[derive(Debug, Clone, Serialize)]
pub struct Gossip {
    /// Records published.
    pub published: usize,
    /// Records C accepted.
    pub arrived: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// The first hop alone, A → B (B accepted it): median, ms.
    pub into_b_p50_ms: f64,
    /// The first hop alone: 99th percentile, ms.
    pub into_b_p99_ms: f64,
    /// Each arrived record's latency, ms, sorted.
    #[serde(skip)]
    pub latencies_ms: Vec<f64>,
}

/// The result.
#[derive(Debug, Clone, Serialize)]
pub struct ApiBenchReport {
    /// Per route, during the loaded phase.
    pub routes: BTreeMap<String, RouteStats>,
    /// Gossip through B without API load.
    pub gossip_unloaded: Gossip,
    /// Gossip through B with API load.
    pub gossip_loaded: Gossip,
    /// Loaded over unloaded gossip p99.
    pub gossip_p99_ratio: f64,
    /// A 95 % bootstrap interval of that ratio (each phase has a few hundred samples,
    /// so its p99 is uncertain); absent when a phase had no arrivals.
    pub gossip_p99_ratio_ci95: Option<[f64; 2]>,
    /// Loaded over unloaded gossip p50.
    pub gossip_p50_ratio: f64,
    /// Whether the nodes' network workers ran in the real-time class (asked for, and
    /// allowed by the kernel).
    pub net_realtime: bool,
    /// Why the kernel refused the real-time class, when it was asked for.
    pub net_realtime_refused: Option<String>,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiBenchError {
    /// Setting up a node.
    #[error("bench-api setup: {0}")]
    Setup(String),
}

fn setup<E: std::fmt::Display>(e: E) -> ApiBenchError {
    ApiBenchError::Setup(e.to_string())
}

fn key(seed: u64, i: u64) -> SecretKey {
    let mut m = [0u8; 16];
    m[..8].copy_from_slice(&seed.to_be_bytes());
    m[8..].copy_from_slice(&i.to_be_bytes());
    SecretKey::from_bytes(&interlab_protocol::Digest::of("interlab bench-api key v1", &m).0)
}

/// A bare network node (no API) on the bench's runtime.
async fn bare(
    dir: &Path,
    name: &str,
    seed: u64,
    index: u64,
    log: &[Vec<u8>],
    now_ms: u64,
    bootstrap: Vec<Multiaddr>,
) -> Result<(NetClient, Store, Multiaddr), ApiBenchError> {
    let store = Store::open(&dir.join(format!("{name}.redb"))).map_err(setup)?;
    store.ingest(log, now_ms).map_err(setup)?;
    let cfg = NetConfig::default()
        .with_sync_interval(Duration::from_secs(2))
        .with_bootstrap(bootstrap)
        .build()
        .map_err(setup)?;
    let (client, _task) = net::spawn(cfg, key(seed, index).to_bytes(), store.clone())
        .await
        .map_err(setup)?;
    let addr = client
        .listen_addrs()
        .await
        .map_err(setup)?
        .into_iter()
        .next()
        .ok_or_else(|| setup("node has no listen address"))?;
    let full = format!("{addr}/p2p/{}", client.peer_id())
        .parse()
        .map_err(setup)?;
    Ok((client, store, full))
}

/// Runs the benchmark. Call it from outside any async runtime: it starts B on a runtime
/// of its own, as `interlab node` would run it, and A and C on another.
pub fn run(spec: &ApiBenchSpec) -> Result<ApiBenchReport, ApiBenchError> {
    let dir = spec
        .dir
        .join(format!("interlab-bench-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(setup)?;
    let result = run_in(spec, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The runtime of A and C; with `realtime`, its workers in the real-time class as B's
/// network workers are.
fn runtime(name: &str, realtime: bool) -> Result<tokio::runtime::Runtime, ApiBenchError> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.thread_name(name).enable_all();
    if realtime {
        crate::net::realtime::install(&mut builder);
    }
    builder.build().map_err(setup)
}

fn run_in(spec: &ApiBenchSpec, dir: &Path) -> Result<ApiBenchReport, ApiBenchError> {
    let mut work = Workload::new(spec.seed, 4);
    let log = work.take(spec.initial.max(50));
    let scheme = work
        .scheme()
        .ok_or_else(|| setup("the log has no genesis"))?;
    let now = work.now_ms();
    // A and C run as B does: all three in the real-time class, or none.
    let refused = spec
        .net_realtime
        .then(crate::net::realtime::probe)
        .and_then(Result::err)
        .map(|e| e.to_string());
    let realtime = spec.net_realtime && refused.is_none();
    let peers_rt = runtime("bench-peers", realtime)?;
    let (a, a_store, a_addr) =
        peers_rt.block_on(bare(dir, "a", spec.seed, 1, &log, now, Vec::new()))?;

    // B: a full node from a node directory, on its own runtime.
    let node_dir = NodeDir::new(dir.join("b"));
    Config::default()
        .with_name("bench-b")
        .build()
        .map_err(setup)
        .and_then(|c| node_dir.init(&c).map_err(setup))?;
    Store::open(&node_dir.store())
        .and_then(|s| s.ingest(&log, now))
        .map_err(setup)?;
    // B runs as `interlab node` runs it: its API on a runtime of lower priority, its
    // network on a thread started from this one.
    let b_rt = super::workers::api_runtime("bench-b").map_err(setup)?;
    let b = b_rt
        .block_on(runtime::start(
            &node_dir,
            Overrides {
                bootstrap: vec![a_addr.to_string()],
                scheme: Some(scheme),
                net_realtime: realtime,
                ..Overrides::default()
            },
        ))
        .map_err(setup)?;
    if b.net_realtime != realtime {
        return Err(setup(
            "node B's network did not enter the class A and C run in",
        ));
    }
    let b_p2p: Multiaddr = b
        .info
        .p2p
        .first()
        .ok_or_else(|| setup("node B has no p2p address"))?
        .parse()
        .map_err(setup)?;
    let (c, _c_store, _) =
        peers_rt.block_on(bare(dir, "c", spec.seed, 3, &log, now, vec![b_p2p]))?;
    // Let the gossip mesh form.
    std::thread::sleep(Duration::from_secs(3));

    let base = b.info.api.clone();
    let proof_ids: Vec<RecordId> = b
        .store
        .records(&Default::default(), None, 200)
        .map_err(setup)?
        .iter()
        .filter_map(|bytes| interlab_protocol::Envelope::decode(bytes).ok())
        .map(|e| e.id())
        .collect();
    // Warm the report cache as a first reader would.
    let _ = ureq::get(format!("{base}/v1/comparability")).call();

    let unloaded = peers_rt.block_on(gossip_phase(&a, &a_store, [&b.net, &c], &mut work, spec))?;
    let stop = Arc::new(AtomicBool::new(false));
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().map_err(setup)?;
    let paths = Arc::new(request_paths(&proof_ids));
    let load = {
        let (stop, clients) = (stop.clone(), spec.clients);
        std::thread::Builder::new()
            .name("bench-clients".into())
            .spawn(move || {
                // The clients stand for other machines. Here they share the API's
                // priority: at the process's own they would preempt the node's API on
                // every answer and count their own scheduling as the node's latency.
                super::workers::lower_this_thread(super::workers::API_NICE);
                bench_load::run(addr, clients, paths, stop)
            })
            .map_err(setup)?
    };
    let loaded = peers_rt.block_on(gossip_phase(&a, &a_store, [&b.net, &c], &mut work, spec));
    stop.store(true, Ordering::SeqCst);
    let samples = match load.join() {
        Ok(r) => r.map_err(setup)?,
        Err(_) => return Err(setup("the HTTP clients' thread panicked")),
    };
    let loaded = loaded?;
    b_rt.block_on(b.shutdown());
    peers_rt.block_on(async {
        a.shutdown().await;
        c.shutdown().await;
    });
    Ok(ApiBenchReport {
        routes: route_stats(&samples),
        gossip_p99_ratio: loaded.p99_ms / unloaded.p99_ms,
        gossip_p99_ratio_ci95: p99_ratio_interval(
            &loaded.latencies_ms,
            &unloaded.latencies_ms,
            spec.seed,
        ),
        gossip_p50_ratio: loaded.p50_ms / unloaded.p50_ms,
        gossip_unloaded: unloaded,
        gossip_loaded: loaded,
        net_realtime: realtime,
        net_realtime_refused: refused,
    })
}

const ROUTES: [&str; 3] = ["/v1/comparability", "/v1/status", "/v1/proof/{id}"];

/// The requests the clients cycle through: the three routes in turn, the proofs over
/// `ids`; each with its route index.
fn request_paths(ids: &[RecordId]) -> Vec<(usize, String)> {
    let mut paths = Vec::new();
    for id in ids.iter().map(Some).chain(ids.is_empty().then_some(None)) {
        paths.push((0, "/v1/comparability".to_owned()));
        paths.push((1, "/v1/status".to_owned()));
        if let Some(id) = id {
            paths.push((2, format!("/v1/proof/{id}")));
        }
    }
    paths
}

fn route_stats(samples: &[Sample]) -> BTreeMap<String, RouteStats> {
    let mut out = BTreeMap::new();
    for (r, name) in ROUTES.iter().enumerate() {
        let mut ms: Vec<f64> = Vec::new();
        let mut errors_5xx = BTreeMap::new();
        let mut errors_4xx = BTreeMap::new();
        let mut failed = 0;
        for (_, t, status) in samples.iter().filter(|s| s.0 == r) {
            match status {
                Some(code) => {
                    ms.push(*t);
                    if *code >= 500 {
                        *errors_5xx.entry(*code).or_insert(0) += 1;
                    } else if *code >= 400 {
                        *errors_4xx.entry(*code).or_insert(0) += 1;
                    }
                }
                None => failed += 1,
            }
        }
        ms.sort_by(f64::total_cmp);
        out.insert(
            (*name).to_owned(),
            RouteStats {
                requests: ms.len(),
                p50_ms: percentile(&ms, 0.5),
                p99_ms: percentile(&ms, 0.99),
                errors_5xx,
                errors_4xx,
                failed,
            },
        );
    }
    out
}

/// Publishes the next records of the log from A at the spec's rate for the spec's
/// duration; the time from publish until B, and C after it, accepted each.
async fn gossip_phase(
    a: &NetClient,
    a_store: &Store,
    [b, c]: [&NetClient; 2],
    work: &mut Workload,
    spec: &ApiBenchSpec,
) -> Result<Gossip, ApiBenchError> {
    let (b_seen, b_watch) = watch_accepted(b);
    let (c_seen, c_watch) = watch_accepted(c);
    let mut published = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / spec.rate.max(0.1)));
    let end = Instant::now() + spec.duration;
    while Instant::now() < end {
        ticker.tick().await;
        let env = work.next_envelope();
        let bytes = env.to_bytes();
        a_store
            .ingest(std::slice::from_ref(&bytes), work.now_ms())
            .map_err(setup)?;
        let at = Instant::now();
        a.publish(bytes).await.map_err(setup)?;
        published.push((env.id(), at));
    }
    // Stragglers.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = c_seen.lock().map_or(0, |m| {
            published
                .iter()
                .filter(|(id, _)| m.contains_key(id))
                .count()
        });
        if done == published.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b_watch.abort();
    c_watch.abort();
    let into_b = latencies(&published, &b_seen);
    let lat = latencies(&published, &c_seen);
    Ok(Gossip {
        published: published.len(),
        arrived: lat.len(),
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        into_b_p50_ms: percentile(&into_b, 0.5),
        into_b_p99_ms: percentile(&into_b, 0.99),
        latencies_ms: lat,
    })
}

/// When a node first accepted each record.
type Seen = Arc<Mutex<HashMap<RecordId, Instant>>>;

/// Notes the time `node` accepts each record, until the task is aborted.
fn watch_accepted(node: &NetClient) -> (Seen, tokio::task::JoinHandle<()>) {
    let seen: Seen = Arc::default();
    let mut rx = node.subscribe_accepted();
    let task = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Ok(id) = rx.recv().await {
                if let Ok(mut m) = seen.lock() {
                    m.entry(id).or_insert_with(Instant::now);
                }
            }
        })
    };
    (seen, task)
}

/// Milliseconds from publish to acceptance of the published records that were seen,
/// sorted.
fn latencies(published: &[(RecordId, Instant)], seen: &Seen) -> Vec<f64> {
    let m = seen.lock().map(|m| m.clone()).unwrap_or_default();
    let mut lat: Vec<f64> = published
        .iter()
        .filter_map(|(id, at)| {
            m.get(id)
                .map(|t| t.duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    lat
}
