//! An endless valid signed log, for the ingest benchmark, the crash test's child process
//! and store tests. Same seed, same bytes: keys are derived from the seed, signatures are
//! deterministic Ed25519, and record times advance 1 ms per record from [`T0_MS`].

use super::{Author, T0_MS};
use crate::{
    Body, Criterion, Digest, Direction, Envelope, Environment, EvidenceRef, Measurement, Method,
    PublicKey, RunResult, SchemeId, Software, TestResult, domain,
    governance::{AssignedDecl, MetricAssessment},
    stats::{ConsensusMethod, SigmaPt},
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Run results per round before the owner opens the next one.
const RESULTS_PER_ROUND: u64 = 1000;

/// Batch sizes (1 to `max_batch`) for streaming a workload, the same for the same seed:
/// the crash test's child and its checker cut the stream identically.
pub fn batch_plan(seed: u64, max_batch: usize) -> impl Iterator<Item = usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6261_7463_6865_7321);
    let max = max_batch.max(1);
    std::iter::repeat_with(move || rng.random_range(1..=max))
}

/// The tests of the synthetic suite.
const TESTS: [&str; 3] = ["fgsm", "pgd_linf", "membership_loss"];

/// Every synthetic test's acceptance criterion.
fn criterion() -> Criterion {
    Criterion {
        metric: "robust_accuracy".into(),
        threshold: 0.4,
        direction: Direction::AtLeast,
    }
}

/// The synthetic suite's manifest (canonical CBOR): the tests with their criteria and a
/// declared consensus x_pt and prescribed σ_pt, so that a report over the log computes
/// scores as a real suite's would.
fn manifest(seed: u64) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Manifest {
        name: &'static str,
        version: &'static str,
        seed: u64,
        tests: Vec<Test>,
    }
    #[derive(serde::Serialize)]
    struct Test {
        id: &'static str,
        criterion: Criterion,
        assessment: Vec<MetricAssessment>,
    }
    crate::to_canonical_vec(&Manifest {
        name: "synthetic",
        version: "1",
        seed,
        tests: TESTS
            .iter()
            .map(|id| Test {
                id,
                criterion: criterion(),
                assessment: vec![MetricAssessment {
                    metric: "robust_accuracy".into(),
                    assigned: AssignedDecl::Consensus {
                        method: ConsensusMethod::AlgorithmA,
                    },
                    sigma_pt: SigmaPt::Prescribed { value: 0.05 },
                }],
            })
            .collect(),
    })
}

/// An endless valid log: genesis, a suite, `labs` accreditations, then run results by
/// random labs, with a new round every thousand results.
#[derive(Debug, Clone)]
pub struct Workload {
    rng: ChaCha8Rng,
    owner: Author,
    labs: Vec<Author>,
    scheme: Option<SchemeId>,
    suite: Digest,
    round: u32,
    results_in_round: u64,
    time_ms: u64,
    produced: u64,
}

impl Workload {
    /// A workload with `labs` labs (at least one), all keys derived from `seed`.
    pub fn new(seed: u64, labs: usize) -> Workload {
        Workload {
            rng: ChaCha8Rng::seed_from_u64(seed),
            owner: Author::derived(seed, 0),
            labs: (0..labs.max(1) as u64)
                .map(|i| Author::derived(seed, i + 1))
                .collect(),
            scheme: None,
            suite: Digest::default(),
            round: 0,
            results_in_round: 0,
            time_ms: T0_MS,
            produced: 0,
        }
    }

    /// The owner's key.
    pub fn owner(&self) -> PublicKey {
        self.owner.public()
    }

    /// The scheme id, once the genesis was produced.
    pub fn scheme(&self) -> Option<SchemeId> {
        self.scheme
    }

    /// Records produced so far.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    /// A clock at which every record produced so far is valid (not from the future).
    pub fn now_ms(&self) -> u64 {
        self.time_ms
    }

    /// Advances the clock one millisecond and returns it (for hand-made records).
    pub fn tick(&mut self) -> u64 {
        self.time_ms += 1;
        self.time_ms
    }

