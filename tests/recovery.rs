//! Recovering a lab whose store was lost or moved aside (docs/operator-guide.md,
//! "Recovery"): the node never signs at a position of its own chain that peers already
//! hold, a lone node does not sign unless told it is alone, and no node ever stores a
//! fork proof against the honest lab.

use std::{
    path::PathBuf,
    process::{Command, Output},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use interlab_node::{
    api::types::{SigningState, WithoutPeers},
    client::{ApiClient, ClientError},
};
use interlab_protocol::{Body, Grounds, RecordId};
use interlab_tests::{Network, Node, binary, flags_equivocation, wait_for};
use serde_json::Value;

const CONVERGE: Duration = Duration::from_secs(120);

/// The lab's own chain: more than one ingest batch (4 096 envelopes) and many range
/// pages (1 024 records each), docs/network.md.
const OWN_RECORDS: u64 = 12_000;

fn run_fgsm(lab: &Node, suite: &str) -> Output {
    Command::new(binary())
        .args(["run", "--suite", suite, "--only", "fgsm-eps0.1", "--json"])
        .arg("--dir")
        .arg(&lab.dir)
        .output()
        .expect("run interlab run")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What one publish through the API came back with.
#[derive(Debug, Clone)]
enum Attempt {
    Signed(String),
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    Unreachable,
}

/// A script that keeps publishing through a node's API, from before the node is up until
/// stopped: what a lab's automation does after a restart.
struct Hammer {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Attempt>>>,
    handle: Option<JoinHandle<()>>,
}

impl Hammer {
    fn start(dir: PathBuf, target: RecordId) -> Hammer {
        let stop = Arc::new(AtomicBool::new(false));
        let log: Arc<Mutex<Vec<Attempt>>> = Arc::default();
        let handle = {
            let (stop, log) = (stop.clone(), log.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let body = Body::Dispute {
                        target,
                        grounds: Grounds::NotReproducible,
                        statement: format!("after the restart #{n}"),
                        evidence: vec![],
                    };
                    let attempt = match ApiClient::for_dir(&dir).map(|c| c.publish(&body)) {
                        Ok(Ok(v)) => Attempt::Signed(v.id.to_hex()),
                        Ok(Err(ClientError::Api {
                            status,
                            code,
                            message,
                        })) => Attempt::Refused {
                            status,
                            code,
                            message,
                        },
                        _ => Attempt::Unreachable,
                    };
                    log.lock().unwrap().push(attempt);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Hammer {
            stop,
            log,
            handle: Some(handle),
        }
    }

    fn stop(mut self) -> Vec<Attempt> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().expect("hammer thread");
        }
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Hammer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn seq_of(node: &Node, id: &str) -> u64 {
    let id: RecordId = id.parse().unwrap();
    node.client().record_answer(&id).unwrap().record.seq
}

fn assert_no_fork_anywhere(net: &Network, lab_key: &str) {
    for n in net.nodes() {
        let status = n.status();
        assert_eq!(status.forks, 0, "{} holds a fork proof", n.name);
        let forks = n.client().forks().unwrap();
        assert!(forks.forks.is_empty(), "{} lists forks", n.name);
        assert!(
            !flags_equivocation(n, lab_key, Duration::from_millis(1)),
            "{} flags the recovered lab as an equivocator",
            n.name
        );
    }
}

#[test]
fn a_lab_whose_store_was_moved_aside_signs_only_after_catching_up_and_no_node_holds_a_fork() {
    let mut net = Network::start(2);
    let suite = net.publish_digits_suite();
    let genesis: RecordId = net.scheme.parse().unwrap();

    // Lab 0 has a long chain of its own, which every node holds.
    net.labs[0].kill();
    let head = net.labs[0].append_own_records(OWN_RECORDS);
    assert_eq!(head, OWN_RECORDS - 1);
    net.labs[0].start();
    let nodes: Vec<&Node> = net.nodes().collect();
    Network::converge(&nodes, OWN_RECORDS + 4, CONVERGE);

    // The operator guide's recovery: stop the node, move the store aside, start it.
    net.labs[0].kill();
    let dir = net.labs[0].dir.clone();
    std::fs::rename(dir.join("store.redb"), dir.join("store.redb.moved")).unwrap();
    let hammer = Hammer::start(dir.clone(), genesis);
    net.labs[0].start();

    // Hold the node in the middle of its catch-up: as soon as it knows how far its chain
    // goes, cut it off from every peer, so that the refusal below is not a race.
    let lab0 = &net.labs[0];
    let start = Instant::now();
    let mut seen = None;
    while start.elapsed() < CONVERGE {
        let s = lab0.status().signing;
        if let SigningState::CatchingUp { known, .. } = s.state {
            seen = Some(known);
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let peers = vec![net.owner.peer_id(), net.labs[1].peer_id()];
    lab0.client().block(peers).unwrap();
    let seen = seen.unwrap_or_else(|| panic!("lab0 never reported catching_up:\n{}", lab0.log()));
    assert_eq!(seen, OWN_RECORDS);
    let signing = lab0.status().signing;
    let SigningState::CatchingUp { held, .. } = signing.state else {
        panic!("lab0 is not catching up: {signing:?}");
    };
    assert!(held < OWN_RECORDS, "{signing:?}");

    // `interlab run` is refused, exit 1, with what it waits for, before any work.
    let out = run_fgsm(lab0, &suite);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("409 catching_up"), "{err}");
    assert!(
        err.contains(&format!("of its own {OWN_RECORDS} records known to peers")),
        "{err}"
    );
    assert!(err.contains("interlab query status"), "{err}");
    // So is the API, with a JSON reason.
    match lab0.client().publish(&Body::Dispute {
        target: genesis,
        grounds: Grounds::NotReproducible,
        statement: "while catching up".into(),
        evidence: vec![],
    }) {
        Err(ClientError::Api { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (409, "catching_up"));
        }
        other => panic!("expected 409 catching_up, got {other:?}"),
    }
    let text = lab0.cli(&["query", "status"]);
    assert!(text.contains("signing: catching up"), "{text}");

    // Reconnected, it catches up and then signs at the next position of its chain.
    lab0.client().block(Vec::new()).unwrap();
    let unblocked = Instant::now();
    let ready = wait_for(CONVERGE, || {
        (lab0.status().signing.state == SigningState::Ready).then_some(())
    });
    assert!(ready.is_some(), "lab0 never became ready to sign");
    let caught_up = unblocked.elapsed();
    let text = lab0.cli(&["query", "status"]);
    assert!(text.contains("signing: ready"), "{text}");
    let out = run_fgsm(lab0, &suite);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_id = v["id"].as_str().unwrap().to_owned();
    let attempts = hammer.stop();

    // The script was refused while the node caught up (409 with a reason) and every
    // record it got signed sits after the old head.
    let refused: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| matches!(a, Attempt::Refused { code, .. } if code == "catching_up"))
        .collect();
    assert!(
        !refused.is_empty(),
        "the API never refused while catching up"
    );
    for a in &attempts {
        if let Attempt::Refused {
            status,
            code,
            message,
        } = a
        {
            assert!(
                *status == 409
                    && ["catching_up", "checking_own_chain", "no_peer", "no_scheme"]
                        .contains(&code.as_str()),
                "unexpected refusal {status} {code}: {message}"
            );
        }
    }
    let signed: Vec<&String> = attempts
        .iter()
        .filter_map(|a| match a {
            Attempt::Signed(id) => Some(id),
            _ => None,
        })
        .collect();
    let mut seqs: Vec<u64> = signed.iter().map(|id| seq_of(lab0, id)).collect();
    seqs.push(seq_of(lab0, &run_id));
    assert!(
        seqs.iter().all(|s| *s >= OWN_RECORDS),
        "signed at an old position: {seqs:?}"
    );
    eprintln!(
        "{OWN_RECORDS} own records; cut off while holding {held}; ready {caught_up:?} after \
         reconnecting; {} API publishes refused with catching_up, {} signed, first at seq {}",
        refused.len(),
        signed.len(),
        seqs.iter().min().copied().unwrap_or_default()
    );

    // Every node ends on one root, with no fork proof and the lab not flagged.
    let nodes: Vec<&Node> = net.nodes().collect();
    Network::converge(&nodes, OWN_RECORDS + 5 + signed.len() as u64, CONVERGE);
    assert_no_fork_anywhere(&net, &net.labs[0].key);
}

#[test]
fn a_lone_lab_refuses_to_sign_unless_started_with_sign_without_peers() {
    let mut net = Network::start(1);
    let nodes: Vec<&Node> = net.nodes().collect();
    Network::converge(&nodes, 2, CONVERGE);
    let genesis = net.scheme.clone();

    // Its only peer is down: the restarted lab cannot know how far its chain goes.
    net.owner.kill();
    let lab = &mut net.labs[0];
    lab.kill();
    lab.start();
    let dispute = [
        "dispute",
        "open",
        "--target",
        genesis.as_str(),
        "--grounds",
        "not-reproducible",
        "--statement",
        "alone",
        "--json",
    ];
    let out = Command::new(binary())
        .args(dispute)
        .arg("--dir")
        .arg(&lab.dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("409 no_peer"), "{err}");
    assert!(err.contains("--sign-without-peers"), "{err}");
    assert_eq!(lab.status().signing.state, SigningState::NoPeer);

    // Told it is alone, it signs, and says so in its log.
    lab.kill();
    lab.with_args(&["--sign-without-peers"]);
    lab.start();
    let out = lab.cli(&dispute);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    assert!(
        lab.log().contains("sign_without_peers is on"),
        "{}",
        lab.log()
    );
    assert_eq!(
        lab.status().signing.without_peers,
        Some(WithoutPeers::Override)
    );

    // Back with its peer: the record arrives and nobody holds a fork.
    net.owner.start();
    let nodes: Vec<&Node> = net.nodes().collect();
    Network::converge(&nodes, 3, CONVERGE);
    assert!(net.owner.has(&id));
    assert_no_fork_anywhere(&net, &net.labs[0].key);
}

#[test]
fn the_owner_of_a_brand_new_scheme_signs_alone_but_not_once_labs_have_records() {
    let root = tempfile::tempdir().unwrap();
    let mut owner = Node::init(root.path(), "owner");
    let out = owner.cli(&["scheme", "create", "--name", "new", "--json"]);
    let scheme = serde_json::from_str::<Value>(out.trim()).unwrap()["scheme"]
        .as_str()
        .unwrap()
        .to_owned();
    owner.start();
    let lab = Node::init(root.path(), "lab");
    // Alone with a brand-new scheme: no peer to wait for.
    owner.cli(&["lab", "accredit", "--lab", &lab.key, "--name", "lab"]);
    assert_eq!(
        owner.status().signing.without_peers,
        Some(WithoutPeers::NewScheme)
    );

    // Once a lab has a record, the scheme is no longer new: alone after a restart, the
    // owner waits for a peer like any node.
    let mut lab = lab;
    lab.with_bootstrap(vec![owner.p2p()]).with_scheme(&scheme);
    lab.start();
    lab.cli(&[
        "dispute",
        "open",
        "--target",
        &scheme,
        "--grounds",
        "not-reproducible",
        "--statement",
        "first",
    ]);
    Network::converge(&[&owner, &lab], 3, CONVERGE);
    lab.kill();
    owner.kill();
    owner.start();
    assert_eq!(owner.status().signing.state, SigningState::NoPeer);
    assert_eq!(owner.status().signing.without_peers, None);
}
