//! The fmnist-cnn suite runs end to end on the engine: every test, with its timing
//! printed (`-- --nocapture`).

#![allow(clippy::unwrap_used)]

mod support;

use interlab_suites::{RunConfig, Suite, run};
use support::*;

#[test]
fn a_full_run_of_the_fmnist_suite_completes_with_every_metric_finite() {
    let suite = Suite::load(root().join("suites/fmnist-cnn/suite.toml")).unwrap();
    let started = std::time::Instant::now();
    let out = run(&suite, &RunConfig::new().with_threads(2), |p| {
        eprintln!(
            "{:>7.1} s {} {}/{}",
            started.elapsed().as_secs_f64(),
            p.test,
            p.done,
            p.total
        )
    })
    .unwrap();
    for t in &out.result.tests {
        for m in &t.measurements {
            eprintln!(
                "{} [{}] {:?} {} {:.4}",
                t.test,
                t.item.as_deref().unwrap_or("-"),
                t.verdict,
                m.metric,
                m.mean
            );
            assert!(m.mean.is_finite(), "{} {}", t.test, m.metric);
        }
    }
    // Every model test on both items, every poisoning test once.
    let m = suite.manifest();
    let model_tests = m.tests.iter().filter(|t| t.params.uses_model()).count();
    assert_eq!(m.items.len(), 2);
    assert_eq!(
        out.result.tests.len(),
        model_tests * 2 + (m.tests.len() - model_tests)
    );
}
