//! The language models (hytune's byte GPT, or a pretrained Hugging Face decoder) and their
//! uses: teacher-forced log-probs, a KV cache, batched sampling and greedy decoding.

pub mod adapter_export;
pub(crate) mod attention;
pub mod branches;
pub mod generate;
pub mod gguf;
pub mod hf;
pub mod kernels;
pub mod lora;
pub mod memory;
pub mod mlp_activation;
pub mod pretrained;
pub mod score;
pub mod shapes;
pub mod shards;
pub mod sizes;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

pub use attention::KvCache;
use attention::SelfAttention;
pub use attention::cached_bias;

use crate::data::codec::{BYTES, Codec};
use crate::data::tokenizer::VOCAB_SIZE;
pub use hf::HfLm;
use kernels::layer_norm::layer_norm;
use kernels::linear::linear;
use lora::{Adaptable, BaseDtype, Linear, LoraSpec};
pub use mlp_activation::Activation;

/// How tokens know their position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Positions {
    /// Rotary embeddings on queries and keys (rotate-half, θ = 10000): attention sees only
    /// relative offsets, so what is learned at one offset is recalled at any.
    Rope,
    /// A learned embedding per absolute position, added to the token embedding.
    #[default]
    Learned,
}

/// The model's shape; a checkpoint loads only into the same shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GptShape {
    pub vocab: usize,
    pub d_model: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub max_len: usize,
    pub mlp_ratio: usize,
    /// Absent in checkpoints of earlier versions, which all had learned positions.
    #[serde(default)]
    pub positions: Positions,
    /// Absent in checkpoints of earlier versions, which all used GELU.
    #[serde(default)]
    pub activation: Activation,
}

impl GptShape {
    pub fn from_config(m: &crate::config::Model) -> Self {
        Self {
            vocab: VOCAB_SIZE,
            d_model: m.d_model,
            n_layers: m.n_layers,
            n_heads: m.n_heads,
            max_len: m.max_len,
            mlp_ratio: m.mlp_ratio,
            positions: if m.positions == "rope" {
                Positions::Rope
            } else {
                Positions::Learned
            },
            activation: Activation::parse(&m.activation),
        }
    }

    pub fn init(&self, device: &Device) -> Lm {
        Lm::Gpt(self.init_gpt(device))
    }

    /// A freshly initialised GPT. Burn draws a parameter's initial values from the device's
    /// RNG when the parameter is first read, so every parameter is drawn here, in module order:
    /// the weights a seed gives then do not depend on which code first reads which parameter.
    pub fn init_gpt(&self, device: &Device) -> Gpt {
        let d = self.d_model;
        let gpt = Gpt {
            tok: EmbeddingConfig::new(self.vocab, d).init(device),
            pos: (self.positions == Positions::Learned)
                .then(|| EmbeddingConfig::new(self.max_len, d).init(device)),
            blocks: (0..self.n_layers)
                .map(|_| Block {
                    ln1: LayerNormConfig::new(d).init(device),
                    attn: SelfAttention::new(d, self.n_heads, device),
                    ln2: LayerNormConfig::new(d).init(device),
                    fc: LinearConfig::new(d, d * self.mlp_ratio).init(device).into(),
                    out: LinearConfig::new(d * self.mlp_ratio, d).init(device).into(),
                })
                .collect(),
            ln_f: LayerNormConfig::new(d).init(device),
            head: LinearConfig::new(d, self.vocab)
                .with_bias(false)
                .init(device)
                .into(),
            max_len: self.max_len,
            activation: self.activation,
        };
        gpt.visit(&mut DrawInOrder);
        gpt
    }
}

/// Reads each parameter once, in module order, which draws the lazily initialised ones.
struct DrawInOrder;

impl ModuleVisitor for DrawInOrder {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

#[derive(Module, Debug)]
pub struct Block {
    ln1: LayerNorm,
    attn: SelfAttention,
    ln2: LayerNorm,
    fc: Linear,
    out: Linear,
}

#[derive(Module, Debug)]
pub struct Gpt {
    tok: Embedding,
    /// Learned absolute positions; `None` with rotary positions.
    pos: Option<Embedding>,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    head: Linear,
    max_len: usize,
    /// The MLP's nonlinearity (part of the shape, not of the record).
    #[module(skip)]
    activation: Activation,
}

/// Host-side description of a batch for one forward call.
pub struct Batch {
    /// `[B, T]` token ids.
    pub tokens: Vec<u32>,
    /// `[B, T]` position of each token (rows may be left-padded).
    pub positions: Vec<u32>,
    pub rows: usize,
    pub cols: usize,
}

/// A language model hytune trains: its own byte GPT or a pretrained Hugging Face decoder.
#[derive(Module, Debug)]
pub enum Lm {
    Gpt(Gpt),
    Hf(HfLm),
}

impl Lm {
    pub fn max_len(&self) -> usize {
        match self {
            Lm::Gpt(g) => g.max_len,
            Lm::Hf(h) => h.max_len(),
        }
    }

