//! What a run will hold in memory, estimated before it starts: weights, gradients, AdamW's two
//! moments (per optimizer), the frozen reference, the KV cache of the rollouts, the activations
//! of the largest training forward and the buffers a checkpoint is serialized into. An estimate
//! (f32 throughout), not a measurement; the parts are added, since memory freed by one phase is
//! mostly kept by the allocator for the next. docs/models.md compares it with peak RSS.

/// The model's side of the estimate.
#[derive(Clone, Copy, Debug)]
pub struct ModelDims {
    pub params: usize,
    pub layers: usize,
    pub d_model: usize,
    /// Hidden width of the MLP.
    pub mlp: usize,
    pub heads: usize,
    /// Key/value width of one layer (kv heads × head width).
    pub kv_width: usize,
    pub vocab: usize,
    /// Weights of the projections (q … down), what `model.dtype` stores in half precision.
    pub projections: usize,
}

/// The run's side: the largest batches it runs and the state it keeps.
#[derive(Clone, Copy, Debug)]
pub struct RunDims {
    /// Rows of the largest training forward (the RD batch, or the RL pass's rollouts).
    pub train_rows: usize,
    /// Tokens per row of that forward.
    pub train_len: usize,
    /// Rollouts decoded together (every vote of every question).
    pub decode_rows: usize,
    /// Positions of the KV cache.
    pub max_len: usize,
    /// Shards a training pass is split into (`model::shards`): each holds its own gradients
    /// until they are summed.
    pub shards: usize,
    /// AdamW states kept: two under `post.update = split` when a run has both losses.
    pub optimizers: usize,
    /// Gradient sets an earlier pass of the same step still holds while the largest runs
    /// (split: RD's while the RL pass runs).
    pub held_gradients: usize,
    /// Whether a frozen reference copy is kept (post-training with full fine-tuning; LoRA's
    /// reference is the base itself).
    pub reference: bool,
    /// Parameters trained: the model's under full fine-tuning, the adapters' under LoRA (only
    /// these have gradients, AdamW moments and, for a pretrained base, checkpoint bytes).
    /// `None`: all of them.
    pub trainable: Option<usize>,
    /// Whether checkpoints are written (their parts are serialized in memory first).
    pub checkpoints: bool,
    /// Whether log-probs come from the head a block of rows at a time (the CPU backend:
    /// `kernels::head_logprobs`), so no `[rows, T, V]` logits are held; else the logits, their
    /// log-softmax and its gradient are.
    pub chunked_logits: bool,
    /// Bytes a projection weight takes (`model.dtype`: 2 for a bf16/f16 base, else 4).
    pub base_bytes: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub weights: u64,
    pub gradients: u64,
    pub adam: u64,
    pub reference: u64,
    pub kv_cache: u64,
    pub activations: u64,
    pub checkpoint: u64,
}

const F32: u64 = 4;

/// Activations measured against the count below, in percent: on SmolLM2-135M the peak RSS of
/// `hytune bench` steps of 32 rows × 64 and × 128 tokens and of a HyTuning step put them at
/// 1.1–1.3 times the count (docs/results/memory-2026-12-03). 110 keeps the whole estimate
/// within about 10% of those peaks, so it refuses no run that fits by much.
const ACTIVATION_MEASURED_PCT: u64 = 110;

impl Estimate {
    pub fn new(m: ModelDims, r: RunDims) -> Self {
        let p = m.params as u64 * F32;
        // The projections of a half-precision base at 2 bytes; the reference is a copy of the
        // f32 model (full fine-tuning only, where the base is f32).
        let stored = p - m.projections as u64 * (F32 - r.base_bytes.min(F32));
        let trained = r.trainable.map_or(p, |n| n as u64 * F32);
        let t = r.train_len as u64;
        let tokens = r.train_rows as u64 * t;
        // Per layer and token, what autodiff keeps: about ten residual-width tensors (norms,
        // q, k, v, rotations, attention output, projections), four MLP-width ones, and the
        // attention scores and probabilities (two per head per key).
        let per_token_layer = 10 * m.d_model as u64 + 4 * m.mlp as u64 + 2 * m.heads as u64 * t;
        let logits = if r.chunked_logits {
            // Two blocks of logits (values and gradient) per shard, and one log-sum-exp a token.
            2 * crate::model::kernels::head_logprobs::BLOCK_LOGITS as u64 * r.shards.max(1) as u64
                + tokens
        } else {
            // Logits, their log-softmax and its gradient.
            3 * tokens * m.vocab as u64
        };
        let counted = (tokens * per_token_layer * m.layers as u64 + logits) * F32;
        let optimizers = r.optimizers.max(1) as u64;
        let reference = if r.reference { p } else { 0 };
        Self {
            weights: stored,
            gradients: trained * (r.shards.max(1) + r.held_gradients) as u64,
            adam: 2 * trained * optimizers,
            reference,
            kv_cache: 2
                * (m.layers * m.kv_width) as u64
                * r.decode_rows as u64
                * r.max_len as u64
                * F32,
            activations: counted * ACTIVATION_MEASURED_PCT / 100,
            // The trained parameters, the reference and each optimizer's moments as bytes.
            checkpoint: if r.checkpoints {
                trained + reference + 2 * trained * optimizers
            } else {
                0
            },
        }
    }

    pub fn total(&self) -> u64 {
        self.weights
            + self.gradients
            + self.adam
            + self.reference
            + self.kv_cache
            + self.activations
            + self.checkpoint
    }

