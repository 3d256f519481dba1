//! One post-training step: RD batch, rollouts, PRG scoring, α, gated advantages, update(s).

use std::time::Instant;

use anyhow::Result;
use burn::module::Module;

use super::losses::{PolicyRow, rd_encode, rd_loss_part, rd_tokens, rlif_loss_part};
use super::prg_scoring::prg_traces;
use super::protocol::{Event, PrgTrace, StepMetrics};
use super::rollouts::{Rollout, rollouts};
use super::trainer::Trainer;
use crate::data::Labeled;
use crate::method::consensus::majority;
use crate::method::grpo::{floor_unanswered, group_advantages, has_spread};
use crate::method::mixing::{PrgSignals, RolloutPrg, gate};
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

/// The answer each rollout's PRG is scored against: its own, or its group's majority answer
/// (`None`: the rollout gave no answer; its PRG is 0).
fn rollout_targets(rolls: &[Rollout], group_size: usize, mode: RolloutPrg) -> Vec<Option<String>> {
    match mode {
        RolloutPrg::Own => rolls.iter().map(|r| r.parsed.answer.clone()).collect(),
        RolloutPrg::Consensus => rolls
            .chunks(group_size.max(1))
            .flat_map(|group| {
                let answers: Vec<Option<&str>> =
                    group.iter().map(|r| r.parsed.answer.as_deref()).collect();
                let m = majority(&answers).map(str::to_string);
                group
                    .iter()
                    .map(move |r| r.parsed.answer.as_ref().and(m.clone()))
            })
            .collect(),
    }
}

