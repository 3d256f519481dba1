//! The one message enum each way between the engine and whoever drives it (TUI or headless).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::method::calibration::Calibration;
use crate::method::certify::{Applied, Certificate};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Pretrain,
    Post,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Pretrain => "pretrain",
            Phase::Post => "post",
        }
    }
}

/// What a driver asks; the engine reads these between steps.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Pause,
    Resume,
    Checkpoint,
    Evaluate,
    /// `section.key` and a value in TOML syntax (a bare word is a string); checked like config.
    SetHyper {
        key: String,
        value: String,
    },
    /// A fresh rollout on an unlabeled question, as a [`Sample`].
    Sample,
    /// Stop at the next step boundary, writing a checkpoint first when asked.
    Stop {
        checkpoint: bool,
    },
}

/// What the engine reports. It never waits for anyone to read these.
#[derive(Clone, Debug)]
pub enum Event {
    Started(RunInfo),
    PhaseStarted {
        phase: Phase,
        total: usize,
        start: usize,
    },
    Step(Box<StepMetrics>),
    Traces {
        step: usize,
        traces: Vec<PrgTrace>,
    },
    /// Progress of an evaluation (greedy decoding of `items` items; it can take a while).
    Evaluating {
        done: usize,
        items: usize,
    },
    Eval(Box<EvalReport>),
    /// The reward canary's figures (`eval.canary`).
    Canary(Box<CanaryReport>),
    Sample(Box<Sample>),
    Checkpoint {
        path: PathBuf,
        phase: Phase,
        step: usize,
    },
    Paused,
    Resumed,
    HyperChanged {
        step: usize,
        key: String,
        value: String,
    },
    Warning(String),
    Finished(Box<Summary>),
    Failed(String),
}

#[derive(Clone, Debug, Serialize)]
pub struct RunInfo {
    pub run_dir: PathBuf,
    pub backend: String,
    pub strategy: String,
    pub params: usize,
    pub data: String,
    /// The model, in words (`Lm::describe`).
    pub model: String,
    /// What post-training trains: `full fine-tuning` or `LoRA r16 · 3.50% trainable`.
    pub training: String,
    /// The memory estimate, in words.
    pub memory: String,
}

/// One training step; a line of `metrics.jsonl`. Absent figures are null.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StepMetrics {
    pub phase: String,
    pub step: usize,
    pub total: usize,
    pub lr: f64,
    pub loss_rd: Option<f64>,
    pub loss_rlif: Option<f64>,
    pub loss_total: f64,
    pub alpha: Option<f64>,
    pub prg_anchor: Option<f64>,
    /// Mean confidence in the gold answers after the gold steps (what the cold-start hold reads).
    #[serde(default)]
    pub anchor_conf: Option<f64>,
    pub prg_policy: Option<f64>,
    pub reward_mean: Option<f64>,
    pub reward_std: Option<f64>,
    pub no_spread_share: Option<f64>,
    pub kl_ref: Option<f64>,
    pub entropy: Option<f64>,
    pub mean_response_len: Option<f64>,
    pub repetition_rate: Option<f64>,
    pub extraction_rate: Option<f64>,
    /// Share of rollouts the length cap (`post.max_new_tokens`, or the context) cut before EOS.
    #[serde(default)]
    pub truncation_rate: Option<f64>,
    pub rollout_confidence_mean: Option<f64>,
    /// Share of this step's labeled rollouts (all votes) that reached the gold answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solve_rate: Option<f64>,
    /// Share of the held-out meter's rollouts (`mix.heldout_labels`, all votes) that reached
    /// the gold answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heldout_solve: Option<f64>,
    /// Mean share of its votes that an unlabeled question's majority answer holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vote_share: Option<f64>,
    /// Share of unlabeled groups whose vote was too weak to give a gradient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_share: Option<f64>,
    /// The reward canary, when it ran after this step: the within-question AUROC of the reward
    /// against correctness, the majority's accuracy, the canary's accuracy; its full report is
    /// a line of `canary.jsonl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_reward_auroc: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_majority_gold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_reward_mean: Option<f64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub canary_onset: bool,
    /// The RL learning rate (`post.update = split`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rl_lr: Option<f64>,
    /// The factor `post.rl_step` put on this step's RL rate (0: no RL step was taken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rl_scale: Option<f64>,
    /// Distinct `[rows, tokens, keys]` shapes this process has sent through the model so far
    /// (`model/shapes.rs`): after a warm-up with `run.shape_buckets = pow2` it stops growing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shapes: Option<usize>,
    pub time_rollout: f64,
    pub time_prg: f64,
    pub time_update: f64,
    pub tok_s_rollout: Option<f64>,
    pub tok_s_prg: Option<f64>,
    pub tok_s_update: f64,
    pub step_seconds: f64,
    /// The first step after a start or resume: kernel compilation and caches, not throughput.
    pub warmup: bool,
    pub skipped: bool,
    /// Hyperparameters changed just before this step, as `key=value`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// Confidences of this step's rollouts that gave an answer (for rolling histograms).
    #[serde(skip)]
    pub rollout_confidences: Vec<f64>,
}

