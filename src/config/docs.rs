//! The comment of every setting; `render` writes a commented config.toml from any config
//! (`hytune print-config`, and the repo's own config.toml is its output for the defaults).

use super::Config;

pub(super) const SECTIONS: &[(&str, &str)] = &[
    ("run", "What runs where."),
    (
        "model",
        "The language model: hytune's byte GPT (shaped here) or a pretrained Hugging Face model. A checkpoint only loads into the same model.",
    ),
    (
        "lora",
        "LoRA adapters for post-training: y = x W0 + s (x A) B with the base frozen (no gradient, no optimizer state) and the KL's reference the base with adapters off. Checkpoints of a pretrained model's LoRA run hold the adapters only; `hytune export --format peft | gguf-lora` writes them for PEFT, llama.cpp and Ollama.",
    ),
    (
        "data",
        "The built-in domain dataset, generated when no --data DIR is given.",
    ),
    (
        "pretrain",
        "Base pretraining on the general corpus, when no base checkpoint exists.",
    ),
    (
        "post",
        "Post-training: RD on labeled traces and RLIF (GRPO with an internal reward) on unlabeled questions.",
    ),
    (
        "mix",
        "How RD and RLIF are mixed: L = alpha_t * L_RD + (1 - alpha_t) * L_RLIF.",
    ),
    (
        "eval",
        "Evaluation: greedy decoding, accuracy and calibration.",
    ),
    ("checkpoint", "Checkpoints of the run (atomic writes)."),
    ("tui", "The terminal interface."),
    (
        "keys",
        "Key bindings of the TUI: a character, or space, tab, enter, esc, left, right, up, down.",
    ),
    (
        "experiment",
        "hytune experiment: the grid of cells (suite x labeled fraction x strategy x seed), one base model shared by all.",
    ),
];

