//! Reads a Hugging Face model directory into an [`HfLm`]: weights cast to f32 on load, shards
//! joined, every parameter accounted for.

use std::collections::BTreeSet;
use std::hash::Hasher;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use burn::store::{
    FloatCastAdapter, ModuleAdapter, ModuleContext, ModuleSnapshot, PyTorchToBurnAdapter,
    SafetensorsStore,
};
use burn::tensor::{DType, Device, FloatDType};
use serde::{Deserialize, Serialize};

use super::config::HfConfig;
use super::decoder::HfLm;
use crate::data::codec::{Codec, HfTokenizer};

/// Which pretrained model a run started from: recorded in checkpoints, so a resume onto other
/// weights is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseIdentity {
    pub dir: PathBuf,
    pub architecture: String,
    /// A hash of `config.json`, the tokenizer and every weight file's bytes.
    pub hash: String,
}

/// The weight files of `dir`: `model.safetensors`, or the shards its index names.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join("model.safetensors");
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        let text = std::fs::read_to_string(&index)
            .with_context(|| format!("{}: cannot read", index.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", index.display()))?;
        let map = v
            .get("weight_map")
            .and_then(|m| m.as_object())
            .with_context(|| format!("{}: no `weight_map`", index.display()))?;
        let files: BTreeSet<&str> = map.values().filter_map(|f| f.as_str()).collect();
        let files: Vec<PathBuf> = files.into_iter().map(|f| dir.join(f)).collect();
        for f in &files {
            if !f.is_file() {
                bail!("{}: missing (named by {})", f.display(), index.display());
            }
        }
        return Ok(files);
    }
    if single.is_file() {
        return Ok(vec![single]);
    }
    if !dir.is_dir() {
        bail!("{}: no such model directory", dir.display());
    }
    bail!(
        "{}: missing (no model.safetensors or model.safetensors.index.json in {})",
        single.display(),
        dir.display()
    )
}

/// A content hash of the files that define the model.
pub fn identity(dir: &Path, config: &HfConfig) -> Result<BaseIdentity> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut files = vec![dir.join("config.json"), dir.join("tokenizer.json")];
    files.extend(weight_files(dir)?);
    let mut buf = vec![0u8; 1 << 20];
    for f in &files {
        let mut r =
            std::fs::File::open(f).with_context(|| format!("{}: cannot open", f.display()))?;
        loop {
            let n = r
                .read(&mut buf)
                .with_context(|| format!("{}: cannot read", f.display()))?;
            if n == 0 {
                break;
            }
            h.write(&buf[..n]);
        }
    }
    Ok(BaseIdentity {
        dir: std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
        architecture: config.architecture.clone(),
        hash: format!("{:016x}", h.finish()),
    })
}

fn adapter(half: Option<FloatDType>) -> impl ModuleAdapter + 'static {
    PyTorchToBurnAdapter.chain(BaseCast {
        half: half.map(DType::from),
    })
}

/// Casts every float tensor to f32 as it loads, except the projections' weights when the base
/// is kept in half precision (`model.dtype`): those go straight to `half`, so no f32 copy of the
/// whole base is ever made.
#[derive(Clone, Debug)]
struct BaseCast {
    half: Option<DType>,
}

/// Whether a tensor of the decoder is a projection's weight (`model.layers.3.mlp.up_proj.weight`).
fn is_projection(name: &str) -> bool {
    name.contains(".layers.") && name.ends_with("_proj.weight")
}

impl ModuleAdapter for BaseCast {
    fn adapt(
        &self,
        tensor: burn::store::burn_pack::Tensor,
        ctx: ModuleContext<'_>,
    ) -> burn::store::burn_pack::Tensor {
        let to = match self.half {
            Some(h) if is_projection(&tensor.name) => h,
            _ => DType::F32,
        };
        FloatCastAdapter::to(to).adapt(tensor, ctx)
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(self.clone())
    }
}

/// The model of `dir` with its tokenizer, on `device`, its context capped at `max_len`
/// (questions as plain text).
pub fn load(dir: &Path, max_len: usize, device: &Device) -> Result<HfLm> {
    load_with(dir, max_len, ("plain", ""), None, device)
}

/// The chat template of `dir`: `chat_template.jinja`, or `tokenizer_config.json`'s
/// `chat_template` (a string, or a list of named templates: the `default` one).
pub fn chat_template(dir: &Path) -> Result<Option<String>> {
    let file = dir.join("chat_template.jinja");
    if file.is_file() {
        return std::fs::read_to_string(&file)
            .map(Some)
            .with_context(|| format!("{}: cannot read", file.display()));
    }
    let cfg = dir.join("tokenizer_config.json");
    let Ok(text) = std::fs::read_to_string(&cfg) else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", cfg.display()))?;
    Ok(match v.get("chat_template") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Array(named)) => named
            .iter()
            .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
            .and_then(|t| t.get("template")?.as_str().map(str::to_string)),
        _ => None,
    })
}

