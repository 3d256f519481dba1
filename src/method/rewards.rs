//! RLIF rewards (`post.reward`): what a rollout of an unlabeled question earns, and what a
//! rollout of a labeled question earns against its gold answer. Each is a plain function of
//! one group's rollouts.
//!
//! - `self_certainty`: the rollout's mean self-certainty (DESIGN §1.5, INTUITOR). Measured on
//!   hytune's suites it does not carry correctness (docs/method.md).
//! - `consensus`: 1 when the rollout's answer equals the majority answer of the group's votes,
//!   else 0 (no answer: 0). A group whose majority share is below `post.min_majority` gives no
//!   gradient (TTRL's vote, EMPO's threshold).
//! - `consensus_prg`: `consensus` plus `post.prg_weight · clamp(PRG, 0, 1)` on the agreeing
//!   rollouts, PRG scored against the majority answer: agreement whose steps earned it counts
//!   a little more. Never PRG alone (a rollout copying its last step earns PRG).
//! - `random` and `format`: controls. A gain a control also gets is GRPO's, not the reward's.

use serde::{Deserialize, Serialize};

use crate::data::text::answers_equal;
use crate::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reward {
    SelfCertainty,
    Consensus,
    ConsensusPrg,
    Random,
    Format,
}

impl Reward {
    pub const NAMES: &'static [&'static str] = &[
        "self_certainty",
        "consensus",
        "consensus_prg",
        "random",
        "format",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::NAMES.iter().position(|n| *n == s).map(|i| {
            [
                Reward::SelfCertainty,
                Reward::Consensus,
                Reward::ConsensusPrg,
                Reward::Random,
                Reward::Format,
            ][i]
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Whether the reward reads the group's vote (and a weak vote silences the group).
    pub fn votes(self) -> bool {
        matches!(self, Reward::Consensus | Reward::ConsensusPrg)
    }
}

/// The majority answer of a group's votes and its share of *all* votes (rollouts without an
/// answer count in the denominator: a group that mostly fails to answer has a weak vote).
/// Ties go to the answer seen first; `None` when no vote has an answer.
pub fn vote<'a>(answers: &[Option<&'a str>]) -> Option<(&'a str, f64)> {
    let m = super::consensus::majority(answers)?;
    let n = answers
        .iter()
        .flatten()
        .filter(|a| answers_equal(a, m))
        .count();
    Some((m, n as f64 / answers.len() as f64))
}

/// 1 for each answer equal to `target`, 0 otherwise (no answer: 0).
pub fn agreement(answers: &[Option<&str>], target: &str) -> Vec<f64> {
    answers
        .iter()
        .map(|a| a.is_some_and(|a| answers_equal(a, target)) as u8 as f64)
        .collect()
}

/// `r_i + weight · clamp(prg_i, 0, 1)` where `r_i > 0` (an agreeing or correct rollout), else
/// `r_i`: PRG only ranks rollouts that already agree.
pub fn prg_shaped(rewards: &[f64], prg: &[f64], weight: f64) -> Vec<f64> {
    rewards
        .iter()
        .zip(prg)
        .map(|(&r, &p)| {
            if r > 0.0 {
                r + weight * p.clamp(0.0, 1.0)
            } else {
                r
            }
        })
        .collect()
}

/// RLCR's calibration term on a labeled rollout (Damani et al. 2025): `w·(1 − (conf − correct)²)`
/// for a rollout that answered, 0 for one that did not (silence earns no calibration credit).
pub fn brier_bonus(conf: Option<f64>, correct: bool, w: f64) -> f64 {
    conf.map_or(0.0, |c| w * (1.0 - (c - correct as u8 as f64).powi(2)))
}

/// The label-free calibration term on an unlabeled rollout (experimental): `−λ·(conf − v)²`, v
/// the share of its group's rollouts that gave its answer; 0 for one that did not answer.
pub fn vote_brier_penalty(conf: Option<f64>, share: f64, lambda: f64) -> f64 {
    conf.map_or(0.0, |c| -lambda * (c - share).powi(2))
}

