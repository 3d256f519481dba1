//! The command-line flags every command shares (`--config`, `--set`, `--backend`, `--model`)
//! and the effective config they give: the file, then `--set`, then the flags.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;

use super::Config;

#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Config file (default: ./config.toml, then the user config directory).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Override one setting, e.g. --set post.steps=50 (repeatable).
    #[arg(long = "set", global = true, value_name = "SECTION.KEY=VALUE")]
    pub sets: Vec<String>,
    /// auto | wgpu | cpu | ndarray (overrides run.backend).
    #[arg(long, global = true)]
    pub backend: Option<String>,
    /// A local Hugging Face model directory to post-train (overrides model.source).
    #[arg(long, global = true, value_name = "DIR")]
    pub model: Option<PathBuf>,
}

pub fn load_config(args: &ConfigArgs) -> Result<Config> {
    let mut config = super::load(args.config.as_deref(), &args.sets)?.config;
    if let Some(b) = &args.backend {
        config = config
            .set("run.backend", toml::Value::String(b.clone()))
            .map_err(|e| super::ConfigError {
                key: "--backend".into(),
                ..e
            })?;
    }
    if let Some(dir) = &args.model {
        config.model.source = model_dir(dir)?;
    }
    Ok(config)
}

/// `--model DIR` as an absolute path, so checkpoints name it from anywhere.
pub fn model_dir(dir: &Path) -> Result<String> {
    if let Some(file) = crate::paths::gguf_path(dir) {
        return Ok(std::fs::canonicalize(&file)
            .unwrap_or(file)
            .display()
            .to_string());
    }
    if !dir.join("config.json").is_file() {
        bail!(
            "--model {}: no config.json there (a Hugging Face model directory is needed: config.json, model.safetensors, tokenizer.json; or a GGUF file)",
            dir.display()
        );
    }
    Ok(std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string())
}
