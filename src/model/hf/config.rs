//! `config.json` of a Hugging Face causal LM, read into the few numbers the decoder needs.
//! Unsupported features (sliding windows, partial rotary, other activations) are refused by
//! name rather than silently mis-run.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which family the weights come from; decides the per-family details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `LlamaForCausalLM` (Llama 2/3, SmolLM2, TinyLlama).
    Llama,
    /// `Qwen2ForCausalLM`: bias on q, k and v.
    Qwen2,
    /// `Qwen3ForCausalLM`: RMSNorm on q and k per head, `head_dim` from the config.
    Qwen3,
}

/// RoPE frequencies: plain, or Llama 3's scaling by parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RopeScaling {
    None,
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_max_position_embeddings: f64,
    },
    /// Per-frequency divisors, as a GGUF file stores Llama 3's scaling (`rope_freqs.weight`).
    Factors(Vec<f64>),
}

/// Everything the decoder's shape and arithmetic depend on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HfConfig {
    pub family: Family,
    pub architecture: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub rope_scaling: RopeScaling,
    pub max_position_embeddings: usize,
    pub tie_word_embeddings: bool,
    /// Bias on the q, k and v projections.
    pub qkv_bias: bool,
    /// Bias on the output projection.
    pub o_bias: bool,
    pub mlp_bias: bool,
    pub qk_norm: bool,
    pub bos_token_id: Option<u32>,
    /// Every id that ends a response (`eos_token_id` may be a list).
    pub eos_token_ids: Vec<u32>,
}

fn ids(v: Option<&Value>) -> Vec<u32> {
    match v {
        Some(Value::Number(n)) => n.as_u64().map(|x| vec![x as u32]).unwrap_or_default(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_u64())
            .map(|x| x as u32)
            .collect(),
        _ => Vec::new(),
    }
}

