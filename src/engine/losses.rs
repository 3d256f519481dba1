//! The two losses on tensors (DESIGN §1.5), the same formulas as `method::grpo` on numbers.

use burn::tensor::Tensor;

use crate::data::Labeled;
use crate::data::codec::Codec;
use crate::data::text::response;
use crate::model::score::Packed;
use crate::model::{Lm, float_tensor, to_vec};

/// Prompt and response tokens (response ends with EOS).
pub fn example_tokens(codec: &Codec, ex: &Labeled) -> (Vec<u32>, Vec<u32>) {
    let mut resp = codec.encode(&response(&ex.steps, &ex.answer));
    resp.push(codec.eos());
    (codec.encode_question(&ex.question), resp)
}

/// Tokens of an example (prompt and response).
pub fn example_len(codec: &Codec, ex: &Labeled) -> usize {
    let (p, r) = example_tokens(codec, ex);
    p.len() + r.len()
}

/// Response tokens of one `prompt ++ response` sequence that a loss over `Packed` counts
/// (the targets from the last prompt token on, within `max_len`).
pub fn trained_tokens(prompt: usize, response: usize, max_len: usize) -> usize {
    (prompt + response)
        .min(max_len)
        .saturating_sub(prompt.max(1))
}

/// Mean token cross-entropy of the responses, prompts masked. Returns the loss and the number
/// of tokens the forward pass processed.
pub fn rd_loss(model: &Lm, examples: &[&Labeled]) -> (Tensor<1>, usize) {
    let toks = rd_encode(model.codec(), examples);
    rd_loss_part(model, &toks, rd_tokens(&toks, model.max_len()))
}

/// The examples' `(prompt, response)` tokens, encoded once for a step's losses.
pub fn rd_encode(codec: &Codec, examples: &[&Labeled]) -> Vec<(Vec<u32>, Vec<u32>)> {
    examples.iter().map(|e| example_tokens(codec, e)).collect()
}

/// The response tokens `rd_loss` averages over.
pub fn rd_tokens(toks: &[(Vec<u32>, Vec<u32>)], max_len: usize) -> usize {
    toks.iter()
        .map(|(p, r)| trained_tokens(p.len(), r.len(), max_len))
        .sum()
}

/// These examples' share of a batch's RD loss: their summed token cross-entropy divided by
/// `batch_tokens`, the response tokens of the whole batch (so the shares of a batch's parts
/// sum to its `rd_loss`). `toks` as from [`rd_encode`].
pub fn rd_loss_part(
    model: &Lm,
    toks: &[(Vec<u32>, Vec<u32>)],
    batch_tokens: usize,
) -> (Tensor<1>, usize) {
    let pairs: Vec<(&[u32], &[u32])> = toks
        .iter()
        .map(|(p, r)| (p.as_slice(), r.as_slice()))
        .collect();
    let packed = Packed::new(&pairs, model.max_len());
    let lp = packed.token_logprobs(model) * packed.mask_tensor(model);
    (
        lp.sum().neg().div_scalar(batch_tokens.max(1) as f32),
        packed.rows * packed.cols,
    )
}

/// One response of a GRPO batch.
pub struct PolicyRow<'a> {
    pub prompt: &'a [u32],
    pub response: &'a [u32],
    /// Log-probs at sampling time (π_old), one per response token.
    pub old_logprobs: &'a [f32],
    pub advantage: f64,
}

/// `−mean_i (1/|o_i|) Σ_t [min(ρA, clip(ρ)A) − β·k3]`, with `reference` a frozen copy.
/// Returns the loss, the mean k3 KL to the reference, and the tokens processed.
pub fn rlif_loss(
    policy: &Lm,
    reference: &Lm,
    rows: &[PolicyRow],
    eps: f64,
    beta: f64,
) -> (Tensor<1>, f64, usize) {
    let part = rlif_loss_part(policy, reference, rows, eps, beta, rows.len());
    (
        part.loss,
        part.kl_sum / f64::max(part.kl_tokens, 1.0),
        part.tokens,
    )
}

/// Some rows' share of a GRPO batch's loss.
pub struct RlifPart {
    /// The rows' terms divided by the whole batch's row count.
    pub loss: Tensor<1>,
    /// Σ k3 KL to the reference over the rows' response tokens, and how many there were.
    pub kl_sum: f64,
    pub kl_tokens: f64,
    /// Tokens the forward pass processed.
    pub tokens: usize,
}

