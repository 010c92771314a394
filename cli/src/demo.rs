//! `interlab demo`: a whole scheme on loopback in one process — an owner and labs as real
//! nodes (real libp2p over TCP, real stores, real HTTP APIs), a real round of the digits
//! suite with the differences a real network sees, a dispute, and the report.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use interlab_protocol::{Body, Digest, Envelope, Grounds, RECORD_VERSION, Record};
use interlab_suites::{Precision, RunConfig};

mod summary;

pub(crate) use summary::{DemoLab, DemoSummary};

use crate::ops::{self, Deviation, OpsError};
use interlab_node::{
    api::types::ComparabilityAnswer,
    client::{ApiClient, ClientError, ReportQuery},
    config::{Config, NodeDir},
    publisher::now_ms,
    runtime::{self, Overrides, RunningNode},
    store::Store,
};

/// The digits suite with its test items, the owner's sealed known answers and one lab's
/// ART results, shipped inside the binary so the demo runs from anywhere.
const SUITE_FILES: [(&str, &[u8]); 11] = [
    (
        "suite.toml",
        include_bytes!("../../reference-suites/suites/digits-mlp/suite.toml"),
    ),
    (
        "data.safetensors",
        include_bytes!("../../reference-suites/suites/digits-mlp/data.safetensors"),
    ),
    (
        "mlp_init.safetensors",
        include_bytes!("../../reference-suites/suites/digits-mlp/mlp_init.safetensors"),
    ),
    (
        "mlp_trained.safetensors",
        include_bytes!("../../reference-suites/suites/digits-mlp/mlp_trained.safetensors"),
    ),
    (
        "poisoning_inputs.safetensors",
        include_bytes!("../../reference-suites/suites/digits-mlp/poisoning_inputs.safetensors"),
    ),
    (
        "items/mlp_robust_pgd.safetensors",
        include_bytes!("../../reference-suites/suites/digits-mlp/items/mlp_robust_pgd.safetensors"),
    ),
    (
        "items/mlp_overfit.safetensors",
        include_bytes!("../../reference-suites/suites/digits-mlp/items/mlp_overfit.safetensors"),
    ),
    (
        "items/mlp_kat_backdoor.safetensors",
        include_bytes!(
            "../../reference-suites/suites/digits-mlp/items/mlp_kat_backdoor.safetensors"
        ),
    ),
    (
        "items/kat_members.safetensors",
        include_bytes!("../../reference-suites/suites/digits-mlp/items/kat_members.safetensors"),
    ),
    (
        "owner/sample-d.sealed.json",
        include_bytes!("../../reference-suites/suites/digits-mlp/owner/sample-d.sealed.json"),
    ),
    (
        "art/base-art-1.20.1.json",
        include_bytes!("../../reference-suites/suites/digits-mlp/art/base-art-1.20.1.json"),
    ),
];

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum DemoError {
    /// Setting up a node directory.
    #[error("setting up {path}: {message}")]
    Setup {
        /// The directory.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A node did not start.
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
    /// An API call failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A workflow failed.
    #[error(transparent)]
    Ops(#[from] OpsError),
    /// Nodes did not agree in time.
    #[error("nodes did not converge within {secs} s: {1}", secs = .0.as_secs())]
    NoConvergence(Duration, String),
    /// Bad settings.
    #[error("{0}")]
    Settings(String),
}

/// Demo settings.
#[derive(Debug, Clone)]
pub(crate) struct DemoOptions {
    /// Number of labs (at least 3: the last two deviate on purpose).
    pub labs: usize,
    /// Seed of the honest labs' runs.
    pub seed: u64,
    /// Where node directories go.
    pub dir: PathBuf,
    /// Bind the owner's API (and dashboard) here.
    pub serve: Option<String>,
}

/// What a lab does differently, as a real network would see it.
#[derive(Debug, Clone)]
struct LabPlan {
    name: String,
    threads: usize,
    precision: Precision,
    seed_offset: u64,
    eps: Option<f64>,
    lax: Option<f64>,
    /// Submits the shipped IBM ART results instead of running the engine.
    art: bool,
    story: &'static str,
}

impl LabPlan {
    fn honest(
        name: String,
        threads: usize,
        precision: Precision,
        seed_offset: u64,
        story: &'static str,
    ) -> Self {
        LabPlan {
            name,
            threads,
            precision,
            seed_offset,
            eps: None,
            lax: None,
            art: false,
            story,
        }
    }
}

/// `n` labs: honest ones with the variation a real network has (threads, f64 gradients,
/// their own seeds for the random-start attacks, one lab using IBM ART), then a lab that
/// judges verdicts with a laxer threshold and one that runs another ε.
fn plans(n: usize) -> Vec<LabPlan> {
    let honest: [(usize, Precision, u64, bool, &str); 4] = [
        (
            1,
            Precision::F32,
            0,
            false,
            "reference setup: 1 thread, f32 gradients",
        ),
        (2, Precision::F32, 1, false, "2 threads, its own seed"),
        (1, Precision::F64, 2, false, "f64 gradients, its own seed"),
        (
            1,
            Precision::F32,
            0,
            true,
            "uses IBM ART 1.20.1 and submits its results",
        ),
    ];
    let mut out = Vec::new();
    for i in 0..n.saturating_sub(2) {
        let (threads, precision, seed_offset, art, story) = honest[i % honest.len()];
        let mut p = LabPlan::honest(
            format!("lab-{}", i + 1),
            threads,
            precision,
            seed_offset + (i / honest.len()) as u64 * 10,
            story,
        );
        p.art = art && i < honest.len();
        out.push(p);
    }
    let mut lax = LabPlan::honest(
        format!("lab-{}", n - 1),
        1,
        Precision::F32,
        0,
        "judges verdicts with a threshold 0.05 laxer than the suite's criterion",
    );
    lax.lax = Some(0.05);
    out.push(lax);
    let mut eps = LabPlan::honest(
        format!("lab-{n}"),
        2,
        Precision::F32,
        0,
        "runs the evasion tests at ε = 0.15 instead of 0.1",
    );
    eps.eps = Some(0.15);
    out.push(eps);
    out
}

fn setup_dir(
    root: &Path,
    name: &str,
) -> Result<(NodeDir, interlab_protocol::SecretKey), DemoError> {
    let dir = NodeDir::new(root.join(name));
    let err = |message: String| DemoError::Setup {
        path: dir.root().to_path_buf(),
        message,
    };
    let config = Config::default()
        .with_name(name)
        .build()
        .map_err(|e| err(e.to_string()))?;
    let (key, _) = dir.init(&config).map_err(|e| err(e.to_string()))?;
    Ok((dir, key))
}

/// Progress sink: a step name and a message.
pub(crate) trait DemoProgress {
    /// A step started or advanced.
    fn step(&mut self, message: &str);
}

impl<F: FnMut(&str)> DemoProgress for F {
    fn step(&mut self, message: &str) {
        self(message)
    }
}

/// A finished demo: the nodes still run until [`Demo::shutdown`].
#[derive(Debug)]
pub(crate) struct Demo {
    /// The async runtime the nodes run on.
    pub runtime: tokio::runtime::Runtime,
    /// Owner first, then labs.
    pub nodes: Vec<RunningNode>,
    /// The summary (`--json` prints it).
    pub summary: DemoSummary,
    /// The comparability answer of the owner's node.
    pub answer: ComparabilityAnswer,
}

impl Demo {
    /// Stops every node.
    pub(crate) fn shutdown(self) {
        let Demo { runtime, nodes, .. } = self;
        runtime.block_on(async move {
            for n in nodes {
                n.shutdown().await;
            }
        });
    }
}

/// Runs the demo.
pub(crate) fn run(opts: &DemoOptions, progress: &mut impl DemoProgress) -> Result<Demo, DemoError> {
    if opts.labs < 3 {
        return Err(DemoError::Settings(format!(
            "--labs {} is too few: the demo needs at least 3 labs (the last two deviate on purpose)",
            opts.labs
        )));
    }
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| DemoError::Settings(format!("cannot start the async runtime: {e}")))?;

    // The scheme owner creates the scheme before its node starts.
    progress.step("creating the scheme owner and the scheme");
    let (owner_dir, owner_key) = setup_dir(&opts.dir, "owner")?;
    let store = Store::open(&owner_dir.store()).map_err(|e| DemoError::Setup {
        path: owner_dir.store(),
        message: e.to_string(),
    })?;
    let genesis = Envelope::seal(
        &owner_key,
        &Record {
            v: RECORD_VERSION,
            author: owner_key.public(),
            scheme: None,
            seq: 0,
            prev: None,
            time_ms: now_ms(),
            body: Body::SchemeGenesis {
                name: "EU AI Act cybersecurity PT (demo)".into(),
                lab_codes: false,
                contact: Some(
                    "the demo's scheme owner (a real scheme gives an address here)".into(),
                ),
            },
        },
    );
    let scheme = match store.ingest(&[genesis.to_bytes()], now_ms()) {
        Ok(mut r) => match r.pop() {
            Some(Ok(id)) => id,
            Some(Err(rejection)) => {
                return Err(DemoError::Settings(format!("genesis refused: {rejection}")));
            }
            None => {
                return Err(DemoError::Settings(
                    "genesis refused: the store returned no verdict".to_owned(),
                ));
            }
        },
        Err(e) => return Err(DemoError::Settings(e.to_string())),
    };
    drop(store);
    let owner_overrides = Overrides {
        api: opts.serve.clone(),
        scheme: Some(scheme),
        sync_interval: Some(Duration::from_millis(500)),
        ..Overrides::default()
    };
    let owner = rt.block_on(runtime::start(&owner_dir, owner_overrides))?;
    let bootstrap = owner.info.p2p.clone();
    let owner_api = ApiClient::for_dir(owner_dir.root())?;

    // Labs: their own keys and nodes, joining the scheme by its id.
    let plans = plans(opts.labs);
    let mut nodes = vec![owner];
    let mut labs = Vec::new();
    for p in &plans {
        progress.step(&format!("starting {} and accrediting it", p.name));
        let (dir, key) = setup_dir(&opts.dir, &p.name)?;
        let node = rt.block_on(runtime::start(
            &dir,
            Overrides {
                bootstrap: bootstrap.clone(),
                scheme: Some(scheme),
                sync_interval: Some(Duration::from_millis(500)),
                ..Overrides::default()
            },
        ))?;
        owner_api.publish(&Body::LabAccredited {
            lab: key.public(),
            name: p.name.clone(),
        })?;
        labs.push((p.clone(), ApiClient::for_dir(dir.root())?));
        nodes.push(node);
    }

    // The owner publishes the suite and opens round 1.
    progress.step("publishing the digits-mlp reference suite and opening round 1");
    let suite_dir = opts.dir.join("suite");
    std::fs::create_dir_all(&suite_dir).map_err(|e| DemoError::Setup {
        path: suite_dir.clone(),
        message: e.to_string(),
    })?;
    for (name, bytes) in SUITE_FILES {
        let path = suite_dir.join(name);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, bytes));
        written.map_err(|e| DemoError::Setup {
            path: path.clone(),
            message: e.to_string(),
        })?;
    }
    let (suite, _) = ops::publish_suite(&owner_api, &suite_dir.join("suite.toml"), None)?;
    owner_api.publish(&Body::RoundOpened {
        suite,
        round: 1,
        deadline_ms: None,
    })?;

    // Every lab runs the whole suite on its own node, with its own differences.
    let mut result_ids = BTreeMap::new();
    for (i, (p, client)) in labs.iter().enumerate() {
        wait_for_suite(client, &suite)?;
        progress.step(&format!(
            "{} ({}/{}) runs the suite: {}",
            p.name,
            i + 1,
            labs.len(),
            p.story
        ));
        if p.art {
            // The shipped results of real IBM ART runs (`art/SOURCE.md`), through the same
            // check as `interlab submit`.
            let art = read(&suite_dir.join("art/base-art-1.20.1.json"))?;
            let (id, _, _) = ops::submit_results(client, &suite, 1, &art, false)?;
            let id = id.ok_or_else(|| DemoError::Settings("submit gave no record id".into()))?;
            result_ids.insert(p.name.clone(), id);
            continue;
        }
        let mut config = RunConfig::new()
            .with_threads(p.threads)
            .with_precision(p.precision)
            .with_round(1);
        if p.seed_offset != 0 {
            config = config.with_seed(opts.seed.wrapping_add(p.seed_offset));
        } else if opts.seed != 0 {
            config = config.with_seed(opts.seed);
        }
        if let Some(eps) = p.eps {
            config = config.with_eps(eps);
        }
        let deviation = Deviation {
            lax_threshold: p.lax,
            rerun_of: None,
        };
        let (id, _) = ops::run_suite(client, &suite, config, deviation, |_| {})?;
        result_ids.insert(p.name.clone(), id);
    }

    // After the labs, the owner runs the reference implementation: its values are the
    // assigned values of the round (published after the labs', so nobody could copy them).
    progress.step("the scheme owner publishes its reference run (the assigned values)");
    ops::run_suite(
        &owner_api,
        &suite,
        RunConfig::new().with_round(1),
        Deviation::default(),
        |_| {},
    )?;

    // The first lab disputes the ε lab's result; that lab answers; the owner rules.
    progress.step("a dispute: lab-1 cannot reproduce the last lab's evasion results");
    let (eps_plan, eps_client) = labs
        .last()
        .ok_or_else(|| DemoError::Settings("no labs".into()))?;
    let first = &labs[0];
    let target = result_ids[&eps_plan.name];
    let dispute = first.1.publish(&Body::Dispute {
        target,
        grounds: Grounds::NotReproducible,
        statement: format!(
            "{}'s robust accuracies are far below what every other lab measured on the same \
             reference model; our own run is attached",
            eps_plan.name
        ),
        evidence: vec![result_ids[&first.0.name]],
    })?;
    let dispute_id = dispute.id;
    wait_for_record(eps_client, &dispute_id)?;
    eps_client.publish(&Body::DisputeResponse {
        dispute: dispute_id,
        statement: "our evasion tests ran with ε = 0.15 by mistake".into(),
        evidence: vec![],
    })?;
    wait_for_record(&owner_api, &dispute_id)?;
    owner_api.publish(&Body::DisputeResolution {
        dispute: dispute_id,
        outcome: interlab_protocol::Outcome::Upheld,
        action: interlab_protocol::Action::Exclude,
        statement: "upheld: the result does not measure the published suite; excluded".into(),
    })?;

    // The round is over: the owner reveals the blind item's known answers; every node
    // checks them against the commitment in the manifest.
    progress.step("the scheme owner reveals the known answers of the blind item sample-d");
    let sealed_path = suite_dir.join("owner/sample-d.sealed.json");
    let sealed: ops::SealedFile = serde_json::from_slice(&read(&sealed_path)?)
        .map_err(|e| DemoError::Settings(format!("{}: {e}", sealed_path.display())))?;
    ops::reveal(&owner_api, &suite, &sealed)?;

    // Everyone converges on one evidence root.
    progress.step("waiting until every node holds the same evidence");
    let clients: Vec<(String, ApiClient)> =
        std::iter::once(("owner".to_owned(), owner_api.clone()))
            .chain(labs.iter().map(|(p, c)| (p.name.clone(), c.clone())))
            .collect();
    let roots = converge(&clients, Duration::from_secs(60))?;
    // Every node answers the regulator's question from the same evidence, byte for byte.
    let round_1 = ReportQuery {
        suite: Some(suite),
        round: Some(1),
        include_disputed: false,
    };
    let mut report_digests = BTreeMap::new();
    for (name, c) in &clients {
        report_digests.insert(name.clone(), c.comparability(round_1)?.report_digest);
    }
    let answer = owner_api.comparability(round_1)?;
    let with_disputed = owner_api.comparability(ReportQuery {
        include_disputed: true,
        ..round_1
    })?;
    let summary = DemoSummary {
        scheme,
        suite,
        evidence_roots: roots,
        report_digests,
        records: answer.evidence.records,
        labs: plans
            .iter()
            .map(|p| DemoLab {
                lab: p.name.clone(),
                setup: p.story.to_owned(),
            })
            .collect(),
        flagged: answer.comparability.flags.clone(),
        report: (*answer.comparability).clone(),
        report_including_disputed: std::sync::Arc::unwrap_or_clone(with_disputed.comparability),
        dashboard: format!("{}/", nodes[0].info.api),
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(Demo {
        runtime: rt,
        nodes,
        summary,
        answer,
    })
}

