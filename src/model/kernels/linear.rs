//! Dense layers (`x · W + b`) on the CPU backend (flex), each product one `gemm` call into a
//! buffer of its own.
//!
//! Flex allocates every matrix product's output through `FlexTensor::empty`, which zeroes a
//! byte vector and then copies it into a 16-byte-aligned buffer (`Bytes::from_bytes_vec`): a
//! `memset` and a `memcpy` of the whole output before the product writes it, about 8% of a
//! pretraining step's profile; the bias is then added in another pass. Here the forward
//! writes `b` into each output row and lets `gemm` accumulate `x · W` onto it; the backward
//! calls `gemm` on the saved operands in place, reading `Wᵀ` and `xᵀ` through strides:
//!
//! `∂x = g · Wᵀ`, `∂W = xᵀ · g`, `∂b = Σ_rows g`.
//!
//! A frozen weight stored in bf16 or f16 (`model.dtype`) is multiplied by `half_gemm`, which
//! widens it a panel at a time; its layer never has a weight gradient.
//!
//! Other backends, and layers whose weight is not `[d_in, d_out]`, keep `Linear::forward`. A
//! layer's LoRA adapter adds its term on top either way.

use crate::model::lora::Linear;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Shape, Tensor, TensorData};

use super::flex::{contiguous_f32, from_f32, on_flex_f32};
use super::half_gemm::gemm_half;
use burn::tensor::DType;
use half::{bf16, f16};

/// `layer(x)`: this file's kernel on flex, `Linear::forward` elsewhere.
pub fn linear<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    let w = layer.weight.val();
    if !on_flex_f32(&x) || w.dims()[0] != x.dims()[D - 1] {
        return layer.forward(x);
    }
    let input = layer.lora.is_some().then(|| x.clone());
    let (x, w) = (x.into_dispatch(), w.into_dispatch());
    let y = Tensor::from_dispatch(match &layer.bias {
        Some(b) => <Dispatch as FlexLinear>::flex_linear(x, w, b.val().into_dispatch()),
        None => <Dispatch as FlexLinear>::flex_linear_no_bias(x, w),
    });
    match input {
        Some(x) => layer.plus_adapter(x, y),
        None => y,
    }
}

