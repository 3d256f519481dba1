//! A LoRA run's adapters in the formats the ecosystem loads onto the unchanged base:
//!
//! - **PEFT** (`hytune export --format peft`): `adapter_config.json` and
//!   `adapter_model.safetensors` with `base_model.model.model.layers.{i}.{self_attn|mlp}.{x}_proj
//!   .lora_{A,B}.weight`, `lora_A` `[r, in]` and `lora_B` `[out, r]` (Burn's factors transposed),
//!   F32 with `format = pt`, as `PeftModel.save_pretrained` writes them.
//! - **GGUF LoRA** (`--format gguf-lora`): `general.type = adapter`, `adapter.type = lora`,
//!   `adapter.lora.alpha`, tensors `blk.{i}.attn_q.weight.lora_a` / `.lora_b` as llama.cpp's
//!   `convert_lora_to_gguf.py` writes them (lora_b rows permuted for Llama's q and k; α·√r for
//!   rsLoRA, since llama.cpp scales by α/r), and an Ollama `Modelfile` (`FROM`, `ADAPTER`) beside.

use crate::method::certify::Certificate;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::gguf::reader::Value;
use super::gguf::{dequant, writer};
use super::hf::{Family, HfLm};
use super::to_vec;
use crate::config::Lora as LoraConfig;

/// One adapted projection: its Hugging Face module name and PEFT's two matrices, row-major:
/// `lora_a` `[r, in]`, `lora_b` `[out, r]`.
pub struct Factors {
    pub module: String,
    pub rank: usize,
    pub d_in: usize,
    pub d_out: usize,
    pub lora_a: Vec<f32>,
    pub lora_b: Vec<f32>,
}

/// The model's adapters as PEFT lays them out.
pub fn factors(model: &HfLm) -> Vec<Factors> {
    model
        .adapters()
        .into_iter()
        .map(|(module, l)| {
            let (a, b) = (l.a.val(), l.b.val()); // [in, r], [r, out]
            let [d_in, rank] = a.dims();
            let d_out = b.dims()[1];
            Factors {
                module,
                rank,
                d_in,
                d_out,
                lora_a: to_vec(a.transpose()),
                lora_b: to_vec(b.transpose()),
            }
        })
        .collect()
}

/// PEFT's module names of the targets (`q` → `q_proj`).
fn peft_targets(lora: &LoraConfig) -> Vec<String> {
    lora.targets.iter().map(|t| format!("{t}_proj")).collect()
}

/// `adapter_config.json` as PEFT 0.21's `LoraConfig` saves it.
pub fn peft_config(lora: &LoraConfig, base: &Path) -> serde_json::Value {
    json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base.display().to_string(),
        "revision": null,
        "inference_mode": true,
        "r": lora.rank,
        "lora_alpha": lora.alpha,
        "lora_dropout": 0.0,
        "use_rslora": lora.rslora,
        "use_dora": false,
        "bias": "none",
        "fan_in_fan_out": false,
        "init_lora_weights": true,
        "target_modules": peft_targets(lora),
        "modules_to_save": null,
        "layers_to_transform": null,
        "layers_pattern": null,
        "rank_pattern": {},
        "alpha_pattern": {},
    })
}

/// A safetensors file of F32 tensors (name, shape, values) with `metadata`.
pub fn safetensors_f32(
    tensors: &[(String, Vec<usize>, &[f32])],
    metadata: &[(&str, &str)],
) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        let m: serde_json::Map<String, serde_json::Value> = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        header.insert("__metadata__".into(), serde_json::Value::Object(m));
    }
    let mut at = 0usize;
    for (name, shape, values) in tensors {
        let bytes = values.len() * 4;
        header.insert(
            name.clone(),
            json!({"dtype": "F32", "shape": shape, "data_offsets": [at, at + bytes]}),
        );
        at += bytes;
    }
    let mut head = serde_json::to_vec(&serde_json::Value::Object(header)).expect("json");
    while head.len() % 8 != 0 {
        head.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + head.len() + at);
    out.extend((head.len() as u64).to_le_bytes());
    out.extend(head);
    for (_, _, values) in tensors {
        for x in values.iter() {
            out.extend(x.to_le_bytes());
        }
    }
    out
}

fn check_adapters(model: &HfLm, lora: &LoraConfig, checkpoint: &Path) -> Result<Vec<Factors>> {
    let f = factors(model);
    if lora.rank == 0 || f.is_empty() {
        bail!(
            "{}: a checkpoint of full fine-tuning holds no adapters (lora.rank = 0); export it with --format hf or gguf",
            checkpoint.display()
        );
    }
    Ok(f)
}

/// `hytune export --format peft`: the adapter folder `out` (new or empty) for
/// `PeftModel.from_pretrained(base, out)`.
pub fn export_peft(
    model: &HfLm,
    lora: &LoraConfig,
    base: &Path,
    checkpoint: &Path,
    out: &Path,
    cert: Option<&Certificate>,
) -> Result<()> {
    let f = check_adapters(model, lora, checkpoint)?;
    let mut tensors = Vec::with_capacity(2 * f.len());
    for x in &f {
        let name = |ab: &str| format!("base_model.model.{}.lora_{ab}.weight", x.module);
        tensors.push((name("A"), vec![x.rank, x.d_in], x.lora_a.as_slice()));
        tensors.push((name("B"), vec![x.d_out, x.rank], x.lora_b.as_slice()));
    }
    let bytes = safetensors_f32(&tensors, &[("format", "pt")]);
    let mut config = peft_config(lora, base);
    if let (Some(c), Some(o)) = (cert, config.as_object_mut()) {
        o.insert(
            super::hf::export::CERTIFICATE_KEY.into(),
            serde_json::to_value(c)?,
        );
    }
    let config = serde_json::to_string_pretty(&config)?;
    super::hf::export::into_new_folder(out, |tmp| {
        std::fs::write(tmp.join("adapter_model.safetensors"), &bytes)?;
        std::fs::write(tmp.join("adapter_config.json"), &config)?;
        Ok(())
    })
}