    pub fn device(&self) -> Device {
        match self {
            Lm::Gpt(g) => g.head.weight.val().device(),
            Lm::Hf(h) => h.device(),
        }
    }

    /// Text ↔ tokens for this model.
    pub fn codec(&self) -> &Codec {
        match self {
            Lm::Gpt(_) => &BYTES,
            Lm::Hf(h) => h.codec(),
        }
    }

    pub fn vocab(&self) -> usize {
        match self {
            Lm::Gpt(_) => VOCAB_SIZE,
            Lm::Hf(h) => h.config().vocab_size,
        }
    }

    /// The sizes the memory estimate needs.
    pub fn dims(&self) -> memory::ModelDims {
        let mut projections = 0;
        self.for_each_linear(&mut |role, l| {
            if role.is_some() {
                projections += l.d_in() * l.d_out();
            }
        });
        match self {
            Lm::Gpt(g) => {
                let a = &g.blocks[0].attn;
                let d = a.n_heads * a.d_head;
                memory::ModelDims {
                    params: self.num_params(),
                    layers: g.blocks.len(),
                    d_model: d,
                    mlp: g.blocks[0].fc.weight.dims()[1],
                    heads: a.n_heads,
                    kv_width: d,
                    vocab: VOCAB_SIZE,
                    projections,
                }
            }
            Lm::Hf(h) => {
                let c = h.config();
                memory::ModelDims {
                    params: self.num_params(),
                    layers: c.num_layers,
                    d_model: c.hidden_size,
                    mlp: c.intermediate_size,
                    heads: c.num_heads,
                    kv_width: c.num_kv_heads * c.head_dim,
                    vocab: c.vocab_size,
                    projections,
                }
            }
        }
    }

    /// One line naming the model.
    pub fn describe(&self) -> String {
        match self {
            Lm::Gpt(g) => format!(
                "byte GPT (d {}, {} layers)",
                g.tok.weight.dims()[1],
                g.blocks.len()
            ),
            Lm::Hf(h) => format!(
                "{} (d {}, {} layers, vocab {}, context {})",
                h.config().architecture,
                h.config().hidden_size,
                h.config().num_layers,
                h.config().vocab_size,
                h.max_len()
            ),
        }
    }

    /// Logits `[B, T, V]` of a right-padded batch (positions 0..T, causal attention).
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let [b, t] = tokens.dims();
        shapes::record(b, t, t);
        let device = tokens.device();
        let positions: Vec<u32> = (0..b).flat_map(|_| 0..t as u32).collect();
        let bias = attention::causal_bias(t, &device);
        self.run(tokens, &positions, bias, None, false)
    }

    /// Per-token `log p(target)` `[B, T]` of a right-padded batch (`targets` `[B, T]`
    /// row-major), from the hidden states and the head a block of rows at a time: on the CPU
    /// backend no `[B, T, V]` logits, nor their gradient, are ever held.
    pub fn token_logprobs(&self, tokens: Tensor<2, Int>, targets: &[u32]) -> Tensor<2> {
        let [b, t] = tokens.dims();
        shapes::record(b, t, t);
        let device = tokens.device();
        let positions: Vec<u32> = (0..b).flat_map(|_| 0..t as u32).collect();
        let bias = attention::causal_bias(t, &device);
        let hidden = self.trunk(tokens, &positions, bias, None);
        let (w, tied) = self.head();
        kernels::head_logprobs::head_logprobs(hidden, w, tied, targets)
    }

    /// The final normed hidden states `[B, T, D]`, before the head.
    fn trunk(
        &self,
        tokens: Tensor<2, Int>,
        positions: &[u32],
        bias: Tensor<4>,
        cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        match self {
            Lm::Gpt(g) => g.trunk(tokens, positions, bias, cache, false),
            Lm::Hf(h) => h.trunk(tokens, positions, bias, cache, false),
        }
    }

    /// The head's weight: `[D, V]`, or the tied embedding's `[V, D]` (`true`).
    fn head(&self) -> (Tensor<2>, bool) {
        match self {
            Lm::Gpt(g) => (g.head.weight.val(), false),
            Lm::Hf(h) => h.head(),
        }
    }

    /// Logits `[B, T_new, V]` for new tokens with a KV cache; `bias` is `[B, 1, T_new, T_total]`.
    pub fn forward_cached(&self, batch: &Batch, bias: Vec<f32>, cache: &mut KvCache) -> Tensor<3> {
        self.cached(batch, bias, cache, false)
    }

