//! `interlab verify FILE`: offline check of a file of envelopes.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use interlab_protocol::{MemoryLog, split_sequence};

/// Arguments of `interlab verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A file of concatenated CBOR envelopes (as `interlab export` writes them).
    file: PathBuf,
}

/// Largest file `verify` reads (the whole file is held in memory).
const MAX_FILE: u64 = 1 << 30;

pub(crate) fn run(args: Args, json: bool) -> anyhow::Result<ExitCode> {
    let meta = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    anyhow::ensure!(
        meta.len() <= MAX_FILE,
        "{} is {} bytes, over the limit of {MAX_FILE}",
        args.file.display(),
        meta.len()
    );
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let mut problems: Vec<(String, String, String)> = Vec::new();
    let items = match split_sequence(&bytes) {
        Ok(items) => items,
        Err((offset, e)) => {
            problems.push((format!("byte {offset}"), "malformed".into(), e.to_string()));
            Vec::new()
        }
    };
    let owned: Vec<Vec<u8>> = items.iter().map(|b| b.to_vec()).collect();
    let mut log = MemoryLog::new();
    // Offline there is no clock to trust; the future check uses the largest time seen.
    let now = u64::MAX / 2;
    for (i, rejection) in log.ingest_all(&owned, now) {
        problems.push((
            format!("envelope {i}"),
            rejection.code().into(),
            rejection.to_string(),
        ));
    }
    let ev = log.evidence();
    if json {
        let v = serde_json::json!({
            "ok": problems.is_empty(),
            "envelopes": owned.len(),
            "accepted": ev.records,
            "evidence_root": ev.root.to_hex(),
            "forks": log.forks().len(),
            "rejections": problems.iter().map(|(at, code, reason)| serde_json::json!({
                "at": at, "code": code, "reason": reason,
            })).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        for (at, code, reason) in &problems {
            println!("REJECTED {at}: {reason} [{code}]");
        }
        println!(
            "{} envelopes, {} accepted, {} rejected; evidence root {}",
            owned.len(),
            ev.records,
            problems.len(),
            ev.root
        );
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_FAILURE)
    })
}