pub(super) const KEYS: &[(&str, &str, &str)] = &[
    (
        "lora",
        "rank",
        "Rank r of each adapter; 0: full fine-tuning (every parameter trained, a frozen copy as the KL's reference). LoRA wants about 10x full fine-tuning's learning rates (post.lr, post.rl_lr).",
    ),
    (
        "lora",
        "alpha",
        "The adapters' scale s = alpha / rank (PEFT's lora_alpha).",
    ),
    (
        "lora",
        "targets",
        "Projections that get adapters, by PEFT's short names: q, k, v, o, gate, up, down (the byte GPT fuses q, k, v into one layer and has no gate). Never the embeddings or the head.",
    ),
    (
        "lora",
        "rslora",
        "Rank-stabilised LoRA: s = alpha / sqrt(rank) (PEFT's use_rslora).",
    ),
    (
        "run",
        "seed",
        "Seed of every random choice (data order, sampling, initialization).",
    ),
    (
        "run",
        "backend",
        "auto | wgpu | cpu | ndarray | tch. auto: wgpu on a real GPU, else the fastest CPU backend of this build (tch when built with it, else flex). ndarray and tch need a build with that feature.",
    ),
    (
        "run",
        "out_dir",
        "Where run folders go; empty: the user data directory.",
    ),
    (
        "run",
        "shape_buckets",
        "auto | pow2 | off. pow2: sequence lengths padded (masked) up to powers of two and decoding attends over a bucket of its KV cache, so GPU kernels tuned for a shape are reused instead of retuned every step; every bucket is warmed up before step 1. auto: pow2 on wgpu, off on the CPU backends (where padding only costs).",
    ),
    (
        "model",
        "source",
        "builtin (hytune's byte GPT, shaped by the keys below) | a local Hugging Face model directory (config.json, safetensors, tokenizer.json): Llama, SmolLM2, Qwen2, Qwen3. With a directory only max_len applies, as a cap on the context; no pretraining runs.",
    ),
    ("model", "d_model", "Width of the residual stream."),
    ("model", "n_layers", "Number of transformer blocks."),
    ("model", "n_heads", "Attention heads (must divide d_model)."),
    (
        "model",
        "max_len",
        "Context length in tokens (prompt + response).",
    ),
    (
        "model",
        "mlp_ratio",
        "Hidden width of the MLP as a multiple of d_model.",
    ),
    (
        "model",
        "positions",
        "rope (rotary, relative: a fact learned at one offset is recalled at any) | learned (absolute embeddings, the first models).",
    ),
    (
        "model",
        "activation",
        "The MLP's nonlinearity: gelu (exact, erf) | relu2 (max(x, 0)^2: cheaper on the CPU).",
    ),
    (
        "model",
        "prompt",
        "How a pretrained model sees a question: chat (its chat template, from chat_template.jinja, tokenizer_config.json or the GGUF metadata: the question as the user turn, after the system turn below; the steps and answer are the assistant turn) | plain (the Q:/S:/A: text) | auto (chat when the model has a template). The byte GPT always reads plain text.",
    ),
    (
        "model",
        "system",
        "The system turn of a chat prompt: it tells an instruct model the S:/A: format that answers are read from. Empty: no system turn.",
    ),
    (
        "model",
        "dtype",
        "How a LoRA run stores its frozen base's projections: f32 | bf16 | f16 (half the memory; each product widens the weights to f32 a panel at a time, so activations, adapters and AdamW stay f32). Needs lora.rank > 0; the embeddings, norms and head stay f32.",
    ),
    (
        "data",
        "suite",
        "dosage | finance (the domains) | arith | general (the general suites).",
    ),
    ("data", "size", "Training questions (labeled + unlabeled)."),
    (
        "data",
        "eval_size",
        "Evaluation items (their difficulty goes one step beyond training).",
    ),
    (
        "data",
        "labeled_fraction",
        "Share of training questions that keep their reasoning trace (0..1].",
    ),
    (
        "data",
        "dev_size",
        "Items of dev.jsonl, the split that chooses checkpoints and defaults (eval.jsonl is only reported).",
    ),
    ("data", "seed", "Seed of the generator."),
    (
        "data",
        "too_long",
        "Items that do not fit model.max_len (a trace, or a question plus post.max_new_tokens): refuse (stop with the fix) | skip (leave them out; counted in the log and the TUI) | fit (a model trained from scratch gets the context the data needs; said in the log).",
    ),
    (
        "data",
        "factor_range",
        "The first factor of the domains' multiplications, [lowest, highest] (dosage's weight in kg, finance's unit price; the second factor is 2..9). [10, 29] is the skill table the byte GPT learns; [2, 12] keeps every product a times-table fact, which puts SmolLM2-135M-Instruct's votes nearer the edge of its competence (docs/method.md).",
    ),
    (
        "pretrain",
        "suite",
        "The general corpus: general (word problems and chains of the domain skills) | arith | dosage | finance.",
    ),
    ("pretrain", "steps", "Optimizer steps of base pretraining."),
    ("pretrain", "batch_size", "Sequences per step."),
    (
        "pretrain",
        "lr",
        "Peak learning rate (AdamW), after linear warm-up, cosine decay to 10%.",
    ),
    ("pretrain", "warmup", "Warm-up steps."),
    ("pretrain", "corpus_size", "Traces in the general corpus."),
    ("post", "steps", "Post-training steps."),
    ("post", "lr", "Learning rate (AdamW, constant)."),
    (
        "post",
        "rd_batch",
        "Labeled traces per step (RD loss and PRG_anchor).",
    ),
    ("post", "questions", "Unlabeled questions per step (RLIF)."),
    ("post", "group_size", "G: rollouts per question."),
    (
        "post",
        "temperature",
        "T: sampling temperature of rollouts.",
    ),
    (
        "post",
        "top_k",
        "Sample among the k likeliest tokens; 0: all.",
    ),
    ("post", "max_new_tokens", "Length cap of a rollout."),
    ("post", "clip_eps", "epsilon_c of the clipped surrogate."),
    (
        "post",
        "kl_beta",
        "beta: weight of KL(policy || reference), k3 estimator.",
    ),
    (
        "post",
        "policy_updates",
        "Policy updates per batch of rollouts.",
    ),
    (
        "post",
        "grad_clip",
        "Clip the gradient norm to this; 0: off.",
    ),
    (
        "post",
        "max_bad_steps",
        "Consecutive NaN/Inf losses before the run stops (headless) or pauses (TUI).",
    ),
    (
        "post",
        "reward",
        "Reward of an unlabeled rollout: consensus (1 when its answer is its group's majority answer, else 0) | consensus_prg (consensus plus prg_weight * clamp(PRG against the majority, 0, 1)) | self_certainty (the model's certainty; does not carry correctness here) | random | format (controls).",
    ),
    (
        "post",
        "votes",
        "Rollouts sampled per unlabeled question for the majority vote; the first group_size are trained on (at least group_size).",
    ),
    (
        "post",
        "min_majority",
        "A group whose majority answer holds less than this share of its votes gives no gradient (consensus rewards).",
    ),
    (
        "post",
        "min_confidence",
        "A group whose majority votes' mean response confidence (the product of their token probabilities) is below this gives no gradient (consensus rewards); hytune eval --votes N reports what each floor would train. 0: off.",
    ),
    (
        "post",
        "prg_weight",
        "Weight of clamp(PRG, 0, 1) added to an agreeing (consensus_prg) or correct (labeled) rollout.",
    ),
    (
        "post",
        "advantage",
        "grpo ((r - mean) / std in the group, per-token mean) | dr_grpo (r - mean; token sums over max_new_tokens).",
    ),
    (
        "post",
        "clip_eps_high",
        "Upper clip of the ratio (clip-higher: 1 + clip_eps_high); 0: clip_eps.",
    ),
    (
        "post",
        "update",
        "split (an AdamW each: RD steps at alpha * lr, RL at (1 - alpha) * rl_lr, whatever the scale of either gradient) | joint (one AdamW over alpha * L_RD + (1 - alpha) * L_RL, as before).",
    ),
    ("post", "rl_lr", "RL learning rate (update = split)."),
    (
        "post",
        "rl_step",
        "scaled (the RL step times the share of rollouts with a non-zero advantage; none without one) | skip (no RL step without one; full otherwise) | always (every step full, as before; AdamW then blows a batch of tied groups up to a full step of noise).",
    ),
    (
        "post",
        "micro_batch",
        "Rows of one forward-backward pass at most, gradients summed over the passes (as gradient accumulation); 0: the whole batch split over the threads. Lower it to bound the update's activations (the memory estimate follows).",
    ),
    (
        "post",
        "labeled_rollouts",
        "Questions of each RD batch also rolled out (group_size each), rewarded against their gold answer (1 if correct, plus prg_weight * clamp(PRG against gold, 0, 1)).",
    ),
    (
        "post",
        "brier_weight",
        "RLCR's calibration term on labeled rollouts (needs post.labeled_rollouts): reward += w * (1 - (conf - correct)^2) for a rollout that answered, conf as eval.confidence says. 0: off.",
    ),
    (
        "post",
        "vote_brier",
        "Experimental label-free calibration term on unlabeled rollouts: reward -= lambda * (conf - v)^2, v the share of the group's rollouts that gave the same answer. 0: off.",
    ),
    (
        "mix",
        "strategy",
        "rd | rlif | fixed | schedule | hytuning.",
    ),
    (
        "mix",
        "alpha",
        "fixed: the constant alpha; hytuning: alpha before the first step.",
    ),
    (
        "mix",
        "alpha_min",
        "Lower clamp of alpha (hytuning), end of the schedule (schedule).",
    ),
    (
        "mix",
        "alpha_max",
        "Upper clamp of alpha (hytuning), start of the schedule (schedule).",
    ),
    ("mix", "momentum", "m: EMA momentum of alpha (hytuning)."),
    (
        "mix",
        "hold_until_conf",
        "Cold start (hytuning): alpha stays at alpha_max while the mean confidence in the gold answers after the gold steps is below this; 0: off.",
    ),
    (
        "mix",
        "rollout_prg",
        "A rollout's PRG is scored against: consensus (its group's majority answer) | own (its own answer).",
    ),
    (
        "mix",
        "unanswered",
        "Reward of a rollout with no answer line: keep (its self-certainty) | lowest (one below the group's lowest answered reward).",
    ),
    (
        "mix",
        "alpha_rule",
        "What hytuning's alpha follows: prg (sigmoid((PRG_anchor - PRG_policy) / tau)) | solve_rate (1 - the share of labeled rollouts that reach the gold answer; needs post.labeled_rollouts) | heldout (1 - the solve rate of the held-out labeled traces' rollouts; needs mix.heldout_labels).",
    ),
    (
        "mix",
        "heldout_labels",
        "hytuning only: this many labeled traces (the last of labeled.jsonl) are kept out of RD and rolled out each step (post.votes each, never trained on) to measure the policy's solve rate on questions it has not learned; alpha_rule = heldout follows it. 0: none.",
    ),
    (
        "mix",
        "tau",
        "tau: temperature of sigmoid((PRG_anchor - PRG_policy) / tau).",
    ),
    (
        "mix",
        "tau_gate",
        "tau_g: positive advantages are scaled by sigmoid(PRG_i / tau_g).",
    ),
    (
        "mix",
        "prg_eps",
        "A step counts as not lowering confidence when its gain is >= -prg_eps.",
    ),
    (
        "eval",
        "every",
        "Evaluate every N post-training steps (and at the end); 0: only at the end.",
    ),
    (
        "eval",
        "before",
        "Evaluate eval and dev, and run the canary, before post-training's first step (the base's figures); false skips them (minutes on a real model).",
    ),
    (
        "eval",
        "max_items",
        "Evaluate on at most this many items of eval.jsonl.",
    ),
    (
        "eval",
        "confident_threshold",
        "A wrong answer at or above this confidence is a confident error.",
    ),
    ("eval", "batch_size", "Items decoded together."),
    (
        "eval",
        "dev_items",
        "Periodic evaluations use at most this many dev items; eval.best picks the one best.hyt keeps.",
    ),
    (
        "eval",
        "dev_fraction",
        "A dataset without dev.jsonl holds out this share of its labeled traces as the dev split; 0: none (no best.hyt).",
    ),
    (
        "eval",
        "confidence",
        "A prediction's confidence: response (the probability of its steps and answer) | answer (of the answer after its own steps, which copies the last step and stays near 1).",
    ),
    (
        "eval",
        "extract",
        "Where a response's answer is read, in evaluation, rollouts and the canary: a_line (the first 'A: ' line, the format hytune trains) | last_number | boxed (the last \\boxed{...}) | hash (after the last ####). Steps are the lines before the answer's line.",
    ),
    (
        "eval",
        "epsilon",
        "Every dev evaluation certifies the lowest confidence threshold whose answers are wrong at most this often (with probability 1 - delta), and reports its coverage; `hytune calibrate` stores one with a checkpoint.",
    ),
    (
        "eval",
        "delta",
        "The probability the certified threshold may fail its error rate; within (0, 1).",
    ),
    (
        "eval",
        "canary",
        "Reward canary: at every evaluation, this many dev items are rolled out (post.votes each) and the within-question AUROC of the reward against correctness, the majority's accuracy, the answer and cut rates are logged; 0: off.",
    ),
    (
        "eval",
        "canary_seconds",
        "The canary's budget: its first run prices an item on 2 of the canary items, then rolls out as many more as fit this many seconds, so a slow model's first step starts soon; later canaries of the run, a resumed run's too, read the same items. 0: all of them.",
    ),
    (
        "eval",
        "on_hacking",
        "When the canary flags reward hacking (its reward rises while its AUROC falls below 0.6, or its accuracy falls 2 standard errors below its best): warn | rd (also hold alpha at alpha_max for the rest of the run).",
    ),
    (
        "eval",
        "best",
        "Which dev evaluation of post-training best.hyt keeps: accuracy (the highest; ties: the lower Brier) | brier (the lowest Brier, which prefers a model that answers nothing at confidence 0 to one that answers).",
    ),
    (
        "checkpoint",
        "every",
        "Write a checkpoint every N steps of each phase and at post-training's last step (before its final evaluations); 0: only at the end.",
    ),
    (
        "checkpoint",
        "keep_last",
        "Keep this many periodic checkpoints (plus the best by eval).",
    ),
    ("tui", "fps", "Most frames per second."),
    (
        "tui",
        "history",
        "Steps of each curve kept at full resolution (older ones are down-sampled).",
    ),
    (
        "keys",
        "pause",
        "Pause / resume (at the next step boundary).",
    ),
    ("keys", "checkpoint", "Write a checkpoint now."),
    ("keys", "evaluate", "Evaluate now."),
    ("keys", "inspector", "Open the sample inspector."),
    ("keys", "editor", "Open the hyperparameter editor."),
    ("keys", "freeze", "Freeze the display (training goes on)."),
    ("keys", "log_y", "Log scale on the loss chart."),
    (
        "keys",
        "smooth_more",
        "More EMA smoothing of the loss chart.",
    ),
    ("keys", "smooth_less", "Less EMA smoothing."),
    ("keys", "zoom", "Recent window / whole run."),
    ("keys", "focus", "Focus the next pane."),
    ("keys", "help", "Show the keys."),
    ("keys", "quit", "Quit (asks what to do with the run)."),
    ("experiment", "suites", "Domain suites of the grid."),
    ("experiment", "strategies", "Mixing strategies of the grid."),
    ("experiment", "fractions", "Labeled fractions of the grid."),
    (
        "experiment",
        "sweep",
        "Strategies run at every fraction; the others only at the first. Empty: all at every fraction.",
    ),
    (
        "experiment",
        "seeds",
        "Post-training seeds (run.seed) of each cell; means and spreads are over these.",
    ),
    (
        "experiment",
        "base_seed",
        "Seed of the one base model that every cell post-trains.",
    ),
    (
        "experiment",
        "labels",
        "Labeled counts of the grid (traces out of data.size, e.g. [16, 4000]); when given they replace fractions, and the unlabeled pool, dev and eval are the same items at every count.",
    ),
];

