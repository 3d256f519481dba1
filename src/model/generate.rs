//! Batched KV-cached decoding: sampling at temperature T with top-k, or greedy. Each new
//! token's log-prob (at temperature 1), self-certainty and entropy come from the same logits.

use std::sync::atomic::{AtomicBool, Ordering};

use super::attention::cached_bias;
use super::shards::{Shards, split};
use super::{Batch, Lm, to_vec};
use crate::method::self_certainty::{entropy, logsumexp, token_self_certainty};
use crate::rng::Rng;

#[derive(Clone, Copy, Debug)]
pub struct SampleOpts {
    /// `None`: greedy.
    pub temperature: Option<f64>,
    pub top_k: usize,
    pub max_new: usize,
}

/// One generated response.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Generated {
    /// Response tokens, ending with EOS unless the length cap cut it.
    pub tokens: Vec<u32>,
    /// `log p(token)` at temperature 1.
    pub logprobs: Vec<f32>,
    /// Per-token self-certainty `KL(U ‖ p_t)`.
    pub self_certainty: Vec<f64>,
    pub entropy: Vec<f64>,
}

/// Draws a token from `logits` (temperature, top-k) or takes the argmax.
pub fn pick_token(logits: &[f32], opts: &SampleOpts, rng: &mut Rng) -> u32 {
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .fold(0, |best, (i, &z)| if z > logits[best] { i } else { best }) as u32
    };
    let Some(t) = opts.temperature else {
        return argmax();
    };
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    if opts.top_k > 0 && opts.top_k < logits.len() {
        idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        idx.truncate(opts.top_k);
    }
    let scaled: Vec<f32> = idx.iter().map(|&i| (logits[i] as f64 / t) as f32).collect();
    let lse = logsumexp(&scaled);
    let mut u = rng.unit();
    for (k, &z) in scaled.iter().enumerate() {
        u -= (z as f64 - lse).exp();
        if u <= 0.0 {
            return idx[k] as u32;
        }
    }
    idx[idx.len() - 1] as u32
}

/// Generates one response per prompt (each prompt already starts with BOS). Each row samples
/// from its own stream forked from `rng`, so the rows' draws do not depend on how the batch is
/// split over threads (`shards`).
pub fn generate(
    model: &Lm,
    prompts: &[Vec<u32>],
    opts: &SampleOpts,
    rng: &mut Rng,
) -> Vec<Generated> {
    generate_until(model, prompts, opts, rng, &NEVER)
}

/// A stop flag nobody raises, for decodes that run to the end (samples, benchmarks).
pub static NEVER: AtomicBool = AtomicBool::new(false);

/// [`generate`] that ends early, between tokens, once `stop` is set (the rows are then cut
/// short; a caller that sets it throws them away).
pub fn generate_until(
    model: &Lm,
    prompts: &[Vec<u32>],
    opts: &SampleOpts,
    rng: &mut Rng,
    stop: &AtomicBool,
) -> Vec<Generated> {
    let rngs: Vec<Rng> = prompts.iter().map(|_| rng.fork()).collect();
    let shards = Shards::for_device(&model.device());
    let parts = split(prompts.len(), shards.count(prompts.len()));
    shards
        .run(parts.len(), |i| {
            let mut own = rngs[parts[i].clone()].to_vec();
            generate_rows(model, &prompts[parts[i].clone()], opts, &mut own, stop)
        })
        .into_iter()
        .flatten()
        .collect()
}

