//! The Llama-family decoder (Llama, SmolLM2, Qwen2, Qwen3): RMSNorm, rotate-half RoPE,
//! grouped-query attention, SwiGLU, tied or untied head. Field names follow the Hugging Face
//! parameter names, so a checkpoint maps onto the module without renaming.

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LinearConfig, RmsNorm, RmsNormConfig};
use burn::tensor::{Device, FloatDType, Tensor, activation};

use std::sync::Arc;

use super::config::HfConfig;
use crate::data::codec::Codec;
use crate::model::KvCache;
use crate::model::attention::Rope;
use crate::model::kernels::linear::linear;
use crate::model::lora::{Adaptable, Linear};

#[derive(Module, Debug)]
pub struct HfAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: Option<RmsNorm>,
    k_norm: Option<RmsNorm>,
    n_heads: usize,
    n_kv_heads: usize,
    head_dim: usize,
}

#[derive(Module, Debug)]
pub struct HfMlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

#[derive(Module, Debug)]
pub struct HfLayer {
    self_attn: HfAttention,
    mlp: HfMlp,
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
}

#[derive(Module, Debug)]
pub struct HfBody {
    embed_tokens: Embedding,
    layers: Vec<HfLayer>,
    norm: RmsNorm,
}

#[derive(Module, Debug)]
pub struct HfLm {
    model: HfBody,
    /// `None` when the head is tied to the embedding.
    lm_head: Option<Linear>,
    #[module(skip)]
    config: HfConfig,
    #[module(skip)]
    codec: Arc<Codec>,
    /// RoPE's inverse frequencies, from the config once (not on every forward).
    #[module(skip)]
    inv_freq: Vec<f64>,
    /// The longest sequence hytune runs (`model.max_len`, at most the model's positions).
    max_len: usize,
}

fn rms(d: usize, eps: f64, device: &Device) -> RmsNorm {
    RmsNormConfig::new(d).with_epsilon(eps).init(device)
}

impl HfLm {
    /// A randomly initialised model of this config (weights are then loaded over it).
    /// `half`: the projections' weights are made in that dtype (`model.dtype`), a layer at a time.
    pub fn init(
        config: &HfConfig,
        max_len: usize,
        half: Option<FloatDType>,
        codec: Arc<Codec>,
        device: &Device,
    ) -> Self {
        let c = config;
        let (d, hd) = (c.hidden_size, c.head_dim);
        let head =
            |i, o, bias| -> Linear { LinearConfig::new(i, o).with_bias(bias).init(device).into() };
        let lin = |i, o, bias| -> Linear {
            let l = head(i, o, bias);
            match half {
                Some(h) => l.stored_as(h),
                None => l,
            }
        };
        let layers = (0..c.num_layers)
            .map(|_| HfLayer {
                self_attn: HfAttention {
                    q_proj: lin(d, c.num_heads * hd, c.qkv_bias),
                    k_proj: lin(d, c.num_kv_heads * hd, c.qkv_bias),
                    v_proj: lin(d, c.num_kv_heads * hd, c.qkv_bias),
                    o_proj: lin(c.num_heads * hd, d, c.o_bias),
                    q_norm: c.qk_norm.then(|| rms(hd, c.rms_norm_eps, device)),
                    k_norm: c.qk_norm.then(|| rms(hd, c.rms_norm_eps, device)),
                    n_heads: c.num_heads,
                    n_kv_heads: c.num_kv_heads,
                    head_dim: hd,
                },
                mlp: HfMlp {
                    gate_proj: lin(d, c.intermediate_size, c.mlp_bias),
                    up_proj: lin(d, c.intermediate_size, c.mlp_bias),
                    down_proj: lin(c.intermediate_size, d, c.mlp_bias),
                },
                input_layernorm: rms(d, c.rms_norm_eps, device),
                post_attention_layernorm: rms(d, c.rms_norm_eps, device),
            })
            .collect();
        Self {
            model: HfBody {
                embed_tokens: EmbeddingConfig::new(c.vocab_size, d).init(device),
                layers,
                norm: rms(d, c.rms_norm_eps, device),
            },
            lm_head: (!c.tie_word_embeddings).then(|| head(d, c.vocab_size, false)),
            config: c.clone(),
            codec,
            inv_freq: c.inv_freq(),
            max_len: max_len.min(c.max_position_embeddings),
        }
    }

