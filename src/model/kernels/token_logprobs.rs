//! `log p(target)` at every position of `[N, L, V]` logits, on the CPU backend (flex) in one
//! pass each way.
//!
//! Composed from tensor ops, `log_softmax(logits).gather(targets)` is a maximum, a subtraction,
//! an `exp`, a sum, a `log` and another subtraction over all `N · L · V` logits forward, and
//! backward a scatter of the gradient into a zeroed `[N, L, V]` tensor followed by
//! log-softmax's own backward: about a dozen passes over the largest activation of a small
//! model's step. Here the forward reads each row once (its log-sum-exp and the target's logit),
//! and the backward writes `g · (onehot(target) − softmax)` in one pass, recomputing the softmax
//! from the saved log-sum-exp. Other backends keep the composition.

use std::sync::Arc;

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Int, Shape, Tensor, activation};

use super::erf_gelu::exp_nonpositive;
use super::flex::{contiguous_f32, from_f32, on_flex_f32, one_input_op, wide_fn};
use crate::model::int_tensor;

/// `log_softmax(logits, 2)` gathered at `targets` (`[N, L]` row-major): `[N, L]` log-probs.
/// This file's kernel on flex, the composition elsewhere.
pub fn token_logprobs(logits: Tensor<3>, targets: &[u32]) -> Tensor<2> {
    let [n, l, _] = logits.dims();
    assert_eq!(targets.len(), n * l, "one target per position");
    if on_flex_f32(&logits) {
        return Tensor::from_dispatch(<Dispatch as TokenLogprobs>::token_logprobs(
            logits.into_dispatch(),
            targets.to_vec(),
        ));
    }
    let targets: Tensor<3, Int> = int_tensor(targets, n, l, &logits.device()).unsqueeze_dim(2);
    activation::log_softmax(logits, 2)
        .gather(2, targets)
        .squeeze_dim(2)
}

#[backend_extension(Flex, Autodiff)]
pub trait TokenLogprobs: Backend {
    fn token_logprobs(logits: FloatTensor<Self>, targets: Vec<u32>) -> FloatTensor<Self>;
}

impl TokenLogprobs for Flex {
    fn token_logprobs(logits: FlexTensor, targets: Vec<u32>) -> FlexTensor {
        forward(&logits, &targets).0
    }
}

/// What the backward needs: the logits, each row's log-sum-exp and the targets.
#[derive(Clone, Debug)]
struct Saved {
    logits: FlexTensor,
    lse: Arc<Vec<f32>>,
    targets: Arc<Vec<u32>>,
}

impl<C: CheckpointStrategy> TokenLogprobs for Autodiff<Flex, C> {
    fn token_logprobs(logits: FloatTensor<Self>, targets: Vec<u32>) -> FloatTensor<Self> {
        one_input_op::<C, _>(
            logits,
            |z| {
                let (out, lse) = forward(z, &targets);
                let saved = Saved {
                    logits: z.clone(),
                    lse: Arc::new(lse),
                    targets: Arc::new(targets),
                };
                (out, saved)
            },
            |s, grad| backward(&s, &grad),
        )
    }
}

/// The `[N, L]` log-probs and each row's log-sum-exp.
fn forward(logits: &FlexTensor, targets: &[u32]) -> (FlexTensor, Vec<f32>) {
    let logits = contiguous_f32(logits);
    let dims = logits.layout().shape().clone();
    let (n, l, v) = (dims[0], dims[1], dims[2]);
    let z = logits.as_slice::<f32>().expect("contiguous f32 logits");
    let mut out = vec![0.0f32; n * l];
    let mut lses = vec![0.0f32; n * l];
    let mut exps = vec![0.0f32; v];
    logprob_rows(z, targets, &mut out, &mut lses, &mut exps, v);
    (from_f32(out, Shape::new([n, l])), lses)
}

wide_fn! {
    /// Each row's log-sum-exp, and the target's log-prob; `exps` is a row of scratch.
    pub(super) fn logprob_rows(
        z: &[f32],
        targets: &[u32],
        out: &mut [f32],
        lses: &mut [f32],
        exps: &mut [f32],
        v: usize,
    ) {
        for (((row, &t), o), lse) in z
            .chunks_exact(v)
            .zip(targets)
            .zip(out.iter_mut())
            .zip(lses.iter_mut())
        {
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &x| a.max(x));
            // The `exp`s in a loop of their own vectorise; the sum keeps its order.
            for (e, &x) in exps.iter_mut().zip(row) {
                *e = exp_nonpositive(x - m);
            }
            let s = exps.iter().fold(0.0f32, |a, &e| a + e);
            *lse = m + s.ln();
            *o = row[t as usize] - *lse;
        }
    }
}

