//! The RL half of a post-training step, as its stages: rollouts of unlabeled questions (with
//! extra votes) and of labeled ones → the answer each rollout's PRG is scored against → rewards
//! (`method::rewards`) → group advantages. Plain data in, plain data out.

use crate::data::text::answers_equal;
use crate::method::competence::majority_confidence;
use crate::method::consensus::majority;
use crate::method::grpo::{dr_advantages, floor_unanswered, group_advantages, has_spread};
use crate::method::mixing::{RolloutPrg, gate};
use crate::method::rewards::{
    Reward, agreement, brier_bonus, format_reward, own_shares, prg_shaped, random_rewards, vote,
    vote_brier_penalty,
};
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
    /// Mean response confidence of the votes that gave the majority answer.
    pub vote_conf: Option<f64>,
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
        let confs: Vec<Option<f64>> = chunk.iter().map(|r| r.response_confidence).collect();
        let vote_conf = vote
            .as_ref()
            .and_then(|(m, _)| majority_confidence(&answers, &confs, m));
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
            vote_conf,
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
    /// `post.min_confidence`: a floor on the majority votes' mean response confidence.
    pub min_confidence: f64,
    pub prg_weight: f64,
    /// `mix.unanswered = lowest` (self-certainty only).
    pub floor_unanswered: bool,
    pub dr_grpo: bool,
    /// HyTuning's PRG gate on positive advantages (`Some(tau_gate)`).
    pub gate: Option<f64>,
    /// `post.brier_weight`: RLCR's calibration term on labeled rollouts.
    pub brier_weight: f64,
    /// `post.vote_brier`: the vote-share calibration term on unlabeled rollouts.
    pub vote_brier: f64,
    /// Whether the terms read the response's confidence (`eval.confidence = response`) or the
    /// answer's.
    pub response_confidence: bool,
}

/// A group's rewards, and `None` when the group is silenced: a vote too weak to trust.
pub fn group_rewards(g: &Group, prg: &[f64], o: &RewardOpts, rng: &mut Rng) -> Option<Vec<f64>> {
    let answers: Vec<Option<&str>> = g.rolls.iter().map(|r| r.parsed.answer.as_deref()).collect();
    let conf: Vec<Option<f64>> = g
        .rolls
        .iter()
        .map(|r| {
            if o.response_confidence {
                r.response_confidence
            } else {
                r.confidence
            }
        })
        .collect();
    if let Some(gold) = &g.gold {
        let correct = agreement(&answers, gold);
        let mut r = prg_shaped(&correct, prg, o.prg_weight);
        if o.brier_weight > 0.0 {
            for ((r, c), ok) in r.iter_mut().zip(&conf).zip(&correct) {
                *r += brier_bonus(*c, *ok > 0.0, o.brier_weight);
            }
        }
        return Some(r);
    }
    let mut r = unlabeled_rewards(g, &answers, prg, o, rng)?;
    if o.vote_brier > 0.0 {
        for ((r, c), v) in r.iter_mut().zip(&conf).zip(own_shares(&answers)) {
            *r += vote_brier_penalty(*c, v, o.vote_brier);
        }
    }
    Some(r)
}

