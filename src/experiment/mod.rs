//! `hytune experiment`: a grid of runs (suite × labeled fraction × strategy × seed) that share
//! one base model, each cell a run folder under the experiment folder. Rerunning the same
//! command skips finished cells and resumes a half-done one from its last checkpoint, so a
//! killed experiment loses at most `checkpoint.every` steps. After every cell it rewrites
//! `results.csv`, `summary.md` and the plots (`plots/*.svg`).

pub mod grid;
mod paired;
mod plots;
mod results;
mod runner;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::cli::{ConfigArgs, load_config};
use crate::config::Config;

#[derive(Args, Debug, Clone)]
pub struct ExperimentArgs {
    /// Experiment folder (default: <user data dir>/experiments/<preset or "custom">). Rerun the
    /// same command to resume.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// quick (about 30 min on 2 CPU cores) | full; the [experiment] section and --set apply on top.
    #[arg(long)]
    pub preset: Option<String>,
    /// Only rewrite results.csv, summary.md and the plots from the cells on disk.
    #[arg(long)]
    pub report: bool,
    /// A base model to share instead of pretraining one (e.g. another experiment's base.hyt);
    /// copied into the folder once.
    #[arg(long)]
    pub base: Option<PathBuf>,
}

/// The experiment's effective config: preset, then the config file and `--set`.
fn experiment_config(args: &ConfigArgs, e: &ExperimentArgs) -> Result<Config> {
    let mut sets = Vec::new();
    if let Some(p) = &e.preset {
        sets = grid::preset(p).ok_or_else(|| {
            anyhow::anyhow!(
                "--preset: unknown preset `{p}` (expected one of: {})",
                grid::PRESETS.join(", ")
            )
        })?;
    }
    sets.extend(args.sets.iter().cloned());
    load_config(&ConfigArgs {
        sets,
        ..args.clone()
    })
}

const CONFIG_FILE: &str = "experiment.toml";

/// Creates the folder, or checks that it holds this same experiment.
fn open_folder(dir: &Path, config: &Config) -> Result<()> {
    let path = dir.join(CONFIG_FILE);
    let text = toml::to_string(config)?;
    if path.exists() {
        let old = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if old != text {
            bail!(
                "{}: holds an experiment with another config (choose another --out, or rerun with the same settings to resume)",
                dir.display()
            );
        }
        return Ok(());
    }
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{}: exists and is not an experiment folder (no {CONFIG_FILE})",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

pub fn run(args: &ConfigArgs, e: ExperimentArgs) -> Result<ExitCode> {
    let config = experiment_config(args, &e)?;
    let dir = e.out.clone().unwrap_or_else(|| {
        crate::paths::data_root()
            .join("experiments")
            .join(e.preset.as_deref().unwrap_or("custom"))
    });
    if e.report {
        if !dir.join(CONFIG_FILE).exists() {
            bail!(
                "{}: not an experiment folder (no {CONFIG_FILE})",
                dir.display()
            );
        }
        let written = results::write_reports(&dir, &config)?;
        eprintln!("{}", written.describe(&dir));
        return Ok(ExitCode::SUCCESS);
    }
    open_folder(&dir, &config)?;
    if let Some(b) = &e.base {
        let into = dir.join("base.hyt");
        if !into.exists() {
            crate::engine::checkpoint::load(b)?
                .check_shape(&crate::model::GptShape::from_config(&config.model), b)?;
            let tmp = dir.join("base.hyt.tmp");
            std::fs::copy(b, &tmp)
                .and_then(|_| std::fs::rename(&tmp, &into))
                .with_context(|| format!("cannot copy {} into {}", b.display(), dir.display()))?;
        }
    }
    runner::run(&dir, &config)
}
