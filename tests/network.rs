//! Lab nodes as separate processes: convergence, late join, SIGKILL restart, partitions.

use std::time::Duration;

use interlab_protocol::{Body, Grounds};
use interlab_tests::{
    Network, Node,
    faults::{heal, partition},
    wait_for,
};

const CONVERGE: Duration = Duration::from_secs(60);

fn run_fgsm(lab: &Node, suite: &str) -> String {
    let out = lab.cli(&["run", "--suite", suite, "--only", "fgsm-eps0.1", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    v["id"].as_str().unwrap().to_owned()
}

#[test]
fn five_lab_nodes_converge_and_late_joiners_and_killed_nodes_catch_up() {
    let mut net = Network::start(4);
    let suite = net.publish_digits_suite();
    let mut results = Vec::new();
    for lab in &net.labs {
        results.push(run_fgsm(lab, &suite));
    }
    // genesis + 4 accreditations + suite + 4 results
    let nodes: Vec<&Node> = net.nodes().collect();
    let (root, records) = Network::converge(&nodes, 10, CONVERGE);
    assert_eq!(records, 10);
    for lab in &net.labs {
        for id in &results {
            assert!(lab.has(id), "{} lacks {id}", lab.name);
        }
    }

    // A sixth node started after all of that catches up to the same root.
    let late = net.add_lab("late", false);
    let l = &net.labs[late];
    let got = wait_for(CONVERGE, || {
        (l.root() == (root.clone(), records)).then_some(())
    });
    assert!(got.is_some(), "late joiner stuck at {:?}", l.root());

    // SIGKILL a lab that has acknowledged records; others move on; it restarts and
    // has lost nothing it acknowledged, then converges again.
    net.labs[0].kill();
    let extra = run_fgsm(&net.labs[1], &suite);
    net.labs[0].start();
    for id in &results {
        assert!(net.labs[0].has(id), "restarted lab lost {id}");
    }
    let nodes: Vec<&Node> = net.nodes().collect();
    let (_, after) = Network::converge(&nodes, 11, CONVERGE);
    assert_eq!(after, 11);
    assert!(net.labs[0].has(&extra));
}

#[test]
fn partitioned_groups_both_publish_and_converge_when_healed() {
    let net = Network::start(3);
    let nodes: Vec<&Node> = net.nodes().collect();
    let (_, base) = Network::converge(&nodes, 4, CONVERGE);
    // Owner and lab 0 on one side, labs 1 and 2 on the other.
    partition(&net, &[0, 1], &[2, 3]);
    let group_b = [&net.labs[1], &net.labs[2]];
    // Both sides write while cut off from each other.
    let newcomer = interlab_protocol::testkit::Author::new(4242).public();
    net.owner
        .client()
        .publish(&Body::LabAccredited {
            lab: newcomer,
            name: "newcomer".into(),
        })
        .unwrap();
    let genesis: interlab_protocol::RecordId = net.scheme.parse().unwrap();
    for lab in group_b {
        lab.client()
            .publish(&Body::Dispute {
                target: genesis,
                grounds: Grounds::Outlier,
                statement: format!("written by {} during the partition", lab.name),
                evidence: vec![],
            })
            .unwrap();
    }
    std::thread::sleep(Duration::from_secs(2));
    let a = net.owner.root();
    let b = net.labs[1].root();
    assert_ne!(a.0, b.0, "the partition did not separate the groups");
    heal(&net);
    let (_, records) = Network::converge(&nodes, base + 3, CONVERGE);
    assert_eq!(records, base + 3);
}
