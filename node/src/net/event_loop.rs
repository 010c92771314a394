//! The one task that owns the swarm: it turns swarm events and commands into
//! [`sync`](super::sync) events, performs the actions the state machine returns, and
//! serves sync requests from the store.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use interlab_protocol::{Digest, Envelope, ForkProof, PublicKey, RecordId, SecretKey, Standing};
use libp2p::{
    Multiaddr, PeerId, Swarm,
    gossipsub::{self, IdentTopic, MessageAcceptance, MessageId},
    identify, request_response,
    swarm::{ConnectionId, SwarmEvent, dial_opts::DialOpts},
};
use tokio::{
    sync::{broadcast, mpsc, oneshot, watch},
    task::JoinHandle,
};

use super::{
    NetClient, NetConfig, NetError, PeerView,
    ban::Bans,
    behaviour::{Behaviour, BehaviourEvent, build_swarm, keypair, topic_score_params},
    client::Command,
    own_chain::{OwnChain, OwnChainTracker},
    sync::{Action, Event, LocalView, Sync, Verdict},
    wire::{Gossip, MAX_GOSSIP_BYTES, SyncRequest, topic},
};
use crate::store::{Incoming, Store};

mod ingests;
mod peers;
mod serve;

use ingests::{IngestFailed, IngestOutcome, Ingests};

enum Outbound {
    Sync(SyncRequest),
    Artefact(u64),
    /// Fork proofs asked for alongside a frontier.
    Forks,
    /// The record of our own chain at this seq, which the peer's frontier claims it holds.
    OwnProof(u64),
}

struct Fetch {
    digest: Digest,
    candidates: Vec<PeerId>,
    reason: String,
    reply: oneshot::Sender<Result<Vec<u8>, NetError>>,
    /// While no peer is connected the fetch waits for one until this time (a node that
    /// just started or reconnected has no connection for a moment).
    wait_until: Option<tokio::time::Instant>,
}

enum Wake {
    Cmd(Option<Command>),
    Swarm(Box<SwarmEvent<BehaviourEvent>>),
    Ingested(Result<IngestOutcome, IngestFailed>),
    Tick,
}

struct EventLoop {
    swarm: Swarm<Behaviour>,
    store: Store,
    config: NetConfig,
    sync: Sync<PeerId, MessageId>,
    commands: mpsc::Receiver<Command>,
    accepted: broadcast::Sender<RecordId>,
    topic: Option<IdentTopic>,
    outbound: HashMap<request_response::OutboundRequestId, Outbound>,
    fetches: HashMap<u64, Fetch>,
    next_fetch: u64,
    dials: HashMap<ConnectionId, oneshot::Sender<Result<(), NetError>>>,
    ingests: Ingests,
    start: Instant,
    connected: HashMap<PeerId, Vec<Multiaddr>>,
    known: HashMap<PeerId, Vec<Multiaddr>>,
    bootstrap_peers: HashMap<Multiaddr, PeerId>,
    blocked: HashSet<PeerId>,
    bans: Bans,
    last_redial: Instant,
    me: PublicKey,
    own: OwnChainTracker<PeerId>,
    own_tx: watch::Sender<OwnChain>,
    /// The peer view readers see (`NetClient::peer_view`), refreshed on every tick and
    /// connection change: readers never queue a command behind the gossip.
    view_tx: watch::Sender<Arc<PeerView>>,
    /// The background scrub, stopped with the loop.
    scrub: Option<JoinHandle<()>>,
    /// [`Store::quarantines`] when the view was last refreshed for it.
    quarantines: u64,
}

fn local_view(store: &Store) -> LocalView {
    LocalView::new(store.scheme(), &store.frontier())
}

