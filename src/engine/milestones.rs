//! What the live trainer writes at a step: checkpoints (periodic, on request, best by eval)
//! and evaluations.

use std::path::Path;

use anyhow::Result;
use burn::module::Module;

use super::checkpoint::{self, Meta};
use super::evaluate::{EvalOpts, evaluate_until};
use super::protocol::{EvalReport, Event, Phase};
use super::trainer::Trainer;
use crate::method::calibration::{beats, best_key};
use crate::model::Lm;

impl Trainer {
    pub fn meta(&self, complete: bool) -> Meta {
        Meta {
            phase: self.phase,
            step: self.step,
            complete,
            shape: self.shape,
            config: self.config.clone(),
            rng: self.rng.clone(),
            cursors: self.cursors.clone(),
            mix: (self.phase == Phase::Post).then(|| self.mix.clone()),
            best: self.best,
            elapsed_seconds: self.elapsed_before + self.started.elapsed().as_secs_f64(),
            data: Some(self.data_record.clone()),
            base_model: self.base_model.clone(),
            certificate: None,
            canary_items: self.canary_items,
            canary_history: self.canary_history.clone(),
        }
    }

    /// The KL's reference: the frozen copy of full fine-tuning, or under LoRA the base itself
    /// (the policy with its adapters switched off: no copy).
    pub fn reference_model(&self) -> Result<Lm> {
        match &self.reference {
            Some(r) => Ok(r.clone()),
            None if self.config.lora.rank > 0 => Ok(self.model.valid().without_adapters()),
            None => anyhow::bail!(
                "post-training without a reference model (a checkpoint of full fine-tuning that holds none)"
            ),
        }
    }

    pub fn save(&mut self, path: &Path, complete: bool) -> Result<()> {
        // The RL optimizer holds state only once a split update has used it.
        let opt_rl = (self.phase == Phase::Post && self.config.post.update == "split")
            .then_some(&self.optim_rl);
        checkpoint::save_with(
            path,
            &self.meta(complete),
            &self.model,
            Some(&self.optim),
            self.reference.as_ref(),
            opt_rl,
        )?;
        self.last_checkpoint = Some(path.to_path_buf());
        self.emit(Event::Checkpoint {
            path: path.to_path_buf(),
            phase: self.phase,
            step: self.step,
        });
        Ok(())
    }

    pub fn checkpoint_now(&mut self) -> Result<()> {
        let path = self
            .dir
            .path
            .join(checkpoint::periodic_name(self.phase, self.step));
        self.save(&path, false)?;
        checkpoint::prune(&self.dir.path, self.config.checkpoint.keep_last);
        Ok(())
    }

    /// Evaluates on one split: `Dev` chooses `best.hyt` (by `eval.best` in post-training), `Eval`
    /// is only reported (and gives the run's before/after summary). No dev items: nothing to do.
    pub fn evaluate_now(&mut self, split: Split) -> Result<()> {
        let (items, name) = match split {
            Split::Eval => {
                let n = self.config.eval.max_items.min(self.data.eval.len());
                (self.data.eval[..n].to_vec(), "eval")
            }
            Split::Dev => {
                let n = self.config.eval.dev_items.min(self.data.dev.len());
                (self.data.dev[..n].to_vec(), "dev")
            }
        };
        if items.is_empty() {
            return Ok(());
        }
        let n = items.len();
        let opts = EvalOpts::of(&self.config);
        self.emit(Event::Evaluating { done: 0, items: n });
        let events = self.events.clone();
        let Some(mut report): Option<EvalReport> = evaluate_until(
            &self.model.valid(),
            &items,
            &opts,
            self.phase.name(),
            self.step,
            &mut |done| {
                let _ = events.send(Event::Evaluating { done, items: n });
            },
            self.stop.atomic(),
        ) else {
            self.dir.log(&format!(
                "{name} evaluation at step {} given up: stop requested",
                self.step
            ));
            return Ok(());
        };
        report.split = name.to_string();
        if split == Split::Dev {
            report.certificate = super::evaluate::certify_report(
                &report,
                self.config.eval.epsilon,
                self.config.eval.delta,
            );
        }
        self.dir.eval(&report)?;
        let c = report.overall.clone();
        let certified = report
            .certificate
            .as_ref()
            .map(|c| format!(" {}", super::protocol::certified_coverage(c)))
            .unwrap_or_default();
        self.dir.log(&format!(
            "{name} {} step {}: accuracy {:.3} ece {:.3} brier {:.3} confident-errors {:.3} aurc {:.3}{certified}",
            report.phase, report.step, c.accuracy, c.ece, c.brier, c.confident_error_rate, c.aurc
        ));
        if split == Split::Eval {
            if self.first_eval.is_none() {
                self.first_eval = Some(c.clone());
            }
            self.last_eval = Some(c.clone());
        }
        let key = best_key(&self.config.eval.best, &c);
        let improved = split == Split::Dev && self.phase == Phase::Post && beats(key, self.best);
        self.emit(Event::Eval(Box::new(report)));
        if improved {
            self.best = Some(key);
            let best = self.dir.path.join("best.hyt");
            self.save(&best, false)?;
        }
        Ok(())
    }
}

/// Which held-out split an evaluation reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `dev.jsonl` (or labeled traces held out): chooses checkpoints and defaults.
    Dev,
    /// `eval.jsonl`: only reported.
    Eval,
}