/// A file of the suite folder.
fn read(path: &Path) -> Result<Vec<u8>, DemoError> {
    std::fs::read(path).map_err(|e| DemoError::Setup {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Polls `ready` until it holds or 30 s pass; `what` names the wait in the error.
fn wait_until(
    what: impl FnOnce() -> String,
    mut ready: impl FnMut() -> Result<bool, DemoError>,
) -> Result<(), DemoError> {
    let limit = Duration::from_secs(30);
    let t = Instant::now();
    while t.elapsed() < limit {
        if ready()? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(DemoError::NoConvergence(limit, what()))
}

fn wait_for_suite(client: &ApiClient, suite: &Digest) -> Result<(), DemoError> {
    let query = format!("kind=suite_published&suite={suite}");
    wait_until(
        || format!("suite {suite} did not reach {}", client.base()),
        || Ok(!client.records(&query)?.is_empty()),
    )
}

fn wait_for_record(client: &ApiClient, id: &interlab_protocol::RecordId) -> Result<(), DemoError> {
    wait_until(
        || format!("record {id} did not reach {}", client.base()),
        || Ok(client.record_answer(id).is_ok()),
    )
}

fn converge(
    clients: &[(String, ApiClient)],
    timeout: Duration,
) -> Result<BTreeMap<String, Digest>, DemoError> {
    let t = Instant::now();
    loop {
        let mut roots = BTreeMap::new();
        for (name, c) in clients {
            roots.insert(name.clone(), c.status()?.evidence_root);
        }
        let first = roots.values().next().copied();
        if roots.values().all(|r| Some(*r) == first) {
            return Ok(roots);
        }
        if t.elapsed() > timeout {
            let list: Vec<String> = roots.iter().map(|(n, r)| format!("{n}: {r}")).collect();
            return Err(DemoError::NoConvergence(timeout, list.join(", ")));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
