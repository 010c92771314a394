//! Membership inference. The loss-threshold attack scores each row by −CE loss and calls
//! high scores members; it is summarised by the ROC AUC (Mann–Whitney, ties count ½),
//! the TPR at FPR ≤ 1 % and ≤ 0.1 %, and the largest TPR − FPR. The rule-based attack
//! calls a row a member when the model classifies it correctly.

/// ROC summary of a score-based membership attack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RocSummary {
    /// Area under the ROC curve, ties counted ½.
    pub auc: f64,
    /// Largest TPR with FPR ≤ 1 %.
    pub tpr_at_fpr_1pct: f64,
    /// Largest TPR with FPR ≤ 0.1 %.
    pub tpr_at_fpr_01pct: f64,
    /// max(TPR − FPR) over thresholds.
    pub max_advantage: f64,
}

/// ROC summary of `members` against `non_members` scores (higher = more member-like).
/// Scores must be finite; both sets non-empty.
pub fn roc(members: &[f64], non_members: &[f64]) -> RocSummary {
    let (n1, n0) = (members.len() as f64, non_members.len() as f64);
    let mut all: Vec<(f64, bool)> = members
        .iter()
        .map(|&s| (s, true))
        .chain(non_members.iter().map(|&s| (s, false)))
        .collect();
    // Descending by score; ties grouped.
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut auc2 = 0.0; // twice the area, accumulated by trapezoids
    let (mut prev_tpr, mut prev_fpr) = (0.0f64, 0.0f64);
    let (mut t1, mut t01, mut adv) = (0.0f64, 0.0f64, 0.0f64);
    let mut i = 0;
    while i < all.len() {
        let s = all[i].0;
        while i < all.len() && all[i].0 == s {
            if all[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let tpr = tp as f64 / n1;
        let fpr = fp as f64 / n0;
        auc2 += (fpr - prev_fpr) * (tpr + prev_tpr);
        if fpr <= 0.01 {
            t1 = t1.max(tpr);
        }
        if fpr <= 0.001 {
            t01 = t01.max(tpr);
        }
        adv = adv.max(tpr - fpr);
        prev_tpr = tpr;
        prev_fpr = fpr;
    }
    RocSummary {
        auc: auc2 / 2.0,
        tpr_at_fpr_1pct: t1,
        tpr_at_fpr_01pct: t01,
        max_advantage: adv,
    }
}

/// The rule-based attack: member ⇔ classified correctly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleSummary {
    /// Share of all rows whose membership the rule gets right.
    pub accuracy: f64,
    /// Mean of TPR and TNR (insensitive to the member / non-member ratio).
    pub balanced_accuracy: f64,
    /// TPR − FPR: train accuracy minus test accuracy.
    pub advantage: f64,
}

/// Rule-based attack summary from per-row correctness of members and non-members.
pub fn rule_based(member_correct: &[bool], non_member_correct: &[bool]) -> RuleSummary {
    let tp = member_correct.iter().filter(|&&c| c).count() as f64;
    let fp = non_member_correct.iter().filter(|&&c| c).count() as f64;
    let (n1, n0) = (member_correct.len() as f64, non_member_correct.len() as f64);
    let tpr = tp / n1;
    let fpr = fp / n0;
    RuleSummary {
        accuracy: (tp + (n0 - fp)) / (n1 + n0),
        balanced_accuracy: (tpr + 1.0 - fpr) / 2.0,
        advantage: tpr - fpr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_as_one_half() {
        // One member and one non-member with equal scores: AUC ½.
        assert_eq!(roc(&[1.0], &[1.0]).auc, 0.5);
        // Perfect separation.
        let r = roc(&[3.0, 2.0], &[1.0, 0.0]);
        assert_eq!(r.auc, 1.0);
        assert_eq!(r.max_advantage, 1.0);
        assert_eq!(r.tpr_at_fpr_01pct, 1.0);
        // Mann–Whitney by hand: members {2, 1}, non-members {1, 0}: pairs 1 + 1 + ½ + 1 = 3.5 of 4.
        assert_eq!(roc(&[2.0, 1.0], &[1.0, 0.0]).auc, 0.875);
    }

    #[test]
    fn tpr_at_low_fpr_takes_only_thresholds_below_the_fpr() {
        // The top score is a non-member: any threshold admitting a member has FPR ≥ ½.
        let r = roc(&[1.0, 0.5], &[2.0, 0.0]);
        assert_eq!(r.tpr_at_fpr_1pct, 0.0);
        assert_eq!(r.max_advantage, 0.5);
    }

    #[test]
    fn rule_based_advantage_is_train_minus_test_accuracy() {
        let r = rule_based(&[true, true, true, true], &[true, false]);
        assert_eq!(r.advantage, 0.5);
        assert_eq!(r.accuracy, 5.0 / 6.0);
        assert_eq!(r.balanced_accuracy, 0.75);
    }
}
