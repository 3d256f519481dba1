//! What hytune's own kernels on the CPU backend (`erf_gelu`, `rope`, `causal_softmax`,
//! `layer_norm`, `linear`, `token_logprobs`) share: where they run, their f32
//! buffers, their loops' instruction set, and the autodiff node of an op of one input.

use std::fmt::Debug;

use burn::backend::Flex;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::tensor::{DType, Device, Shape, Tensor, TensorData};

/// Whether `x` is f32 on flex (with or without autodiff): where the kernels run instead of
/// Burn's composed ops.
pub fn on_flex_f32<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && x.device().without_autodiff() == Device::flex()
}

/// `t` (f32) with its values dense in row-major order: itself when it already is, else a copy.
pub fn contiguous_f32(t: &FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t.clone()
    } else {
        t.to_contiguous()
    }
}

/// A tensor of `shape` holding `values` in row-major order.
pub fn from_f32(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Defines `fn name(args) -> R` whose body runs compiled with AVX2 and FMA where the CPU has
/// them (checked once at run time), else as built. The crate is built for baseline x86-64, so
/// the kernels' element loops vectorise to SSE2's 4 lanes; with AVX2 they run 8 wide. LLVM
/// contracts no `a · b + c` into an FMA on its own, so the results are the same bits either
/// way. The body is an `#[inline(always)]` function called from the AVX2 one, so it is
/// compiled inside it; what it calls out of line (`collect`, `extend`) runs as built.
macro_rules! wide_fn {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if $crate::model::kernels::flex::has_avx2_fma() {
                    // SAFETY: the CPU has both features (checked at run time).
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use wide_fn;

/// Whether this CPU has AVX2 and FMA (the x86-64-v3 level of `wide_fn!`'s bodies).
#[cfg(target_arch = "x86_64")]
pub fn has_avx2_fma() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    })
}

/// The backward node of an op of one float input: `backward(state, grad)` is the input's
/// gradient.
#[derive(Debug)]
struct OneInput<S> {
    backward: fn(S, FlexTensor) -> FlexTensor,
}

impl<S: Clone + Send + Debug + 'static> Backward<Flex, 1> for OneInput<S> {
    type State = S;

    fn backward(self, ops: Ops<S, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = parent {
            grads.register::<Flex>(node.id, (self.backward)(ops.state, grad));
        }
    }
}

/// A differentiable op of one float input on flex: `forward` gives the output and the state
/// its gradient needs (kept only when `x` is tracked); `backward(state, grad)` gives the
/// input's gradient.
pub fn one_input_op<C: CheckpointStrategy, S: Clone + Send + Debug + 'static>(
    x: FloatTensor<Autodiff<Flex, C>>,
    forward: impl FnOnce(&FlexTensor) -> (FlexTensor, S),
    backward: fn(S, FlexTensor) -> FlexTensor,
) -> FloatTensor<Autodiff<Flex, C>> {
    match (OneInput { backward })
        .prepare::<C>([x.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, state) = forward(x.primitive());
            prep.finish(state, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(&x.into_primitive()).0),
    }
}

/// For the kernels' tests: the values of `op(x)` and the gradient of `Σ op(x) · weights`
/// with respect to `x`.
#[cfg(test)]
pub fn values_and_grads<const D: usize>(
    x: Tensor<D>,
    op: impl FnOnce(Tensor<D>) -> Tensor<D>,
    weights: Tensor<D>,
) -> (Vec<f32>, Vec<f32>) {
    let x = x.require_grad();
    let y = op(x.clone());
    let grads = (y.clone() * weights).sum().backward();
    (
        crate::model::to_vec(y),
        crate::model::to_vec(x.grad(&grads).expect("a gradient for x")),
    )
}

/// For the kernels' tests: `ours` and `theirs` agree element by element to within `tol`.
#[cfg(test)]
pub fn assert_close(ours: &[f32], theirs: &[f32], tol: f32, what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!((a - b).abs() < tol, "{what} {i}: {a} against {b}");
    }
}
