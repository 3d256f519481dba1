//! Scaled, causally masked softmax over attention scores on the CPU backend (flex), in one pass
//! each way.
//!
//! Composed from tensor ops, `softmax(scores / √d + causal_bias)` is a division, a broadcast
//! addition and a softmax forward, and the softmax's and the division's backward. Its `exp`
//! runs on every masked entry too, and each of those takes the C library's underflow path
//! (with `errno`): about 3% of a pretraining step's profile. This kernel computes only the
//! visible entries, with the vectorisable `exp` of `erf_gelu`, and its backward is the
//! softmax's, `scale · y ⊙ (g − Σ y g)`, in one pass. Other backends keep the composition.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::Tensor;

use super::erf_gelu::exp_nonpositive;
use super::flex::{contiguous_f32, from_f32, on_flex_f32, one_input_op, wide_fn};

/// Whether [`softmax`] runs here for `scores` (f32 on flex).
pub fn applies(scores: &Tensor<4>) -> bool {
    on_flex_f32(scores)
}

/// `softmax(scores · scale + causal)` over the last axis of `[B, H, T, T]` scores, where the
/// causal mask hides key `j > i` from query `i`. Only where [`applies`].
pub fn softmax(scores: Tensor<4>, scale: f32) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CausalSoftmax>::causal_softmax(
        scores.into_dispatch(),
        scale,
    ))
}

#[backend_extension(Flex, Autodiff)]
pub trait CausalSoftmax: Backend {
    fn causal_softmax(scores: FloatTensor<Self>, scale: f32) -> FloatTensor<Self>;
}

impl CausalSoftmax for Flex {
    fn causal_softmax(scores: FlexTensor, scale: f32) -> FlexTensor {
        forward(&scores, scale)
    }
}

impl<C: CheckpointStrategy> CausalSoftmax for Autodiff<Flex, C> {
    fn causal_softmax(scores: FloatTensor<Self>, scale: f32) -> FloatTensor<Self> {
        one_input_op::<C, _>(
            scores,
            |s| {
                let y = forward(s, scale);
                (y.clone(), (y, scale))
            },
            |(y, scale), grad| backward(&y, &grad, scale),
        )
    }
}

fn forward(scores: &FlexTensor, scale: f32) -> FlexTensor {
    let scores = contiguous_f32(scores);
    let dims = scores.layout().shape().clone();
    let t = dims[3];
    assert_eq!(dims[2], t, "causal softmax needs square scores");
    let src = scores.as_slice::<f32>().expect("contiguous f32 scores");
    let mut out = vec![0.0f32; src.len()];
    softmax_rows(src, &mut out, t, scale);
    from_f32(out, dims)
}

wide_fn! {
    /// Each row's visible entries `[0, i]`, scaled, through the softmax; the rest stay 0.
    fn softmax_rows(src: &[f32], out: &mut [f32], t: usize, scale: f32) {
        for (row, (s, o)) in src.chunks_exact(t).zip(out.chunks_exact_mut(t)).enumerate() {
            let i = row % t;
            let (s, o) = (&s[..=i], &mut o[..=i]);
            let m = s.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v)) * scale;
            // The `exp`s in a loop of their own vectorise; the sum keeps its order.
            for (y, &v) in o.iter_mut().zip(s) {
                *y = exp_nonpositive(v * scale - m);
            }
            let sum = o.iter().fold(0.0f32, |a, &y| a + y);
            let inv = 1.0 / sum;
            o.iter_mut().for_each(|y| *y *= inv);
        }
    }
}

fn backward(y: &FlexTensor, grad: &FlexTensor, scale: f32) -> FlexTensor {
    let (y, grad) = (contiguous_f32(y), contiguous_f32(grad));
    let dims = y.layout().shape().clone();
    let t = dims[3];
    let (ys, gs) = (
        y.as_slice::<f32>().expect("contiguous f32 output"),
        grad.as_slice::<f32>().expect("contiguous f32 gradient"),
    );
    let mut out = vec![0.0f32; ys.len()];
    softmax_backward_rows(ys, gs, &mut out, t, scale);
    from_f32(out, dims)
}

wide_fn! {
    /// `scale · y ⊙ (g − Σ y g)` over each row's visible entries.
    fn softmax_backward_rows(
        ys: &[f32],
        gs: &[f32],
        out: &mut [f32],
        t: usize,
        scale: f32,
    ) {
        for (row, ((yr, gr), o)) in ys
            .chunks_exact(t)
            .zip(gs.chunks_exact(t))
            .zip(out.chunks_exact_mut(t))
            .enumerate()
        {
            let n = row % t + 1;
            let (yr, gr, o) = (&yr[..n], &gr[..n], &mut o[..n]);
            let dot: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
            for ((d, &y), &g) in o.iter_mut().zip(yr).zip(gr) {
                *d = scale * y * (g - dot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::flex::{assert_close, values_and_grads};
    use burn::tensor::{Device, TensorData, activation};

    fn scores(device: &Device) -> Tensor<4> {
        let (b, h, t) = (2, 3, 6);
        let v: Vec<f32> = (0..b * h * t * t)
            .map(|i| ((i * 53) % 29) as f32 * 0.3 - 4.0)
            .collect();
        Tensor::<4>::from_data(TensorData::new(v, [b, h, t, t]), device)
    }

    /// Values and gradients equal `softmax(s · scale + causal_bias)` composed from tensor ops.
    #[test]
    fn kernel_matches_the_composition() {
        let device = Device::flex().autodiff();
        let scale = 0.25f32;
        assert!(applies(&scores(&device)));
        let run = |fused: bool| {
            values_and_grads(
                scores(&device),
                |s| {
                    if fused {
                        softmax(s, scale)
                    } else {
                        let bias = crate::model::attention::causal_bias(6, &device);
                        activation::softmax(s.mul_scalar(scale) + bias.expand([2, 3, 6, 6]), 3)
                    }
                },
                scores(&device).sin(),
            )
        };
        let (ours, theirs) = (run(true), run(false));
        assert_close(&ours.0, &theirs.0, 1e-6, "value");
        assert_close(&ours.1, &theirs.1, 1e-6, "grad");
    }

    /// By hand: one row of two visible scores [0, ln 3] (scale 1) gives [1/4, 3/4], and the
    /// first query sees only itself.
    #[test]
    fn by_hand() {
        let device = Device::flex();
        let s = Tensor::<4>::from_data(
            TensorData::new(vec![5.0f32, 9.0, 0.0, 3f32.ln()], [1, 1, 2, 2]),
            &device,
        );
        let y = crate::model::to_vec(softmax(s, 1.0));
        let want = [1.0, 0.0, 0.25, 0.75];
        for (g, w) in y.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{y:?}");
        }
    }
}
