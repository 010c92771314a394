//! What peers know of this node's own chain, so that the node never signs at a position
//! it has already used (self-equivocation after a lost or moved store).
//!
//! Every frontier a peer answers names the head of every chain it holds, this node's
//! included. A claim that our chain reaches further than our store is not believed on
//! the peer's word: the node asks that peer for the record at the claimed position and
//! checks that it is signed by our own key, in our scheme, at that seq. Only then does
//! the claim count ([`OwnChain::proven_seq`]); a peer that cannot show the record cannot
//! stop the node from signing. The publisher ([`crate::publisher`]) reads the result.

use std::collections::{BTreeMap, BTreeSet};

use interlab_protocol::{Envelope, FrontierEntry, PublicKey, SchemeId};
use serde::{Deserialize, Serialize};

/// What this node has learnt about its own chain from peers since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnChain {
    /// Peers that answered a frontier request for this node's scheme since it started.
    pub peers_heard: usize,
    /// The highest seq of this node's chain that a peer proved it holds (by sending the
    /// record, signed by this node's key), since start.
    pub proven_seq: Option<u64>,
    /// Claims of peers that our chain reaches beyond our store, still being checked.
    pub checking: usize,
}

/// The bookkeeping behind [`OwnChain`], owned by the network task. `P` names a peer.
#[derive(Debug)]
pub(crate) struct OwnChainTracker<P> {
    me: PublicKey,
    state: OwnChain,
    heard: BTreeSet<P>,
    /// Peer → claimed seq, asked and not answered yet.
    inflight: BTreeMap<P, u64>,
    /// Claims a peer could not back with the record: not asked of it again.
    refuted: BTreeSet<(P, u64)>,
}

impl<P: Copy + Ord + std::fmt::Display> OwnChainTracker<P> {
    /// A tracker for the chain of `me` that has heard nothing yet.
    pub(crate) fn new(me: PublicKey) -> Self {
        OwnChainTracker {
            me,
            state: OwnChain::default(),
            heard: BTreeSet::new(),
            inflight: BTreeMap::new(),
            refuted: BTreeSet::new(),
        }
    }

    /// The current state.
    pub(crate) fn state(&self) -> &OwnChain {
        &self.state
    }

    /// `peer` answered a frontier of our scheme; `local_head` is our store's head seq of
    /// our own chain. Returns the seq to ask `peer` to prove, when it claims more than we
    /// hold and more than is proven already.
    pub(crate) fn on_frontier(
        &mut self,
        peer: P,
        entries: &[FrontierEntry],
        local_head: Option<u64>,
    ) -> Option<u64> {
        if self.heard.insert(peer) {
            self.state.peers_heard = self.heard.len();
        }
        let claimed = entries.iter().find(|e| e.author == self.me)?.seq;
        let known = match (local_head, self.state.proven_seq) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if known.is_some_and(|k| claimed <= k)
            || self.inflight.contains_key(&peer)
            || self.refuted.contains(&(peer, claimed))
        {
            return None;
        }
        self.inflight.insert(peer, claimed);
        self.state.checking = self.inflight.len();
        Some(claimed)
    }

    /// `peer` answered the request for our record at `seq` with `records` (`None`: the
    /// request failed). Returns whether the claim is now proven.
    pub(crate) fn on_proof(
        &mut self,
        peer: P,
        seq: u64,
        scheme: Option<SchemeId>,
        records: Option<&[Vec<u8>]>,
    ) -> bool {
        if self.inflight.get(&peer) == Some(&seq) {
            self.inflight.remove(&peer);
            self.state.checking = self.inflight.len();
        }
        let proven = records
            .and_then(|r| r.first())
            .and_then(|bytes| Envelope::open_bytes(bytes).ok())
            .is_some_and(|o| {
                o.record.author == self.me
                    && o.record.seq == seq
                    && scheme.is_some()
                    && o.record.scheme == scheme
            });
        if proven {
            self.state.proven_seq = Some(self.state.proven_seq.map_or(seq, |p| p.max(seq)));
            tracing::info!(
                %peer,
                seq,
                "a peer holds this node's own chain up to seq {seq}; signing waits until this node holds it too"
            );
        } else {
            tracing::warn!(
                %peer,
                seq,
                "a peer claimed this node's own chain reaches seq {seq} but did not show the record; claim ignored"
            );
            self.refuted.insert((peer, seq));
        }
        proven
    }
}

