//! The one validated configuration: defaults, then a TOML file, then `--set` overrides
//! (explicit layering; nothing downstream sees an `Option`).

pub mod args;
mod diff;
mod docs;
mod load;
mod validate;

pub use diff::{Difference, differences};
pub use docs::render;
pub use load::{ConfigError, Loaded, find_config_file, load, parse_value};

use serde::{Deserialize, Serialize};

use crate::method::mixing::{AlphaRule, MixParams, RolloutPrg, Strategy};
use crate::method::rewards::Reward;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub run: Run,
    pub model: Model,
    /// Absent in configs and checkpoints of earlier versions: full fine-tuning.
    #[serde(default)]
    pub lora: Lora,
    pub data: Data,
    pub pretrain: Pretrain,
    pub post: Post,
    pub mix: Mix,
    pub eval: Eval,
    pub checkpoint: Checkpoint,
    pub tui: Tui,
    pub keys: Keys,
    pub experiment: Experiment,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    pub seed: u64,
    pub backend: String,
    pub out_dir: String,
    /// auto | pow2 | off: sequence lengths padded to power-of-two buckets (`model/shapes.rs`).
    #[serde(default = "auto")]
    pub shape_buckets: String,
}

fn auto() -> String {
    "auto".into()
}

/// Tells an instruct model the format hytune reads (DESIGN §1.1).
pub const SYSTEM_INSTRUCTION: &str = "Solve the problem step by step. Write each step on its own line starting with \"S: \", then the final answer alone on a line starting with \"A: \". Answer with the number only.";

fn system_instruction() -> String {
    SYSTEM_INSTRUCTION.into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// `builtin` (the byte GPT below) or a local Hugging Face model directory.
    #[serde(default = "builtin")]
    pub source: String,
    pub d_model: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub max_len: usize,
    pub mlp_ratio: usize,
    /// How tokens know their position: rope | learned.
    #[serde(default = "learned")]
    pub positions: String,
    /// The MLP's nonlinearity: gelu | relu2.
    #[serde(default = "gelu")]
    pub activation: String,
    /// How a question is shown to a pretrained model: auto | chat | plain.
    #[serde(default = "auto")]
    pub prompt: String,
    /// The system turn of a chat-rendered prompt (empty: none).
    #[serde(default = "system_instruction")]
    pub system: String,
    /// How a LoRA run stores its frozen base's projections: f32 | bf16 | f16.
    #[serde(default = "f32_name")]
    pub dtype: String,
}

fn f32_name() -> String {
    "f32".into()
}

/// LoRA adapters for post-training (`model::lora`); rank 0 is full fine-tuning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lora {
    pub rank: usize,
    pub alpha: f64,
    pub targets: Vec<String>,
    pub rslora: bool,
}

impl Default for Lora {
    fn default() -> Self {
        Lora {
            rank: 0,
            alpha: 32.0,
            targets: crate::model::lora::TARGETS
                .iter()
                .map(|t| t.to_string())
                .collect(),
            rslora: false,
        }
    }
}

fn answer_conf() -> String {
    "answer".into()
}

fn a_line() -> String {
    "a_line".into()
}

fn builtin() -> String {
    "builtin".into()
}

fn learned() -> String {
    "learned".into()
}