/// The share of `answers` equal to each one's own (0 for no answer).
pub fn own_shares(answers: &[Option<&str>]) -> Vec<f64> {
    let n = answers.len().max(1) as f64;
    answers
        .iter()
        .map(|a| match a {
            Some(a) => {
                answers
                    .iter()
                    .filter(|b| b.is_some_and(|b| crate::data::text::answers_equal(a, b)))
                    .count() as f64
                    / n
            }
            None => 0.0,
        })
        .collect()
}

/// The format control: 1 when the rollout wrote an answer line and ended (EOS) before the
/// cap, else 0. It says nothing about correctness.
pub fn format_reward(answered: bool, ended: bool) -> f64 {
    (answered && ended) as u8 as f64
}

/// The random control: uniform in [0, 1), independent of the rollout.
pub fn random_rewards(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.unit()).collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn calibration_terms_by_hand() {
        // Right at 0.8: 0.5·(1 − 0.04) = 0.48; wrong at 0.8: 0.5·(1 − 0.64) = 0.18.
        assert!((brier_bonus(Some(0.8), true, 0.5) - 0.48).abs() < 1e-12);
        assert!((brier_bonus(Some(0.8), false, 0.5) - 0.18).abs() < 1e-12);
        assert_eq!(brier_bonus(None, false, 0.5), 0.0);
        // 3 of 4 gave "7": the three at share .75, the "8" at .25, the silent one 0.
        let s = own_shares(&[Some("7"), Some("7.0"), Some("8"), Some("7"), None]);
        assert_eq!(s, vec![0.6, 0.6, 0.2, 0.6, 0.0]);
        // Conf .9 where 60% agreed: −0.5·0.09.
        assert!((vote_brier_penalty(Some(0.9), 0.6, 0.5) + 0.045).abs() < 1e-12);
        assert_eq!(vote_brier_penalty(None, 0.6, 0.5), 0.0);
    }
    use super::*;

    #[test]
    fn vote_share_counts_unanswered_votes() {
        // 12 twice (12.0 equals 12), 7 once, one rollout without an answer: share 2/4.
        let a = [Some("12"), Some("7"), Some("12.0"), None];
        assert_eq!(vote(&a), Some(("12", 0.5)));
        assert_eq!(vote(&[None, None]), None);
        assert_eq!(vote(&[Some("3"); 8]), Some(("3", 1.0)));
        // 3 of 8.
        let a = [
            Some("1"),
            Some("2"),
            Some("1"),
            None,
            Some("5"),
            Some("1"),
            Some("2"),
            None,
        ];
        assert_eq!(vote(&a), Some(("1", 0.375)));
    }

    #[test]
    fn agreement_and_shaping_by_hand() {
        let a = [Some("12"), Some("7"), None, Some("12")];
        let r = agreement(&a, "12");
        assert_eq!(r, vec![1.0, 0.0, 0.0, 1.0]);
        // PRG 0.4 and 2.0 (clamped to 1) on the agreeing ones; the disagreeing keep 0 even
        // with a high PRG.
        let s = prg_shaped(&r, &[0.4, 0.9, 0.5, 2.0], 0.25);
        assert_eq!(s, vec![1.1, 0.0, 0.0, 1.25]);
        // A negative PRG adds nothing.
        assert_eq!(prg_shaped(&[1.0], &[-0.3], 0.25), vec![1.0]);
    }

    #[test]
    fn controls() {
        assert_eq!(format_reward(true, true), 1.0);
        assert_eq!(format_reward(true, false), 0.0);
        assert_eq!(format_reward(false, true), 0.0);
        let mut rng = Rng::new(3);
        let r = random_rewards(&mut rng, 64);
        assert!(r.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = r.iter().sum::<f64>() / 64.0;
        assert!((mean - 0.5).abs() < 0.15, "{mean}");
        assert_ne!(r[0], r[1]);
    }

    #[test]
    fn names_round_trip() {
        for n in Reward::NAMES {
            assert_eq!(Reward::parse(n).unwrap().name(), *n);
        }
        assert!(Reward::parse("gold").is_none());
        assert!(Reward::Consensus.votes() && !Reward::Random.votes());
    }
}
