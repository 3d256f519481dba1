//! Runs the cells of an experiment in order: datasets, the shared base, then each cell (skipped
//! when done, resumed when half done), with progress and an ETA on stderr.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::cell_data::DONE;
use super::claim::{self, CLAIM, Claim, Taken};
use super::grid::{Cell, cells, pool_start};
use super::results;
use super::shard::Shard;
use crate::config::Config;
use crate::data::jsonl;
use crate::data::suites::{GenSpec, generate_with_pool};
use crate::engine::protocol::{Event, Phase};
use crate::engine::stop::StopFlag;
use crate::engine::{DataSource, Job, backend, checkpoint, spawn};
use crate::progress::format_duration;
use crate::publish::{publish, publish_copy};

/// Seconds per post-training step by strategy, learned as cells run, for the ETA.
#[derive(Default)]
struct Tracker {
    secs: HashMap<String, (f64, usize)>,
}

impl Tracker {
    fn push(&mut self, strategy: &str, secs: f64) {
        let e = self.secs.entry(strategy.to_string()).or_default();
        e.0 += secs;
        e.1 += 1;
    }

    fn per_step(&self, strategy: &str) -> Option<f64> {
        let known = |(s, n): &(f64, usize)| (*n > 0).then(|| s / *n as f64);
        self.secs.get(strategy).and_then(known).or_else(|| {
            // Unknown yet: the slowest strategy seen so far (RLIF-using ones cost more than RD).
            self.secs.values().filter_map(known).reduce(f64::max)
        })
    }
}

enum Outcome {
    Finished,
    Stopped,
}

fn cell_config(config: &Config, cell: &Cell) -> Result<Config> {
    Ok(config.with_sets(&[
        format!("run.seed={}", cell.seed),
        format!("mix.strategy=\"{}\"", cell.strategy.name()),
        format!(
            "post.reward=\"{}\"",
            cell.reward
                .map_or(config.post.reward.as_str(), |r| r.name())
        ),
        format!("data.suite=\"{}\"", cell.suite.name()),
        format!("data.labeled_fraction={}", cell.fraction),
    ])?)
}

/// The datasets of the grid, generated once under `data/`.
fn ensure_data(dir: &Path, config: &Config, cells: &[Cell]) -> Result<()> {
    for cell in cells {
        let d = dir.join("data").join(cell.data_name());
        if d.join(jsonl::EVAL).exists() {
            continue;
        }
        let spec = GenSpec {
            suite: cell.suite,
            size: config.data.size,
            eval_size: config.data.eval_size,
            dev_size: config.data.dev_size,
            labeled_fraction: cell.fraction,
            seed: config.data.seed,
            factor: (config.data.factor_range[0], config.data.factor_range[1]),
        };
        let pool = pool_start(&config.experiment, config.data.size);
        // Into a folder of this process's, renamed into place: a concurrent shard that made
        // the same (deterministic) data first wins, and ours is dropped.
        let tmp = crate::publish::unique_tmp(&d);
        jsonl::write_dataset(&tmp, &generate_with_pool(&spec, pool))
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        if std::fs::rename(&tmp, &d).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
            if !d.join(jsonl::EVAL).exists() {
                bail!("cannot write {}", d.display());
            }
        }
    }
    Ok(())
}

/// The newest periodic checkpoint of `phase` in `run_dir`.
fn latest(run_dir: &Path, phase: Phase) -> Option<PathBuf> {
    let tag = format!("{}-", phase.name());
    checkpoint::periodic(run_dir).into_iter().rev().find(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.contains(&tag))
    })
}

/// A run folder without a checkpoint to resume holds nothing worth keeping: start it afresh,
/// keeping only the claim that makes it ours (only the claim's holder calls this).
fn fresh_or_resume(run_dir: &Path, phase: Phase) -> Result<Option<PathBuf>> {
    let resume = latest(run_dir, phase);
    if resume.is_none() {
        for e in std::fs::read_dir(run_dir).into_iter().flatten().flatten() {
            if e.file_name() == CLAIM {
                continue;
            }
            let p = e.path();
            let gone = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            gone.with_context(|| format!("cannot clear {}", p.display()))?;
        }
    }
    Ok(resume)
}

/// What this process does of the experiment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stages {
    /// Only the datasets and the shared base (`--prepare`).
    pub prepare_only: bool,
    /// Only this shard's cells (`--shard`, or a scheduler's array index); the reports are left
    /// to `--merge`.
    pub shard: Option<Shard>,
}

