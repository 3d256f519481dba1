//! Exact GELU on the CPU backend (flex) in one pass each way, with an `erf` that costs the same
//! for every input.
//!
//! Flex computes GELU and its derivative through `libm::erff`, whose branch for
//! `1.25 <= |x/√2| < 4` calls a software `expf` twice. Trained pre-activations fall there more
//! and more, and late in pretraining that branch took about a quarter of a training step's
//! profile. Here `erf` is Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7, so the
//! function is GELU to float precision), whose one `exp(-z²)` the derivative shares with the
//! normal density, and that `exp` is a branch-free polynomial, so both loops vectorise. Other
//! backends keep Burn's own GELU.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ActivationOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DType, Dispatch, Flex, backend_extension};
use burn::tensor::{Tensor, activation};

use super::flex::{contiguous_f32, from_f32, on_flex_f32, one_input_op, wide_fn};

/// `exp(x)` for `x <= 0`, within 2 ulp for `x >= -87` (about 1.6e-38 below, where `exp`
/// would underflow). Branch-free, so the kernels' loops vectorise; `f32::exp` is a scalar call.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two (Cody & Waite) so that `x - n ln 2` loses no bits.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2^23: adding it rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let f = (x - n * LN2_HI) - n * LN2_LO; // |f| <= ln 2 / 2
    // e^f by its Taylor series to f^7 (remainder below 5e-9 on |f| <= 0.347).
    let p = 1.0
        + f * (1.0
            + f * (0.5
                + f * (1.0 / 6.0
                    + f * (1.0 / 24.0
                        + f * (1.0 / 120.0 + f * (1.0 / 720.0 + f * (1.0 / 5040.0)))))));
    p * f32::from_bits(((ni + 127) << 23) as u32)
}

/// `erf(z)`, |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26), given `e = exp(-z²)`.
#[inline(always)]
fn erf_with(z: f32, e: f32) -> f32 {
    let a = z.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152 + t * 1.061_405_4))));
    (1.0 - poly * e).copysign(z)
}

/// `erf(z)` to within 1.5e-7.
pub fn erf(z: f32) -> f32 {
    erf_with(z, exp_nonpositive(-z * z))
}

/// `GELU(x) = x · Φ(x) = x/2 · (1 + erf(x/√2))`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    0.5 * x * (1.0 + erf_with(z, exp_nonpositive(-z * z)))
}

/// `dGELU/dx = Φ(x) + x · φ(x)`, with `φ(x) = exp(-x²/2) / √(2π)`: the `exp` of `erf(x/√2)`.
#[inline(always)]
pub fn gelu_derivative(x: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    let e = exp_nonpositive(-z * z);
    0.5 * (1.0 + erf_with(z, e)) + x * INV_SQRT_2PI * e
}

/// GELU of a float tensor: this file's kernel on flex, Burn's `gelu` elsewhere.
pub fn forward<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if on_flex_f32(&x) {
        Tensor::from_dispatch(<Dispatch as ErfGelu>::erf_gelu(x.into_dispatch()))
    } else {
        activation::gelu(x)
    }
}

#[backend_extension(Flex, Autodiff)]
pub trait ErfGelu: Backend {
    fn erf_gelu(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl ErfGelu for Flex {
    fn erf_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        flex_gelu(x)
    }
}

impl<C: CheckpointStrategy> ErfGelu for Autodiff<Flex, C> {
    fn erf_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        one_input_op::<C, _>(x, |x| (flex_gelu(x.clone()), x.clone()), flex_gelu_backward)
    }
}

fn f32_values(t: &FlexTensor) -> Option<&[f32]> {
    (t.dtype() == DType::F32)
        .then(|| t.as_slice::<f32>())
        .flatten()
}

fn flex_gelu(x: FlexTensor) -> FlexTensor {
    if x.dtype() != DType::F32 {
        return Flex::gelu(x);
    }
    let x = contiguous_f32(&x);
    let xs = f32_values(&x).unwrap();
    let mut out = vec![0.0f32; xs.len()];
    gelu_into(xs, &mut out);
    from_f32(out, x.layout().shape().clone())
}

fn flex_gelu_backward(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
    if x.dtype() != DType::F32 || grad.dtype() != DType::F32 {
        return Flex::gelu_backward(x, grad);
    }
    let (x, grad) = (contiguous_f32(&x), contiguous_f32(&grad));
    let (xs, gs) = (f32_values(&x).unwrap(), f32_values(&grad).unwrap());
    let mut out = vec![0.0f32; xs.len()];
    gelu_backward_into(xs, gs, &mut out);
    from_f32(out, x.layout().shape().clone())
}

wide_fn! {
    /// `out = GELU(x)`.
    fn gelu_into(x: &[f32], out: &mut [f32]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = gelu(v);
        }
    }
}

