//! The measurements of an evasion test (robust accuracy, attack success rate, clean
//! accuracy, median queries), each with its bootstrap uncertainty over rows.

use interlab_protocol::Measurement;

use crate::{
    attacks::{EvasionOutcome, success_rate},
    uncertainty::{BOOTSTRAP_RESAMPLES, bootstrap_sd, measurement, share},
};

fn median_of(q: &[u32], rows: impl Iterator<Item = usize>) -> Option<f64> {
    let mut v: Vec<u32> = rows.map(|i| q[i]).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let m = v.len();
    Some(if m % 2 == 1 {
        f64::from(v[m / 2])
    } else {
        (f64::from(v[m / 2 - 1]) + f64::from(v[m / 2])) / 2.0
    })
}

/// Robust accuracy, attack success rate, clean accuracy (and median queries for
/// black-box attacks; the budget when no row was broken) with row bootstraps.
pub(super) fn evasion_measurements(
    outs: &[EvasionOutcome],
    boot: u64,
    budget: Option<f64>,
) -> Vec<Measurement> {
    let f = &outs[0];
    let n = f.n;
    let sd = |stat: &dyn Fn(&[usize]) -> f64| bootstrap_sd(n, BOOTSTRAP_RESAMPLES, boot, stat);
    let mut ms = vec![
        measurement(
            "robust_accuracy",
            outs.iter().map(EvasionOutcome::robust_accuracy).collect(),
            sd(&|idx| share(&f.adv_correct, idx)),
        ),
        measurement(
            "attack_success_rate",
            outs.iter()
                .map(EvasionOutcome::attack_success_rate)
                .collect(),
            sd(&|idx| success_rate(&f.clean_correct, &f.adv_correct, Some(idx))),
        ),
    ];
    if let (Some(budget), Some(q)) = (budget, f.adversarial.queries.as_ref()) {
        let broken = |i: &usize| f.clean_correct[*i] && !f.adv_correct[*i];
        ms.push(measurement(
            "median_queries",
            outs.iter()
                .map(|o| o.median_queries().unwrap_or(budget))
                .collect(),
            sd(&|idx| median_of(q, idx.iter().copied().filter(broken)).unwrap_or(budget)),
        ));
    }
    ms.push(measurement(
        "clean_accuracy",
        outs.iter().map(EvasionOutcome::clean_accuracy).collect(),
        sd(&|idx| share(&f.clean_correct, idx)),
    ));
    ms
}
