//! `interlab report --suite ID --round R [--format pdf|html] [--out FILE]`: fetches the
//! round report from a node (`GET /v1/report`) and writes it, printing the evidence root
//! and the report digest the node named.

use std::{io::Write, path::PathBuf, process::ExitCode};

use anyhow::Context;
use interlab_node::client::ReportFormat;
use interlab_protocol::Digest;

use super::api_args::ApiArgs;

/// Output format of `interlab report`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// One self-contained HTML page.
    Html,
    /// A PDF document.
    Pdf,
}

/// Arguments of `interlab report`.
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
    /// Output format.
    #[arg(long, value_enum, default_value = "pdf")]
    format: Format,
    /// Mark this node's own lab's rows "your results" (a lab's own copy; its digest
    /// differs from the neutral report every node serves).
    #[arg(long)]
    mine: bool,
    /// File to write (default: the report to standard output).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// What `interlab report --json` prints.
#[derive(Debug, serde::Serialize)]
struct Summary {
    evidence_root: Digest,
    report_digest: Digest,
    bytes: usize,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.api.client()?;
    let format = match args.format {
        Format::Html => ReportFormat::Html,
        Format::Pdf => ReportFormat::Pdf,
    };
    let doc = client
        .report(&args.suite, args.round, format, args.mine)
        .with_context(|| format!("the report of round {} of suite {}", args.round, args.suite))?;
    match &args.out {
        Some(path) => std::fs::write(path, &doc.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().write_all(&doc.bytes)?,
    }
    let summary = if json {
        serde_json::to_string(&Summary {
            evidence_root: doc.evidence_root,
            report_digest: doc.report_digest,
            bytes: doc.bytes.len(),
        })?
    } else {
        format!(
            "evidence root {}
report digest {}",
            doc.evidence_root, doc.report_digest
        )
    };
    // The report itself may be on stdout: the summary goes to stderr then.
    if args.out.is_some() {
        println!("{summary}");
    } else {
        eprintln!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}
