//! `log p(target)` of every position straight from the last hidden states and the head's
//! weight, a block of rows at a time, on the CPU backend (flex): the `[N, L, V]` logits are
//! never held whole, forward or backward (Unsloth's chunked cross-entropy; what lets a
//! 49k–152k vocabulary train on a small machine).
//!
//! Forward: for each block of `c` rows, `Z = H_c · W` (one `gemm` into a `c × V` buffer),
//! then each row's log-sum-exp and its target's logit. Backward, per block: `Z` again, then
//! `G = g · (onehot(target) − softmax(Z))` in place, `∂H_c = G · Wᵀ` and, when the head is
//! trained, `∂W += H_cᵀ · G`. Only `H`, the head and one log-sum-exp per row are kept; the
//! price is the head's product computed twice.
//!
//! The head is `[D, V]` (an `lm_head`, Burn's layout) or `[V, D]` (tied to the embedding).
//! Other backends compose `H · W`, then [`super::token_logprobs`].

use std::sync::Arc;

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Shape, Tensor};

use super::flex::{contiguous_f32, from_f32, on_flex_f32};
use super::linear::gemm_into;
use super::token_logprobs::{logprob_backward_rows, logprob_rows, token_logprobs};

/// Logits held at once: a block of rows × the vocabulary, about 16 MB.
pub const BLOCK_LOGITS: usize = 1 << 22;

/// `log_softmax(H · W)` gathered at `targets` (`[N, L]` row-major): `[N, L]` log-probs.
/// `hidden` `[N, L, D]`; `w` `[D, V]`, or `[V, D]` when `tied`.
pub fn head_logprobs(hidden: Tensor<3>, w: Tensor<2>, tied: bool, targets: &[u32]) -> Tensor<2> {
    let [n, l, d] = hidden.dims();
    assert_eq!(targets.len(), n * l, "one target per position");
    assert_eq!(w.dims()[tied as usize], d, "the head's input width");
    if on_flex_f32(&hidden) && on_flex_f32(&w) {
        return Tensor::from_dispatch(<Dispatch as HeadLogprobs>::head_logprobs(
            hidden.into_dispatch(),
            w.into_dispatch(),
            tied,
            targets.to_vec(),
        ));
    }
    let logits = if tied {
        hidden.matmul(w.transpose().unsqueeze::<3>())
    } else {
        hidden.matmul(w.unsqueeze::<3>())
    };
    token_logprobs(logits, targets)
}

#[backend_extension(Flex, Autodiff)]
pub trait HeadLogprobs: Backend {
    fn head_logprobs(
        hidden: FloatTensor<Self>,
        w: FloatTensor<Self>,
        tied: bool,
        targets: Vec<u32>,
    ) -> FloatTensor<Self>;
}

impl HeadLogprobs for Flex {
    fn head_logprobs(h: FlexTensor, w: FlexTensor, tied: bool, targets: Vec<u32>) -> FlexTensor {
        let head = Head::new(&contiguous_f32(&h), &contiguous_f32(&w), tied);
        forward(&head, &targets).0
    }
}

/// The operands, dense, and the head's orientation.
#[derive(Clone, Debug)]
struct Head {
    h: FlexTensor,
    w: FlexTensor,
    tied: bool,
    rows: usize,
    d: usize,
    v: usize,
    /// Rows of a block.
    block: usize,
}

impl Head {
    fn new(h: &FlexTensor, w: &FlexTensor, tied: bool) -> Self {
        let hd = h.layout().shape();
        let d = hd[hd.num_dims() - 1];
        let wd = w.layout().shape();
        let rows = hd.num_elements() / d.max(1);
        let v = if tied { wd[0] } else { wd[1] };
        Head {
            h: h.clone(),
            w: w.clone(),
            tied,
            rows,
            d,
            v,
            block: (BLOCK_LOGITS / v.max(1)).clamp(1, rows.max(1)),
        }
    }

    fn hs(&self) -> &[f32] {
        self.h.as_slice::<f32>().expect("contiguous f32")
    }

    fn ws(&self) -> &[f32] {
        self.w.as_slice::<f32>().expect("contiguous f32")
    }

    /// `W` as the `[D, V]` right operand: its (row, column) strides.
    fn w_strides(&self) -> (usize, usize) {
        if self.tied { (1, self.d) } else { (self.v, 1) }
    }

    /// `z = H[r0..r0 + c] · W`, `c × V`.
    fn logits(&self, r0: usize, c: usize, z: &mut [f32]) {
        let (d, v) = (self.d, self.v);
        gemm_into(
            &mut z[..c * v],
            (c, v, d),
            &self.hs()[r0 * d..(r0 + c) * d],
            (d, 1),
            self.ws(),
            self.w_strides(),
            false,
        );
    }
}

#[derive(Clone, Debug)]
struct Saved {
    head: Head,
    lse: Arc<Vec<f32>>,
    targets: Arc<Vec<u32>>,
}

