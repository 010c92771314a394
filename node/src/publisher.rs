//! Signing the node's own records: one writer per key, so that two API calls never take
//! the same seq (which would be an equivocation by our own hand), and no signature while
//! peers may hold records of our chain that our store lacks (a store that was lost, moved
//! aside or restored): see [`SigningState`] and `docs/operator-guide.md` (recovery).

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use interlab_protocol::{Body, Envelope, RECORD_VERSION, Record, RecordId, Rejection, SecretKey};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, watch};

use crate::{
    net::{NetClient, NetError, OwnChain},
    store::{Store, StoreError},
};

/// How long a publish waits for a first peer's answer (or for a peer's claim about our
/// chain to be checked) before it is refused.
pub const PEER_WAIT: Duration = Duration::from_secs(10);

/// Why the node may sign without having heard from any peer since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WithoutPeers {
    /// The scheme is brand-new: this node's store held, when it started, its own scheme
    /// genesis and records of no other key (or this node signed the genesis since).
    NewScheme,
    /// The operator said the lab is alone (`sign_without_peers = true` or
    /// `--sign-without-peers`).
    Override,
}

/// Whether the node may sign now, and if not, what it waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SigningState {
    /// The store holds every record of our chain that any peer has shown.
    Ready,
    /// A peer proved it holds our chain up to a seq our store has not reached yet.
    CatchingUp {
        /// Records of our chain in our store.
        held: u64,
        /// Records of our chain that peers hold.
        known: u64,
    },
    /// A peer claims our chain goes further than our store; the claim is being checked.
    Checking {
        /// Records of our chain in our store.
        held: u64,
    },
    /// No peer has answered since the node started.
    NoPeer,
}

impl SigningState {
    /// The rule: never sign behind what a peer has shown of our chain; and unless the
    /// node may sign without peers, not before some peer has answered.
    pub fn decide(
        own: &OwnChain,
        local_head: Option<u64>,
        without_peers: Option<WithoutPeers>,
    ) -> SigningState {
        let held = local_head.map_or(0, |h| h + 1);
        if let Some(p) = own.proven_seq
            && local_head.is_none_or(|h| h < p)
        {
            return SigningState::CatchingUp { held, known: p + 1 };
        }
        if own.checking > 0 {
            return SigningState::Checking { held };
        }
        if own.peers_heard == 0 && without_peers.is_none() {
            return SigningState::NoPeer;
        }
        SigningState::Ready
    }

    /// Whether signing is allowed.
    pub fn is_ready(&self) -> bool {
        *self == SigningState::Ready
    }
}

/// Why the node refuses to sign now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotReady {
    /// Peers hold more of our chain than our store.
    #[error(
        "this node holds {held} of its own {known} records known to peers; it is catching up \
         (signing now would reuse a position of its own chain and flag this lab as an \
         equivocator) — try again when `interlab query status` shows `signing: ready`"
    )]
    CatchingUp {
        /// Records of our chain in our store.
        held: u64,
        /// Records of our chain that peers hold.
        known: u64,
    },
    /// A peer's claim about our chain is being checked.
    #[error(
        "a peer says this node's own chain goes further than the {held} records in its \
         store; the node is checking that claim — try again when `interlab query status` \
         shows `signing: ready`"
    )]
    Checking {
        /// Records of our chain in our store.
        held: u64,
    },
    /// No peer answered within the wait.
    #[error(
        "no peer has answered this node since it started (waited {waited_s} s), so it cannot \
         know whether peers hold records of its own chain that its store lacks, and signing \
         could equivocate; check that its bootstrap peers are up and reachable and try \
         again, or, only for a lab that is truly alone, restart the node with \
         --sign-without-peers"
    )]
    NoPeer {
        /// Seconds waited.
        waited_s: u64,
    },
}

