//! GGUF files (llama.cpp's format) as pretrained models: `--model FILE.gguf`, or a folder that
//! holds one GGUF file and no `config.json`. Weights are dequantized to f32
//! ([`dequant`]), llama.cpp's names mapped to the decoder's, its Q/K row permutation undone for
//! the llama architecture, the config taken from the metadata and the tokenizer rebuilt from
//! it ([`tokenizer`]). Every tensor of the file is used, or the refusal names it.

pub mod dequant;
mod export;
pub mod hf_files;
pub mod reader;
pub mod tokenizer;
pub mod writer;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::store::SafetensorsStore;
use burn::tensor::Device;
use serde_json::{Value as Json, json};

use super::hf::{BaseIdentity, HfConfig, HfLm};
use crate::data::codec::{Codec, HfTokenizer};
use reader::{Gguf, TensorInfo, Value};

/// Where llama.cpp keeps Llama 3's RoPE scaling (read into the config, not a weight).
const ROPE_FREQS: &str = "rope_freqs.weight";

pub use crate::paths::gguf_path;
pub use export::{certificate_metadata, export, permute};

/// The file, parsed.
pub struct GgufFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub gguf: Gguf,
}

impl GgufFile {
    pub fn open(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let gguf = Gguf::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            bytes,
            gguf,
        })
    }

    fn arch(&self) -> Result<&str> {
        self.gguf
            .get("general.architecture")
            .and_then(Value::as_str)
            .with_context(|| {
                format!(
                    "{}: metadata `general.architecture` is missing or not a string",
                    self.path.display()
                )
            })
    }

    /// The metadata as the `config.json` the decoder reads, each value checked for its type.
    pub fn config(&self) -> Result<HfConfig> {
        let arch = self.arch()?;
        let architecture = match arch {
            "llama" => "LlamaForCausalLM",
            "qwen2" => "Qwen2ForCausalLM",
            "qwen3" => "Qwen3ForCausalLM",
            other => bail!(
                "{}: metadata `general.architecture` = \"{other}\" is not supported (llama, qwen2, qwen3 are)",
                self.path.display()
            ),
        };
        let file = self.path.display();
        let key = |k: &str| format!("{arch}.{k}");
        let uint = |k: &str| -> Result<Option<u64>> {
            match self.gguf.get(&key(k)) {
                None => Ok(None),
                Some(v) => match v.as_u64() {
                    Some(u) => Ok(Some(u)),
                    None => bail!(
                        "{file}: metadata `{}` = {v:?} is not a whole number",
                        key(k)
                    ),
                },
            }
        };
        let need = |k: &str| -> Result<u64> {
            uint(k)?.with_context(|| format!("{file}: metadata `{}` is missing", key(k)))
        };
        let float = |k: &str| -> Result<Option<f64>> {
            match self.gguf.get(&key(k)) {
                None => Ok(None),
                Some(v) => match v.as_f64() {
                    Some(f) if f.is_finite() => Ok(Some(f)),
                    _ => bail!("{file}: metadata `{}` = {v:?} is not a number", key(k)),
                },
            }
        };
        if let Some(v) = self.gguf.get(&key("rope.scaling.type"))
            && v.as_str() != Some("none")
            && v.as_str() != Some("llama3")
        {
            bail!(
                "{file}: metadata `{}` = {v:?}: RoPE scaling from a GGUF file is not supported",
                key("rope.scaling.type")
            );
        }
        let heads = need("attention.head_count")?;
        let hidden = need("embedding_length")?;
        let vocab = match uint("vocab_size")? {
            Some(v) => v,
            None => tokenizer::tokens(&self.gguf)
                .map_err(|e| anyhow::anyhow!("{file}: {e}"))?
                .len() as u64,
        };
        let token_id = |k: &str| -> Result<Option<u64>> {
            match self.gguf.get(k) {
                None => Ok(None),
                Some(v) => match v.as_u64() {
                    Some(u) if u < vocab => Ok(Some(u)),
                    _ => bail!(
                        "{file}: metadata `{k}` = {v:?} is not a token id below the vocabulary's {vocab}"
                    ),
                },
            }
        };
        let eos = token_id("tokenizer.ggml.eos_token_id")?;
        let mut v = json!({
            "architectures": [architecture],
            "hidden_size": hidden,
            "intermediate_size": need("feed_forward_length")?,
            "num_hidden_layers": need("block_count")?,
            "num_attention_heads": heads,
            "num_key_value_heads": uint("attention.head_count_kv")?.unwrap_or(heads),
            "max_position_embeddings": need("context_length")?,
            "rms_norm_eps": float("attention.layer_norm_rms_epsilon")?.unwrap_or(1e-6),
            "rope_theta": float("rope.freq_base")?.unwrap_or(10_000.0),
            "vocab_size": vocab,
            "tie_word_embeddings": !self.gguf.tensors.iter().any(|t| t.name == "output.weight"),
            "hidden_act": "silu",
            "bos_token_id": token_id("tokenizer.ggml.bos_token_id")?,
            "eos_token_id": eos,
        });
        if let Some(d) = uint("attention.key_length")? {
            v["head_dim"] = Json::from(d);
        }
        if arch == "qwen2" {
            v["attention_bias"] = Json::Bool(true);
        }
        let mut config = HfConfig::from_json(&v).map_err(|e| anyhow::anyhow!("{file}: {e:#}"))?;
        // Llama 3's RoPE scaling, as llama.cpp stores it: one divisor per frequency.
        if let Some(t) = self.gguf.tensors.iter().find(|t| t.name == ROPE_FREQS) {
            let f = dequant::dequantize(t.kind, &self.bytes[t.start..t.start + t.len]);
            if f.len() != config.head_dim / 2 || f.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
                bail!(
                    "{file}: tensor `{ROPE_FREQS}`: {} values, {} expected (head_dim / 2), all positive",
                    f.len(),
                    config.head_dim / 2
                );
            }
            config.rope_scaling =
                super::hf::config::RopeScaling::Factors(f.into_iter().map(f64::from).collect());
        }
        Ok(config)
    }

    /// The decoder's name of a tensor of the file, or an error naming it.
    fn hf_name(&self, t: &TensorInfo) -> Result<String> {
        let fixed = match t.name.as_str() {
            "token_embd.weight" => Some("model.embed_tokens.weight"),
            "output_norm.weight" => Some("model.norm.weight"),
            "output.weight" => Some("lm_head.weight"),
            _ => None,
        };
        if let Some(n) = fixed {
            return Ok(n.to_string());
        }
        let parts: Vec<&str> = t.name.split('.').collect();
        if let ["blk", layer, kind, suffix @ ("weight" | "bias")] = parts[..]
            && layer.parse::<usize>().is_ok()
        {
            let to = match kind {
                "attn_q" => "self_attn.q_proj",
                "attn_k" => "self_attn.k_proj",
                "attn_v" => "self_attn.v_proj",
                "attn_output" => "self_attn.o_proj",
                "attn_q_norm" => "self_attn.q_norm",
                "attn_k_norm" => "self_attn.k_norm",
                "ffn_gate" => "mlp.gate_proj",
                "ffn_up" => "mlp.up_proj",
                "ffn_down" => "mlp.down_proj",
                "attn_norm" => "input_layernorm",
                "ffn_norm" => "post_attention_layernorm",
                _ => "",
            };
            if !to.is_empty() {
                return Ok(format!("model.layers.{layer}.{to}.{suffix}"));
            }
        }
        bail!(
            "{}: tensor `{}` has no place in the decoder (not a tensor of a {} model hytune knows)",
            self.path.display(),
            t.name,
            self.arch().unwrap_or("?")
        )
    }

    /// Every tensor dequantized, named and laid out as a Hugging Face checkpoint's, in
    /// safetensors form (so the directory loader reads it).
    pub fn safetensors(&self, config: &HfConfig) -> Result<Vec<u8>> {
        let llama = self.arch()? == "llama";
        let mut header = serde_json::Map::new();
        let mut at = 0usize;
        let mut named = Vec::with_capacity(self.gguf.tensors.len());
        for t in self.gguf.tensors.iter().filter(|t| t.name != ROPE_FREQS) {
            let name = self.hf_name(t)?;
            let bytes = t.elements() as usize * 4;
            header.insert(
                name.clone(),
                json!({"dtype": "F32", "shape": t.shape(), "data_offsets": [at, at + bytes]}),
            );
            at += bytes;
            named.push((name, t));
        }
        let mut head = serde_json::to_vec(&Json::Object(header))?;
        while head.len() % 8 != 0 {
            head.push(b' ');
        }
        let mut out = Vec::with_capacity(8 + head.len() + at);
        out.extend((head.len() as u64).to_le_bytes());
        out.extend(head);
        for (name, t) in named {
            let mut w = dequant::dequantize(t.kind, &self.bytes[t.start..t.start + t.len]);
            // llama.cpp interleaves the two rotary halves of each head's rows of q and k.
            if llama && name.ends_with("q_proj.weight") {
                w = unpermute(&w, t.shape()[0], config.num_heads);
            } else if llama && name.ends_with("k_proj.weight") {
                w = unpermute(&w, t.shape()[0], config.num_kv_heads);
            }
            for x in w {
                out.extend(x.to_le_bytes());
            }
        }
        Ok(out)
    }

    pub fn identity(&self, config: &HfConfig) -> BaseIdentity {
        use std::hash::Hasher;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        h.write(&self.bytes);
        BaseIdentity {
            dir: std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone()),
            architecture: config.architecture.clone(),
            hash: format!("{:016x}", h.finish()),
        }
    }

    /// The tokenizer, with the file's chat template (`tokenizer.chat_template`) and `prompt` =
    /// (`model.prompt`, `model.system`) applied.
    pub fn codec(&self, config: &HfConfig, prompt: (&str, &str)) -> Result<Codec> {
        let file = self.path.display();
        let tok = tokenizer::for_file(&self.path, &self.gguf)
            .map_err(|e| anyhow::anyhow!("{file}: {e:#}"))?;
        let mut tok = HfTokenizer::from_parts(tok, config.eos_token_ids.clone()).map_err(|e| {
            anyhow::anyhow!("{file}: {e} (metadata `tokenizer.ggml.eos_token_id` is missing)")
        })?;
        match self.gguf.get("tokenizer.chat_template") {
            None => {}
            Some(Value::Str(t)) => tok.set_template(t, config.bos_token_id).map_err(|e| {
                anyhow::anyhow!("{file}: metadata `tokenizer.chat_template`: {e:#}")
            })?,
            Some(v) => bail!("{file}: metadata `tokenizer.chat_template` = {v:?} is not a string"),
        }
        tok.apply_prompt(prompt.0, prompt.1, &self.path)?;
        Ok(Codec::Hf(tok))
    }
}

