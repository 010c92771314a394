//! Full comparability report for 1 000 labs × 100 measurands × 5 replicates on one core.

use criterion::{Criterion, criterion_group, criterion_main};
use interlab_protocol::stats::{Observation, ReportConfig, comparability_report};

/// Deterministic pseudo-normal values (sum of 12 uniforms from a fixed LCG): no RNG crate
/// needed, same input on every run.
fn input(labs: usize, measurands: usize, reps: usize) -> Vec<Observation> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
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
                    verdict: None,
                    round: None,
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

criterion_group!(benches, bench);
criterion_main!(benches);