impl NotReady {
    /// A stable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            NotReady::CatchingUp { .. } => "catching_up",
            NotReady::Checking { .. } => "checking_own_chain",
            NotReady::NoPeer { .. } => "no_peer",
        }
    }

    fn from_state(state: SigningState, waited: Duration) -> Option<NotReady> {
        match state {
            SigningState::Ready => None,
            SigningState::CatchingUp { held, known } => Some(NotReady::CatchingUp { held, known }),
            SigningState::Checking { held } => Some(NotReady::Checking { held }),
            SigningState::NoPeer => Some(NotReady::NoPeer {
                waited_s: waited.as_secs(),
            }),
        }
    }
}

/// What the node knows about signing, for `/v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SigningStatus {
    /// Whether a publish would be signed now.
    pub ready: bool,
    /// The state and its numbers.
    #[serde(flatten)]
    pub state: SigningState,
    /// Records of our chain in the store.
    pub own_records: u64,
    /// What peers have shown of our chain since start.
    pub peers: OwnChain,
    /// Why the node may sign without peers, if it may.
    pub without_peers: Option<WithoutPeers>,
}

/// Why a record could not be published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The log refuses the record (e.g. a lab asking to accredit).
    #[error("the record was refused: {0}")]
    Rejected(Rejection),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking store task did not finish.
    #[error("store task failed: {0}")]
    Task(String),
    /// Signing now could equivocate: the node does not know yet that it holds its whole
    /// chain.
    #[error(transparent)]
    NotReady(#[from] NotReady),
    /// The node has not joined a scheme yet.
    #[error(
        "this node has no scheme yet (create one or start with --scheme and a peer that has it)"
    )]
    NoScheme,
}

/// Validates and durably stores one envelope off the async threads. The outer error is
/// the store's; the inner result is the log's verdict on the record.
pub async fn store_one(
    store: &Store,
    bytes: Vec<u8>,
    now_ms: u64,
) -> Result<Result<RecordId, Rejection>, PublishError> {
    let store = store.clone();
    let mut results = tokio::task::spawn_blocking(move || store.ingest(&[bytes], now_ms))
        .await
        .map_err(|e| PublishError::Task(e.to_string()))??;
    results
        .pop()
        .ok_or_else(|| PublishError::Task("the store returned no verdict".into()))
}

/// Current wall-clock time in ms since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Signs records with the node's key at the next position of its chain, stores them
/// durably and gossips them.
///
/// Before it signs, the publisher checks [`SigningState::decide`] over what the network
/// task learnt from peers ([`NetClient::own_chain`]); without a network it knows nothing
/// and signs only when it may sign without peers.
#[derive(Debug)]
pub struct Publisher {
    key: SecretKey,
    store: Store,
    net: Option<NetClient>,
    own: watch::Receiver<OwnChain>,
    sign_without_peers: bool,
    /// The scheme is brand-new (see [`WithoutPeers::NewScheme`]).
    new_scheme: AtomicBool,
    wait: Duration,
    lock: Mutex<()>,
}

impl Publisher {
    /// A publisher for `key` over `store`, gossiping through `net` when given.
    /// `sign_without_peers` is the operator's override for a lab that is truly alone.
    pub fn new(
        key: SecretKey,
        store: Store,
        net: Option<NetClient>,
        sign_without_peers: bool,
    ) -> Publisher {
        let me = key.public();
        let new_scheme = store.scheme().is_some_and(|(_, owner)| owner == me)
            && store.frontier().iter().all(|f| f.author == me);
        let own = match &net {
            Some(n) => n.own_chain(),
            // Nothing will ever be heard: a receiver whose sender is gone.
            None => watch::channel(OwnChain::default()).1,
        };
        Publisher {
            key,
            store,
            net,
            own,
            sign_without_peers,
            new_scheme: AtomicBool::new(new_scheme),
            wait: PEER_WAIT,
            lock: Mutex::new(()),
        }
    }

    /// Replaces how long a publish waits for a first peer (default [`PEER_WAIT`]).
    pub fn with_peer_wait(mut self, wait: Duration) -> Publisher {
        self.wait = wait;
        self
    }

    fn without_peers(&self) -> Option<WithoutPeers> {
        if self.new_scheme.load(Ordering::Relaxed) {
            Some(WithoutPeers::NewScheme)
        } else if self.sign_without_peers {
            Some(WithoutPeers::Override)
        } else {
            None
        }
    }