impl HfConfig {
    /// Reads `dir/config.json`, with `generation_config.json`'s end ids when present.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{}: cannot read the model config", path.display()))?;
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", path.display()))?;
        let mut c = Self::from_json(&v).with_context(|| format!("{}", path.display()))?;
        let gen_path = dir.join("generation_config.json");
        if let Ok(text) = std::fs::read_to_string(&gen_path) {
            let g: Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not valid JSON", gen_path.display()))?;
            for id in ids(g.get("eos_token_id")) {
                if id as usize >= c.vocab_size {
                    bail!(
                        "{}: `eos_token_id` {id} is not a token id below config.json's `vocab_size` {}",
                        gen_path.display(),
                        c.vocab_size
                    );
                }
                if !c.eos_token_ids.contains(&id) {
                    c.eos_token_ids.push(id);
                }
            }
        }
        Ok(c)
    }

    pub fn from_json(v: &Value) -> Result<Self> {
        let arch = v
            .get("architectures")
            .and_then(|a| a.get(0))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                v.get("model_type")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .context("neither `architectures` nor `model_type` is given")?;
        let family = match arch.as_str() {
            "LlamaForCausalLM" | "llama" => Family::Llama,
            "Qwen2ForCausalLM" | "qwen2" => Family::Qwen2,
            "Qwen3ForCausalLM" | "qwen3" => Family::Qwen3,
            other => bail!(
                "architecture `{other}` is not supported (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM are)"
            ),
        };
        // Every value the decoder reads is checked for its type and range: a wrong one is
        // refused by name, never replaced by a default.
        let present = |k: &str| v.get(k).filter(|x| !x.is_null());
        let uint = |k: &str| -> Result<usize> {
            match present(k).map(|x| x.as_u64()) {
                Some(Some(x)) if x > 0 => Ok(x as usize),
                Some(Some(_)) => bail!("`{k}` must be at least 1, not 0"),
                _ => bail!("`{k}` is missing or not a whole number"),
            }
        };
        let opt_uint = |k: &str| -> Result<Option<usize>> {
            match present(k) {
                None => Ok(None),
                Some(_) => uint(k).map(Some),
            }
        };
        let boolean = |k: &str, default: bool| -> Result<bool> {
            match present(k) {
                None => Ok(default),
                Some(Value::Bool(b)) => Ok(*b),
                Some(other) => bail!("`{k}` = {other} is not true or false"),
            }
        };
        let positive = |x: Option<&Value>, k: &str, default: f64| -> Result<f64> {
            match x.filter(|x| !x.is_null()) {
                None => Ok(default),
                Some(n) => match n.as_f64() {
                    Some(f) if f.is_finite() && f > 0.0 => Ok(f),
                    _ => bail!("`{k}` = {n} is not a positive number"),
                },
            }
        };
        let hidden_size = uint("hidden_size")?;
        let num_heads = uint("num_attention_heads")?;
        let num_kv_heads = opt_uint("num_key_value_heads")?.unwrap_or(num_heads);
        if num_heads == 0 || num_kv_heads == 0 || num_heads % num_kv_heads != 0 {
            bail!(
                "`num_attention_heads` {num_heads} is not a multiple of `num_key_value_heads` {num_kv_heads}"
            );
        }
        let head_dim = opt_uint("head_dim")?.unwrap_or(hidden_size / num_heads);
        if head_dim == 0 || head_dim % 2 != 0 {
            bail!("`head_dim` {head_dim} must be even and positive");
        }
        if let Some(act) = v.get("hidden_act").and_then(Value::as_str)
            && act != "silu"
        {
            bail!("`hidden_act` = \"{act}\" is not supported (only silu)");
        }
        if boolean("use_sliding_window", false)? {
            bail!("`use_sliding_window` = true is not supported");
        }
        if v.get("num_experts").and_then(Value::as_u64).unwrap_or(0) > 0 {
            bail!("mixture-of-experts models (`num_experts`) are not supported");
        }
        // RoPE: top-level `rope_theta` + `rope_scaling` (older saves) or `rope_parameters`.
        let params = v.get("rope_parameters").filter(|p| p.is_object());
        let scaling = params.or_else(|| v.get("rope_scaling").filter(|p| p.is_object()));
        let rope_theta = positive(
            params
                .and_then(|p| p.get("rope_theta"))
                .or_else(|| v.get("rope_theta")),
            "rope_theta",
            10_000.0,
        )?;
        if let Some(f) = scaling
            .and_then(|p| p.get("partial_rotary_factor"))
            .or_else(|| v.get("partial_rotary_factor"))
            .and_then(Value::as_f64)
            && f != 1.0
        {
            bail!("`partial_rotary_factor` = {f} is not supported");
        }
        let rope_type = scaling
            .and_then(|p| p.get("rope_type").or_else(|| p.get("type")))
            .and_then(Value::as_str)
            .unwrap_or("default");
        let rope_scaling = match rope_type {
            "default" => RopeScaling::None,
            "llama3" => {
                let p = scaling.expect("rope_type came from it");
                let f = |k: &str| {
                    p.get(k)
                        .and_then(Value::as_f64)
                        .with_context(|| format!("llama3 rope scaling needs `{k}`"))
                };
                RopeScaling::Llama3 {
                    factor: f("factor")?,
                    low_freq_factor: f("low_freq_factor")?,
                    high_freq_factor: f("high_freq_factor")?,
                    original_max_position_embeddings: f("original_max_position_embeddings")?,
                }
            }
            other => bail!("rope type `{other}` is not supported (default and llama3 are)"),
        };
        let attention_bias = boolean("attention_bias", false)?;
        let vocab_size = uint("vocab_size")?;
        let token_ids = |k: &str| -> Result<Vec<u32>> {
            let got = ids(present(k));
            if let Some(bad) = got.iter().find(|&&t| t as usize >= vocab_size) {
                bail!("`{k}` {bad} is not a token id below `vocab_size` {vocab_size}");
            }
            if present(k).is_some() && got.is_empty() {
                bail!("`{k}` = {} is not a token id or a list of them", v[k]);
            }
            Ok(got)
        };
        let eos = token_ids("eos_token_id")?;
        let bos = token_ids("bos_token_id")?;
        Ok(Self {
            family,
            architecture: arch,
            vocab_size,
            hidden_size,
            intermediate_size: uint("intermediate_size")?,
            num_layers: uint("num_hidden_layers")?,
            num_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: positive(v.get("rms_norm_eps"), "rms_norm_eps", 1e-6)?,
            rope_theta,
            rope_scaling,
            max_position_embeddings: opt_uint("max_position_embeddings")?.unwrap_or(2048),
            tie_word_embeddings: boolean("tie_word_embeddings", false)?,
            qkv_bias: family == Family::Qwen2 || attention_bias,
            o_bias: family != Family::Qwen2 && attention_bias,
            mlp_bias: boolean("mlp_bias", false)?,
            qk_norm: family == Family::Qwen3,
            bos_token_id: bos.first().copied(),
            eos_token_ids: eos,
        })
    }

    /// `θ^(−2i/d)` per frequency, with Llama 3's scaling by parts when configured
    /// (`transformers` `_compute_llama3_parameters`).
    pub fn inv_freq(&self) -> Vec<f64> {
        let d = self.head_dim;
        let base: Vec<f64> = (0..d / 2)
            .map(|i| 1.0 / self.rope_theta.powf((2 * i) as f64 / d as f64))
            .collect();
        match self.rope_scaling {
            RopeScaling::None => base,
            RopeScaling::Factors(ref f) => base.iter().zip(f).map(|(b, f)| b / f).collect(),
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings: old,
            } => {
                let low_wavelen = old / low_freq_factor;
                let high_wavelen = old / high_freq_factor;
                base.into_iter()
                    .map(|f| {
                        let wavelen = 2.0 * std::f64::consts::PI / f;
                        if wavelen > low_wavelen {
                            f / factor
                        } else if wavelen < high_wavelen {
                            f
                        } else {
                            let smooth = (old / wavelen - low_freq_factor)
                                / (high_freq_factor - low_freq_factor);
                            (1.0 - smooth) * f / factor + smooth * f
                        }
                    })
                    .collect()
            }
        }
    }

    /// Parameters of the model (untied head counted once).
    pub fn num_params(&self) -> usize {
        let (d, h, kv, hd, i) = (
            self.hidden_size,
            self.num_heads,
            self.num_kv_heads,
            self.head_dim,
            self.intermediate_size,
        );
        let attn = d * h * hd * 2
            + d * kv * hd * 2
            + if self.qkv_bias {
                h * hd + 2 * kv * hd
            } else {
                0
            }
            + if self.o_bias { d } else { 0 }
            + if self.qk_norm { 2 * hd } else { 0 };
        let mlp = 3 * d * i + if self.mlp_bias { 2 * i + d } else { 0 };
        let layer = attn + mlp + 2 * d;
        let embed = self.vocab_size * d;
        embed + self.num_layers * layer + d + if self.tie_word_embeddings { 0 } else { embed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Value {
        serde_json::json!({
            "architectures": ["LlamaForCausalLM"], "vocab_size": 10, "hidden_size": 8,
            "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
        })
    }

    #[test]
    fn reads_both_rope_layouts() {
        let mut v = base();
        v["rope_theta"] = 500.0.into();
        assert_eq!(HfConfig::from_json(&v).unwrap().rope_theta, 500.0);
        let mut v = base();
        v["rope_parameters"] = serde_json::json!({"rope_type": "default", "rope_theta": 7.0});
        let c = HfConfig::from_json(&v).unwrap();
        assert_eq!(c.rope_theta, 7.0);
        assert_eq!(c.head_dim, 4);
        assert_eq!(c.num_kv_heads, 2);
    }

    #[test]
    fn llama3_scaling_by_parts() {
        // head_dim 4, θ 100: base frequencies 1 and 0.1 (wavelengths 2π and 20π ≈ 62.8).
        // old context 32, low 1, high 4: low wavelength 32, high 8. 2π < 8 keeps 1;
        // 62.8 > 32 divides 0.1 by the factor 8 = 0.0125.
        let mut v = base();
        v["num_attention_heads"] = 2.into();
        v["rope_parameters"] = serde_json::json!({"rope_type": "llama3", "rope_theta": 100.0,
            "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 32});
        let f = HfConfig::from_json(&v).unwrap().inv_freq();
        assert!(
            (f[0] - 1.0).abs() < 1e-12 && (f[1] - 0.0125).abs() < 1e-12,
            "{f:?}"
        );
        // With old context 200 the second wavelength (62.8) lies between 50 and 200:
        // smooth = (200/62.83 − 1)/3 = 0.7277, f = (1 − s)·0.1/8 + s·0.1 = 0.07618.
        v["rope_parameters"]["original_max_position_embeddings"] = 200.into();
        let f = HfConfig::from_json(&v).unwrap().inv_freq();
        let s = (200.0 / (20.0 * std::f64::consts::PI) - 1.0) / 3.0;
        assert!((f[1] - ((1.0 - s) * 0.0125 + s * 0.1)).abs() < 1e-12);
        assert!((f[1] - 0.07618).abs() < 1e-4, "{f:?}");
    }

    #[test]
    fn refuses_what_it_cannot_run_by_name() {
        let mut v = base();
        v["architectures"] = serde_json::json!(["MistralForCausalLM"]);
        assert!(
            HfConfig::from_json(&v)
                .unwrap_err()
                .to_string()
                .contains("MistralForCausalLM")
        );
        let mut v = base();
        v["hidden_act"] = "gelu".into();
        assert!(
            HfConfig::from_json(&v)
                .unwrap_err()
                .to_string()
                .contains("hidden_act")
        );
        let mut v = base();
        v["use_sliding_window"] = true.into();
        assert!(
            HfConfig::from_json(&v)
                .unwrap_err()
                .to_string()
                .contains("use_sliding_window")
        );
        let mut v = base();
        v.as_object_mut().unwrap().remove("vocab_size");
        assert!(
            HfConfig::from_json(&v)
                .unwrap_err()
                .to_string()
                .contains("vocab_size")
        );
    }

    #[test]
    fn qwen2_biases_and_eos_lists() {
        let mut v = base();
        v["architectures"] = serde_json::json!(["Qwen2ForCausalLM"]);
        v["eos_token_id"] = serde_json::json!([3, 4]);
        let c = HfConfig::from_json(&v).unwrap();
        assert!(c.qkv_bias && !c.o_bias && !c.qk_norm);
        assert_eq!(c.eos_token_ids, vec![3, 4]);
        // SmolLM2-135M: 134,515,008 parameters (its model card's count).
        let smol = serde_json::json!({"architectures": ["LlamaForCausalLM"], "vocab_size": 49152,
            "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
            "num_attention_heads": 9, "num_key_value_heads": 3, "tie_word_embeddings": true});
        assert_eq!(
            HfConfig::from_json(&smol).unwrap().num_params(),
            134_515_008
        );
    }
}
