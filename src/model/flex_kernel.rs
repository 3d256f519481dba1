//! What hytune's own kernels on the CPU backend (`erf_gelu`, `rope_kernel`, `causal_softmax`)
//! share: where they run, their f32 buffers, and the autodiff node of an op of one input.

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
        super::to_vec(y),
        super::to_vec(x.grad(&grads).expect("a gradient for x")),
    )
}