fn gelu() -> String {
    "gelu".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Data {
    pub suite: String,
    pub size: usize,
    pub eval_size: usize,
    pub labeled_fraction: f64,
    pub dev_size: usize,
    pub seed: u64,
    /// What training does with items that do not fit the context: refuse | skip | fit.
    #[serde(default = "refuse")]
    pub too_long: String,
    /// The first factor of the domains' multiplications, inclusive.
    #[serde(default = "factor_range")]
    pub factor_range: [i64; 2],
}

fn factor_range() -> [i64; 2] {
    let (lo, hi) = crate::data::suites::skills::FACTOR_RANGE;
    [lo, hi]
}

fn refuse() -> String {
    "refuse".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pretrain {
    pub suite: String,
    pub steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub warmup: usize,
    pub corpus_size: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Post {
    pub steps: usize,
    pub lr: f64,
    pub rd_batch: usize,
    pub questions: usize,
    pub group_size: usize,
    pub temperature: f64,
    pub top_k: usize,
    pub max_new_tokens: usize,
    pub clip_eps: f64,
    pub kl_beta: f64,
    pub policy_updates: usize,
    pub grad_clip: f64,
    pub max_bad_steps: usize,
    /// The RLIF reward of an unlabeled rollout (`method::rewards`). Checkpoints of earlier
    /// versions read as `self_certainty`, what they trained with.
    #[serde(default = "self_certainty")]
    pub reward: String,
    /// Rollouts sampled per unlabeled question for the vote (>= group_size; the first
    /// group_size are trained on); 0: group_size.
    #[serde(default)]
    pub votes: usize,
    /// A group whose majority answer holds less than this share of the votes gives no gradient.
    #[serde(default)]
    pub min_majority: f64,
    /// A group whose majority votes' mean response confidence is below this gives no gradient
    /// (consensus rewards); 0: off.
    #[serde(default)]
    pub min_confidence: f64,
    /// consensus_prg, and labeled rollouts: weight of clamp(PRG, 0, 1) added to a rollout that
    /// agrees (or is correct).
    #[serde(default)]
    pub prg_weight: f64,
    /// grpo ((r - mean) / std) | dr_grpo (r - mean, token sums over max_new_tokens).
    #[serde(default = "grpo")]
    pub advantage: String,
    /// epsilon_high of the clip (clip-higher); 0: clip_eps.
    #[serde(default)]
    pub clip_eps_high: f64,
    /// split: the RL learning rate (RLIF and labeled rollouts).
    #[serde(default = "rl_lr")]
    pub rl_lr: f64,
    /// joint (one AdamW over alpha*RD + (1-alpha)*RL) | split (an AdamW each: RD steps at
    /// alpha*lr, RL at (1-alpha)*rl_lr).
    #[serde(default = "joint")]
    pub update: String,
    /// Questions of each RD batch also rolled out (G each) and rewarded against their gold answer.
    #[serde(default)]
    pub labeled_rollouts: usize,
    /// RLCR's calibration term on labeled rollouts: reward += w·(1 − (conf − correct)²).
    #[serde(default)]
    pub brier_weight: f64,
    /// The vote-share calibration term on unlabeled rollouts: reward −= λ·(conf − share)².
    #[serde(default)]
    pub vote_brier: f64,
    /// always | skip | scaled: how an RL step's size follows the share of its rollouts with an
    /// advantage (`method::grpo::rl_step_scale`). Checkpoints of earlier versions read as always.
    #[serde(default = "always")]
    pub rl_step: String,
    /// Rows of one forward-backward pass at most (gradients accumulated over the passes); 0:
    /// the whole batch, split over the threads. Bounds the update's activations.
    #[serde(default)]
    pub micro_batch: usize,
}

fn always() -> String {
    "always".into()
}

fn self_certainty() -> String {
    "self_certainty".into()
}

fn grpo() -> String {
    "grpo".into()
}

fn joint() -> String {
    "joint".into()
}

fn rl_lr() -> f64 {
    5e-4
}

fn prg_rule() -> String {
    "prg".into()
}

fn warn() -> String {
    "warn".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    pub strategy: String,
    pub alpha: f64,
    pub alpha_min: f64,
    pub alpha_max: f64,
    pub momentum: f64,
    pub tau: f64,
    pub tau_gate: f64,
    pub prg_eps: f64,
    pub hold_until_conf: f64,
    pub rollout_prg: String,
    /// The reward of a rollout without an answer: keep (its self-certainty) | lowest (below
    /// every answered rollout of its group).
    #[serde(default = "keep")]
    pub unanswered: String,
    /// What HyTuning's alpha follows: prg (PRG_anchor against PRG_policy) | solve_rate
    /// (1 - the share of labeled rollouts that reach the gold answer).
    #[serde(default = "prg_rule")]
    pub alpha_rule: String,
    /// HyTuning only: this many labeled traces (the last of `labeled.jsonl`) are kept out of
    /// RD and rolled out every step, untrained, as a meter of the policy's solve rate on
    /// questions it never learned; `alpha_rule = heldout` follows it. 0: none.
    #[serde(default)]
    pub heldout_labels: usize,
}

fn keep() -> String {
    "keep".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eval {
    pub every: usize,
    /// Evaluate eval and dev (and run the canary) before post-training's first step; false
    /// skips the base's figures (minutes on a real model).
    #[serde(default = "yes")]
    pub before: bool,
    pub max_items: usize,
    pub confident_threshold: f64,
    pub batch_size: usize,
    pub dev_items: usize,
    pub dev_fraction: f64,
    /// What a prediction's confidence is: response | answer.
    #[serde(default = "answer_conf")]
    pub confidence: String,
    /// Where a response's answer is: a_line | last_number | boxed | hash.
    #[serde(default = "a_line")]
    pub extract: String,
    /// Dev items rolled out (post.votes each) at every evaluation as the reward canary; 0: off.
    #[serde(default)]
    pub canary: usize,
    /// The first canary of a run rolls out as many of those items as fit this many seconds
    /// (priced on 2 of them, which always run), and every later canary of the run the same items;
    /// 0: all.
    #[serde(default = "canary_seconds")]
    pub canary_seconds: f64,
    /// When the canary flags reward hacking: warn | rd (also hold alpha at alpha_max from then on).
    #[serde(default = "warn")]
    pub on_hacking: String,
    /// Which dev evaluation best.hyt keeps: accuracy (ties: lower Brier) | brier (lowest).
    #[serde(default = "accuracy")]
    pub best: String,
    /// The error rate every dev evaluation certifies a confidence threshold for (the TUI's and
    /// the log's certified coverage; `hytune calibrate --epsilon` for a checkpoint).
    #[serde(default = "epsilon")]
    pub epsilon: f64,
    /// The certificate may fail with at most this probability.
    #[serde(default = "delta")]
    pub delta: f64,
}

fn yes() -> bool {
    true
}

fn canary_seconds() -> f64 {
    20.0
}

fn epsilon() -> f64 {
    0.05
}

fn delta() -> f64 {
    0.1
}

fn accuracy() -> String {
    "accuracy".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub every: usize,
    pub keep_last: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tui {
    pub fps: u32,
    pub history: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub suites: Vec<String>,
    pub strategies: Vec<String>,
    pub fractions: Vec<f64>,
    /// Strategies run at every fraction; the others run at the first fraction only.
    #[serde(default)]
    pub sweep: Vec<String>,
    pub seeds: Vec<u64>,
    pub base_seed: u64,
    /// Labeled counts of the grid (traces out of data.size); when given they replace
    /// `fractions`, and the unlabeled pool, dev and eval are the same at every count.
    #[serde(default)]
    pub labels: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    pub pause: String,
    pub checkpoint: String,
    pub evaluate: String,
    pub inspector: String,
    pub editor: String,
    pub freeze: String,
    pub log_y: String,
    pub smooth_more: String,
    pub smooth_less: String,
    pub zoom: String,
    pub focus: String,
    pub help: String,
    pub quit: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            run: Run {
                seed: 42,
                backend: "auto".into(),
                out_dir: String::new(),
                shape_buckets: "auto".into(),
            },
            model: Model {
                source: "builtin".into(),
                d_model: 128,
                n_layers: 4,
                n_heads: 4,
                max_len: crate::data::fit::DEFAULT_MAX_LEN,
                mlp_ratio: 4,
                positions: "rope".into(),
                activation: "gelu".into(),
                prompt: "auto".into(),
                system: SYSTEM_INSTRUCTION.into(),
                dtype: f32_name(),
            },
            lora: Lora::default(),
            data: Data {
                suite: "dosage".into(),
                size: 4000,
                eval_size: 200,
                labeled_fraction: 0.004,
                dev_size: 200,
                seed: 1,
                too_long: refuse(),
                factor_range: factor_range(),
            },
            pretrain: Pretrain {
                suite: "general".into(),
                steps: 2000,
                batch_size: 32,
                lr: 3e-3,
                warmup: 50,
                corpus_size: 20000,
            },
            post: Post {
                steps: 100,
                lr: 1e-4,
                rd_batch: 16,
                questions: 8,
                group_size: 4,
                temperature: 1.0,
                top_k: 0,
                max_new_tokens: crate::data::fit::DEFAULT_MAX_NEW,
                clip_eps: 0.2,
                kl_beta: 0.02,
                policy_updates: 1,
                grad_clip: 1.0,
                max_bad_steps: 5,
                reward: "consensus".into(),
                votes: 8,
                min_majority: 0.5,
                min_confidence: 0.0,
                prg_weight: 0.0,
                advantage: "grpo".into(),
                clip_eps_high: 0.0,
                rl_lr: 3e-4,
                update: "split".into(),
                labeled_rollouts: 0,
                brier_weight: 0.0,
                vote_brier: 0.0,
                rl_step: "scaled".into(),
                micro_batch: 0,
            },
            mix: Mix {
                strategy: "hytuning".into(),
                alpha: 0.5,
                alpha_min: 0.1,
                alpha_max: 0.9,
                momentum: 0.9,
                tau: 0.05,
                tau_gate: 0.1,
                prg_eps: 0.01,
                hold_until_conf: 0.5,
                rollout_prg: "consensus".into(),
                unanswered: keep(),
                alpha_rule: prg_rule(),
                heldout_labels: 0,
            },
            eval: Eval {
                every: 50,
                before: true,
                max_items: 200,
                confident_threshold: 0.9,
                batch_size: 64,
                dev_items: 100,
                dev_fraction: 0.1,
                confidence: "response".into(),
                extract: a_line(),
                canary: 64,
                canary_seconds: canary_seconds(),
                on_hacking: warn(),
                best: accuracy(),
                epsilon: epsilon(),
                delta: delta(),
            },
            checkpoint: Checkpoint {
                every: 100,
                keep_last: 3,
            },
            tui: Tui {
                fps: 20,
                history: 600,
            },
            keys: Keys {
                pause: "space".into(),
                checkpoint: "c".into(),
                evaluate: "e".into(),
                inspector: "i".into(),
                editor: "h".into(),
                freeze: "f".into(),
                log_y: "l".into(),
                smooth_more: "s".into(),
                smooth_less: "S".into(),
                zoom: "z".into(),
                focus: "tab".into(),
                help: "?".into(),
                quit: "q".into(),
            },
            experiment: Experiment {
                suites: vec!["dosage".into()],
                strategies: Strategy::NAMES.iter().map(|s| s.to_string()).collect(),
                fractions: vec![0.05, 1.0],
                sweep: vec!["rd".into(), "hytuning".into()],
                seeds: vec![1, 2, 3],
                base_seed: 42,
                labels: Vec::new(),
            },
        }
    }
}

impl Config {
    pub fn strategy(&self) -> Strategy {
        Strategy::parse(&self.mix.strategy).expect("validated")
    }

    pub fn reward(&self) -> Reward {
        Reward::parse(&self.post.reward).expect("validated")
    }

    /// Where a response's answer is read (`eval.extract`).
    pub fn extract(&self) -> crate::data::extract::Extract {
        crate::data::extract::Extract::parse(&self.eval.extract).expect("validated")
    }

    /// Rollouts decoded per unlabeled question: the trained group and the extra votes.
    pub fn votes(&self) -> usize {
        self.post.votes.max(self.post.group_size)
    }

    pub fn rl_step(&self) -> crate::method::grpo::RlStep {
        crate::method::grpo::RlStep::parse(&self.post.rl_step).expect("validated")
    }

    pub fn rollout_prg(&self) -> RolloutPrg {
        RolloutPrg::parse(&self.mix.rollout_prg).expect("validated")
    }

    pub fn mix_params(&self) -> MixParams {
        MixParams {
            strategy: self.strategy(),
            alpha: self.mix.alpha,
            alpha_min: self.mix.alpha_min,
            alpha_max: self.mix.alpha_max,
            momentum: self.mix.momentum,
            tau: self.mix.tau,
            tau_gate: self.mix.tau_gate,
            hold_until_conf: self.mix.hold_until_conf,
            rule: AlphaRule::parse(&self.mix.alpha_rule).expect("validated"),
        }
    }

    /// The range checks of a file or `--set`, for a config that came from elsewhere (a
    /// checkpoint's header): `key: message` of the first bad value.
    pub fn check(&self) -> Result<(), String> {
        validate::check(self).map_err(|(k, m)| format!("{k}: {m}"))
    }

    /// The `[lora]` section as the model's adapter spec.
    /// How the frozen base of a LoRA run is stored (`model.dtype`; validated).
    pub fn base_dtype(&self) -> crate::model::lora::BaseDtype {
        crate::model::lora::BaseDtype::parse(&self.model.dtype)
            .unwrap_or(crate::model::lora::BaseDtype::F32)
    }

    pub fn lora_spec(&self) -> crate::model::lora::LoraSpec {
        crate::model::lora::LoraSpec {
            rank: self.lora.rank,
            alpha: self.lora.alpha,
            targets: self.lora.targets.clone(),
            rslora: self.lora.rslora,
        }
    }

    pub fn to_table(&self) -> toml::Table {
        toml::Table::try_from(self).expect("config serializes")
    }

    /// Applies `section.key=value` overrides, with the same checks as a file.
    pub fn with_sets(&self, sets: &[String]) -> Result<Config, ConfigError> {
        load::apply_sets(self, sets)
    }

    /// Sets one `section.key` from a TOML-typed value, with the same checks as a file.
    pub fn set(&self, key: &str, value: toml::Value) -> Result<Config, ConfigError> {
        load::apply_one(self, key, value)
    }
}