/// These rows' share of `rlif_loss` over a batch of `batch_rows` rows (the shares of a batch's
/// parts sum to its loss).
pub fn rlif_loss_part(
    policy: &Lm,
    reference: &Lm,
    rows: &[PolicyRow],
    eps: f64,
    beta: f64,
    batch_rows: usize,
) -> RlifPart {
    let opts = GrpoOpts {
        eps_low: eps,
        eps_high: eps,
        beta,
        fixed_len: None,
    };
    grpo_loss_part(policy, reference, rows, &opts, batch_rows)
}

/// The clip, the KL weight and the length normalisation of a GRPO loss.
#[derive(Clone, Copy, Debug)]
pub struct GrpoOpts {
    pub eps_low: f64,
    /// Clip-higher: the ratio is clipped to `[1 − eps_low, 1 + eps_high]`.
    pub eps_high: f64,
    pub beta: f64,
    /// Dr. GRPO: each row's token sum is divided by this constant instead of its own length, so
    /// a long wrong rollout is not penalised less per token than a short one.
    pub fixed_len: Option<usize>,
}

/// [`rlif_loss_part`] with the clip, KL and length normalisation of `opts`.
pub fn grpo_loss_part(
    policy: &Lm,
    reference: &Lm,
    rows: &[PolicyRow],
    opts: &GrpoOpts,
    batch_rows: usize,
) -> RlifPart {
    let (eps_low, eps_high, beta) = (opts.eps_low, opts.eps_high, opts.beta);
    let pairs: Vec<(&[u32], &[u32])> = rows.iter().map(|r| (r.prompt, r.response)).collect();
    let packed = Packed::new(&pairs, policy.max_len());
    let (n, l) = (packed.rows, packed.cols);
    let device = policy.device();
    // π_old and the advantages laid out like the targets.
    let mut old = vec![0.0f32; n * l];
    let mut lengths = vec![1.0f32; n];
    for (i, r) in rows.iter().enumerate() {
        let start = r.prompt.len() - 1;
        for (j, &lp) in r.old_logprobs.iter().enumerate() {
            if start + j < l {
                old[i * l + start + j] = lp;
            }
        }
        lengths[i] = match opts.fixed_len {
            Some(len) => len.max(1) as f32,
            None => packed.mask[i * l..(i + 1) * l].iter().sum::<f32>().max(1.0),
        };
    }
    // β = 0 needs no reference: its forward is skipped (TRL's default), and no KL is logged.
    let reference_lp = (beta != 0.0).then(|| to_vec(packed.token_logprobs(reference)));
    let mask_host = &packed.mask;
    let (mut kl_sum, mut kl_tokens) = (0.0, 0.0);
    if let Some(reference_lp) = &reference_lp {
        for k in 0..n * l {
            if mask_host[k] > 0.0 {
                kl_sum += crate::method::grpo::kl_k3(old[k] as f64, reference_lp[k] as f64);
                kl_tokens += 1.0;
            }
        }
    }
    let adv: Vec<f32> = rows.iter().map(|r| r.advantage as f32).collect();
    let mask = packed.mask_tensor(policy);
    let new_lp = packed.token_logprobs(policy);
    let old_lp = float_tensor(old, n, l, &device);
    let adv = float_tensor(adv, n, 1, &device).expand([n, l]);
    let ratio = (new_lp.clone() - old_lp).exp();
    let surrogate =
        (ratio.clone() * adv.clone()).min_pair(ratio.clamp(1.0 - eps_low, 1.0 + eps_high) * adv);
    let objective = match reference_lp {
        Some(reference_lp) => {
            let d = float_tensor(reference_lp, n, l, &device) - new_lp;
            let k3 = (d.clone().exp() - d).sub_scalar(1.0);
            surrogate - k3.mul_scalar(beta)
        }
        None => surrogate,
    };
    let per_token = objective * mask;
    let per_row = per_token.sum_dim(1).squeeze_dim::<1>(1)
        / float_tensor(lengths, n, 1, &device).squeeze_dim::<1>(1);
    let loss = per_row.sum().div_scalar(batch_rows.max(1) as f32).neg();
    RlifPart {
        loss,
        kl_sum,
        kl_tokens,
        tokens: n * l,
    }
}