    /// The owner's chain, for hand-made owner records.
    pub fn owner_writer(&mut self) -> &mut Author {
        &mut self.owner
    }

    /// Lab `i`'s chain (`i` modulo the number of labs), for hand-made records.
    pub fn lab_writer(&mut self, i: usize) -> &mut Author {
        let n = self.labs.len();
        &mut self.labs[i % n]
    }

    /// The suite id (default until the suite was published).
    pub fn suite(&self) -> Digest {
        self.suite
    }

    /// The current round.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// A valid run result for the current suite and round.
    pub fn sample_result(&mut self) -> RunResult {
        self.run_result()
    }

    /// The next `n` envelopes, as bytes.
    pub fn take(&mut self, n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|_| self.next_envelope().to_bytes()).collect()
    }

    /// The next envelope of the log.
    pub fn next_envelope(&mut self) -> Envelope {
        self.time_ms += 1;
        self.produced += 1;
        let t = self.time_ms;
        let Some(scheme) = self.scheme else {
            let g = self.owner.append(
                None,
                t,
                Body::SchemeGenesis {
                    name: "synthetic".into(),
                    lab_codes: false,
                    contact: None,
                },
            );
            self.scheme = Some(g.id());
            return g;
        };
        let s = Some(scheme);
        if self.suite == Digest::default() {
            let manifest = manifest(self.rng.random());
            self.suite = Digest::of(domain::SUITE, &manifest);
            return self.owner.append(
                s,
                t,
                Body::SuitePublished {
                    suite: self.suite,
                    name: "synthetic".into(),
                    version: "1".into(),
                    manifest,
                    artefacts: vec![],
                    supersedes: None,
                },
            );
        }
        let accredited = self.owner.next_seq() as usize - 2;
        if let Some(lab) = self.labs.get(accredited) {
            let body = Body::LabAccredited {
                lab: lab.public(),
                name: format!("lab-{accredited}"),
            };
            return self.owner.append(s, t, body);
        }
        if self.round == 0 || self.results_in_round >= RESULTS_PER_ROUND {
            self.round += 1;
            self.results_in_round = 0;
            let body = Body::RoundOpened {
                suite: self.suite,
                round: self.round,
                deadline_ms: None,
            };
            return self.owner.append(s, t, body);
        }
        self.results_in_round += 1;
        let i = self.rng.random_range(0..self.labs.len());
        let result = self.run_result();
        self.labs[i].append(s, t, Body::RunResult(result))
    }

    /// A plausible run result: three tests, five repetitions each, two evidence digests.
    fn run_result(&mut self) -> RunResult {
        let criterion = criterion();
        let tests = TESTS
            .iter()
            .map(|name| {
                let values: Vec<f64> = (0..5).map(|_| self.rng.random_range(0.2..0.8)).collect();
                let mean = values.iter().sum::<f64>() / values.len() as f64;
                let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
                    / (values.len() - 1) as f64;
                let u = (var / values.len() as f64).sqrt();
                TestResult {
                    test: (*name).into(),
                    item: None,
                    verdict: criterion.verdict(mean),
                    criterion: criterion.id(),
                    measurements: vec![Measurement {
                        metric: "robust_accuracy".into(),
                        values,
                        mean,
                        u,
                        expanded: 2.0 * u,
                        k: 2.0,
                    }],
                    evidence: ["scores", "adversarial_rows"]
                        .iter()
                        .map(|e| EvidenceRef {
                            name: (*e).into(),
                            digest: Digest(self.rng.random()),
                            size: self.rng.random_range(1000..100_000),
                        })
                        .collect(),
                    warnings: vec![],
                    deviations: vec![],
                }
            })
            .collect();
        RunResult {
            suite: self.suite,
            round: self.round,
            model: Digest::of(domain::ARTEFACT, b"synthetic model"),
            seed: self.rng.random(),
            environment: Environment {
                hardware: "x86_64, 2 cores".into(),
                os: "linux".into(),
                software: vec![Software {
                    name: "interlab".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                }],
                threads: 1,
                executor: "synthetic".into(),
            },
            method: Method::Reference,
            tests,
            rerun_of: None,
        }
    }
}