/// [`load`] with `prompt` = (`model.prompt`, `model.system`).
pub fn load_with(
    dir: &Path,
    max_len: usize,
    prompt: (&str, &str),
    half: Option<FloatDType>,
    device: &Device,
) -> Result<HfLm> {
    let config = HfConfig::read(dir)?;
    let files = weight_files(dir)?;
    let mut tok = HfTokenizer::read(dir, &config.eos_token_ids)?;
    if let Some(t) = chat_template(dir)? {
        tok.set_template(&t, config.bos_token_id)
            .with_context(|| format!("{}: its chat template", dir.display()))?;
    }
    tok.apply_prompt(prompt.0, prompt.1, dir)?;
    let codec = Codec::Hf(tok);
    let stores = files
        .iter()
        .map(|f| (f.display().to_string(), SafetensorsStore::from_file(f)))
        .collect();
    load_parts(
        &config,
        codec,
        stores,
        max_len,
        half,
        device,
        dir,
        &dir.join("tokenizer.json"),
        "config.json",
    )
}

/// A decoder of `config` with `codec`, its weights from `stores` (each named for messages),
/// every parameter accounted for. `origin` and `tokenizer` name the model in errors.
pub fn load_parts(
    config: &HfConfig,
    codec: Codec,
    stores: Vec<(String, SafetensorsStore)>,
    max_len: usize,
    half: Option<FloatDType>,
    device: &Device,
    origin: &Path,
    tokenizer: &Path,
    config_name: &str,
) -> Result<HfLm> {
    let dir = origin;
    // Every id the tokenizer can produce must have an embedding row.
    if codec.vocab() > config.vocab_size || codec.eos() as usize >= config.vocab_size {
        bail!(
            "{}: the tokenizer has {} tokens (end id {}) but {config_name}'s vocab_size is {}",
            tokenizer.display(),
            codec.vocab(),
            codec.eos(),
            config.vocab_size
        );
    }
    let mut model = HfLm::init(config, max_len, half, Arc::new(codec), device);
    let mut applied = BTreeSet::new();
    for (name, store) in stores {
        let mut store = store
            .with_from_adapter(adapter(half))
            .allow_partial(true)
            .validate(false);
        let r = model
            .load_from(&mut store)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        if let Some(e) = r.errors.first() {
            bail!(
                "{name}: {} of its tensors do not fit {config_name} (first: {e})",
                r.errors.len()
            );
        }
        // Every tensor of the weights has a place in the model, or the refusal names it (a
        // config with fewer layers than the weights must not train on part of them).
        // (Old checkpoints keep RoPE's frequencies as a buffer: derived, not a weight.)
        let unused: Vec<&String> = r
            .unused
            .iter()
            .filter(|n| !n.ends_with("rotary_emb.inv_freq"))
            .collect();
        if let Some(first) = unused.first() {
            bail!(
                "{name}: {} of its tensors have no place in a model of {config_name} (first: `{first}`): does {config_name} describe these weights?",
                unused.len()
            );
        }
        applied.extend(r.applied.into_iter());
    }
    let mut wanted: Vec<String> = model
        .collect(None, None, false)
        .into_iter()
        .map(|t| t.name.clone())
        .collect();
    // A head absent from the weights is the embedding (as `transformers` ties it).
    if !config.tie_word_embeddings && !applied.contains("lm_head.weight") {
        model = model.tie_head();
        wanted.retain(|n| n != "lm_head.weight");
    }
    let missing: Vec<&String> = wanted.iter().filter(|n| !applied.contains(*n)).collect();
    if let Some(first) = missing.first() {
        bail!(
            "{}: the weights lack {} of the model's {} tensors (first: `{first}`)",
            dir.display(),
            missing.len(),
            wanted.len()
        );
    }
    Ok(model)
}

/// The tokenizer of the model in `dir` alone (for measuring data without loading weights).
pub fn read_codec(dir: &Path) -> Result<Codec> {
    read_codec_with(dir, ("plain", ""))
}

/// [`read_codec`] with `prompt` = (`model.prompt`, `model.system`).
pub fn read_codec_with(dir: &Path, prompt: (&str, &str)) -> Result<Codec> {
    let config = HfConfig::read(dir)?;
    let mut tok = HfTokenizer::read(dir, &config.eos_token_ids)?;
    if let Some(t) = chat_template(dir)? {
        tok.set_template(&t, config.bos_token_id)
            .with_context(|| format!("{}: its chat template", dir.display()))?;
    }
    tok.apply_prompt(prompt.0, prompt.1, dir)?;
    Ok(Codec::Hf(tok))
}
