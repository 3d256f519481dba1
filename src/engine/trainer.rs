//! The engine's loop: base (load or pretrain), post-training, evaluation; checkpoints and
//! commands between steps.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use anyhow::Result;
use burn::module::Module;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::tensor::Device;

use super::checkpoint;
use super::cursor::{Cursors, Stream};
use super::protocol::{Command, Event, Phase, RunInfo, Summary};
use super::run_dir::RunDir;
use super::{Job, load_data};
use crate::config::Config;
use crate::data::codec::Codec;
use crate::data::suites::{Suite, corpus};
use crate::data::{Dataset, Labeled};
use crate::method::calibration::Calibration;
use crate::method::mixing::MixState;
use crate::model::hf::BaseIdentity;
use crate::model::{GptShape, Lm};
use crate::rng::Rng;

/// Why the loop stopped early.
pub(super) enum Halt {
    Stop,
}

pub(super) struct Trainer {
    pub config: Config,
    pub shape: GptShape,
    pub device: Device,
    pub model: Lm,
    pub optim: ModuleOptimizer,
    /// The RL rows' own AdamW under `post.update = split`.
    pub optim_rl: ModuleOptimizer,
    pub reference: Option<Lm>,
    /// The pretrained model the run started from (`None`: the byte GPT).
    pub base_model: Option<BaseIdentity>,
    /// What the run trains on, recorded in every checkpoint.
    pub data_record: checkpoint::DataRecord,
    /// The first failed write (metrics or checkpoint) since the last step was handled.
    pub io_error: Option<String>,
    pub rng: Rng,
    pub cursors: Cursors,
    pub streams: Streams,
    pub data: Dataset,
    /// `mix.heldout_labels`: labeled traces kept out of RD, rolled out each step as a meter.
    pub heldout: Vec<Labeled>,
    pub corpus: Vec<Labeled>,
    pub mix: MixState,
    pub phase: Phase,
    pub step: usize,
    /// The `best_key` of best.hyt's dev evaluation.
    pub best: Option<(f64, f64)>,
    pub bad_steps: usize,
    pub paused: bool,
    pub interactive: bool,
    /// `Job::eval_before`.
    pub eval_before: bool,
    pub events: Sender<Event>,
    pub commands: Receiver<Command>,
    pub dir: RunDir,
    pub last_checkpoint: Option<PathBuf>,
    pub first_eval: Option<Calibration>,
    pub last_eval: Option<Calibration>,
    pub started: Instant,
    pub elapsed_before: f64,
    pub steps_since_start: usize,
    pub pending_changes: Vec<String>,
    pub sample_rng: Rng,
    /// The reward canary's points so far in this run (the onset rule reads them; checkpoints
    /// carry them).
    pub canary_history: Vec<crate::method::hacking::CanaryPoint>,
    /// The canary's item count, fixed by the run's first canary (`eval.canary_seconds`) and
    /// carried by checkpoints, so every canary of the run, resumed or not, reads the same items.
    pub canary_items: Option<usize>,
    /// Raised from outside (signals, a terminal gone): stop within seconds.
    pub stop: super::stop::StopFlag,
}

pub(super) struct Streams {
    pub corpus: Stream,
    pub labeled: Stream,
    pub unlabeled: Stream,
}

pub(super) fn optimizer(grad_clip: f64) -> ModuleOptimizer {
    let cfg = AdamWConfig::new().with_weight_decay(0.01);
    let cfg = if grad_clip > 0.0 {
        cfg.with_grad_clipping(Some(GradientClippingConfig::Norm(grad_clip as f32)))
    } else {
        cfg
    };
    cfg.init()
}

/// Linear warm-up, then cosine decay to 10% of the peak.
pub fn pretrain_lr(peak: f64, warmup: usize, total: usize, step: usize) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    peak * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos()))
}

pub fn run(job: Job, commands: Receiver<Command>, events: Sender<Event>) {
    let failed = events.clone();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_inner(job, commands, events)
    }));
    let message = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(e)) => format!("{e:#}"),
        Err(p) => format!(
            "engine panicked: {}",
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        ),
    };
    let _ = failed.send(Event::Failed(message));
}

