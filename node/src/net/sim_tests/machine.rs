//! Scenarios of one state machine driven by hand: a log, a few events, the actions
//! expected back.

use interlab_protocol::{Body, Digest, Grounds, MemoryLog, testkit::TestScheme};

use super::{Id, NOW, view};
use crate::net::{
    sync::{Action, Event, LocalView, Sync, SyncConfig, Verdict},
    wire::{SyncRequest, SyncResponse},
};

#[test]
fn ingests_overlap_up_to_the_depth_and_settle_in_order() {
    let mut scheme = TestScheme::new("depth", 1, 5);
    let mut log = MemoryLog::new();
    for b in scheme.bytes() {
        log.ingest(&b, NOW).unwrap();
    }
    let lab = &mut scheme.labs[0];
    let body = |s: &str| Body::Dispute {
        target: Digest::default(),
        grounds: Grounds::Outlier,
        statement: s.into(),
        evidence: vec![],
    };
    let records: Vec<Vec<u8>> = (0..3)
        .map(|i| lab.next(body(&format!("r{i}"))).to_bytes())
        .collect();
    let mut sync: Sync<usize, Id> = Sync::new(SyncConfig::default(), view(&log), None);
    let gossip = |sync: &mut Sync<usize, Id>, msg: usize| {
        sync.handle(
            Event::Gossip {
                from: 1,
                msg: msg as Id,
                envelope: records[msg].clone(),
            },
            0,
        )
    };
    // Two batches go to the store at once; the third record waits for a free place.
    let first = gossip(&mut sync, 0);
    let second = gossip(&mut sync, 1);
    assert!(gossip(&mut sync, 2).is_empty(), "a third ingest in flight");
    let ([Action::Ingest(first)], [Action::Ingest(second)]) = (&first[..], &second[..]) else {
        panic!("{first:?} {second:?}")
    };
    assert_eq!(
        (first, second),
        (&vec![records[0].clone()], &vec![records[1].clone()])
    );
    // The store writes them in order; the results come back in order.
    let mut done = |sync: &mut Sync<usize, Id>, batch: &Vec<Vec<u8>>| {
        let results = batch.iter().map(|b| log.ingest(b, NOW)).collect();
        sync.handle(
            Event::Ingested {
                results,
                view: view(&log),
            },
            1,
        )
    };
    let acts = done(&mut sync, first);
    assert!(
        acts.contains(&Action::Report {
            msg: 0,
            from: 1,
            verdict: Verdict::Accept
        }),
        "{acts:?}"
    );
    // The freed place takes the waiting record.
    assert!(
        acts.contains(&Action::Ingest(vec![records[2].clone()])),
        "{acts:?}"
    );
    let acts = done(&mut sync, second);
    assert!(
        acts.contains(&Action::Report {
            msg: 1,
            from: 1,
            verdict: Verdict::Accept
        }),
        "{acts:?}"
    );
    let acts = done(&mut sync, &vec![records[2].clone()]);
    assert!(
        acts.contains(&Action::Report {
            msg: 2,
            from: 1,
            verdict: Verdict::Accept
        }),
        "{acts:?}"
    );
    assert!(sync.is_idle());
}

