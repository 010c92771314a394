//! Seeds and uncertainty: every random choice comes from a ChaCha20 stream whose seed is
//! derived from (suite seed, test id, repetition, purpose), and every metric's standard
//! uncertainty combines a seeded bootstrap over test rows with the spread of repetitions.
//!
//! u = √(u_boot² + s_rep²/R), where u_boot is the standard deviation of the metric over
//! `B` bootstrap resamples of the rows of the first repetition and s_rep the sample
//! standard deviation of the R repetition values (0 when R = 1). k = 2, U = k·u.

use interlab_protocol::{Digest, Measurement};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// Domain of engine seed derivation (BLAKE3 derive-key context).
const SEED_DOMAIN: &str = "interlab 2026-11 engine seed v1";
/// Coverage factor of the expanded uncertainty (≈ 95 % for a normal distribution).
pub const COVERAGE_K: f64 = 2.0;
/// Bootstrap resamples per metric.
pub const BOOTSTRAP_RESAMPLES: usize = 200;

/// Seed for one purpose (`"attack"`, `"bootstrap"`, …) of one repetition of one test.
pub fn derive_seed(suite_seed: u64, test: &str, repetition: u32, purpose: &str) -> u64 {
    let mut msg = Vec::with_capacity(test.len() + purpose.len() + 24);
    msg.extend_from_slice(&suite_seed.to_le_bytes());
    msg.extend_from_slice(&(test.len() as u64).to_le_bytes());
    msg.extend_from_slice(test.as_bytes());
    msg.extend_from_slice(&repetition.to_le_bytes());
    msg.extend_from_slice(purpose.as_bytes());
    let d = Digest::of(SEED_DOMAIN, &msg);
    let mut b = [0u8; 8];
    b.copy_from_slice(&d.as_bytes()[..8]);
    u64::from_le_bytes(b)
}

/// The engine's random stream (ChaCha20, stable across platforms and crate versions).
#[derive(Debug, Clone)]
pub struct Rng(ChaCha20Rng);

impl Rng {
    /// A stream from a 64-bit seed.
    pub fn new(seed: u64) -> Self {
        Rng(ChaCha20Rng::seed_from_u64(seed))
    }

    /// Uniform in 0..n (n > 0) by 128-bit multiply-shift; the bias is below 2⁻⁵⁰.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let r = u128::from(self.0.next_u64());
        ((r * n as u128) >> 64) as usize
    }

    /// −1 or +1 with equal probability.
    pub(crate) fn pm1(&mut self) -> f32 {
        if self.0.next_u32() & 1 == 0 {
            -1.0
        } else {
            1.0
        }
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Standard deviation of `stat` over `b` resamples (with replacement) of `n` rows.
pub(crate) fn bootstrap_sd(n: usize, b: usize, seed: u64, stat: impl Fn(&[usize]) -> f64) -> f64 {
    if n == 0 || b < 2 {
        return 0.0;
    }
    let mut rng = Rng::new(seed);
    let mut idx = vec![0usize; n];
    let vals: Vec<f64> = (0..b)
        .map(|_| {
            for i in idx.iter_mut() {
                *i = rng.below(n);
            }
            stat(&idx)
        })
        .filter(|v| v.is_finite())
        .collect();
    sample_sd(&vals)
}

/// Like [`bootstrap_sd`], resampling each stratum (e.g. members, non-members) separately.
pub(crate) fn bootstrap_sd_strata(
    sizes: &[usize],
    b: usize,
    seed: u64,
    stat: impl Fn(&[Vec<usize>]) -> f64,
) -> f64 {
    if sizes.contains(&0) || b < 2 {
        return 0.0;
    }
    let mut rng = Rng::new(seed);
    let mut idx: Vec<Vec<usize>> = sizes.iter().map(|&n| vec![0; n]).collect();
    let vals: Vec<f64> = (0..b)
        .map(|_| {
            for (s, &n) in idx.iter_mut().zip(sizes) {
                for i in s.iter_mut() {
                    *i = rng.below(n);
                }
            }
            stat(&idx)
        })
        .filter(|v| v.is_finite())
        .collect();
    sample_sd(&vals)
}

/// Sample standard deviation (n − 1 in the denominator); 0 for fewer than two values.
pub(crate) fn sample_sd(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let ss: f64 = v.iter().map(|x| (x - m) * (x - m)).sum();
    (ss / (v.len() - 1) as f64).sqrt()
}

/// A protocol measurement from repetition values and the bootstrap standard deviation.
pub(crate) fn measurement(metric: &str, values: Vec<f64>, u_boot: f64) -> Measurement {
    let r = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / r;
    let s = sample_sd(&values);
    let u = (u_boot * u_boot + s * s / r).sqrt();
    Measurement {
        metric: metric.into(),
        values,
        mean,
        u,
        expanded: COVERAGE_K * u,
        k: COVERAGE_K,
    }
}

/// Share of `true` among the selected rows (0 when none are selected).
pub(crate) fn share(flags: &[bool], idx: &[usize]) -> f64 {
    if idx.is_empty() {
        return 0.0;
    }
    idx.iter().filter(|&&i| flags[i]).count() as f64 / idx.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_differ_by_test_repetition_and_purpose() {
        let a = derive_seed(1, "t", 0, "attack");
        assert_eq!(a, derive_seed(1, "t", 0, "attack"));
        assert_ne!(a, derive_seed(2, "t", 0, "attack"));
        assert_ne!(a, derive_seed(1, "u", 0, "attack"));
        assert_ne!(a, derive_seed(1, "t", 1, "attack"));
        assert_ne!(a, derive_seed(1, "t", 0, "bootstrap"));
    }

    #[test]
    fn bootstrap_of_a_proportion_is_near_the_binomial_standard_error() {
        let flags: Vec<bool> = (0..400).map(|i| i % 4 == 0).collect();
        let sd = bootstrap_sd(400, 400, 7, |idx| share(&flags, idx));
        let se = (0.25f64 * 0.75 / 400.0).sqrt();
        assert!((sd - se).abs() < 0.25 * se, "bootstrap sd {sd} vs se {se}");
    }

    #[test]
    fn measurement_combines_bootstrap_and_repetition_spread() {
        let m = measurement("m", vec![0.5, 0.7], 0.03);
        assert!((m.mean - 0.6).abs() < 1e-12);
        let s = 0.1f64 * 2f64.sqrt();
        let u = (0.03f64 * 0.03 + s * s / 2.0).sqrt();
        assert!((m.u - u).abs() < 1e-12);
        assert_eq!(m.k, 2.0);
        assert!((m.expanded - 2.0 * u).abs() < 1e-12);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Rng::new(3);
        let mut seen = [false; 5];
        for _ in 0..200 {
            let v = r.below(5);
            seen[v] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