    /// [`Self::forward_cached`] returning only the last position's logits, `[B, 1, V]`: a
    /// prefill before decoding needs no more, and the head over every position of a batch of
    /// chat prompts is a fifth of a 135M model's prefill and gigabytes of logits.
    pub fn forward_cached_last(
        &self,
        batch: &Batch,
        bias: Vec<f32>,
        cache: &mut KvCache,
    ) -> Tensor<3> {
        self.cached(batch, bias, cache, true)
    }

    /// [`Self::forward_cached`]'s per-token `log p(target)` `[B, T_new]` (`targets` row-major),
    /// through [`Self::token_logprobs`]'s blocks: no `[B, T_new, V]` logits on the CPU backend.
    pub fn cached_logprobs(
        &self,
        batch: &Batch,
        bias: Vec<f32>,
        cache: &mut KvCache,
        targets: &[u32],
    ) -> Tensor<2> {
        let (tokens, bias) = self.cached_inputs(batch, bias, cache);
        let hidden = self.trunk(tokens, &batch.positions, bias, Some(cache));
        let (w, tied) = self.head();
        kernels::head_logprobs::head_logprobs(hidden, w, tied, targets)
    }

    fn cached(&self, batch: &Batch, bias: Vec<f32>, cache: &mut KvCache, last: bool) -> Tensor<3> {
        let (tokens, bias) = self.cached_inputs(batch, bias, cache);
        self.run(tokens, &batch.positions, bias, Some(cache), last)
    }

    /// The tokens and the `[B, 1, T_new, view]` bias of a cached forward, the cache's view set.
    fn cached_inputs(
        &self,
        batch: &Batch,
        bias: Vec<f32>,
        cache: &mut KvCache,
    ) -> (Tensor<2, Int>, Tensor<4>) {
        let device = self.device();
        let tokens = int_tensor(&batch.tokens, batch.rows, batch.cols, &device);
        let total = cache.len() + batch.cols;
        // With bucketing, attend over a bucket of the cache; the columns past `total` masked.
        let view = shapes::bucket(total, cache.capacity()).max(total);
        let bias = if view > total {
            let mut wide = Vec::with_capacity(batch.rows * batch.cols * view);
            for row in bias.chunks(total) {
                wide.extend_from_slice(row);
                wide.extend(std::iter::repeat_n(attention::MASKED, view - total));
            }
            wide
        } else {
            bias
        };
        cache.set_view(view);
        shapes::record(batch.rows, batch.cols, view);
        let bias = Tensor::<4>::from_data(
            TensorData::new(bias, [batch.rows, 1, batch.cols, view]),
            &device,
        );
        (tokens, bias)
    }

    fn run(
        &self,
        tokens: Tensor<2, Int>,
        positions: &[u32],
        bias: Tensor<4>,
        cache: Option<&mut KvCache>,
        last: bool,
    ) -> Tensor<3> {
        match self {
            Lm::Gpt(g) => g.run(tokens, positions, bias, cache, last),
            Lm::Hf(h) => h.run(tokens, positions, bias, cache, last),
        }
    }

    /// This model with fresh LoRA adapters of `spec` on the projections it targets, everything
    /// else frozen (no gradient, no optimizer state). Rank 0 leaves the model as it is.
    pub fn with_lora(self, spec: &LoraSpec) -> Lm {
        if spec.rank == 0 {
            return self;
        }
        let device = self.device();
        self.no_grad().map_linears(&mut |role, l| match role {
            Some(r) if lora::wants(spec, r) => l.adapted(spec, &device),
            _ => l,
        })
    }

    /// The projections' weights stored as `dtype` (`model.dtype`), frozen: LoRA's base in half
    /// precision. The embeddings, norms and head stay f32. F32 leaves the model as it is.
    pub fn with_base_dtype(self, dtype: BaseDtype) -> Lm {
        let Some(d) = dtype.half() else {
            return self;
        };
        self.map_linears(&mut |role, l| match role {
            Some(_) => l.stored_as(d),
            None => l,
        })
    }

    /// The base model: adapters switched off (what the KL's reference is under LoRA). The base
    /// weights are shared with `self`, not copied.
    pub fn without_adapters(self) -> Lm {
        self.map_linears(&mut |_, l| l.without_adapter())
    }

    /// Adapters folded into their weights (merged exports).
    pub fn merged(self) -> Lm {
        self.map_linears(&mut |_, l| l.merged())
    }

    /// Whether any layer carries an adapter.
    pub fn has_adapters(&self) -> bool {
        let mut any = false;
        self.for_each_linear(&mut |_, l| any |= l.lora.is_some());
        any
    }