#[test]
fn a_gap_is_held_and_released_when_the_predecessor_arrives() {
    let mut scheme = TestScheme::new("held", 1, 3);
    let mut log = MemoryLog::new();
    for b in scheme.bytes() {
        log.ingest(&b, NOW).unwrap();
    }
    let lab = &mut scheme.labs[0];
    let body = || Body::Dispute {
        target: Digest::default(),
        grounds: Grounds::Outlier,
        statement: "x".into(),
        evidence: vec![],
    };
    let first = lab.next(body()).to_bytes();
    let second = lab.next(body()).to_bytes();
    let mut sync: Sync<usize, Id> = Sync::new(SyncConfig::default(), view(&log), None);
    // The second record arrives first: it is held, not reported.
    let acts = sync.handle(
        Event::Gossip {
            from: 1,
            msg: 2,
            envelope: second.clone(),
        },
        0,
    );
    let [Action::Ingest(batch)] = &acts[..] else {
        panic!("{acts:?}")
    };
    let results = batch.iter().map(|b| log.ingest(b, NOW)).collect();
    let acts = sync.handle(
        Event::Ingested {
            results,
            view: view(&log),
        },
        1,
    );
    assert!(acts.is_empty(), "{acts:?}");
    assert_eq!(sync.held(), 1);
    // Its predecessor arrives: both are accepted, and both accepted reports go out.
    let acts = sync.handle(
        Event::Gossip {
            from: 1,
            msg: 1,
            envelope: first,
        },
        2,
    );
    let [Action::Ingest(batch)] = &acts[..] else {
        panic!("{acts:?}")
    };
    let results = batch.iter().map(|b| log.ingest(b, NOW)).collect();
    let acts = sync.handle(
        Event::Ingested {
            results,
            view: view(&log),
        },
        3,
    );
    assert!(acts.contains(&Action::Report {
        msg: 1,
        from: 1,
        verdict: Verdict::Accept
    }));
    let [.., Action::Ingest(batch)] = &acts[..] else {
        panic!("{acts:?}")
    };
    assert_eq!(batch, &vec![second]);
    assert_eq!(sync.held(), 0);
}

#[test]
fn held_gossip_of_an_unaccredited_author_is_rejected_when_it_expires() {
    let scheme = TestScheme::new("unaccredited", 0, 4);
    let mut log = MemoryLog::new();
    for b in scheme.bytes() {
        log.ingest(&b, NOW).unwrap();
    }
    let mut stranger = interlab_protocol::testkit::Author::new(777);
    stranger.join(scheme.id);
    let env = stranger
        .next(Body::Dispute {
            target: Digest::default(),
            grounds: Grounds::Outlier,
            statement: "x".into(),
            evidence: vec![],
        })
        .to_bytes();
    let cfg = SyncConfig {
        pending_ttl_ms: 100,
        ..SyncConfig::default()
    };
    let mut sync: Sync<usize, Id> = Sync::new(cfg, view(&log), None);
    let acts = sync.handle(
        Event::Gossip {
            from: 5,
            msg: 9,
            envelope: env,
        },
        0,
    );
    let [Action::Ingest(batch)] = &acts[..] else {
        panic!("{acts:?}")
    };
    let results = batch.iter().map(|b| log.ingest(b, NOW)).collect();
    assert!(
        sync.handle(
            Event::Ingested {
                results,
                view: view(&log)
            },
            0
        )
        .is_empty()
    );
    assert!(sync.handle(Event::Tick, 50).is_empty());
    assert_eq!(
        sync.handle(Event::Tick, 150),
        vec![Action::Report {
            msg: 9,
            from: 5,
            verdict: Verdict::Reject
        }]
    );
}

#[test]
fn a_joining_node_asks_another_peer_for_the_genesis_when_the_first_has_none() {
    let scheme = TestScheme::new("join", 0, 5);
    let mut sync: Sync<usize, Id> =
        Sync::new(SyncConfig::default(), LocalView::default(), Some(scheme.id));
    let ask = |peer| Action::Request {
        peer,
        request: SyncRequest::Genesis { scheme: scheme.id },
    };
    assert_eq!(sync.handle(Event::PeerUp(0), 0), vec![ask(0)]);
    // Peer 1 connects while the request to peer 0 is in flight: no second request.
    assert!(sync.handle(Event::PeerUp(1), 1).is_empty());
    let acts = sync.handle(
        Event::Response {
            from: 0,
            request: SyncRequest::Genesis { scheme: scheme.id },
            response: SyncResponse::Genesis(None),
        },
        2,
    );
    assert!(acts.is_empty(), "{acts:?}");
    // Peer 0 had none: the next round asks peer 1, not peer 0 again.
    assert_eq!(sync.handle(Event::Tick, 3), vec![ask(1)]);
}
