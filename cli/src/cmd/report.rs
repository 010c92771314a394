//! `interlab report --suite ID --round R [--format pdf|html] [--out FILE]`: fetches the
//! round report from a node (`GET /v1/report`) and writes it, printing the evidence root
//! and the report digest the node named.

use std::{io::Write, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use interlab_node::report::http::{DIGEST_HEADER, ROOT_HEADER};
use interlab_protocol::Digest;

use super::api_args::ApiArgs;

/// Largest report accepted from a node.
const MAX_REPORT: u64 = 64 * 1024 * 1024;

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

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let client = args.api.client()?;
    let format = match args.format {
        Format::Html => "html",
        Format::Pdf => "pdf",
    };
    let url = format!(
        "{}/v1/report?suite={}&round={}&format={format}&mine={}",
        client.base(),
        args.suite,
        args.round,
        args.mine
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into();
    let mut resp = agent
        .get(&url)
        .call()
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?")
            .to_owned()
    };
    let (root, digest) = (header(ROOT_HEADER), header(DIGEST_HEADER));
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_REPORT)
        .read_to_vec()
        .with_context(|| format!("reading the report from {url}"))?;
    if status >= 400 {
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        anyhow::bail!(
            "the node answered {status}: {}",
            v["message"].as_str().unwrap_or("no reason given")
        );
    }
    match &args.out {
        Some(path) => std::fs::write(path, &body)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().write_all(&body)?,
    }
    let summary = if json {
        serde_json::json!({ "evidence_root": root, "report_digest": digest, "bytes": body.len() })
            .to_string()
    } else {
        format!("evidence root {root}\nreport digest {digest}")
    };
    // The report itself may be on stdout: the summary goes to stderr then.
    if args.out.is_some() {
        println!("{summary}");
    } else {
        eprintln!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}
