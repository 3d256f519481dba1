//! GRPO pieces: group-normalized advantages, the clipped surrogate and the k3 KL estimator.

/// `A_i = (r_i − mean r) / (std r + 1e-6)` within one group (population std).
pub fn group_advantages(rewards: &[f64]) -> Vec<f64> {
    let n = rewards.len() as f64;
    let mean = rewards.iter().sum::<f64>() / n;
    let std = (rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    rewards.iter().map(|r| (r - mean) / (std + 1e-6)).collect()
}

/// Dr. GRPO (Liu et al. 2025): `A_i = r_i − mean r`, without the division by the group's std
/// that turns near-ties of a continuous reward into full ±1 advantages.
pub fn dr_advantages(rewards: &[f64]) -> Vec<f64> {
    let mean = rewards.iter().sum::<f64>() / rewards.len() as f64;
    rewards.iter().map(|r| r - mean).collect()
}

/// `mix.unanswered = lowest`: a rollout without an answer gets one less than the lowest reward
/// of its group's answered rollouts, so self-certainty earned without committing to an answer
/// is never reinforced. A group with no answered rollout is left as it is.
pub fn floor_unanswered(rewards: &mut [f64], answered: &[bool]) {
    let lowest = rewards
        .iter()
        .zip(answered)
        .filter(|(_, a)| **a)
        .map(|(r, _)| *r)
        .fold(f64::INFINITY, f64::min);
    if lowest.is_finite() {
        for (r, a) in rewards.iter_mut().zip(answered) {
            if !a {
                *r = lowest - 1.0;
            }
        }
    }
}

/// A group whose rewards are all equal teaches nothing (all advantages 0).
pub fn has_spread(rewards: &[f64]) -> bool {
    rewards.iter().any(|r| (r - rewards[0]).abs() > 1e-9)
}

/// How far an RL step moves the model for the signal it carries (`post.rl_step`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RlStep {
    /// Every step is a full AdamW step, whatever share of its rollouts has an advantage (before).
    Always,
    /// A step none of whose rollouts has an advantage takes no RL step; the others full ones.
    Skip,
    /// The RL learning rate times the share of rollouts with an advantage (0: no step).
    Scaled,
}

impl RlStep {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "always" => Some(Self::Always),
            "skip" => Some(Self::Skip),
            "scaled" => Some(Self::Scaled),
            _ => None,
        }
    }
}

/// The factor on the RL learning rate of a step with `informative` of its `rows` rollouts
/// carrying a non-zero advantage; 0 means the RL optimizer is not stepped at all. AdamW
/// normalises its step by the gradient's running scale, so a batch whose groups all tie
/// (only the KL term left, ~0 near the reference) would otherwise move the model as far as one
/// full of signal, in a direction set by noise.
pub fn rl_step_scale(mode: RlStep, informative: usize, rows: usize) -> f64 {
    match mode {
        RlStep::Always => 1.0,
        _ if informative == 0 || rows == 0 => 0.0,
        RlStep::Skip => 1.0,
        RlStep::Scaled => informative as f64 / rows as f64,
    }
}

/// `min(ρ A, clip(ρ, 1−ε, 1+ε) A)` for one token.
pub fn clipped_surrogate(ratio: f64, advantage: f64, eps: f64) -> f64 {
    clipped_surrogate_asym(ratio, advantage, eps, eps)
}

/// Clip-higher (DAPO): `min(ρ A, clip(ρ, 1−ε_low, 1+ε_high) A)`; a larger `ε_high` lets rare
/// tokens of a good rollout grow faster than the symmetric clip allows.
pub fn clipped_surrogate_asym(ratio: f64, advantage: f64, eps_low: f64, eps_high: f64) -> f64 {
    (ratio * advantage).min(ratio.clamp(1.0 - eps_low, 1.0 + eps_high) * advantage)
}

/// k3 estimator of `KL(π_θ ‖ π_ref)` at one sampled token: `e^(ref−θ) − (ref−θ) − 1`.
pub fn kl_k3(logp: f64, logp_ref: f64) -> f64 {
    let d = logp_ref - logp;
    d.exp() - d - 1.0
}

