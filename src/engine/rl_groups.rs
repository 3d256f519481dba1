//! The RL half of a post-training step, as its stages: rollouts of unlabeled questions (with
//! extra votes) and of labeled ones → the answer each rollout's PRG is scored against → rewards
//! (`method::rewards`) → group advantages. Plain data in, plain data out.

use crate::data::text::answers_equal;
use crate::method::consensus::majority;
use crate::method::grpo::{dr_advantages, floor_unanswered, group_advantages, has_spread};
use crate::method::mixing::{RolloutPrg, gate};
use crate::method::rewards::{Reward, agreement, format_reward, prg_shaped, random_rewards, vote};
use crate::rng::Rng;

use super::rollouts::Rollout;

/// One question's trained rollouts and what they are scored against.
pub struct Group {
    /// The trained rollouts (the first `group_size` of the question's votes).
    pub rolls: Vec<Rollout>,
    /// The gold answer of a labeled question (`None`: unlabeled).
    pub gold: Option<String>,
    /// The majority answer of all the question's votes and its share of them.
    pub vote: Option<(String, f64)>,
    /// Share of all the question's votes that reached the gold answer (labeled only).
    pub solved: Option<f64>,
}

/// Splits `votes`-sized runs of rollouts into groups, keeping the first `group_size` of each
/// for training; `gold[q]` is question q's gold answer (labeled) or `None`.
pub fn groups(
    all: Vec<Rollout>,
    votes: usize,
    group_size: usize,
    gold: &[Option<String>],
) -> Vec<Group> {
    let mut out = Vec::with_capacity(gold.len());
    let mut it = all.into_iter();
    for g in gold {
        let chunk: Vec<Rollout> = it.by_ref().take(votes).collect();
        let answers: Vec<Option<&str>> = chunk.iter().map(|r| r.parsed.answer.as_deref()).collect();
        let vote = vote(&answers).map(|(a, s)| (a.to_string(), s));
        let solved = g.as_ref().map(|g| {
            answers
                .iter()
                .filter(|a| a.is_some_and(|a| answers_equal(a, g)))
                .count() as f64
                / chunk.len().max(1) as f64
        });
        let rolls = chunk.into_iter().take(group_size).collect();
        out.push(Group {
            rolls,
            gold: g.clone(),
            vote,
            solved,
        });
    }
    out
}

impl Group {
    /// The answer each rollout's PRG is scored against (`None`: it gave no answer; PRG 0):
    /// the gold answer of a labeled question; else its own answer, or the vote's majority.
    pub fn targets(&self, mode: RolloutPrg) -> Vec<Option<String>> {
        let fixed = match (&self.gold, mode) {
            (Some(g), _) => Some(g.clone()),
            (None, RolloutPrg::Consensus) => {
                self.vote.as_ref().map(|(a, _)| a.clone()).or_else(|| {
                    let answers: Vec<Option<&str>> = self
                        .rolls
                        .iter()
                        .map(|r| r.parsed.answer.as_deref())
                        .collect();
                    majority(&answers).map(str::to_string)
                })
            }
            (None, RolloutPrg::Own) => None,
        };
        self.rolls
            .iter()
            .map(|r| {
                r.parsed
                    .answer
                    .as_ref()
                    .map(|own| fixed.clone().unwrap_or_else(|| own.clone()))
            })
            .collect()
    }
}

/// How a step turns a group into rewards and advantages.
pub struct RewardOpts {
    pub reward: Reward,
    pub min_majority: f64,
    pub prg_weight: f64,
    /// `mix.unanswered = lowest` (self-certainty only).
    pub floor_unanswered: bool,
    pub dr_grpo: bool,
    /// HyTuning's PRG gate on positive advantages (`Some(tau_gate)`).
    pub gate: Option<f64>,
}

/// A group's rewards, and `None` when the group is silenced: a vote too weak to trust.
pub fn group_rewards(g: &Group, prg: &[f64], o: &RewardOpts, rng: &mut Rng) -> Option<Vec<f64>> {
    let answers: Vec<Option<&str>> = g.rolls.iter().map(|r| r.parsed.answer.as_deref()).collect();
    if let Some(gold) = &g.gold {
        return Some(prg_shaped(&agreement(&answers, gold), prg, o.prg_weight));
    }
    Some(match o.reward {
        Reward::SelfCertainty => {
            let mut r: Vec<f64> = g.rolls.iter().map(|r| r.self_certainty).collect();
            if o.floor_unanswered {
                let answered: Vec<bool> = answers.iter().map(Option::is_some).collect();
                floor_unanswered(&mut r, &answered);
            }
            r
        }
        Reward::Consensus | Reward::ConsensusPrg => {
            // No rollout answered: nothing agrees (all 0), a vote of share 0.
            let Some((m, share)) = g.vote.as_ref() else {
                return (o.min_majority <= 0.0).then(|| vec![0.0; g.rolls.len()]);
            };
            if *share < o.min_majority {
                return None;
            }
            let r = agreement(&answers, m);
            if o.reward == Reward::ConsensusPrg {
                prg_shaped(&r, prg, o.prg_weight)
            } else {
                r
            }
        }
        Reward::Random => random_rewards(rng, g.rolls.len()),
        Reward::Format => g
            .rolls
            .iter()
            .map(|r| format_reward(r.parsed.answer.is_some(), r.ended))
            .collect(),
    })
}

