//! Writes a post-trained model back in the Hugging Face layout (safetensors in f32, the base's
//! config and tokenizer files), so `transformers` or vLLM load it.

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};

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

/// Exports `model` (started from `base`) into `out`, which must not exist or be empty. Written
/// into a sibling temporary folder first, then renamed, so a failure leaves nothing half done.
pub fn export(model: &HfLm, base: &Path, out: &Path) -> Result<()> {
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
    let write = || -> Result<()> {
        std::fs::create_dir_all(&tmp)?;
        let mut store = SafetensorsStore::from_file(tmp.join("model.safetensors"))
            .with_to_adapter(BurnToPyTorchAdapter)
            .metadata("format", "pt");
        model
            .save_into(&mut store)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let config_path = base.join("config.json");
        let text = std::fs::read_to_string(&config_path)
            .with_context(|| format!("{}: cannot read", config_path.display()))?;
        let mut config: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", config_path.display()))?;
        if let Some(o) = config.as_object_mut() {
            o.insert("dtype".into(), "float32".into());
            if o.contains_key("torch_dtype") {
                o.insert("torch_dtype".into(), "float32".into());
            }
            o.insert(
                "tie_word_embeddings".into(),
                model.config().tie_word_embeddings.into(),
            );
        }
        std::fs::write(
            tmp.join("config.json"),
            serde_json::to_string_pretty(&config)?,
        )?;
        for f in COPIED {
            let src = base.join(f);
            if src.is_file() {
                std::fs::copy(&src, tmp.join(f))
                    .with_context(|| format!("{}: cannot copy", src.display()))?;
            }
        }
        if out.exists() {
            std::fs::remove_dir(out)?;
        }
        std::fs::rename(&tmp, out)?;
        Ok(())
    };
    write()
        .inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&tmp);
        })
        .with_context(|| format!("cannot export to {}", out.display()))
}