/// llama.cpp's name of a projection's weight (`model.layers.3.self_attn.q_proj` →
/// `blk.3.attn_q.weight`).
fn gguf_weight_name(module: &str) -> Option<String> {
    let rest = module.strip_prefix("model.layers.")?;
    let (layer, m) = rest.split_once('.')?;
    let kind = match m {
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        _ => return None,
    };
    Some(format!("blk.{layer}.{kind}.weight"))
}

/// `adapter.lora.alpha` as llama.cpp reads it (it scales by alpha / r): α, or α·√r for rsLoRA.
pub fn gguf_alpha(lora: &LoraConfig) -> f64 {
    if lora.rslora {
        lora.alpha * (lora.rank as f64).sqrt()
    } else {
        lora.alpha
    }
}

/// `hytune export --format gguf-lora`: the adapter file `out` (`.gguf`, new) for llama.cpp's
/// `--lora` and Ollama's `ADAPTER`, and `Modelfile` beside it naming `base_gguf` (the base as
/// llama.cpp loads it).
pub fn export_gguf_lora(
    model: &HfLm,
    lora: &LoraConfig,
    checkpoint: &Path,
    out: &Path,
    base_gguf: &Path,
    cert: Option<&Certificate>,
) -> Result<()> {
    let f = check_adapters(model, lora, checkpoint)?;
    if out.exists() {
        bail!("{}: exists already; not overwriting", out.display());
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    let c = model.config();
    let arch = match c.family {
        Family::Llama => "llama",
        Family::Qwen2 => "qwen2",
        Family::Qwen3 => "qwen3",
    };
    let mut tensors = Vec::with_capacity(2 * f.len());
    for x in f {
        let Some(w) = gguf_weight_name(&x.module) else {
            bail!("adapter of `{}` has no GGUF name", x.module);
        };
        // llama.cpp interleaves each head's rotary halves in Llama's q and k rows: the rows of
        // lora_b follow them (convert_lora_to_gguf's LoraTorchTensor permute).
        let mut b = x.lora_b;
        if arch == "llama" && w.ends_with("attn_q.weight") {
            b = super::gguf::permute(&b, x.d_out, c.num_heads);
        } else if arch == "llama" && w.ends_with("attn_k.weight") {
            b = super::gguf::permute(&b, x.d_out, c.num_kv_heads);
        }
        tensors.push(writer::Tensor {
            name: format!("{w}.lora_a"),
            shape: vec![x.rank, x.d_in],
            kind: dequant::GgmlType::F32,
            values: x.lora_a,
        });
        tensors.push(writer::Tensor {
            name: format!("{w}.lora_b"),
            shape: vec![x.d_out, x.rank],
            kind: dequant::GgmlType::F32,
            values: b,
        });
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    let meta = vec![
        ("general.architecture".into(), Value::Str(arch.into())),
        ("general.type".into(), Value::Str("adapter".into())),
        (
            "general.name".into(),
            Value::Str(out.file_stem().unwrap_or_default().to_string_lossy().into()),
        ),
        ("adapter.type".into(), Value::Str("lora".into())),
        ("adapter.lora.alpha".into(), Value::Float(gguf_alpha(lora))),
    ];
    let mut meta = meta;
    meta.extend(super::gguf::certificate_metadata(cert));
    writer::write(out, &meta, &tensors)?;
    let modelfile = out.with_file_name("Modelfile");
    if !modelfile.exists() {
        let text = format!(
            "# Ollama: ollama create NAME -f {}\nFROM {}\nADAPTER ./{}\n",
            modelfile.display(),
            base_gguf.display(),
            out.file_name().unwrap_or_default().to_string_lossy()
        );
        std::fs::write(&modelfile, text)
            .with_context(|| format!("{}: cannot write", modelfile.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_layout_by_hand() {
        let b = safetensors_f32(
            &[("x".into(), vec![1, 2], &[1.0, -2.0][..])],
            &[("format", "pt")],
        );
        let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        let head: serde_json::Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
        assert_eq!(head["__metadata__"]["format"], "pt");
        assert_eq!(head["x"]["shape"], json!([1, 2]));
        assert_eq!(head["x"]["data_offsets"], json!([0, 8]));
        assert_eq!(&b[8 + n..], &[0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
    }

    #[test]
    fn names_and_alpha_as_llama_cpp_reads_them() {
        assert_eq!(
            gguf_weight_name("model.layers.12.mlp.down_proj").as_deref(),
            Some("blk.12.ffn_down.weight")
        );
        assert_eq!(gguf_weight_name("lm_head"), None);
        let mut l = LoraConfig {
            rank: 16,
            alpha: 32.0,
            ..LoraConfig::default()
        };
        assert_eq!(gguf_alpha(&l), 32.0);
        // rsLoRA scales by α/√r = 8; llama.cpp by alpha'/r: alpha' = 128.
        l.rslora = true;
        assert_eq!(gguf_alpha(&l), 128.0);
        let c = peft_config(&l, Path::new("/m"));
        assert_eq!(c["target_modules"][0], "q_proj");
        assert_eq!(
            (c["r"].as_u64(), c["use_rslora"].as_bool()),
            (Some(16), Some(true))
        );
    }
}