    fn state(&self, own: &OwnChain) -> SigningState {
        let local = self.store.head(&self.key.public()).map(|h| h.seq);
        SigningState::decide(own, local, self.without_peers())
    }

    /// Whether the node would sign now, without waiting.
    pub fn signing_status(&self) -> SigningStatus {
        let own = self.own.borrow().clone();
        let state = self.state(&own);
        SigningStatus {
            ready: state.is_ready(),
            own_records: self.store.head(&self.key.public()).map_or(0, |h| h.seq + 1),
            state,
            peers: own,
            without_peers: self.without_peers(),
        }
    }

    /// Waits (at most the peer wait) until signing is safe; refuses at once while the
    /// node is catching up on its own chain.
    pub async fn ready(&self) -> Result<(), NotReady> {
        let start = Instant::now();
        let deadline = start + self.wait;
        let mut own = self.own.clone();
        loop {
            let state = self.state(&own.borrow_and_update());
            let waiting = matches!(state, SigningState::Checking { .. } | SigningState::NoPeer);
            let now = Instant::now();
            if !waiting || now >= deadline {
                return match NotReady::from_state(state, now - start) {
                    None => Ok(()),
                    Some(e) => Err(e),
                };
            }
            match tokio::time::timeout(deadline - now, own.changed()).await {
                // Changed: look again. Timed out: the next turn decides.
                Ok(Ok(())) | Err(_) => {}
                // The network task is gone: nothing more will be learnt.
                Ok(Err(_)) => tokio::time::sleep_until(deadline.into()).await,
            }
        }
    }

    /// The node's public key.
    pub fn public(&self) -> interlab_protocol::PublicKey {
        self.key.public()
    }

    /// Signs `body` as the next record of this node's chain, stores it (durably) and
    /// gossips it. Returns only after the store has committed.
    pub async fn publish(&self, body: Body) -> Result<(RecordId, Envelope), PublishError> {
        let _guard = self.lock.lock().await;
        let is_genesis = matches!(body, Body::SchemeGenesis { .. });
        let scheme = match self.store.scheme() {
            Some((id, _)) => Some(id),
            // A genesis on a store without a scheme starts a new log: nobody can hold
            // records of a scheme that does not exist yet.
            None if is_genesis => None,
            None => return Err(PublishError::NoScheme),
        };
        if scheme.is_some() {
            self.ready().await?;
        }
        let me = self.key.public();
        let head = self.store.head(&me);
        let now = now_ms();
        let record = Record {
            v: RECORD_VERSION,
            author: me,
            scheme: if is_genesis { None } else { scheme },
            seq: head.map_or(0, |h| h.seq + 1),
            prev: head.map(|h| h.id),
            time_ms: head.map_or(now, |h| now.max(h.time_ms)),
            body,
        };
        let envelope = Envelope::seal(&self.key, &record);
        let bytes = envelope.to_bytes();
        let id = store_one(&self.store, bytes.clone(), now)
            .await?
            .map_err(PublishError::Rejected)?;
        if is_genesis {
            self.new_scheme.store(true, Ordering::Relaxed);
        }
        if let Some(net) = &self.net {
            // Gossip is best effort: with no peers yet, catch-up delivers it later.
            if let Err(e) = net.publish(bytes).await
                && !matches!(e, NetError::Publish(_))
            {
                tracing::warn!(%id, "gossip of own record failed: {e}");
            }
        }
        Ok((id, envelope))
    }
}

#[cfg(test)]
mod tests {
    use interlab_protocol::Digest;

    use super::*;
    use interlab_protocol::testkit::Workload;

    fn own(peers_heard: usize, proven_seq: Option<u64>, checking: usize) -> OwnChain {
        OwnChain {
            peers_heard,
            proven_seq,
            checking,
        }
    }

