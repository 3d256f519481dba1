//! Teacher-forced log-probabilities of continuations: what `conf(a | x)` (DESIGN §1.3) and
//! the PRG traces (§1.4) need, and the per-token log-probs of the losses.

use burn::tensor::Tensor;

use super::{Lm, float_tensor, int_tensor, to_vec};

/// Right-padded `[N, L]` inputs of `prefix ++ continuation` pairs, with the shifted targets and
/// a mask that is 1 where the target is a continuation token.
pub struct Packed {
    pub rows: usize,
    pub cols: usize,
    pub inputs: Vec<u32>,
    pub targets: Vec<u32>,
    pub mask: Vec<f32>,
}

impl Packed {
    /// `cols` = longest sequence − 1 (the last token is only a target).
    pub fn new(pairs: &[(&[u32], &[u32])], max_len: usize) -> Self {
        let longest = pairs
            .iter()
            .map(|(p, c)| (p.len() + c.len()).min(max_len))
            .max()
            .unwrap_or(1);
        // Padded up to a bucket when shape bucketing is on (the padding is masked).
        let cols = super::shapes::bucket(longest.saturating_sub(1).max(1), max_len);
        let rows = pairs.len();
        // Padding: any valid id; it is masked out of every loss.
        let mut inputs = vec![0; rows * cols];
        let mut targets = vec![0; rows * cols];
        let mut mask = vec![0.0; rows * cols];
        for (r, (p, c)) in pairs.iter().enumerate() {
            let seq: Vec<u32> = p.iter().chain(c.iter()).copied().take(max_len).collect();
            for j in 0..seq.len().saturating_sub(1) {
                inputs[r * cols + j] = seq[j];
                targets[r * cols + j] = seq[j + 1];
                mask[r * cols + j] = (j + 1 >= p.len()) as u8 as f32;
            }
        }
        Self {
            rows,
            cols,
            inputs,
            targets,
            mask,
        }
    }

    /// Per-token `log p(target)` `[N, L]` under `model` (with autograd when the model has it),
    /// never holding the `[N, L, V]` logits on the CPU backend ([`Lm::token_logprobs`]).
    pub fn token_logprobs(&self, model: &Lm) -> Tensor<2> {
        let device = model.device();
        let inputs = int_tensor(&self.inputs, self.rows, self.cols, &device);
        model.token_logprobs(inputs, &self.targets)
    }

    pub fn mask_tensor(&self, model: &Lm) -> Tensor<2> {
        float_tensor(self.mask.clone(), self.rows, self.cols, &model.device())
    }
}

/// `Σ log p(continuation | prefix)` per pair, batched in chunks of `chunk` rows.
pub fn continuation_logprobs(model: &Lm, pairs: &[(&[u32], &[u32])], chunk: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(pairs.len());
    for part in pairs.chunks(chunk.max(1)) {
        let packed = Packed::new(part, model.max_len());
        let lp = packed.token_logprobs(model) * packed.mask_tensor(model);
        out.extend(to_vec(lp.sum_dim(1)).into_iter().map(f64::from));
    }
    out
}
