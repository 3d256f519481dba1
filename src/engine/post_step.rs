//! One post-training step: RD batch, rollouts, PRG scoring, α, gated advantages, update(s).

use std::time::Instant;

use anyhow::Result;
use burn::module::Module;
use burn::optim::GradientsParams;

use super::losses::{GrpoOpts, PolicyRow, grpo_loss_part, rd_encode, rd_loss_part, rd_tokens};
use super::prg_scoring::prg_traces;
use super::protocol::{Event, PrgTrace, StepMetrics};
use super::rl_groups::{Group, RewardOpts, advantages, group_rewards, groups};
use super::rollouts::{Rollout, rollouts};
use super::trainer::Trainer;
use crate::data::Labeled;
use crate::method::grpo::rl_step_scale;
use crate::method::mixing::{PrgSignals, Strategy};
use crate::model::Lm;
use crate::model::generate::SampleOpts;
use crate::model::shards::{Shards, split};

const TRACES_SHOWN: usize = 3;

/// What one shard of the update reports: its shares of the losses, its KL sum and its tokens.
#[derive(Default)]
struct UpdatePart {
    rd: f64,
    rlif: f64,
    kl_sum: f64,
    kl_tokens: f64,
    tokens: usize,
}

fn mean(v: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (s, n) = v
        .into_iter()
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// What a step changes before its first update: a step is only given up before that (the
/// model and optimizers are then still the last finished step's, and need no copy).
pub(super) struct StepStart {
    rng: crate::rng::Rng,
    cursors: super::cursor::Cursors,
    mix: crate::method::mixing::MixState,
}

/// Which optimizer an update goes through (`post.update = split` keeps one per loss).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Optim {
    /// RD (and, with `update = joint`, the whole mixed loss).
    Main,
    /// RL rows (RLIF and labeled rollouts) under `update = split`.
    Rl,
}

impl Trainer {
    /// This step's groups: `questions` unlabeled questions and, for strategies that mix in
    /// RD, the first `labeled_rollouts` questions of the RD batch, `votes` rollouts each,
    /// decoded together; and apart, the held-out meter's groups (`mix.heldout_labels`), decoded
    /// in the same batch and never trained on.
    fn rollout_groups(&mut self, policy: &Lm, gold: &[Labeled]) -> (Vec<Group>, Vec<Group>) {
        let cfg = &self.config.post;
        let strategy = self.config.strategy();
        if !strategy.needs_rollouts() {
            return (Vec::new(), Vec::new());
        }
        let mut questions: Vec<String> = Vec::new();
        let mut golds: Vec<Option<String>> = Vec::new();
        if self.data.rollout_pool() > 0 {
            let qi = self
                .streams
                .unlabeled
                .take(&mut self.cursors.unlabeled, cfg.questions);
            for &i in &qi {
                questions.push(self.data.rollout_question(i).to_string());
                golds.push(None);
            }
        }
        if strategy != Strategy::Rlif {
            for g in gold.iter().take(cfg.labeled_rollouts) {
                questions.push(g.question.clone());
                golds.push(Some(g.answer.clone()));
            }
        }
        let trained = questions.len();
        for h in &self.heldout {
            questions.push(h.question.clone());
            golds.push(Some(h.answer.clone()));
        }
        if questions.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let opts = SampleOpts {
            temperature: Some(cfg.temperature),
            top_k: cfg.top_k,
            max_new: cfg.max_new_tokens,
        };
        let votes = self.config.votes();
        let refs: Vec<&str> = questions.iter().map(String::as_str).collect();
        let all = rollouts(
            policy,
            &refs,
            votes,
            &opts,
            self.config.extract(),
            &mut self.rng,
            self.stop.atomic(),
        );
        let mut trained_groups = groups(all, votes, cfg.group_size, &golds);
        let meter = trained_groups.split_off(trained);
        (trained_groups, meter)
    }

    /// The state a step changes, taken before it so that a step given up leaves no trace.
    pub(super) fn step_start(&self) -> StepStart {
        StepStart {
            rng: self.rng.clone(),
            cursors: self.cursors.clone(),
            mix: self.mix.clone(),
        }
    }

    pub(super) fn restore(&mut self, s: StepStart) {
        self.rng = s.rng;
        self.cursors = s.cursors;
        self.mix = s.mix;
    }