/// `p_0..p_K` of one trace and what it scored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PrgTrace {
    /// "gold" or "rollout".
    pub kind: String,
    pub question: String,
    pub steps: Vec<String>,
    pub answer: String,
    pub trace: Vec<f64>,
    pub prg: f64,
}

/// One evaluated item; a line of the predictions JSONL.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Prediction {
    pub question: String,
    pub gold: String,
    pub answer: Option<String>,
    pub correct: bool,
    /// The confidence the figures use (`eval.confidence`): one of the two below.
    pub confidence: f64,
    /// `Π p(token)` over the answer and its newline, after the model's own steps.
    #[serde(default)]
    pub answer_confidence: f64,
    /// `Π p(token)` over the whole response through the answer line: steps and answer.
    #[serde(default)]
    pub response_confidence: f64,
    pub prg: Option<f64>,
    pub self_certainty: f64,
    pub steps: Vec<String>,
    pub difficulty: Option<u32>,
    pub trace: Vec<f64>,
    /// The generated text as the model wrote it (what the answer was read from).
    #[serde(default)]
    pub response: String,
    /// The item cannot fit the context (its gold response with its prompt): not generated,
    /// not scored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unfit: bool,
}

/// The summary JSON of one evaluation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalReport {
    /// `dev` (chooses best.hyt) or `eval` (only reported).
    #[serde(default = "eval_split")]
    pub split: String,
    pub phase: String,
    pub step: usize,
    #[serde(flatten)]
    pub overall: Calibration,
    pub by_difficulty: std::collections::BTreeMap<u32, Calibration>,
    /// Items left out of the figures because they cannot fit the context.
    #[serde(default)]
    pub unfit: usize,
    /// The threshold these items certify at `eval.epsilon`, `eval.delta` (dev evaluations;
    /// `None` with too few items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certificate>,
    /// A checkpoint's stored certificate applied to these items (`hytune eval` of a calibrated
    /// checkpoint): answered, abstained, the realized error and whether the promise held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abstention: Option<Applied>,
    /// `hytune eval --votes N`: the items sampled N times each, as RLIF would, and how often
    /// their majority is right (`method::competence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub competence: Option<super::competence::CompetenceReport>,
    #[serde(skip)]
    pub predictions: Vec<Prediction>,
}

impl EvalReport {
    /// The calibration line, and the items left out for not fitting the context.
    pub fn summary_line(&self) -> String {
        let mut line = self.overall.summary_line();
        if let Some(c) = &self.certificate {
            line.push_str(&format!(" {}", certified_coverage(c)));
        }
        if self.unfit > 0 {
            line.push_str(&format!(
                " ({} more do not fit the context: not scored)",
                self.unfit
            ));
        }
        line
    }
}

