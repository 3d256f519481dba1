//! LoRA adapters, unmerged: `y = x·W₀ + b + s·(x·A)·B` with the base `W₀` frozen, as PEFT's
//! `tuners/lora/layer.py` computes it. The dense `W₀ + s·A·B` is never built on a forward (Burn's
//! own `apply_lora` builds it, and a weight-sized gradient with it), so a step costs two thin
//! products per adapted layer and the adapters' gradients are all that is kept.
//!
//! [`Linear`] is Burn's `Linear` (the same `weight` `[d_in, d_out]` and `bias`) with an optional
//! [`Lora`]. It keeps the name `Linear` so burn-store's PyTorch adapters transpose its `weight` as
//! they do Burn's: Hugging Face weights load and export through it unchanged, and checkpoints of
//! earlier versions (which held Burn's `Linear`) load into it.

use burn::module::{Module, Param};
use burn::tensor::{DType, Device, Distribution, FloatDType, Tensor};
use serde::{Deserialize, Serialize};

/// The projections an adapter can wrap, by PEFT's short names (`q_proj` … `down_proj`). The byte
/// GPT fuses q, k and v into one `qkv` layer (adapted when any of the three is named) and has no
/// gate.
pub const TARGETS: &[&str] = &["q", "k", "v", "o", "gate", "up", "down"];

/// How a run adapts its model (`[lora]`); rank 0 is full fine-tuning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoraSpec {
    pub rank: usize,
    pub alpha: f64,
    pub targets: Vec<String>,
    pub rslora: bool,
}

impl LoraSpec {
    /// `α / r`, or `α / √r` with rsLoRA (PEFT's `scaling`).
    pub fn scale(&self) -> f32 {
        scale(self.alpha, self.rank, self.rslora)
    }

    pub fn targets(&self, role: &str) -> bool {
        self.targets.iter().any(|t| t == role)
    }
}

/// How the frozen base's projections are stored (`model.dtype`); adapters, their optimizer
/// states and every activation stay f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseDtype {
    F32,
    Bf16,
    F16,
}

impl BaseDtype {
    pub const NAMES: &'static [&'static str] = &["f32", "bf16", "f16"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "f32" => Some(BaseDtype::F32),
            "bf16" => Some(BaseDtype::Bf16),
            "f16" => Some(BaseDtype::F16),
            _ => None,
        }
    }

    /// The half-precision dtype, or `None` for f32.
    pub fn half(self) -> Option<FloatDType> {
        match self {
            BaseDtype::F32 => None,
            BaseDtype::Bf16 => Some(FloatDType::BF16),
            BaseDtype::F16 => Some(FloatDType::F16),
        }
    }

    /// Bytes a stored parameter takes.
    pub fn bytes(self) -> u64 {
        if self.half().is_some() { 2 } else { 4 }
    }
}

/// Whether a layer of `role` gets an adapter: its own name, or for the byte GPT's fused `qkv`
/// any of q, k and v.
pub fn wants(spec: &LoraSpec, role: &str) -> bool {
    match role {
        "qkv" => ["q", "k", "v"].iter().any(|r| spec.targets(r)),
        r => spec.targets(r),
    }
}

/// `α / r`, or `α / √r` with rsLoRA.
pub fn scale(alpha: f64, rank: usize, rslora: bool) -> f32 {
    let r = rank.max(1) as f64;
    (if rslora { alpha / r.sqrt() } else { alpha / r }) as f32
}

/// The adapter of one layer: `a` `[d_in, r]` and `b` `[r, d_out]` (PEFT's `lora_A.weight` and
/// `lora_B.weight` transposed), and the scale `s`.
#[derive(Module, Debug)]
pub struct Lora {
    pub a: Param<Tensor<2>>,
    pub b: Param<Tensor<2>>,
    #[module(skip)]
    pub scale: f32,
}

impl Lora {
    /// PEFT's initialisation: `A` as `kaiming_uniform_(a=√5)` (uniform in ±1/√d_in), `B` zero,
    /// so the adapted layer starts equal to its base.
    pub fn new(d_in: usize, d_out: usize, rank: usize, scale: f32, device: &Device) -> Self {
        let bound = 1.0 / (d_in as f64).sqrt();
        Lora {
            a: Param::from_tensor(Tensor::random(
                [d_in, rank],
                Distribution::Uniform(-bound, bound),
                device,
            )),
            b: Param::from_tensor(Tensor::zeros([rank, d_out], device)),
            scale,
        }
    }

    pub fn rank(&self) -> usize {
        self.a.dims()[1]
    }