fn run_inner(job: Job, commands: Receiver<Command>, events: Sender<Event>) -> Result<()> {
    let resumed = job
        .resume
        .as_ref()
        .map(|p| checkpoint::load(p).map(|c| (p.clone(), c)))
        .transpose()?;
    // On resume the job's config is the checkpoint's (with any --set on top): see cli::make_job.
    let mut config = job.config.clone();
    let (mut data, data_dir) = load_data(&job.data, &config)?;
    let data_record = super::data_source::record(&job.data, &data);
    if let Some((path, ck)) = &resumed {
        super::data_source::check_same_data(path, ck, &data_record)?;
    }
    let held_out = super::hold_out_dev(&mut data, config.eval.dev_fraction);
    let device = job.backend.device.clone().autodiff();
    device.seed(config.run.seed);
    let on_cpu = !job.backend.name.starts_with("wgpu");
    // A pretrained model that cannot fit is refused from its config, before its weights load.
    if let Some(sizes) = super::model_source::pretrained_sizes(&config)? {
        super::model_source::check_memory(&sizes, &device, &config, on_cpu)?;
    }
    // A pretrained model is read first: its tokenizer measures the data.
    let pretrained = super::model_source::pretrained(&config, &device)?;
    let codec = pretrained
        .as_ref()
        .map(|(m, _)| m.codec().clone())
        .unwrap_or(Codec::Bytes);
    // `data.too_long = fit` sizes the context of a model trained from scratch (no resume, no
    // base given or cached next to the data) to the data.
    let from_scratch = resumed.is_none()
        && pretrained.is_none()
        && job.base.is_none()
        && !data_dir
            .as_ref()
            .is_some_and(|d| d.join("base.hyt").exists());
    let sized = super::data_source::context_for(&codec, &data, &config, from_scratch)?;
    if let Some(n) = sized {
        config.model.max_len = n;
    }
    let skipped =
        super::data_source::fit_to_context(&codec, &mut data, &config, data_dir.as_deref())?;
    let heldout = super::data_source::hold_out_meter(&mut data, &config)?;
    let shape = GptShape::from_config(&config.model);
    let pretrain_suite: Suite = config.pretrain.suite.parse().map_err(anyhow::Error::msg)?;
    let mut corpus = corpus(
        pretrain_suite,
        config.pretrain.corpus_size,
        config.run.seed ^ 0xC0,
    );
    // Batches of similar length waste little on padding: the corpus is sorted by length and
    // pretraining draws whole batches of neighbours (in a fresh order every epoch).
    corpus.sort_by_key(|ex| super::losses::example_len(&crate::data::codec::BYTES, ex));
    let corpus_batches = corpus.len().div_ceil(config.pretrain.batch_size.max(1));
    let seed = config.run.seed;
    let streams = Streams {
        corpus: Stream::new(seed, 1, corpus_batches),
        labeled: Stream::new(seed, 2, data.labeled.len()),
        unlabeled: Stream::new(seed, 3, data.rollout_pool()),
    };
    let (model, base_model) = match pretrained {
        Some((m, id)) => (Lm::Hf(m), Some(id)),
        None => (shape.init(&device), None),
    };
    let params = model.num_params();
    crate::model::shapes::set_bucketing(match config.run.shape_buckets.as_str() {
        "pow2" => true,
        "off" => false,
        _ => !on_cpu,
    });
    let estimate = super::model_source::check_memory(
        &crate::model::sizes::Sizes::of(&model),
        &device,
        &config,
        on_cpu,
    )?;
    let dir = RunDir::open(&job.run_dir, &config)?;
    let model_name = model.describe();
    let spec = config.lora_spec();
    let training = crate::model::lora::describe(
        &spec,
        crate::model::lora::adapter_params(&model, &spec),
        params,
    );
    // The job (an experiment evaluates the base once per dataset) and the config may skip it.
    let eval_before = job.eval_before && config.eval.before;
    let mut t = Trainer {
        data_record,
        io_error: None,
        optim: optimizer(config.post.grad_clip),
        optim_rl: optimizer(config.post.grad_clip),
        mix: MixState::new(&config.mix_params()),
        rng: Rng::new(seed),
        sample_rng: Rng::new(seed ^ 0x5A),
        canary_history: Vec::new(),
        canary_items: None,
        stop: job.stop.clone(),
        config,
        shape,
        device,
        model,
        reference: None,
        base_model,
        cursors: Cursors::default(),
        streams,
        data,
        heldout,
        corpus,
        phase: Phase::Pretrain,
        step: 0,
        best: None,
        bad_steps: 0,
        paused: false,
        interactive: job.interactive,
        eval_before,
        events,
        commands,
        dir,
        last_checkpoint: None,
        first_eval: None,
        last_eval: None,
        started: Instant::now(),
        elapsed_before: 0.0,
        steps_since_start: 0,
        pending_changes: Vec::new(),
    };
    t.emit(Event::Started(RunInfo {
        run_dir: job.run_dir.clone(),
        backend: job.backend.name.clone(),
        strategy: t.config.mix.strategy.clone(),
        params,
        model: model_name,
        training,
        memory: estimate.describe(),
        data: data_dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "(generated in memory)".into()),
    }));
    if let Some(notice) = &job.backend.notice {
        t.warn(notice.clone());
    }
    if let Some(n) = sized {
        t.warn(format!(
            "model.max_len set to {n}, the longest the data needs (data.too_long = fit)"
        ));
    }
    if skipped != (0, 0) {
        t.warn(format!(
            "left out {} labeled traces and {} unlabeled questions that do not fit model.max_len {} (data.too_long = skip)",
            skipped.0, skipped.1, t.config.model.max_len
        ));
    }
    if !t.heldout.is_empty() {
        t.dir.log(&format!(
            "{} labeled traces held out of RD as the solve-rate meter (mix.heldout_labels); RD trains on {}",
            t.heldout.len(),
            t.data.labeled.len()
        ));
    }
    if held_out > 0 {
        t.dir.log(&format!(
            "no dev.jsonl: {held_out} labeled traces held out as the dev split (eval.dev_fraction)"
        ));
    } else if t.data.dev.is_empty() {
        t.warn("no dev split (no dev.jsonl, eval.dev_fraction 0): best.hyt is not chosen".into());
    }
    let halted = t.pipeline(
        resumed,
        job.base.clone(),
        data_dir.as_deref(),
        job.only_base,
        job.fresh_base,
    )?;
    t.finish(halted.is_some());
    Ok(())
}

