//! Catch-up requests of the [`Sync`] state machine: which peer to ask for its frontier,
//! which chain ranges to pipeline to whom, and what to do with the answers. Split from
//! `sync.rs` to keep the per-peer request bookkeeping apart from ingest and the pending
//! buffer.

use interlab_protocol::PublicKey;

use super::{Action, Source, Sync, Work};
use crate::{
    net::wire::{SyncRequest, SyncResponse},
    store::Incoming,
};

impl<P: Copy + Ord + std::fmt::Debug, M: Clone + std::fmt::Debug> Sync<P, M> {
    pub(super) fn ask_frontier(&mut self, p: P, now_ms: u64, out: &mut Vec<Action<P, M>>) {
        let Some((scheme, _)) = self.view.scheme else {
            if let (Some(scheme), None) = (self.want_scheme, self.genesis_inflight) {
                // Rotate over peers: one without the genesis answers none.
                if let Some(s) = self.peers.get_mut(&p) {
                    s.frontier_asked_ms = Some(now_ms);
                }
                self.genesis_inflight = Some(p);
                out.push(Action::Request {
                    peer: p,
                    request: SyncRequest::Genesis { scheme },
                });
            }
            return;
        };
        let Some(s) = self.peers.get_mut(&p) else {
            return;
        };
        if s.frontier_inflight {
            return;
        }
        s.frontier_inflight = true;
        s.frontier_asked_ms = Some(now_ms);
        out.push(Action::Request {
            peer: p,
            request: SyncRequest::Frontier { scheme },
        });
    }

    pub(super) fn range_done(&mut self, author: &PublicKey, peer: P) {
        if self.ranges.get(author).is_some_and(|(q, _)| *q == peer) {
            self.ranges.remove(author);
        }
        if let Some(s) = self.peers.get_mut(&peer) {
            s.ranges_inflight = s.ranges_inflight.saturating_sub(1);
        }
    }

    pub(super) fn on_response(
        &mut self,
        from: P,
        request: SyncRequest,
        response: SyncResponse,
        out: &mut Vec<Action<P, M>>,
    ) {
        match (request, response) {
            (SyncRequest::Frontier { .. }, SyncResponse::Frontier(entries)) => {
                if let Some(s) = self.peers.get_mut(&from) {
                    s.frontier_inflight = false;
                    s.remote = entries
                        .iter()
                        .map(|f| (f.author, (f.seq, f.head)))
                        .collect();
                    s.tried.clear();
                }
                self.plan(from, out);
            }
            (SyncRequest::Frontier { .. }, _) => {
                if let Some(s) = self.peers.get_mut(&from) {
                    s.frontier_inflight = false;
                }
            }
            (
                SyncRequest::Range {
                    author,
                    from_seq,
                    limit,
                },
                SyncResponse::Range(records),
            ) => {
                self.range_done(&author, from);
                let mut expect = from_seq;
                let mut got = 0u64;
                // The records should be `author`'s from `from_seq` on, in order. That is
                // not checked here (decoding twice costs as much as ingesting): a record
                // that is not what it should be fails validation in the store.
                for r in records.into_iter().take(limit as usize) {
                    self.queue.push_back(Work {
                        // Decoded in the store's `prepare`, off the event loop.
                        item: Incoming::raw(r.into_vec()),
                        pos: Some((author, expect)),
                        source: Source::Range,
                    });
                    expect += 1;
                    got += 1;
                }
                if got > 0 {
                    let upto = self.queued_upto.entry(author).or_insert(0);
                    *upto = (*upto).max(expect - 1);
                }
                let remote_seq = self
                    .peers
                    .get(&from)
                    .and_then(|s| s.remote.get(&author))
                    .map(|(s, _)| *s);
                // Pipelining: ask for the next page before this one is ingested.
                if got > 0 && remote_seq.is_some_and(|r| r >= expect) {
                    self.request_range(from, author, expect, out);
                }
            }
            (SyncRequest::Range { author, .. }, _) => self.range_done(&author, from),
            (SyncRequest::Genesis { scheme }, SyncResponse::Genesis(Some(bytes))) => {
                self.genesis_inflight = None;
                let item = Incoming::decode(bytes.into_vec())
                    .ok()
                    .filter(|i| i.envelope().is_some_and(|e| e.id() == scheme));
                if let Some(item) = item
                    && self.view.scheme.is_none()
                {
                    self.queue.push_back(Work {
                        pos: None,
                        item,
                        source: Source::Genesis,
                    });
                }
            }
            (SyncRequest::Genesis { .. }, _) => self.genesis_inflight = None,
            (SyncRequest::Artefact { .. } | SyncRequest::Forks { .. }, _) => {}
        }
    }

    pub(super) fn request_range(
        &mut self,
        peer: P,
        author: PublicKey,
        from: u64,
        out: &mut Vec<Action<P, M>>,
    ) {
        let Some(s) = self.peers.get_mut(&peer) else {
            return;
        };
        s.tried.insert((author, from));
        s.ranges_inflight += 1;
        self.ranges.insert(author, (peer, from));
        out.push(Action::Request {
            peer,
            request: SyncRequest::Range {
                author,
                from_seq: from,
                limit: self.cfg.range_limit,
            },
        });
    }

    pub(super) fn plan_all(&mut self, now_ms: u64, out: &mut Vec<Action<P, M>>) {
        if self.view.scheme.is_none() {
            let longest_unasked = self
                .peers
                .iter()
                .min_by_key(|(_, s)| s.frontier_asked_ms)
                .map(|(p, _)| *p);
            if let Some(p) = longest_unasked {
                self.ask_frontier(p, now_ms, out);
            }
            return;
        }
        let peers: Vec<P> = self.peers.keys().copied().collect();
        for p in peers {
            self.plan(p, out);
        }
    }

    /// Asks `peer` for the chains it is ahead on: the owner's chain alone while it is
    /// behind (lab records need the owner's accreditations), then the others.
    pub(super) fn plan(&mut self, peer: P, out: &mut Vec<Action<P, M>>) {
        let Some((_, owner)) = self.view.scheme else {
            return;
        };
        let Some(s) = self.peers.get(&peer) else {
            return;
        };
        let mut wanted = Vec::new();
        for (author, (rseq, rhead)) in &s.remote {
            let have = self.view.heads.get(author).copied();
            let queued = self.queued_upto.get(author).copied();
            let effective_next = match (have, queued) {
                (Some((h, _)), Some(q)) => h.max(q) + 1,
                (Some((h, _)), None) => h + 1,
                (None, Some(q)) => q + 1,
                (None, None) => 0,
            };
            let from = if *rseq >= effective_next {
                effective_next
            } else if have.is_some_and(|(h, id)| h == *rseq && id != *rhead) {
                // Same position, different head: fetch it to obtain the fork proof.
                *rseq
            } else {
                continue;
            };
            if self.ranges.contains_key(author) || s.tried.contains(&(*author, from)) {
                if *author == owner {
                    return; // the owner's chain first
                }
                continue;
            }
            wanted.push((*author, from));
        }
        if let Some(&(a, f)) = wanted.iter().find(|(a, _)| *a == owner) {
            self.request_range(peer, a, f, out);
            return;
        }
        let room = self.cfg.ranges_per_peer.saturating_sub(s.ranges_inflight);
        for (a, f) in wanted.into_iter().take(room) {
            self.request_range(peer, a, f, out);
        }
    }
}