/// One KV-cached decode of `prompts` together, row `r` sampling from `rngs[r]`.
fn generate_rows(
    model: &Lm,
    prompts: &[Vec<u32>],
    opts: &SampleOpts,
    rngs: &mut [Rng],
    stop: &AtomicBool,
) -> Vec<Generated> {
    let rows = prompts.len();
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    let max_new = opts.max_new.min(model.max_len().saturating_sub(longest));
    let mut out = vec![Generated::default(); rows];
    // A stop raised before the prefill: no forward at all (on a 135M model the prefill of a
    // canary's rollouts alone takes minutes, past a scheduler's grace period).
    if rows == 0 || max_new == 0 || stop.load(Ordering::Relaxed) {
        return out;
    }
    // With shape bucketing the prefill is left-padded up to a bucket (the room for max_new
    // tokens kept): its rows' positions and masks are those of the unpadded prompts.
    let longest = super::shapes::bucket(longest, model.max_len() - max_new);
    let pads: Vec<usize> = prompts.iter().map(|p| longest - p.len()).collect();
    let codec = model.codec();
    let pad = codec.pad();
    // Prefill each distinct prompt once (a question's votes share it), then fork its cache
    // and last logits to every row that asks it.
    let (unique, row_of) = distinct_prompts(prompts);
    let mut cache = model.new_cache(unique.len());
    let mut tokens = Vec::with_capacity(unique.len() * longest);
    let mut positions = Vec::with_capacity(unique.len() * longest);
    for &u in &unique {
        let n_pad = pads[u];
        tokens.extend(std::iter::repeat_n(pad, n_pad).chain(prompts[u].iter().copied()));
        positions.extend((0..longest).map(|j| j.saturating_sub(n_pad) as u32));
    }
    let unique_pads: Vec<usize> = unique.iter().map(|&u| pads[u]).collect();
    let mut batch = Batch {
        tokens,
        positions,
        rows: unique.len(),
        cols: longest,
    };
    let mut done = vec![false; rows];
    let vocab;
    let mut logits = {
        let l =
            model.forward_cached_last(&batch, cached_bias(&unique_pads, 0, longest), &mut cache);
        vocab = l.dims()[2];
        let shared = to_vec(l);
        row_of
            .iter()
            .flat_map(|&u| shared[u * vocab..(u + 1) * vocab].iter().copied())
            .collect::<Vec<f32>>()
    };
    if unique.len() < rows {
        cache.fork_rows(&row_of);
    }
    for step in 0..max_new {
        let mut next = vec![pad; rows];
        for r in 0..rows {
            if done[r] {
                continue;
            }
            let z = &logits[r * vocab..(r + 1) * vocab];
            let tok = pick_token(z, opts, &mut rngs[r]);
            let g = &mut out[r];
            g.logprobs
                .push((z[tok as usize] as f64 - logsumexp(z)) as f32);
            g.self_certainty.push(token_self_certainty(z));
            g.entropy.push(entropy(z));
            g.tokens.push(tok);
            next[r] = tok;
            done[r] = codec.is_end(tok);
        }
        if done.iter().all(|&d| d) || step + 1 == max_new || stop.load(Ordering::Relaxed) {
            break;
        }
        let past = cache.len();
        batch = Batch {
            positions: pads.iter().map(|&pad| (past - pad) as u32).collect(),
            tokens: next,
            rows,
            cols: 1,
        };
        let l = model.forward_cached(&batch, cached_bias(&pads, past, 1), &mut cache);
        logits = to_vec(l);
    }
    out
}

