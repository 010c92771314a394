//! Fault injection around a [`Network`] of real node processes: a seeded background load
//! that publishes through whichever nodes are up and remembers what each acknowledged,
//! seeded kill/restart and partition schedules, and the checks that follow them.
//!
//! Scenario sizes come from the environment so that the default test run stays short:
//! `INTERLAB_FAULTS=long` runs the full scenarios (100 kill/restart cycles, 20 partition
//! trials); `INTERLAB_FAULT_CYCLES` and `INTERLAB_PARTITION_TRIALS` set either alone.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use interlab_node::client::ApiClient;
use interlab_protocol::{Body, Grounds, RecordId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Network, Node};

/// `n` for the long run, `short` otherwise, or the value of `var` when set.
pub fn scale(var: &str, short: usize, long: usize) -> usize {
    if let Some(n) = std::env::var(var).ok().and_then(|v| v.parse().ok()) {
        return n;
    }
    match std::env::var("INTERLAB_FAULTS").as_deref() {
        Ok("long") => long,
        _ => short,
    }
}

/// A record some node acknowledged (answered 200 with its id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Acked {
    /// Index of the node in [`Network::nodes`] order (0 = owner).
    pub node: usize,
    /// The record id.
    pub id: String,
}

/// Publishes disputes through random live nodes until stopped.
pub struct Load {
    /// Which nodes may be used (a node is marked down before it is killed).
    alive: Arc<Mutex<Vec<bool>>>,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<Acked>>>,
    handle: Option<JoinHandle<()>>,
}

impl Load {
    /// Starts publishing through the nodes whose directories are `dirs`, every 10–40 ms.
    pub fn start(dirs: Vec<PathBuf>, target: RecordId, seed: u64) -> Load {
        let alive = Arc::new(Mutex::new(vec![true; dirs.len()]));
        let stop = Arc::new(AtomicBool::new(false));
        let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
        let handle = {
            let (alive, stop, acked) = (alive.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let up: Vec<usize> = {
                        let a = alive.lock().unwrap();
                        (0..dirs.len()).filter(|&i| a[i]).collect()
                    };
                    if !up.is_empty() {
                        let i = up[rng.random_range(0..up.len())];
                        n += 1;
                        let body = Body::Dispute {
                            target,
                            grounds: Grounds::NotReproducible,
                            statement: format!("load {seed} #{n}"),
                            evidence: vec![],
                        };
                        let answer = ApiClient::for_dir(&dirs[i])
                            .ok()
                            .and_then(|c| c.publish(&body).ok());
                        if let Some(id) = answer.map(|v| v.id.to_hex()) {
                            acked.lock().unwrap().push(Acked { node: i, id });
                        }
                    }
                    std::thread::sleep(Duration::from_millis(rng.random_range(10..40)));
                }
            })
        };
        Load {
            alive,
            stop,
            acked,
            handle: Some(handle),
        }
    }

    /// Everything acknowledged so far.
    pub fn acked(&self) -> Vec<Acked> {
        self.acked.lock().unwrap().clone()
    }

    /// Marks node `i` up or down for the load.
    pub fn set_alive(&self, i: usize, up: bool) {
        self.alive.lock().unwrap()[i] = up;
    }

    /// Stops publishing; returns everything acknowledged.
    pub fn stop(mut self) -> Vec<Acked> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().expect("load thread");
        }
        self.acked()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Ids of every record `node` holds, read page by page.
pub fn ids(node: &Node) -> BTreeSet<String> {
    let client = node.client();
    let mut out = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let query = match &after {
            Some(a) => format!("limit=500&after={a}"),
            None => "limit=500".to_owned(),
        };
        let page = client.records_page(&query).expect("list records");
        for r in &page.records {
            out.insert(r.id.to_hex());
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

/// Waits until every node holds one root, then checks that every acknowledged record is
/// on every node and that nobody equivocated. Returns the common record count.
pub fn converged_with(net: &Network, acked: &[Acked], timeout: Duration) -> u64 {
    let nodes: Vec<&Node> = net.nodes().collect();
    let ids: BTreeSet<&str> = acked.iter().map(|a| a.id.as_str()).collect();
    let (_, records) = Network::converge(&nodes, ids.len() as u64, timeout);
    for n in &nodes {
        let held = self::ids(n);
        let missing: Vec<&&str> = ids.iter().filter(|id| !held.contains(**id)).collect();
        assert!(
            missing.is_empty(),
            "{} lost {} acknowledged records, e.g. {:?}",
            n.name,
            missing.len(),
            missing.first()
        );
        let forks = n.status().forks;
        assert_eq!(forks, 0, "{} holds fork proofs: a node equivocated", n.name);
    }
    records
}

/// Cuts the network in two: every node of `a` refuses every node of `b` and back.
pub fn partition(net: &Network, a: &[usize], b: &[usize]) {
    let nodes: Vec<&Node> = net.nodes().collect();
    let ids = |g: &[usize]| -> Vec<String> { g.iter().map(|&i| nodes[i].peer_id()).collect() };
    for (side, other) in [(a, b), (b, a)] {
        for &i in side {
            nodes[i].client().block(ids(other)).expect("block");
        }
    }
}

/// Lifts every block.
pub fn heal(net: &Network) {
    for n in net.nodes() {
        n.client().block(Vec::new()).expect("unblock");
    }
}