    pub fn config(&self) -> &HfConfig {
        &self.config
    }

    pub fn codec(&self) -> &Codec {
        &self.codec
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    pub fn device(&self) -> Device {
        self.model.embed_tokens.weight.val().device()
    }

    /// Whether the loaded weights carried no `lm_head` (then the head is the embedding).
    pub(super) fn tie_head(mut self) -> Self {
        self.lm_head = None;
        self.config.tie_word_embeddings = true;
        self
    }

    pub fn new_cache(&self, rows: usize, capacity: usize) -> KvCache {
        let c = &self.config;
        KvCache::new(
            c.num_layers,
            rows,
            c.num_kv_heads,
            capacity,
            c.head_dim,
            &self.device(),
        )
    }

    /// Logits `[B, T, V]` (`[B, 1, V]` with `last`); `positions` `[B, T]` row-major, `bias` `[B or 1, 1, T, T_keys]`.
    pub fn run(
        &self,
        tokens: Tensor<2, burn::tensor::Int>,
        positions: &[u32],
        bias: Tensor<4>,
        cache: Option<&mut KvCache>,
        last: bool,
    ) -> Tensor<3> {
        let x = self.trunk(tokens, positions, bias, cache, last);
        match &self.lm_head {
            Some(head) => head.forward(x),
            None => {
                let w = self.model.embed_tokens.weight.val(); // [V, D]
                let [b, t, d] = x.dims();
                let (n, v) = (b * t, w.dims()[0]);
                // A transposed operand is copied before the product: copy the smaller of the
                // embedding (V·D) and the logits (N·V). Decoding (N = rows) copies only logits.
                if n < d {
                    w.matmul(x.reshape([n, d]).transpose())
                        .transpose()
                        .reshape([b, t, v])
                } else {
                    x.matmul(w.transpose().unsqueeze::<3>())
                }
            }
        }
    }

    /// The head's weight: `lm_head`'s `[D, V]`, or the tied embedding's `[V, D]` (`true`).
    pub fn head(&self) -> (Tensor<2>, bool) {
        match &self.lm_head {
            Some(h) => (h.weight.val(), false),
            None => (self.model.embed_tokens.weight.val(), true),
        }
    }

    /// The final normed hidden states `[B, T, D]` (`[B, 1, D]` with `last`), before the head.
    pub fn trunk(
        &self,
        tokens: Tensor<2, burn::tensor::Int>,
        positions: &[u32],
        bias: Tensor<4>,
        mut cache: Option<&mut KvCache>,
        last: bool,
    ) -> Tensor<3> {
        let [b, t] = tokens.dims();
        let device = tokens.device();
        let rope = Rope::with_frequencies(positions, b, t, &self.inv_freq, &device);
        let mut x = self.model.embed_tokens.forward(tokens);
        for (i, layer) in self.model.layers.iter().enumerate() {
            let h = layer.self_attn.forward(
                layer.input_layernorm.forward(x.clone()),
                bias.clone(),
                &rope,
                cache.as_deref_mut().map(|c| (c, i)),
            );
            x = x + h;
            let h = layer
                .mlp
                .forward(layer.post_attention_layernorm.forward(x.clone()));
            x = x + h;
        }
        if let Some(c) = cache {
            c.advance(t);
        }
        // Only the last position's logits when that is all the caller reads (a prefill).
        let x = if last {
            crate::model::last_position(x)
        } else {
            x
        };
        self.model.norm.forward(x)
    }
}

impl Adaptable for HfLm {
    fn map_linears(self, f: &mut dyn FnMut(Option<&str>, Linear) -> Linear) -> Self {
        let layers = self
            .model
            .layers
            .into_iter()
            .map(|l| {
                let (a, m) = (l.self_attn, l.mlp);
                HfLayer {
                    self_attn: HfAttention {
                        q_proj: f(Some("q"), a.q_proj),
                        k_proj: f(Some("k"), a.k_proj),
                        v_proj: f(Some("v"), a.v_proj),
                        o_proj: f(Some("o"), a.o_proj),
                        ..a
                    },
                    mlp: HfMlp {
                        gate_proj: f(Some("gate"), m.gate_proj),
                        up_proj: f(Some("up"), m.up_proj),
                        down_proj: f(Some("down"), m.down_proj),
                    },
                    ..l
                }
            })
            .collect();
        HfLm {
            model: HfBody {
                layers,
                ..self.model
            },
            lm_head: self.lm_head.map(|h| f(None, h)),
            ..self
        }
    }

