//! LayerNorm on the CPU backend (flex) in one pass each way, with its three gradients.
//!
//! Under autodiff Burn composes LayerNorm from a mean, a subtraction, a square, a second mean,
//! an `ε` addition, a square root, a division, a scaling and a shift, each a pass over the
//! `[rows, d]` activations with its own allocation, and as many again backward (with a
//! broadcast reduction for every operand that was broadcast). A small model's step runs nine
//! of them each way. This kernel normalises each row once, keeping `x̂` and `1/σ`, and its
//! backward is the textbook one:
//!
//! `∂x = (1/σ) · (g·γ − mean(g·γ) − x̂ · mean(g·γ·x̂))`, `∂γ = Σ_rows g·x̂`, `∂β = Σ_rows g`.
//!
//! Other backends, and norms without a shift, keep Burn's `LayerNorm::forward`.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::nn::LayerNorm;
use burn::tensor::{Shape, Tensor};

use super::flex::{contiguous_f32, from_f32, on_flex_f32, wide_fn};

/// The `ε` of `LayerNormConfig::new`, which every norm of the byte GPT uses (Burn keeps a
/// norm's own `ε` private; the test below checks the two agree).
pub const EPSILON: f32 = 1e-5;

/// `norm(x)` over the last axis: this file's kernel on flex for a norm with a shift, Burn's
/// `LayerNorm::forward` elsewhere.
pub fn layer_norm<const D: usize>(norm: &LayerNorm, x: Tensor<D>) -> Tensor<D> {
    match &norm.beta {
        Some(beta) if on_flex_f32(&x) => {
            Tensor::from_dispatch(<Dispatch as FlexLayerNorm>::flex_layer_norm(
                x.into_dispatch(),
                norm.gamma.val().into_dispatch(),
                beta.val().into_dispatch(),
            ))
        }
        _ => norm.forward(x),
    }
}

#[backend_extension(Flex, Autodiff)]
pub trait FlexLayerNorm: Backend {
    fn flex_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

impl FlexLayerNorm for Flex {
    fn flex_layer_norm(x: FlexTensor, gamma: FlexTensor, beta: FlexTensor) -> FlexTensor {
        forward(&x, &gamma, &beta, false).0
    }
}

/// What the backward needs: `x̂`, each row's `1/σ` and `γ`.
#[derive(Clone, Debug)]
struct Saved {
    xhat: Vec<f32>,
    rstd: Vec<f32>,
    gamma: FlexTensor,
    shape: Shape,
}

#[derive(Debug)]
struct NormBackward;

impl Backward<Flex, 3> for NormBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let [dx, dgamma, dbeta] = backward(&ops.state, &grad);
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, dx);
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, dgamma);
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, dbeta);
        }
    }
}

impl<C: CheckpointStrategy> FlexLayerNorm for Autodiff<Flex, C> {
    fn flex_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match NormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (y, saved) = forward(x.primitive(), gamma.primitive(), beta.primitive(), true);
                prep.finish(saved.expect("saved for the backward"), y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(forward(x.primitive(), gamma.primitive(), beta.primitive(), false).0)
            }
        }
    }
}

/// The normalised, scaled and shifted rows, and (when `keep`) what the backward needs.
fn forward(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    keep: bool,
) -> (FlexTensor, Option<Saved>) {
    let (x, g, b) = (
        contiguous_f32(x),
        contiguous_f32(gamma),
        contiguous_f32(beta),
    );
    let shape = x.layout().shape().clone();
    let xs = x.as_slice::<f32>().expect("contiguous f32 input");
    let gs = g.as_slice::<f32>().expect("contiguous f32 gamma");
    let bs = b.as_slice::<f32>().expect("contiguous f32 beta");
    let d = gs.len();
    let mut out = vec![0.0f32; xs.len()];
    let mut xhat = if keep {
        vec![0.0f32; xs.len()]
    } else {
        Vec::new()
    };
    let mut rstds = vec![0.0f32; if keep { xs.len() / d } else { 0 }];
    norm_rows(xs, gs, bs, &mut out, &mut xhat, &mut rstds, keep);
    let saved = keep.then(|| Saved {
        xhat,
        rstd: rstds,
        gamma: g.clone(),
        shape: shape.clone(),
    });
    (from_f32(out, shape), saved)
}

