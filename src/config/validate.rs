//! Range checks: the first bad value as `(key, message)`.

use super::Config;
use crate::data::suites::Suite;
use crate::method::mixing::{AlphaRule, RolloutPrg, Strategy};
use crate::method::rewards::Reward;

type Check = Result<(), (String, String)>;

fn fail(key: &str, message: String) -> Check {
    Err((key.to_string(), message))
}

fn positive(key: &str, v: f64) -> Check {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        fail(key, format!("must be > 0, got {v}"))
    }
}

fn at_least(key: &str, v: usize, min: usize) -> Check {
    if v >= min {
        Ok(())
    } else {
        fail(key, format!("must be >= {min}, got {v}"))
    }
}

fn unit(key: &str, v: f64) -> Check {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        fail(key, format!("must be within [0, 1], got {v}"))
    }
}

fn open_unit(key: &str, v: f64) -> Check {
    if v > 0.0 && v < 1.0 {
        Ok(())
    } else {
        fail(key, format!("must be within (0, 1), got {v}"))
    }
}

fn one_of(key: &str, v: &str, names: &[&str]) -> Check {
    if names.contains(&v) {
        Ok(())
    } else {
        fail(
            key,
            format!("expected one of {}, got `{v}`", names.join(", ")),
        )
    }
}

fn experiment(e: &super::Experiment) -> Check {
    for (key, empty) in [
        ("experiment.suites", e.suites.is_empty()),
        ("experiment.strategies", e.strategies.is_empty()),
        ("experiment.fractions", e.fractions.is_empty()),
        ("experiment.seeds", e.seeds.is_empty()),
    ] {
        if empty {
            return fail(key, "must list at least one value".into());
        }
    }
    for s in &e.suites {
        one_of("experiment.suites", s, Suite::NAMES)?;
    }
    for s in &e.strategies {
        if crate::method::parse_variant(s).is_none() {
            return fail(
                "experiment.strategies",
                format!(
                    "expected a strategy ({}) or strategy+reward ({}), got `{s}`",
                    Strategy::NAMES.join(", "),
                    Reward::NAMES.join(", ")
                ),
            );
        }
    }
    // A swept strategy outside the grid is simply not run (a preset's sweep stays valid when
    // --set narrows the strategies).
    for s in &e.sweep {
        one_of("experiment.sweep", s, Strategy::NAMES)?;
    }
    for &f in &e.fractions {
        positive("experiment.fractions", f)?;
        unit("experiment.fractions", f)?;
    }
    for &n in &e.labels {
        at_least("experiment.labels", n, 1)?;
    }
    Ok(())
}

