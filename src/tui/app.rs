//! The TUI's plain state and the one pure function that updates it from engine events and
//! key presses, returning the commands to send. Tests drive it without a terminal.

use std::collections::VecDeque;
use std::path::PathBuf;

use super::history::Series;
use super::keymap::Keymap;
use crate::config::Config;
use crate::engine::protocol::{
    CanaryReport, EvalReport, Phase, PrgTrace, RunInfo, Sample, StepMetrics, Summary,
};
use crate::progress::Progress;

/// Hyperparameters the editor offers (a subset of the engine's live keys).
pub const EDITABLE: &[&str] = &[
    "post.lr",
    "mix.strategy",
    "mix.alpha",
    "mix.alpha_min",
    "mix.alpha_max",
    "mix.momentum",
    "mix.tau",
    "mix.tau_gate",
    "post.temperature",
    "post.group_size",
    "post.kl_beta",
    "post.clip_eps",
];

const LOG_LINES: usize = 200;
pub const ROLLING_CONFIDENCES: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Losses,
    Mixing,
    Traces,
    Confidence,
    Evals,
    Log,
}

impl Pane {
    pub const ALL: [Pane; 6] = [
        Pane::Losses,
        Pane::Mixing,
        Pane::Traces,
        Pane::Confidence,
        Pane::Evals,
        Pane::Log,
    ];
    pub fn next(self) -> Pane {
        Pane::ALL[(Pane::ALL.iter().position(|p| *p == self).unwrap() + 1) % Pane::ALL.len()]
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Popup {
    Help,
    Quit,
    Inspector {
        index: usize,
    },
    Editor {
        selected: usize,
        editing: Option<String>,
        error: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogKind {
    Info,
    Warning,
    Error,
}

/// Everything the panes plot; cloned when the display is frozen.
#[derive(Clone, Debug)]
pub struct RunData {
    pub loss_rd: Series,
    pub loss_rlif: Series,
    pub loss_total: Series,
    pub alpha: Series,
    pub prg_anchor: Series,
    pub prg_policy: Series,
    /// The held-out meter's solve rate (`mix.heldout_labels`).
    pub heldout: Series,
    /// Global steps where a hyperparameter changed, with what changed.
    pub marks: Vec<(f64, String)>,
    pub traces: Vec<PrgTrace>,
    pub evals: Vec<EvalReport>,
    /// The reward canary's reports, oldest first (one per evaluation: a few dozen a run).
    pub canary: Vec<CanaryReport>,
    pub rolling_confidence: VecDeque<f64>,
    pub samples: Vec<Sample>,
    pub last_step: Option<StepMetrics>,
    pub log: VecDeque<(LogKind, String)>,
}

impl RunData {
    fn new(history: usize) -> Self {
        let s = || Series::new(history);
        Self {
            loss_rd: s(),
            loss_rlif: s(),
            loss_total: s(),
            alpha: s(),
            prg_anchor: s(),
            prg_policy: s(),
            heldout: s(),
            marks: Vec::new(),
            traces: Vec::new(),
            evals: Vec::new(),
            canary: Vec::new(),
            rolling_confidence: VecDeque::new(),
            samples: Vec::new(),
            last_step: None,
            log: VecDeque::new(),
        }
    }

    /// Index of the dev evaluation best.hyt holds under `rule` (`eval.best`): the first of
    /// the post-training ones that no later one beats.
    pub fn best_eval(&self, rule: &str) -> Option<usize> {
        let dev = self
            .evals
            .iter()
            .enumerate()
            .filter(|(_, e)| e.phase == "post" && e.split == "dev")
            .map(|(i, e)| (i, &e.overall));
        crate::method::calibration::best_index(rule, dev)
    }

    /// What the inspector browses: fresh samples, then this step's traces, then the latest eval.
    pub fn inspectables(&self) -> Vec<Sample> {
        let mut v: Vec<Sample> = self.samples.iter().rev().cloned().collect();
        v.extend(self.traces.iter().map(|t| Sample {
            source: format!("{} trace", t.kind),
            question: t.question.clone(),
            steps: t.steps.clone(),
            answer: Some(t.answer.clone()),
            gold: (t.kind == "gold").then(|| t.answer.clone()),
            correct: None,
            confidence: t.trace.last().copied().unwrap_or(0.0),
            trace: t.trace.clone(),
            prg: Some(t.prg),
            self_certainty: f64::NAN,
        }));
        if let Some(e) = self.evals.last() {
            v.extend(e.predictions.iter().map(Sample::from));
        }
        v
    }
}

pub struct App {
    pub config: Config,
    pub keymap: Keymap,
    pub info: Option<RunInfo>,
    pub phase: Option<Phase>,
    /// Steps of finished phases, so curves continue across phases.
    pub offset: usize,
    pub progress: Progress,
    pub data: RunData,
    pub frozen: Option<RunData>,
    pub paused: bool,
    pub pausing: bool,
    pub stopping: bool,
    /// Items done and total of a running evaluation.
    pub evaluating: Option<(usize, usize)>,
    pub last_checkpoint: Option<PathBuf>,
    pub finished: Option<Summary>,
    pub failed: Option<String>,
    pub focus: Pane,
    pub whole_run: bool,
    pub log_y: bool,
    pub smoothing: f64,
    pub popup: Option<Popup>,
    pub quit: bool,
}

impl App {
    pub fn new(config: Config) -> Self {
        Self {
            keymap: Keymap::new(&config.keys),
            data: RunData::new(config.tui.history),
            config,
            info: None,
            phase: None,
            offset: 0,
            progress: Progress::default(),
            frozen: None,
            paused: false,
            pausing: false,
            stopping: false,
            evaluating: None,
            last_checkpoint: None,
            finished: None,
            failed: None,
            focus: Pane::Losses,
            whole_run: false,
            log_y: false,
            smoothing: 0.6,
            popup: None,
            quit: false,
        }
    }

    /// What the panes show: the frozen copy while frozen, else the live data.
    pub fn view(&self) -> &RunData {
        self.frozen.as_ref().unwrap_or(&self.data)
    }

    pub fn running(&self) -> bool {
        self.finished.is_none() && self.failed.is_none()
    }

    pub fn log(&mut self, kind: LogKind, line: String) {
        if self.data.log.len() == LOG_LINES {
            self.data.log.pop_front();
        }
        self.data.log.push_back((kind, line));
    }

    pub fn x(&self, step: usize) -> f64 {
        (self.offset + step) as f64
    }

    pub fn config_value(&self, key: &str) -> String {
        value_in(&self.config.to_table(), key)
    }
}

/// `section.key` of a config table, as TOML text (empty when absent).
pub fn value_in(table: &toml::Table, key: &str) -> String {
    let (s, k) = key.split_once('.').unwrap_or((key, ""));
    table
        .get(s)
        .and_then(|t| t.get(k))
        .map(|v| v.to_string())
        .unwrap_or_default()
}