/// Claims `run_dir`, or says who has it and gives `None`.
fn claim_or_skip(run_dir: &Path, what: &str) -> Result<Option<Claim>> {
    match claim::take(run_dir)? {
        Taken::Mine(c) => Ok(Some(c)),
        Taken::Busy(owner) => {
            eprintln!(
                "{what}: being run by {}; moving on",
                owner.map_or("another process".into(), |o| o.describe())
            );
            Ok(None)
        }
    }
}

pub fn run(dir: &Path, config: &Config, stages: Stages) -> Result<ExitCode> {
    // SIGTERM/SIGHUP/SIGINT: the cell in progress stops within seconds with a checkpoint.
    let stop = StopFlag::new();
    stop.on_signals()?;
    let grid = cells(&config.experiment, config.data.size);
    let selected = backend::select(&config.run.backend)?;
    if let Some(n) = &selected.notice {
        eprintln!("note: {n}");
    }
    let mine = grid
        .iter()
        .enumerate()
        .filter(|(k, _)| stages.shard.is_none_or(|s| s.owns(*k)))
        .count();
    eprintln!(
        "experiment {}: {} cells{}, {} post-training steps each",
        dir.display(),
        grid.len(),
        stages
            .shard
            .map(|s| format!(" ({}: {mine} of them)", s.describe()))
            .unwrap_or_default(),
        config.post.steps
    );
    ensure_data(dir, config, &grid)?;

    // The shared base model: pretrained once, unless the model is a pretrained one already.
    // Concurrent shards: one pretrains it, the others wait for it.
    let pretrained = config.model.source != "builtin";
    let base = dir.join("base.hyt");
    let mut told = false;
    while !pretrained && !base.exists() {
        let run_dir = dir.join("base-run");
        let claim = match claim::take(&run_dir)? {
            Taken::Mine(c) => c,
            Taken::Busy(owner) => {
                if !told {
                    eprintln!(
                        "the shared base: being pretrained by {}; waiting for it",
                        owner.map_or("another process".into(), |o| o.describe())
                    );
                    told = true;
                }
                if stop.is_raised() {
                    return Ok(interrupted());
                }
                std::thread::sleep(Duration::from_secs(2));
                continue;
            }
        };
        if base.exists() {
            claim.release();
            break;
        }
        let resume = fresh_or_resume(&run_dir, Phase::Pretrain)?;
        let cfg = config.with_sets(&[format!("run.seed={}", config.experiment.base_seed)])?;
        let job = Job {
            config: cfg,
            data: DataSource::Dir(dir.join("data").join(grid[0].data_name())),
            run_dir: run_dir.clone(),
            resume,
            base: None,
            interactive: false,
            backend: selected.clone(),
            only_base: true,
            fresh_base: false,
            eval_before: true,
            stop: stop.clone(),
        };
        match drive(job, "base", &stop, &mut |_, _| String::new())? {
            Outcome::Stopped => {
                claim.release();
                return Ok(interrupted());
            }
            Outcome::Finished => {}
        }
        publish_copy(&run_dir.join("base.hyt"), &base)
            .with_context(|| format!("cannot write {}", base.display()))?;
        claim.release();
    }
    if stages.prepare_only {
        eprintln!(
            "prepared {}: datasets and the shared base; now run the cells (--shard I/N or a scheduler's array) and then --merge",
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }

    let started = Instant::now();
    let mut tracker = Tracker::default();
    let steps = config.post.steps;
    let mut ran = 0;
    for (k, cell) in grid.iter().enumerate() {
        if stages.shard.is_some_and(|s| !s.owns(k)) {
            continue;
        }
        let run_dir = dir.join("cells").join(cell.name());
        if run_dir.join(DONE).exists() {
            continue;
        }
        let Some(claim) = claim_or_skip(&run_dir, &format!("cell {}", cell.name()))? else {
            continue;
        };
        if run_dir.join(DONE).exists() {
            // Finished by another process between the two looks.
            claim.release();
            continue;
        }
        let resume = fresh_or_resume(&run_dir, Phase::Post)?;
        let cfg = match &resume {
            Some(ck) => checkpoint::load(ck)?.meta.config,
            None => cell_config(config, cell)?,
        };
        let job = Job {
            config: cfg,
            data: DataSource::Dir(dir.join("data").join(cell.data_name())),
            run_dir: run_dir.clone(),
            resume,
            base: (!pretrained).then(|| base.clone()),
            interactive: false,
            backend: selected.clone(),
            only_base: false,
            fresh_base: false,
            // The starting model is the same in every cell of a dataset: evaluated once, in its
            // first cell (the summary's base row reads it from there).
            eval_before: grid.iter().position(|c| c.data_name() == cell.data_name()) == Some(k),
            stop: stop.clone(),
        };
        let label = format!("cell {}/{} {}", k + 1, grid.len(), cell.name());
        let t0 = Instant::now();
        let outcome = drive(job, &label, &stop, &mut |step, secs| {
            tracker.push(&cell.variant(), secs);
            // The rest of this cell, then every cell not done yet.
            let mut eta = tracker.per_step(&cell.variant()).unwrap_or(0.0)
                * steps.saturating_sub(step) as f64;
            for c in &grid[k + 1..] {
                if !dir.join("cells").join(c.name()).join(DONE).exists() {
                    eta += tracker.per_step(&c.variant()).unwrap_or(0.0) * steps as f64;
                }
            }
            format!("  experiment ETA {}", format_duration(eta))
        })?;
        match outcome {
            Outcome::Stopped => {
                claim.release();
                return Ok(interrupted());
            }
            Outcome::Finished => {
                // The done marker last: a cell is done only once everything else is on disk.
                let done = serde_json::json!({ "seconds": t0.elapsed().as_secs_f64() });
                publish(&run_dir.join(DONE), done.to_string().as_bytes())
                    .with_context(|| format!("cannot write {}", run_dir.join(DONE).display()))?;
                claim.release();
                ran += 1;
            }
        }
        if stages.shard.is_none() {
            results::write_reports(dir, config)?;
        }
    }
    if let Some(s) = stages.shard {
        eprintln!(
            "{} done in {}: {ran} cells run here; when every shard is done, `--merge` writes the reports",
            s.describe(),
            format_duration(started.elapsed().as_secs_f64()),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let written = results::write_reports(dir, config)?;
    eprintln!(
        "experiment done in {} this session; {}",
        format_duration(started.elapsed().as_secs_f64()),
        written.describe(dir)
    );
    Ok(ExitCode::SUCCESS)
}

fn interrupted() -> ExitCode {
    eprintln!("interrupted: rerun the same command to resume (finished cells are kept)");
    ExitCode::from(130)
}

/// Runs one job to its end, printing a progress line every few seconds; `extra(step, secs)` is
/// called on each timed post-training step and returns text appended to the line.
fn drive(
    job: Job,
    label: &str,
    stop: &StopFlag,
    extra: &mut dyn FnMut(usize, f64) -> String,
) -> Result<Outcome> {
    let handle = spawn(job);
    let mut err = std::io::stderr();
    let mut last = Instant::now() - Duration::from_secs(60);
    let mut stop_sent = false;
    let mut outcome = Outcome::Finished;
    let mut failure = None;
    loop {
        if stop.is_raised() && !stop_sent {
            // The engine reads the flag itself, inside the step.
            let _ = writeln!(err, "stopping: writing a checkpoint…");
            stop_sent = true;
            outcome = Outcome::Stopped;
        }
        let event = match handle.events.recv_timeout(Duration::from_millis(200)) {
            Ok(e) => e,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match event {
            Event::Step(m) => {
                let tail = if m.phase == "post" && !m.warmup {
                    extra(m.step, m.step_seconds)
                } else {
                    String::new()
                };
                if last.elapsed() >= Duration::from_secs(10) || m.step == m.total {
                    let mut line = format!(
                        "[{label}] {} {}/{}  loss {:.4}",
                        m.phase, m.step, m.total, m.loss_total
                    );
                    if let Some(a) = m.alpha {
                        line.push_str(&format!("  α {a:.2}"));
                    }
                    if let Some(t) = m.truncation_rate.filter(|t| *t > 0.0) {
                        line.push_str(&format!("  cut {:.0}%", 100.0 * t));
                    }
                    let _ = writeln!(err, "{line}{tail}");
                    last = Instant::now();
                }
            }
            Event::Eval(r) => {
                let _ = writeln!(
                    err,
                    "[{label}] {} {} step {}: {}",
                    r.split,
                    r.phase,
                    r.step,
                    r.summary_line()
                );
            }
            Event::Canary(c) => {
                let _ = writeln!(
                    err,
                    "[{label}] canary step {}: {}",
                    c.step,
                    c.summary_line()
                );
            }
            Event::Warning(w) => {
                let _ = writeln!(err, "[{label}] warning: {w}");
            }
            Event::Finished(s) => {
                if s.stopped_early {
                    outcome = Outcome::Stopped;
                }
                break;
            }
            Event::Failed(msg) => {
                failure = Some(msg);
                break;
            }
            _ => {}
        }
    }
    let _ = handle.thread.join();
    if let Some(msg) = failure {
        bail!("{label}: {msg}");
    }
    Ok(outcome)
}
