//! Commands between steps: drained without waiting while running, waited for while paused.

use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::time::Duration;

use anyhow::Result;
use burn::module::Module;

use super::protocol::{Command, Event, Sample};
use super::trainer::{Halt, Trainer};
use crate::data::text::answers_equal;
use crate::model::generate::SampleOpts;

/// Keys that may change mid-run; the rest shape the model or the data.
pub const LIVE_KEYS: &[&str] = &[
    "post.lr",
    "post.temperature",
    "post.top_k",
    "post.group_size",
    "post.questions",
    "post.rd_batch",
    "post.kl_beta",
    "post.clip_eps",
    "post.policy_updates",
    "post.max_bad_steps",
    "mix.strategy",
    "mix.alpha",
    "mix.alpha_min",
    "mix.alpha_max",
    "mix.momentum",
    "mix.tau",
    "mix.tau_gate",
    "mix.prg_eps",
    "eval.every",
    "eval.confident_threshold",
    "checkpoint.every",
    "checkpoint.keep_last",
];

impl Trainer {
    /// Handles pending commands; blocks while paused. `Some` means stop now.
    pub(super) fn between_steps(&mut self) -> Result<Option<Halt>> {
        loop {
            if self.stop.is_raised() {
                return self.stop_requested(false).map(Some);
            }
            let cmd = if self.paused {
                // Woken now and then to see the stop flag.
                match self.commands.recv_timeout(Duration::from_millis(100)) {
                    Ok(c) => c,
                    Err(RecvTimeoutError::Timeout) => continue,
                    // Nobody can resume us: stop cleanly.
                    Err(RecvTimeoutError::Disconnected) => return Ok(Some(Halt::Stop)),
                }
            } else {
                match self.commands.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => return Ok(None),
                }
            };
            if let Some(h) = self.handle(cmd)? {
                return Ok(Some(h));
            }
        }
    }

    fn handle(&mut self, cmd: Command) -> Result<Option<Halt>> {
        match cmd {
            Command::Pause if !self.paused => {
                self.paused = true;
                self.dir.log("paused");
                self.emit(Event::Paused);
            }
            Command::Resume if self.paused => {
                self.paused = false;
                self.steps_since_start = 0;
                self.dir.log("resumed");
                self.emit(Event::Resumed);
            }
            Command::Pause | Command::Resume => {}
            Command::Checkpoint => self.checkpoint_now()?,
            Command::Evaluate => self.evaluate_now(super::milestones::Split::Eval)?,
            Command::SetHyper { key, value } => self.set_hyper(&key, &value),
            Command::Sample => self.sample(),
            Command::Stop { checkpoint } => {
                if checkpoint {
                    self.checkpoint_now()?;
                }
                self.dir.log("stopped on request");
                return Ok(Some(Halt::Stop));
            }
        }
        Ok(None)
    }

    /// The stop flag is up: a checkpoint of the last finished step (`dropped`: a step in
    /// progress was given up for it), a line in the log, and the halt.
    pub(super) fn stop_requested(&mut self, dropped: bool) -> Result<Halt> {
        let t0 = std::time::Instant::now();
        self.checkpoint_now()?;
        self.dir.log(&format!(
            "stop requested (signal or terminal gone): {}checkpoint at {} step {} written in {:.1} s",
            if dropped {
                format!("step {} in progress dropped; ", self.step + 1)
            } else {
                String::new()
            },
            self.phase.name(),
            self.step,
            t0.elapsed().as_secs_f64()
        ));
        Ok(Halt::Stop)
    }

    fn set_hyper(&mut self, key: &str, value: &str) {
        if !LIVE_KEYS.contains(&key) {
            self.warn(format!(
                "`{key}` cannot change mid-run (live keys: {})",
                LIVE_KEYS.join(", ")
            ));
            return;
        }
        match self.config.set(key, crate::config::parse_value(value)) {
            Ok(c) => {
                self.config = c;
                self.pending_changes.push(format!("{key}={value}"));
                self.emit(Event::HyperChanged {
                    step: self.step,
                    key: key.to_string(),
                    value: value.to_string(),
                });
            }
            Err(e) => self.warn(format!("rejected: {e}")),
        }
    }

    /// A fresh rollout with its PRG trace, drawn from a generator of its own so that asking for
    /// samples never changes the training run.
    fn sample(&mut self) {
        if self.data.unlabeled.is_empty() {
            return;
        }
        let q = self.data.unlabeled[self.sample_rng.below(self.data.unlabeled.len())]
            .question
            .clone();
        let p = &self.config.post;
        let opts = SampleOpts {
            temperature: Some(p.temperature),
            top_k: p.top_k,
            max_new: p.max_new_tokens,
        };
        let policy = self.model.valid();
        let r = super::rollouts::rollouts(
            &policy,
            &[q.as_str()],
            1,
            &opts,
            self.config.extract(),
            &mut self.sample_rng,
            &crate::model::generate::NEVER,
        )
        .remove(0);
        let (trace, prg) = match &r.parsed.answer {
            Some(a) => {
                let (t, _) = super::prg_scoring::prg_traces(
                    &policy,
                    &[(q.as_str(), &r.parsed.steps, a.as_str())],
                    self.config.mix.prg_eps,
                    8,
                );
                (t[0].trace.clone(), Some(t[0].score.prg))
            }
            None => (Vec::new(), None),
        };
        // The generator's gold answer is not in unlabeled data; compare with a labeled twin if any.
        let gold = self
            .data
            .labeled
            .iter()
            .find(|l| l.question == q)
            .map(|l| l.answer.clone());
        let correct = match (&gold, &r.parsed.answer) {
            (Some(g), Some(a)) => Some(answers_equal(g, a)),
            _ => None,
        };
        self.emit(Event::Sample(Box::new(Sample {
            source: format!("rollout at {} step {}", self.phase.name(), self.step),
            question: q,
            steps: r.parsed.steps.clone(),
            answer: r.parsed.answer.clone(),
            gold,
            correct,
            confidence: r.confidence.unwrap_or(0.0),
            trace,
            prg,
            self_certainty: r.self_certainty,
        })));
    }
}
