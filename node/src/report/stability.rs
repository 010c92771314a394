//! What stands in for the stability of an ML test item across set-ups (ISO 13528 clause
//! 6.1 asks for homogeneity and stability; digital items are bit-identical copies): the
//! determinism of the measurement across thread counts, read from the round's own
//! evidence. Two results made with the same executor, model and seed at different thread
//! counts should agree value for value; where they differ, the thread count changes the
//! result and that difference is part of the between-lab spread.

use std::collections::BTreeMap;

use interlab_protocol::RunResult;

use super::doc::num;

/// Executor, model digest, seed and method: what must match for two results to differ
/// only by their thread count.
type SetUp = (String, String, u64, String);

/// One row per set-up measured at two or more thread counts: executor, seed, the thread
/// counts, how many measurands agree bit for bit, and the largest difference of means.
pub(super) fn thread_determinism(results: &[&RunResult]) -> Vec<Vec<String>> {
    let mut groups: BTreeMap<SetUp, BTreeMap<u32, &RunResult>> = BTreeMap::new();
    for r in results {
        let key = (
            r.environment.executor.clone(),
            r.model.to_hex(),
            r.seed,
            r.method.to_string(),
        );
        // The first result per thread count (results come in a fixed order).
        groups
            .entry(key)
            .or_default()
            .entry(r.environment.threads)
            .or_insert(r);
    }
    let mut rows = Vec::new();
    for ((executor, _, seed, _), by_threads) in groups {
        if by_threads.len() < 2 {
            continue;
        }
        let runs: Vec<(&u32, &&RunResult)> = by_threads.iter().collect();
        let (mut same, mut compared, mut worst) = (0usize, 0usize, 0.0f64);
        let (_, first) = runs[0];
        for (_, other) in &runs[1..] {
            for t in &first.tests {
                let Some(u) = other
                    .tests
                    .iter()
                    .find(|u| u.test == t.test && u.item == t.item)
                else {
                    continue;
                };
                for m in &t.measurements {
                    let Some(n) = u.measurements.iter().find(|n| n.metric == m.metric) else {
                        continue;
                    };
                    compared += 1;
                    if m.values == n.values {
                        same += 1;
                    }
                    worst = worst.max((m.mean - n.mean).abs());
                }
            }
        }
        if compared == 0 {
            continue;
        }
        let threads: Vec<String> = runs.iter().map(|(t, _)| t.to_string()).collect();
        rows.push(vec![
            executor,
            seed.to_string(),
            threads.join(", "),
            format!("{same} of {compared}"),
            if same == compared {
                "0".to_owned()
            } else {
                num(Some(worst))
            },
        ]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use interlab_protocol::{Digest, domain, testkit::sample_run_result};

    use super::*;

    fn run(threads: u32, seed: u64, v: f64) -> RunResult {
        let mut r = sample_run_result(Digest::of(domain::SUITE, b"s"), 1, v);
        r.environment.threads = threads;
        r.seed = seed;
        r
    }

    #[test]
    fn the_same_set_up_at_two_thread_counts_is_compared_value_for_value() {
        let (a, b, c) = (run(1, 7, 0.5), run(2, 7, 0.5), run(4, 7, 0.52));
        assert_eq!(
            thread_determinism(&[&a, &b]),
            vec![vec!["testkit", "7", "1, 2", "1 of 1", "0"]]
        );
        assert_eq!(
            thread_determinism(&[&a, &c]),
            vec![vec!["testkit", "7", "1, 4", "0 of 1", "0.02"]]
        );
    }

    #[test]
    fn results_with_another_seed_or_one_thread_count_are_not_compared() {
        let (a, b, c) = (run(1, 7, 0.5), run(2, 8, 0.6), run(1, 7, 0.5));
        assert!(thread_determinism(&[&a, &b]).is_empty());
        assert!(thread_determinism(&[&a, &c]).is_empty());
    }
}