/// Undoes llama.cpp's permutation of the rows of a q or k projection (`rows` × cols, `heads`
/// heads): within each head, its rows were stored as (half, pair) interleaved.
pub fn unpermute(w: &[f32], rows: usize, heads: usize) -> Vec<f32> {
    // transformers' reverse_permute: reshape(heads, dim, 2, cols).swapaxes(1, 2).
    reorder(w, rows, heads, false)
}

/// Row `(h, d, two)` of the stored (interleaved) order against row `(h, two, d)` of the
/// Hugging Face order; `to_stored` picks the direction.
fn reorder(w: &[f32], rows: usize, heads: usize, to_stored: bool) -> Vec<f32> {
    let cols = w.len() / rows;
    let dim = rows / heads / 2;
    let mut out = vec![0.0; w.len()];
    for h in 0..heads {
        for d in 0..dim {
            for two in 0..2 {
                let stored = ((h * dim + d) * 2 + two) * cols;
                let hf = ((h * 2 + two) * dim + d) * cols;
                let (from, to) = if to_stored {
                    (hf, stored)
                } else {
                    (stored, hf)
                };
                out[to..to + cols].copy_from_slice(&w[from..from + cols]);
            }
        }
    }
    out
}

/// The model of a GGUF file with its tokenizer, on `device`, its context capped at `max_len`,
/// `prompt` = (`model.prompt`, `model.system`).
pub fn load(
    path: &Path,
    max_len: usize,
    prompt: (&str, &str),
    half: Option<burn::tensor::FloatDType>,
    device: &Device,
) -> Result<(HfLm, BaseIdentity)> {
    let file = GgufFile::open(path)?;
    let config = file.config()?;
    let codec = file.codec(&config, prompt)?;
    let bytes = file.safetensors(&config)?;
    let identity = file.identity(&config);
    let store = SafetensorsStore::from_bytes(Some(bytes));
    let model = super::hf::load::load_parts(
        &config,
        codec,
        vec![(path.display().to_string(), store)],
        max_len,
        half,
        device,
        path,
        path,
        "its metadata",
    )?;
    Ok((model, identity))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_and_unpermute_are_inverse() {
        let w: Vec<f32> = (0..24).map(|x| x as f32).collect();
        assert_eq!(unpermute(&permute(&w, 12, 3), 12, 3), w);
        assert_ne!(permute(&w, 12, 3), w);
    }

    #[test]
    fn unpermute_inverts_llama_cpps_permute() {
        // llama.cpp's permute: reshape(heads, 2, dim, cols).swapaxes(1, 2). Rows 0..8, 2 heads.
        let (rows, cols, heads) = (8, 1, 2);
        let orig: Vec<f32> = (0..rows).map(|r| r as f32).collect();
        let dim = rows / heads / 2;
        let mut permuted = vec![0.0; rows];
        for h in 0..heads {
            for two in 0..2 {
                for d in 0..dim {
                    permuted[(h * dim + d) * 2 + two] = orig[(h * 2 + two) * dim + d];
                }
            }
        }
        // Head 0's rows 0,1 | 2,3 stored as 0,2,1,3.
        assert_eq!(&permuted[..4], &[0.0, 2.0, 1.0, 3.0]);
        assert_eq!(unpermute(&permuted, rows, heads), orig);
        let _ = cols;
    }
}
