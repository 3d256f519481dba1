//! The two training phases: base pretraining on the general corpus and post-training with the
//! configured mixing strategy, each a loop of steps with commands, metrics and checkpoints between.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use burn::module::Module;

use super::losses::{rd_encode, rd_loss_part, rd_tokens};
use super::milestones::Split;
use super::protocol::{Event, Phase, StepMetrics};
use super::trainer::{Halt, Trainer, optimizer, pretrain_lr};
use crate::data::Labeled;
use crate::method::mixing::MixState;
use crate::model::shards::{Shards, split};

impl Trainer {
    /// Base pretraining on the general corpus; saves `base.hyt` in the run and data folders.
    pub(super) fn pretrain(&mut self, data_dir: Option<&Path>) -> Result<Option<Halt>> {
        self.phase = Phase::Pretrain;
        let total = self.config.pretrain.steps;
        self.emit(Event::PhaseStarted {
            phase: Phase::Pretrain,
            total,
            start: self.step,
        });
        self.steps_since_start = 0;
        while self.step < total {
            if let Some(h) = self.between_steps()? {
                return Ok(Some(h));
            }
            let p = self.config.pretrain.clone();
            let t0 = Instant::now();
            let b = self.streams.corpus.take(&mut self.cursors.corpus, 1)[0];
            let rows = b * p.batch_size..((b + 1) * p.batch_size).min(self.corpus.len());
            let batch: Vec<&Labeled> = self.corpus[rows].iter().collect();
            let lr = pretrain_lr(p.lr, p.warmup, total, self.step);
            let toks = rd_encode(self.model.codec(), &batch);
            let denom = rd_tokens(&toks, self.model.max_len());
            let shards = Shards::for_device(&self.device);
            let parts = split(toks.len(), shards.count(toks.len()));
            let (grads, outs) = shards.grads(&self.model, parts.len(), |m, i| {
                let (loss, tokens) = rd_loss_part(m, &toks[parts[i].clone()], denom);
                let value = loss.clone().into_scalar::<f32>() as f64;
                Some((loss, (value, tokens)))
            });
            let value: f64 = outs.iter().map(|o| o.0).sum();
            let tokens: usize = outs.iter().map(|o| o.1).sum();
            let skipped = !self.apply_update(grads, value, lr)?;
            self.step += 1;
            let secs = t0.elapsed().as_secs_f64();
            let m = StepMetrics {
                phase: "pretrain".into(),
                step: self.step,
                total,
                lr,
                loss_rd: Some(value),
                loss_total: value,
                time_update: secs,
                tok_s_update: tokens as f64 / secs,
                step_seconds: secs,
                warmup: self.steps_since_start == 0,
                skipped,
                ..StepMetrics::default()
            };
            self.record_step(m);
            if let Some(h) = self.after_step(total)? {
                return Ok(Some(h));
            }
        }
        let base = self.dir.path.join("base.hyt");
        self.save(&base, true)?;
        if let Some(dir) = data_dir {
            let cached = dir.join(self.base_cache_name());
            if !cached.exists() && std::fs::copy(&base, &cached).is_ok() {
                self.dir
                    .log(&format!("base model cached at {}", cached.display()));
            }
        }
        Ok(None)
    }

    /// Post-training with the configured mixing strategy, evaluating before, every N steps and
    /// at the end.
    pub(super) fn post(&mut self, resume_at: Option<usize>) -> Result<Option<Halt>> {
        self.phase = Phase::Post;
        let total = self.config.post.steps;
        if resume_at.is_none() {
            self.step = 0;
            self.optim = optimizer(self.config.post.grad_clip);
            self.optim_rl = optimizer(self.config.post.grad_clip);
            // LoRA: adapters on a frozen base, whose own forward (adapters off) is the
            // reference; full fine-tuning keeps a frozen copy.
            let spec = self.config.lora_spec();
            if spec.rank > 0 && !self.model.has_adapters() {
                self.model =
                    (self.model.clone().with_lora(&spec)).with_base_dtype(self.config.base_dtype());
                // The f32 weights a half-precision base replaced leave the heap now.
                if self.config.base_dtype().half().is_some() {
                    crate::malloc::release();
                }
            }
            self.reference = (spec.rank == 0).then(|| self.model.valid());
            let (trainable, all) = self.model.trainable_share();
            self.dir.log(&format!(
                "{}: {trainable} of {all} parameters trainable ({:.2}%)",
                if spec.rank > 0 {
                    format!(
                        "LoRA rank {} alpha {}, base stored as {}",
                        spec.rank, spec.alpha, self.config.model.dtype
                    )
                } else {
                    "full fine-tuning".to_string()
                },
                100.0 * trainable as f64 / all.max(1) as f64
            ));
            self.mix = MixState::new(&self.config.mix_params());
        }
        self.step = resume_at.unwrap_or(0);
        self.emit(Event::PhaseStarted {
            phase: Phase::Post,
            total,
            start: self.step,
        });
        self.steps_since_start = 0;
        self.warm_up_shapes();
        if resume_at.is_none() && self.eval_before {
            // A stop during one of these skips the rest (the loop below then checkpoints).
            self.evaluate_now(Split::Eval)?;
            if !self.stop.is_raised() {
                self.evaluate_now(Split::Dev)?;
            }
            if !self.stop.is_raised() {
                self.canary_now();
            }
        }
        while self.step < total {
            if let Some(h) = self.between_steps()? {
                return Ok(Some(h));
            }
            let before = self.step_start();
            let Some(mut m) = self.post_step(total)? else {
                // Stop requested mid-step: back to the last finished step, which the
                // checkpoint then holds, so a resume is exact.
                self.restore(before);
                return self.stop_requested(true).map(Some);
            };
            let every = self.config.eval.every;
            let due = every > 0 && self.step % every == 0 && self.step < total;
            if (due || self.step == total)
                && !self.stop.is_raised()
                && let Some(c) = self.canary_now()
            {
                m.canary_reward_auroc = c.reward_auroc;
                m.canary_majority_gold = Some(c.majority_gold);
                m.canary_accuracy = Some(c.accuracy);
                m.canary_reward_mean = Some(c.reward_mean);
                m.canary_onset = c.onset.is_some();
            }
            self.record_step(m);
            if due && !self.stop.is_raised() {
                self.evaluate_now(Split::Dev)?;
            }
            if let Some(h) = self.after_step(total)? {
                return Ok(Some(h));
            }
        }
        // A stop skips the final evaluation (a resume at this step runs it).
        if !self.stop.is_raised() {
            self.evaluate_now(Split::Dev)?;
            self.evaluate_now(Split::Eval)?;
        }
        if self.stop.is_raised() {
            return self.stop_requested(false).map(Some);
        }
        let last = self.dir.path.join("final.hyt");
        self.save(&last, true)?;
        Ok(None)
    }
}
