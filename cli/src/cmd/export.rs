//! `interlab export`: write an evidence bundle a regulator can verify without any network.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use interlab_protocol::{
    BUNDLE_VERSION, Bundle, Digest, ForkProof, MemoryLog, governance::ComparabilityQuery,
    report_bytes,
};

use interlab_node::client::ReportQuery;

use super::api_args::ApiArgs;

/// Arguments of `interlab export`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    api: ApiArgs,
    /// Suite id.
    #[arg(long)]
    suite: Digest,
    /// Round.
    #[arg(long)]
    round: u32,
    /// Include results under an upheld `exclude` resolution.
    #[arg(long)]
    include_disputed: bool,
    /// The bundle file to write.
    out: PathBuf,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.api.client()?;
    let records = client.records("")?;
    let envelopes: Vec<Vec<u8>> = records.iter().map(|o| o.envelope.to_bytes()).collect();
    let mut forks = Vec::new();
    for f in client.forks()?.forks {
        let bytes = hex::decode(&f.proof).context("node served a fork proof that is not hex")?;
        forks.push(ForkProof::decode(&bytes).context("node served a malformed fork proof")?);
    }
    let answer = client.comparability(ReportQuery {
        suite: Some(args.suite),
        round: Some(args.round),
        include_disputed: args.include_disputed,
    })?;
    // Recompute here: the bundle carries our own computation, and it must match the node's.
    // No clock bound: these are the node's accepted records, checked against its clock;
    // `interlab verify` applies the future rule against the verifier's clock.
    let mut log = MemoryLog::new();
    let failed = log.ingest_all(&envelopes, u64::MAX / 2);
    if let Some((i, r)) = failed.first() {
        anyhow::bail!("the node served envelope {i} that does not verify: {r}");
    }
    let root = log.evidence().root;
    let served_root = answer.evidence_root;
    anyhow::ensure!(
        root == served_root,
        "the records fetched hash to {root}, the report names {served_root}; the node's evidence \
         changed during the export — run it again"
    );
    let q = ComparabilityQuery {
        suite: args.suite,
        round: Some(args.round),
        include_disputed: args.include_disputed,
    };
    let report = report_bytes(&log, &forks, &q).map_err(|e| anyhow::anyhow!(e))?;
    let digest = Digest::of(interlab_protocol::domain::REPORT, &report);
    let served_digest = answer.report_digest;
    anyhow::ensure!(
        served_digest == digest,
        "the node's report (digest {served_digest}) differs from the one recomputed from its \
         evidence ({digest})"
    );
    let bundle = Bundle {
        v: BUNDLE_VERSION,
        suite: args.suite,
        round: args.round,
        include_disputed: args.include_disputed,
        evidence_root: root,
        envelopes: envelopes
            .into_iter()
            .map(serde_bytes::ByteBuf::from)
            .collect(),
        forks: forks
            .iter()
            .map(|f| serde_bytes::ByteBuf::from(f.to_bytes()))
            .collect(),
        report: serde_bytes::ByteBuf::from(report),
    };
    let bytes = bundle.to_bytes();
    std::fs::write(&args.out, &bytes)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "out": args.out, "bytes": bytes.len(), "evidence_root": root,
                "envelopes": bundle.envelopes.len(), "report_digest": digest,
            })
        );
    } else {
        println!(
            "wrote {} ({} bytes): {} envelopes, evidence root {root}, report digest {digest}",
            args.out.display(),
            bytes.len(),
            bundle.envelopes.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