pub(super) async fn spawn(
    config: NetConfig,
    secret: [u8; 32],
    store: Store,
) -> Result<(NetClient, JoinHandle<()>), NetError> {
    let key = keypair(&secret)?;
    let peer_id = key.public().to_peer_id();
    let mut swarm = build_swarm(key, &config)?;
    let listen = config.listen().clone();
    swarm
        .listen_on(listen.clone())
        .map_err(|e| NetError::Listen {
            addr: listen.clone(),
            reason: e.to_string(),
        })?;
    // Wait until the listener is up, so listen_addrs() answers with a real port.
    let deadline = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::NewListenAddr { .. } => break,
                SwarmEvent::ListenerError { error, .. } => {
                    return Err(NetError::Listen { addr: listen, reason: error.to_string() });
                }
                SwarmEvent::ListenerClosed { reason: Err(e), .. } => {
                    return Err(NetError::Listen { addr: listen, reason: e.to_string() });
                }
                _ => {}
            },
            _ = &mut deadline => {
                return Err(NetError::Listen { addr: listen, reason: "no listen address after 5 s".into() });
            }
        }
    }
    let view = local_view(&store);
    // A store whose genesis is damaged still knows which scheme to fetch it from.
    let want = config.scheme().or_else(|| store.wanted_scheme());
    let sync = Sync::new(config.sync_config(), view.clone(), want);
    let (tx, commands) = mpsc::channel(256);
    let (accepted, _) = broadcast::channel(4096);
    let me = SecretKey::from_bytes(&secret).public();
    let (own_tx, own_chain) = watch::channel(OwnChain::default());
    let (view_tx, peer_view) = watch::channel(Arc::new(PeerView::default()));
    let mut el = EventLoop {
        swarm,
        store,
        sync,
        commands,
        accepted: accepted.clone(),
        topic: None,
        outbound: HashMap::new(),
        fetches: HashMap::new(),
        next_fetch: 0,
        dials: HashMap::new(),
        ingests: Ingests::default(),
        start: Instant::now(),
        connected: HashMap::new(),
        known: HashMap::new(),
        bootstrap_peers: HashMap::new(),
        blocked: HashSet::new(),
        bans: Bans::default(),
        last_redial: Instant::now(),
        me,
        own: OwnChainTracker::new(me),
        own_tx,
        view_tx,
        scrub: None,
        quarantines: 0,
        config,
    };
    el.quarantines = el.store.quarantines();
    el.scrub = el
        .config
        .scrub()
        .map(|c| tokio::spawn(super::scrub::run(el.store.clone(), c)));
    el.ensure_topic(&view);
    for addr in el.config.bootstrap().to_vec() {
        if let Err(e) = el.swarm.dial(addr.clone()) {
            tracing::warn!(%addr, "cannot dial bootstrap peer: {e}");
        }
    }
    let handle = tokio::spawn(el.run());
    Ok((
        NetClient {
            tx,
            accepted,
            peer_id,
            own_chain,
            peer_view,
        },
        handle,
    ))
}

