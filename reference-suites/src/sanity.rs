//! Sanity checks run with every evasion test. Their findings travel in
//! `TestResult.warnings`: they do not change a metric, they tell a peer why a number may
//! not mean what it seems (gradient masking, a broken clip, a too-large perturbation).

use crate::attacks::Adversarial;

/// Findings on one evasion run: zero / non-finite gradients, perturbations outside the
/// ε-ball and values outside the valid range.
pub fn check_evasion(x: &[f32], adv: &Adversarial, eps: f32, range: (f32, f32)) -> Vec<String> {
    let mut w = Vec::new();
    let g = &adv.grads;
    if g.evaluations > 0 {
        if g.zero_rows > 0 {
            w.push(format!(
                "sanity: {} of {} row-gradient evaluations were all zero (possible gradient masking or saturated softmax)",
                g.zero_rows, g.evaluations
            ));
        }
        if g.non_finite > 0 {
            w.push(format!(
                "sanity: {} input-gradient values were NaN or infinite (treated as 0)",
                g.non_finite
            ));
        }
    }
    // Tolerance: one f32 rounding of a value in the range.
    let tol = f32::EPSILON * range.0.abs().max(range.1.abs()).max(1.0) * 2.0;
    let over = x
        .iter()
        .zip(&adv.x_adv)
        .map(|(a, b)| (b - a).abs())
        .fold(0f32, f32::max);
    if over > eps + tol {
        w.push(format!(
            "sanity: largest perturbation {over} exceeds eps {eps}"
        ));
    }
    let outside = adv
        .x_adv
        .iter()
        .filter(|v| !v.is_finite() || **v < range.0 || **v > range.1)
        .count();
    if outside > 0 {
        w.push(format!(
            "sanity: {outside} adversarial values are outside the valid range [{}, {}]",
            range.0, range.1
        ));
    }
    w
}

/// Black-box stronger than white-box at the same or a larger ε is a sign of gradient
/// masking: it returns a finding when the black-box robust accuracy is lower than the
/// white-box one by more than their combined expanded uncertainty.
pub fn check_masking(black: (&str, f64, f64), white: (&str, f64, f64)) -> Option<String> {
    let (bt, bacc, bu) = black;
    let (wt, wacc, wu) = white;
    let margin = (bu * bu + wu * wu).sqrt();
    (bacc + margin < wacc).then(|| {
        format!(
            "sanity: black-box test {bt:?} reaches robust accuracy {bacc:.4}, below white-box test {wt:?} at {wacc:.4} (gradient masking?)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attacks::GradStats;

    #[test]
    fn perturbation_outside_eps_and_range_is_reported() {
        let adv = Adversarial {
            x_adv: vec![0.5, 1.2],
            grads: GradStats {
                zero_rows: 1,
                non_finite: 2,
                evaluations: 4,
            },
            queries: None,
        };
        let w = check_evasion(&[0.2, 1.0], &adv, 0.1, (0.0, 1.0));
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w[0].contains("1 of 4"));
        assert!(w[1].contains("2 input-gradient values"));
        assert!(w[2].contains("exceeds eps 0.1"));
        assert!(w[3].contains("1 adversarial values are outside"));
    }

    #[test]
    fn black_box_below_white_box_flags_masking() {
        assert!(check_masking(("sq", 0.1, 0.01), ("pgd", 0.3, 0.01)).is_some());
        assert!(check_masking(("sq", 0.29, 0.01), ("pgd", 0.3, 0.01)).is_none());
    }
}
