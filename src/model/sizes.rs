//! What the memory estimate needs of a model: its dimensions, its context and its projections
//! (which LoRA adapts). From a loaded model, or from a pretrained model's config alone, so a run
//! that cannot fit is refused before its weights are read.

use super::Lm;
use super::hf::HfConfig;
use super::lora::{Adaptable, LoraSpec, wants};
use super::memory::ModelDims;

pub struct Sizes {
    pub dims: ModelDims,
    /// The context a run uses (`model.max_len`, at most the model's positions).
    pub max_len: usize,
    /// Each dense layer's role (`None`: the head), `d_in` and `d_out`.
    pub linears: Vec<(Option<String>, usize, usize)>,
}

impl Sizes {
    pub fn of(model: &Lm) -> Self {
        let mut linears = Vec::new();
        model.for_each_linear(&mut |role, l| {
            linears.push((role.map(str::to_string), l.d_in(), l.d_out()))
        });
        Sizes {
            dims: model.dims(),
            max_len: model.max_len(),
            linears,
        }
    }

    /// The sizes of the model `c` describes, counted as `HfLm::init` builds it.
    pub fn of_config(c: &HfConfig, max_len: usize) -> Self {
        let (d, hd, inter) = (c.hidden_size, c.head_dim, c.intermediate_size);
        let (q, kv) = (c.num_heads * hd, c.num_kv_heads * hd);
        let mut linears = Vec::new();
        let mut params = c.vocab_size * d + d;
        for _ in 0..c.num_layers {
            let layer: [(&str, usize, usize, bool); 7] = [
                ("q", d, q, c.qkv_bias),
                ("k", d, kv, c.qkv_bias),
                ("v", d, kv, c.qkv_bias),
                ("o", q, d, c.o_bias),
                ("gate", d, inter, c.mlp_bias),
                ("up", d, inter, c.mlp_bias),
                ("down", inter, d, c.mlp_bias),
            ];
            for (role, i, o, bias) in layer {
                params += i * o + if bias { o } else { 0 };
                linears.push((Some(role.to_string()), i, o));
            }
            params += 2 * d + if c.qk_norm { 2 * hd } else { 0 };
        }
        if !c.tie_word_embeddings {
            params += d * c.vocab_size;
            linears.push((None, d, c.vocab_size));
        }
        let projections = linears
            .iter()
            .filter(|(r, _, _)| r.is_some())
            .map(|(_, i, o)| i * o)
            .sum();
        Sizes {
            dims: ModelDims {
                params,
                layers: c.num_layers,
                d_model: d,
                mlp: inter,
                heads: c.num_heads,
                kv_width: kv,
                vocab: c.vocab_size,
                projections,
            },
            max_len: max_len.min(c.max_position_embeddings),
            linears,
        }
    }

    /// Parameters of the adapters `spec` puts on this model.
    pub fn adapter_params(&self, spec: &LoraSpec) -> usize {
        self.linears
            .iter()
            .filter(|(r, _, _)| r.as_deref().is_some_and(|r| wants(spec, r)))
            .map(|(_, i, o)| spec.rank * (i + o))
            .sum()
    }
}
