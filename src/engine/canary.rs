//! The reward canary (`eval.canary`): at every evaluation, the first dev items (labeled, never
//! trained on) are rolled out `post.votes` times each, rewarded as unlabeled questions would
//! be, and compared with their gold answers. It says whether the internal reward still means
//! something: its within-question AUROC against correctness, how often the vote's majority is
//! the gold answer, the answer and cut rates, the mean reward, accuracy and confident errors;
//! and it flags the onset of reward hacking (`method::hacking`).

use std::time::Instant;

use burn::module::Module;

use super::answer_span::{answer_span, span_confidence};
use super::protocol::{CanaryReport, Event};
use super::rl_groups::{RewardOpts, group_rewards, groups};
use super::rollouts::rollouts;
use super::trainer::Trainer;
use crate::data::text::answers_equal;
use crate::method::hacking::{mean_se, onset};
use crate::method::rewards::agreement;
use crate::method::within_auroc::within_auroc;
use crate::model::generate::SampleOpts;
use crate::rng::Rng;

/// Canary items that price an item against the budget (`eval.canary_seconds`).
const PROBE: usize = 2;

/// How many of `left` more items fit in what remains of `budget` seconds, `done` items having
/// taken `elapsed`.
pub fn more(elapsed: f64, done: usize, left: usize, budget: f64) -> usize {
    let per = elapsed / done.max(1) as f64;
    if per <= 0.0 {
        return left;
    }
    (((budget - elapsed) / per).floor().max(0.0) as usize).min(left)
}