    /// One line: the total and its parts.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "memory estimate {}: weights {}, gradients {}, AdamW {}, reference {}, KV cache {}, activations {}",
            gib(self.total()),
            gib(self.weights),
            gib(self.gradients),
            gib(self.adam),
            gib(self.reference),
            gib(self.kv_cache),
            gib(self.activations)
        );
        if self.checkpoint > 0 {
            s.push_str(&format!(", checkpoint buffers {}", gib(self.checkpoint)));
        }
        s
    }
}

pub fn gib(bytes: u64) -> String {
    let g = bytes as f64 / (1u64 << 30) as f64;
    if g >= 0.1 {
        format!("{g:.1} GiB")
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

/// Memory this machine can still give (`MemAvailable`), when it can be read.
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIMS: ModelDims = ModelDims {
        params: 1000,
        layers: 2,
        d_model: 16,
        mlp: 32,
        heads: 2,
        kv_width: 8,
        vocab: 50,
        projections: 600,
    };

    fn run(shards: usize) -> RunDims {
        RunDims {
            train_rows: 2,
            train_len: 10,
            decode_rows: 3,
            max_len: 10,
            shards,
            optimizers: 1,
            held_gradients: 0,
            reference: true,
            trainable: None,
            checkpoints: false,
            chunked_logits: false,
            base_bytes: 4,
        }
    }

    #[test]
    fn parts_by_hand() {
        // 1000 parameters: 4000 bytes each for weights, gradients and the reference, 8000 for
        // AdamW. KV: 2 (k and v) × 2 layers × width 8 × 3 rows × 10 positions × 4 bytes = 3840.
        // Activations: 2 rows × 10 tokens = 20 tokens; per token and layer 10·16 + 4·32 +
        // 2·2·10 = 328, × 2 layers = 656, + 3 × vocab 50 = 806; × 20 tokens × 4 bytes = 64480,
        // × 1.1 (measured) = 70928.
        let e = Estimate::new(DIMS, run(1));
        assert_eq!(
            (
                e.weights,
                e.gradients,
                e.adam,
                e.reference,
                e.kv_cache,
                e.activations,
                e.checkpoint
            ),
            (4000, 4000, 8000, 4000, 3840, 70928, 0)
        );
        assert_eq!(e.total(), 94768);
        // Two shards: a second set of gradients, 4000 bytes more.
        let two = Estimate::new(DIMS, run(2));
        assert_eq!((two.gradients, two.total()), (8000, 98768));
    }

    #[test]
    fn split_update_keeps_two_optimizers_and_rd_gradients() {
        // split with both losses: AdamW 2 × 8000; RD's gradients (4000) held beside the RL
        // pass's two shards (8000); checkpoint buffers: model 4000 + reference 4000 + the two
        // optimizers' moments 16000 = 24000.
        let e = Estimate::new(
            DIMS,
            RunDims {
                optimizers: 2,
                held_gradients: 1,
                checkpoints: true,
                ..run(2)
            },
        );
        assert_eq!((e.adam, e.gradients, e.checkpoint), (16000, 12000, 24000));
        assert_eq!(
            e.total(),
            4000 + 12000 + 16000 + 4000 + 3840 + 70928 + 24000
        );
        // No reference (the bench): none kept and none serialized.
        let bare = Estimate::new(
            DIMS,
            RunDims {
                reference: false,
                checkpoints: true,
                ..run(1)
            },
        );
        assert_eq!((bare.reference, bare.checkpoint), (0, 4000 + 8000));
    }

    #[test]
    fn chunked_logits_hold_two_blocks_per_shard() {
        // 20 tokens: logits 3 × 20 × 50 = 3000 floats become two blocks of 2^22 per shard
        // (2 shards: 2^24) and 20 log-sum-exps; activations (20 × 656 + 2^24 + 20) × 4 × 1.1.
        let e = Estimate::new(
            DIMS,
            RunDims {
                chunked_logits: true,
                ..run(2)
            },
        );
        assert_eq!(e.activations, (20 * 656 + (1 << 24) + 20) * 4 * 110 / 100);
    }

    #[test]
    fn lora_keeps_state_for_its_adapters_only() {
        // 50 of the 1000 parameters trained (200 bytes): gradients 200 per shard, AdamW 400,
        // no reference; checkpoint: adapters 200 + moments 400. Weights and activations as
        // before.
        let e = Estimate::new(
            DIMS,
            RunDims {
                reference: false,
                trainable: Some(50),
                checkpoints: true,
                ..run(2)
            },
        );
        assert_eq!(
            (e.weights, e.gradients, e.adam, e.reference, e.checkpoint),
            (4000, 400, 400, 0, 600)
        );
        assert_eq!(e.total(), 4000 + 400 + 400 + 3840 + 70928 + 600);
    }

    #[test]
    fn a_half_base_stores_its_projections_at_two_bytes() {
        // 600 of the 1000 parameters are projections: 600 × 2 + 400 × 4 = 2800 bytes of
        // weights; nothing else changes.
        let f32 = Estimate::new(
            DIMS,
            RunDims {
                trainable: Some(50),
                reference: false,
                ..run(1)
            },
        );
        let half = Estimate::new(
            DIMS,
            RunDims {
                trainable: Some(50),
                reference: false,
                base_bytes: 2,
                ..run(1)
            },
        );
        assert_eq!((f32.weights, half.weights), (4000, 2800));
        assert_eq!(f32.total() - half.total(), 1200);
    }
}
