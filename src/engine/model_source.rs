//! Which model a run trains: the configured pretrained directory (read before the data is
//! measured, since its tokenizer counts the tokens) or the byte GPT; and whether it fits in
//! memory, checked before the run folder is created.

use std::path::Path;

use anyhow::Result;
use burn::tensor::Device;

use crate::config::Config;
use crate::model::Lm;
use crate::model::hf::{BaseIdentity, HfLm};
use crate::model::memory::{Estimate, RunDims, available, gib};

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

/// The run's memory estimate; on the CPU, a run that exceeds the free memory is refused.
pub fn check_memory(model: &Lm, config: &Config, on_cpu: bool) -> Result<Estimate> {
    let p = &config.post;
    let rollout_rows = p.questions * p.group_size;
    let estimate = Estimate::new(
        model.dims(),
        RunDims {
            train_rows: p.rd_batch.max(rollout_rows),
            decode_rows: rollout_rows,
            max_len: model.max_len(),
            shards: crate::model::shards::Shards::for_device(&model.device())
                .count(p.rd_batch + rollout_rows),
        },
    );
    if let Some(free) = available().filter(|&f| on_cpu && estimate.total() > f) {
        anyhow::bail!(
            "{} exceeds the {} this machine has free; use a smaller model or lower post.questions, post.group_size, post.rd_batch or model.max_len",
            estimate.describe(),
            gib(free)
        );
    }
    Ok(estimate)
}
