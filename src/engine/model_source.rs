//! Which model a run trains: the configured pretrained directory (read before the data is
//! measured, since its tokenizer counts the tokens) or the byte GPT; and whether it fits in
//! memory, checked before the run folder is created.

use std::path::Path;

use anyhow::Result;
use burn::tensor::Device;

use crate::config::Config;
use crate::model::hf::{BaseIdentity, HfLm};
use crate::model::memory::{Estimate, RunDims, available, gib};
use crate::model::sizes::Sizes;

/// The pretrained model of `model.source` and its identity; `None` for `builtin`.
pub fn pretrained(config: &Config, device: &Device) -> Result<Option<(HfLm, BaseIdentity)>> {
    match config.model.source.as_str() {
        "builtin" => Ok(None),
        dir => {
            let (m, id) = crate::model::pretrained::load(Path::new(dir), &config.model, device)?;
            Ok(Some((m, id)))
        }
    }
}

/// The sizes of the configured pretrained model from its config alone (`config.json` or the
/// GGUF metadata), before its weights are read; `None` for `builtin`.
pub fn pretrained_sizes(config: &Config) -> Result<Option<Sizes>> {
    match config.model.source.as_str() {
        "builtin" => Ok(None),
        dir => {
            let c = crate::model::pretrained::read_config(Path::new(dir))?;
            Ok(Some(Sizes::of_config(&c, config.model.max_len)))
        }
    }
}

/// The run's memory estimate for a model of `sizes` on `device`; on the CPU, a run that
/// exceeds the free memory is refused.
pub fn check_memory(
    sizes: &Sizes,
    device: &Device,
    config: &Config,
    on_cpu: bool,
) -> Result<Estimate> {
    let p = &config.post;
    let strategy = config.strategy();
    let rl = strategy.needs_rollouts();
    let rd = strategy != crate::method::mixing::Strategy::Rlif;
    // Rollout questions: the unlabeled ones and, beside RD, the labeled ones rolled out too.
    let questions = if rl {
        p.questions + if rd { p.labeled_rollouts } else { 0 }
    } else {
        0
    };
    let rl_rows = questions * p.group_size;
    // The held-out meter (`mix.heldout_labels`, HyTuning) decodes beside them, untrained.
    let meter = if strategy == crate::method::mixing::Strategy::Hytuning {
        config.mix.heldout_labels
    } else {
        0
    };
    let both_split = rl && rd && p.update == "split";
    // The largest pass: under split RD and RL run apart; joint runs them as one.
    let train_rows = if p.update == "split" {
        p.rd_batch.max(rl_rows)
    } else {
        p.rd_batch + rl_rows
    };
    let spec = config.lora_spec();
    let lora = spec.rank > 0;
    // Micro-batches (`post.micro_batch`) run one a thread at a time: the activations are those
    // of that many rows.
    let sharding = crate::model::shards::Shards::for_device(device);
    let dims = |spec: &crate::model::lora::LoraSpec, micro_batch: usize, base_bytes: u64| {
        let shards = sharding.count_capped(train_rows, micro_batch);
        let lanes = sharding.threads().min(shards);
        RunDims {
            train_rows: if micro_batch > 0 {
                train_rows.min(lanes * micro_batch)
            } else {
                train_rows
            },
            train_len: sizes.max_len,
            decode_rows: (questions + meter) * config.votes(),
            max_len: sizes.max_len,
            shards: lanes,
            optimizers: 1 + both_split as usize,
            held_gradients: (both_split && rl_rows >= p.rd_batch) as usize,
            reference: spec.rank == 0,
            trainable: (spec.rank > 0).then(|| sizes.adapter_params(spec)),
            checkpoints: true,
            chunked_logits: on_cpu,
            base_bytes: if spec.rank > 0 { base_bytes } else { 4 },
        }
    };
    let bytes = config.base_dtype().bytes();
    let estimate = Estimate::new(sizes.dims, dims(&spec, p.micro_batch, bytes));
    if let Some(free) = available().filter(|&f| on_cpu && estimate.total() > f) {
        // The settings that would fit, when they would: LoRA adapters, then micro-batches, then
        // a bf16 base; each added to the ones before.
        let rank = if lora { spec.rank } else { 16 };
        let with_lora = crate::model::lora::LoraSpec {
            rank,
            ..spec.clone()
        };
        let fits = |micro: usize, bytes: u64| {
            Estimate::new(sizes.dims, dims(&with_lora, micro, bytes)).total()
        };
        let mut sets = Vec::new();
        if !lora {
            sets.push(format!("--set lora.rank={rank}"));
        }
        let mut micro = p.micro_batch;
        let mut fix = (!lora && fits(micro, bytes) <= free).then(|| fits(micro, bytes));
        if fix.is_none() && micro != 2 {
            micro = 2;
            sets.push("--set post.micro_batch=2".into());
            fix = (fits(micro, bytes) <= free).then(|| fits(micro, bytes));
        }
        if fix.is_none() && bytes > 2 {
            sets.push("--set model.dtype=bf16".into());
            fix = (fits(micro, 2) <= free).then(|| fits(micro, 2));
        }
        let fix = match fix {
            Some(total) => format!(
                "it would fit with {} ({}), or lower",
                sets.join(" "),
                gib(total)
            ),
            None => "use a smaller model or lower".to_string(),
        };
        anyhow::bail!(
            "{} exceeds the {} this machine has free; {fix} post.questions, post.group_size, post.rd_batch or model.max_len",
            estimate.describe(),
            gib(free)
        );
    }
    Ok(estimate)
}
