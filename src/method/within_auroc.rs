//! Within-question AUROC: how well a reward ranks a question's correct rollouts above its wrong
//! ones. GRPO only compares rollouts of the same question, so an AUROC pooled across questions
//! (which difficulty and length confound) says little about whether a reward can teach; this
//! one counts only pairs from the same group.

/// Over every group, every pair (correct i, wrong j) scores 1 when `reward_i > reward_j`, ½ on a
/// tie; the AUROC is the mean over all such pairs. Groups that are all right or all wrong hold
/// no pair. `None` when no group holds one.
pub fn within_auroc(groups: &[(Vec<f64>, Vec<bool>)]) -> Option<f64> {
    let (mut wins, mut pairs) = (0.0, 0usize);
    for (reward, correct) in groups {
        for (ri, ci) in reward.iter().zip(correct) {
            if !*ci {
                continue;
            }
            for (rj, cj) in reward.iter().zip(correct) {
                if *cj {
                    continue;
                }
                pairs += 1;
                wins += if ri > rj {
                    1.0
                } else if ri == rj {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    (pairs > 0).then(|| wins / pairs as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_only_within_groups() {
        // Group 1: correct 0.9 against wrong 0.5 and 0.95: 1 + 0 = 1 of 2.
        // Group 2: correct 0.1 and 0.2 against wrong 0.2: 0 + ½ = ½ of 2.
        // Group 3: all correct, no pair. Overall (1 + ½) / 4.
        let g = vec![
            (vec![0.9, 0.5, 0.95], vec![true, false, false]),
            (vec![0.1, 0.2, 0.2], vec![true, true, false]),
            (vec![0.3, 0.4], vec![true, true]),
        ];
        assert_eq!(within_auroc(&g), Some(0.375));
        // Pooled across groups, group 3's low rewards would not count against anything here.
        assert_eq!(within_auroc(&g[2..]), None);
        assert_eq!(within_auroc(&[]), None);
        // A perfect ranker.
        let g = vec![(vec![1.0, 0.0, 0.0, 1.0], vec![true, false, false, true])];
        assert_eq!(within_auroc(&g), Some(1.0));
    }
}