/// `∂/∂z[v] = g · (1[v = target] − exp(z[v] − lse))` per row.
fn backward(s: &Saved, grad: &FlexTensor) -> FlexTensor {
    let (logits, grad) = (contiguous_f32(&s.logits), contiguous_f32(grad));
    let dims = logits.layout().shape().clone();
    let v = dims[2];
    let z = logits.as_slice::<f32>().expect("contiguous f32 logits");
    let g = grad.as_slice::<f32>().expect("contiguous f32 gradient");
    let mut out = vec![0.0f32; z.len()];
    logprob_backward_rows(z, g, &s.lse, &s.targets, &mut out, v);
    from_f32(out, dims)
}

wide_fn! {
    /// `g · (onehot(target) − softmax)` per row, the softmax from the saved log-sum-exp.
    pub(super) fn logprob_backward_rows(
        z: &[f32],
        g: &[f32],
        lse: &[f32],
        targets: &[u32],
        out: &mut [f32],
        v: usize,
    ) {
        for (((row, o), (&lse, &t)), &g) in z
            .chunks_exact(v)
            .zip(out.chunks_exact_mut(v))
            .zip(lse.iter().zip(targets))
            .zip(g)
        {
            for (d, &x) in o.iter_mut().zip(row) {
                *d = -g * exp_nonpositive(x - lse);
            }
            o[t as usize] += g;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::flex::{assert_close, values_and_grads};
    use burn::tensor::{Device, TensorData};

    const N: usize = 2;
    const L: usize = 3;
    const V: usize = 7;

    fn logits(device: &Device) -> Tensor<3> {
        let v: Vec<f32> = (0..N * L * V)
            .map(|i| ((i * 37) % 23) as f32 * 0.7 - 8.0)
            .collect();
        Tensor::<3>::from_data(TensorData::new(v, [N, L, V]), device)
    }

    fn targets() -> Vec<u32> {
        (0..N * L).map(|i| ((i * 5) % V) as u32).collect()
    }

    /// Values and gradients equal `log_softmax(z).gather(t)` composed from tensor ops.
    #[test]
    fn kernel_matches_the_composition() {
        let device = Device::flex().autodiff();
        let t = targets();
        let run = |fused: bool| {
            // Both read the same [N, L, V] input; the weights fold the [N, L] output back in.
            let w = Tensor::<2>::from_data(
                TensorData::new(
                    (0..N * L)
                        .map(|i| i as f32 * 0.3 - 0.7)
                        .collect::<Vec<f32>>(),
                    [N, L],
                ),
                &device,
            );
            values_and_grads(
                logits(&device),
                |z| {
                    let lp = if fused {
                        token_logprobs(z, &t)
                    } else {
                        let idx: Tensor<3, Int> = int_tensor(&t, N, L, &device).unsqueeze_dim(2);
                        activation::log_softmax(z, 2).gather(2, idx).squeeze_dim(2)
                    };
                    (lp * w.clone()).unsqueeze_dim::<3>(2).expand([N, L, V]) / V as f32
                },
                logits(&device).ones_like(),
            )
        };
        let (ours, theirs) = (run(true), run(false));
        assert_close(&ours.0, &theirs.0, 2e-6, "value");
        assert_close(&ours.1, &theirs.1, 1e-6, "grad");
    }

    /// By hand: logits [0, ln 3] give log-probs [ln ¼, ln ¾]; with gradient 1 at target 1 the
    /// logits' gradient is onehot − softmax = [−¼, ¼].
    #[test]
    fn by_hand() {
        let device = Device::flex().autodiff();
        let z = Tensor::<3>::from_data(
            TensorData::new(vec![0.0f32, 3f32.ln(), 0.0, 3f32.ln()], [1, 2, 2]),
            &device,
        )
        .require_grad();
        let lp = token_logprobs(z.clone(), &[0, 1]);
        let values = crate::model::to_vec(lp.clone());
        assert!((values[0] - 0.25f32.ln()).abs() < 1e-6, "{values:?}");
        assert!((values[1] - 0.75f32.ln()).abs() < 1e-6, "{values:?}");
        let w = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0], [1, 2]), &device);
        let grads = (lp * w).sum().backward();
        let g = crate::model::to_vec(z.grad(&grads).expect("a gradient"));
        let want = [0.0, 0.0, -0.25, 0.25];
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{g:?}");
        }
    }
}