impl Trainer {
    /// The cached base model of this shape and pretraining, next to the data it serves. The
    /// version changes with whatever changes the base a seed gives (v7: initial weights drawn
    /// in module order, `GptShape::init_gpt`).
    pub(super) fn base_cache_name(&self) -> String {
        let (s, p) = (&self.shape, &self.config.pretrain);
        format!(
            "base-v7-{}{}-d{}-l{}-h{}-c{}-m{}-{}{}-b{}-lr{}-s{}.hyt",
            self.config.model.positions,
            match s.activation {
                crate::model::Activation::Gelu => "",
                crate::model::Activation::Relu2 => "-relu2",
            },
            s.d_model,
            s.n_layers,
            s.n_heads,
            s.max_len,
            s.mlp_ratio,
            p.suite,
            p.steps,
            p.batch_size,
            p.lr,
            self.config.run.seed
        )
    }

    /// The base shipped in the binary (`crate::shipped`), when it is this run's, written next to
    /// the data (or into the run folder) so it loads like a cached one.
    fn unpack_shipped_base(&mut self, data_dir: Option<&Path>) -> Option<PathBuf> {
        let name = self.base_cache_name();
        let bytes = crate::shipped::base(&name)?;
        let dir = data_dir.unwrap_or(&self.dir.path).to_path_buf();
        let path = dir.join(&name);
        let tmp = dir.join(format!("{name}.tmp{}", std::process::id()));
        match std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, &path)) {
            Ok(()) => {
                self.dir.log(&format!(
                    "base model: the one shipped with hytune (assets/bases/{name})"
                ));
                Some(path)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                self.warn(format!(
                    "cannot unpack the shipped base model to {}: {e}; pretraining instead",
                    path.display()
                ));
                None
            }
        }
    }

    /// A checkpoint's weights, refused when it is of another model than this run's.
    fn model_from(&self, ck: &checkpoint::Loaded, path: &Path) -> Result<Lm> {
        ck.check_base(self.base_model.as_ref(), path)?;
        match &self.model {
            Lm::Gpt(_) => ck.model(&self.shape, &self.device, path),
            Lm::Hf(_) => ck.model_over(self.model.clone(), path),
        }
    }

    pub fn emit(&mut self, e: Event) {
        match &e {
            Event::Warning(w) => self.dir.log(&format!("warning: {w}")),
            Event::Checkpoint { path, .. } => {
                self.dir.log(&format!("checkpoint {}", path.display()))
            }
            Event::HyperChanged { step, key, value } => {
                self.dir.log(&format!("step {step}: set {key} = {value}"))
            }
            Event::Failed(m) => self.dir.log(&format!("failed: {m}")),
            _ => {}
        }
        // A driver that went away must not stop training: the run folder still records it.
        let _ = self.events.send(e);
    }

    pub fn warn(&mut self, w: String) {
        self.emit(Event::Warning(w));
    }

    fn pipeline(
        &mut self,
        resumed: Option<(PathBuf, checkpoint::Loaded)>,
        base: Option<PathBuf>,
        data_dir: Option<&Path>,
        only_base: bool,
        fresh_base: bool,
    ) -> Result<Option<Halt>> {
        let mut post_start = None;
        if let Some((path, ck)) = resumed {
            self.model = self.model_from(&ck, &path)?;
            self.rng = ck.meta.rng.clone();
            self.cursors = ck.meta.cursors.clone();
            self.best = ck.meta.best;
            self.elapsed_before = ck.meta.elapsed_seconds;
            self.dir.forget_after(ck.meta.phase.name(), ck.meta.step)?;
            if let Some(bytes) = ck.optimizer_bytes() {
                self.optim = optimizer(self.config.post.grad_clip)
                    .from_bytes(bytes)
                    .map_err(|e| anyhow::anyhow!("{}: optimizer state: {e}", path.display()))?;
            }
            if let Some(bytes) = ck.rl_optimizer_bytes() {
                self.optim_rl = optimizer(self.config.post.grad_clip)
                    .from_bytes(bytes)
                    .map_err(|e| anyhow::anyhow!("{}: RL optimizer state: {e}", path.display()))?;
            }
            match (ck.meta.phase, ck.meta.complete) {
                (Phase::Pretrain, false) => {
                    self.step = ck.meta.step;
                    if let Some(h) = self.pretrain(data_dir)? {
                        return Ok(Some(h));
                    }
                }
                (Phase::Pretrain, true) => {}
                (Phase::Post, _) => {
                    self.reference = ck.reference(self.model.valid())?;
                    self.mix = ck
                        .meta
                        .mix
                        .clone()
                        .unwrap_or_else(|| MixState::new(&self.config.mix_params()));
                    self.canary_items = ck.meta.canary_items;
                    self.canary_history = ck.meta.canary_history.clone();
                    post_start = Some(ck.meta.step);
                }
            }
            self.dir.log(&format!(
                "resumed from {} at {} step {}",
                path.display(),
                ck.meta.phase.name(),
                ck.meta.step
            ));
        } else if self.base_model.is_some() && base.is_none() {
            self.dir
                .log(&format!("base model {}", self.model.describe()));
        } else {
            let found = base.or_else(|| {
                if fresh_base {
                    return None;
                }
                data_dir
                    .and_then(|dir| {
                        [dir.join("base.hyt"), dir.join(self.base_cache_name())]
                            .into_iter()
                            .find(|p| p.is_file())
                    })
                    .or_else(|| self.unpack_shipped_base(data_dir))
            });
            match found {
                Some(path) => {
                    let ck = checkpoint::load(&path)?;
                    self.model = self.model_from(&ck, &path)?;
                    self.dir.log(&format!("base model from {}", path.display()));
                    if only_base {
                        // What a caller of a base-only job reads (`hytune experiment`).
                        self.phase = Phase::Pretrain;
                        self.step = ck.meta.step;
                        let out = self.dir.path.join("base.hyt");
                        self.save(&out, true)?;
                    }
                }
                None => {
                    if let Some(h) = self.pretrain(data_dir)? {
                        return Ok(Some(h));
                    }
                }
            }
        }
        if only_base && post_start.is_none() {
            return Ok(None);
        }
        self.post(post_start)
    }

    fn finish(&mut self, stopped_early: bool) {
        let summary = Summary {
            run_dir: self.dir.path.clone(),
            stopped_early,
            steps: self.step,
            seconds: self.started.elapsed().as_secs_f64(),
            first_eval: self.first_eval.clone(),
            last_eval: self.last_eval.clone(),
            last_checkpoint: self.last_checkpoint.clone(),
        };
        self.dir.log(&format!(
            "finished after {:.1} s{}",
            summary.seconds,
            if stopped_early { " (stopped)" } else { "" }
        ));
        self.emit(Event::Finished(Box::new(summary)));
    }
}