/// A commented TOML file holding `config`'s values.
pub fn render(config: &Config) -> String {
    let table = config.to_table();
    let mut out = String::from(
        "# hytune configuration. Every setting, with its comment; values shown are the effective ones.\n",
    );
    out.push_str("# Lookup: --config PATH, then ./config.toml, then the user config directory. Override any key\n");
    out.push_str("# with --set section.key=value.\n");
    for (section, comment) in SECTIONS {
        out.push_str(&format!("\n# {comment}\n[{section}]\n"));
        let values = table[*section].as_table().expect("sections are tables");
        for (_, key, doc) in KEYS.iter().filter(|(s, _, _)| s == section) {
            out.push_str(&format!("# {doc}\n{key} = {}\n", values[*key]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_documented_once() {
        let table = Config::default().to_table();
        let mut documented = 0;
        for (section, values) in &table {
            assert!(
                SECTIONS.iter().any(|(s, _)| s == section),
                "section {section} undocumented"
            );
            for key in values.as_table().unwrap().keys() {
                let n = KEYS
                    .iter()
                    .filter(|(s, k, _)| s == section && k == key)
                    .count();
                assert_eq!(n, 1, "{section}.{key} documented {n} times");
                documented += 1;
            }
        }
        assert_eq!(documented, KEYS.len(), "a documented key does not exist");
    }

    #[test]
    fn repo_config_toml_is_the_rendered_defaults() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml")).unwrap();
        assert_eq!(
            text,
            render(&Config::default()),
            "regenerate with: hytune print-config > config.toml"
        );
    }
}