impl Trainer {
    pub(super) fn post_step(&mut self, total: usize) -> Result<StepMetrics> {
        let cfg = self.config.post.clone();
        let params = self.config.mix_params();
        let policy = self.model.valid();
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
        let mut rolls: Vec<Rollout> = Vec::new();
        let mut generated = 0usize;
        if params.strategy.needs_rollouts() && self.data.rollout_pool() > 0 {
            let qi = self
                .streams
                .unlabeled
                .take(&mut self.cursors.unlabeled, cfg.questions);
            let questions: Vec<&str> = qi.iter().map(|&i| self.data.rollout_question(i)).collect();
            let opts = SampleOpts {
                temperature: Some(cfg.temperature),
                top_k: cfg.top_k,
                max_new: cfg.max_new_tokens,
            };
            rolls = rollouts(&policy, &questions, cfg.group_size, &opts, &mut self.rng);
            generated = rolls.iter().map(|r| r.generated.tokens.len()).sum();
        }
        m.time_rollout = t0.elapsed().as_secs_f64();

        // PRG of the gold traces (gold answers) and of the rollouts (against their own answers,
        // or their group's majority answer), one pass.
        let t1 = Instant::now();
        let targets = rollout_targets(&rolls, cfg.group_size, self.config.rollout_prg());
        let answered: Vec<usize> = (0..rolls.len()).filter(|&i| targets[i].is_some()).collect();
        let mut triples: Vec<(&str, &[String], &str)> = gold
            .iter()
            .map(|g| (g.question.as_str(), g.steps.as_slice(), g.answer.as_str()))
            .collect();
        triples.extend(answered.iter().map(|&i| {
            let r = &rolls[i];
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
        // A rollout without an answer earned no confidence: it counts as PRG 0.
        let prg_policy = mean(rollout_prg.iter().copied());
        m.time_prg = t1.elapsed().as_secs_f64();

        let alpha = self.mix.next_alpha(
            &params,
            self.step,
            total,
            PrgSignals {
                anchor: prg_anchor,
                policy: prg_policy.unwrap_or(prg_anchor),
                anchor_conf,
            },
        );

        // Group-normalized rewards, gated by PRG under HyTuning.
        let mut advantages = vec![0.0; rolls.len()];
        let mut groups_without_spread = 0;
        let n_groups = rolls.len() / cfg.group_size.max(1);
        for g in 0..n_groups {
            let range = g * cfg.group_size..(g + 1) * cfg.group_size;
            let mut rewards: Vec<f64> = rolls[range.clone()].iter().map(|r| r.reward).collect();
            if self.config.mix.unanswered == "lowest" {
                let answered: Vec<bool> = rolls[range.clone()]
                    .iter()
                    .map(|r| r.parsed.answer.is_some())
                    .collect();
                floor_unanswered(&mut rewards, &answered);
            }
            groups_without_spread += !has_spread(&rewards) as usize;
            for (k, a) in group_advantages(&rewards).into_iter().enumerate() {
                let i = range.start + k;
                advantages[i] = if params.strategy.gates() {
                    gate(a, rollout_prg[i], params.tau_gate)
                } else {
                    a
                };
            }
        }

        // Update(s).
        let t2 = Instant::now();
        let gold_refs: Vec<&Labeled> = gold.iter().collect();
        let rows: Vec<PolicyRow> = rolls
            .iter()
            .zip(&advantages)
            .filter(|(r, _)| !r.generated.tokens.is_empty())
            .map(|(r, &a)| PolicyRow {
                prompt: &r.prompt,
                response: &r.generated.tokens,
                old_logprobs: &r.generated.logprobs,
                advantage: a,
            })
            .collect();
        let use_rlif = !rows.is_empty() && alpha < 1.0;
        let reference = self
            .reference
            .clone()
            .expect("reference model exists in post-training");
        // RD and RLIF rows split over the shards; each shard's loss is its share of
        // α·RD + (1 − α)·RLIF, so the shards' gradients sum to the whole batch's.
        let rl_rows: &[PolicyRow] = if use_rlif { &rows } else { &[] };
        let gold_toks = rd_encode(self.model.codec(), &gold_refs);
        let rd_denom = rd_tokens(&gold_toks, self.model.max_len());
        let sharding = Shards::for_device(&self.device);
        let shards = sharding.count(gold_toks.len() + rl_rows.len());
        let (rd_parts, rl_parts) = (split(gold_toks.len(), shards), split(rl_rows.len(), shards));
        let shard_loss = |model: &Lm, i: usize| {
            let (gold, rows) = (
                &gold_toks[rd_parts[i].clone()],
                &rl_rows[rl_parts[i].clone()],
            );
            let mut part = UpdatePart::default();
            let mut loss = None;
            if !gold.is_empty() {
                let (rd, tok) = rd_loss_part(model, gold, rd_denom);
                part.rd = rd.clone().into_scalar::<f32>() as f64;
                part.tokens += tok;
                loss = Some(rd.mul_scalar(alpha));
            }
            if !rows.is_empty() {
                let rl = rlif_loss_part(
                    model,
                    &reference,
                    rows,
                    cfg.clip_eps,
                    cfg.kl_beta,
                    rl_rows.len(),
                );
                part.rlif = rl.loss.clone().into_scalar::<f32>() as f64;
                (part.kl_sum, part.kl_tokens) = (rl.kl_sum, rl.kl_tokens);
                part.tokens += rl.tokens;
                let weighted = rl.loss.mul_scalar(1.0 - alpha);
                loss = Some(match loss {
                    Some(l) => l + weighted,
                    None => weighted,
                });
            }
            loss.map(|l| (l, part))
        };
        let mut update_tokens = 0;
        let (mut loss_rd, mut loss_rlif, mut loss_total, mut kl) = (0.0, None, 0.0, None);
        for _ in 0..cfg.policy_updates.max(1) {
            let (grads, parts) = sharding.grads(&self.model, shards, shard_loss);
            let sum = |f: fn(&UpdatePart) -> f64| parts.iter().map(f).sum::<f64>();
            update_tokens += parts.iter().map(|p| p.tokens).sum::<usize>();
            loss_rd = sum(|p| p.rd);
            if use_rlif {
                loss_rlif = Some(sum(|p| p.rlif));
                kl = Some(sum(|p| p.kl_sum) / sum(|p| p.kl_tokens).max(1.0));
            }
            loss_total = alpha * loss_rd + (1.0 - alpha) * loss_rlif.unwrap_or(0.0);
            if !self.apply_update(grads, loss_total, cfg.lr)? {
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
        if !rolls.is_empty() {
            let n = rolls.len() as f64;
            let rewards: Vec<f64> = rolls.iter().map(|r| r.reward).collect();
            let rm = rewards.iter().sum::<f64>() / n;
            m.reward_mean = Some(rm);
            m.reward_std = Some((rewards.iter().map(|r| (r - rm).powi(2)).sum::<f64>() / n).sqrt());
            m.no_spread_share = Some(groups_without_spread as f64 / n_groups.max(1) as f64);
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
            m.truncation_rate = Some(
                rolls
                    .iter()
                    .filter(|r| {
                        !r.generated
                            .tokens
                            .last()
                            .is_some_and(|&t| self.model.codec().is_end(t))
                    })
                    .count() as f64
                    / n,
            );
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
        Ok(m)
    }
}