/// The `[N, L]` log-probs and each row's log-sum-exp.
fn forward(head: &Head, targets: &[u32]) -> (FlexTensor, Vec<f32>) {
    let (rows, v) = (head.rows, head.v);
    let block = head.block;
    let mut out = vec![0.0f32; rows];
    let mut lses = vec![0.0f32; rows];
    let mut z = vec![0.0f32; block * v];
    let mut exps = vec![0.0f32; v];
    for r0 in (0..rows).step_by(block) {
        let c = block.min(rows - r0);
        head.logits(r0, c, &mut z);
        logprob_rows(
            &z[..c * v],
            &targets[r0..r0 + c],
            &mut out[r0..r0 + c],
            &mut lses[r0..r0 + c],
            &mut exps,
            v,
        );
    }
    let dims = head.h.layout().shape();
    let shape = Shape::new([dims[0], dims[1]]);
    (from_f32(out, shape), lses)
}

/// `∂H` (shaped as `H`) and, when `want_w`, `∂W` (shaped as `W`) of `Σ g · log p`.
fn backward(s: &Saved, g: &[f32], want_w: bool) -> (FlexTensor, Option<FlexTensor>) {
    let head = &s.head;
    let (rows, d, v) = (head.rows, head.d, head.v);
    let block = head.block;
    let mut dh = vec![0.0f32; rows * d];
    let mut dw = want_w.then(|| vec![0.0f32; d * v]);
    let mut z = vec![0.0f32; block * v];
    let mut gz = vec![0.0f32; block * v];
    // Wᵀ as the `[V, D]` right operand of ∂H = G · Wᵀ.
    let wt = if head.tied { (d, 1) } else { (1, v) };
    for r0 in (0..rows).step_by(block) {
        let c = block.min(rows - r0);
        head.logits(r0, c, &mut z);
        logprob_backward_rows(
            &z[..c * v],
            &g[r0..r0 + c],
            &s.lse[r0..r0 + c],
            &s.targets[r0..r0 + c],
            &mut gz[..c * v],
            v,
        );
        gemm_into(
            &mut dh[r0 * d..(r0 + c) * d],
            (c, d, v),
            &gz[..c * v],
            (v, 1),
            head.ws(),
            wt,
            false,
        );
        if let Some(dw) = dw.as_mut() {
            let hc = &head.hs()[r0 * d..(r0 + c) * d];
            if head.tied {
                // ∂W [V, D] += Gᵀ · H_c.
                gemm_into(dw, (v, d, c), &gz[..c * v], (1, v), hc, (d, 1), true);
            } else {
                // ∂W [D, V] += H_cᵀ · G.
                gemm_into(dw, (d, v, c), hc, (1, d), &gz[..c * v], (v, 1), true);
            }
        }
    }
    let dh = from_f32(dh, head.h.layout().shape().clone());
    let dw = dw.map(|dw| from_f32(dw, head.w.layout().shape().clone()));
    (dh, dw)
}

#[derive(Debug)]
struct HeadBackward;

impl Backward<Flex, 2> for HeadBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [h, w] = ops.parents.each_ref().map(|p| p.as_ref().map(|n| n.id));
        let grad = contiguous_f32(&grads.consume::<Flex>(&ops.node));
        let g = grad.as_slice::<f32>().expect("contiguous f32 gradient");
        let (dh, dw) = backward(&ops.state, g, w.is_some());
        if let Some(id) = h {
            grads.register::<Flex>(id, dh);
        }
        if let (Some(id), Some(dw)) = (w, dw) {
            grads.register::<Flex>(id, dw);
        }
    }
}