    /// Trainable parameters (the adapters' under LoRA, else all) and all parameters.
    pub fn trainable_share(&self) -> (usize, usize) {
        let (adapters, all) = lora::trainable_share(self);
        (if adapters > 0 { adapters } else { all }, all)
    }

    pub fn new_cache(&self, rows: usize) -> KvCache {
        self.new_cache_with_capacity(rows, self.max_len())
    }

    /// A cache of `capacity` columns: more than the context when branches sit side by side
    /// (their positions still stay within the context).
    pub fn new_cache_with_capacity(&self, rows: usize, capacity: usize) -> KvCache {
        match self {
            Lm::Gpt(g) => {
                let a = &g.blocks[0].attn;
                KvCache::new(
                    g.blocks.len(),
                    rows,
                    a.n_heads,
                    capacity,
                    a.d_head,
                    &self.device(),
                )
            }
            Lm::Hf(h) => h.new_cache(rows, capacity),
        }
    }
}

impl Adaptable for Lm {
    fn map_linears(self, f: &mut dyn FnMut(Option<&str>, Linear) -> Linear) -> Self {
        match self {
            Lm::Gpt(g) => Lm::Gpt(g.map_linears(f)),
            Lm::Hf(h) => Lm::Hf(h.map_linears(f)),
        }
    }

    fn for_each_linear(&self, f: &mut dyn FnMut(Option<&str>, &Linear)) {
        match self {
            Lm::Gpt(g) => g.for_each_linear(f),
            Lm::Hf(h) => h.for_each_linear(f),
        }
    }
}

impl Adaptable for Gpt {
    fn map_linears(self, f: &mut dyn FnMut(Option<&str>, Linear) -> Linear) -> Self {
        let blocks = self
            .blocks
            .into_iter()
            .map(|b| Block {
                attn: b.attn.map_linears(f),
                fc: f(Some("up"), b.fc),
                out: f(Some("down"), b.out),
                ..b
            })
            .collect();
        Gpt {
            blocks,
            head: f(None, self.head),
            ..self
        }
    }

    fn for_each_linear(&self, f: &mut dyn FnMut(Option<&str>, &Linear)) {
        for b in &self.blocks {
            b.attn.for_each_linear(f);
            f(Some("up"), &b.fc);
            f(Some("down"), &b.out);
        }
        f(None, &self.head);
    }
}

/// `[B, T, D]` → `[B, 1, D]`, the last position of each row.
pub(crate) fn last_position(x: Tensor<3>) -> Tensor<3> {
    let [b, t, d] = x.dims();
    x.slice([0..b, t - 1..t, 0..d])
}

impl Gpt {
    /// `positions`: `[B, T]` row-major, the position of each token.
    fn run(
        &self,
        tokens: Tensor<2, Int>,
        positions: &[u32],
        bias: Tensor<4>,
        cache: Option<&mut KvCache>,
        last: bool,
    ) -> Tensor<3> {
        linear(&self.head, self.trunk(tokens, positions, bias, cache, last))
    }

    /// The final normed hidden states `[B, T, D]` (`[B, 1, D]` with `last`), before the head.
    fn trunk(
        &self,
        tokens: Tensor<2, Int>,
        positions: &[u32],
        bias: Tensor<4>,
        mut cache: Option<&mut KvCache>,
        last: bool,
    ) -> Tensor<3> {
        let [b, t] = tokens.dims();
        let device = tokens.device();
        let mut x = self.tok.forward(tokens); // [B, T, D]
        let rope = match &self.pos {
            Some(pos) => {
                x = x + pos.forward(int_tensor(positions, b, t, &device));
                None
            }
            None => Some(attention::Rope::new(
                positions,
                b,
                t,
                self.blocks[0].attn.d_head,
                &device,
            )),
        };
        for (i, block) in self.blocks.iter().enumerate() {
            let h = block.attn.forward(
                layer_norm(&block.ln1, x.clone()),
                bias.clone(),
                rope.as_ref(),
                cache.as_deref_mut().map(|c| (c, i)),
            );
            x = x + h;
            let h = linear(
                &block.out,
                self.activation
                    .forward(linear(&block.fc, layer_norm(&block.ln2, x.clone()))),
            );
            x = x + h;
        }
        if let Some(c) = cache {
            c.advance(x.dims()[1]);
        }
        let x = if last { last_position(x) } else { x };
        layer_norm(&self.ln_f, x)
    }
}

pub fn int_tensor(values: &[u32], rows: usize, cols: usize, device: &Device) -> Tensor<2, Int> {
    let data: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    Tensor::<2, Int>::from_data(TensorData::new(data, [rows, cols]), device)
}

pub fn float_tensor(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(values, [rows, cols]), device)
}

/// Reads a float tensor back to the host.
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 data")
}