    /// `s·(x·A)·B`, shaped as `x` with its last axis `d_out`. The scale is applied to the thin
    /// `[N, r]` product.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let mut dims = x.dims();
        let d_in = dims[D - 1];
        let n = dims.iter().product::<usize>() / d_in.max(1);
        let b = self.b.val();
        dims[D - 1] = b.dims()[1];
        x.reshape([n, d_in])
            .matmul(self.a.val())
            .mul_scalar(self.scale)
            .matmul(b)
            .reshape(dims)
    }

    /// `s·A·B`, `[d_in, d_out]`: what merging adds to the base weight.
    pub fn delta(&self) -> Tensor<2> {
        self.a.val().matmul(self.b.val()).mul_scalar(self.scale)
    }
}

/// A dense layer `x·W + b` with an optional LoRA adapter.
#[derive(Module, Debug)]
pub struct Linear {
    /// `[d_in, d_out]`, frozen when an adapter is attached.
    pub weight: Param<Tensor<2>>,
    pub bias: Option<Param<Tensor<1>>>,
    pub lora: Option<Lora>,
}

impl From<burn::nn::Linear> for Linear {
    fn from(l: burn::nn::Linear) -> Self {
        Linear {
            weight: l.weight,
            bias: l.bias,
            lora: None,
        }
    }
}

impl Linear {
    /// `x·W + b (+ s·(x·A)·B)`, the base product as Burn's `Linear::forward` computes it.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        // A half-precision base (`model.dtype`) is widened for the product off the CPU kernel.
        let w = self.weight.val();
        let w = if w.dtype() != x.dtype() {
            w.cast(x.dtype())
        } else {
            w
        };
        let y = burn::tensor::module::linear(x.clone(), w, self.bias.as_ref().map(|b| b.val()));
        self.plus_adapter(x, y)
    }

    /// `y` (the base layer's output for `x`) plus the adapter's term, if any.
    pub fn plus_adapter<const D: usize>(&self, x: Tensor<D>, y: Tensor<D>) -> Tensor<D> {
        match &self.lora {
            Some(l) => y + l.forward(x),
            None => y,
        }
    }

    pub fn d_in(&self) -> usize {
        self.weight.dims()[0]
    }

    pub fn d_out(&self) -> usize {
        self.weight.dims()[1]
    }

    /// This layer with a fresh adapter of `spec` (its weight and bias frozen).
    pub fn adapted(self, spec: &LoraSpec, device: &Device) -> Self {
        let lora = Lora::new(self.d_in(), self.d_out(), spec.rank, spec.scale(), device);
        Linear {
            lora: Some(lora),
            ..self.no_grad()
        }
    }

    /// The base layer alone (the adapter switched off; its weight shared, not copied).
    /// This layer with its weight stored as `dtype` (`model.dtype`: a frozen base in half
    /// precision) and frozen; the bias and the adapter stay f32.
    pub fn stored_as(self, dtype: FloatDType) -> Self {
        Linear {
            weight: self.weight.map(|w| w.cast(dtype)).set_require_grad(false),
            ..self
        }
    }

    /// The dtype the weight is stored in.
    pub fn weight_dtype(&self) -> DType {
        self.weight.val().dtype()
    }

    pub fn without_adapter(self) -> Self {
        Linear { lora: None, ..self }
    }

    /// The adapter folded into the weight, `W₀ + s·A·B` (for merged exports).
    pub fn merged(self) -> Self {
        match self.lora {
            None => self,
            Some(l) => Linear {
                weight: Param::from_tensor(self.weight.val().cast(FloatDType::F32) + l.delta()),
                bias: self.bias,
                lora: None,
            },
        }
    }
}

/// A model whose projections can carry adapters: it hands each one, with its role in
/// [`TARGETS`] (or `None` for a layer LoRA never wraps, such as a head), to `f`.
pub trait Adaptable: Sized {
    fn map_linears(self, f: &mut dyn FnMut(Option<&str>, Linear) -> Linear) -> Self;
    fn for_each_linear(&self, f: &mut dyn FnMut(Option<&str>, &Linear));
}

/// Parameters the adapters of `spec` would add to `model` (before they are attached).
pub fn adapter_params<M: Adaptable>(model: &M, spec: &LoraSpec) -> usize {
    let mut n = 0;
    model.for_each_linear(&mut |role, l| {
        if role.is_some_and(|r| wants(spec, r)) {
            n += spec.rank * (l.d_in() + l.d_out());
        }
    });
    n
}

/// The post-training's trainable share in words: `LoRA r16 · 3.6% trainable` or `full
/// fine-tuning`. `adapters`: the adapters' parameters; `all`: the base's.
pub fn describe(spec: &LoraSpec, adapters: usize, all: usize) -> String {
    if spec.rank == 0 {
        return "full fine-tuning".into();
    }
    format!(
        "LoRA r{} · {:.2}% trainable",
        spec.rank,
        100.0 * adapters as f64 / (all + adapters).max(1) as f64
    )
}