/// Advantages of one group's rewards (all 0 for a silenced group or one without spread), PRG
/// gated under HyTuning.
pub fn advantages(rewards: Option<&[f64]>, prg: &[f64], n: usize, o: &RewardOpts) -> Vec<f64> {
    let Some(r) = rewards.filter(|r| has_spread(r)) else {
        return vec![0.0; n];
    };
    let a = if o.dr_grpo {
        dr_advantages(r)
    } else {
        group_advantages(r)
    };
    a.into_iter()
        .zip(prg)
        .map(|(a, &p)| match o.gate {
            Some(tau) => gate(a, p, tau),
            None => a,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::text::parse_response;
    use crate::model::generate::Generated;

    fn roll(text: &str, ended: bool) -> Rollout {
        Rollout {
            group: 0,
            question: "q".into(),
            prompt: vec![1],
            generated: Generated::default(),
            parsed: parse_response(text),
            confidence: None,
            self_certainty: text.len() as f64,
            ended,
        }
    }

    fn opts(reward: Reward) -> RewardOpts {
        RewardOpts {
            reward,
            min_majority: 0.5,
            prg_weight: 0.25,
            floor_unanswered: false,
            dr_grpo: false,
            gate: None,
        }
    }

    #[test]
    fn votes_beyond_the_group_count_and_targets_follow_them() {
        // 6 votes, 3 trained: the vote sees 12 four times of six even though the trained
        // rollouts hold it only once.
        let all = vec![
            roll("S: a\nA: 7\n", true),
            roll("S: a\nA: 12\n", true),
            roll("S: a\n", false),
            roll("A: 12\n", true),
            roll("A: 12\n", true),
            roll("A: 12\n", true),
        ];
        let g = groups(all, 6, 3, &[None]);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].rolls.len(), 3);
        let (m, share) = g[0].vote.clone().unwrap();
        assert_eq!((m.as_str(), share), ("12", 4.0 / 6.0));
        assert_eq!(
            g[0].targets(RolloutPrg::Consensus),
            vec![Some("12".into()), Some("12".into()), None]
        );
        assert_eq!(
            g[0].targets(RolloutPrg::Own),
            vec![Some("7".into()), Some("12".into()), None]
        );
        let mut rng = Rng::new(1);
        let r = group_rewards(&g[0], &[0.0, 0.8, 0.0], &opts(Reward::Consensus), &mut rng);
        assert_eq!(r, Some(vec![0.0, 1.0, 0.0]));
        let r = group_rewards(
            &g[0],
            &[0.0, 0.8, 0.0],
            &opts(Reward::ConsensusPrg),
            &mut rng,
        );
        assert_eq!(r, Some(vec![0.0, 1.2, 0.0]));
        let r = group_rewards(&g[0], &[0.0; 3], &opts(Reward::Format), &mut rng);
        assert_eq!(r, Some(vec![1.0, 1.0, 0.0]));
    }

    #[test]
    fn a_weak_vote_silences_the_group_and_labeled_groups_use_gold() {
        let all = vec![
            roll("A: 1\n", true),
            roll("A: 2\n", true),
            roll("A: 3\n", true),
            roll("S: x\n", false),
        ];
        let g = groups(all, 4, 4, &[None]);
        // Majority 1 holds 1 of 4 votes < 0.5.
        let mut rng = Rng::new(1);
        let o = opts(Reward::Consensus);
        let r = group_rewards(&g[0], &[0.0; 4], &o, &mut rng);
        assert_eq!(r, None);
        assert_eq!(advantages(r.as_deref(), &[0.0; 4], 4, &o), vec![0.0; 4]);
        // The same rollouts of a labeled question whose gold is 2: 1 of 4 solved, the correct
        // one earns 1 + 0.25 · 0.4.
        let all = vec![
            roll("A: 1\n", true),
            roll("A: 2\n", true),
            roll("A: 3\n", true),
            roll("S: x\n", false),
        ];
        let g = groups(all, 4, 4, &[Some("2".into())]);
        assert_eq!(g[0].solved, Some(0.25));
        assert_eq!(g[0].targets(RolloutPrg::Own)[0], Some("2".into()));
        let r = group_rewards(&g[0], &[0.9, 0.4, 0.9, 0.0], &o, &mut rng).unwrap();
        assert_eq!(r, vec![0.0, 1.1, 0.0, 0.0]);
        // Dr. GRPO: r − mean (mean 0.275); GRPO divides by the std.
        let dr = RewardOpts {
            dr_grpo: true,
            ..opts(Reward::Consensus)
        };
        let a = advantages(Some(&r), &[0.0; 4], 4, &dr);
        assert!((a[1] - 0.825).abs() < 1e-12 && (a[0] + 0.275).abs() < 1e-12);
        // The gate halves a positive advantage at PRG 0.
        let gated = RewardOpts {
            gate: Some(0.1),
            ..dr
        };
        let a = advantages(Some(&r), &[0.0; 4], 4, &gated);
        assert!((a[1] - 0.4125).abs() < 1e-12 && (a[0] + 0.275).abs() < 1e-12);
    }
}
