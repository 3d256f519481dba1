//! Writes a post-trained model back in the Hugging Face layout (safetensors in the base's dtype
//! or a chosen one, the base's config and tokenizer files, or a GGUF base's rebuilt from its
//! metadata), so `transformers` or vLLM load it.

use crate::method::certify::Certificate;
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::store::{
    BurnToPyTorchAdapter, FloatCastAdapter, ModuleAdapter, ModuleSnapshot, SafetensorsStore,
};
use burn::tensor::DType;

use super::decoder::HfLm;

/// Files copied from the base directory when present.
const COPIED: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "generation_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "vocab.json",
    "merges.txt",
];

/// The weight dtypes an export can write, by their `config.json` names.
pub const DTYPES: &[&str] = &["float32", "bfloat16", "float16"];

fn dtype_of(name: &str) -> Option<DType> {
    match name {
        "float32" | "f32" => Some(DType::F32),
        "bfloat16" | "bf16" => Some(DType::BF16),
        "float16" | "f16" => Some(DType::F16),
        _ => None,
    }
}

/// The key of a certified abstention threshold in `config.json` and `adapter_config.json`.
pub const CERTIFICATE_KEY: &str = "hytune_certificate";

/// Exports `model` (started from `base`) into `out`, which must not exist or be empty, with
/// weights in `dtype` (`float32`, `bfloat16`, `float16`; `None`: the base's `dtype` or
/// `torch_dtype`, else float32). Written into a sibling temporary folder first, then renamed,
/// so a failure leaves nothing half done.
/// `cert`: the checkpoint's certified abstention threshold, written as `hytune_certificate` in
/// `config.json` (transformers keeps unknown keys).
pub fn export(
    model: &HfLm,
    base: &Path,
    out: &Path,
    dtype: Option<&str>,
    cert: Option<&Certificate>,
) -> Result<()> {
    // A GGUF base has no config or tokenizer files: they are written from its metadata.
    let gguf = crate::model::gguf::gguf_path(base)
        .map(|f| crate::model::gguf::GgufFile::open(&f))
        .transpose()?;
    let mut config: serde_json::Value = match &gguf {
        Some(g) => crate::model::gguf::hf_files::config_json(&g.config()?, &g.path)?,
        None => {
            let config_path = base.join("config.json");
            let text = std::fs::read_to_string(&config_path)
                .with_context(|| format!("{}: cannot read", config_path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{}: not valid JSON", config_path.display()))?
        }
    };
    let dtype_name = match dtype {
        Some(d) => d.to_string(),
        None => ["dtype", "torch_dtype"]
            .iter()
            .find_map(|k| config.get(*k).and_then(|v| v.as_str()))
            .filter(|n| dtype_of(n).is_some())
            .unwrap_or("float32")
            .to_string(),
    };
    let Some(target) = dtype_of(&dtype_name) else {
        bail!(
            "--dtype {dtype_name}: expected one of {}",
            DTYPES.join(", ")
        );
    };
    into_new_folder(out, |tmp| {
        let mut store = SafetensorsStore::from_file(tmp.join("model.safetensors"))
            .with_to_adapter(BurnToPyTorchAdapter.chain(FloatCastAdapter::to(target)))
            .metadata("format", "pt");
        model
            .save_into(&mut store)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(o) = config.as_object_mut() {
            o.insert("dtype".into(), dtype_name.clone().into());
            if o.contains_key("torch_dtype") {
                o.insert("torch_dtype".into(), dtype_name.clone().into());
            }
            o.insert(
                "tie_word_embeddings".into(),
                model.config().tie_word_embeddings.into(),
            );
            if let Some(c) = cert {
                o.insert(CERTIFICATE_KEY.into(), serde_json::to_value(c)?);
            }
        }
        std::fs::write(
            tmp.join("config.json"),
            serde_json::to_string_pretty(&config)?,
        )?;
        if let Some(g) = &gguf {
            crate::model::gguf::hf_files::write_tokenizer_files(g, &g.config()?, tmp)?;
        }
        for f in COPIED.iter().filter(|_| gguf.is_none()) {
            let src = base.join(f);
            if src.is_file() {
                std::fs::copy(&src, tmp.join(f))
                    .with_context(|| format!("{}: cannot copy", src.display()))?;
            }
        }
        Ok(())
    })
}

/// Writes a folder `out` (which must not exist or be empty) with `write`, into a sibling
/// temporary folder first and renamed when whole, so a failure leaves nothing half done.
pub fn into_new_folder(out: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{}: exists and is not empty; choose a new folder",
            out.display()
        );
    }
    let name = out
        .file_name()
        .context("the export folder needs a name")?
        .to_string_lossy()
        .to_string();
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .with_context(|| format!("{}: cannot create", parent.display()))?;
    let tmp = parent.join(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&tmp);
    let run = || -> Result<()> {
        std::fs::create_dir_all(&tmp)?;
        write(&tmp)?;
        if out.exists() {
            std::fs::remove_dir(out)?;
        }
        std::fs::rename(&tmp, out)?;
        Ok(())
    };
    run()
        .inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&tmp);
        })
        .with_context(|| format!("cannot export to {}", out.display()))
}