/// The configured reward of an unlabeled group (`None`: silenced).
fn unlabeled_rewards(
    g: &Group,
    answers: &[Option<&str>],
    prg: &[f64],
    o: &RewardOpts,
    rng: &mut Rng,
) -> Option<Vec<f64>> {
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
            if o.min_confidence > 0.0 && g.vote_conf.is_none_or(|c| c < o.min_confidence) {
                return None;
            }
            let r = agreement(answers, m);
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
            response_confidence: None,
            self_certainty: text.len() as f64,
            ended,
        }
    }

    fn opts(reward: Reward) -> RewardOpts {
        RewardOpts {
            reward,
            min_majority: 0.5,
            min_confidence: 0.0,
            prg_weight: 0.25,
            floor_unanswered: false,
            dr_grpo: false,
            gate: None,
            brier_weight: 0.0,
            vote_brier: 0.0,
            response_confidence: true,
        }
    }

    #[test]
    fn calibration_terms_join_the_rewards() {
        let with = |text: &str, conf: f64| Rollout {
            response_confidence: Some(conf),
            confidence: Some(1.0),
            ..roll(text, true)
        };
        let rolls = vec![
            with("S: 3*4=12\nA: 12", 0.9),
            with("S: 3*4=13\nA: 13", 0.9),
            roll("no answer", false),
        ];
        let answers: Vec<Option<&str>> = rolls.iter().map(|r| r.parsed.answer.as_deref()).collect();
        let majority = vote(&answers).map(|(a, s)| (a.to_string(), s));
        let labeled = Group {
            rolls,
            gold: Some("12".into()),
            vote: majority,
            solved: None,
            vote_conf: None,
        };
        let mut o = opts(Reward::Consensus);
        o.prg_weight = 0.0;
        o.brier_weight = 0.5;
        let mut rng = Rng::new(1);
        // Right at .9: 1 + .5·(1 − .01); wrong at .9: .5·(1 − .81); silent: 0.
        let r = group_rewards(&labeled, &[0.0; 3], &o, &mut rng).unwrap();
        let want = [1.495, 0.095, 0.0];
        assert!(
            r.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{r:?}"
        );
        // The answer's confidence instead (1.0): right 1.5, wrong 0.
        o.response_confidence = false;
        let r = group_rewards(&labeled, &[0.0; 3], &o, &mut rng).unwrap();
        assert!((r[0] - 1.5).abs() < 1e-12 && r[1].abs() < 1e-12, "{r:?}");
        // Unlabeled, consensus with the vote-share term: "12" twice at .9 (share 2/3), "13" at .5
        // (share 1/3): 1 − .5·(.9 − 2/3)², and 0 − .5·(.5 − 1/3)².
        let rolls = vec![with("A: 12", 0.9), with("A: 12", 0.9), with("A: 13", 0.5)];
        let answers: Vec<Option<&str>> = rolls.iter().map(|r| r.parsed.answer.as_deref()).collect();
        let majority = vote(&answers).map(|(a, s)| (a.to_string(), s));
        let g = Group {
            rolls,
            gold: None,
            vote: majority,
            solved: None,
            vote_conf: None,
        };
        let mut o = opts(Reward::Consensus);
        o.vote_brier = 0.5;
        let r = group_rewards(&g, &[0.0; 3], &o, &mut rng).unwrap();
        let d1 = 0.9 - 2.0 / 3.0;
        let d2 = 0.5 - 1.0 / 3.0;
        let want = [1.0 - 0.5 * d1 * d1, 1.0 - 0.5 * d1 * d1, -0.5 * d2 * d2];
        assert!(
            r.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{r:?}"
        );
    }

    #[test]
    fn a_confidence_floor_silences_an_unsure_majority() {
        let with = |text: &str, conf: f64| Rollout {
            response_confidence: Some(conf),
            ..roll(text, true)
        };
        // 4 votes, 2 trained: "12" three times at .5, .3, .1 (mean .3), "7" once at .9.
        let all = vec![
            with("A: 12\n", 0.5),
            with("A: 7\n", 0.9),
            with("A: 12\n", 0.3),
            with("A: 12\n", 0.1),
        ];
        let g = &groups(all, 4, 2, &[None])[0];
        assert!((g.vote_conf.unwrap() - 0.3).abs() < 1e-12);
        let mut o = opts(Reward::Consensus);
        let mut rng = Rng::new(1);
        // Off, and a floor at the mean: trained (agree, disagree).
        assert_eq!(
            group_rewards(g, &[0.0; 2], &o, &mut rng),
            Some(vec![1.0, 0.0])
        );
        o.min_confidence = 0.3;
        assert_eq!(
            group_rewards(g, &[0.0; 2], &o, &mut rng),
            Some(vec![1.0, 0.0])
        );
        // Above it: silenced, as a weak vote is.
        o.min_confidence = 0.31;
        assert_eq!(group_rewards(g, &[0.0; 2], &o, &mut rng), None);
        // Labeled groups are never silenced by it.
        let rerolled = vec![
            with("A: 12\n", 0.5),
            with("A: 7\n", 0.9),
            with("A: 12\n", 0.3),
            with("A: 12\n", 0.1),
        ];
        let labeled = &groups(rerolled, 4, 2, &[Some("12".into())])[0];
        assert_eq!(
            group_rewards(labeled, &[0.0; 2], &o, &mut rng),
            Some(vec![1.0, 0.0])
        );
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