    fn for_each_linear(&self, f: &mut dyn FnMut(Option<&str>, &Linear)) {
        for l in &self.model.layers {
            let (a, m) = (&l.self_attn, &l.mlp);
            f(Some("q"), &a.q_proj);
            f(Some("k"), &a.k_proj);
            f(Some("v"), &a.v_proj);
            f(Some("o"), &a.o_proj);
            f(Some("gate"), &m.gate_proj);
            f(Some("up"), &m.up_proj);
            f(Some("down"), &m.down_proj);
        }
        if let Some(h) = &self.lm_head {
            f(None, h);
        }
    }
}

impl HfLm {
    /// Adapters folded into their weights (merged exports).
    pub fn merged(self) -> Self {
        self.map_linears(&mut |_, l| l.merged())
    }

    pub fn has_adapters(&self) -> bool {
        !self.adapters().is_empty()
    }

    /// Each adapted projection's PEFT module name (`model.layers.{i}.self_attn.q_proj`) and
    /// adapter, in layer order.
    pub fn adapters(&self) -> Vec<(String, &crate::model::lora::Lora)> {
        let mut out = Vec::new();
        for (i, l) in self.model.layers.iter().enumerate() {
            let (a, m) = (&l.self_attn, &l.mlp);
            let named = [
                ("self_attn.q_proj", &a.q_proj),
                ("self_attn.k_proj", &a.k_proj),
                ("self_attn.v_proj", &a.v_proj),
                ("self_attn.o_proj", &a.o_proj),
                ("mlp.gate_proj", &m.gate_proj),
                ("mlp.up_proj", &m.up_proj),
                ("mlp.down_proj", &m.down_proj),
            ];
            for (name, lin) in named {
                if let Some(lora) = &lin.lora {
                    out.push((format!("model.layers.{i}.{name}"), lora));
                }
            }
        }
        out
    }
}

impl HfMlp {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate = activation::silu(linear(&self.gate_proj, x.clone()));
        linear(&self.down_proj, gate * linear(&self.up_proj, x))
    }
}

impl HfAttention {
    fn forward(
        &self,
        x: Tensor<3>,
        bias: Tensor<4>,
        rope: &Rope,
        cache: Option<(&mut KvCache, usize)>,
    ) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let (h, kv, hd) = (self.n_heads, self.n_kv_heads, self.head_dim);
        let split = |z: Tensor<3>, n: usize| z.reshape([b, t, n, hd]);
        let mut q = split(linear(&self.q_proj, x.clone()), h);
        let mut k = split(linear(&self.k_proj, x.clone()), kv);
        let v = split(linear(&self.v_proj, x), kv).swap_dims(1, 2);
        // Qwen3 normalises each head of q and k before the rotation.
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            q = qn.forward(q);
            k = kn.forward(k);
        }
        let q = rope.apply(q.swap_dims(1, 2)); // [B, H, T, hd]
        let mut k = rope.apply(k.swap_dims(1, 2)); // [B, KV, T, hd]
        let mut v = v;
        if let Some((cache, layer)) = cache {
            (k, v) = cache.append(layer, k, v);
        }
        let keys = k.dims()[2];
        let (k, v) = (repeat_kv(k, h / kv), repeat_kv(v, h / kv));
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((hd as f32).sqrt())
            + bias.expand([b, h, t, keys]);
        let out = activation::softmax(scores, 3).matmul(v); // [B, H, T, hd]
        linear(&self.o_proj, out.swap_dims(1, 2).reshape([b, t, h * hd]))
    }
}

/// `[B, KV, T, hd]` → `[B, KV·n, T, hd]`, each kv head serving `n` query heads in a row (as
/// `transformers`' `repeat_kv`).
fn repeat_kv(x: Tensor<4>, n: usize) -> Tensor<4> {
    if n == 1 {
        return x;
    }
    let [b, kv, t, hd] = x.dims();
    x.unsqueeze_dim::<5>(2)
        .expand([b, kv, n, t, hd])
        .reshape([b, kv * n, t, hd])
}
