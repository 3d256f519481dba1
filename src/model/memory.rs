//! What a run will hold in memory, estimated before it starts: weights, gradients, AdamW's two
//! moments, the frozen reference, the KV cache of the rollouts and the activations of the
//! largest training forward. An estimate (f32 throughout), not a measurement.

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
}

/// The run's side: the largest batches it runs.
#[derive(Clone, Copy, Debug)]
pub struct RunDims {
    /// Rows of a training forward (RD batch, or questions × group size).
    pub train_rows: usize,
    /// Rollouts decoded together.
    pub decode_rows: usize,
    pub max_len: usize,
    /// Shards a training step is split into (`model::shards`): each holds its own gradients
    /// until they are summed.
    pub shards: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub weights: u64,
    pub gradients: u64,
    pub adam: u64,
    pub reference: u64,
    pub kv_cache: u64,
    pub activations: u64,
}

const F32: u64 = 4;

impl Estimate {
    pub fn new(m: ModelDims, r: RunDims) -> Self {
        let p = m.params as u64 * F32;
        let t = r.max_len as u64;
        let tokens = r.train_rows as u64 * t;
        // Per layer and token, what autodiff keeps: about ten residual-width tensors (norms,
        // q, k, v, rotations, attention output, projections), four MLP-width ones, and the
        // attention scores and probabilities (two per head per key).
        let per_token_layer = 10 * m.d_model as u64 + 4 * m.mlp as u64 + 2 * m.heads as u64 * t;
        let activations = (tokens * per_token_layer * m.layers as u64
            // Logits, their log-softmax and its gradient.
            + 3 * tokens * m.vocab as u64)
            * F32;
        Self {
            weights: p,
            gradients: p * r.shards.max(1) as u64,
            adam: 2 * p,
            reference: p,
            kv_cache: 2 * (m.layers * m.kv_width) as u64 * r.decode_rows as u64 * t * F32,
            activations,
        }
    }

    pub fn total(&self) -> u64 {
        self.weights
            + self.gradients
            + self.adam
            + self.reference
            + self.kv_cache
            + self.activations
    }

    /// One line: the total and its parts.
    pub fn describe(&self) -> String {
        format!(
            "memory estimate {}: weights {}, gradients {}, AdamW {}, reference {}, KV cache {}, activations {}",
            gib(self.total()),
            gib(self.weights),
            gib(self.gradients),
            gib(self.adam),
            gib(self.reference),
            gib(self.kv_cache),
            gib(self.activations)
        )
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
    };

    fn run(shards: usize) -> RunDims {
        RunDims {
            train_rows: 2,
            decode_rows: 3,
            max_len: 10,
            shards,
        }
    }

    #[test]
    fn parts_by_hand() {
        // 1000 parameters: 4000 bytes each for weights, gradients and the reference, 8000 for
        // AdamW. KV: 2 (k and v) × 2 layers × width 8 × 3 rows × 10 positions × 4 bytes = 3840.
        // Activations: 2 rows × 10 tokens = 20 tokens; per token and layer 10·16 + 4·32 +
        // 2·2·10 = 328, × 2 layers = 656, + 3 × vocab 50 = 806; × 20 tokens × 4 bytes = 64480.
        let e = Estimate::new(DIMS, run(1));
        assert_eq!(
            (
                e.weights,
                e.gradients,
                e.adam,
                e.reference,
                e.kv_cache,
                e.activations
            ),
            (4000, 4000, 8000, 4000, 3840, 64480)
        );
        assert_eq!(e.total(), 88320);
        // Two shards: a second set of gradients, 4000 bytes more.
        let two = Estimate::new(DIMS, run(2));
        assert_eq!((two.gradients, two.total()), (8000, 92320));
    }
}
