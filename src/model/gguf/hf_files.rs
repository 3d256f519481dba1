//! The Hugging Face files of a GGUF base, from its metadata: `config.json`,
//! `generation_config.json`, `tokenizer.json` (the tokenizer hytune rebuilt from
//! `tokenizer.ggml.*`) and `tokenizer_config.json` (with the chat template), so a run that started
//! from a GGUF file exports a folder transformers and vLLM load.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value as Json, json};

use super::GgufFile;
use super::reader::Value;
use crate::model::hf::config::RopeScaling;
use crate::model::hf::{Family, HfConfig};

/// `config.json` of `c`, in transformers' keys.
pub fn config_json(c: &HfConfig, file: &Path) -> Result<Json> {
    let model_type = match c.family {
        Family::Llama => "llama",
        Family::Qwen2 => "qwen2",
        Family::Qwen3 => "qwen3",
    };
    let rope_scaling = match &c.rope_scaling {
        RopeScaling::None => Json::Null,
        RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        } => json!({
            "rope_type": "llama3",
            "factor": factor,
            "low_freq_factor": low_freq_factor,
            "high_freq_factor": high_freq_factor,
            "original_max_position_embeddings": original_max_position_embeddings,
        }),
        RopeScaling::Factors(f) => match llama3_from_factors(c, f) {
            Some(RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            }) => json!({
                "rope_type": "llama3",
                "factor": factor,
                "low_freq_factor": low_freq_factor,
                "high_freq_factor": high_freq_factor,
                "original_max_position_embeddings": original_max_position_embeddings,
            }),
            _ => bail!(
                "{}: its RoPE scaling is stored as per-frequency factors (rope_freqs.weight) that match no Llama 3 setting config.json can name; export it with --format gguf",
                file.display()
            ),
        },
    };
    let eos = match c.eos_token_ids.as_slice() {
        [one] => json!(one),
        many => json!(many),
    };
    let mut v = json!({
        "architectures": [c.architecture],
        "model_type": model_type,
        "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_layers,
        "num_attention_heads": c.num_heads,
        "num_key_value_heads": c.num_kv_heads,
        "head_dim": c.head_dim,
        "max_position_embeddings": c.max_position_embeddings,
        "rms_norm_eps": c.rms_norm_eps,
        "rope_theta": c.rope_theta,
        "rope_scaling": rope_scaling,
        "vocab_size": c.vocab_size,
        "tie_word_embeddings": c.tie_word_embeddings,
        "hidden_act": "silu",
        "bos_token_id": c.bos_token_id,
        "eos_token_id": eos,
        "torch_dtype": "float32",
    });
    if c.family == Family::Llama {
        let o = v.as_object_mut().expect("an object");
        o.insert("attention_bias".into(), c.qkv_bias.into());
        o.insert("mlp_bias".into(), c.mlp_bias.into());
    }
    Ok(v)
}

/// Llama 3's scaling parameters that give these per-frequency factors (as llama.cpp's converter
/// wrote them, f32), checked by recomputing them; `None` if no setting does. Only
/// `old / (high − low)` and `low / (high − low)` show in the factors, so `low` is taken as 1.
pub fn llama3_from_factors(c: &HfConfig, f: &[f64]) -> Option<RopeScaling> {
    let factor = f.iter().copied().fold(1.0, f64::max);
    let plain = HfConfig {
        rope_scaling: RopeScaling::None,
        ..c.clone()
    }
    .inv_freq();
    let wavelen: Vec<f64> = plain
        .iter()
        .map(|b| 2.0 * std::f64::consts::PI / b)
        .collect();
    let tol = 1e-5;
    // In the smooth band: (1 − s)/factor + s = 1/f, with s = old/wavelen·k − low·k (k = 1/(high − low)).
    let band: Vec<(f64, f64)> = f
        .iter()
        .zip(&wavelen)
        .filter(|(x, _)| **x > 1.0 + tol && **x < factor * (1.0 - tol))
        .map(|(x, w)| (1.0 / w, (1.0 / x - 1.0 / factor) / (1.0 - 1.0 / factor)))
        .collect();
    let (old, high) = if band.len() >= 2 {
        let (p, q) = (band[0], band[band.len() - 1]);
        let a = (q.1 - p.1) / (q.0 - p.0);
        let b = p.1 - a * p.0;
        if b >= 0.0 {
            return None;
        }
        let high = 1.0 - 1.0 / b;
        (a * (high - 1.0), high)
    } else if let [(inv_w, s0)] = band[..] {
        // One frequency in the band: the band's top edge (old) anywhere below the first scaled
        // wavelength, its bottom edge (old / high) then set by that frequency's factor.
        let w0 = 1.0 / inv_w;
        let w2 = f
            .iter()
            .zip(&wavelen)
            .filter(|(x, _)| **x >= factor * (1.0 - tol))
            .map(|(_, w)| *w)
            .fold(4.0 * w0, f64::min);
        let old = (w0 * w2).sqrt();
        (old, 1.0 + (old / w0 - 1.0) / s0)
    } else {
        // No frequency in the band: any edges between the last unscaled wavelength and the
        // first scaled one.
        let w1 = f
            .iter()
            .zip(&wavelen)
            .filter(|(x, _)| **x <= 1.0 + tol)
            .map(|(_, w)| *w)
            .fold(0.0, f64::max);
        let w2 = f
            .iter()
            .zip(&wavelen)
            .filter(|(x, _)| **x >= factor * (1.0 - tol))
            .map(|(_, w)| *w)
            .fold(f64::INFINITY, f64::min);
        if !(w1 > 0.0 && w2.is_finite() && w2 > w1) {
            return None;
        }
        let old = (w1 * w2).sqrt();
        (old, (1.0 + old / w1) / 2.0)
    };
    let s = RopeScaling::Llama3 {
        factor,
        low_freq_factor: 1.0,
        high_freq_factor: high,
        original_max_position_embeddings: old,
    };
    let got = HfConfig {
        rope_scaling: s.clone(),
        ..c.clone()
    }
    .inv_freq();
    let want = plain.iter().zip(f).map(|(b, f)| b / f);
    got.iter()
        .zip(want)
        .all(|(g, w)| ((g - w) / w).abs() < tol)
        .then_some(s)
}

