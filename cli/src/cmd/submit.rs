//! `interlab submit`: a lab publishes results computed with its own tool (IBM ART,
//! Foolbox, its own code) as a signed run result, after checking the file against the
//! suite. Nothing is published unless every field is valid.

use std::{path::PathBuf, process::ExitCode};

use crate::ops;
use anyhow::Context;
use interlab_protocol::Digest;
use interlab_suites::MAX_SUBMISSION_BYTES;

use super::api_args::ApiArgs;

/// Arguments of `interlab submit`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    api: ApiArgs,
    /// The suite id.
    #[arg(long)]
    suite: Digest,
    /// The round (default: the latest round the owner opened, else 1).
    #[arg(long)]
    round: Option<u32>,
    /// The results file (JSON, format `interlab-results/1`; see docs/suites.md).
    #[arg(long)]
    results: PathBuf,
    /// Check the file against the suite and show the result without publishing it.
    #[arg(long)]
    dry_run: bool,
}

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let meta = std::fs::metadata(&args.results)
        .with_context(|| format!("cannot read {}", args.results.display()))?;
    anyhow::ensure!(
        meta.len() <= MAX_SUBMISSION_BYTES as u64,
        "{} has {} bytes, over the limit of {MAX_SUBMISSION_BYTES}; nothing was published",
        args.results.display(),
        meta.len()
    );
    let bytes = std::fs::read(&args.results)
        .with_context(|| format!("cannot read {}", args.results.display()))?;
    let client = args.api.client()?;
    let round = match args.round {
        Some(r) => r,
        None => ops::latest_round(&client, &args.suite)?.unwrap_or(1),
    };
    let (id, result, suite) =
        ops::submit_results(&client, &args.suite, round, &bytes, args.dry_run)
            .with_context(|| format!("in {}", args.results.display()))?;
    let criteria = suite.criteria();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "id": id,
                "dry_run": args.dry_run,
                "suite": args.suite,
                "round": round,
                "result": result,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    match &id {
        Some(id) => println!(
            "published run result {id} ({}) for suite {} round {round}",
            result.method, args.suite
        ),
        None => println!(
            "dry run: the file is valid for suite {} round {round}; nothing was published",
            args.suite
        ),
    }
    for t in &result.tests {
        let m = t
            .measurements
            .iter()
            .find(|m| {
                criteria
                    .iter()
                    .any(|(id, c)| *id == t.test && c.metric == m.metric)
            })
            .or(t.measurements.first());
        println!(
            "  {:<14} {:<20} {:<5} {}{}",
            t.item.as_deref().unwrap_or("-"),
            t.test,
            match t.verdict {
                interlab_protocol::Verdict::Pass => "pass",
                interlab_protocol::Verdict::Fail => "fail",
            },
            m.map(|m| format!(
                "{} = {:.4} ± {:.4} (k = {})",
                m.metric, m.mean, m.expanded, m.k
            ))
            .unwrap_or_default(),
            if t.deviations.is_empty() {
                String::new()
            } else {
                format!(
                    "  deviates: {}",
                    t.deviations
                        .iter()
                        .map(|d| format!("{} {} (suite: {})", d.param, d.value, d.harmonized))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