/// The RLIF loss over responses, each a list of (logp, old logp, ref logp) per token:
/// `−mean_i (1/|o_i|) Σ_t [min(ρA, clip(ρ)A) − β·k3]`.
pub fn rlif_loss(responses: &[(f64, Vec<(f64, f64, f64)>)], eps: f64, beta: f64) -> f64 {
    let per: Vec<f64> = responses
        .iter()
        .filter(|(_, toks)| !toks.is_empty())
        .map(|(adv, toks)| {
            toks.iter()
                .map(|&(lp, old, rf)| {
                    clipped_surrogate((lp - old).exp(), *adv, eps) - beta * kl_k3(lp, rf)
                })
                .sum::<f64>()
                / toks.len() as f64
        })
        .collect();
    -per.iter().sum::<f64>() / per.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rl_step_follows_the_share_of_rollouts_with_an_advantage() {
        // 2 of 32 rollouts with an advantage: a sixteenth of the rate, or all of it.
        assert_eq!(rl_step_scale(RlStep::Scaled, 2, 32), 0.0625);
        assert_eq!(rl_step_scale(RlStep::Skip, 2, 32), 1.0);
        assert_eq!(rl_step_scale(RlStep::Always, 2, 32), 1.0);
        // No signal: no step, unless told to step anyway.
        assert_eq!(rl_step_scale(RlStep::Scaled, 0, 32), 0.0);
        assert_eq!(rl_step_scale(RlStep::Skip, 0, 32), 0.0);
        assert_eq!(rl_step_scale(RlStep::Always, 0, 32), 1.0);
        assert_eq!(rl_step_scale(RlStep::Scaled, 0, 0), 0.0);
        assert_eq!(rl_step_scale(RlStep::Scaled, 32, 32), 1.0);
        assert_eq!(RlStep::parse("scaled"), Some(RlStep::Scaled));
        assert_eq!(RlStep::parse("Scaled"), None);
    }

    #[test]
    fn unanswered_rollouts_fall_below_every_answered_one() {
        let mut r = [9.0, 7.5, 12.0, 8.0];
        floor_unanswered(&mut r, &[true, true, false, true]);
        assert_eq!(r, [9.0, 7.5, 6.5, 8.0]);
        // No answered rollout: nothing to compare with, rewards unchanged.
        let mut r = [9.0, 7.5];
        floor_unanswered(&mut r, &[false, false]);
        assert_eq!(r, [9.0, 7.5]);
    }

    #[test]
    fn advantages_by_hand() {
        let a = group_advantages(&[1.0, 2.0, 3.0, 4.0]);
        // mean 2.5, population std sqrt(1.25) = 1.118034
        let want = [-1.341641, -0.447214, 0.447214, 1.341641];
        for (x, w) in a.iter().zip(want) {
            assert!((x - w).abs() < 1e-5, "{a:?}");
        }
        assert_eq!(group_advantages(&[0.3, 0.3, 0.3]), vec![0.0; 3]);
        assert!(!has_spread(&[0.3, 0.3]));
        assert!(has_spread(&[0.3, 0.31]));
    }

    #[test]
    fn surrogate_inside_and_outside_the_clip() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(clipped_surrogate(1.1, 2.0, 0.2), 2.2)); // inside: unclipped
        assert!(close(clipped_surrogate(1.5, 1.0, 0.2), 1.2)); // above, A>0: clipped
        assert!(close(clipped_surrogate(1.5, -1.0, 0.2), -1.5)); // above, A<0: pessimistic, unclipped
        assert!(close(clipped_surrogate(0.5, 1.0, 0.2), 0.5)); // below, A>0: unclipped
        assert!(close(clipped_surrogate(0.5, -1.0, 0.2), -0.8)); // below, A<0: clipped
    }

    #[test]
    fn dr_advantages_and_clip_higher_by_hand() {
        assert_eq!(
            dr_advantages(&[1.0, 0.0, 0.0, 1.0]),
            vec![0.5, -0.5, -0.5, 0.5]
        );
        // Near-tie: GRPO blows 0.01 apart into ±1, Dr. GRPO keeps ±0.005.
        let g = group_advantages(&[0.50, 0.51]);
        assert!((g[1] - 1.0).abs() < 1e-3, "{g:?}");
        let d = dr_advantages(&[0.50, 0.51]);
        assert!((d[1] - 0.005).abs() < 1e-12, "{d:?}");
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        // ρ 1.25, A 1: symmetric 0.2 clips to 1.2; ε_high 0.28 lets it through.
        assert!(close(clipped_surrogate_asym(1.25, 1.0, 0.2, 0.28), 1.25));
        assert!(close(clipped_surrogate_asym(1.5, 1.0, 0.2, 0.28), 1.28));
        // The low side stays at ε_low.
        assert!(close(clipped_surrogate_asym(0.5, -1.0, 0.2, 0.28), -0.8));
    }

    #[test]
    fn k3_by_hand() {
        assert!((kl_k3(-1.0, -2.0) - 0.367879).abs() < 1e-6);
        assert_eq!(kl_k3(-0.7, -0.7), 0.0);
        assert!(kl_k3(-2.0, -1.0) > 0.0);
    }

    #[test]
    fn loss_on_a_tiny_case() {
        // Two responses; the second is length-normalized over 2 tokens.
        let r = vec![
            (1.0, vec![(-1.0, -1.0, -1.0)]),
            (-1.0, vec![(-0.5, -1.0, -0.5), (-2.0, -2.0, -1.0)]),
        ];
        // r1: ρ=1 → 1. r2: t1 ρ=e^0.5=1.6487, A=-1 → -1.6487; t2 ρ=1 → -1, k3(-2,-1)=e-2=0.718282.
        let r2 = (-(0.5f64.exp()) + (-1.0 - 0.1 * (1f64.exp() - 2.0))) / 2.0;
        let want = -(1.0 + r2) / 2.0;
        assert!((rlif_loss(&r, 0.2, 0.1) - want).abs() < 1e-12);
    }
}
