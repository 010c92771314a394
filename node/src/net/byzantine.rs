//! A byzantine peer: what a malicious accredited lab can put on the wire, so that tests
//! and `interlab bench-net byzantine` can check that honest nodes reject all of it, stop
//! listening to the sender, and keep propagating honest records.
//!
//! The attacker is a real node (real libp2p swarm, real TCP) that publishes unchecked
//! bytes on the scheme topic. Nothing here weakens a node: any peer can craft the same
//! bytes with its own libp2p client.

use interlab_protocol::{
    Body, Envelope, Grounds, MAX_ENVELOPE_BYTES, PublicKey, RECORD_VERSION, Record, RecordId,
    SchemeId, SecretKey,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{NetClient, NetError, wire::Gossip};
use crate::{publisher::now_ms, store::Store};

/// The kinds of hostile message, sent in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hostile {
    /// A record in an honest lab's name whose signature does not verify.
    ForgedSignature,
    /// A validly signed record of the attacker in non-canonical CBOR.
    NonCanonical,
    /// A record envelope larger than the protocol allows.
    Oversized,
    /// A genuine record of another scheme, replayed into this one. (Exact replays of
    /// this scheme's records never reach validation: gossipsub drops them by message id,
    /// which is the record id, at the sender's own node already.)
    Replay,
    /// A record signed by a key nobody accredited.
    UnknownAuthor,
    /// Bytes that are not a gossip message at all.
    Garbage,
}

impl Hostile {
    /// Every kind, in the order they are sent.
    pub const ALL: [Hostile; 6] = [
        Hostile::ForgedSignature,
        Hostile::NonCanonical,
        Hostile::Oversized,
        Hostile::Replay,
        Hostile::UnknownAuthor,
        Hostile::Garbage,
    ];
}

/// What the attacker sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AttackLog {
    /// Messages published, by kind.
    pub sent: std::collections::BTreeMap<Hostile, u64>,
    /// Ids of the hostile records that must never be stored by an honest node.
    #[serde(skip)]
    pub forbidden: Vec<RecordId>,
    /// The two records of the equivocation, when one was made.
    #[serde(skip)]
    pub equivocation: Option<(RecordId, RecordId)>,
    /// Publish calls the attacker's own node refused (e.g. no peer left to send to).
    pub refused: u64,
}

/// A malicious lab: its key (accredited, so that its equivocation counts), the scheme,
/// and its own node's store (to find records to replay and its chain head).
#[derive(Debug)]
pub struct Attacker {
    key: SecretKey,
    scheme: SchemeId,
    rng: ChaCha8Rng,
    stranger: SecretKey,
    /// Owner of another scheme whose genuine records are replayed here, and its chain.
    elsewhere: SecretKey,
    elsewhere_head: Option<(u64, RecordId, SchemeId)>,
    /// Makes every hostile body unique, so that gossipsub's duplicate filter does not
    /// spare the honest nodes the work of rejecting it.
    counter: u64,
}

impl Attacker {
    /// An attacker signing with `key` in `scheme`; `seed` fixes every choice it makes.
    pub fn new(key: SecretKey, scheme: SchemeId, seed: u64) -> Attacker {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let stranger = SecretKey::from_bytes(&rng.random());
        let elsewhere = SecretKey::from_bytes(&rng.random());
        Attacker {
            key,
            scheme,
            rng,
            stranger,
            elsewhere,
            elsewhere_head: None,
            counter: 0,
        }
    }

    fn record(&mut self, author: PublicKey, seq: u64, prev: Option<RecordId>) -> Record {
        self.counter += 1;
        Record {
            v: RECORD_VERSION,
            author,
            scheme: Some(self.scheme),
            seq,
            prev,
            time_ms: now_ms(),
            body: Body::Dispute {
                target: self.scheme,
                grounds: Grounds::Outlier,
                statement: format!("hostile {} {}", self.counter, self.rng.random::<u64>()),
                evidence: vec![],
            },
        }
    }

    /// Two different records at the attacker's next chain position, each validly signed.
    pub fn equivocate(&mut self, store: &Store) -> (Envelope, Envelope) {
        let me = self.key.public();
        let head = store.head(&me);
        let (seq, prev) = head.map_or((0, None), |h| (h.seq + 1, Some(h.id)));
        let (ra, rb) = (self.record(me, seq, prev), self.record(me, seq, prev));
        let a = Envelope::seal(&self.key, &ra);
        let b = Envelope::seal(&self.key, &rb);
        (a, b)
    }