    #[test]
    fn signing_waits_for_a_peer_unless_the_scheme_is_new_or_the_operator_says_alone() {
        let nobody = own(0, None, 0);
        assert_eq!(
            SigningState::decide(&nobody, Some(5), None),
            SigningState::NoPeer
        );
        for why in [WithoutPeers::NewScheme, WithoutPeers::Override] {
            assert_eq!(
                SigningState::decide(&nobody, Some(5), Some(why)),
                SigningState::Ready
            );
        }
        assert_eq!(
            SigningState::decide(&own(1, None, 0), Some(5), None),
            SigningState::Ready
        );
    }

    #[test]
    fn signing_is_refused_while_the_store_is_behind_what_a_peer_proved_even_when_alone() {
        let proven = own(2, Some(5704), 0);
        for why in [None, Some(WithoutPeers::Override)] {
            assert_eq!(
                SigningState::decide(&proven, Some(3071), why),
                SigningState::CatchingUp {
                    held: 3072,
                    known: 5705
                }
            );
            assert_eq!(
                SigningState::decide(&proven, None, why),
                SigningState::CatchingUp {
                    held: 0,
                    known: 5705
                }
            );
        }
        assert_eq!(
            SigningState::decide(&proven, Some(5704), None),
            SigningState::Ready
        );
        assert_eq!(
            SigningState::decide(&own(1, None, 1), Some(3), None),
            SigningState::Checking { held: 4 }
        );
    }

    #[test]
    fn the_catching_up_message_says_how_far_the_node_is_and_what_to_watch() {
        let e = NotReady::CatchingUp {
            held: 3072,
            known: 5705,
        };
        let text = e.to_string();
        assert!(
            text.starts_with("this node holds 3072 of its own 5705 records known to peers"),
            "{text}"
        );
        assert!(text.contains("`interlab query status`"), "{text}");
        assert_eq!(e.code(), "catching_up");
    }

    /// The owner key of `Workload::new(seed, _)` (as `testkit::Author::derived(seed, 0)`).
    fn workload_owner(seed: u64) -> SecretKey {
        let mut material = [0u8; 16];
        material[..8].copy_from_slice(&seed.to_be_bytes());
        SecretKey::from_bytes(&Digest::of("interlab synth key v1", &material).0)
    }

    fn accredit(n: u8) -> Body {
        Body::LabAccredited {
            lab: SecretKey::from_bytes(&[n; 32]).public(),
            name: format!("lab {n}"),
        }
    }

    /// A store with the first `records` of workload 9 (1 lab): 4 are the owner's alone
    /// (genesis, suite, accreditation, round), the 5th is the lab's.
    fn store_with(records: usize) -> (tempfile::TempDir, Store, SecretKey) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let mut work = Workload::new(9, 1);
        let batch = work.take(records);
        for r in store.ingest(&batch, work.now_ms()).unwrap() {
            r.unwrap();
        }
        (dir, store, workload_owner(9))
    }

    #[tokio::test]
    async fn without_a_network_only_a_new_scheme_or_the_override_lets_the_node_sign() {
        // Others have records: no peer was heard, so the wait runs out and it refuses.
        let (_d, store, owner) = store_with(5);
        assert_eq!(owner.public(), store.scheme().unwrap().1);
        let p = Publisher::new(owner.clone(), store.clone(), None, false)
            .with_peer_wait(Duration::from_millis(50));
        match p.publish(accredit(1)).await {
            Err(PublishError::NotReady(NotReady::NoPeer { .. })) => {}
            other => panic!("expected NoPeer, got {other:?}"),
        }
        assert_eq!(store.head(&owner.public()).unwrap().seq, 3);
        // The operator's override.
        let p = Publisher::new(owner.clone(), store.clone(), None, true);
        let (_, env) = p.publish(accredit(2)).await.unwrap();
        assert_eq!(env.open().unwrap().record.seq, 4);
        assert_eq!(
            p.signing_status().without_peers,
            Some(WithoutPeers::Override)
        );

        // Only the owner's own records: a brand-new scheme.
        let (_d, store, owner) = store_with(4);
        let p = Publisher::new(owner, store, None, false).with_peer_wait(Duration::ZERO);
        assert_eq!(
            p.signing_status().without_peers,
            Some(WithoutPeers::NewScheme)
        );
        p.publish(accredit(3)).await.unwrap();
    }
}