impl Trainer {
    /// Runs the canary on the current policy (nothing when `eval.canary` is 0 or there is no
    /// dev split), logs it, and reacts to an onset as `eval.on_hacking` says.
    pub(super) fn canary_now(&mut self) -> Option<CanaryReport> {
        let most = self.config.eval.canary.min(self.data.dev.len());
        if most == 0 {
            return None;
        }
        let policy = self.model.valid();
        let post = &self.config.post;
        let votes = self.config.votes();
        let opts = SampleOpts {
            temperature: Some(post.temperature),
            top_k: post.top_k,
            max_new: post.max_new_tokens,
        };
        // Its own stream, the same at a step whether or not the run was resumed.
        let mut rng = Rng::new(self.config.run.seed ^ 0xCA4A_51ED ^ self.step as u64);
        let budget = self.config.eval.canary_seconds;
        let fixed = self.canary_items.map(|k| k.min(most));
        // Under a budget, the run's first canary prices an item on a probe of PROBE items, then
        // rolls out as many more as the rest of the budget allows, in one batch.
        let want = fixed.unwrap_or(most);
        let mut take = match fixed {
            Some(k) => k,
            None if budget > 0.0 => PROBE.min(most),
            None => most,
        };
        let started = Instant::now();
        let mut all = Vec::new();
        let mut n = 0;
        for _ in 0..2 {
            if take == 0 {
                break;
            }
            let questions: Vec<&str> = self.data.dev[n..n + take]
                .iter()
                .map(|i| i.question.as_str())
                .collect();
            all.extend(rollouts(
                &policy,
                &questions,
                votes,
                &opts,
                self.config.extract(),
                &mut rng,
                self.stop.atomic(),
            ));
            if self.stop.is_raised() {
                return None;
            }
            n += take;
            if fixed.is_some() || budget <= 0.0 {
                break;
            }
            take = more(started.elapsed().as_secs_f64(), n, want - n, budget);
        }
        if self.canary_items.is_none() {
            self.canary_items = Some(n);
            if n < most {
                self.dir.log(&format!(
                    "canary: {n} of {most} items fit eval.canary_seconds = {budget} ({:.1} s); every canary of this run reads those {n}",
                    started.elapsed().as_secs_f64()
                ));
            }
        }
        let items = self.data.dev[..n].to_vec();
        let codec = policy.codec();
        let ropts = RewardOpts {
            reward: self.config.reward(),
            min_majority: post.min_majority,
            min_confidence: post.min_confidence,
            prg_weight: post.prg_weight,
            floor_unanswered: self.config.mix.unanswered == "lowest",
            dr_grpo: false,
            gate: None,
            brier_weight: post.brier_weight,
            vote_brier: post.vote_brier,
            response_confidence: self.config.eval.confidence == "response",
        };
        let gs = groups(all, votes, votes, &vec![None; n]);
        let threshold = self.config.eval.confident_threshold;
        let (mut by_reward, mut by_sc, mut by_lp, mut by_vote) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut majority_gold, mut share, mut answered, mut cut, mut conf_err) =
            (0.0, 0.0, 0usize, 0usize, 0usize);
        let (mut rewards, mut acc_q) = (Vec::new(), Vec::new());
        for (g, item) in gs.iter().zip(&items) {
            let answers: Vec<Option<&str>> =
                g.rolls.iter().map(|r| r.parsed.answer.as_deref()).collect();
            let correct: Vec<bool> = answers
                .iter()
                .map(|a| a.is_some_and(|a| answers_equal(a, &item.answer)))
                .collect();
            acc_q.push(correct.iter().filter(|c| **c).count() as f64 / g.rolls.len() as f64);
            if let Some((m, s)) = &g.vote {
                majority_gold += answers_equal(m, &item.answer) as u8 as f64;
                share += s;
                by_vote.push((agreement(&answers, m), correct.clone()));
            }
            for (r, c) in g.rolls.iter().zip(&correct) {
                answered += r.parsed.answer.is_some() as usize;
                cut += !r.ended as usize;
                let conf = answer_span(codec, &r.generated.tokens, self.config.extract())
                    .map_or(0.0, |s| span_confidence(&r.generated.logprobs, 0..s.end));
                conf_err += (!c && conf >= threshold) as usize;
            }
            by_sc.push((
                g.rolls.iter().map(|r| r.self_certainty).collect(),
                correct.clone(),
            ));
            by_lp.push((
                g.rolls
                    .iter()
                    .map(|r| r.generated.logprobs.iter().map(|&l| l as f64).sum())
                    .collect(),
                correct.clone(),
            ));
            // PRG shaping is not scored here: consensus_prg reads as consensus on the canary.
            let zeros = vec![0.0; g.rolls.len()];
            if let Some(r) = group_rewards(g, &zeros, &ropts, &mut rng) {
                rewards.extend(r.iter().copied());
                by_reward.push((r, correct));
            }
        }
        let total = (n * votes) as f64;
        let (accuracy, accuracy_se) = mean_se(&acc_q);
        let mut report = CanaryReport {
            phase: self.phase.name().into(),
            step: self.step,
            questions: n,
            votes,
            reward: self.config.post.reward.clone(),
            reward_auroc: within_auroc(&by_reward),
            self_certainty_auroc: within_auroc(&by_sc),
            logprob_auroc: within_auroc(&by_lp),
            consensus_auroc: within_auroc(&by_vote),
            majority_gold: majority_gold / n as f64,
            majority_share: share / n as f64,
            answer_rate: answered as f64 / total,
            cut_rate: cut as f64 / total,
            reward_mean: rewards.iter().sum::<f64>() / rewards.len().max(1) as f64,
            accuracy,
            accuracy_se,
            confident_error_rate: conf_err as f64 / total,
            onset: None,
        };
        let point = report.point();
        // Only a run that trains on a reward can hack it; RD's canary is only measured.
        if self.config.strategy().needs_rollouts() {
            report.onset = onset(&self.canary_history, &point);
        }
        self.canary_history.push(point);
        if let Err(e) = self.dir.canary(&report) {
            self.io_error.get_or_insert(format!("{e:#}"));
        }
        self.dir.log(&format!(
            "canary step {}: {}",
            report.step,
            report.summary_line()
        ));
        if let Some(why) = &report.onset {
            let react = self.config.eval.on_hacking == "rd" && !self.mix.held;
            if react {
                self.mix.held = true;
            }
            self.warn(format!(
                "reward hacking flagged at step {}: {why}{}",
                report.step,
                if react {
                    "; alpha held at alpha_max from now on (eval.on_hacking = rd)"
                } else {
                    ""
                }
            ));
        }
        self.emit(Event::Canary(Box::new(report.clone())));
        Some(report)
    }
}

#[cfg(test)]
mod tests {
    use super::more;

    #[test]
    fn the_rest_of_the_budget_buys_whole_items() {
        // 2 items in 5 s (2.5 s each), 20 s budget: 15 s left buys 6 more.
        assert_eq!(more(5.0, 2, 62, 20.0), 6);
        // A fast model: 2 items in 0.01 s, all 62 left fit.
        assert_eq!(more(0.01, 2, 62, 20.0), 62);
        // The probe already overran the budget: nothing more.
        assert_eq!(more(25.0, 2, 62, 20.0), 0);
        // 15 s left at 4 s an item: 3, not 3.75.
        assert_eq!(more(8.0, 2, 10, 23.0), 3);
    }
}
