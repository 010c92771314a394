//! Faults on real node processes, each scenario seeded: SIGKILL/restart cycles under a
//! publishing load, random partitions that heal, and a byzantine peer. Short by default;
//! `INTERLAB_FAULTS=long cargo test -p interlab-tests --test tests faults` runs the full
//! sizes (docs/threat-model.md).

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use interlab_protocol::RecordId;
use interlab_tests::{
    Network, Node, binary,
    faults::{Load, converged_with, heal, ids, partition, scale},
    flags_equivocation, wait_for,
};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

const CONVERGE: Duration = Duration::from_secs(90);

fn nodes_mut(net: &mut Network) -> Vec<&mut Node> {
    std::iter::once(&mut net.owner)
        .chain(net.labs.iter_mut())
        .collect()
}

#[test]
fn sigkill_restart_cycles_under_load_lose_no_acknowledged_record() {
    let cycles = scale("INTERLAB_FAULT_CYCLES", 8, 100);
    let mut rng = ChaCha8Rng::seed_from_u64(81);
    let mut net = Network::start(4);
    let genesis: RecordId = net.scheme.parse().unwrap();
    let dirs = net.nodes().map(|n| n.dir.clone()).collect();
    let load = Load::start(dirs, genesis, 81);
    let count = net.labs.len() + 1;
    let mut checked = 0;
    for cycle in 0..cycles {
        std::thread::sleep(Duration::from_millis(rng.random_range(50..400)));
        let i = rng.random_range(0..count);
        let before: Vec<String> = load
            .acked()
            .into_iter()
            .filter(|a| a.node == i)
            .map(|a| a.id)
            .collect();
        load.set_alive(i, false);
        let mut nodes = nodes_mut(&mut net);
        nodes[i].kill();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
        nodes[i].start();
        // Durability: what this node acknowledged before the kill is still there,
        // before any peer could have given it back.
        let held = ids(nodes[i]);
        let lost: Vec<&String> = before.iter().filter(|id| !held.contains(*id)).collect();
        assert!(
            lost.is_empty(),
            "cycle {cycle}: {} lost {} of {} acknowledged records after SIGKILL",
            nodes[i].name,
            lost.len(),
            before.len()
        );
        checked += before.len();
        load.set_alive(i, true);
    }
    let acked = load.stop();
    eprintln!(
        "{cycles} SIGKILL/restart cycles; {checked} acknowledged records re-read right after restarts; {} acknowledged in all",
        acked.len()
    );
    assert!(
        acked.len() > cycles,
        "the load published too little ({}) to test anything",
        acked.len()
    );
    converged_with(&net, &acked, CONVERGE);
}

#[test]
fn random_partitions_heal_to_one_root_every_time() {
    let trials = scale("INTERLAB_PARTITION_TRIALS", 3, 20);
    let mut rng = ChaCha8Rng::seed_from_u64(82);
    let net = Network::start(4);
    let genesis: RecordId = net.scheme.parse().unwrap();
    let count = net.labs.len() + 1;
    let mut acked = Vec::new();
    for trial in 0..trials {
        // A random cut into two non-empty sides.
        let mut order: Vec<usize> = (0..count).collect();
        order.shuffle(&mut rng);
        let cut = rng.random_range(1..count);
        let (a, b) = order.split_at(cut);
        partition(&net, a, b);
        std::thread::sleep(Duration::from_millis(300));
        // Each side writes through one of its nodes.
        let dirs: Vec<_> = net.nodes().map(|n| n.dir.clone()).collect();
        let mut written = Vec::new();
        for side in [a, b] {
            let i = side[rng.random_range(0..side.len())];
            let load = Load::start(
                vec![dirs[i].clone()],
                genesis,
                1000 * trial as u64 + i as u64,
            );
            std::thread::sleep(Duration::from_millis(rng.random_range(100..300)));
            let got = load.stop();
            assert!(
                !got.is_empty(),
                "trial {trial}: node {i} acknowledged nothing"
            );
            written.push((side, got));
        }
        // Nothing crossed the cut.
        let nodes: Vec<&Node> = net.nodes().collect();
        std::thread::sleep(Duration::from_millis(500));
        for (side, got) in &written {
            for j in (0..count).filter(|j| !side.contains(j)) {
                for r in got {
                    assert!(
                        !nodes[j].has(&r.id),
                        "trial {trial}: {} got {} across the partition",
                        nodes[j].name,
                        r.id
                    );
                }
            }
        }
        heal(&net);
        for (_, got) in written {
            acked.extend(got);
        }
        converged_with(&net, &acked, CONVERGE);
    }
    eprintln!(
        "{trials} partition trials, {} acknowledged records on every node after each heal",
        acked.len()
    );
}

