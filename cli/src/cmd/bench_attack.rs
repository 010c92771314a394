//! `interlab bench attack`: PGD L∞ on an image classifier, the engine (`interlab attack`
//! in a child process) against IBM ART on PyTorch CPU (`tools/bench_art_pgd.py` in a
//! child process), both whole-process under `/usr/bin/time` in the same run. Reported:
//! wall time and peak RSS of each, their ratios, the engine's scaling over thread counts,
//! and both robust accuracies. Never asserted.

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::{Context, bail};

/// Arguments of `interlab bench attack`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The model the engine runs (ONNX); default: the state dict with --arch.
    #[arg(long)]
    model: Option<PathBuf>,
    /// PyTorch `nn.Sequential` state dict (safetensors) for ART (and the engine without
    /// --model).
    #[arg(long)]
    state_dict: PathBuf,
    /// Architecture JSON of the state dict.
    #[arg(long)]
    arch: PathBuf,
    /// Data file with `x_test` [n, C, H, W] and `y_test`.
    #[arg(long)]
    data: PathBuf,
    /// Engine thread counts to measure (ART runs at the first).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
    /// Python with torch and ART 1.20.1.
    #[arg(long, default_value = "/work/art-venv/bin/python")]
    python: PathBuf,
    /// The ART side.
    #[arg(long, default_value = "tools/bench_art_pgd.py")]
    art_script: PathBuf,
    /// L∞ radius.
    #[arg(long, default_value_t = 0.1)]
    eps: f32,
    /// Step α.
    #[arg(long, default_value_t = 0.025)]
    step: f32,
    /// Steps.
    #[arg(long, default_value_t = 10)]
    iterations: u32,
    /// Alternations of the runs; medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// One whole-process measurement.
#[derive(Debug, Clone)]
struct Measured {
    seconds: f64,
    peak_kib: u64,
    robust: f64,
}

/// Runs `cmd` under `/usr/bin/time`, returning its stdout, wall seconds and max RSS.
fn timed(cmd: Command) -> anyhow::Result<(String, f64, u64)> {
    let dir = tempfile::tempdir()?;
    let tfile = dir.path().join("time.txt");
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(ToOwned::to_owned).collect();
    let envs: Vec<_> = cmd
        .get_envs()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned())))
        .collect();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%e %M")
        .arg("-o")
        .arg(&tfile)
        .arg(&program)
        .args(&args)
        .envs(envs)
        .output()
        .context("cannot run /usr/bin/time (GNU time is needed for whole-process figures)")?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            Path::new(&program).display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let t = std::fs::read_to_string(&tfile)?;
    let mut parts = t.split_whitespace().rev().take(2);
    let kib: u64 = parts.next().context("no RSS from time")?.parse()?;
    let secs: f64 = parts.next().context("no time from time")?.parse()?;
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), secs, kib))
}

fn field(json: &str, name: &str) -> anyhow::Result<f64> {
    let v: serde_json::Value =
        serde_json::from_str(json.trim()).with_context(|| format!("not one JSON line: {json}"))?;
    v[name]
        .as_f64()
        .with_context(|| format!("no {name} in {json}"))
}

fn engine(a: &Args, threads: usize) -> anyhow::Result<Measured> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("attack");
    match &a.model {
        Some(m) => cmd.arg("--model").arg(m),
        None => cmd
            .arg("--model")
            .arg(&a.state_dict)
            .arg("--arch")
            .arg(&a.arch),
    };
    cmd.arg("--data")
        .arg(&a.data)
        .args(["--attack", "pgd", "--json"])
        .arg(format!("--eps={}", a.eps))
        .arg(format!("--step={}", a.step))
        .arg(format!("--iterations={}", a.iterations))
        .arg(format!("--threads={threads}"))
        .env("RAYON_NUM_THREADS", threads.to_string());
    let (out, seconds, peak_kib) = timed(cmd)?;
    Ok(Measured {
        seconds,
        peak_kib,
        robust: field(&out, "robust_accuracy")?,
    })
}

fn art(a: &Args, threads: usize) -> anyhow::Result<Measured> {
    let mut cmd = Command::new(&a.python);
    cmd.arg(&a.art_script)
        .arg("--state-dict")
        .arg(&a.state_dict)
        .arg("--arch")
        .arg(&a.arch)
        .arg("--data")
        .arg(&a.data)
        .arg(format!("--threads={threads}"))
        .arg(format!("--eps={}", a.eps))
        .arg(format!("--step={}", a.step))
        .arg(format!("--iterations={}", a.iterations))
        .env("OMP_NUM_THREADS", threads.to_string())
        .env("MKL_NUM_THREADS", threads.to_string());
    let (out, seconds, peak_kib) = timed(cmd)?;
    Ok(Measured {
        seconds,
        peak_kib,
        robust: field(&out, "robust_accuracy")?,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub(crate) fn run(a: Args, json: bool) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(a.rounds > 0, "--rounds must be at least 1");
    anyhow::ensure!(!a.threads.is_empty(), "--threads needs at least one count");
    let art_threads = a.threads[0];
    let mut art_runs = Vec::new();
    let mut ours: Vec<Vec<Measured>> = vec![Vec::new(); a.threads.len()];
    for round in 0..a.rounds {
        art_runs.push(art(&a, art_threads)?);
        for (i, &t) in a.threads.iter().enumerate() {
            ours[i].push(engine(&a, t)?);
        }
        if !json {
            eprintln!("round {} of {} done", round + 1, a.rounds);
        }
    }
    let art_s = median(art_runs.iter().map(|m| m.seconds).collect());
    let art_kib = median(art_runs.iter().map(|m| m.peak_kib as f64).collect());
    let art_robust = art_runs[0].robust;
    let rows: Vec<(usize, f64, f64, f64)> = a
        .threads
        .iter()
        .zip(&ours)
        .map(|(&t, runs)| {
            (
                t,
                median(runs.iter().map(|m| m.seconds).collect()),
                median(runs.iter().map(|m| m.peak_kib as f64).collect()),
                runs[0].robust,
            )
        })
        .collect();
    let base = rows[0].1;
    if json {
        let engine: Vec<_> = rows
            .iter()
            .map(|(t, s, k, r)| {
                serde_json::json!({
                    "threads": t, "seconds": s, "peak_rss_kib": k, "robust_accuracy": r,
                    "speedup_vs_art": art_s / s, "memory_ratio_art_over_engine": art_kib / k,
                    "scaling_vs_first": base / s,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "art": { "threads": art_threads, "seconds": art_s, "peak_rss_kib": art_kib, "robust_accuracy": art_robust },
                "engine": engine, "rounds": a.rounds,
            })
        );
    } else {
        println!(
            "PGD L∞ eps {} step {} × {} steps, whole process, medians of {} runs",
            a.eps, a.step, a.iterations, a.rounds
        );
        println!(
            "  ART (PyTorch CPU, {art_threads} thread(s)): {art_s:.2} s, peak RSS {:.0} MiB, robust accuracy {art_robust:.4}",
            art_kib / 1024.0
        );
        for (t, s, k, r) in &rows {
            println!(
                "  engine, {t} thread(s): {s:.2} s, peak RSS {:.0} MiB, robust accuracy {r:.4}; {:.2}× faster than ART, {:.2}× less memory, {:.2}× the speed of {} thread(s)",
                k / 1024.0,
                art_s / s,
                art_kib / k,
                base / s,
                rows[0].0
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
