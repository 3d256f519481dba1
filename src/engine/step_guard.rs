//! What follows every training step: the optimizer update (skipped when the loss is not
//! finite), the step's metrics, periodic checkpoints, and the stops for failed writes and for
//! runs of non-finite losses (the TUI pauses, headless fails).

use anyhow::Result;
use burn::optim::GradientsParams;

use super::post_step::Optim;
use super::protocol::{Event, Phase, StepMetrics};
use super::trainer::{Halt, Trainer};

impl Trainer {
    /// The optimizer step with `grads`, unless the loss `value` is not finite. Returns whether it
    /// applied.
    pub fn apply_update(&mut self, grads: GradientsParams, value: f64, lr: f64) -> Result<bool> {
        self.apply_update_with(Optim::Main, grads, value, lr)
    }

    /// [`Self::apply_update`] through the RD/main or the RL optimizer (`post.update = split`).
    pub(super) fn apply_update_with(
        &mut self,
        which: Optim,
        grads: GradientsParams,
        value: f64,
        lr: f64,
    ) -> Result<bool> {
        if !value.is_finite() {
            self.bad_steps += 1;
            self.warn(format!(
                "{} step {}: loss is {value}; update skipped ({} in a row)",
                self.phase.name(),
                self.step + 1,
                self.bad_steps
            ));
            return Ok(false);
        }
        self.bad_steps = 0;
        let optim = match which {
            Optim::Main => &mut self.optim,
            Optim::Rl => &mut self.optim_rl,
        };
        self.model = optim.step(lr, self.model.clone(), grads);
        Ok(true)
    }

    pub(super) fn record_step(&mut self, mut m: StepMetrics) {
        m.changed = std::mem::take(&mut self.pending_changes);
        m.shapes = Some(crate::model::shapes::distinct());
        self.steps_since_start += 1;
        if let Err(e) = self.dir.metrics(&m) {
            self.io_error.get_or_insert(format!("{e:#}"));
        }
        self.emit(Event::Step(Box::new(m)));
    }

    /// Periodic checkpoint, write faults and the non-finite-loss guard.
    pub(super) fn after_step(&mut self, total: usize) -> Result<Option<Halt>> {
        let every = self.config.checkpoint.every;
        // Post-training's last step is checkpointed too: the final evaluations after it take
        // long on a real model, and a kill during them then resumes there, not `every` steps
        // back. (Pretraining's last step is `base.hyt`, written at once.)
        let last = self.step == total && self.phase == Phase::Post;
        if every > 0 && (self.step % every == 0 && self.step < total || last) {
            if let Err(e) = self.checkpoint_now() {
                self.io_error.get_or_insert(format!("{e:#}"));
            }
        }
        // A write that failed: the TUI pauses with the error (fix the disk, then resume; the
        // next write tries again); headless stops with it. The last good checkpoint stays.
        if let Some(e) = self.io_error.take() {
            let last = self.last_good_checkpoint();
            self.pause_or_stop(
                format!("{e}; paused (last good checkpoint: {last})"),
                format!("{e} (last good checkpoint: {last})"),
            )?;
        }
        if self.bad_steps >= self.config.post.max_bad_steps {
            let msg = format!(
                "{} consecutive non-finite losses; last good checkpoint: {}",
                self.bad_steps,
                self.last_good_checkpoint()
            );
            self.bad_steps = 0;
            self.pause_or_stop(format!("{msg}; paused"), msg)?;
        }
        Ok(None)
    }

    fn last_good_checkpoint(&self) -> String {
        self.last_checkpoint
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "none".into())
    }

    /// Interactive runs pause with `paused` as a warning; headless runs fail with `stopped`.
    fn pause_or_stop(&mut self, paused: String, stopped: String) -> Result<()> {
        if !self.interactive {
            anyhow::bail!(stopped);
        }
        self.warn(paused);
        self.paused = true;
        self.emit(Event::Paused);
        Ok(())
    }
}