pub fn check(c: &Config) -> Check {
    one_of(
        "run.backend",
        &c.run.backend,
        &["auto", "wgpu", "cpu", "ndarray", "tch"],
    )?;
    one_of(
        "run.shape_buckets",
        &c.run.shape_buckets,
        &["auto", "pow2", "off"],
    )?;
    one_of(
        "data.too_long",
        &c.data.too_long,
        &["refuse", "skip", "fit"],
    )?;
    let [lo, hi] = c.data.factor_range;
    if !(2..=99).contains(&lo) || !(lo..=99).contains(&hi) {
        return fail(
            "data.factor_range",
            format!("expected [lowest, highest] with 2 ≤ lowest ≤ highest ≤ 99, got [{lo}, {hi}]"),
        );
    }
    one_of(
        "eval.confidence",
        &c.eval.confidence,
        &["response", "answer"],
    )?;
    at_least("model.d_model", c.model.d_model, 8)?;
    at_least("model.n_layers", c.model.n_layers, 1)?;
    at_least("model.n_heads", c.model.n_heads, 1)?;
    if c.model.d_model % c.model.n_heads != 0 {
        return fail(
            "model.n_heads",
            format!("must divide model.d_model ({})", c.model.d_model),
        );
    }
    at_least("model.max_len", c.model.max_len, 16)?;
    at_least("model.mlp_ratio", c.model.mlp_ratio, 1)?;
    one_of("model.positions", &c.model.positions, &["rope", "learned"])?;
    one_of("model.activation", &c.model.activation, &["gelu", "relu2"])?;
    one_of("model.prompt", &c.model.prompt, &["auto", "chat", "plain"])?;
    one_of(
        "model.dtype",
        &c.model.dtype,
        crate::model::lora::BaseDtype::NAMES,
    )?;
    if c.model.dtype != "f32" && c.lora.rank == 0 {
        return fail(
            "model.dtype",
            format!(
                "{} stores a frozen base in half precision, and full fine-tuning (lora.rank = 0) trains every weight; set lora.rank (e.g. 16) or model.dtype = \"f32\"",
                c.model.dtype
            ),
        );
    }
    let source = std::path::Path::new(&c.model.source);
    if c.model.source != "builtin"
        && !source.join("config.json").is_file()
        && crate::paths::gguf_path(source).is_none()
    {
        return fail(
            "model.source",
            format!(
                "\"{}\" is neither builtin, a Hugging Face model directory (no config.json there) nor a GGUF file",
                c.model.source
            ),
        );
    }
    if c.model.positions == "rope" && (c.model.d_model / c.model.n_heads) % 2 != 0 {
        return fail(
            "model.positions",
            "rope needs an even head width (d_model / n_heads)".into(),
        );
    }
    if c.lora.rank > 1024 {
        return fail(
            "lora.rank",
            format!(
                "must be within 0..=1024 (0: full fine-tuning), got {}",
                c.lora.rank
            ),
        );
    }
    if c.lora.rank > 0 {
        positive("lora.alpha", c.lora.alpha)?;
        if c.lora.targets.is_empty() {
            return fail(
                "lora.targets",
                format!(
                    "names no projection; expected some of {}",
                    crate::model::lora::TARGETS.join(", ")
                ),
            );
        }
    }
    for t in &c.lora.targets {
        one_of("lora.targets", t, crate::model::lora::TARGETS)?;
    }
    one_of("data.suite", &c.data.suite, Suite::NAMES)?;
    at_least("data.size", c.data.size, 1)?;
    at_least("data.eval_size", c.data.eval_size, 1)?;
    positive("data.labeled_fraction", c.data.labeled_fraction)?;
    unit("data.labeled_fraction", c.data.labeled_fraction)?;
    one_of("pretrain.suite", &c.pretrain.suite, Suite::NAMES)?;
    at_least("pretrain.batch_size", c.pretrain.batch_size, 1)?;
    positive("pretrain.lr", c.pretrain.lr)?;
    at_least("pretrain.corpus_size", c.pretrain.corpus_size, 1)?;
    positive("post.lr", c.post.lr)?;
    at_least("post.rd_batch", c.post.rd_batch, 1)?;
    at_least("post.questions", c.post.questions, 1)?;
    at_least("post.group_size", c.post.group_size, 2)?;
    positive("post.temperature", c.post.temperature)?;
    at_least("post.max_new_tokens", c.post.max_new_tokens, 4)?;
    if c.post.max_new_tokens >= c.model.max_len {
        return fail(
            "post.max_new_tokens",
            format!("must be < model.max_len ({})", c.model.max_len),
        );
    }
    unit("post.clip_eps", c.post.clip_eps)?;
    if c.post.kl_beta < 0.0 {
        return fail(
            "post.kl_beta",
            format!("must be >= 0, got {}", c.post.kl_beta),
        );
    }
    at_least("post.policy_updates", c.post.policy_updates, 1)?;
    if c.post.grad_clip < 0.0 {
        return fail(
            "post.grad_clip",
            format!("must be >= 0, got {}", c.post.grad_clip),
        );
    }
    at_least("post.max_bad_steps", c.post.max_bad_steps, 1)?;
    one_of("post.reward", &c.post.reward, Reward::NAMES)?;
    if c.post.votes != 0 && c.post.votes < c.post.group_size {
        return fail(
            "post.votes",
            format!(
                "must be 0 or >= post.group_size ({}), got {}",
                c.post.group_size, c.post.votes
            ),
        );
    }
    unit("post.min_majority", c.post.min_majority)?;
    unit("post.min_confidence", c.post.min_confidence)?;
    if !(0.0..=10.0).contains(&c.post.prg_weight) {
        return fail(
            "post.prg_weight",
            format!("must be within [0, 10], got {}", c.post.prg_weight),
        );
    }
    one_of("post.advantage", &c.post.advantage, &["grpo", "dr_grpo"])?;
    one_of(
        "post.rl_step",
        &c.post.rl_step,
        &["always", "skip", "scaled"],
    )?;
    unit("post.clip_eps_high", c.post.clip_eps_high)?;
    one_of("post.update", &c.post.update, &["split", "joint"])?;
    positive("post.rl_lr", c.post.rl_lr)?;
    for (key, v) in [
        ("post.brier_weight", c.post.brier_weight),
        ("post.vote_brier", c.post.vote_brier),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            return fail(key, format!("must be a finite number >= 0, got {v}"));
        }
    }
    if c.post.brier_weight > 0.0 && c.post.labeled_rollouts == 0 {
        return fail(
            "post.brier_weight",
            "rewards labeled rollouts: set post.labeled_rollouts >= 1".into(),
        );
    }
    if c.post.labeled_rollouts > c.post.rd_batch {
        return fail(
            "post.labeled_rollouts",
            format!(
                "must be <= post.rd_batch ({}), got {}",
                c.post.rd_batch, c.post.labeled_rollouts
            ),
        );
    }
    one_of("mix.strategy", &c.mix.strategy, Strategy::NAMES)?;
    unit("mix.alpha", c.mix.alpha)?;
    unit("mix.alpha_min", c.mix.alpha_min)?;
    unit("mix.alpha_max", c.mix.alpha_max)?;
    if c.mix.alpha_min > c.mix.alpha_max {
        return fail(
            "mix.alpha_min",
            format!("must be <= mix.alpha_max ({})", c.mix.alpha_max),
        );
    }
    unit("mix.momentum", c.mix.momentum)?;
    positive("mix.tau", c.mix.tau)?;
    positive("mix.tau_gate", c.mix.tau_gate)?;
    unit("mix.prg_eps", c.mix.prg_eps)?;
    unit("mix.hold_until_conf", c.mix.hold_until_conf)?;
    one_of("mix.rollout_prg", &c.mix.rollout_prg, RolloutPrg::NAMES)?;
    one_of("mix.unanswered", &c.mix.unanswered, &["keep", "lowest"])?;
    one_of("mix.alpha_rule", &c.mix.alpha_rule, AlphaRule::NAMES)?;
    if c.mix.alpha_rule == "solve_rate" && c.post.labeled_rollouts == 0 {
        return fail(
            "mix.alpha_rule",
            "solve_rate needs labeled rollouts (post.labeled_rollouts >= 1)".into(),
        );
    }
    if c.mix.alpha_rule == "heldout" && c.mix.heldout_labels == 0 {
        return fail(
            "mix.alpha_rule",
            "heldout needs held-out labeled traces (mix.heldout_labels >= 1, e.g. 4)".into(),
        );
    }
    one_of("eval.on_hacking", &c.eval.on_hacking, &["warn", "rd"])?;
    one_of(
        "eval.best",
        &c.eval.best,
        crate::method::calibration::BEST_RULES,
    )?;
    one_of(
        "eval.extract",
        &c.eval.extract,
        crate::data::extract::Extract::NAMES,
    )?;
    at_least("eval.max_items", c.eval.max_items, 1)?;
    unit("eval.confident_threshold", c.eval.confident_threshold)?;
    at_least("eval.batch_size", c.eval.batch_size, 1)?;
    unit("eval.dev_fraction", c.eval.dev_fraction)?;
    open_unit("eval.epsilon", c.eval.epsilon)?;
    if !(c.eval.canary_seconds >= 0.0 && c.eval.canary_seconds.is_finite()) {
        return fail(
            "eval.canary_seconds",
            format!(
                "must be a finite number >= 0, got {}",
                c.eval.canary_seconds
            ),
        );
    }
    open_unit("eval.delta", c.eval.delta)?;
    experiment(&c.experiment)?;
    at_least("checkpoint.keep_last", c.checkpoint.keep_last, 1)?;
    if !(1..=120).contains(&c.tui.fps) {
        return fail(
            "tui.fps",
            format!("must be within 1..=120, got {}", c.tui.fps),
        );
    }
    at_least("tui.history", c.tui.history, 16)?;
    let keys = [
        ("pause", &c.keys.pause),
        ("checkpoint", &c.keys.checkpoint),
        ("evaluate", &c.keys.evaluate),
        ("inspector", &c.keys.inspector),
        ("editor", &c.keys.editor),
        ("freeze", &c.keys.freeze),
        ("log_y", &c.keys.log_y),
        ("smooth_more", &c.keys.smooth_more),
        ("smooth_less", &c.keys.smooth_less),
        ("zoom", &c.keys.zoom),
        ("focus", &c.keys.focus),
        ("help", &c.keys.help),
        ("quit", &c.keys.quit),
    ];
    for (i, (name, key)) in keys.iter().enumerate() {
        if !crate::keyname::is_valid(key) {
            return fail(&format!("keys.{name}"), format!("not a key name: `{key}`"));
        }
        if let Some((other, _)) = keys[..i].iter().find(|(_, k)| k == key) {
            return fail(
                &format!("keys.{name}"),
                format!("`{key}` is already bound to keys.{other}"),
            );
        }
    }
    Ok(())
}