#[backend_extension(Flex, Autodiff)]
pub trait FlexLinear: Backend {
    fn flex_linear(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    fn flex_linear_no_bias(x: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl FlexLinear for Flex {
    fn flex_linear(x: FlexTensor, w: FlexTensor, b: FlexTensor) -> FlexTensor {
        forward(&contiguous_f32(&x), &dense_weight(&w), Some(&b))
    }

    fn flex_linear_no_bias(x: FlexTensor, w: FlexTensor) -> FlexTensor {
        forward(&contiguous_f32(&x), &dense_weight(&w), None)
    }
}

/// The operands the backward reads (dense, row-major).
#[derive(Clone, Debug)]
struct Saved {
    x: FlexTensor,
    w: FlexTensor,
}

#[derive(Debug)]
struct WithBias;

#[derive(Debug)]
struct NoBias;

impl Backward<Flex, 3> for WithBias {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [x, w, b] = ops.parents.each_ref().map(|p| p.as_ref().map(|n| n.id));
        let grad = register(grads, &ops, x, w);
        if let Some(id) = b {
            grads.register::<Flex>(id, bias_grad(&grad));
        }
    }
}

impl Backward<Flex, 2> for NoBias {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [x, w] = ops.parents.each_ref().map(|p| p.as_ref().map(|n| n.id));
        register(grads, &ops, x, w);
    }
}

type Parent = Option<burn::backend::autodiff::NodeId>;

/// Takes the output's gradient, registers `∂x` and `∂W` for the parents that want them, and
/// returns the gradient (for `∂b`).
fn register<const N: usize>(
    grads: &mut Gradients,
    ops: &Ops<Saved, N>,
    x: Parent,
    w: Parent,
) -> FlexTensor {
    let grad = contiguous_f32(&grads.consume::<Flex>(&ops.node));
    if let Some(id) = x {
        grads.register::<Flex>(id, input_grad(&ops.state, &grad));
    }
    if let Some(id) = w {
        grads.register::<Flex>(id, weight_grad(&ops.state, &grad));
    }
    grad
}

impl<C: CheckpointStrategy> FlexLinear for Autodiff<Flex, C> {
    fn flex_linear(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let s = saved(x.primitive(), w.primitive());
        let y = forward(&s.x, &s.w, Some(b.primitive()));
        match WithBias
            .prepare::<C>([x.node(), w.node(), b.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(s, y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn flex_linear_no_bias(x: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        let s = saved(x.primitive(), w.primitive());
        let y = forward(&s.x, &s.w, None);
        match NoBias
            .prepare::<C>([x.node(), w.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(s, y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}

/// The operands, dense: what the forward multiplies and, when tracked, the backward keeps.
fn saved(x: &FlexTensor, w: &FlexTensor) -> Saved {
    Saved {
        x: contiguous_f32(x),
        w: dense_weight(w),
    }
}

/// The weight dense in row-major order, in its own dtype (f32, or a frozen bf16/f16 base).
fn dense_weight(w: &FlexTensor) -> FlexTensor {
    match w.dtype() {
        DType::BF16 | DType::F16 if w.layout().contiguous_offsets().is_some() => w.clone(),
        DType::BF16 | DType::F16 => w.to_contiguous(),
        _ => contiguous_f32(w),
    }
}

/// `dst (+)= lhs · op(W)` for a weight of any of the three dtypes: `W` `[d_in, d_out]`, and
/// `op(W)` `Wᵀ` when `transposed`; `lhs` dense `[m, k]`.
fn product(dst: &mut [f32], m: usize, lhs: &[f32], w: &FlexTensor, transposed: bool, acc: bool) {
    let ws = w.layout().shape();
    let (d_in, d_out) = (ws[0], ws[1]);
    let k = if transposed { d_out } else { d_in };
    match w.dtype() {
        DType::BF16 => gemm_half(
            dst,
            m,
            lhs,
            (k, 1),
            w.as_slice::<bf16>().expect("dense bf16"),
            (d_in, d_out),
            transposed,
            acc,
        ),
        DType::F16 => gemm_half(
            dst,
            m,
            lhs,
            (k, 1),
            w.as_slice::<f16>().expect("dense f16"),
            (d_in, d_out),
            transposed,
            acc,
        ),
        _ if transposed => gemm_into(
            dst,
            (m, d_in, d_out),
            lhs,
            (d_out, 1),
            f32s(w),
            (1, d_out),
            acc,
        ),
        _ => gemm_into(
            dst,
            (m, d_out, d_in),
            lhs,
            (d_in, 1),
            f32s(w),
            (d_out, 1),
            acc,
        ),
    }
}

fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32")
}

/// `x` viewed as `[rows, d_in]`, and `d_in`, `d_out` from `W`.
fn sizes(x: &FlexTensor, w: &FlexTensor) -> (usize, usize, usize) {
    let ws = w.layout().shape();
    let (d_in, d_out) = (ws[0], ws[1]);
    (x.layout().shape().num_elements() / d_in, d_in, d_out)
}

/// `dst[m × n] (+)= lhs · rhs` over `k`, row-major `dst`; `(rs, cs)` are each operand's row and
/// column strides in elements.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_into(
    dst: &mut [f32],
    (m, n, k): (usize, usize, usize),
    lhs: &[f32],
    (lrs, lcs): (usize, usize),
    rhs: &[f32],
    (rrs, rcs): (usize, usize),
    accumulate: bool,
) {
    assert!(dst.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k > 0 {
        assert!(lhs.len() > (m - 1) * lrs + (k - 1) * lcs);
        assert!(rhs.len() > (k - 1) * rrs + (n - 1) * rcs);
    }
    // SAFETY: the asserts above keep every element gemm reads or writes inside the slices,
    // and `dst` does not alias the operands (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lcs as isize,
            lrs as isize,
            rhs.as_ptr(),
            rcs as isize,
            rrs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism(m * n * k),
        );
    }
}

/// Large products spread over the current rayon pool (a shard's pool has one thread).
fn parallelism(ops: usize) -> gemm::Parallelism {
    if ops >= 192 * 192 * 192 && rayon::current_num_threads() > 1 {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    }
}

/// `x · W (+ b)`, shaped as `x` with its last axis `d_out`.
fn forward(x: &FlexTensor, w: &FlexTensor, b: Option<&FlexTensor>) -> FlexTensor {
    let (rows, _, d_out) = sizes(x, w);
    let mut out = match b {
        Some(b) => {
            let b = contiguous_f32(b);
            let b = f32s(&b);
            let mut out = Vec::with_capacity(rows * d_out);
            for _ in 0..rows {
                out.extend_from_slice(b);
            }
            out
        }
        None => vec![0.0f32; rows * d_out],
    };
    product(&mut out, rows, f32s(x), w, false, b.is_some());
    let mut dims = x.layout().shape().clone();
    let last = dims.num_dims() - 1;
    dims[last] = d_out;
    from_f32(out, dims)
}

/// `∂x = g · Wᵀ`.
fn input_grad(s: &Saved, g: &FlexTensor) -> FlexTensor {
    let (rows, d_in, _) = sizes(&s.x, &s.w);
    let mut dx = vec![0.0f32; rows * d_in];
    product(&mut dx, rows, f32s(g), &s.w, true, false);
    from_f32(dx, s.x.layout().shape().clone())
}

/// `∂W = xᵀ · g` (in the weight's dtype).
fn weight_grad(s: &Saved, g: &FlexTensor) -> FlexTensor {
    let (rows, d_in, d_out) = sizes(&s.x, &s.w);
    let mut dw = vec![0.0f32; d_in * d_out];
    gemm_into(
        &mut dw,
        (d_in, d_out, rows),
        f32s(&s.x),
        (1, d_in),
        f32s(g),
        (d_out, 1),
        false,
    );
    let shape = Shape::new([d_in, d_out]);
    match s.w.dtype() {
        DType::BF16 => FlexTensor::from_data(TensorData::new(
            dw.into_iter().map(bf16::from_f32).collect::<Vec<_>>(),
            shape,
        )),
        DType::F16 => FlexTensor::from_data(TensorData::new(
            dw.into_iter().map(f16::from_f32).collect::<Vec<_>>(),
            shape,
        )),
        _ => from_f32(dw, shape),
    }
}

/// `∂b = Σ_rows g`.
fn bias_grad(g: &FlexTensor) -> FlexTensor {
    let dims = g.layout().shape();
    let d_out = dims[dims.num_dims() - 1];
    let mut db = vec![0.0f32; d_out];
    for row in f32s(g).chunks_exact(d_out) {
        for (d, &v) in db.iter_mut().zip(row) {
            *d += v;
        }
    }
    from_f32(db, Shape::new([d_out]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::flex::assert_close;
    use burn::module::Param;
    use burn::nn::LinearConfig;
    use burn::tensor::{Device, TensorData};

    fn layer(bias: bool, device: &Device) -> Linear {
        let mut l: Linear = LinearConfig::new(5, 3).with_bias(bias).init(device).into();
        let w: Vec<f32> = (0..15).map(|i| ((i * 7) % 11) as f32 * 0.2 - 1.0).collect();
        l.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [5, 3]), device));
        if bias {
            let b = TensorData::new(vec![0.5f32, -0.25, 1.0], [3]);
            l.bias = Some(Param::from_tensor(Tensor::from_data(b, device)));
        }
        l
    }

    fn input(device: &Device) -> Tensor<3> {
        let v: Vec<f32> = (0..2 * 4 * 5)
            .map(|i| ((i * 13) % 17) as f32 * 0.25 - 2.0)
            .collect();
        Tensor::from_data(TensorData::new(v, [2, 4, 5]), device)
    }

    /// Values and the gradients of `x`, `W` and `b` equal Burn's `Linear::forward`'s, with and
    /// without a bias, for a contiguous input and for a transposed (strided) one.
    #[test]
    fn kernel_matches_burn() {
        let device = Device::flex().autodiff();
        for bias in [true, false] {
            for strided in [false, true] {
                let run = |fused: bool| {
                    let l = layer(bias, &device);
                    // Strided: a [4, 2, 5] leaf seen through a transpose as [2, 4, 5].
                    let x = if strided {
                        input(&device).reshape([4, 2, 5]).require_grad()
                    } else {
                        input(&device).require_grad()
                    };
                    let xin = if strided {
                        x.clone().swap_dims(0, 1)
                    } else {
                        x.clone()
                    };
                    let y = if fused {
                        linear(&l, xin)
                    } else {
                        l.forward(xin)
                    };
                    let w = Tensor::<3>::from_data(
                        TensorData::new(
                            (0..24)
                                .map(|i| (i as f32 * 0.37).sin())
                                .collect::<Vec<f32>>(),
                            [2, 4, 3],
                        ),
                        &device,
                    );
                    let grads = (y.clone() * w).sum().backward();
                    use crate::model::to_vec as v;
                    (
                        v(y),
                        v(x.grad(&grads).expect("x")),
                        v(l.weight.val().grad(&grads).expect("W")),
                        l.bias
                            .as_ref()
                            .map(|b| v(b.val().grad(&grads).expect("b")))
                            .unwrap_or_default(),
                    )
                };
                let (ours, theirs) = (run(true), run(false));
                let close = |a: &[f32], b: &[f32], what: &str| {
                    assert_close(
                        a,
                        b,
                        1e-5,
                        &format!("{what} (bias {bias}, strided {strided})"),
                    )
                };
                close(&ours.0, &theirs.0, "value");
                close(&ours.1, &theirs.1, "grad x");
                close(&ours.2, &theirs.2, "grad W");
                close(&ours.3, &theirs.3, "grad b");
            }
        }
    }

    /// With a LoRA adapter on a frozen base: the value and the gradients of `x`, `A` and `B`
    /// equal the composed path's, and the base gets none.
    #[test]
    fn adapter_on_the_kernel_matches_burn() {
        use crate::model::lora::LoraSpec;
        let device = Device::flex().autodiff();
        let spec = LoraSpec {
            rank: 2,
            alpha: 4.0,
            targets: vec!["q".into()],
            rslora: false,
        };
        let run = |fused: bool| {
            device.seed(7);
            let mut l = layer(true, &device).adapted(&spec, &device);
            // A nonzero B, so every gradient is nonzero.
            let b: Vec<f32> = (0..6).map(|i| (i as f32 * 0.9).cos()).collect();
            l.lora.as_mut().unwrap().b =
                Param::from_tensor(Tensor::from_data(TensorData::new(b, [2, 3]), &device));
            let x = input(&device).require_grad();
            let y = if fused {
                linear(&l, x.clone())
            } else {
                l.forward(x.clone())
            };
            let grads = (y.clone() * y.clone()).sum().backward();
            use crate::model::to_vec as v;
            let a = l.lora.as_ref().unwrap();
            assert!(l.weight.val().grad(&grads).is_none());
            (
                v(y),
                v(x.grad(&grads).expect("x")),
                v(a.a.val().grad(&grads).expect("A")),
                v(a.b.val().grad(&grads).expect("B")),
            )
        };
        let (ours, theirs) = (run(true), run(false));
        assert_close(&ours.0, &theirs.0, 1e-5, "value");
        assert_close(&ours.1, &theirs.1, 1e-4, "grad x");
        assert_close(&ours.2, &theirs.2, 1e-4, "grad A");
        assert_close(&ours.3, &theirs.3, 1e-4, "grad B");
    }

    /// By hand: x = [[1, 2]], W = [[1, 0, 2], [0, 1, 3]], b = [1, 1, 1] give [[2, 3, 9]]; with
    /// gradient [[1, 0, 1]], ∂x = [[3, 3]], ∂W = [[1, 0, 1], [2, 0, 2]], ∂b = [1, 0, 1].
    #[test]
    fn by_hand() {
        let x = from_f32(vec![1.0, 2.0], Shape::new([1, 2]));
        let w = from_f32(vec![1.0, 0.0, 2.0, 0.0, 1.0, 3.0], Shape::new([2, 3]));
        let b = from_f32(vec![1.0; 3], Shape::new([3]));
        let y = forward(&x, &w, Some(&b));
        assert_eq!(f32s(&y), &[2.0, 3.0, 9.0]);
        let s = Saved { x, w };
        let g = from_f32(vec![1.0, 0.0, 1.0], Shape::new([1, 3]));
        assert_eq!(f32s(&input_grad(&s, &g)), &[3.0, 3.0]);
        assert_eq!(f32s(&weight_grad(&s, &g)), &[1.0, 0.0, 1.0, 2.0, 0.0, 2.0]);
        assert_eq!(f32s(&bias_grad(&g)), &[1.0, 0.0, 1.0]);
    }
}