/// Writes the tokenizer and generation files of `g` into `dir`.
pub fn write_tokenizer_files(g: &GgufFile, c: &HfConfig, dir: &Path) -> Result<()> {
    let file = g.path.display();
    let tok = super::tokenizer::for_file(&g.path, &g.gguf)
        .map_err(|e| anyhow::anyhow!("{file}: {e:#}"))?;
    tok.save(dir.join("tokenizer.json"), true)
        .map_err(|e| anyhow::anyhow!("cannot write tokenizer.json: {e}"))?;
    let name = |id: Option<u32>| id.and_then(|i| tok.id_to_token(i));
    let mut tc = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": name(c.bos_token_id),
        "eos_token": name(c.eos_token_ids.first().copied()),
        "model_max_length": c.max_position_embeddings,
    });
    if let Some(Value::Str(t)) = g.gguf.get("tokenizer.chat_template") {
        tc.as_object_mut()
            .expect("an object")
            .insert("chat_template".into(), t.clone().into());
    }
    let write = |n: &str, v: &Json| -> Result<()> {
        std::fs::write(dir.join(n), serde_json::to_string_pretty(v)?)
            .with_context(|| format!("cannot write {n}"))
    };
    write("tokenizer_config.json", &tc)?;
    write(
        "generation_config.json",
        &json!({ "bos_token_id": c.bos_token_id, "eos_token_id": c.eos_token_ids }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Llama 3.1's setting (θ 500000, factor 8, low 1, high 4, old 8192) on a head of 128.
    fn llama31() -> HfConfig {
        let v = json!({
            "architectures": ["LlamaForCausalLM"], "vocab_size": 10, "hidden_size": 256,
            "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
            "rope_theta": 500000.0,
            "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
        });
        HfConfig::from_json(&v).unwrap()
    }

    #[test]
    fn llama3_parameters_come_back_from_their_factors() {
        let c = llama31();
        let scaled = c.inv_freq();
        let plain = HfConfig {
            rope_scaling: RopeScaling::None,
            ..c.clone()
        }
        .inv_freq();
        // The per-frequency divisors llama.cpp's converter writes, rounded to f32 as in the file.
        let f: Vec<f64> = plain
            .iter()
            .zip(&scaled)
            .map(|(p, s)| (p / s) as f32 as f64)
            .collect();
        assert!(f.iter().any(|x| *x > 1.01 && *x < 7.9), "some in the band");
        let got = llama3_from_factors(&c, &f).expect("recovered");
        let back = HfConfig {
            rope_scaling: got.clone(),
            ..c.clone()
        }
        .inv_freq();
        assert!(
            back.iter()
                .zip(&scaled)
                .all(|(a, b)| ((a - b) / b).abs() < 1e-5),
            "{got:?}"
        );
        // Only old/(high − low) and low/(high − low) show: with low = 1 they are Llama 3.1's.
        let RopeScaling::Llama3 {
            factor,
            high_freq_factor,
            original_max_position_embeddings,
            ..
        } = got
        else {
            panic!()
        };
        assert_eq!(factor, 8.0);
        assert!((high_freq_factor - 4.0).abs() < 1e-3, "{high_freq_factor}");
        assert!((original_max_position_embeddings - 8192.0).abs() < 1.0);
        // Factors that fall and rise again fit no setting: refused.
        let mut bad = f.clone();
        bad[1] = 3.0;
        bad[2] = 1.5;
        assert_eq!(llama3_from_factors(&c, &bad), None);
    }
}
