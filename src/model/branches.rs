//! Prefix-shared scoring: a context read once into the KV cache, then short branches that each
//! continue it from an earlier point. PRG needs `log p(answer | q, s_1..s_k)` for every `k`;
//! the contexts `q, s_1..s_k` are prefixes of one sequence, so one pass over `q, s_1..s_K` and
//! one pass over the `K + 1` answer branches replace `K + 1` passes over whole prefixes.

use super::attention::MASKED;
use super::{Batch, Lm, to_vec};

/// One context and its branches.
pub struct Branched<'a> {
    /// The context tokens (BOS, prompt, steps).
    pub context: &'a [u32],
    /// Branch `k` continues `context[..starts[k]]` (each start at least 1).
    pub starts: Vec<usize>,
    /// The tokens of every branch (the same for all of this context's branches).
    pub branch: &'a [u32],
    /// Only the targets `branch[scored_from..]` count (at least 1).
    pub scored_from: usize,
}

impl Branched<'_> {
    /// Positions the longest branch reaches: it must stay within the model's context.
    pub fn reach(&self) -> usize {
        self.starts.iter().max().copied().unwrap_or(0) + self.branch.len()
    }
}

/// `Σ log p(branch[scored_from..] | context[..start] ++ branch[..scored_from])` per branch of
/// each item, `chunk` items per batch. Every item's `reach()` must be at most `model.max_len()`.
pub fn branch_logprobs(model: &Lm, items: &[Branched], chunk: usize) -> Vec<Vec<f64>> {
    let mut out = Vec::with_capacity(items.len());
    for part in items.chunks(chunk.max(1)) {
        out.extend(score_chunk(model, part));
    }
    out
}

fn score_chunk(model: &Lm, items: &[Branched]) -> Vec<Vec<f64>> {
    use super::shapes::{bucket, bucketing};
    // With shape bucketing: rows up to a power of two (the extra rows all padding), the context
    // and the branch columns up to buckets; every padded entry is masked.
    let rows = if bucketing() {
        items.len().next_power_of_two()
    } else {
        items.len()
    };
    let ctx = items.iter().map(|it| it.context.len()).max().unwrap_or(1);
    let ctx = bucket(ctx, usize::MAX);
    let pads: Vec<usize> = (0..rows)
        .map(|r| ctx - items.get(r).map_or(0, |it| it.context.len()))
        .collect();
    let new = items
        .iter()
        .map(|it| it.starts.len() * it.branch.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let new = bucket(new, usize::MAX);
    let total = ctx + new;
    let pad = model.codec().pad();
    let mut cache = model.new_cache_with_capacity(rows, total);

    // The contexts, left-padded so every row ends at column `ctx`.
    let mut tokens = vec![pad; rows * ctx];
    let mut positions = vec![0u32; rows * ctx];
    for (r, it) in items.iter().enumerate() {
        for (j, &t) in it.context.iter().enumerate() {
            tokens[r * ctx + pads[r] + j] = t;
            positions[r * ctx + pads[r] + j] = j as u32;
        }
    }
    let prefill = Batch {
        tokens,
        positions,
        rows,
        cols: ctx,
    };
    let _ = model.forward_cached_last(&prefill, super::cached_bias(&pads, 0, ctx), &mut cache);

    // The branches side by side: branch `k` sees the context before its start and itself.
    let mut tokens = vec![pad; rows * new];
    let mut positions = vec![0u32; rows * new];
    let mut targets = vec![pad; rows * new];
    let mut bias = vec![MASKED; rows * new * total];
    for (r, it) in items.iter().enumerate() {
        let b = it.branch.len();
        for (k, &start) in it.starts.iter().enumerate() {
            for o in 0..b {
                let i = k * b + o;
                tokens[r * new + i] = it.branch[o];
                positions[r * new + i] = (start + o) as u32;
                if o + 1 < b {
                    targets[r * new + i] = it.branch[o + 1];
                }
                let row = &mut bias[(r * new + i) * total..(r * new + i + 1) * total];
                row[pads[r]..pads[r] + start].fill(0.0);
                row[ctx + k * b..=ctx + i].fill(0.0);
            }
        }
        // Unused columns attend to themselves only.
        for i in it.starts.len() * b..new {
            bias[(r * new + i) * total + ctx + i] = 0.0;
        }
    }
    for r in items.len()..rows {
        for i in 0..new {
            bias[(r * new + i) * total + ctx + i] = 0.0;
        }
    }
    let batch = Batch {
        tokens,
        positions,
        rows,
        cols: new,
    };
    let lp = to_vec(model.cached_logprobs(&batch, bias, &mut cache, &targets));
    items
        .iter()
        .enumerate()
        .map(|(r, it)| {
            let b = it.branch.len();
            (0..it.starts.len())
                .map(|k| {
                    // The logit at offset o predicts branch[o + 1].
                    (it.scored_from.max(1) - 1..b - 1)
                        .map(|o| lp[r * new + k * b + o] as f64)
                        .sum()
                })
                .collect()
        })
        .collect()
}
