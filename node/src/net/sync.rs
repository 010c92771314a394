//! The sync state machine: what to ingest, what to ask which peer, what to tell gossipsub.
//!
//! Sans-IO (STYLE.md 14): [`Sync::handle`] takes an [`Event`] and the current time and
//! returns [`Action`]s; the event loop performs them (store ingest, requests, validation
//! reports) and feeds the outcomes back. That keeps every rule — owner chain first, ingests
//! stored in order, bounded pending buffer, pipelined ranges — testable by a seeded
//! simulator without sockets or clocks (see `sim_tests`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use interlab_protocol::{
    Disposition, ForkProof, FrontierEntry, PublicKey, RecordId, Rejection, SchemeId,
};

use super::wire::{SyncRequest, SyncResponse};
use crate::store::Incoming;

mod requests;

/// Tunables of the state machine (times in milliseconds of the caller's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncConfig {
    /// Anti-entropy period: frontiers are exchanged with `frontier_fanout` peers per period.
    pub interval_ms: u64,
    /// Peers asked for their frontier per period.
    pub frontier_fanout: usize,
    /// Records asked for per range request.
    pub range_limit: u32,
    /// Range requests in flight per peer.
    pub ranges_per_peer: usize,
    /// Envelopes per store ingest call.
    pub max_batch: usize,
    /// Ingest calls in flight: the next batch's signatures are checked while the one
    /// before it is stored. Results must come back in the order the calls were made.
    pub ingest_depth: usize,
    /// Held (out-of-order) gossip per author.
    pub pending_per_author: usize,
    /// Held gossip in total.
    pub pending_total: usize,
    /// How long held gossip waits for its predecessor before it is dropped.
    pub pending_ttl_ms: u64,
    /// Queued envelopes beyond which new gossip is ignored (backpressure).
    pub max_queue: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            interval_ms: 5_000,
            frontier_fanout: 2,
            range_limit: 1024,
            ranges_per_peer: 4,
            max_batch: 4096,
            ingest_depth: 2,
            pending_per_author: 64,
            pending_total: 4096,
            pending_ttl_ms: 3_000,
            max_queue: 50_000,
        }
    }
}

/// The local log as the state machine needs it: scheme and chain heads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalView {
    /// Scheme id and owner, once the genesis is stored.
    pub scheme: Option<(SchemeId, PublicKey)>,
    /// Head seq and id of every chain.
    pub heads: BTreeMap<PublicKey, (u64, RecordId)>,
}

impl LocalView {
    /// Builds the view from the store's answers.
    pub fn new(scheme: Option<(SchemeId, PublicKey)>, frontier: &[FrontierEntry]) -> Self {
        LocalView {
            scheme,
            heads: frontier
                .iter()
                .map(|f| (f.author, (f.seq, f.head)))
                .collect(),
        }
    }

    fn next_seq(&self, author: &PublicKey) -> u64 {
        self.heads.get(author).map_or(0, |(s, _)| s + 1)
    }
}

/// What gossipsub is told about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: forward it.
    Accept,
    /// Invalid: drop it and penalise the sender (P4).
    Reject,
    /// Not acceptable now: drop it, no penalty.
    Ignore,
}

/// Something that happened.
#[derive(Debug)]
pub enum Event<P, M> {
    /// A connection to a peer that speaks the protocol.
    PeerUp(P),
    /// The last connection to a peer closed.
    PeerDown(P),
    /// Time passed (call at least every `interval_ms / 2`).
    Tick,
    /// A record arrived by gossip and awaits validation.
    Gossip {
        /// The peer that forwarded it.
        from: P,
        /// Gossipsub's id for it.
        msg: M,
        /// The envelope, decoded once at the edge.
        envelope: Incoming,
    },
    /// A sync response arrived.
    Response {
        /// The responder.
        from: P,
        /// What was asked.
        request: SyncRequest,
        /// The answer.
        response: SyncResponse,
    },
    /// A sync request failed (timeout, refused, closed).
    RequestFailed {
        /// The peer asked.
        peer: P,
        /// What was asked.
        request: SyncRequest,
    },
    /// The oldest [`Action::Ingest`] in flight finished: one result per envelope, and the
    /// view after it.
    Ingested {
        /// Per-envelope results, in batch order (empty when the store failed).
        results: Vec<Result<RecordId, Rejection>>,
        /// The log after the batch.
        view: LocalView,
    },
    /// The log changed outside the network (a local publish).
    LocalChanged(LocalView),
    /// Exchange frontiers with every peer now, whatever the interval.
    SyncNow,
}

