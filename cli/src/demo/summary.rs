//! What `interlab demo` shows at the end (`--json` prints it).

use std::collections::BTreeMap;

use interlab_protocol::{
    Digest,
    governance::{Comparability, Flag},
};
use serde::{Deserialize, Serialize};

/// What the demo shows (`interlab demo --json` prints it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DemoSummary {
    /// The scheme id.
    pub scheme: Digest,
    /// The suite id.
    pub suite: Digest,
    /// Each node's evidence root at the end (all equal).
    pub evidence_roots: BTreeMap<String, Digest>,
    /// Each node's digest of the round-1 report (all equal).
    pub report_digests: BTreeMap<String, Digest>,
    /// Accepted records.
    pub records: u64,
    /// The labs and how each ran the suite.
    pub labs: Vec<DemoLab>,
    /// The labs the network flags.
    pub flagged: Vec<Flag>,
    /// The round-1 report.
    pub report: Comparability,
    /// The same with the disputed result included.
    pub report_including_disputed: Comparability,
    /// The owner's dashboard.
    pub dashboard: String,
    /// Wall-clock seconds the demo took.
    pub seconds: f64,
}

/// One lab of the demo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DemoLab {
    /// Its name.
    pub lab: String,
    /// How it ran the suite.
    pub setup: String,
}
