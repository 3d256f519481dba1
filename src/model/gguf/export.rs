//! `hytune export --format gguf`: a post-trained model as one GGUF file, in llama.cpp's names
//! and layout, with the config, tokenizer and chat template as metadata (see [`super::writer`]).

use crate::method::certify::Certificate;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value as Json;

use super::reader::Value;
use super::{GgufFile, ROPE_FREQS, dequant, gguf_path, reorder, writer};
use crate::model::hf::{self, HfLm};

/// llama.cpp's interleaving of each head's q or k rows (`convert_hf_to_gguf.py`'s permute):
/// the inverse of [`unpermute`].
pub fn permute(w: &[f32], rows: usize, heads: usize) -> Vec<f32> {
    reorder(w, rows, heads, true)
}

/// The GGUF name of a Hugging Face tensor name (the inverse of the loader's mapping).
fn gguf_name(hf: &str) -> Option<String> {
    let fixed = match hf {
        "model.embed_tokens.weight" => Some("token_embd.weight"),
        "model.norm.weight" => Some("output_norm.weight"),
        "lm_head.weight" => Some("output.weight"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(f.to_string());
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, rest) = rest.split_once('.')?;
    let (module, suffix) = rest.rsplit_once('.')?;
    let kind = match module {
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "self_attn.q_norm" => "attn_q_norm",
        "self_attn.k_norm" => "attn_k_norm",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        "input_layernorm" => "attn_norm",
        "post_attention_layernorm" => "ffn_norm",
        _ => return None,
    };
    Some(format!("blk.{layer}.{kind}.{suffix}"))
}

/// F32 tensors of a safetensors file: name → (shape, values).
fn read_f32_safetensors(path: &Path) -> Result<Vec<(String, Vec<usize>, Vec<f32>)>> {
    let b = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let n = u64::from_le_bytes(b[..8].try_into()?) as usize;
    let head: serde_json::Map<String, Json> = serde_json::from_slice(&b[8..8 + n])?;
    let mut out = Vec::new();
    for (name, v) in head {
        if name == "__metadata__" {
            continue;
        }
        if v["dtype"] != "F32" {
            bail!(
                "{}: tensor `{name}` is {} (F32 expected)",
                path.display(),
                v["dtype"]
            );
        }
        let shape: Vec<usize> = serde_json::from_value(v["shape"].clone())?;
        let [s, e]: [usize; 2] = serde_json::from_value(v["data_offsets"].clone())?;
        let data = &b[8 + n + s..8 + n + e];
        out.push((
            name,
            shape,
            data.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ));
    }
    Ok(out)
}

/// The tokenizer metadata of a Hugging Face `tokenizer.json` (GPT-2 byte-level BPE).
fn tokenizer_metadata(dir: &Path, vocab: usize) -> Result<Vec<(String, Value)>> {
    let path = dir.join("tokenizer.json");
    let v: Json = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .with_context(|| format!("{}: cannot read", path.display()))?,
    )
    .with_context(|| format!("{}: not valid JSON", path.display()))?;
    if v["model"]["type"] != "BPE" {
        bail!(
            "{}: only BPE tokenizers are written to GGUF",
            path.display()
        );
    }
    // SentencePiece's BPE (Llama 2, TinyLlama, Mistral) spells spaces as `▁` and falls back to
    // byte pieces: written as GPT-2's byte-level BPE it would tokenize wrongly in llama.cpp.
    if v["model"]["byte_fallback"] == true {
        bail!(
            "{}: a SentencePiece tokenizer (byte_fallback) is not written to GGUF; export --format hf and convert that with llama.cpp's convert_hf_to_gguf.py (a GGUF base's own tokenizer is copied as it is)",
            path.display()
        );
    }
    let mut tokens = vec![String::new(); vocab];
    let mut kinds = vec![Value::Int(5); vocab];
    let mut put = |t: &str, id: u64, kind: i64| {
        if let Some(slot) = tokens.get_mut(id as usize) {
            *slot = t.to_string();
            kinds[id as usize] = Value::Int(kind);
        }
    };
    for (t, id) in v["model"]["vocab"].as_object().into_iter().flatten() {
        put(t, id.as_u64().unwrap_or(u64::MAX), 1);
    }
    for a in v["added_tokens"].as_array().into_iter().flatten() {
        let special = a["special"].as_bool().unwrap_or(false);
        put(
            a["content"].as_str().unwrap_or(""),
            a["id"].as_u64().unwrap_or(u64::MAX),
            if special { 3 } else { 4 },
        );
    }
    for (i, t) in tokens.iter_mut().enumerate() {
        if t.is_empty() {
            *t = format!("[PAD{i}]");
        }
    }
    let merges: Vec<Value> = v["model"]["merges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| match m {
            Json::Array(p) => Value::Str(
                p.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            other => Value::Str(other.as_str().unwrap_or("").to_string()),
        })
        .collect();
    let pre = v["pre_tokenizer"].to_string();
    let pre = if pre.contains("Split") {
        "qwen2"
    } else if pre.contains("Digits") {
        "smollm"
    } else {
        "gpt2"
    };
    let add_bos = v["post_processor"]["type"] == "TemplateProcessing";
    Ok(vec![
        ("tokenizer.ggml.model".into(), Value::Str("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::Str(pre.into())),
        (
            "tokenizer.ggml.tokens".into(),
            Value::Array(tokens.into_iter().map(Value::Str).collect()),
        ),
        ("tokenizer.ggml.token_type".into(), Value::Array(kinds)),
        ("tokenizer.ggml.merges".into(), Value::Array(merges)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(add_bos)),
    ])
}

/// Writes `model` (started from the model at `base`: a GGUF file or a Hugging Face directory)
/// as the GGUF file `out` with matrices in `format` (f32, f16, bf16, q8_0) and norms in F32.
/// A certified abstention threshold as GGUF metadata: `hytune.certificate` (the whole record as
/// JSON, exact) and its figures as GGUF numbers (f32; `hytune.certificate.threshold` only when one
/// was certified).
pub fn certificate_metadata(cert: Option<&Certificate>) -> Vec<(String, Value)> {
    let Some(c) = cert else { return Vec::new() };
    let key = |k: &str| format!("hytune.certificate.{k}");
    let mut meta = vec![
        (
            "hytune.certificate".to_string(),
            Value::Str(serde_json::to_string(c).expect("a certificate serializes")),
        ),
        (key("epsilon"), Value::Float(c.epsilon)),
        (key("delta"), Value::Float(c.delta)),
        (key("coverage"), Value::Float(c.coverage)),
        (key("n"), Value::Uint(c.n as u64)),
        (key("score"), Value::Str(c.score.clone())),
    ];
    if let Some(t) = c.threshold {
        meta.push((key("threshold"), Value::Float(t)));
    }
    meta
}

pub fn export(
    model: &HfLm,
    base: &Path,
    out: &Path,
    format: &str,
    cert: Option<&Certificate>,
) -> Result<()> {
    use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot};
    let Some(kind) = writer::format_type(format) else {
        bail!(
            "--dtype {format}: a GGUF export writes one of {}",
            writer::FORMATS.join(", ")
        );
    };
    if out.exists() {
        bail!("{}: exists already; not overwriting", out.display());
    }
    let c = model.config();
    let arch = match c.family {
        hf::Family::Llama => "llama",
        hf::Family::Qwen2 => "qwen2",
        hf::Family::Qwen3 => "qwen3",
    };
    // The weights in Hugging Face's layout and names, through a safetensors file of our own.
    let tmp = crate::publish::unique_tmp(&out.with_extension("safetensors"));
    let mut store =
        burn::store::SafetensorsStore::from_file(&tmp).with_to_adapter(BurnToPyTorchAdapter);
    let saved = model
        .save_into(&mut store)
        .map_err(|e| anyhow::anyhow!("{e}"));
    let read = saved.and_then(|_| read_f32_safetensors(&tmp));
    let _ = std::fs::remove_file(&tmp);
    let mut tensors = Vec::new();
    for (name, shape, mut values) in read? {
        if name == "lm_head.weight" && c.tie_word_embeddings {
            continue;
        }
        let Some(g) = gguf_name(&name) else {
            bail!("tensor `{name}` has no GGUF name");
        };
        if arch == "llama" && name.ends_with("q_proj.weight") {
            values = permute(&values, shape[0], c.num_heads);
        } else if arch == "llama" && name.ends_with("k_proj.weight") {
            values = permute(&values, shape[0], c.num_kv_heads);
        }
        let (block, _) = kind.block();
        let k = if shape.len() == 1 || shape.last().is_some_and(|n| n % block != 0) {
            dequant::GgmlType::F32
        } else {
            kind
        };
        tensors.push(writer::Tensor {
            name: g,
            shape,
            kind: k,
            values,
        });
    }
    if let hf::config::RopeScaling::Factors(f) = &c.rope_scaling {
        tensors.push(writer::Tensor {
            name: ROPE_FREQS.into(),
            shape: vec![f.len()],
            kind: dequant::GgmlType::F32,
            values: f.iter().map(|&x| x as f32).collect(),
        });
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    let u = |x: usize| Value::Uint(x as u64);
    let key = |k: &str| format!("{arch}.{k}");
    let mut meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::Str(arch.into())),
        (
            "general.name".into(),
            Value::Str(out.file_stem().unwrap_or_default().to_string_lossy().into()),
        ),
        (key("block_count"), u(c.num_layers)),
        (key("context_length"), u(c.max_position_embeddings)),
        (key("embedding_length"), u(c.hidden_size)),
        (key("feed_forward_length"), u(c.intermediate_size)),
        (key("attention.head_count"), u(c.num_heads)),
        (key("attention.head_count_kv"), u(c.num_kv_heads)),
        (key("attention.key_length"), u(c.head_dim)),
        (key("attention.value_length"), u(c.head_dim)),
        (key("rope.freq_base"), Value::Float(c.rope_theta)),
        (
            key("attention.layer_norm_rms_epsilon"),
            Value::Float(c.rms_norm_eps),
        ),
        (key("vocab_size"), u(c.vocab_size)),
    ];
    meta.extend(certificate_metadata(cert));
    if matches!(c.rope_scaling, hf::config::RopeScaling::Llama3 { .. }) {
        bail!("Llama 3 RoPE scaling from a Hugging Face directory is not written to GGUF yet");
    }
    if let Some(file) = gguf_path(base) {
        // The tokenizer and template exactly as the base file had them.
        let b = GgufFile::open(&file)?;
        meta.extend(
            b.gguf
                .metadata
                .iter()
                .filter(|(k, _)| k.starts_with("tokenizer."))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    } else {
        meta.extend(tokenizer_metadata(base, c.vocab_size)?);
        if let Some(t) = hf::load::chat_template(base)? {
            meta.push(("tokenizer.chat_template".into(), Value::Str(t)));
        }
        if let Some(b) = c.bos_token_id {
            meta.push(("tokenizer.ggml.bos_token_id".into(), u(b as usize)));
        }
        if let Some(&e) = c.eos_token_ids.first() {
            meta.push(("tokenizer.ggml.eos_token_id".into(), u(e as usize)));
        }
    }
    writer::write(out, &meta, &tensors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentencepiece_tokenizer_json_is_refused_not_written_as_gpt2() {
        let dir = crate::scratch::TempDir::new().unwrap();
        let bpe = |fallback: bool| {
            format!(
                r#"{{"model": {{"type": "BPE", "byte_fallback": {fallback}, "vocab": {{"a": 0, "b": 1, "ab": 2}}, "merges": ["a b"]}}, "pre_tokenizer": null, "added_tokens": []}}"#
            )
        };
        std::fs::write(dir.path().join("tokenizer.json"), bpe(true)).unwrap();
        let e = format!("{:#}", tokenizer_metadata(dir.path(), 3).unwrap_err());
        assert!(
            e.contains("tokenizer.json") && e.contains("SentencePiece"),
            "{e}"
        );
        std::fs::write(dir.path().join("tokenizer.json"), bpe(false)).unwrap();
        let meta = tokenizer_metadata(dir.path(), 3).unwrap();
        assert_eq!(meta[0].1, Value::Str("gpt2".into()));
    }
}
