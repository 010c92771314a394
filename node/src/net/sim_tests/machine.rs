//! Scenarios of one state machine driven by hand: a log, a few events, the actions
//! expected back.

use interlab_protocol::{Body, Digest, Grounds, MemoryLog, testkit::TestScheme};

use super::{Id, NOW, view, write};
use crate::net::{
    sync::{Action, Event, LocalView, Sync, SyncConfig, Verdict},
    wire::{SyncRequest, SyncResponse},
};
use crate::store::Incoming;

/// A log holding the scheme's setup records.
fn log_of(scheme: &TestScheme) -> MemoryLog {
    let mut log = MemoryLog::new();
    for b in scheme.bytes() {
        log.ingest(&b, NOW).unwrap();
    }
    log
}

fn dispute(statement: &str) -> Body {
    Body::Dispute {
        target: Digest::default(),
        grounds: Grounds::Outlier,
        statement: statement.into(),
        evidence: vec![],
    }
}

/// Envelope `envelope` arrives by gossip from peer `from` as message `msg`.
fn gossip(
    sync: &mut Sync<usize, Id>,
    from: usize,
    msg: Id,
    envelope: &[u8],
    now: u64,
) -> Vec<Action<usize, Id>> {
    let envelope = Incoming::decode(envelope.to_vec()).unwrap();
    sync.handle(
        Event::Gossip {
            from,
            msg,
            envelope,
        },
        now,
    )
}

/// The store writes `batch` into `log`; its results are fed back.
fn stored(
    sync: &mut Sync<usize, Id>,
    log: &mut MemoryLog,
    batch: &[Vec<u8>],
    now: u64,
) -> Vec<Action<usize, Id>> {
    let results = write(log, batch);
    sync.handle(
        Event::Ingested {
            results,
            view: view(log),
        },
        now,
    )
}

/// The one batch `acts` hands to the store.
fn only_ingest(acts: &[Action<usize, Id>]) -> Vec<Vec<u8>> {
    match acts {
        [Action::Ingest(batch)] => batch.iter().map(|i| i.bytes().to_vec()).collect(),
        _ => panic!("expected one ingest: {acts:?}"),
    }
}

fn accept(msg: Id, from: usize) -> Action<usize, Id> {
    Action::Report {
        msg,
        from,
        verdict: Verdict::Accept,
    }
}

#[test]
fn ingests_overlap_up_to_the_depth_and_settle_in_order() {
    let mut scheme = TestScheme::new("depth", 1, 5);
    let mut log = log_of(&scheme);
    let lab = &mut scheme.labs[0];
    let records: Vec<Vec<u8>> = (0..3)
        .map(|i| lab.next(dispute(&format!("r{i}"))).to_bytes())
        .collect();
    let mut sync: Sync<usize, Id> = Sync::new(SyncConfig::default(), view(&log), None);
    // Two batches go to the store at once; the third record waits for a free place.
    let first = only_ingest(&gossip(&mut sync, 1, 0, &records[0], 0));
    let second = only_ingest(&gossip(&mut sync, 1, 1, &records[1], 0));
    assert!(
        gossip(&mut sync, 1, 2, &records[2], 0).is_empty(),
        "a third ingest in flight"
    );
    assert_eq!((&first[..], &second[..]), (&records[..1], &records[1..2]));
    // The store writes them in order; the results come back in order.
    let acts = stored(&mut sync, &mut log, &first, 1);
    assert!(acts.contains(&accept(0, 1)), "{acts:?}");
    // The freed place takes the waiting record.
    assert!(
        acts.contains(&Action::Ingest(
            records[2..].iter().cloned().map(Incoming::raw).collect()
        )),
        "{acts:?}"
    );
    let acts = stored(&mut sync, &mut log, &second, 1);
    assert!(acts.contains(&accept(1, 1)), "{acts:?}");
    let acts = stored(&mut sync, &mut log, &records[2..], 1);
    assert!(acts.contains(&accept(2, 1)), "{acts:?}");
    assert!(sync.is_idle());
}

#[test]
fn a_gap_is_held_and_released_when_the_predecessor_arrives() {
    let mut scheme = TestScheme::new("held", 1, 3);
    let mut log = log_of(&scheme);
    let lab = &mut scheme.labs[0];
    let first = lab.next(dispute("x")).to_bytes();
    let second = lab.next(dispute("x")).to_bytes();
    let mut sync: Sync<usize, Id> = Sync::new(SyncConfig::default(), view(&log), None);
    // The second record arrives first: it is held, not reported.
    let batch = only_ingest(&gossip(&mut sync, 1, 2, &second, 0));
    let acts = stored(&mut sync, &mut log, &batch, 1);
    assert!(acts.is_empty(), "{acts:?}");
    assert_eq!(sync.held(), 1);
    // Its predecessor arrives: both are accepted, and both accepted reports go out.
    let batch = only_ingest(&gossip(&mut sync, 1, 1, &first, 2));
    let acts = stored(&mut sync, &mut log, &batch, 3);
    assert!(acts.contains(&accept(1, 1)), "{acts:?}");
    let [.., Action::Ingest(batch)] = &acts[..] else {
        panic!("{acts:?}")
    };
    assert_eq!(batch, &vec![Incoming::raw(second)]);
    assert_eq!(sync.held(), 0);
}

#[test]
fn held_gossip_of_an_unaccredited_author_is_rejected_when_it_expires() {
    let scheme = TestScheme::new("unaccredited", 0, 4);
    let mut log = log_of(&scheme);
    let mut stranger = interlab_protocol::testkit::Author::new(777);
    stranger.join(scheme.id);
    let env = stranger.next(dispute("x")).to_bytes();
    let cfg = SyncConfig {
        pending_ttl_ms: 100,
        ..SyncConfig::default()
    };
    let mut sync: Sync<usize, Id> = Sync::new(cfg, view(&log), None);
    let batch = only_ingest(&gossip(&mut sync, 5, 9, &env, 0));
    assert!(stored(&mut sync, &mut log, &batch, 0).is_empty());
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
