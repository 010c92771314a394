//! A harness that runs real `interlab` processes on loopback: a scheme owner and labs,
//! each with its own directory, store and ports, which tests can kill, restart and
//! partition.
//!
//! The `interlab` binary belongs to another package, so it is found next to the test
//! executable (`target/<profile>/interlab`, built by `cargo test --workspace`), or at
//! `$INTERLAB_BIN`; when neither exists it is built once with cargo.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod faults;
pub mod fuzz;
pub mod fuzz_model;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use interlab_node::{api::types::StatusAnswer, client::ApiClient};
use interlab_protocol::RecordId;
use serde_json::Value;

/// Path of the `interlab` binary.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(p) = std::env::var("INTERLAB_BIN") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/tests-… → target/<profile>/interlab
        let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
        let candidate = profile_dir.join("interlab");
        // Always (re)built with the harness commands (`debug`, benches), which the default
        // build leaves out; cargo makes this a no-op when it is up to date.
        {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args([
                "build",
                "-p",
                "interlab-cli",
                "--features",
                "test-utils",
                "--bin",
                "interlab",
            ]);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("run cargo build");
            assert!(status.success(), "building the interlab binary failed");
        }
        candidate
    })
}

/// Runs `interlab ARGS` to completion and returns stdout; panics with stderr on failure.
pub fn interlab(args: &[&str]) -> String {
    let out = Command::new(binary())
        .args(args)
        .output()
        .expect("run interlab");
    assert!(
        out.status.success(),
        "interlab {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One node process and its directory.
pub struct Node {
    pub name: String,
    pub dir: PathBuf,
    pub key: String,
    child: Option<Child>,
    bootstrap: Vec<String>,
    scheme: Option<String>,
    api_addr: Option<String>,
    listen: Option<String>,
    extra: Vec<String>,
}

impl Node {
    /// `interlab init` in `root/name`.
    pub fn init(root: &Path, name: &str) -> Node {
        let dir = root.join(name);
        let out = interlab(&[
            "init",
            "--dir",
            dir.to_str().unwrap(),
            "--name",
            name,
            "--json",
        ]);
        let v: Value = serde_json::from_str(out.trim()).expect("init --json");
        let key = v["public_key"]
            .as_str()
            .or_else(|| v["key"].as_str())
            .expect("public key in init output")
            .to_owned();
        Node {
            name: name.to_owned(),
            dir,
            key,
            child: None,
            bootstrap: Vec::new(),
            scheme: None,
            api_addr: None,
            listen: None,
            extra: Vec::new(),
        }
    }

    /// Starts (or restarts) the process and waits for its API to answer.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} already running", self.name);
        let _ = std::fs::remove_file(self.dir.join("node.json"));
        let mut cmd = Command::new(binary());
        cmd.args([
            "node",
            "--dir",
            self.dir.to_str().unwrap(),
            "--sync-interval",
            "0.5",
        ]);
        // Keep the same ports across restarts so peers can redial.
        if let Some(a) = &self.api_addr {
            cmd.args(["--api", a]);
        }
        if let Some(l) = &self.listen {
            cmd.args(["--listen", l]);
        }
        for b in &self.bootstrap {
            cmd.args(["--bootstrap", b]);
        }
        if let Some(s) = &self.scheme {
            cmd.args(["--scheme", s]);
        }
        cmd.args(&self.extra);
        let log = std::fs::File::create(self.dir.join("node.log")).unwrap();
        cmd.stdout(Stdio::null())
            .stderr(log)
            .env("RUST_LOG", "info");
        self.child = Some(cmd.spawn().expect("spawn interlab node"));
        let info = wait_for(Duration::from_secs(30), || {
            std::fs::read(self.dir.join("node.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        })
        .unwrap_or_else(|| panic!("{} did not start; log:\n{}", self.name, self.log()));
        let api = info["api"].as_str().unwrap().trim_start_matches("http://");
        self.api_addr = Some(api.to_owned());
        if self.listen.is_none() {
            let p2p = info["p2p"][0].as_str().unwrap();
            let listen = p2p.split("/p2p/").next().unwrap();
            self.listen = Some(listen.to_owned());
        }
        wait_for(Duration::from_secs(10), || self.client().status().ok())
            .unwrap_or_else(|| panic!("{} API does not answer", self.name));
    }

    /// Where other nodes can reach this one.
    pub fn p2p(&self) -> String {
        let info: Value =
            serde_json::from_slice(&std::fs::read(self.dir.join("node.json")).unwrap()).unwrap();
        info["p2p"][0].as_str().unwrap().to_owned()
    }

    /// The libp2p peer id.
    pub fn peer_id(&self) -> String {
        self.p2p().rsplit('/').next().unwrap().to_owned()
    }

    /// Peers to dial at start.
    pub fn with_bootstrap(&mut self, addrs: Vec<String>) -> &mut Self {
        self.bootstrap = addrs;
        self
    }

    /// Further `interlab node` arguments from the next start on (replacing earlier ones).
    pub fn with_args(&mut self, args: &[&str]) -> &mut Self {
        self.extra = args.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Appends `count` records (disputes of the scheme genesis) to this node's own chain,
    /// signed with its key straight into its store: the node must be stopped. Returns the
    /// head seq after them.
    pub fn append_own_records(&self, count: u64) -> u64 {
        use interlab_node::{keyfile, store::Store};
        use interlab_protocol::{Body, Envelope, Grounds, RECORD_VERSION, Record};

        assert!(self.child.is_none(), "{} must be stopped", self.name);
        let key = keyfile::load_secret_key(&self.dir.join("lab.key")).unwrap();
        let store = Store::open(&self.dir.join("store.redb")).unwrap();
        let (scheme, _) = store.scheme().expect("a scheme in the store");
        let me = key.public();
        let now = interlab_node::publisher::now_ms();
        let head = store.head(&me);
        let mut seq = head.map_or(0, |h| h.seq + 1);
        let mut prev = head.map(|h| h.id);
        let time_ms = head.map_or(now, |h| now.max(h.time_ms));
        let mut left = count;
        while left > 0 {
            let mut batch = Vec::new();
            for _ in 0..left.min(1000) {
                let record = Record {
                    v: RECORD_VERSION,
                    author: me,
                    scheme: Some(scheme),
                    seq,
                    prev,
                    time_ms,
                    body: Body::Dispute {
                        target: scheme,
                        grounds: Grounds::NotReproducible,
                        statement: format!("bulk record {seq}"),
                        evidence: vec![],
                    },
                };
                let env = Envelope::seal(&key, &record);
                prev = Some(env.id());
                seq += 1;
                batch.push(env.to_bytes());
            }
            left -= batch.len() as u64;
            for r in store.ingest(&batch, now).unwrap() {
                r.unwrap();
            }
        }
        seq - 1
    }

    /// The scheme to join.
    pub fn with_scheme(&mut self, scheme: &str) -> &mut Self {
        self.scheme = Some(scheme.to_owned());
        self
    }

    /// A client for this node's API (with its token).
    pub fn client(&self) -> ApiClient {
        ApiClient::for_dir(&self.dir).expect("node.json")
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> StatusAnswer {
        self.client().status().expect("status")
    }

    /// Whether this node holds record `id`.
    pub fn has(&self, id: &str) -> bool {
        let id: RecordId = id.parse().expect("a record id in hex");
        self.client().record_answer(&id).is_ok()
    }

    /// (evidence root, record count).
    pub fn root(&self) -> (String, u64) {
        let s = self.status();
        (s.evidence_root.to_hex(), s.records)
    }

    /// Kills the process with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default()
    }

    /// Runs `interlab ARGS --dir DIR`.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--dir", self.dir.to_str().unwrap()]);
        interlab(&all)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The provider contact every test scheme is created with (printed on round reports).
pub const CONTACT: &str = "pt-rounds@provider.example";

/// A scheme owner and labs, all running and accredited.
pub struct Network {
    pub root: tempfile::TempDir,
    pub owner: Node,
    pub labs: Vec<Node>,
    pub scheme: String,
}

impl Network {
    /// Creates the owner (with a scheme) and `labs` accredited labs, all started.
    pub fn start(labs: usize) -> Network {
        let root = tempfile::tempdir().unwrap();
        let mut owner = Node::init(root.path(), "owner");
        let out = interlab(&[
            "scheme",
            "create",
            "--dir",
            owner.dir.to_str().unwrap(),
            "--name",
            "test scheme",
            "--contact",
            CONTACT,
            "--json",
        ]);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        let scheme = v["scheme"].as_str().unwrap().to_owned();
        owner.start();
        let mut net = Network {
            root,
            owner,
            labs: Vec::new(),
            scheme,
        };
        for i in 0..labs {
            net.add_lab(&format!("lab{i}"), true);
        }
        net
    }

    /// Adds a lab node (bootstrapped to the owner), started, optionally accredited.
    pub fn add_lab(&mut self, name: &str, accredit: bool) -> usize {
        let mut lab = Node::init(self.root.path(), name);
        lab.with_bootstrap(vec![self.owner.p2p()])
            .with_scheme(&self.scheme.clone());
        lab.start();
        if accredit {
            self.owner
                .cli(&["lab", "accredit", "--lab", &lab.key.clone(), "--name", name]);
        }
        self.labs.push(lab);
        self.labs.len() - 1
    }

    /// All running nodes.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        std::iter::once(&self.owner).chain(&self.labs)
    }

    /// Waits until every given node reports the same root and at least `min_records`.
    pub fn converge(nodes: &[&Node], min_records: u64, timeout: Duration) -> (String, u64) {
        let got = wait_for(timeout, || {
            let roots: Vec<(String, u64)> = nodes.iter().map(|n| n.root()).collect();
            let first = roots[0].clone();
            (first.1 >= min_records && roots.iter().all(|r| *r == first)).then_some(first)
        });
        got.unwrap_or_else(|| {
            let roots: Vec<String> = nodes
                .iter()
                .map(|n| format!("{}: {:?}", n.name, n.root()))
                .collect();
            panic!("no convergence within {timeout:?}: {roots:#?}")
        })
    }

    /// Publishes the shipped digits suite from the owner's node and waits until every
    /// node holds the record (a lab can only run a suite its node knows); returns the
    /// suite id.
    pub fn publish_digits_suite(&self) -> String {
        self.publish_suite(&digits_suite())
    }

    /// Publishes the suite of manifest `path` from the owner's node and waits until every
    /// node holds the record; returns the suite id.
    pub fn publish_suite(&self, path: &Path) -> String {
        let out = self
            .owner
            .cli(&["suite", "publish", path.to_str().unwrap(), "--json"]);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        let record: RecordId = v["record"].as_str().unwrap().parse().unwrap();
        for n in self.nodes() {
            let held = wait_for(Duration::from_secs(60), || {
                n.client().record_answer(&record).ok()
            });
            assert!(held.is_some(), "{} never received the suite", n.name);
        }
        v["suite"].as_str().unwrap().to_owned()
    }
}

/// Waits until `node` lists lab `key` (hex) as having equivocated.
pub fn flags_equivocation(node: &Node, key: &str, timeout: Duration) -> bool {
    wait_for(timeout, || {
        let labs = node.client().labs().ok()?;
        let lab = labs.labs.iter().find(|l| l.lab.to_hex() == key)?;
        lab.equivocated.then_some(())
    })
    .is_some()
}

/// The manifest of the shipped reference suite `name` (`reference-suites/suites/NAME`).
pub fn reference_suite(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../reference-suites/suites")
        .join(name)
        .join("suite.toml")
}

/// The shipped digits suite manifest.
pub fn digits_suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../reference-suites/suites/digits-mlp/suite.toml")
}
