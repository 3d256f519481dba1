//! Shared helpers of the integration tests: the tiny config, a generated dataset, and a run
//! driven to its end through the engine protocol.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use hytune::config::{self, Config};
use hytune::data::jsonl::write_dataset;
use hytune::data::suites::{GenSpec, Suite, generate};
use hytune::engine::protocol::{Event, StepMetrics};
use hytune::engine::{DataSource, Job, backend, spawn};
use hytune::model::{GptShape, Positions};

pub fn tiny(sets: &[(&str, &str)]) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/configs/tiny.toml");
    let mut c = config::load(Some(&path), &[]).unwrap().config;
    c = c
        .set("run.backend", toml::Value::String("cpu".into()))
        .unwrap();
    for (k, v) in sets {
        let v = config::parse_value(v);
        c = c.set(k, v).unwrap();
    }
    c
}

pub fn dataset(dir: &Path) -> PathBuf {
    let d = dir.join("data");
    write_dataset(
        &d,
        &generate(&GenSpec {
            suite: Suite::Dosage,
            size: 120,
            eval_size: 8,
            dev_size: 4,
            labeled_fraction: 0.2,
            seed: 3,
            factor: hytune::data::suites::skills::FACTOR_RANGE,
        }),
    )
    .unwrap();
    d
}

pub struct Run {
    pub steps: Vec<StepMetrics>,
    pub events: Vec<Event>,
    pub failed: Option<String>,
}

impl Run {
    pub fn losses(&self, phase: &str) -> Vec<(usize, f64)> {
        self.steps
            .iter()
            .filter(|m| m.phase == phase)
            .map(|m| (m.step, m.loss_total))
            .collect()
    }
}

/// A headless CPU job on `data`, evaluating before post-training.
pub fn job(config: Config, data: &Path, run_dir: &Path, resume: Option<PathBuf>) -> Job {
    Job {
        config,
        data: DataSource::Dir(data.to_path_buf()),
        run_dir: run_dir.to_path_buf(),
        resume,
        base: None,
        interactive: false,
        only_base: false,
        fresh_base: false,
        eval_before: true,
        stop: Default::default(),
        backend: backend::cpu(),
    }
}

pub fn run(config: Config, data: &Path, run_dir: &Path, resume: Option<PathBuf>) -> Run {
    let handle = spawn(job(config, data, run_dir, resume));
    let mut out = Run {
        steps: Vec::new(),
        events: Vec::new(),
        failed: None,
    };
    for e in handle.events.iter() {
        match &e {
            Event::Step(m) => out.steps.push((**m).clone()),
            Event::Failed(f) => out.failed = Some(f.clone()),
            _ => {}
        }
        let end = matches!(e, Event::Finished(_) | Event::Failed(_));
        out.events.push(e);
        if end {
            break;
        }
    }
    handle.thread.join().unwrap();
    out
}

/// The binary, run in `cwd` with its home, data and config folders inside `cwd`.
pub fn hytune_command(cwd: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_hytune"));
    c.current_dir(cwd)
        .env("HOME", cwd)
        .env("XDG_DATA_HOME", cwd.join("xdg"))
        .env("XDG_CONFIG_HOME", cwd.join("xdg"));
    c
}

/// Runs the binary with `args` in `cwd` and waits for it.
/// `o`, after asserting that its command succeeded (its stdout and stderr shown if not).
pub fn ok(o: std::process::Output) -> std::process::Output {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

pub fn hytune(args: &[&str], cwd: &Path) -> std::process::Output {
    hytune_command(cwd).args(args).output().unwrap()
}

/// A wgpu device (a software adapter will do), or `None` with a note when there is none;
/// under `HYTUNE_REQUIRE_WGPU` (CI) a missing adapter fails the test.
pub fn wgpu_device() -> Option<burn::tensor::Device> {
    use hytune::engine::backend::{Probe, probe_wgpu};
    match probe_wgpu() {
        Probe::Gpu(d, _) | Probe::Software(d, _) => Some(burn::tensor::Device::from(d)),
        Probe::Missing(why) => {
            assert!(
                std::env::var("HYTUNE_REQUIRE_WGPU").is_err(),
                "HYTUNE_REQUIRE_WGPU is set but there is no wgpu adapter: {why}"
            );
            eprintln!("skipped: no wgpu adapter ({why})");
            None
        }
    }
}

/// A small rotary byte GPT for tensor-level tests (d 32, 2 layers, 4 heads, ctx 64).
pub fn small_gpt() -> GptShape {
    GptShape {
        vocab: 259,
        d_model: 32,
        n_layers: 2,
        n_heads: 4,
        max_len: 64,
        mlp_ratio: 2,
        positions: Positions::Rope,
        activation: hytune::model::Activation::Gelu,
    }
}
