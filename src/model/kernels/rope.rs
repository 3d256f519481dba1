//! Rotary embeddings on the CPU backend (flex) in one pass each way.
//!
//! Composed from tensor ops, `x · cos + rotate_half(x) · sin` costs two slices, a negation, a
//! concatenation, two broadcast products and a sum forward, and about as many again backward,
//! each a pass over `[B, H, T, d_head]`: rotary tables cost about 13% of a training step
//! (`docs/method.md`). This kernel reads `x` once, in whatever strides the head split left it,
//! and writes the rotated rows. Its backward is the same rotation by the opposite angle. Other
//! backends keep the composed form (`Rope::apply`).

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::Tensor;

use super::flex::{contiguous_f32, from_f32, on_flex_f32, one_input_op, wide_fn};

/// Whether `rotate` runs this file's kernel for `x` (f32 on flex) rather than the composition.
pub fn applies(x: &Tensor<4>) -> bool {
    on_flex_f32(x)
}

/// `x · cos + rotate_half(x) · sin` for `x` of `[B, H, T, d]` and tables of `[B, 1, T, d]`
/// (each frequency twice), where `rotate_half([x1, x2]) = [−x2, x1]`. Only where [`applies`].
pub fn rotate(x: Tensor<4>, cos: Tensor<4>, sin: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as RopeKernel>::rope_rotate(
        x.into_dispatch(),
        cos.into_dispatch(),
        sin.into_dispatch(),
    ))
}

#[backend_extension(Flex, Autodiff)]
pub trait RopeKernel: Backend {
    fn rope_rotate(
        x: FloatTensor<Self>,
        cos: FloatTensor<Self>,
        sin: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

impl RopeKernel for Flex {
    fn rope_rotate(x: FlexTensor, cos: FlexTensor, sin: FlexTensor) -> FlexTensor {
        kernel(&x, &cos, &sin, 1.0)
    }
}

impl<C: CheckpointStrategy> RopeKernel for Autodiff<Flex, C> {
    fn rope_rotate(
        x: FloatTensor<Self>,
        cos: FloatTensor<Self>,
        sin: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (cos, sin) = (cos.into_primitive(), sin.into_primitive());
        // The rotation is orthogonal: its transpose turns by the opposite angle.
        one_input_op::<C, _>(
            x,
            |x| (kernel(x, &cos, &sin, 1.0), (cos.clone(), sin.clone())),
            |(cos, sin), grad| kernel(&grad, &cos, &sin, -1.0),
        )
    }
}

/// Rotates every `d`-row of `x` (`[B, H, T, d]`, any strides) by the angles of `cos` and
/// `sign · sin` (`[B, 1, T, d]`); the result is contiguous.
fn kernel(x: &FlexTensor, cos: &FlexTensor, sin: &FlexTensor, sign: f32) -> FlexTensor {
    let dense = |t: &FlexTensor| {
        if t.layout().strides().last() == Some(&1) {
            t.clone()
        } else {
            t.to_contiguous()
        }
    };
    let (x, cos, sin) = (dense(x), contiguous_f32(cos), contiguous_f32(sin));
    let dims = x.layout().shape().clone();
    let [b, h, t, d] = [dims[0], dims[1], dims[2], dims[3]];
    let strides = x.layout().strides().to_vec();
    let offset = x.layout().start_offset() as isize;
    let (src, c, s) = (
        x.storage::<f32>(),
        cos.as_slice::<f32>().expect("contiguous f32 table"),
        sin.as_slice::<f32>().expect("contiguous f32 table"),
    );
    let mut out = vec![0.0f32; b * h * t * d];
    rotate_rows(src, c, s, &mut out, [b, h, t, d], &strides, offset, sign);
    from_f32(out, dims)
}

wide_fn! {
    /// Each `d`-row of `src` (at `offset` and `strides`) rotated into the dense `out`.
    fn rotate_rows(
        src: &[f32],
        c: &[f32],
        s: &[f32],
        out: &mut [f32],
        dims: [usize; 4],
        strides: &[isize],
        offset: isize,
        sign: f32,
    ) {
        let [b, h, t, d] = dims;
        let half = d / 2;
        let mut rows = out.chunks_exact_mut(d);
        for bi in 0..b {
            for hi in 0..h {
                for ti in 0..t {
                    let at = offset
                        + bi as isize * strides[0]
                        + hi as isize * strides[1]
                        + ti as isize * strides[2];
                    let row = &src[at as usize..at as usize + d];
                    let table = (bi * t + ti) * d;
                    let (c, s) = (&c[table..table + d], &s[table..table + d]);
                    let o = rows.next().expect("one output row per input row");
                    let (o1, o2) = o.split_at_mut(half);
                    let (x1, x2) = row.split_at(half);
                    let (c1, c2) = c.split_at(half);
                    let (s1, s2) = s.split_at(half);
                    for i in 0..half {
                        o1[i] = x1[i] * c1[i] - x2[i] * sign * s1[i];
                        o2[i] = x2[i] * c2[i] + x1[i] * sign * s2[i];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::attention::Rope;
    use crate::model::kernels::flex::{assert_close, values_and_grads};
    use burn::tensor::{Device, TensorData};

    fn input(device: &Device, strided: bool) -> Tensor<4> {
        let (b, h, t, d) = (2, 3, 5, 8);
        let v: Vec<f32> = (0..b * h * t * d)
            .map(|i| ((i * 37) % 23) as f32 * 0.1 - 1.1)
            .collect();
        if strided {
            // [B, T, H, d] swapped to [B, H, T, d]: the layout the head split leaves.
            Tensor::<4>::from_data(TensorData::new(v, [b, t, h, d]), device).swap_dims(1, 2)
        } else {
            Tensor::<4>::from_data(TensorData::new(v, [b, h, t, d]), device)
        }
    }

    /// Values and gradients equal the composed form's, contiguous or strided.
    #[test]
    fn kernel_matches_the_composition() {
        let device = Device::flex().autodiff();
        let positions: Vec<u32> = (0..10).map(|i| (i * 7) % 13).collect();
        for strided in [false, true] {
            let rope = Rope::new(&positions, 2, 5, 8, &device);
            let run = |fused: bool| {
                values_and_grads(
                    input(&device, strided),
                    |x| {
                        if fused {
                            rope.apply(x)
                        } else {
                            rope.apply_composed(x)
                        }
                    },
                    input(&device, false).exp(),
                )
            };
            let (ours, theirs) = (run(true), run(false));
            assert_close(&ours.0, &theirs.0, 1e-5, "value");
            assert_close(&ours.1, &theirs.1, 1e-5, "grad");
        }
    }

    /// The kernel is what `Rope::apply` runs on flex (a wrong sign would show).
    #[test]
    fn apply_uses_the_kernel_on_flex() {
        let device = Device::flex();
        let x = input(&device, false);
        assert!(applies(&x));
        let rope = Rope::new(&[3; 10], 2, 5, 8, &device);
        let a = crate::model::to_vec(rope.apply(x.clone()));
        let b = crate::model::to_vec(rope.apply_composed(x));
        assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-5));
    }
}