wide_fn! {
    /// Each `d`-row normalised, scaled and shifted into `out`; with `keep`, `x̂` and `1/σ` too.
    fn norm_rows(
        xs: &[f32],
        gs: &[f32],
        bs: &[f32],
        out: &mut [f32],
        xhat: &mut [f32],
        rstds: &mut [f32],
        keep: bool,
    ) {
        let d = gs.len();
        for (r, (row, o)) in xs.chunks_exact(d).zip(out.chunks_exact_mut(d)).enumerate() {
            let mean = row.iter().fold(0.0f32, |a, &v| a + v) / d as f32;
            let var = row
                .iter()
                .fold(0.0f32, |a, &v| a + (v - mean) * (v - mean))
                / d as f32;
            let rstd = 1.0 / (var + EPSILON).sqrt();
            for (((o, &v), &g), &b) in o.iter_mut().zip(row).zip(gs).zip(bs) {
                *o = (v - mean) * rstd * g + b;
            }
            if keep {
                let h = &mut xhat[r * d..(r + 1) * d];
                for (h, &v) in h.iter_mut().zip(row) {
                    *h = (v - mean) * rstd;
                }
                rstds[r] = rstd;
            }
        }
    }
}

/// The gradients of `x`, `γ` and `β`.
fn backward(s: &Saved, grad: &FlexTensor) -> [FlexTensor; 3] {
    let grad = contiguous_f32(grad);
    let gs = grad.as_slice::<f32>().expect("contiguous f32 gradient");
    let gamma = s.gamma.as_slice::<f32>().expect("contiguous f32 gamma");
    let d = gamma.len();
    let mut dx = vec![0.0f32; gs.len()];
    let mut dgamma = vec![0.0f32; d];
    let mut dbeta = vec![0.0f32; d];
    let mut gg = vec![0.0f32; d];
    norm_backward_rows(
        gs,
        &s.xhat,
        &s.rstd,
        gamma,
        &mut dx,
        &mut dgamma,
        &mut dbeta,
        &mut gg,
    );
    [
        from_f32(dx, s.shape.clone()),
        from_f32(dgamma, Shape::new([d])),
        from_f32(dbeta, Shape::new([d])),
    ]
}

