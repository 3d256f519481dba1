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
    /// Held (an exclusive advisory lock on `.lock`) while the run is open.
    _lock: File,
}

/// The name of the lock file in a run folder; it holds the owner's process id.
pub const LOCK: &str = ".lock";

/// Takes the run folder's lock, or says which process holds it.
fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK);
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    match f.try_lock() {
        Ok(()) => {
            f.set_len(0)?;
            writeln!(f, "{}", std::process::id())?;
            Ok(f)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let owner = std::fs::read_to_string(&path).unwrap_or_default();
            let owner = owner.trim();
            anyhow::bail!(
                "run folder {} is in use by another hytune process{}; wait for it to finish or choose another --out",
                dir.display(),
                if owner.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {owner})")
                }
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Rewrites a JSONL file of `phase`/`step` lines without those after (`phase`, `step`);
/// whether it had any to drop.
fn forget_lines_after(path: &Path, phase: &str, step: usize) -> Result<bool> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(false);
    };
    let order = |p: &str| if p == "pretrain" { 0 } else { 1 };
    let keep: Vec<&str> = text
        .lines()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            let (p, s) = (
                v["phase"].as_str().unwrap_or(""),
                v["step"].as_u64().unwrap_or(0) as usize,
            );
            (order(p), s) <= (order(phase), step)
        })
        .collect();
    if keep.len() == text.lines().count() {
        return Ok(false);
    }
    let tmp = path.with_extension("jsonl.tmp");
    std::fs::write(
        &tmp,
        keep.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .and_then(|_| std::fs::rename(&tmp, path))
    .with_context(|| format!("cannot rewrite {}", path.display()))?;
    Ok(true)
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
        let lock = lock(path)?;
        let cfg = path.join("config.toml");
        std::fs::write(&cfg, render(config))
            .with_context(|| format!("cannot write {}", cfg.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            metrics: append(&path.join("metrics.jsonl"))?,
            log: append(&path.join("events.log"))?,
            _lock: lock,
        })
    }

    /// Appends one step's metrics; an error (disk full, folder gone) is the caller's to report.
    pub fn metrics(&mut self, m: &StepMetrics) -> Result<()> {
        let path = self.path.join("metrics.jsonl");
        let line = serde_json::to_string(m)? + "\n";
        self.metrics
            .write_all(line.as_bytes())
            .and_then(|_| self.metrics.flush())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// A line of `canary.jsonl`.
    pub fn canary(&mut self, r: &super::protocol::CanaryReport) -> Result<()> {
        let path = self.path.join("canary.jsonl");
        let line = serde_json::to_string(r)? + "\n";
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// On resume into this folder: drops the metrics (and canary lines) of steps after the
    /// checkpoint (`phase`, `step`), which the resumed run writes again, so every step appears
    /// once.
    pub fn forget_after(&mut self, phase: &str, step: usize) -> Result<()> {
        forget_lines_after(&self.path.join("canary.jsonl"), phase, step)?;
        let path = self.path.join("metrics.jsonl");
        if forget_lines_after(&path, phase, step)? {
            self.metrics = append(&path)?;
        }
        Ok(())
    }

    /// A line of `events.log`, stamped with the time in RFC 3339 (UTC).
    pub fn log(&mut self, line: &str) {
        let _ = writeln!(self.log, "{} {line}", crate::timestamp::now());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_of_the_same_run_folder_is_refused_until_the_first_closes() {
        let tmp = crate::scratch::TempDir::new().unwrap();
        let cfg = Config::default();
        let first = RunDir::open(tmp.path(), &cfg).unwrap();
        let err = RunDir::open(tmp.path(), &cfg).err().unwrap().to_string();
        assert!(err.contains("in use by another hytune process"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        let mut again = RunDir::open(tmp.path(), &cfg).unwrap();
        let line = |p: &str, s: usize| format!("{{\"phase\":\"{p}\",\"step\":{s}}}\n");
        let all: String = [
            ("pretrain", 1),
            ("pretrain", 2),
            ("post", 1),
            ("post", 2),
            ("post", 3),
        ]
        .iter()
        .map(|&(p, s)| line(p, s))
        .collect();
        std::fs::write(tmp.path().join("metrics.jsonl"), &all).unwrap();
        again.forget_after("post", 1).unwrap();
        let kept = std::fs::read_to_string(tmp.path().join("metrics.jsonl")).unwrap();
        assert_eq!(
            kept,
            line("pretrain", 1) + &line("pretrain", 2) + &line("post", 1)
        );
        again.forget_after("pretrain", 1).unwrap();
        let kept = std::fs::read_to_string(tmp.path().join("metrics.jsonl")).unwrap();
        assert_eq!(kept, line("pretrain", 1));
    }
}