/// Trainable parameters against all, with adapters attached.
pub fn trainable_share<M: Adaptable + Module>(model: &M) -> (usize, usize) {
    let mut adapters = 0;
    model.for_each_linear(&mut |_, l| {
        if let Some(a) = &l.lora {
            adapters += a.a.num_params() + a.b.num_params();
        }
    });
    (adapters, model.num_params())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn t2(v: Vec<f32>, r: usize, c: usize, d: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v, [r, c]), d)
    }

    fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        crate::model::to_vec(t)
    }

    #[test]
    fn trainable_share_in_words() {
        let mut spec = LoraSpec {
            rank: 16,
            alpha: 32.0,
            targets: vec![],
            rslora: false,
        };
        // 4,884,480 adapter parameters on SmolLM2-135M's 134,515,008: 3.50% of the whole.
        assert_eq!(
            describe(&spec, 4_884_480, 134_515_008),
            "LoRA r16 · 3.50% trainable"
        );
        spec.rank = 0;
        assert_eq!(describe(&spec, 0, 10), "full fine-tuning");
    }

    #[test]
    fn scale_is_alpha_over_rank_or_its_root() {
        assert_eq!(scale(32.0, 16, false), 2.0);
        assert_eq!(scale(32.0, 16, true), 8.0);
        assert_eq!(scale(8.0, 1, false), 8.0);
    }

    /// x = [1, 2], W = [[1, 0, 1], [0, 1, 1]], b = [0.5, 0, 0], A = [[1], [1]], B = [[1, 2, 0]],
    /// s = 2: x·W + b = [1.5, 2, 3]; x·A = 3; s·3·B = [6, 12, 0]; y = [7.5, 14, 3].
    #[test]
    fn forward_adds_the_scaled_low_rank_term_by_hand() {
        let d = Device::flex();
        let lin = Linear {
            weight: Param::from_tensor(t2(vec![1., 0., 1., 0., 1., 1.], 2, 3, &d)),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.5f32, 0., 0.], [3]),
                &d,
            ))),
            lora: Some(Lora {
                a: Param::from_tensor(t2(vec![1., 1.], 2, 1, &d)),
                b: Param::from_tensor(t2(vec![1., 2., 0.], 1, 3, &d)),
                scale: 2.0,
            }),
        };
        let x: Tensor<3> = t2(vec![1., 2.], 1, 2, &d).unsqueeze();
        assert_eq!(vals(lin.forward(x.clone())), [7.5, 14.0, 3.0]);
        // Merged: W + 2·A·B = [[3, 4, 1], [2, 5, 1]]; the same output, no adapter left.
        let merged = lin.clone().merged();
        assert!(merged.lora.is_none());
        assert_eq!(vals(merged.weight.val()), [3., 4., 1., 2., 5., 1.]);
        assert_eq!(vals(merged.forward(x.clone())), [7.5, 14.0, 3.0]);
        // Off: the base alone.
        assert_eq!(vals(lin.without_adapter().forward(x)), [1.5, 2.0, 3.0]);
    }

    #[test]
    fn a_fresh_adapter_changes_nothing_and_freezes_the_base() {
        let d = Device::flex().autodiff();
        let base: Linear = burn::nn::LinearConfig::new(4, 3).init(&d).into();
        let spec = LoraSpec {
            rank: 2,
            alpha: 4.0,
            targets: vec!["q".into()],
            rslora: false,
        };
        let x: Tensor<2> = Tensor::random([5, 4], Distribution::Default, &d);
        let before = vals(base.forward(x.clone()));
        let lin = base.adapted(&spec, &d);
        let l = lin.lora.as_ref().unwrap();
        assert_eq!((l.rank(), l.scale), (2, 2.0));
        let bound = 0.5; // 1/√4
        assert!(vals(l.a.val()).iter().all(|v| v.abs() <= bound));
        assert_eq!(vals(lin.forward(x.clone())), before);
        // Only the adapter gets gradients.
        let grads = lin.forward(x).sum().backward();
        assert!(
            lin.weight.val().grad(&grads).is_none(),
            "the base is frozen"
        );
        assert!(lin.bias.as_ref().unwrap().val().grad(&grads).is_none());
        // B = 0, so ∂A = 0 at the start; ∂B = s·(x·A)ᵀ·1 is not.
        assert!(l.a.val().grad(&grads).is_some());
        let gb = vals(l.b.val().grad(&grads).expect("a gradient for B"));
        assert!(gb.iter().any(|v| v.abs() > 0.0), "{gb:?}");
    }
}
