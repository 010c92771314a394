//! Governance across real nodes: who may resolve disputes, and equivocation.

use std::time::Duration;

use interlab_node::{client::ClientError, config::NodeDir, keyfile};
use interlab_protocol::governance::DisputeState;
use interlab_protocol::{
    Action, Body, ForkProof, Grounds, Outcome, RECORD_VERSION, Record, RecordId,
};
use interlab_tests::{Network, Node, flags_equivocation, wait_for};

const WAIT: Duration = Duration::from_secs(60);

fn dispute_on(node: &Node, target: RecordId, text: &str) -> RecordId {
    let v = node
        .client()
        .publish(&Body::Dispute {
            target,
            grounds: Grounds::Outlier,
            statement: text.into(),
            evidence: vec![],
        })
        .unwrap();
    v.id
}

#[test]
fn a_resolution_signed_by_anyone_but_the_owner_is_rejected() {
    let net = Network::start(2);
    let genesis: RecordId = net.scheme.parse().unwrap();
    let dispute = dispute_on(&net.labs[0], genesis, "test dispute");
    let resolution = Body::DisputeResolution {
        dispute,
        outcome: Outcome::Upheld,
        action: Action::Exclude,
        statement: "a lab cannot decide this".into(),
    };
    // A node signs a resolution only of a dispute it holds (404 otherwise).
    wait_for(WAIT, || net.labs[1].client().record(&dispute).ok()).unwrap();
    match net.labs[1].client().publish(&resolution) {
        Err(ClientError::Api { status, code, .. }) => {
            assert_eq!(status, 422);
            assert_eq!(code, "unauthorized");
        }
        other => panic!("expected an unauthorized rejection, got {other:?}"),
    }
    // The owner may; every node then shows the dispute resolved.
    wait_for(WAIT, || net.owner.client().record(&dispute).ok()).unwrap();
    net.owner.client().publish(&resolution).unwrap();
    for n in net.nodes() {
        let resolved = wait_for(WAIT, || {
            let v = n.client().disputes().ok()?;
            (v.disputes.first()?.state == DisputeState::Resolved).then_some(())
        });
        assert!(
            resolved.is_some(),
            "{} does not show the resolution",
            n.name
        );
    }
}

#[test]
fn an_equivocating_lab_is_flagged_on_every_node_with_a_checkable_proof() {
    let net = Network::start(2);
    let nodes: Vec<&Node> = net.nodes().collect();
    Network::converge(&nodes, 3, WAIT);
    // lab0's key signs two different records at seq 0, sent to different nodes.
    let key = keyfile::load_secret_key(&NodeDir::new(&net.labs[0].dir).key()).unwrap();
    let genesis: RecordId = net.scheme.parse().unwrap();
    let record = |text: &str| Record {
        v: RECORD_VERSION,
        author: key.public(),
        scheme: Some(genesis),
        seq: 0,
        prev: None,
        time_ms: interlab_node::publisher::now_ms(),
        body: Body::Dispute {
            target: genesis,
            grounds: Grounds::Outlier,
            statement: text.into(),
            evidence: vec![],
        },
    };
    let a = interlab_protocol::Envelope::seal(&key, &record("version shown to the owner"));
    let b = interlab_protocol::Envelope::seal(&key, &record("version shown to lab1"));
    let _ = net.owner.client().submit(&a);
    let _ = net.labs[1].client().submit(&b);
    for n in net.nodes() {
        assert!(
            flags_equivocation(n, &key.public().to_hex(), WAIT),
            "{} did not flag the equivocation",
            n.name
        );
        let forks = n.client().forks().unwrap();
        let proof = ForkProof::decode(&hex_decode(&forks.forks[0].proof)).unwrap();
        let fork = proof.verify().unwrap();
        assert_eq!(fork.author, key.public());
        assert_eq!(fork.seq, 0);
    }
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
