//! The request-response side of the [`EventLoop`]: serving `/interlab/sync/1` requests
//! from the store, routing responses back to the state machine, and fetching artefacts
//! from peers one candidate at a time. Split from `event_loop.rs` to keep the swarm and
//! command plumbing apart from the protocol's serving rules.

use interlab_protocol::{Digest, FrontierEntry};
use libp2p::{PeerId, request_response};
use serde_bytes::ByteBuf;
use tokio::sync::oneshot;

use super::{EventLoop, Fetch, Outbound};
use crate::{
    net::{
        NetError,
        sync::Event,
        wire::{
            Gossip, MAX_ARTEFACT_BYTES, MAX_FORK_PROOFS, MAX_FRONTIER_ENTRIES, MAX_RANGE_BYTES,
            MAX_RANGE_RECORDS, SyncRequest, SyncResponse, artefact_digest,
        },
    },
    store::StoreError,
};

/// How long an artefact fetch waits for a first peer when none is connected.
const FETCH_PEER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl EventLoop {
    pub(super) fn fetch_artefact(
        &mut self,
        digest: Digest,
        reply: oneshot::Sender<Result<Vec<u8>, NetError>>,
    ) {
        match self.store.artefact(&digest) {
            Ok(Some(bytes)) => {
                let _ = reply.send(Ok(bytes));
                return;
            }
            Ok(None) => {}
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                return;
            }
        }
        let key = self.next_fetch;
        self.next_fetch += 1;
        let mut candidates: Vec<PeerId> = self.connected.keys().copied().collect();
        candidates.sort();
        let wait_until = candidates
            .is_empty()
            .then(|| tokio::time::Instant::now() + FETCH_PEER_WAIT);
        self.fetches.insert(
            key,
            Fetch {
                digest,
                candidates,
                reason: "no peer connected".into(),
                reply,
                wait_until,
            },
        );
        if wait_until.is_none() {
            self.try_fetch(key);
        }
    }

    /// A peer connected: fetches that were waiting for one ask it.
    pub(super) fn resume_waiting_fetches(&mut self, peer: PeerId) {
        let waiting: Vec<u64> = self
            .fetches
            .iter()
            .filter(|(_, f)| f.wait_until.is_some())
            .map(|(k, _)| *k)
            .collect();
        for key in waiting {
            if let Some(f) = self.fetches.get_mut(&key) {
                f.wait_until = None;
                f.candidates.push(peer);
            }
            self.try_fetch(key);
        }
    }

    /// Fetches that waited [`FETCH_PEER_WAIT`] without any peer connecting fail.
    pub(super) fn expire_waiting_fetches(&mut self) {
        let now = tokio::time::Instant::now();
        let expired: Vec<u64> = self
            .fetches
            .iter()
            .filter(|(_, f)| f.wait_until.is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            if let Some(f) = self.fetches.remove(&key) {
                let _ = f.reply.send(Err(NetError::ArtefactUnavailable {
                    digest: f.digest,
                    reason: format!("no peer connected within {} s", FETCH_PEER_WAIT.as_secs()),
                }));
            }
        }
    }

    pub(super) fn try_fetch(&mut self, key: u64) {
        let Some(f) = self.fetches.get_mut(&key) else {
            return;
        };
        match f.candidates.pop() {
            Some(peer) => {
                let digest = f.digest;
                let id = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_request(&peer, SyncRequest::Artefact { digest });
                self.outbound.insert(id, Outbound::Artefact(key));
            }
            None => {
                if let Some(f) = self.fetches.remove(&key) {
                    let _ = f.reply.send(Err(NetError::ArtefactUnavailable {
                        digest: f.digest,
                        reason: f.reason,
                    }));
                }
            }
        }
    }

    pub(super) fn on_artefact(
        &mut self,
        key: u64,
        peer: PeerId,
        response: Result<SyncResponse, String>,
    ) {
        let Some(f) = self.fetches.get_mut(&key) else {
            return;
        };
        let reason = match response {
            Ok(SyncResponse::Artefact(Some(bytes))) => {
                let got = artefact_digest(&bytes);
                if got == f.digest {
                    let bytes = bytes.into_vec();
                    let stored = self.store.put_artefact(&bytes);
                    if let Some(f) = self.fetches.remove(&key) {
                        let _ = f.reply.send(stored.map(|_| bytes).map_err(NetError::from));
                    }
                    return;
                }
                format!("peer {peer} sent bytes with digest {got}")
            }
            Ok(SyncResponse::Artefact(None)) => format!("peer {peer} does not have it"),
            Ok(other) => format!("peer {peer} answered {other:?}"),
            Err(e) => format!("request to {peer} failed: {e}"),
        };
        tracing::debug!("artefact fetch: {reason}");
        f.reason = reason;
        self.try_fetch(key);
    }

    /// Fork proofs a peer answered with; new ones are stored and gossiped on.
    pub(super) fn on_forks(&mut self, peer: PeerId, response: SyncResponse) {
        let SyncResponse::Forks(proofs) = response else {
            return;
        };
        for bytes in proofs.into_iter().take(MAX_FORK_PROOFS) {
            match self.take_fork(&bytes) {
                Ok(true) => {
                    if let Err(e) = self.gossip(Gossip::Fork(bytes.into_vec())) {
                        tracing::debug!("cannot gossip fork proof: {e}");
                    }
                }
                Ok(false) => {}
                Err(()) => {
                    tracing::debug!(%peer, "peer sent an invalid fork proof");
                    break;
                }
            }
        }
    }

    pub(super) fn serve(&self, request: SyncRequest) -> SyncResponse {
        match self.answer(request) {
            Ok(r) => r,
            Err(e) => SyncResponse::Error(e.to_string()),
        }
    }

    pub(super) fn answer(&self, request: SyncRequest) -> Result<SyncResponse, StoreError> {
        let scheme = self.store.scheme().map(|(s, _)| s);
        Ok(match request {
            SyncRequest::Frontier { scheme: s } if Some(s) == scheme => {
                let mut f = self.store.frontier();
                f.truncate(MAX_FRONTIER_ENTRIES);
                SyncResponse::Frontier(f)
            }
            SyncRequest::Frontier { scheme: s } => SyncResponse::Error(format!(
                "this node is in scheme {}, not {s}",
                scheme.map_or_else(|| "none".to_owned(), |s| s.to_string())
            )),
            SyncRequest::Range {
                author,
                from_seq,
                limit,
            } => {
                let limit = limit.min(MAX_RANGE_RECORDS) as usize;
                let mut total = 0;
                let mut out = Vec::new();
                for r in self.store.range(&author, from_seq, limit)? {
                    total += r.len();
                    if total > MAX_RANGE_BYTES && !out.is_empty() {
                        break;
                    }
                    out.push(ByteBuf::from(r));
                }
                SyncResponse::Range(out)
            }
            SyncRequest::Genesis { scheme: s } if Some(s) == scheme => {
                SyncResponse::Genesis(self.store.get(&s)?.map(ByteBuf::from))
            }
            SyncRequest::Genesis { .. } => SyncResponse::Genesis(None),
            SyncRequest::Artefact { digest } => {
                let a = self.store.artefact(&digest)?;
                SyncResponse::Artefact(
                    a.filter(|b| b.len() <= MAX_ARTEFACT_BYTES)
                        .map(ByteBuf::from),
                )
            }
            SyncRequest::Forks { scheme: s } if Some(s) == scheme => {
                let mut total = 0;
                let mut out = Vec::new();
                for proof in self.store.forks()?.into_iter().take(MAX_FORK_PROOFS) {
                    let bytes = proof.to_bytes();
                    total += bytes.len();
                    if total > MAX_RANGE_BYTES {
                        break;
                    }
                    out.push(ByteBuf::from(bytes));
                }
                SyncResponse::Forks(out)
            }
            SyncRequest::Forks { .. } => SyncResponse::Forks(Vec::new()),
        })
    }

    pub(super) fn on_sync(&mut self, ev: request_response::Event<SyncRequest, SyncResponse>) {
        use request_response::{Event as E, Message};
        match ev {
            E::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                tracing::trace!(%peer, kind = request.kind(), "serving sync request");
                let response = self.serve(request);
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response);
            }
            E::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => match self.outbound.remove(&request_id) {
                Some(Outbound::Sync(request)) => {
                    if let (SyncRequest::Frontier { .. }, SyncResponse::Frontier(entries)) =
                        (&request, &response)
                    {
                        self.on_own_frontier(peer, entries);
                    }
                    self.feed(Event::Response {
                        from: peer,
                        request,
                        response,
                    });
                }
                Some(Outbound::Artefact(key)) => self.on_artefact(key, peer, Ok(response)),
                Some(Outbound::Forks) => self.on_forks(peer, response),
                Some(Outbound::OwnProof(seq)) => {
                    let records = match response {
                        SyncResponse::Range(r) => r.into_iter().map(|b| b.into_vec()).collect(),
                        _ => Vec::new(),
                    };
                    self.on_own_proof(peer, seq, Some(&records));
                }
                None => {}
            },
            E::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => match self.outbound.remove(&request_id) {
                Some(Outbound::Sync(request)) => {
                    tracing::debug!(%peer, kind = request.kind(), "sync request failed: {error}");
                    self.feed(Event::RequestFailed { peer, request });
                }
                Some(Outbound::Artefact(key)) => {
                    self.on_artefact(key, peer, Err(error.to_string()))
                }
                Some(Outbound::Forks) => {
                    tracing::debug!(%peer, "fork proof request failed: {error}");
                }
                Some(Outbound::OwnProof(seq)) => self.on_own_proof(peer, seq, None),
                None => {}
            },
            _ => {}
        }
    }

    /// A peer's frontier of our scheme: note that it answered, and ask it to show our own
    /// record when it claims our chain reaches beyond our store.
    fn on_own_frontier(&mut self, peer: PeerId, entries: &[FrontierEntry]) {
        let local = self.store.head(&self.me).map(|h| h.seq);
        let ask = self.own.on_frontier(peer, entries, local);
        if let Some(seq) = ask {
            let id = self.swarm.behaviour_mut().sync.send_request(
                &peer,
                SyncRequest::Range {
                    author: self.me,
                    from_seq: seq,
                    limit: 1,
                },
            );
            self.outbound.insert(id, Outbound::OwnProof(seq));
        }
        self.publish_own_chain();
    }

    fn on_own_proof(&mut self, peer: PeerId, seq: u64, records: Option<&[Vec<u8>]>) {
        let scheme = self.store.scheme().map(|(s, _)| s);
        self.own.on_proof(peer, seq, scheme, records);
        self.publish_own_chain();
    }

    /// Tells the publisher, waking its waiters only when something changed.
    fn publish_own_chain(&self) {
        let now = self.own.state();
        self.own_tx.send_if_modified(|s| {
            let changed = s != now;
            if changed {
                s.clone_from(now);
            }
            changed
        });
    }
}
