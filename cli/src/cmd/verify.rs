//! `interlab verify FILE`: offline check of an evidence bundle or a file of envelopes.
//!
//! Every failure is listed with its reason code and the record it belongs to, root causes
//! first: when the scheme owner's record is damaged, that record is named and the labs'
//! records that fail because of it are marked as following from it.

use std::{
    path::PathBuf,
    process::ExitCode,
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use interlab_protocol::{
    Bundle, BundleError, BundleFailure, EnvelopeFailure, MemoryLog, RecordRef, diagnose,
    split_sequence,
};
// The `--json` report of this offline command is assembled as a JSON value: it is CLI
// output, not an HTTP answer (those are typed in `interlab_node::api::types`).
use serde_json::{Value, json};

/// Arguments of `interlab verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A bundle written by `interlab export`, or a file of concatenated CBOR envelopes.
    file: PathBuf,
    /// Verify as of this time (ms since the Unix epoch) instead of this machine's clock.
    /// Records more than 5 minutes ahead of it are rejected, as every node rejects them.
    #[arg(long, value_name = "MS")]
    as_of_ms: Option<u64>,
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
    let now_ms = match args.as_of_ms {
        Some(ms) => ms,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("this machine's clock is before 1970; pass --as-of-ms")?
            .as_millis()
            .try_into()
            .context("this machine's clock is beyond the year 584 million; pass --as-of-ms")?,
    };
    // A bundle is a map whose first key is "v"; an envelope file starts with "body".
    if bytes.get(1..3) == Some(&[0x61, b'v'][..]) {
        return verify_bundle(&bytes, now_ms, json);
    }
    let mut failures: Vec<Value> = Vec::new();
    // (text, follows from another failure)
    let mut lines: Vec<(String, bool)> = Vec::new();
    let items = match split_sequence(&bytes) {
        Ok(items) => items,
        Err((offset, e)) => {
            lines.push((format!("byte {offset} [malformed]: {e}"), false));
            failures.push(json!({
                "at": format!("byte {offset}"), "code": "malformed", "reason": e.to_string(),
                "record": null, "follows_from": [],
            }));
            Vec::new()
        }
    };
    let owned: Vec<Vec<u8>> = items.iter().map(|b| b.to_vec()).collect();
    let mut log = MemoryLog::new();
    let failed = log.ingest_all(&owned, now_ms);
    for f in diagnose(&owned, &log, failed) {
        lines.push((f.to_string(), f.follows_from.is_some()));
        failures.push(envelope_json(&f));
    }
    let ev = log.evidence();
    if json {
        let v = json!({
            "ok": failures.is_empty(),
            "kind": "envelopes",
            "envelopes": owned.len(),
            "accepted": ev.records,
            "evidence_root": ev.root.to_hex(),
            "forks": log.forks().len(),
            "as_of_ms": now_ms,
            "reason": failures.first().map(|f| f["reason"].clone()),
            "failures": failures,
        });
        println!("{v}");
    } else {
        print_listing(&lines);
        println!(
            "{} envelopes, {} accepted, {} rejected; evidence root {}",
            owned.len(),
            ev.records,
            failures.len(),
            ev.root
        );
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_FAILURE)
    })
}

/// Root causes, then the failures that follow from them, one `REJECTED` line each.
fn print_listing(lines: &[(String, bool)]) {
    let consequences = lines.iter().filter(|(_, follows)| *follows).count();
    for (line, _) in lines.iter().filter(|(_, follows)| !*follows) {
        println!("REJECTED {line}");
    }
    if consequences > 0 {
        println!("{consequences} more failures follow from the ones above:");
    }
    for (line, _) in lines.iter().filter(|(_, follows)| *follows) {
        println!("REJECTED {line}");
    }
}

fn record_json(r: Option<&RecordRef>) -> Value {
    r.map_or(
        Value::Null,
        |r| json!({ "id": r.id, "author": r.author, "seq": r.seq, "owner": r.owner }),
    )
}

fn envelope_json(f: &EnvelopeFailure) -> Value {
    json!({
        "at": format!("envelope {}", f.index),
        "index": f.index,
        "code": f.rejection.code(),
        "reason": f.rejection.to_string(),
        "record": record_json(f.record.as_ref()),
        "follows_from": f.follows_from.into_iter().collect::<Vec<_>>(),
    })
}

fn failure_json(f: &BundleFailure) -> Value {
    let (at, index) = match &f.error {
        BundleError::Envelope { index, .. } => (format!("envelope {index}"), Some(*index)),
        BundleError::Fork { index, .. } => (format!("fork proof {index}"), Some(*index)),
        _ => ("bundle".to_owned(), None),
    };
    let reason = match &f.error {
        BundleError::Envelope { rejection, .. } => rejection.to_string(),
        e => e.to_string(),
    };
    json!({
        "at": at,
        "index": index,
        "code": f.error.code(),
        "reason": reason,
        "record": record_json(f.record.as_ref()),
        "follows_from": f.follows_from,
    })
}

fn verify_bundle(bytes: &[u8], now_ms: u64, json: bool) -> anyhow::Result<ExitCode> {
    let bundle = Bundle::decode(bytes);
    let outcome = match &bundle {
        Ok(b) => b.verify(now_ms),
        Err(e) => Err(vec![BundleFailure {
            error: e.clone(),
            record: None,
            follows_from: Vec::new(),
        }]),
    };
    match (bundle, outcome) {
        (Ok(b), Ok(v)) => {
            if json {
                println!(
                    "{}",
                    json!({
                        "ok": true, "kind": "bundle", "suite": b.suite, "round": b.round,
                        "evidence_root": v.root, "envelopes": v.envelopes, "forks": v.forks,
                        "report_digest": v.report_digest, "as_of_ms": now_ms,
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
        (_, outcome) => {
            let failures = outcome.err().unwrap_or_default();
            if json {
                let list: Vec<Value> = failures.iter().map(failure_json).collect();
                println!(
                    "{}",
                    json!({
                        "ok": false, "kind": "bundle", "as_of_ms": now_ms,
                        "reason": list.first().map(|f| f["reason"].clone()),
                        "failures": list,
                    })
                );
            } else {
                println!("bundle REJECTED");
                let lines: Vec<(String, bool)> = failures
                    .iter()
                    .map(|f| (f.to_string(), !f.follows_from.is_empty()))
                    .collect();
                print_listing(&lines);
            }
            Ok(ExitCode::from(crate::EXIT_FAILURE))
        }
    }
}
