//! Builders for valid signed logs, shared by tests, simulations and benchmarks across
//! the workspace (feature `test-utils`). Keys come from fixed seeds, never from an RNG,
//! so every log they build is reproducible byte for byte. [`Workload`] is an endless
//! valid log for benchmarks, store tests and the crash test's child process.

mod workload;

pub use workload::{Workload, batch_plan};

use crate::{
    digest::{Digest, RecordId, SchemeId, domain},
    envelope::Envelope,
    keys::{PublicKey, SecretKey},
    measurement::{
        Criterion, Direction, Environment, Measurement, Method, RunResult, Software, TestResult,
        Verdict,
    },
    record::{Body, RECORD_VERSION, Record},
};

/// Time of the first record of every test log (2026-01-01T00:00:00Z).
pub const T0_MS: u64 = 1_767_225_600_000;

/// An author writing its own hash chain.
#[derive(Debug, Clone)]
pub struct Author {
    key: SecretKey,
    seq: u64,
    prev: Option<RecordId>,
    time_ms: u64,
    scheme: Option<SchemeId>,
}

impl Author {
    /// An author whose secret key is 32 copies of `seed` mixed through BLAKE3.
    pub fn new(seed: u64) -> Author {
        let bytes = Digest::of("interlab testkit key", &seed.to_be_bytes()).0;
        Author {
            key: SecretKey::from_bytes(&bytes),
            seq: 0,
            prev: None,
            time_ms: T0_MS,
            scheme: None,
        }
    }

    /// An author whose key is derived from `seed` and `index` (the keys of a [`Workload`]).
    pub fn derived(seed: u64, index: u64) -> Author {
        let mut material = [0u8; 16];
        material[..8].copy_from_slice(&seed.to_be_bytes());
        material[8..].copy_from_slice(&index.to_be_bytes());
        Author::from_key(SecretKey::from_bytes(
            &Digest::of("interlab synth key v1", &material).0,
        ))
    }

    /// An author with the given key, at the start of its chain.
    pub fn from_key(key: SecretKey) -> Author {
        Author {
            key,
            seq: 0,
            prev: None,
            time_ms: T0_MS,
            scheme: None,
        }
    }

    /// The author's public key.
    pub fn public(&self) -> PublicKey {
        self.key.public()
    }

    /// The author's secret key.
    pub fn secret(&self) -> &SecretKey {
        &self.key
    }

    /// Sets the scheme this author's records name.
    pub fn join(&mut self, scheme: SchemeId) {
        self.scheme = Some(scheme);
    }

    /// The seq the next record will take.
    pub fn next_seq(&self) -> u64 {
        self.seq
    }

    /// The id of the last record of the chain.
    pub fn last_id(&self) -> Option<RecordId> {
        self.prev
    }

    /// The next record with an explicit scheme and time (without signing or advancing).
    pub fn record_at(&self, scheme: Option<SchemeId>, time_ms: u64, body: Body) -> Record {
        Record {
            v: RECORD_VERSION,
            author: self.key.public(),
            scheme,
            seq: self.seq,
            prev: self.prev,
            time_ms,
            body,
        }
    }

    /// Signs the next record with an explicit scheme and time and advances the chain (the
    /// author's own clock and scheme are left alone).
    pub fn append(&mut self, scheme: Option<SchemeId>, time_ms: u64, body: Body) -> Envelope {
        let env = self.sign(&self.record_at(scheme, time_ms, body));
        self.seq += 1;
        self.prev = Some(env.id());
        env
    }

    /// Builds the next record (without signing or advancing).
    pub fn record(&self, body: Body) -> Record {
        Record {
            v: RECORD_VERSION,
            author: self.key.public(),
            scheme: if matches!(body, Body::SchemeGenesis { .. }) {
                None
            } else {
                self.scheme
            },
            seq: self.seq,
            prev: self.prev,
            time_ms: self.time_ms,
            body,
        }
    }

    /// Signs the next record of the chain and advances it (time advances 1 s a record).
    pub fn next(&mut self, body: Body) -> Envelope {
        let env = Envelope::seal(&self.key, &self.record(body));
        self.seq += 1;
        self.prev = Some(env.id());
        self.time_ms += 1000;
        env
    }

    /// Signs an arbitrary record with this author's key, without advancing the chain.
    pub fn sign(&self, record: &Record) -> Envelope {
        Envelope::seal(&self.key, record)
    }
}

/// A scheme with an owner and accredited labs, and the envelopes that created it.
#[derive(Debug, Clone)]
pub struct TestScheme {
    /// The scheme owner.
    pub owner: Author,
    /// The labs, accredited in order.
    pub labs: Vec<Author>,
    /// The scheme id (the genesis record id).
    pub id: SchemeId,
    /// Genesis then one accreditation per lab, in the owner's chain order.
    pub envelopes: Vec<Envelope>,
}

impl TestScheme {
    /// Creates a scheme named `name` with `labs` accredited labs (keys from `seed`).
    pub fn new(name: &str, labs: usize, seed: u64) -> TestScheme {
        let mut owner = Author::new(seed.wrapping_mul(1000));
        let genesis = owner.next(Body::SchemeGenesis {
            name: name.into(),
            lab_codes: false,
            contact: None,
        });
        let id = genesis.id();
        owner.join(id);
        let mut envelopes = vec![genesis];
        let mut lab_authors = Vec::new();
        for i in 0..labs {
            let mut lab = Author::new(seed.wrapping_mul(1000) + 1 + i as u64);
            lab.join(id);
            envelopes.push(owner.next(Body::LabAccredited {
                lab: lab.public(),
                name: format!("lab-{i}"),
            }));
            lab_authors.push(lab);
        }
        // Labs start writing after they were accredited.
        for lab in &mut lab_authors {
            lab.time_ms = owner.time_ms;
        }
        TestScheme {
            owner,
            labs: lab_authors,
            id,
            envelopes,
        }
    }

    /// Envelope bytes of everything built so far.
    pub fn bytes(&self) -> Vec<Vec<u8>> {
        self.envelopes.iter().map(Envelope::to_bytes).collect()
    }
}

/// The criterion the sample results apply.
pub fn sample_criterion() -> Criterion {
    Criterion {
        metric: "robust_accuracy".into(),
        threshold: 0.2,
        direction: Direction::AtLeast,
    }
}

/// A plausible run result whose value depends on `value`.
pub fn sample_run_result(suite: Digest, round: u32, value: f64) -> RunResult {
    let criterion = sample_criterion();
    RunResult {
        suite,
        round,
        model: Digest::of(domain::ARTEFACT, b"model"),
        seed: 7,
        environment: Environment {
            hardware: "test cpu".into(),
            os: "linux".into(),
            software: vec![Software {
                name: "interlab".into(),
                version: "0.1.0".into(),
            }],
            threads: 1,
            executor: "testkit".into(),
        },
        method: Method::Reference,
        tests: vec![TestResult {
            test: "pgd".into(),
            item: None,
            measurements: vec![Measurement {
                metric: "robust_accuracy".into(),
                values: vec![value, value + 0.001],
                mean: value + 0.0005,
                u: 0.01,
                expanded: 0.02,
                k: 2.0,
            }],
            verdict: if criterion.verdict(value) == Verdict::Pass {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            criterion: criterion.id(),
            evidence: vec![],
            warnings: vec![],
            deviations: vec![],
        }],
        rerun_of: None,
    }
}
