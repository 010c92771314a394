//! Full comparability report for 1 000 labs × 100 measurands × 5 replicates on one core.

use criterion::{Criterion, criterion_group};
use interlab_protocol::stats::{Observation, ReportConfig, comparability_report};

/// Deterministic pseudo-normal values (sum of 12 uniforms from a fixed LCG): no RNG crate
/// needed, same input on every run.
fn input(labs: usize, measurands: usize, reps: usize) -> Vec<Observation> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = Vec::with_capacity(labs * measurands * reps);
    for m in 0..measurands {
        let measurand = format!("m{m:03}");
        for l in 0..labs {
            let lab = format!("lab{l:04}");
            let bias: f64 = (0..12).map(|_| uniform()).sum::<f64>() - 6.0;
            for _ in 0..reps {
                let e: f64 = (0..12).map(|_| uniform()).sum::<f64>() - 6.0;
                out.push(Observation {
                    lab: lab.clone(),
                    measurand: measurand.clone(),
                    value: Some(100.0 + m as f64 + 2.0 * bias + e),
                    u: Some(1.0),
                    expanded: None,
                    verdict: None,
                    round: None,
                    method: None,
                    conforming: true,
                });
            }
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let obs = input(1000, 100, 5);
    let cfg = ReportConfig::default();
    let mut g = c.benchmark_group("stats");
    g.sample_size(10);
    g.bench_function("report_1000_labs_100_measurands_5_reps", |b| {
        b.iter(|| comparability_report(std::hint::black_box(&obs), &cfg))
    });
    g.finish();
}

/// This thread's CPU time (user + system) in clock ticks, from /proc (Linux only).
fn thread_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// CPU time per report, immune to other processes on a shared machine: runs the report
/// `STATS_CPU_RUNS` times (default 20) and divides this thread's CPU ticks (10 ms each).
fn cpu_time_per_report() {
    let runs: u32 = std::env::var("STATS_CPU_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let obs = input(1000, 100, 5);
    let cfg = ReportConfig::default();
    let _ = comparability_report(&obs, &cfg);
    let (Some(t0), w0) = (thread_cpu_ticks(), std::time::Instant::now()) else {
        return;
    };
    for _ in 0..runs {
        std::hint::black_box(comparability_report(std::hint::black_box(&obs), &cfg).ok());
    }
    if let Some(t1) = thread_cpu_ticks() {
        let cpu_ms = (t1 - t0) as f64 * 10.0 / f64::from(runs);
        let wall_ms = w0.elapsed().as_secs_f64() * 1000.0 / f64::from(runs);
        println!(
            "stats report 1000 labs x 100 measurands x 5 reps: {cpu_ms:.1} ms CPU, {wall_ms:.1} ms wall per report ({runs} runs, one thread)"
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    cpu_time_per_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