/// Something the event loop must do.
#[derive(Debug, PartialEq)]
pub enum Action<P, M> {
    /// Send a sync request.
    Request {
        /// To whom.
        peer: P,
        /// What.
        request: SyncRequest,
    },
    /// Ingest these envelopes in one store transaction, then feed [`Event::Ingested`].
    /// Up to [`SyncConfig::ingest_depth`] may be in flight: store them in the order they
    /// were asked for and feed their results in that order.
    Ingest(Vec<Incoming>),
    /// Report a gossip validation result.
    Report {
        /// The message.
        msg: M,
        /// Its propagation source.
        from: P,
        /// The verdict.
        verdict: Verdict,
    },
    /// Store and gossip a fork proof found while ingesting.
    Fork(Box<ForkProof>),
    /// Records accepted into the store.
    Accepted(Vec<RecordId>),
}

#[derive(Debug, Clone)]
enum Source<P, M> {
    Gossip {
        from: P,
        msg: M,
        since_ms: u64,
        held: bool,
    },
    Range,
    Genesis,
}

#[derive(Debug, Clone)]
struct Work<P, M> {
    item: Incoming,
    pos: Option<(PublicKey, u64)>,
    source: Source<P, M>,
}

#[derive(Debug, Clone)]
struct Held<P, M> {
    seq: u64,
    work: Work<P, M>,
    /// The last rejection was "author unknown" (blame the sender if it never resolves).
    unknown_author: bool,
}

#[derive(Debug, Default)]
struct PeerState {
    remote: BTreeMap<PublicKey, (u64, RecordId)>,
    frontier_asked_ms: Option<u64>,
    frontier_inflight: bool,
    /// `(author, from_seq)` already asked of this peer since its last frontier.
    tried: BTreeSet<(PublicKey, u64)>,
    ranges_inflight: usize,
}

/// The state machine. `P` names a peer, `M` a gossip message.
#[derive(Debug)]
pub struct Sync<P, M> {
    cfg: SyncConfig,
    want_scheme: Option<SchemeId>,
    view: LocalView,
    peers: BTreeMap<P, PeerState>,
    /// Author → (peer, next seq expected) for range fetches in flight.
    ranges: BTreeMap<PublicKey, (P, u64)>,
    /// Highest seq queued for ingest from ranges, per author.
    queued_upto: BTreeMap<PublicKey, u64>,
    genesis_inflight: Option<P>,
    queue: VecDeque<Work<P, M>>,
    /// Batches handed to the store, oldest first.
    ingesting: VecDeque<Vec<Work<P, M>>>,
    held: BTreeMap<PublicKey, Vec<Held<P, M>>>,
    held_total: usize,
}

impl<P: Copy + Ord + std::fmt::Debug, M: Clone + std::fmt::Debug> Sync<P, M> {
    /// A state machine over a log that currently looks like `view`; `want_scheme` is the
    /// scheme to join when the log has no genesis yet.
    pub fn new(cfg: SyncConfig, view: LocalView, want_scheme: Option<SchemeId>) -> Self {
        Sync {
            cfg,
            want_scheme,
            view,
            peers: BTreeMap::new(),
            ranges: BTreeMap::new(),
            queued_upto: BTreeMap::new(),
            genesis_inflight: None,
            queue: VecDeque::new(),
            ingesting: VecDeque::new(),
            held: BTreeMap::new(),
            held_total: 0,
        }
    }

    /// Number of gossip records held for a missing predecessor.
    pub fn held(&self) -> usize {
        self.held_total
    }

