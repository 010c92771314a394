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
    // A bundle is a map whose first key is "v"; an envelope file starts with "body".
    if bytes.get(1..3) == Some(&[0x61, b'v'][..]) {
        return verify_bundle(&bytes, json);
    }
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

fn verify_bundle(bytes: &[u8], json: bool) -> anyhow::Result<ExitCode> {
    let outcome = interlab_protocol::Bundle::decode(bytes).and_then(|b| {
        // Offline there is no clock to trust.
        b.verify(u64::MAX / 2).map(|v| (b, v))
    });
    match outcome {
        Ok((b, v)) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "ok": true, "kind": "bundle", "suite": b.suite, "round": b.round,
                        "evidence_root": v.root, "envelopes": v.envelopes, "forks": v.forks,
                        "report_digest": v.report_digest,
                    })
                );
            } else {
                println!(
                    "bundle verified: {} envelopes and {} fork proofs hash to evidence root {}; \
                     the report for suite {} round {} recomputes byte for byte (digest {})",
                    v.envelopes, v.forks, v.root, b.suite, b.round, v.report_digest
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "ok": false, "kind": "bundle", "reason": e.to_string() })
                );
            } else {
                println!("REJECTED bundle: {e}");
            }
            Ok(ExitCode::from(crate::EXIT_FAILURE))
        }
    }
}
