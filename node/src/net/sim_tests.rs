//! Seeded simulator of the sync state machine: several in-memory peers (MemoryLog each),
//! a full mesh of links with random delivery order and dropped messages, store writes
//! that finish late or fail, gossip that is forwarded only after validation, and
//! catch-up by frontiers and ranges. Every run must end with all peers on one evidence
//! root.

use std::collections::{BTreeSet, HashSet, VecDeque};

use interlab_protocol::{
    Body, Digest, Envelope, Grounds, MemoryLog, RecordId, Rejection, domain,
    testkit::{T0_MS, TestScheme},
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_bytes::ByteBuf;

use crate::store::Incoming;

use super::{
    sync::{Action, Event, LocalView, Sync, SyncConfig, Verdict},
    wire::{SyncRequest, SyncResponse},
};

const NOW: u64 = T0_MS + 1_000_000_000;

type Id = u64;

mod machine;

enum Msg {
    Gossip {
        to: usize,
        from: usize,
        id: Id,
        env: Vec<u8>,
    },
    Request {
        to: usize,
        from: usize,
        req: SyncRequest,
    },
    Response {
        to: usize,
        from: usize,
        req: SyncRequest,
        resp: SyncResponse,
    },
    /// Peer `to`'s store finished the oldest of its ingests in flight. Never lost, but
    /// at the drop rate the write fails: nothing is written and no result comes back.
    Stored { to: usize },
}

struct Peer {
    log: MemoryLog,
    sync: Sync<usize, Id>,
    seen: HashSet<Id>,
    /// Gossip awaiting validation: id → bytes, to forward on accept.
    validating: std::collections::HashMap<Id, Vec<u8>>,
    /// Batches handed to the store and not yet written, oldest first: they are written
    /// when their `Msg::Stored` is delivered, so other events happen meanwhile.
    ingesting: VecDeque<Vec<Incoming>>,
}

fn view(log: &MemoryLog) -> LocalView {
    LocalView::new(log.authority().scheme(), &log.evidence().frontier)
}

/// What a store gives back for a batch: each envelope ingested into `log` in order.
fn write(log: &mut MemoryLog, batch: &[Vec<u8>]) -> Vec<Result<RecordId, Rejection>> {
    batch.iter().map(|b| log.ingest(b, NOW)).collect()
}

fn gossip_id(env: &[u8]) -> Id {
    let d = Envelope::decode(env).map(|e| e.id()).unwrap_or_default();
    u64::from_le_bytes(d.0[..8].try_into().unwrap())
}

struct Sim {
    rng: ChaCha8Rng,
    peers: Vec<Peer>,
    net: Vec<Msg>,
    now: u64,
    drop_rate: f64,
    /// The most ingests one peer had in flight at once.
    most_in_flight: usize,
}

impl Sim {
    fn serve(log: &MemoryLog, req: &SyncRequest) -> SyncResponse {
        match req {
            SyncRequest::Frontier { .. } => SyncResponse::Frontier(log.evidence().frontier),
            SyncRequest::Range {
                author,
                from_seq,
                limit,
            } => SyncResponse::Range(
                log.records()
                    .filter(|o| o.record.author == *author && o.record.seq >= *from_seq)
                    .take(*limit as usize)
                    .map(|o| ByteBuf::from(o.envelope.to_bytes()))
                    .collect(),
            ),
            SyncRequest::Genesis { scheme } => SyncResponse::Genesis(
                log.get(scheme)
                    .map(|o| ByteBuf::from(o.envelope.to_bytes())),
            ),
            SyncRequest::Artefact { .. } => SyncResponse::Artefact(None),
            // The state machine never asks for fork proofs (the event loop does).
            SyncRequest::Forks { .. } => SyncResponse::Forks(Vec::new()),
        }
    }

    fn feed(&mut self, p: usize, event: Event<usize, Id>) {
        {
            let actions = self.peers[p].sync.handle(event, self.now);
            for a in actions {
                match a {
                    Action::Request { peer, request } => self.net.push(Msg::Request {
                        to: peer,
                        from: p,
                        req: request,
                    }),
                    Action::Ingest(batch) => {
                        self.peers[p].ingesting.push_back(batch);
                        self.most_in_flight =
                            self.most_in_flight.max(self.peers[p].ingesting.len());
                        self.net.push(Msg::Stored { to: p });
                    }
                    Action::Report { msg, from, verdict } => {
                        let bytes = self.peers[p].validating.remove(&msg);
                        if let (Verdict::Accept, Some(env)) = (verdict, bytes) {
                            for to in 0..self.peers.len() {
                                if to != p && to != from {
                                    self.net.push(Msg::Gossip {
                                        to,
                                        from: p,
                                        id: msg,
                                        env: env.clone(),
                                    });
                                }
                            }
                        }
                    }
                    Action::Fork(_) => panic!("no equivocation in this simulation"),
                    Action::Accepted(_) => {}
                }
            }
        }
    }

    fn publish(&mut self, p: usize, env: &Envelope) -> bool {
        let bytes = env.to_bytes();
        if self.peers[p].log.ingest(&bytes, NOW).is_err() {
            return false;
        }
        let id = gossip_id(&bytes);
        self.peers[p].seen.insert(id);
        let v = view(&self.peers[p].log);
        self.feed(p, Event::LocalChanged(v));
        for to in 0..self.peers.len() {
            if to != p {
                self.net.push(Msg::Gossip {
                    to,
                    from: p,
                    id,
                    env: bytes.clone(),
                });
            }
        }
        true
    }

    /// Delivers one random message (or drops it).
    fn step(&mut self) {
        if self.net.is_empty() {
            return;
        }
        let i = self.rng.random_range(0..self.net.len());
        let msg = self.net.swap_remove(i);
        let dropped = self.rng.random_bool(self.drop_rate);
        match msg {
            Msg::Stored { to } => {
                let peer = &mut self.peers[to];
                let batch = peer.ingesting.pop_front().expect("one batch per Stored");
                let results = if dropped {
                    Vec::new()
                } else {
                    let bytes: Vec<Vec<u8>> = batch.into_iter().map(Incoming::into_bytes).collect();
                    write(&mut peer.log, &bytes)
                };
                let view = view(&peer.log);
                self.feed(to, Event::Ingested { results, view });
            }
            Msg::Gossip { to, from, id, env } => {
                if dropped || !self.peers[to].seen.insert(id) {
                    return;
                }
                self.peers[to].validating.insert(id, env.clone());
                self.feed(
                    to,
                    Event::Gossip {
                        from,
                        msg: id,
                        envelope: match Incoming::decode(env) {
                            Ok(i) => i,
                            Err(e) => panic!("the simulation gossips only envelopes: {e}"),
                        },
                    },
                );
            }
            Msg::Request { to, from, req } => {
                if dropped {
                    self.feed(
                        from,
                        Event::RequestFailed {
                            peer: to,
                            request: req,
                        },
                    );
                    return;
                }
                let resp = Self::serve(&self.peers[to].log, &req);
                self.net.push(Msg::Response {
                    to: from,
                    from: to,
                    req,
                    resp,
                });
            }
            Msg::Response {
                to,
                from,
                req,
                resp,
            } => {
                if dropped {
                    self.feed(
                        to,
                        Event::RequestFailed {
                            peer: from,
                            request: req,
                        },
                    );
                } else {
                    self.feed(
                        to,
                        Event::Response {
                            from,
                            request: req,
                            response: resp,
                        },
                    );
                }
            }
        }
    }

    fn tick(&mut self, ms: u64) {
        self.now += ms;
        for p in 0..self.peers.len() {
            self.feed(p, Event::Tick);
        }
    }

    fn roots(&self) -> BTreeSet<(Digest, usize)> {
        self.peers
            .iter()
            .map(|p| (p.log.evidence().root, p.log.len()))
            .collect()
    }
}

/// Runs one seeded scenario; returns the distinct (root, count) pairs at the end.
fn run(
    seed: u64,
    peers: usize,
    records_per_lab: usize,
    drop_rate: f64,
) -> (BTreeSet<(Digest, usize)>, usize) {
    let scheme = TestScheme::new("sim", peers - 1, seed);
    let cfg = SyncConfig {
        interval_ms: 100,
        range_limit: 3,
        pending_per_author: 4,
        pending_total: 8,
        pending_ttl_ms: 300,
        ..SyncConfig::default()
    };
    let mut sim = Sim {
        rng: ChaCha8Rng::seed_from_u64(seed),
        peers: (0..peers)
            .map(|_| Peer {
                log: MemoryLog::new(),
                sync: Sync::new(cfg, LocalView::default(), Some(scheme.id)),
                seen: HashSet::new(),
                validating: Default::default(),
                ingesting: VecDeque::new(),
            })
            .collect(),
        net: Vec::new(),
        now: 0,
        drop_rate,
        most_in_flight: 0,
    };
    for a in 0..peers {
        for b in 0..peers {
            if a != b {
                sim.feed(a, Event::PeerUp(b));
            }
        }
    }
    // The owner (peer 0) writes the genesis and accreditations; lab i runs on peer i + 1.
    for env in &scheme.envelopes {
        assert!(sim.publish(0, env));
    }
    let mut labs = scheme.labs.clone();
    let mut left: Vec<usize> = vec![records_per_lab; labs.len()];
    let mut expected = scheme.envelopes.len();
    let mut steps = 0u64;
    while left.iter().any(|&n| n > 0) || !sim.net.is_empty() {
        steps += 1;
        assert!(steps < 2_000_000, "seed {seed}: simulation does not settle");
        if sim.rng.random_bool(0.05) {
            let l = sim.rng.random_range(0..labs.len());
            if left[l] > 0 {
                let env = labs[l].record(Body::Dispute {
                    target: Digest::of(domain::RECORD_ID, &steps.to_le_bytes()),
                    grounds: Grounds::Outlier,
                    statement: format!("s{steps}"),
                    evidence: vec![],
                });
                let env = labs[l].sign(&env);
                if sim.publish(l + 1, &env) {
                    // Advance the author only once its own node accepted the record.
                    labs[l].next(Body::Dispute {
                        target: Digest::of(domain::RECORD_ID, &steps.to_le_bytes()),
                        grounds: Grounds::Outlier,
                        statement: format!("s{steps}"),
                        evidence: vec![],
                    });
                    left[l] -= 1;
                    expected += 1;
                }
            }
        }
        sim.step();
        if steps.is_multiple_of(20) {
            sim.tick(10);
        }
    }
    // Heal: no more drops; let catch-up run until every queue is empty.
    sim.drop_rate = 0.0;
    for _ in 0..200 {
        sim.tick(50);
        while !sim.net.is_empty() {
            sim.step();
        }
    }
    assert_eq!(
        sim.most_in_flight, cfg.ingest_depth,
        "seed {seed}: the store pipeline never filled"
    );
    (sim.roots(), expected)
}

#[test]
fn peers_converge_to_one_root_despite_random_order_and_drops() {
    for seed in 0..12 {
        let (roots, expected) = run(seed, 5, 12, 0.2);
        assert_eq!(roots.len(), 1, "seed {seed}: peers disagree: {roots:?}");
        let (_, count) = roots.into_iter().next().unwrap();
        assert_eq!(count, expected, "seed {seed}: not every record arrived");
    }
}

#[test]
fn peers_converge_without_drops_by_gossip_alone() {
    let (roots, expected) = run(99, 4, 20, 0.0);
    assert_eq!(roots.len(), 1);
    assert_eq!(roots.into_iter().next().unwrap().1, expected);
}