    /// Whether nothing is queued, being ingested or in flight.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
            && self.ingesting.is_empty()
            && self.ranges.is_empty()
            && self.genesis_inflight.is_none()
            && self.peers.values().all(|p| !p.frontier_inflight)
    }

    /// Feeds one event; returns what to do.
    pub fn handle(&mut self, event: Event<P, M>, now_ms: u64) -> Vec<Action<P, M>> {
        let mut out = Vec::new();
        match event {
            Event::PeerUp(p) => {
                self.peers.entry(p).or_default();
                self.ask_frontier(p, now_ms, &mut out);
            }
            Event::PeerDown(p) => {
                self.peers.remove(&p);
                self.ranges.retain(|_, (q, _)| *q != p);
                if self.genesis_inflight == Some(p) {
                    self.genesis_inflight = None;
                }
            }
            Event::Tick => {
                self.expire(now_ms, &mut out);
                // Anti-entropy with a few peers per interval, longest-unasked first, so
                // the cost per node stays constant however many peers it has.
                let mut due: Vec<(Option<u64>, P)> = self
                    .peers
                    .iter()
                    .filter(|(_, s)| !s.frontier_inflight)
                    .map(|(p, s)| (s.frontier_asked_ms, *p))
                    .collect();
                due.sort();
                let recent = self
                    .peers
                    .values()
                    .filter(|s| {
                        s.frontier_asked_ms
                            .is_some_and(|t| now_ms.saturating_sub(t) < self.cfg.interval_ms)
                    })
                    .count();
                let room = self.cfg.frontier_fanout.saturating_sub(recent);
                for (_, p) in due.into_iter().take(room) {
                    self.ask_frontier(p, now_ms, &mut out);
                }
            }
            Event::Gossip {
                from,
                msg,
                envelope,
            } => {
                if self.queue.len() >= self.cfg.max_queue {
                    out.push(Action::Report {
                        msg,
                        from,
                        verdict: Verdict::Ignore,
                    });
                } else {
                    let mut envelope = envelope;
                    let pos = envelope.position();
                    self.queue.push_back(Work {
                        item: envelope,
                        pos,
                        source: Source::Gossip {
                            from,
                            msg,
                            since_ms: now_ms,
                            held: false,
                        },
                    });
                }
            }
            Event::Response {
                from,
                request,
                response,
            } => self.on_response(from, request, response, &mut out),
            Event::RequestFailed { peer, request } => match request {
                SyncRequest::Frontier { .. } => {
                    if let Some(s) = self.peers.get_mut(&peer) {
                        s.frontier_inflight = false;
                    }
                }
                SyncRequest::Range { author, .. } => self.range_done(&author, peer),
                SyncRequest::Genesis { .. } => self.genesis_inflight = None,
                SyncRequest::Artefact { .. } | SyncRequest::Forks { .. } => {}
            },
            Event::Ingested { results, view } => self.on_ingested(results, view, now_ms, &mut out),
            Event::SyncNow => {
                let peers: Vec<P> = self.peers.keys().copied().collect();
                for p in peers {
                    self.ask_frontier(p, now_ms, &mut out);
                }
            }
            Event::LocalChanged(view) => {
                self.view = view;
                self.plan_all(now_ms, &mut out);
            }
        }
        self.maybe_ingest(&mut out);
        out
    }

    fn maybe_ingest(&mut self, out: &mut Vec<Action<P, M>>) {
        while self.ingesting.len() < self.cfg.ingest_depth.max(1) && !self.queue.is_empty() {
            let n = self.queue.len().min(self.cfg.max_batch);
            let batch: Vec<Work<P, M>> = self.queue.drain(..n).collect();
            out.push(Action::Ingest(
                batch.iter().map(|w| w.item.clone()).collect(),
            ));
            self.ingesting.push_back(batch);
        }
    }

    fn on_ingested(
        &mut self,
        results: Vec<Result<RecordId, Rejection>>,
        view: LocalView,
        now_ms: u64,
        out: &mut Vec<Action<P, M>>,
    ) {
        let batch = self.ingesting.pop_front().unwrap_or_default();
        let old = std::mem::replace(&mut self.view, view);
        let mut accepted = Vec::new();
        let failed = results.len() != batch.len();
        for (i, work) in batch.into_iter().enumerate() {
            if let (Source::Range, Some((a, s))) = (&work.source, work.pos)
                && self.queued_upto.get(&a) == Some(&s)
            {
                self.queued_upto.remove(&a);
            }
            let result = if failed {
                // The store failed: nothing was decided; gossip is dropped without blame.
                Err(Rejection::NoScheme)
            } else {
                results[i].clone()
            };
            self.settle(work, result, &mut accepted, out);
        }
        if !accepted.is_empty() {
            out.push(Action::Accepted(accepted));
            self.retry_held(&old);
        }
        if old.scheme.is_none() && self.view.scheme.is_some() {
            let peers: Vec<P> = self.peers.keys().copied().collect();
            for p in peers {
                self.ask_frontier(p, now_ms, out);
            }
        }
        self.plan_all(now_ms, out);
    }

    fn settle(
        &mut self,
        work: Work<P, M>,
        result: Result<RecordId, Rejection>,
        accepted: &mut Vec<RecordId>,
        out: &mut Vec<Action<P, M>>,
    ) {
        let report = |verdict, out: &mut Vec<Action<P, M>>| {
            if let Source::Gossip { from, msg, .. } = &work.source {
                out.push(Action::Report {
                    msg: msg.clone(),
                    from: *from,
                    verdict,
                });
            }
        };
        match result {
            Ok(id) => {
                accepted.push(id);
                report(Verdict::Accept, out);
            }
            Err(Rejection::Equivocation(proof)) => {
                report(Verdict::Reject, out);
                out.push(Action::Fork(proof));
            }
            Err(Rejection::Duplicate(_)) => {
                // Held gossip that arrived meanwhile by catch-up is valid: forward it.
                let was_held = matches!(work.source, Source::Gossip { held: true, .. });
                report(
                    if was_held {
                        Verdict::Accept
                    } else {
                        Verdict::Ignore
                    },
                    out,
                );
            }
            Err(
                e @ (Rejection::Gap { .. } | Rejection::UnknownAuthor(_) | Rejection::NoScheme),
            ) if matches!(work.source, Source::Gossip { .. }) => {
                self.hold(work, matches!(e, Rejection::UnknownAuthor(_)), out);
            }
            Err(e) => report(
                match e.disposition() {
                    Disposition::Reject => Verdict::Reject,
                    Disposition::Ignore => Verdict::Ignore,
                },
                out,
            ),
        }
    }

    fn hold(&mut self, mut work: Work<P, M>, unknown_author: bool, out: &mut Vec<Action<P, M>>) {
        let Some((author, seq)) = work.pos else {
            if let Source::Gossip { from, msg, .. } = work.source {
                out.push(Action::Report {
                    msg,
                    from,
                    verdict: Verdict::Ignore,
                });
            }
            return;
        };
        if let Source::Gossip { held, .. } = &mut work.source {
            *held = true;
        }
        let list = self.held.entry(author).or_default();
        list.push(Held {
            seq,
            work,
            unknown_author,
        });
        list.sort_by_key(|h| h.seq);
        self.held_total += 1;
        if list.len() > self.cfg.pending_per_author
            && let Some(h) = list.pop()
        {
            self.held_total -= 1;
            Self::drop_held(h, Verdict::Ignore, out);
        }
        while self.held_total > self.cfg.pending_total {
            // Evict the farthest record of the author holding the most.
            let Some(author) = self
                .held
                .iter()
                .max_by_key(|(_, v)| v.len())
                .map(|(a, _)| *a)
            else {
                break;
            };
            if let Some(h) = self.held.get_mut(&author).and_then(|v| v.pop()) {
                self.held_total -= 1;
                Self::drop_held(h, Verdict::Ignore, out);
            }
            self.held.retain(|_, v| !v.is_empty());
        }
    }

    fn drop_held(h: Held<P, M>, verdict: Verdict, out: &mut Vec<Action<P, M>>) {
        if let Source::Gossip { from, msg, .. } = h.work.source {
            out.push(Action::Report { msg, from, verdict });
        }
    }

    /// Moves held records that may now apply back into the queue: those whose
    /// predecessor arrived, and all of them when the owner's chain advanced.
    fn retry_held(&mut self, old: &LocalView) {
        let owner = self.view.scheme.map(|(_, o)| o);
        let owner_moved = old.scheme != self.view.scheme
            || owner.is_some_and(|o| old.heads.get(&o) != self.view.heads.get(&o));
        let mut ready = Vec::new();
        for (author, list) in &mut self.held {
            let next = self.view.next_seq(author);
            let take: Vec<Held<P, M>>;
            if owner_moved {
                take = std::mem::take(list);
            } else {
                let (now, later): (Vec<_>, Vec<_>) = std::mem::take(list)
                    .into_iter()
                    .partition(|h| h.seq <= next);
                *list = later;
                take = now;
            }
            ready.extend(take);
        }
        self.held.retain(|_, v| !v.is_empty());
        self.held_total -= ready.len();
        ready.sort_by_key(|h| h.seq);
        for h in ready {
            self.queue.push_back(h.work);
        }
    }

    fn expire(&mut self, now_ms: u64, out: &mut Vec<Action<P, M>>) {
        let ttl = self.cfg.pending_ttl_ms;
        let mut gone = Vec::new();
        for list in self.held.values_mut() {
            let (old, keep): (Vec<_>, Vec<_>) = std::mem::take(list).into_iter().partition(|h| {
                matches!(h.work.source, Source::Gossip { since_ms, .. } if now_ms.saturating_sub(since_ms) >= ttl)
            });
            *list = keep;
            gone.extend(old);
        }
        self.held.retain(|_, v| !v.is_empty());
        self.held_total -= gone.len();
        for h in gone {
            // Never accredited after waiting: the sender relayed an unauthorised record.
            let verdict = if h.unknown_author {
                Verdict::Reject
            } else {
                Verdict::Ignore
            };
            Self::drop_held(h, verdict, out);
        }
    }
}