#[test]
fn a_byzantine_process_is_rejected_flagged_and_scored_down_by_every_honest_node() {
    let mut net = Network::start(3);
    let m = net.add_lab("mallory", true);
    let genesis: RecordId = net.scheme.parse().unwrap();
    let nodes: Vec<&Node> = net.nodes().collect();
    Network::converge(&nodes, 5, CONVERGE);
    // Mallory's key leaves its node for the attack tool (one process per store).
    net.labs[m].kill();
    let mallory = net.labs.remove(m);
    let mut cmd = Command::new(binary());
    cmd.args(["debug", "byzantine", "--dir"])
        .arg(&mallory.dir)
        .args(["--scheme", &net.scheme, "--count", "240", "--rate", "150"])
        .args(["--linger", "30", "--seed", "83"]);
    for n in net.nodes() {
        cmd.args(["--bootstrap", &n.p2p()]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn interlab debug byzantine");
    // Honest records flow during the attack.
    let dirs = net.labs.iter().map(|n| n.dir.clone()).collect();
    let load = Load::start(dirs, genesis, 83);
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the attack log");
    let acked = load.stop();
    let log: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| {
        let _ = child.kill();
        panic!("attack log {line:?}: {e}")
    });
    let evil = log["peer_id"].as_str().unwrap().to_owned();
    let sent: u64 = log["sent"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert!(sent >= 200, "the attacker sent only {sent}: {log}");
    // Every honest node it reached scores it below the gossip threshold, whether still
    // connected or already banned (below the graylist threshold: disconnected); and it
    // did reach some, or the check would be empty.
    let mut reached_nodes = 0;
    for n in net.nodes() {
        // The attacker's score when this node lists it (connected, else banned).
        let find = || -> Option<Option<f64>> {
            let s = n.status();
            let connected = s.peer_list.iter().find(|p| p.peer_id == evil);
            let banned = s.banned.iter().find(|p| p.peer_id == evil);
            connected.map(|p| p.score).or(banned.map(|p| p.score))
        };
        let score = wait_for(Duration::from_secs(20), || {
            let score = find()??;
            (score < interlab_node::net::GOSSIP_THRESHOLD).then_some(score)
        });
        let reached = score.is_some() || find().is_some();
        reached_nodes += usize::from(reached);
        assert!(
            score.is_some() || !reached,
            "{} still scores the attacker at or above the gossip threshold",
            n.name
        );
    }
    assert!(reached_nodes > 0, "the attacker reached no honest node");
    let _ = child.kill();
    let _ = child.wait();
    // Nothing hostile stored; the equivocation is known everywhere; honest records are.
    let nodes: Vec<&Node> = net.nodes().collect();
    let (_, _) = Network::converge(&nodes, 5 + acked.len() as u64, CONVERGE);
    for n in &nodes {
        for id in log["forbidden"].as_array().unwrap() {
            let id = id.as_str().unwrap();
            assert!(!n.has(id), "{} stored hostile record {id}", n.name);
        }
        for a in &acked {
            assert!(n.has(&a.id), "{} lacks honest record {}", n.name, a.id);
        }
        assert!(
            flags_equivocation(n, &mallory.key, Duration::from_secs(20)),
            "{} did not flag the equivocation",
            n.name
        );
    }
}