#[cfg(test)]
mod tests {
    use interlab_protocol::{Body, Digest, RECORD_VERSION, Record, SecretKey};

    use super::*;

    fn key(b: u8) -> SecretKey {
        SecretKey::from_bytes(&[b; 32])
    }

    fn entry(author: PublicKey, seq: u64) -> FrontierEntry {
        FrontierEntry {
            author,
            seq,
            head: Digest::of("test", &seq.to_be_bytes()),
        }
    }

    fn record(signer: &SecretKey, author: PublicKey, seq: u64, scheme: SchemeId) -> Vec<u8> {
        let r = Record {
            v: RECORD_VERSION,
            author,
            scheme: Some(scheme),
            seq,
            prev: Some(Digest::of("test", &[1])),
            time_ms: 1,
            body: Body::Retraction {
                target: Digest::of("test", &[2]),
                reason: "test".into(),
            },
        };
        Envelope::seal(signer, &r).to_bytes()
    }

    #[test]
    fn a_claim_beyond_the_store_is_asked_for_and_counts_once_the_record_is_shown() {
        let me = key(1);
        let scheme = Digest::of("test", b"scheme");
        let mut t = OwnChainTracker::<u8>::new(me.public());
        let f = [entry(key(2).public(), 9), entry(me.public(), 5704)];
        assert_eq!(t.on_frontier(7, &f, Some(3071)), Some(5704));
        assert_eq!(t.state().checking, 1);
        assert_eq!(t.state().peers_heard, 1);
        let proof = vec![record(&me, me.public(), 5704, scheme)];
        assert!(t.on_proof(7, 5704, Some(scheme), Some(&proof)));
        assert_eq!(
            t.state(),
            &OwnChain {
                peers_heard: 1,
                proven_seq: Some(5704),
                checking: 0
            }
        );
        // Another peer at the same height: nothing more to prove.
        assert_eq!(t.on_frontier(8, &f, Some(3071)), None);
        assert_eq!(t.state().peers_heard, 2);
    }

    #[test]
    fn a_claim_within_the_store_or_without_our_chain_asks_nothing() {
        let me = key(1);
        let mut t = OwnChainTracker::<u8>::new(me.public());
        assert_eq!(t.on_frontier(7, &[entry(me.public(), 10)], Some(10)), None);
        assert_eq!(t.on_frontier(8, &[entry(key(2).public(), 99)], None), None);
        assert_eq!(t.state().peers_heard, 2);
        assert_eq!(t.state().proven_seq, None);
    }

    #[test]
    fn a_record_that_is_not_ours_at_that_seq_in_our_scheme_proves_nothing_and_is_not_asked_again() {
        let me = key(1);
        let other = key(2);
        let scheme = Digest::of("test", b"scheme");
        let elsewhere = Digest::of("test", b"other scheme");
        let cases: [(&str, Option<Vec<Vec<u8>>>); 5] = [
            ("request failed", None),
            ("empty answer", Some(vec![])),
            (
                "another key's record",
                Some(vec![record(&other, other.public(), 50, scheme)]),
            ),
            (
                "our record at another seq",
                Some(vec![record(&me, me.public(), 49, scheme)]),
            ),
            (
                "our record in another scheme",
                Some(vec![record(&me, me.public(), 50, elsewhere)]),
            ),
        ];
        for (what, answer) in cases {
            let mut t = OwnChainTracker::<u8>::new(me.public());
            let f = [entry(me.public(), 50)];
            assert_eq!(t.on_frontier(7, &f, None), Some(50), "{what}");
            assert!(
                !t.on_proof(7, 50, Some(scheme), answer.as_deref()),
                "{what}"
            );
            assert_eq!(t.state().proven_seq, None, "{what}");
            assert_eq!(t.state().checking, 0, "{what}");
            assert_eq!(t.on_frontier(7, &f, None), None, "{what}: asked again");
        }
    }
}
