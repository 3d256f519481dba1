//! A run's folder: effective config, `metrics.jsonl`, `events.log`, eval summaries and
//! predictions, checkpoints.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::protocol::{EvalReport, StepMetrics};
use crate::config::{Config, render};

pub struct RunDir {
    pub path: PathBuf,
    metrics: BufWriter<File>,
    log: BufWriter<File>,
}

fn append(path: &Path) -> Result<BufWriter<File>> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(BufWriter::new(f))
}

impl RunDir {
    /// Opens (or, on resume, reopens) the folder and writes the effective config.
    pub fn open(path: &Path, config: &Config) -> Result<Self> {
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create run folder {}", path.display()))?;
        std::fs::write(path.join("config.toml"), render(config))?;
        Ok(Self {
            path: path.to_path_buf(),
            metrics: append(&path.join("metrics.jsonl"))?,
            log: append(&path.join("events.log"))?,
        })
    }

    pub fn metrics(&mut self, m: &StepMetrics) {
        let _ = serde_json::to_writer(&mut self.metrics, m);
        let _ = self.metrics.write_all(b"\n");
        let _ = self.metrics.flush();
    }

    pub fn log(&mut self, line: &str) {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let _ = writeln!(self.log, "{t} {line}");
        let _ = self.log.flush();
    }

    /// `<split>-<phase>-<step>.json` (summary) and `predictions-<split>-<phase>-<step>.jsonl`.
    pub fn eval(&mut self, report: &EvalReport) -> Result<()> {
        let stem = format!("{}-{}-{:07}", report.split, report.phase, report.step);
        std::fs::write(
            self.path.join(format!("{stem}.json")),
            serde_json::to_string_pretty(report)?,
        )?;
        crate::data::jsonl::write_jsonl(
            &self.path.join(format!("predictions-{stem}.jsonl")),
            &report.predictions,
        )?;
        Ok(())
    }
}