wide_fn! {
    /// `∂x` into `dx`, `∂γ` and `∂β` summed over the rows; `gg` is a row of scratch.
    fn norm_backward_rows(
        gs: &[f32],
        xhat: &[f32],
        rstds: &[f32],
        gamma: &[f32],
        dx: &mut [f32],
        dgamma: &mut [f32],
        dbeta: &mut [f32],
        gg: &mut [f32],
    ) {
        let d = gamma.len();
        let (dgamma, dbeta, gg) = (&mut dgamma[..d], &mut dbeta[..d], &mut gg[..d]);
        for (((g, h), o), &rstd) in gs
            .chunks_exact(d)
            .zip(xhat.chunks_exact(d))
            .zip(dx.chunks_exact_mut(d))
            .zip(rstds)
        {
            // The element-wise parts in loops of their own vectorise; the two sums keep
            // their order.
            for j in 0..d {
                gg[j] = g[j] * gamma[j];
                dgamma[j] += g[j] * h[j];
                dbeta[j] += g[j];
            }
            let (mut sum_gg, mut sum_ggh) = (0.0f32, 0.0f32);
            for j in 0..d {
                sum_gg += gg[j];
                sum_ggh += gg[j] * h[j];
            }
            let (mean_gg, mean_ggh) = (sum_gg / d as f32, sum_ggh / d as f32);
            for j in 0..d {
                o[j] = rstd * (gg[j] - mean_gg - h[j] * mean_ggh);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::flex::assert_close;
    use burn::module::Param;
    use burn::nn::LayerNormConfig;
    use burn::tensor::{Device, TensorData};

    const D: usize = 6;

    fn input(device: &Device) -> Tensor<3> {
        let v: Vec<f32> = (0..2 * 3 * D)
            .map(|i| ((i * 41) % 17) as f32 * 0.45 - 3.0)
            .collect();
        Tensor::<3>::from_data(TensorData::new(v, [2, 3, D]), device)
    }

    fn norm(device: &Device) -> LayerNorm {
        let mut ln = LayerNormConfig::new(D).init(device);
        let g: Vec<f32> = (0..D).map(|i| 0.5 + i as f32 * 0.25).collect();
        let b: Vec<f32> = (0..D).map(|i| i as f32 * 0.1 - 0.2).collect();
        ln.gamma = Param::from_tensor(Tensor::from_data(TensorData::new(g, [D]), device));
        ln.beta = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [D]),
            device,
        )));
        ln
    }

    /// The values and the gradients of `x`, `γ` and `β` equal Burn's composed LayerNorm's.
    #[test]
    fn kernel_matches_burn() {
        let device = Device::flex().autodiff();
        let run = |fused: bool| {
            let ln = norm(&device);
            let x = input(&device).require_grad();
            let y = if fused {
                layer_norm(&ln, x.clone())
            } else {
                ln.forward(x.clone())
            };
            let w = input(&device).sin();
            let grads = (y.clone() * w).sum().backward();
            let get = |t: Option<Tensor<1>>| crate::model::to_vec(t.expect("a gradient"));
            (
                crate::model::to_vec(y),
                crate::model::to_vec(x.grad(&grads).expect("a gradient for x")),
                get(ln.gamma.val().grad(&grads)),
                get(ln
                    .beta
                    .as_ref()
                    .map(|b| b.val())
                    .and_then(|b| b.grad(&grads))),
            )
        };
        let (ours, theirs) = (run(true), run(false));
        let close = |a: &[f32], b: &[f32], what: &str| assert_close(a, b, 1e-5, what);
        close(&ours.0, &theirs.0, "value");
        close(&ours.1, &theirs.1, "grad x");
        close(&ours.2, &theirs.2, "grad gamma");
        close(&ours.3, &theirs.3, "grad beta");
    }

    /// By hand: the row [1, 3] has mean 2 and σ = √(1 + ε), so with γ = 1, β = 0 it maps to
    /// ±1/√(1 + ε); and a gradient equal to x̂ passes nothing back to x (it only rescales).
    #[test]
    fn by_hand() {
        let device = Device::flex();
        let mut ln = LayerNormConfig::new(2).init(&device);
        ln.gamma = Param::from_tensor(Tensor::ones([2], &device));
        ln.beta = Some(Param::from_tensor(Tensor::zeros([2], &device)));
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 3.0], [1, 2]), &device);
        let y = crate::model::to_vec(layer_norm(&ln, x));
        let want = 1.0 / (1.0f32 + EPSILON).sqrt();
        assert!(
            (y[0] + want).abs() < 1e-6 && (y[1] - want).abs() < 1e-6,
            "{y:?}"
        );

        let s = Saved {
            xhat: vec![-want, want],
            rstd: vec![want],
            gamma: from_f32(vec![1.0, 1.0], Shape::new([2])),
            shape: Shape::new([1, 2]),
        };
        let [dx, dg, db] = backward(&s, &from_f32(vec![-1.0, 1.0], Shape::new([1, 2])));
        let (dx, dg, db) = (
            dx.as_slice::<f32>().unwrap().to_vec(),
            dg.as_slice::<f32>().unwrap().to_vec(),
            db.as_slice::<f32>().unwrap().to_vec(),
        );
        // g·γ = [-1, 1]: mean 0, mean(g·γ·x̂) = want, so ∂x = want · (g − x̂ · want) ≈ 0.
        assert!(dx.iter().all(|v| v.abs() < 1e-4), "{dx:?}");
        assert!(
            (dg[0] - want).abs() < 1e-6 && (dg[1] - want).abs() < 1e-6,
            "{dg:?}"
        );
        assert_eq!(db, vec![-1.0, 1.0]);
    }
}
