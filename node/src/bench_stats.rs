//! Percentiles of the benchmarks' latencies (`bench-net`, `bench-api`), and how far to
//! trust a ratio of two p99s.
//!
//! A `bench-api` phase gossips about 600 records, so its p99 is about the sixth-largest
//! latency and moves a lot from run to run. The report gives the loaded ÷ unloaded ratio
//! with a 95 % percentile-bootstrap interval (both phases resampled, seeded), so that a
//! reader sees whether ×1.8 and ×2.3 are different results or the same one.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bootstrap resamples for the ratio interval.
const RESAMPLES: usize = 2000;

/// The `p` quantile of `sorted` (nearest rank on `(n − 1)·p`); NaN when empty.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A 95 % percentile-bootstrap interval of p99(`top`) ÷ p99(`bottom`): each resample
/// draws both samples again with replacement. `None` when either sample is empty.
pub(crate) fn p99_ratio_interval(top: &[f64], bottom: &[f64], seed: u64) -> Option<[f64; 2]> {
    if top.is_empty() || bottom.is_empty() {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut resample = |from: &[f64], into: &mut Vec<f64>| {
        into.clear();
        into.extend((0..from.len()).map(|_| from[rng.random_range(0..from.len())]));
        into.sort_unstable_by(f64::total_cmp);
        percentile(into, 0.99)
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut ratios: Vec<f64> = (0..RESAMPLES)
        .map(|_| resample(top, &mut a) / resample(bottom, &mut b))
        .collect();
    ratios.sort_unstable_by(f64::total_cmp);
    Some([percentile(&ratios, 0.025), percentile(&ratios, 0.975)])
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::{p99_ratio_interval, percentile};

    /// `n` exponential latencies of mean `mean` ms, sorted.
    fn latencies(n: usize, mean: f64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut v: Vec<f64> = (0..n)
            .map(|_| -mean * (1.0 - rng.random::<f64>()).ln())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn two_phases_of_one_distribution_give_an_interval_around_one_and_a_slower_phase_does_not() {
        let (a, b) = (latencies(600, 2.0, 1), latencies(600, 2.0, 2));
        let [lo, hi] = p99_ratio_interval(&a, &b, 7).unwrap();
        let ratio = percentile(&a, 0.99) / percentile(&b, 0.99);
        assert!(lo <= ratio && ratio <= hi, "{lo} ≤ {ratio} ≤ {hi}");
        assert!(lo < 1.0 && 1.0 < hi, "[{lo}, {hi}] holds 1");
        assert!(
            hi / lo > 1.2,
            "600 samples leave a p99 uncertain: [{lo}, {hi}]"
        );

        let slow = latencies(600, 6.0, 3);
        let [lo, _] = p99_ratio_interval(&slow, &b, 7).unwrap();
        assert!(lo > 1.5, "three times slower is told apart: {lo}");
    }

    #[test]
    fn the_interval_is_the_same_for_the_same_seed_and_absent_without_samples() {
        let (a, b) = (latencies(300, 1.0, 4), latencies(300, 1.0, 5));
        assert_eq!(p99_ratio_interval(&a, &b, 9), p99_ratio_interval(&a, &b, 9));
        assert_eq!(p99_ratio_interval(&[], &b, 9), None);
        assert!(percentile(&[], 0.5).is_nan());
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 0.5), 2.0);
    }
}