/// `certified 42.0% at ε 0.05` (or `certified none at ε 0.05`): how much a certificate answers.
pub fn certified_coverage(c: &Certificate) -> String {
    match c.threshold {
        Some(_) => format!("certified {:.1}% at ε {}", 100.0 * c.coverage, c.epsilon),
        None => format!("certified none at ε {}", c.epsilon),
    }
}

/// A rollout or eval item to inspect step by step.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sample {
    pub source: String,
    pub question: String,
    pub steps: Vec<String>,
    pub answer: Option<String>,
    pub gold: Option<String>,
    pub correct: Option<bool>,
    pub confidence: f64,
    pub trace: Vec<f64>,
    pub prg: Option<f64>,
    pub self_certainty: f64,
}

impl From<&Prediction> for Sample {
    fn from(p: &Prediction) -> Self {
        Sample {
            source: "eval".into(),
            question: p.question.clone(),
            steps: p.steps.clone(),
            answer: p.answer.clone(),
            gold: Some(p.gold.clone()),
            correct: Some(p.correct),
            confidence: p.confidence,
            trace: p.trace.clone(),
            prg: p.prg,
            self_certainty: p.self_certainty,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub run_dir: PathBuf,
    pub stopped_early: bool,
    pub steps: usize,
    pub seconds: f64,
    pub first_eval: Option<Calibration>,
    pub last_eval: Option<Calibration>,
    pub last_checkpoint: Option<PathBuf>,
}

fn eval_split() -> String {
    "eval".into()
}

/// One canary evaluation; a line of `canary.jsonl`, and the `canary_*` figures of the step's
/// line in `metrics.jsonl`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CanaryReport {
    pub phase: String,
    pub step: usize,
    pub questions: usize,
    pub votes: usize,
    pub reward: String,
    /// Within-question AUROC of the configured reward against correctness.
    pub reward_auroc: Option<f64>,
    pub self_certainty_auroc: Option<f64>,
    /// Of the response's log-probability (its tokens' sum).
    pub logprob_auroc: Option<f64>,
    /// Of agreement with the vote's majority.
    pub consensus_auroc: Option<f64>,
    /// Share of questions whose majority answer is the gold answer.
    pub majority_gold: f64,
    pub majority_share: f64,
    pub answer_rate: f64,
    pub cut_rate: f64,
    /// Mean reward over the questions the reward did not silence.
    pub reward_mean: f64,
    /// Share of rollouts with the gold answer, and its standard error over questions.
    pub accuracy: f64,
    pub accuracy_se: f64,
    /// Share of rollouts wrong with a response confidence at or above the threshold.
    pub confident_error_rate: f64,
    /// Why this point marks the onset of reward hacking, if it does.
    pub onset: Option<String>,
}

impl CanaryReport {
    pub fn point(&self) -> crate::method::hacking::CanaryPoint {
        crate::method::hacking::CanaryPoint {
            reward_mean: self.reward_mean,
            auroc: self.reward_auroc,
            accuracy: self.accuracy,
            accuracy_se: self.accuracy_se,
        }
    }

    /// One line for the log and the screen.
    pub fn summary_line(&self) -> String {
        let f = |a: Option<f64>| a.map_or("—".into(), |a| format!("{a:.2}"));
        format!(
            "reward AUROC {} (sc {}, logp {}, vote {}) · majority=gold {:.2} · acc {:.3} · conf-err {:.3} · answered {:.2} · cut {:.2} · reward {:.3}",
            f(self.reward_auroc),
            f(self.self_certainty_auroc),
            f(self.logprob_auroc),
            f(self.consensus_auroc),
            self.majority_gold,
            self.accuracy,
            self.confident_error_rate,
            self.answer_rate,
            self.cut_rate,
            self.reward_mean
        )
    }
}