/// The first row of each distinct prompt, and for each row the index (into that list) of its
/// prompt.
fn distinct_prompts(prompts: &[Vec<u32>]) -> (Vec<usize>, Vec<usize>) {
    let mut unique: Vec<usize> = Vec::new();
    let mut seen: std::collections::HashMap<&[u32], usize> = std::collections::HashMap::new();
    let row_of = prompts
        .iter()
        .enumerate()
        .map(|(r, p)| {
            *seen.entry(p.as_slice()).or_insert_with(|| {
                unique.push(r);
                unique.len() - 1
            })
        })
        .collect();
    (unique, row_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_prompts_map_every_row_to_its_first() {
        let p = vec![vec![1, 2], vec![3], vec![1, 2], vec![3], vec![4]];
        assert_eq!(distinct_prompts(&p), (vec![0, 1, 4], vec![0, 1, 0, 1, 2]));
        assert_eq!(distinct_prompts(&[]), (vec![], vec![]));
    }

    /// Eight samples of one prompt and one of another, sampled together: each row's tokens and
    /// log-probs are what it gets with its own random stream decoded alone (the shared prefill
    /// and the forked cache change nothing).
    #[test]
    fn shared_prefill_gives_each_row_what_it_gets_alone() {
        let device = burn::tensor::Device::flex();
        device.seed(5);
        let model = crate::model::GptShape {
            vocab: crate::data::tokenizer::VOCAB_SIZE,
            d_model: 16,
            n_layers: 2,
            n_heads: 2,
            max_len: 40,
            mlp_ratio: 2,
            positions: crate::model::Positions::Rope,
            activation: crate::model::Activation::Gelu,
        }
        .init(&device);
        let mut prompts = vec![vec![1u32, 7, 9, 11]; 8];
        prompts.push(vec![1u32, 5]);
        let opts = SampleOpts {
            temperature: Some(1.0),
            top_k: 0,
            max_new: 12,
        };
        let mut rngs: Vec<Rng> = (0..prompts.len())
            .map(|i| Rng::new(100 + i as u64))
            .collect();
        let together = generate_rows(&model, &prompts, &opts, &mut rngs.clone(), &NEVER);
        for (r, p) in prompts.iter().enumerate() {
            let alone = generate_rows(&model, &[p.clone()], &opts, &mut rngs[r..=r], &NEVER);
            assert_eq!(together[r].tokens, alone[0].tokens, "row {r}");
            for (a, b) in together[r].logprobs.iter().zip(&alone[0].logprobs) {
                assert!((a - b).abs() < 1e-4, "row {r}: {a} vs {b}");
            }
        }
        // The samples of the shared prompt differ from each other.
        assert!((1..8).any(|r| together[r].tokens != together[0].tokens));
    }

    #[test]
    fn last_position_prefill_and_a_stop_raised_before_it() {
        let device = burn::tensor::Device::flex();
        device.seed(3);
        let model = crate::model::GptShape {
            vocab: crate::data::tokenizer::VOCAB_SIZE,
            d_model: 16,
            n_layers: 1,
            n_heads: 2,
            max_len: 32,
            mlp_ratio: 2,
            positions: crate::model::Positions::Rope,
            activation: crate::model::Activation::Gelu,
        }
        .init(&device);
        let prompts = vec![vec![1u32, 2, 3], vec![4, 5]];
        let opts = SampleOpts {
            temperature: None,
            top_k: 0,
            max_new: 8,
        };
        // The last-position prefill decoding reads is the full forward's last row.
        let batch = crate::model::Batch {
            tokens: prompts[0].clone(),
            positions: vec![0, 1, 2],
            rows: 1,
            cols: 3,
        };
        let full =
            to_vec(model.forward_cached(&batch, cached_bias(&[0], 0, 3), &mut model.new_cache(1)));
        let last = to_vec(model.forward_cached_last(
            &batch,
            cached_bias(&[0], 0, 3),
            &mut model.new_cache(1),
        ));
        let v = last.len();
        assert_eq!(full.len(), 3 * v);
        for (a, b) in last.iter().zip(&full[2 * v..]) {
            assert!((a - b).abs() <= 1e-5, "{a} against {b}");
        }
        let raised = AtomicBool::new(true);
        let out = generate_until(&model, &prompts, &opts, &mut Rng::new(1), &raised);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|g| g.tokens.is_empty()), "nothing decoded");
        // Not raised: every row decodes at least one token (the same call, the flag down).
        let out = generate_until(&model, &prompts, &opts, &mut Rng::new(1), &NEVER);
        assert!(out.iter().all(|g| !g.tokens.is_empty()));
    }

    #[test]
    fn greedy_takes_argmax_and_top1_sampling_agrees() {
        let z = [0.1f32, 2.0, -1.0, 1.9];
        let mut rng = Rng::new(1);
        assert_eq!(
            pick_token(
                &z,
                &SampleOpts {
                    temperature: None,
                    top_k: 0,
                    max_new: 1
                },
                &mut rng
            ),
            1
        );
        for _ in 0..20 {
            assert_eq!(
                pick_token(
                    &z,
                    &SampleOpts {
                        temperature: Some(1.0),
                        top_k: 1,
                        max_new: 1
                    },
                    &mut rng
                ),
                1
            );
        }
    }

    #[test]
    fn sampling_frequencies_follow_the_tempered_distribution() {
        let z = [0.0f32, 2f32.ln()]; // p = (1/3, 2/3) at T = 1
        let mut rng = Rng::new(5);
        let opts = SampleOpts {
            temperature: Some(1.0),
            top_k: 0,
            max_new: 1,
        };
        let n = 20000;
        let ones = (0..n)
            .filter(|_| pick_token(&z, &opts, &mut rng) == 1)
            .count() as f64
            / n as f64;
        assert!((ones - 2.0 / 3.0).abs() < 0.015, "{ones}");
        // T = 2 flattens: p ∝ (1, √2) → 0.5858
        let opts = SampleOpts {
            temperature: Some(2.0),
            ..opts
        };
        let ones = (0..n)
            .filter(|_| pick_token(&z, &opts, &mut rng) == 1)
            .count() as f64
            / n as f64;
        assert!((ones - 0.5858).abs() < 0.015, "{ones}");
    }
}
