//! The CPU (flex backend) kernels: each op a forward and a backward written for Burn's flex
//! tensors, used when the tensors are flex f32 and falling back to Burn's composed ops
//! otherwise (wgpu, ndarray). `flex` holds what they share: the f32 views, the one-input op
//! wrapper, the AVX2 dispatch and the tests' closeness checks.

pub mod causal_softmax;
pub mod erf_gelu;
pub mod flex;
pub mod half_gemm;
pub mod head_logprobs;
pub mod layer_norm;
pub mod linear;
pub mod rope;
pub mod token_logprobs;
