//! `hytune experiment`: a grid of runs (suite × labeled fraction × strategy × seed) that share
//! one base model, each cell a run folder under the experiment folder. Rerunning the same
//! command skips finished cells and resumes a half-done one from its last checkpoint, so a
//! killed experiment loses at most `checkpoint.every` steps. After every cell it rewrites
//! `results.csv`, `summary.md` and the plots (`plots/*.svg`).

mod cell_data;
mod cell_fits;
mod claim;
mod faithfulness;
pub mod grid;
mod paired;
mod plots;
mod results;
mod runner;
pub mod shard;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::config::Config;
use crate::config::args::{ConfigArgs, load_config};

#[derive(Args, Debug, Clone)]
pub struct ExperimentArgs {
    /// Experiment folder (default: <user data dir>/experiments/<preset or "custom">). Rerun the
    /// same command to resume.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// quick (about 30 min on 2 CPU cores) | full; the [experiment] section and --set apply on top.
    #[arg(long)]
    pub preset: Option<String>,
    /// Write results.csv, summary.md and the plots (the last stage of a sharded grid; `--report`
    /// is the same). Exits non-zero while cells are missing, unless `--partial`.
    #[arg(long, alias = "report")]
    pub merge: bool,
    /// With `--merge`: report the cells done so far and exit 0 even if some are missing.
    #[arg(long, requires = "merge")]
    pub partial: bool,
    /// Only make the datasets and the shared base, then exit (the first stage of a sharded grid).
    #[arg(long, conflicts_with = "merge")]
    pub prepare: bool,
    /// Run only shard I of N (counted from 1, as nextest, Playwright and Jest count: 1/N … N/N;
    /// cell k is shard (k mod N) + 1's). Without it, a Slurm
    /// array task (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)
    /// picks its shard itself.
    #[arg(long, value_name = "I/N", conflicts_with_all = ["merge", "prepare"])]
    pub shard: Option<String>,
    /// The shard count for JOB_COMPLETION_INDEX (default: $HYTUNE_SHARDS).
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
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

/// Creates the folder, or checks that it holds this same experiment. Shards started together
/// on a new folder may all get here at once: the config is published whole, first.
fn open_folder(dir: &Path, config: &Config) -> Result<()> {
    let path = dir.join(CONFIG_FILE);
    let text = toml::to_string(config)?;
    let same = || -> Result<()> {
        let old = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if old == text {
            return Ok(());
        }
        // Written by an earlier hytune, its file lacks the keys added since: read as a
        // checkpoint's config is, they take the values that version ran with.
        let stored: Config = toml::from_str(&old).map_err(|e| {
            anyhow::anyhow!(
                "{}: holds an experiment this hytune cannot read (another version's config?): {e}",
                path.display()
            )
        })?;
        let changed = crate::config::differences(&stored, config);
        if changed.is_empty() {
            return Ok(());
        }
        let mut named: Vec<String> = changed.iter().take(3).map(|d| d.to_string()).collect();
        if changed.len() > 3 {
            named.push(format!("{} more", changed.len() - 3));
        }
        bail!(
            "{}: holds an experiment with another config: {} (choose another --out, or rerun with the same settings to resume)",
            dir.display(),
            named.join("; ")
        );
    };
    if path.exists() {
        return same();
    }
    let foreign = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            !e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{CONFIG_FILE}.tmp-"))
        });
    if foreign {
        if path.exists() {
            return same();
        }
        bail!(
            "{}: exists and is not an experiment folder (no {CONFIG_FILE})",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    crate::publish::publish(&path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

pub fn run(args: &ConfigArgs, e: ExperimentArgs) -> Result<ExitCode> {
    let config = experiment_config(args, &e)?;
    let dir = e.out.clone().unwrap_or_else(|| {
        crate::paths::data_root()
            .join("experiments")
            .join(e.preset.as_deref().unwrap_or("custom"))
    });
    if e.merge {
        if !dir.join(CONFIG_FILE).exists() {
            bail!(
                "{}: not an experiment folder (no {CONFIG_FILE})",
                dir.display()
            );
        }
        let written = results::write_reports(&dir, &config)?;
        eprintln!("{}", written.describe(&dir));
        if written.done < written.cells && !e.partial {
            eprintln!(
                "error: {} of {} cells are missing (a shard not run or not finished); rerun the missing shards, or pass --partial to accept a partial report",
                written.cells - written.done,
                written.cells
            );
            return Ok(ExitCode::FAILURE);
        }
        return Ok(ExitCode::SUCCESS);
    }
    open_folder(&dir, &config)?;
    if let Some(b) = &e.base {
        let into = dir.join("base.hyt");
        if !into.exists() {
            crate::engine::checkpoint::load(b)?
                .check_shape(&crate::model::GptShape::from_config(&config.model), b)?;
            crate::publish::publish_copy(b, &into)
                .with_context(|| format!("cannot copy {} into {}", b.display(), dir.display()))?;
        }
    }
    let shard = match &e.shard {
        Some(s) => Some(shard::Shard::parse(s)?),
        None if e.prepare => None,
        None => shard::Shard::from_env(e.shards, &|name| std::env::var(name).ok())?,
    };
    runner::run(
        &dir,
        &config,
        runner::Stages {
            prepare_only: e.prepare,
            shard,
        },
    )
}