    /// One step; `None` when the stop flag rose before its first update was applied (the
    /// caller restores the state [`Self::step_start`] took). Once an update is applied the
    /// step runs to its end.
    pub(super) fn post_step(&mut self, total: usize) -> Result<Option<StepMetrics>> {
        let cfg = self.config.post.clone();
        let params = self.config.mix_params();
        let policy = self.model.valid();
        let split_update = cfg.update == "split";
        let mut m = StepMetrics {
            phase: "post".into(),
            total,
            lr: cfg.lr,
            warmup: self.steps_since_start == 0,
            ..Default::default()
        };
        let t0 = Instant::now();

        let idx = self
            .streams
            .labeled
            .take(&mut self.cursors.labeled, cfg.rd_batch);
        let gold: Vec<Labeled> = idx.iter().map(|&i| self.data.labeled[i].clone()).collect();

        // Rollouts (pure RD needs none).
        let (groups, meter) = self.rollout_groups(&policy, &gold);
        let heldout_solve = mean(meter.iter().filter_map(|g| g.solved));
        let rolls: Vec<&Rollout> = groups.iter().flat_map(|g| &g.rolls).collect();
        let generated: usize = rolls.iter().map(|r| r.generated.tokens.len()).sum();
        m.time_rollout = t0.elapsed().as_secs_f64();
        if self.stop.is_raised() {
            return Ok(None);
        }

        // PRG of the gold traces (gold answers) and of the rollouts (against the gold answer,
        // their own, or their question's majority answer), one pass.
        let t1 = Instant::now();
        let mode = self.config.rollout_prg();
        let targets: Vec<Option<String>> = groups.iter().flat_map(|g| g.targets(mode)).collect();
        let answered: Vec<usize> = (0..rolls.len()).filter(|&i| targets[i].is_some()).collect();
        let mut triples: Vec<(&str, &[String], &str)> = gold
            .iter()
            .map(|g| (g.question.as_str(), g.steps.as_slice(), g.answer.as_str()))
            .collect();
        triples.extend(answered.iter().map(|&i| {
            let r = rolls[i];
            (
                r.question.as_str(),
                r.parsed.steps.as_slice(),
                targets[i].as_deref().unwrap(),
            )
        }));
        let (traced, prg_tokens) = prg_traces(&policy, &triples, self.config.mix.prg_eps, 256);
        let mut rollout_prg = vec![0.0; rolls.len()];
        for (k, &i) in answered.iter().enumerate() {
            rollout_prg[i] = traced[gold.len() + k].score.prg;
        }
        let prg_anchor = mean(traced[..gold.len()].iter().map(|t| t.score.prg)).unwrap_or(0.0);
        let anchor_conf = mean(
            traced[..gold.len()]
                .iter()
                .map(|t| t.trace.last().copied().unwrap_or(0.0)),
        )
        .unwrap_or(0.0);
        // PRG_policy: the unlabeled rollouts (a rollout without an answer counts as PRG 0).
        let unlabeled_prg = groups
            .iter()
            .scan(0usize, |at, g| {
                let r = *at..*at + g.rolls.len();
                *at = r.end;
                Some((g.gold.is_none(), r))
            })
            .filter(|(u, _)| *u)
            .flat_map(|(_, r)| r)
            .map(|i| rollout_prg[i]);
        let prg_policy = mean(unlabeled_prg);
        let solve_rate = mean(groups.iter().filter_map(|g| g.solved));
        m.time_prg = t1.elapsed().as_secs_f64();
        if self.stop.is_raised() {
            return Ok(None);
        }

        let alpha = self.mix.next_alpha(
            &params,
            self.step,
            total,
            PrgSignals {
                anchor: prg_anchor,
                policy: prg_policy.unwrap_or(prg_anchor),
                anchor_conf,
                solve_rate,
                heldout: heldout_solve,
            },
        );

        // Rewards and advantages, group by group.
        let ropts = RewardOpts {
            reward: self.config.reward(),
            min_majority: cfg.min_majority,
            min_confidence: cfg.min_confidence,
            prg_weight: cfg.prg_weight,
            floor_unanswered: self.config.mix.unanswered == "lowest",
            dr_grpo: cfg.advantage == "dr_grpo",
            gate: params.strategy.gates().then_some(params.tau_gate),
            brier_weight: cfg.brier_weight,
            vote_brier: cfg.vote_brier,
            response_confidence: self.config.eval.confidence == "response",
        };
        let mut rewards_u: Vec<f64> = Vec::new();
        let mut advantage = Vec::with_capacity(rolls.len());
        let (mut without_spread, mut silenced, mut n_unlabeled) = (0usize, 0usize, 0usize);
        let mut at = 0;
        for g in &groups {
            let prg = &rollout_prg[at..at + g.rolls.len()];
            at += g.rolls.len();
            let r = group_rewards(g, prg, &ropts, &mut self.rng);
            without_spread += !r.as_deref().is_some_and(crate::method::grpo::has_spread) as usize;
            if g.gold.is_none() {
                n_unlabeled += 1;
                silenced += r.is_none() as usize;
                if let Some(r) = &r {
                    rewards_u.extend(r);
                }
            }
            advantage.extend(advantages(r.as_deref(), prg, g.rolls.len(), &ropts));
        }

        // Update(s).
        let t2 = Instant::now();
        let gold_refs: Vec<&Labeled> = gold.iter().collect();
        let rows: Vec<PolicyRow> = rolls
            .iter()
            .zip(&advantage)
            .filter(|(r, _)| !r.generated.tokens.is_empty())
            .map(|(r, &a)| PolicyRow {
                prompt: &r.prompt,
                response: &r.generated.tokens,
                old_logprobs: &r.generated.logprobs,
                advantage: a,
            })
            .collect();
        // AdamW normalises a step by the gradient's running scale: the RL step follows the share
        // of rollouts that carry an advantage, so tied groups do not step on noise.
        let informative = rows.iter().filter(|r| r.advantage != 0.0).count();
        let rl_scale = rl_step_scale(self.config.rl_step(), informative, rows.len());
        let use_rl = !rows.is_empty() && alpha < 1.0 && (rl_scale > 0.0 || !split_update);
        let use_rd = alpha > 0.0 || !split_update;
        let reference = self.reference_model()?;
        let grpo = GrpoOpts {
            eps_low: cfg.clip_eps,
            eps_high: if cfg.clip_eps_high > 0.0 {
                cfg.clip_eps_high
            } else {
                cfg.clip_eps
            },
            beta: cfg.kl_beta,
            fixed_len: ropts.dr_grpo.then_some(cfg.max_new_tokens),
        };
        let gold_toks = rd_encode(self.model.codec(), &gold_refs);
        let rd_denom = rd_tokens(&gold_toks, self.model.max_len());
        let sharding = Shards::for_device(&self.device);
        // One pass over `gold` and `rl` rows split over the shards, each shard's loss its share
        // of `w_rd·RD + w_rl·RL`, so the shards' gradients sum to the whole batch's.
        let pass =
            |model: &Lm, gold: &[(Vec<u32>, Vec<u32>)], rl: &[PolicyRow], w_rd: f64, w_rl: f64| {
                let shards = sharding.count_capped(gold.len() + rl.len(), cfg.micro_batch);
                let (rd_parts, rl_parts) = (split(gold.len(), shards), split(rl.len(), shards));
                sharding.grads(model, shards, |model: &Lm, i: usize| {
                    let (gold, rows) = (&gold[rd_parts[i].clone()], &rl[rl_parts[i].clone()]);
                    let mut part = UpdatePart::default();
                    let mut loss = None;
                    if !gold.is_empty() {
                        let (rd, tok) = rd_loss_part(model, gold, rd_denom);
                        part.rd = rd.clone().into_scalar::<f32>() as f64;
                        part.tokens += tok;
                        loss = Some(rd.mul_scalar(w_rd));
                    }
                    if !rows.is_empty() {
                        let rl = grpo_loss_part(model, &reference, rows, &grpo, rl.len());
                        part.rlif = rl.loss.clone().into_scalar::<f32>() as f64;
                        (part.kl_sum, part.kl_tokens) = (rl.kl_sum, rl.kl_tokens);
                        part.tokens += rl.tokens;
                        let weighted = rl.loss.mul_scalar(w_rl);
                        loss = Some(match loss {
                            Some(l) => l + weighted,
                            None => weighted,
                        });
                    }
                    loss.map(|l| (l, part))
                })
            };
        let rl_rows: &[PolicyRow] = if use_rl { &rows } else { &[] };
        let no_gold: &[(Vec<u32>, Vec<u32>)] = &[];
        let mut update_tokens = 0;
        let (mut loss_rd, mut loss_rlif, mut loss_total, mut kl) = (0.0, None, 0.0, None);
        for update in 0..cfg.policy_updates.max(1) {
            // A stop gives the step up until its first update is applied, never after.
            let may_drop = update == 0;
            // joint: one pass, one AdamW over the mixed loss. split: RD and RL each through an
            // AdamW of its own, their step sizes α·lr and (1 − α)·rl_lr, so neither loss's
            // gradient scale decides how far the other moves the model.
            let mut steps: Vec<(GradientsParams, Optim, f64)> = Vec::new();
            let mut parts: Vec<UpdatePart> = Vec::new();
            if split_update {
                if use_rd {
                    let (g, p) = pass(&self.model, &gold_toks, &[], 1.0, 0.0);
                    steps.push((g, Optim::Main, alpha * cfg.lr));
                    parts.extend(p);
                }
                if use_rl && !(may_drop && self.stop.is_raised()) {
                    let (g, p) = pass(&self.model, no_gold, rl_rows, 0.0, 1.0);
                    steps.push((g, Optim::Rl, (1.0 - alpha) * cfg.rl_lr * rl_scale));
                    parts.extend(p);
                }
            } else {
                let (g, p) = pass(&self.model, &gold_toks, rl_rows, alpha, 1.0 - alpha);
                steps.push((g, Optim::Main, cfg.lr));
                parts.extend(p);
            }
            let sum = |f: fn(&UpdatePart) -> f64| parts.iter().map(f).sum::<f64>();
            update_tokens += parts.iter().map(|p| p.tokens).sum::<usize>();
            loss_rd = sum(|p| p.rd);
            if use_rl {
                loss_rlif = Some(sum(|p| p.rlif));
                kl = Some(sum(|p| p.kl_sum) / sum(|p| p.kl_tokens).max(1.0));
            }
            loss_total = alpha * loss_rd + (1.0 - alpha) * loss_rlif.unwrap_or(0.0);
            if may_drop && self.stop.is_raised() {
                return Ok(None);
            }
            let mut applied = true;
            for (grads, which, lr) in steps {
                if !self.apply_update_with(which, grads, loss_total, lr)? {
                    applied = false;
                    break;
                }
            }
            if !applied {
                m.skipped = true;
                break;
            }
        }
        m.time_update = t2.elapsed().as_secs_f64();
        self.step += 1;
        m.step = self.step;

        // Metrics.
        m.loss_rd = Some(loss_rd);
        m.loss_rlif = loss_rlif;
        m.loss_total = loss_total;
        m.alpha = Some(alpha);
        m.prg_anchor = Some(prg_anchor);
        m.anchor_conf = Some(anchor_conf);
        m.prg_policy = prg_policy;
        m.kl_ref = kl;
        m.solve_rate = solve_rate;
        m.heldout_solve = heldout_solve;
        if split_update {
            m.rl_lr = Some(cfg.rl_lr);
            m.rl_scale = (alpha < 1.0 && !rows.is_empty()).then_some(rl_scale);
        }
        if !rolls.is_empty() {
            let n = rolls.len() as f64;
            if !rewards_u.is_empty() {
                let k = rewards_u.len() as f64;
                let rm = rewards_u.iter().sum::<f64>() / k;
                m.reward_mean = Some(rm);
                m.reward_std =
                    Some((rewards_u.iter().map(|r| (r - rm).powi(2)).sum::<f64>() / k).sqrt());
            }
            m.no_spread_share = Some(without_spread as f64 / groups.len().max(1) as f64);
            if n_unlabeled > 0 {
                m.silenced_share = Some(silenced as f64 / n_unlabeled as f64);
                m.vote_share = mean(
                    groups
                        .iter()
                        .filter(|g| g.gold.is_none())
                        .map(|g| g.vote.as_ref().map_or(0.0, |v| v.1)),
                );
            }
            m.entropy = mean(
                rolls
                    .iter()
                    .flat_map(|r| r.generated.entropy.iter().copied()),
            );
            m.mean_response_len = Some(generated as f64 / n);
            m.repetition_rate = mean(
                rolls
                    .iter()
                    .map(|r| super::answer_span::repetition_rate(&r.generated.tokens)),
            );
            m.extraction_rate = Some(answered.len() as f64 / n);
            m.truncation_rate = Some(rolls.iter().filter(|r| !r.ended).count() as f64 / n);
            m.rollout_confidences = rolls.iter().filter_map(|r| r.confidence).collect();
            m.rollout_confidence_mean = mean(m.rollout_confidences.iter().copied());
            m.tok_s_rollout = Some(generated as f64 / m.time_rollout.max(1e-9));
        }
        m.tok_s_prg = Some(prg_tokens as f64 / m.time_prg.max(1e-9));
        m.tok_s_update = update_tokens as f64 / m.time_update.max(1e-9);
        m.step_seconds = t0.elapsed().as_secs_f64();

        let mut traces: Vec<PrgTrace> = gold
            .iter()
            .zip(&traced)
            .take(TRACES_SHOWN)
            .map(|(g, t)| PrgTrace {
                kind: "gold".into(),
                question: g.question.clone(),
                steps: g.steps.clone(),
                answer: g.answer.clone(),
                trace: t.trace.clone(),
                prg: t.score.prg,
            })
            .collect();
        traces.extend(
            answered
                .iter()
                .take(TRACES_SHOWN)
                .enumerate()
                .map(|(k, &i)| PrgTrace {
                    kind: "rollout".into(),
                    question: rolls[i].question.clone(),
                    steps: rolls[i].parsed.steps.clone(),
                    answer: targets[i].clone().unwrap_or_default(),
                    trace: traced[gold.len() + k].trace.clone(),
                    prg: traced[gold.len() + k].score.prg,
                }),
        );
        self.emit(Event::Traces {
            step: self.step,
            traces,
        });
        Ok(Some(m))
    }
}