impl<C: CheckpointStrategy> HeadLogprobs for Autodiff<Flex, C> {
    fn head_logprobs(
        hidden: FloatTensor<Self>,
        w: FloatTensor<Self>,
        tied: bool,
        targets: Vec<u32>,
    ) -> FloatTensor<Self> {
        let head = Head::new(
            &contiguous_f32(hidden.primitive()),
            &contiguous_f32(w.primitive()),
            tied,
        );
        let (out, lse) = forward(&head, &targets);
        match HeadBackward
            .prepare::<C>([hidden.node(), w.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(
                Saved {
                    head,
                    lse: Arc::new(lse),
                    targets: Arc::new(targets),
                },
                out,
            ),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::flex::assert_close;
    use burn::tensor::{Device, TensorData};

    const N: usize = 2;
    const L: usize = 3;
    const D: usize = 4;
    const V: usize = 9;

    fn hidden(device: &Device) -> Tensor<3> {
        let v: Vec<f32> = (0..N * L * D)
            .map(|i| ((i * 13) % 11) as f32 * 0.3 - 1.5)
            .collect();
        Tensor::from_data(TensorData::new(v, [N, L, D]), device)
    }

    fn weight(tied: bool, device: &Device) -> Tensor<2> {
        let v: Vec<f32> = (0..D * V)
            .map(|i| ((i * 7) % 17) as f32 * 0.2 - 1.6)
            .collect();
        let shape = if tied { [V, D] } else { [D, V] };
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    /// Values and the gradients of `H` and `W` equal the composition (`H · W`, log-softmax,
    /// gather), for both orientations of the head, with blocks of one row and of all rows.
    #[test]
    fn kernel_matches_the_composition() {
        let device = Device::flex().autodiff();
        let targets: Vec<u32> = (0..N * L).map(|i| ((i * 5) % V) as u32).collect();
        for tied in [false, true] {
            let run = |fused: bool| {
                let h = hidden(&device).require_grad();
                let w = weight(tied, &device).require_grad();
                let lp = if fused {
                    head_logprobs(h.clone(), w.clone(), tied, &targets)
                } else {
                    let logits = if tied {
                        h.clone().matmul(w.clone().transpose().unsqueeze::<3>())
                    } else {
                        h.clone().matmul(w.clone().unsqueeze::<3>())
                    };
                    let idx = crate::model::int_tensor(&targets, N, L, &device).unsqueeze_dim(2);
                    burn::tensor::activation::log_softmax(logits, 2)
                        .gather(2, idx)
                        .squeeze_dim(2)
                };
                let g = Tensor::<2>::from_data(
                    TensorData::new(
                        (0..N * L)
                            .map(|i| i as f32 * 0.4 - 1.0)
                            .collect::<Vec<f32>>(),
                        [N, L],
                    ),
                    &device,
                );
                let grads = (lp.clone() * g).sum().backward();
                use crate::model::to_vec as v;
                (
                    v(lp),
                    v(h.grad(&grads).expect("H")),
                    v(w.grad(&grads).expect("W")),
                )
            };
            let (ours, theirs) = (run(true), run(false));
            assert_close(&ours.0, &theirs.0, 1e-5, &format!("value (tied {tied})"));
            assert_close(&ours.1, &theirs.1, 1e-5, &format!("grad H (tied {tied})"));
            assert_close(&ours.2, &theirs.2, 1e-5, &format!("grad W (tied {tied})"));
        }
    }

    /// Blocks of one row give the same values and gradients as one block of all rows.
    #[test]
    fn blocks_do_not_change_the_result() {
        let targets: Vec<u32> = (0..N * L).map(|i| ((i * 2) % V) as u32).collect();
        let h: Vec<f32> = (0..N * L * D).map(|i| (i as f32 * 0.7).sin()).collect();
        let w: Vec<f32> = (0..V * D).map(|i| (i as f32 * 0.3).cos()).collect();
        let g: Vec<f32> = (0..N * L).map(|i| 1.0 - i as f32 * 0.3).collect();
        for tied in [false, true] {
            let wshape = if tied { [V, D] } else { [D, V] };
            let head = Head::new(
                &from_f32(h.clone(), Shape::new([N, L, D])),
                &from_f32(w.clone(), Shape::new(wshape)),
                tied,
            );
            let run = |block: usize| {
                let head = Head {
                    block,
                    ..head.clone()
                };
                let (out, lse) = forward(&head, &targets);
                let s = Saved {
                    head,
                    lse: Arc::new(lse),
                    targets: Arc::new(targets.clone()),
                };
                let (dh, dw) = backward(&s, &g, true);
                let f = |t: &FlexTensor| t.as_slice::<f32>().unwrap().to_vec();
                (f(&out), f(&dh), f(&dw.unwrap()))
            };
            let (one, all) = (run(1), run(N * L));
            assert_close(&one.0, &all.0, 1e-6, "value");
            assert_close(&one.1, &all.1, 1e-6, "grad H");
            assert_close(&one.2, &all.2, 1e-5, "grad W");
        }
    }

    /// By hand: H = [[1, 0]], W = [[0, ln 3], [5, 5]] ([D = 2, V = 2]) give logits [0, ln 3] and
    /// log-probs [ln ¼, ln ¾]; with gradient 1 at target 1, ∂logits = [−¼, ¼], ∂H = ∂logits ·
    /// Wᵀ = [¼ ln 3, 0], ∂W = Hᵀ · ∂logits = [[−¼, ¼], [0, 0]].
    #[test]
    fn by_hand() {
        let device = Device::flex().autodiff();
        let h = Tensor::<3>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 1, 2]), &device)
            .require_grad();
        let w = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 3f32.ln(), 5.0, 5.0], [2, 2]),
            &device,
        )
        .require_grad();
        let lp = head_logprobs(h.clone(), w.clone(), false, &[1]);
        let val = crate::model::to_vec(lp.clone())[0];
        assert!((val - 0.75f32.ln()).abs() < 1e-6, "{val}");
        let grads = lp.sum().backward();
        let dh = crate::model::to_vec(h.grad(&grads).unwrap());
        let dw = crate::model::to_vec(w.grad(&grads).unwrap());
        let ln3 = 3f32.ln();
        assert_close(&dh, &[0.25 * ln3, 0.0], 1e-6, "∂H");
        assert_close(&dw, &[-0.25, 0.25, 0.0, 0.0], 1e-6, "∂W");
    }
}