    /// One hostile gossip message of the given kind, and the record id an honest node
    /// must never store because of it (when it names one).
    pub fn message(&mut self, kind: Hostile, store: &Store) -> (Vec<u8>, Option<RecordId>) {
        match kind {
            Hostile::ForgedSignature => {
                // In the name of some other author the store knows (else the owner's).
                let victim = store
                    .frontier()
                    .into_iter()
                    .map(|f| f.author)
                    .find(|a| *a != self.key.public())
                    .unwrap_or(self.key.public());
                let head = store.head(&victim);
                let (seq, prev) = head.map_or((0, None), |h| (h.seq + 1, Some(h.id)));
                let rec = self.record(victim, seq, prev);
                let mut env = Envelope::seal(&self.key, &rec);
                env.author = victim;
                let id = env.id();
                (Gossip::Record(env.to_bytes()).to_bytes(), Some(id))
            }
            Hostile::NonCanonical => {
                let me = self.key.public();
                let head = store.head(&me);
                // A far-future seq: even decoded leniently it could never be stored.
                let seq = head.map_or(0, |h| h.seq) + 1_000_000;
                let rec = self.record(me, seq, None);
                let env = Envelope::seal(&self.key, &rec);
                let id = env.id();
                (Gossip::Record(longer_key_header(&env)).to_bytes(), Some(id))
            }
            Hostile::Oversized => {
                let mut junk = vec![0u8; MAX_ENVELOPE_BYTES + 1 + self.rng.random_range(0..1024)];
                self.rng.fill(&mut junk[..]);
                (Gossip::Record(junk).to_bytes(), None)
            }
            Hostile::Replay => {
                let env = self.elsewhere_next();
                let id = env.id();
                (Gossip::Record(env.to_bytes()).to_bytes(), Some(id))
            }
            Hostile::UnknownAuthor => {
                let who = self.stranger.public();
                let rec = self.record(who, self.counter, None);
                let env = Envelope::seal(&self.stranger, &Record { seq: 0, ..rec });
                let id = env.id();
                (Gossip::Record(env.to_bytes()).to_bytes(), Some(id))
            }
            Hostile::Garbage => {
                let n = self.rng.random_range(1..512);
                let mut junk = vec![0u8; n];
                self.rng.fill(&mut junk[..]);
                // Never valid gossip: 0xff is a CBOR "break" with nothing to end.
                junk[0] = 0xff;
                (junk, None)
            }
        }
    }

    /// The next genuine record of the other scheme (its genesis first).
    fn elsewhere_next(&mut self) -> Envelope {
        let owner = self.elsewhere.public();
        let Some((seq, prev, scheme)) = self.elsewhere_head else {
            let genesis = Record {
                v: RECORD_VERSION,
                author: owner,
                scheme: None,
                seq: 0,
                prev: None,
                time_ms: now_ms(),
                body: Body::SchemeGenesis {
                    name: "elsewhere".into(),
                    lab_codes: false,
                    contact: None,
                },
            };
            let env = Envelope::seal(&self.elsewhere, &genesis);
            self.elsewhere_head = Some((0, env.id(), env.id()));
            return env;
        };
        let mut rec = self.record(owner, seq + 1, Some(prev));
        rec.scheme = Some(scheme);
        let env = Envelope::seal(&self.elsewhere, &rec);
        self.elsewhere_head = Some((seq + 1, env.id(), scheme));
        env
    }

    /// Publishes the equivocation, then `count` hostile messages, one every `gap`.
    pub async fn run(
        &mut self,
        client: &NetClient,
        store: &Store,
        count: u64,
        gap: std::time::Duration,
    ) -> Result<AttackLog, NetError> {
        let mut log = AttackLog::default();
        let (a, b) = self.equivocate(store);
        log.equivocation = Some((a.id(), b.id()));
        for env in [a, b] {
            if client
                .publish_raw(Gossip::Record(env.to_bytes()).to_bytes())
                .await
                .is_err()
            {
                log.refused += 1;
            }
        }
        let mut ticker = tokio::time::interval(gap.max(std::time::Duration::from_micros(100)));
        for i in 0..count {
            ticker.tick().await;
            let kind = Hostile::ALL[(i % Hostile::ALL.len() as u64) as usize];
            let (data, forbidden) = self.message(kind, store);
            if client.publish_raw(data).await.is_err() {
                log.refused += 1;
                continue;
            }
            *log.sent.entry(kind).or_default() += 1;
            log.forbidden.extend(forbidden);
        }
        Ok(log)
    }
}

/// The envelope's bytes with the author key's length written in two bytes instead of
/// one: the same value, non-canonical.
fn longer_key_header(env: &Envelope) -> Vec<u8> {
    let bytes = env.to_bytes();
    let key = env.author.as_bytes();
    let at = bytes
        .windows(34)
        .position(|w| w[0] == 0x58 && w[1] == 32 && &w[2..] == key);
    match at {
        Some(at) => {
            let mut out = bytes[..at].to_vec();
            out.extend_from_slice(&[0x59, 0x00, 32]);
            out.extend_from_slice(&bytes[at + 2..]);
            out
        }
        None => bytes,
    }
}