wide_fn! {
    /// `out = g · GELU′(x)`.
    fn gelu_backward_into(x: &[f32], g: &[f32], out: &mut [f32]) {
        for ((o, &v), &g) in out.iter_mut().zip(x).zip(g) {
            *o = g * gelu_derivative(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::flex::values_and_grads;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn exp_matches_the_library_exp() {
        for i in 0..=8700 {
            let x = -(i as f32) * 0.01;
            let (ours, lib) = (exp_nonpositive(x), x.exp());
            assert!(
                (ours - lib).abs() <= 2.5e-7 * lib,
                "exp({x}) = {ours}, library {lib}"
            );
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-1e4) < 2e-38 && exp_nonpositive(f32::NEG_INFINITY) >= 0.0);
    }

    #[test]
    fn erf_matches_tables() {
        // erf(0.5) = 0.5204999, erf(1) = 0.8427008, erf(2) = 0.9953223, erf(3) = 0.9999779
        // (Abramowitz & Stegun, table 7.1); odd.
        for (z, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (2.0, 0.995_322_3),
            (3.0, 0.999_977_9),
            (-1.0, -0.842_700_8),
        ] {
            assert!((erf(z) - want).abs() < 3e-7, "erf({z}) = {}", erf(z));
        }
    }

    #[test]
    fn gelu_and_its_derivative_by_hand() {
        // GELU(1) = Φ(1) = 0.8413447; GELU(-1) = -Φ(-1) = -0.1586553; GELU(2) = 2 Φ(2) = 1.9544997.
        // GELU'(1) = Φ(1) + φ(1) = 0.8413447 + 0.2419707 = 1.0833154;
        // GELU'(-1) = Φ(-1) - φ(-1) = 0.1586553 - 0.2419707 = -0.0833154; GELU'(0) = 0.5.
        for (x, v, d) in [
            (1.0, 0.841_344_7, 1.083_315_4),
            (-1.0, -0.158_655_3, -0.083_315_4),
            (2.0, 1.954_499_7, 1.085_231_8),
            (0.0, 0.0, 0.5),
        ] {
            assert!((gelu(x) - v).abs() < 3e-7, "gelu({x}) = {}", gelu(x));
            assert!(
                (gelu_derivative(x) - d).abs() < 3e-7,
                "gelu'({x}) = {}",
                gelu_derivative(x)
            );
        }
    }

    /// On flex, forward and gradient agree with Burn's GELU (libm `erff`) to float precision,
    /// over the range where `erff` changes branch.
    #[test]
    fn flex_kernel_matches_burns_gelu() {
        let xs: Vec<f32> = (-80..=80).map(|i| i as f32 * 0.1).collect();
        let n = xs.len();
        let device = Device::flex().autodiff();
        let run = |ours: bool| {
            values_and_grads(
                Tensor::<2>::from_data(TensorData::new(xs.clone(), [1, n]), &device),
                |x| {
                    if ours {
                        forward(x)
                    } else {
                        activation::gelu(x)
                    }
                },
                Tensor::<2>::from_data(
                    TensorData::new((0..n).map(|i| 1.0 + i as f32 * 0.01).collect(), [1, n]),
                    &device,
                ),
            )
        };
        let (ours, theirs) = (run(true), run(false));
        for i in 0..n {
            assert!((ours.0[i] - theirs.0[i]).abs() < 5e-7, "value at {}", xs[i]);
            assert!((ours.1[i] - theirs.1[i]).abs() < 2e-6, "grad at {}", xs[i]);
        }
    }

    /// A transposed (non-contiguous) input gives the same values as a contiguous one.
    #[test]
    fn strided_input() {
        let device = Device::flex();
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![-2.0f32, -0.5, 0.0, 0.5, 1.5, 3.0], [2, 3]),
            &device,
        );
        let a = crate::model::to_vec(forward(x.clone().transpose()));
        let b = crate::model::to_vec(activation::gelu(x.transpose()));
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 5e-7, "{a:?} {b:?}");
        }
    }

    /// The loops of `wide_fn!` (AVX2 on a CPU that has it) give the same bits as the scalar
    /// functions compiled as built.
    #[test]
    fn wide_loops_give_the_scalar_bits() {
        let xs: Vec<f32> = (0..1001).map(|i| (i as f32 - 500.0) * 0.0173).collect();
        let gs: Vec<f32> = (0..1001)
            .map(|i| ((i * 7) % 13) as f32 * 0.1 - 0.6)
            .collect();
        let (mut out, mut back) = (vec![0.0f32; xs.len()], vec![0.0f32; xs.len()]);
        gelu_into(&xs, &mut out);
        gelu_backward_into(&xs, &gs, &mut back);
        for i in 0..xs.len() {
            let x = std::hint::black_box(xs[i]);
            assert_eq!(out[i].to_bits(), gelu(x).to_bits(), "GELU at {x}");
            let want = gs[i] * gelu_derivative(x);
            assert_eq!(back[i].to_bits(), want.to_bits(), "GELU' at {x}");
        }
    }
}