impl EventLoop {
    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    async fn run(mut self) {
        let period = (self.config.sync_interval() / 4)
            .clamp(Duration::from_millis(25), Duration::from_millis(500));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wake = tokio::select! {
                c = self.commands.recv() => Wake::Cmd(c),
                e = self.swarm.select_next_some() => Wake::Swarm(Box::new(e)),
                r = self.ingests.next() => Wake::Ingested(r),
                _ = tick.tick() => Wake::Tick,
            };
            match wake {
                Wake::Cmd(None) => break,
                Wake::Cmd(Some(Command::Shutdown(reply))) => {
                    // Let the store finish its transactions before stopping.
                    self.ingests.finish().await;
                    let _ = reply.send(());
                    break;
                }
                Wake::Cmd(Some(c)) => self.on_command(c),
                Wake::Swarm(e) => self.on_swarm(*e),
                Wake::Ingested(r) => {
                    let (results, view) = match r {
                        Ok((Ok(results), view)) => (results, view),
                        Ok((Err(e), view)) => {
                            tracing::error!("store ingest failed: {e}");
                            (Vec::new(), view)
                        }
                        Err(e) => {
                            tracing::error!("store ingest task failed: {e}");
                            (Vec::new(), local_view(&self.store))
                        }
                    };
                    self.ensure_topic(&view);
                    self.feed(Event::Ingested { results, view });
                }
                Wake::Tick => {
                    self.expire_waiting_fetches();
                    self.on_quarantine();
                    self.feed(Event::Tick);
                    self.enforce_bans();
                    self.redial();
                    self.publish_view();
                }
            }
        }
        if let Some(scrub) = self.scrub.take() {
            scrub.abort();
        }
    }

    /// Records quarantined since the last look lower a chain's head: tell the state
    /// machine, and ask peers for their frontiers so that the records are fetched again.
    fn on_quarantine(&mut self) {
        let q = self.store.quarantines();
        if q == self.quarantines {
            return;
        }
        self.quarantines = q;
        self.feed(Event::LocalChanged(local_view(&self.store)));
        self.feed(Event::SyncNow);
    }

    fn feed(&mut self, event: Event<PeerId, MessageId>) {
        let now = self.now();
        let actions = self.sync.handle(event, now);
        for a in actions {
            self.perform(a);
        }
    }

    fn perform(&mut self, action: Action<PeerId, MessageId>) {
        match action {
            Action::Request { peer, request } => {
                if let SyncRequest::Frontier { scheme } = request {
                    // Fork proofs travel with every frontier exchange: gossip alone can
                    // lose them (a relay that saw both branches rejects the second).
                    let id = self
                        .swarm
                        .behaviour_mut()
                        .sync
                        .send_request(&peer, SyncRequest::Forks { scheme });
                    self.outbound.insert(id, Outbound::Forks);
                }
                let id = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_request(&peer, request.clone());
                self.outbound.insert(id, Outbound::Sync(request));
            }
            Action::Ingest(batch) => {
                self.ingests.start(&self.store, batch);
            }
            Action::Report { msg, from, verdict } => {
                let acceptance = match verdict {
                    Verdict::Accept => MessageAcceptance::Accept,
                    Verdict::Reject => MessageAcceptance::Reject,
                    Verdict::Ignore => MessageAcceptance::Ignore,
                };
                self.swarm
                    .behaviour_mut()
                    .gossip
                    .report_message_validation_result(&msg, &from, acceptance);
            }
            Action::Fork(proof) => {
                if let Err(e) = self.store.add_fork(&proof) {
                    tracing::error!("cannot store fork proof: {e}");
                }
                tracing::warn!("equivocation detected; gossiping the fork proof");
                if let Err(e) = self.gossip(Gossip::Fork(proof.to_bytes())) {
                    tracing::warn!("cannot gossip fork proof: {e}");
                }
            }
            Action::Accepted(ids) => {
                for id in ids {
                    let _ = self.accepted.send(id);
                }
            }
        }
    }

    fn ensure_topic(&mut self, view: &LocalView) {
        if self.topic.is_some() {
            return;
        }
        let Some((scheme, _)) = view.scheme else {
            return;
        };
        let t = topic(&scheme);
        let g = &mut self.swarm.behaviour_mut().gossip;
        if let Err(e) = g.subscribe(&t) {
            tracing::error!("cannot subscribe to {t}: {e}");
            return;
        }
        if let Err(e) = g.set_topic_params(t.clone(), topic_score_params()) {
            tracing::error!("cannot set score parameters of {t}: {e}");
        }
        self.topic = Some(t);
    }

    pub(super) fn gossip(&mut self, g: Gossip) -> Result<(), NetError> {
        let Some(t) = self.topic.clone() else {
            return Err(NetError::NoScheme);
        };
        self.publish_bytes(t, g.to_bytes())
    }

    fn publish_bytes(&mut self, t: IdentTopic, data: Vec<u8>) -> Result<(), NetError> {
        if data.len() > MAX_GOSSIP_BYTES {
            return Err(NetError::Publish(format!(
                "message is {} bytes, over the gossip limit of {MAX_GOSSIP_BYTES}",
                data.len()
            )));
        }
        match self.swarm.behaviour_mut().gossip.publish(t, data) {
            Ok(_)
            | Err(gossipsub::PublishError::Duplicate)
            | Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => Ok(()),
            Err(e) => Err(NetError::Publish(e.to_string())),
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Publish(bytes, reply) => {
                let r = self.publish(bytes);
                let _ = reply.send(r);
            }
            Command::PublishFork(proof, reply) => {
                let r = self.gossip(Gossip::Fork(proof.to_bytes()));
                let _ = reply.send(r);
            }
            Command::PublishRaw(data, reply) => {
                let r = match self.topic.clone() {
                    Some(t) => self.publish_bytes(t, data),
                    None => Err(NetError::NoScheme),
                };
                let _ = reply.send(r);
            }
            Command::Peers(reply) => {
                let _ = reply.send(self.peer_list());
            }
            Command::Banned(reply) => {
                let _ = reply.send(self.banned_list());
            }
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::FetchArtefact(digest, reply) => self.fetch_artefact(digest, reply),
            Command::Dial(addr, reply) => {
                let opts = DialOpts::unknown_peer_id().address(addr.clone()).build();
                let id = opts.connection_id();
                match self.swarm.dial(opts) {
                    Ok(()) => {
                        self.dials.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(NetError::Dial {
                            addr,
                            reason: e.to_string(),
                        }));
                    }
                }
            }
            Command::SyncNow(reply) => {
                self.feed(Event::SyncNow);
                let _ = reply.send(());
            }
            Command::SetBlocked(peers, reply) => {
                let new: HashSet<PeerId> = peers.into_iter().collect();
                let block = &mut self.swarm.behaviour_mut().block;
                for p in self.blocked.difference(&new) {
                    block.unblock_peer(*p);
                }
                for p in new.difference(&self.blocked) {
                    block.block_peer(*p);
                }
                self.blocked = new;
                let _ = reply.send(());
            }
            Command::Shutdown(reply) => {
                let _ = reply.send(());
            }
        }
    }

    fn publish(&mut self, bytes: Vec<u8>) -> Result<(), NetError> {
        let env = Envelope::decode(&bytes).map_err(|e| NetError::BadEnvelope(e.to_string()))?;
        let view = local_view(&self.store);
        self.ensure_topic(&view);
        self.gossip(Gossip::Record(bytes))?;
        let _ = self.accepted.send(env.id());
        self.feed(Event::LocalChanged(view));
        Ok(())
    }
    fn on_fork_gossip(&mut self, from: PeerId, msg: MessageId, bytes: &[u8]) {
        let verdict = match self.take_fork(bytes) {
            Ok(true) => MessageAcceptance::Accept,
            Ok(false) => MessageAcceptance::Ignore,
            Err(()) => MessageAcceptance::Reject,
        };
        self.swarm
            .behaviour_mut()
            .gossip
            .report_message_validation_result(&msg, &from, verdict);
    }

    /// Checks and stores a fork proof: `Ok(true)` when it is new, `Ok(false)` when it is
    /// known or about an author without standing here, `Err` when it proves nothing.
    pub(super) fn take_fork(&mut self, bytes: &[u8]) -> Result<bool, ()> {
        let proof = ForkProof::decode(bytes).map_err(|_| ())?;
        let fork = proof.verify().map_err(|_| ())?;
        if self.store.authority().standing(&fork.author) == Standing::Unknown {
            return Ok(false);
        }
        match self.store.add_fork(&proof) {
            Ok(true) => {
                tracing::warn!(author = %fork.author, seq = fork.seq, "fork proof received");
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(e) => {
                tracing::error!("cannot store fork proof: {e}");
                Ok(false)
            }
        }
    }

    /// Refuses a gossip message outright (it is not relayed, and its sender is penalised).
    fn reject_gossip(&mut self, msg: &MessageId, from: &PeerId) {
        self.swarm
            .behaviour_mut()
            .gossip
            .report_message_validation_result(msg, from, MessageAcceptance::Reject);
    }

    fn on_swarm(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                let envelope = match Gossip::decode(&message.data) {
                    // Bytes that are not a canonical envelope within the size bound are
                    // refused here, before they take a place in the ingest queue.
                    // The decoded form goes on to the store, which does not decode it again.
                    Ok(Gossip::Record(bytes)) => match Incoming::decode(bytes) {
                        Ok(envelope) => envelope,
                        Err(e) => {
                            tracing::debug!(peer = %propagation_source, error = %e, "gossip is not a canonical envelope");
                            return self.reject_gossip(&message_id, &propagation_source);
                        }
                    },
                    Ok(Gossip::Fork(bytes)) => {
                        return self.on_fork_gossip(propagation_source, message_id, &bytes);
                    }
                    Err(_) => {
                        tracing::debug!(peer = %propagation_source, "gossip is not a gossip message");
                        return self.reject_gossip(&message_id, &propagation_source);
                    }
                };
                self.feed(Event::Gossip {
                    from: propagation_source,
                    msg: message_id,
                    envelope,
                });
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(ev)) => self.on_sync(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                let addrs: Vec<Multiaddr> = info.listen_addrs.into_iter().take(8).collect();
                self.known.insert(peer_id, addrs);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                if let Some(reply) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Ok(()));
                }
                let addr = endpoint.get_remote_address().clone();
                if endpoint.is_dialer() && self.config.bootstrap().contains(&addr) {
                    self.bootstrap_peers.insert(addr.clone(), peer_id);
                }
                let addrs = self.connected.entry(peer_id).or_default();
                if !addrs.contains(&addr) {
                    addrs.push(addr);
                }
                if num_established.get() == 1 {
                    self.feed(Event::PeerUp(peer_id));
                    self.resume_waiting_fetches(peer_id);
                }
                self.publish_view();
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                endpoint,
                ..
            } => {
                if let Some(addrs) = self.connected.get_mut(&peer_id) {
                    addrs.retain(|a| a != endpoint.get_remote_address());
                }
                if num_established == 0 {
                    self.connected.remove(&peer_id);
                    self.feed(Event::PeerDown(peer_id));
                }
                self.publish_view();
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                peer_id,
            } => {
                if let Some(reply) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Err(NetError::Dial {
                        addr: Multiaddr::empty(),
                        reason: error.to_string(),
                    }));
                }
                tracing::debug!(?peer_id, "outgoing connection failed: {error}");
            }
            _ => {}
        }
    }
}
