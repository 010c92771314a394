//! `interlab suite seal` and `interlab suite reveal`: the scheme owner commits to the known
//! answers of a test item before a round (the commitment goes into the manifest as
//! `items[].known_answer`) and reveals them after the deadline in a signed record that
//! every node checks against the commitment.

use std::{path::PathBuf, process::ExitCode};

use crate::ops::{self, SealedFile};
use anyhow::Context;
use interlab_protocol::{Digest, KnownAnswer, MIN_SALT, SealedAnswers};

use super::api_args::ApiArgs;

/// Largest answers or sealed file read.
const MAX_FILE: u64 = 1 << 20;

/// Arguments of `interlab suite seal`.
#[derive(Debug, clap::Args)]
pub(crate) struct SealArgs {
    /// The test item the answers belong to.
    #[arg(long)]
    item: String,
    /// JSON list of answers: `[{"test": …, "metric": …, "value": …, "u": …}]`.
    #[arg(long)]
    answers: PathBuf,
    /// Where to write the sealed file (keep it private until the reveal).
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `interlab suite reveal`.
#[derive(Debug, clap::Args)]
pub(crate) struct RevealArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The suite id.
    #[arg(long)]
    suite: Digest,
    /// The sealed file written by `interlab suite seal`.
    #[arg(long)]
    sealed: PathBuf,
}

pub(crate) fn seal(args: SealArgs, json: bool) -> anyhow::Result<ExitCode> {
    let bytes = super::suite::read_limited(&args.answers, MAX_FILE)?;
    let answers: Vec<KnownAnswer> = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a list of answers", args.answers.display()))?;
    let mut salt = vec![0u8; MIN_SALT * 2];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness for the salt: {e}"))?;
    let sealed = SealedAnswers {
        item: args.item.clone(),
        salt,
        answers,
    };
    sealed.check()?;
    let file = SealedFile::of(&sealed);
    anyhow::ensure!(
        !args.out.exists(),
        "{} exists; refusing to overwrite a sealed file",
        args.out.display()
    );
    std::fs::write(&args.out, serde_json::to_vec_pretty(&file)?)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "item": file.item, "commitment": file.commitment })
        );
    } else {
        println!(
            "sealed {} answer(s) of item {}: put known_answer = \"{}\" into the item in suite.toml, \
             and keep {} private until the reveal",
            file.answers.len(),
            file.item,
            file.commitment,
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn reveal(args: RevealArgs, json: bool) -> anyhow::Result<ExitCode> {
    let bytes = super::suite::read_limited(&args.sealed, MAX_FILE)?;
    let file: SealedFile = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a sealed file", args.sealed.display()))?;
    let client = args.api.client()?;
    let id = ops::reveal(&client, &args.suite, &file)
        .with_context(|| format!("in {}", args.sealed.display()))?;
    if json {
        println!("{}", serde_json::json!({ "id": id, "item": file.item }));
    } else {
        println!(
            "revealed the known answers of item {} (record {id})",
            file.item
        );
    }
    Ok(ExitCode::SUCCESS)
}
