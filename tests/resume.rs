//! Exact resume as a user does it: the binary, a dataset directory, periodic checkpoints of both
//! phases, resumed into a new `--out` and into the run's own folder. Every step after the resume
//! matches the uninterrupted run bit for bit on the CPU backend.

mod common;
use common::hytune;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// A run's JSON-lines file as (phase, step) → the line.
fn by_step(run: &Path, file: &str) -> Vec<((String, u64), Value)> {
    std::fs::read_to_string(run.join(file))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let key = (
                v["phase"].as_str().unwrap().to_string(),
                v["step"].as_u64().unwrap(),
            );
            (key, v)
        })
        .collect()
}

/// (phase, step) → the step's training figures (timings left out).
fn metrics(run: &Path) -> Vec<((String, u64), Vec<Value>)> {
    let figures = [
        "loss_total",
        "loss_rd",
        "loss_rlif",
        "alpha",
        "prg_anchor",
        "kl_ref",
    ];
    by_step(run, "metrics.jsonl")
        .into_iter()
        .map(|(key, v)| (key, figures.iter().map(|k| v[*k].clone()).collect()))
        .collect()
}

fn assert_continues(full: &Path, resumed: &Path, from: (&str, u64)) {
    let whole: BTreeMap<_, _> = metrics(full).into_iter().collect();
    let order = |p: &str| (p == "post") as u8;
    let mut after: Vec<_> = whole
        .keys()
        .filter(|(p, s)| (order(p), *s) > (order(from.0), from.1))
        .cloned()
        .collect();
    after.sort_by_key(|(p, s)| (order(p), *s));
    let got = metrics(resumed);
    let got_keys: Vec<_> = got
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|(p, s)| (order(p), *s) > (order(from.0), from.1))
        .collect();
    assert_eq!(got_keys, after, "every later step once, in order");
    for (k, figures) in got {
        assert_eq!(whole[&k], figures, "step {k:?} after resuming at {from:?}");
    }
}

#[test]
fn resume_from_the_cli_is_exact() {
    let dir = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let cwd = dir.path();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let common = ["--headless", "--backend", "cpu"];
    ok(hytune(
        &[
            "data",
            "gen",
            "--config",
            cfg,
            "--suite",
            "dosage",
            "--out",
            "D",
            "--labeled-fraction",
            "0.05",
            "--seed",
            "7",
        ],
        cwd,
    ));
    let mut args = vec!["train", "--config", cfg, "--data", "D", "--out", "R"];
    args.extend(common);
    args.extend([
        "--set",
        "post.steps=12",
        "--set",
        "checkpoint.every=4",
        "--set",
        "checkpoint.keep_last=30",
        "--set",
        "eval.every=0",
    ]);
    ok(hytune(&args, cwd));
    let run = cwd.join("R");
    // The last step (12) is checkpointed before the final evaluations, as well as every 4th.
    for ck in [
        "ckpt-0pretrain-0000008.hyt",
        "ckpt-1post-0000004.hyt",
        "ckpt-1post-0000012.hyt",
    ] {
        assert!(run.join(ck).exists(), "{ck}");
    }

    // A post-training checkpoint into a new folder, without --data: the recorded data is used.
    let resume = |ck: &str, out: Option<&str>| {
        let mut a = vec!["train", "--resume", ck];
        if let Some(o) = out {
            a.extend(["--out", o]);
        }
        a.extend(common);
        ok(hytune(&a, cwd))
    };
    let o = resume("R/ckpt-1post-0000004.hyt", Some("R2"));
    assert_continues(&run, &cwd.join("R2"), ("post", 4));
    // The resumed optimizer state is not put on wgpu first: on a machine without a display,
    // wgpu's start-up prints Wayland's complaint (where Wayland's library is installed).
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("XDG_RUNTIME_DIR"), "{err}");

    // A kill during the final evaluations resumes from the last step: no step runs again,
    // the evaluations run and the run ends as the uninterrupted one did.
    resume("R/ckpt-1post-0000012.hyt", Some("R6"));
    let r6 = cwd.join("R6");
    assert!(
        metrics(&r6)
            .iter()
            .all(|((p, s), _)| p == "post" && *s <= 12),
        "no step after the last"
    );
    assert_continues(&run, &r6, ("post", 12));
    for f in ["final.hyt", "eval-post-0000012.json"] {
        assert!(r6.join(f).exists(), "{f}");
    }
    let dev = "dev-post-0000012.json";
    assert_eq!(r6.join(dev).exists(), run.join(dev).exists(), "{dev}");
    let scores = |r: &Path| {
        let text = std::fs::read_to_string(r.join("eval-post-0000012.json")).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        (v["accuracy"].clone(), v["brier"].clone())
    };
    assert_eq!(scores(&r6), scores(&run), "the same final evaluation");

    // A pretraining checkpoint (the cached base removed, so pretraining really resumes).
    for e in std::fs::read_dir(cwd.join("D")).unwrap().flatten() {
        if e.file_name().to_string_lossy().ends_with(".hyt") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    resume("R/ckpt-0pretrain-0000008.hyt", Some("R3"));
    assert_continues(&run, &cwd.join("R3"), ("pretrain", 8));

    // Into the run's own folder: the later steps are written once, the same as before.
    let own = cwd.join("R4");
    std::fs::create_dir(&own).unwrap();
    for e in std::fs::read_dir(&run).unwrap().flatten() {
        std::fs::copy(e.path(), own.join(e.file_name())).unwrap();
    }
    resume("R4/ckpt-1post-0000008.hyt", None);
    assert_continues(&run, &own, ("post", 8));
    assert_eq!(metrics(&own), metrics(&run));

    // Other data is refused, naming both.
    ok(hytune(
        &[
            "data",
            "gen",
            "--config",
            cfg,
            "--suite",
            "dosage",
            "--out",
            "D2",
            "--labeled-fraction",
            "0.05",
            "--seed",
            "8",
        ],
        cwd,
    ));
    let mut a = vec![
        "train",
        "--resume",
        "R/ckpt-1post-0000004.hyt",
        "--data",
        "D2",
        "--out",
        "R5",
    ];
    a.extend(common);
    let o = hytune(&a, cwd);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("differs") && err.contains("D2"), "{err}");
}

/// The canary's lines (phase, step → the whole line) of a run.
fn canary(run: &Path) -> BTreeMap<(String, u64), Value> {
    by_step(run, "canary.jsonl").into_iter().collect()
}

#[test]
fn a_resumed_run_s_canary_reads_the_items_its_first_canary_read() {
    let dir = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let cwd = dir.path();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    // A budget no item fits: the first canary reads its 2 probe items of the 4 (eval.canary),
    // and so must every later one, also after a resume that lifts the budget.
    let mut args = vec!["train", "--headless", "--backend", "cpu", "--config", cfg];
    args.extend([
        "--out",
        "R",
        "--set",
        "post.steps=8",
        "--set",
        "eval.every=4",
    ]);
    args.extend([
        "--set",
        "checkpoint.every=4",
        "--set",
        "eval.canary_seconds=1e-9",
    ]);
    ok(hytune(&args, cwd));
    let whole = canary(&cwd.join("R"));
    assert!(whole.contains_key(&("post".into(), 8)), "{whole:?}");
    assert!(whole.values().all(|v| v["questions"] == 2), "{whole:?}");
    ok(hytune(
        &[
            "train",
            "--headless",
            "--backend",
            "cpu",
            "--resume",
            "R/ckpt-1post-0000004.hyt",
            "--out",
            "R2",
            "--set",
            "eval.canary_seconds=0",
        ],
        cwd,
    ));
    let resumed = canary(&cwd.join("R2"));
    let after: Vec<_> = resumed.keys().filter(|(_, s)| *s > 4).cloned().collect();
    assert!(!after.is_empty(), "{resumed:?}");
    for k in after {
        assert_eq!(
            resumed[&k], whole[&k],
            "the canary at {k:?} as uninterrupted"
        );
    }
}

#[test]
fn a_checkpoint_write_that_fails_stops_headless_and_keeps_the_last_good_one() {
    let dir = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let cwd = dir.path();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let run = cwd.join("R");
    std::fs::create_dir(&run).unwrap();
    // The fourth post-training checkpoint goes to a full disk.
    std::os::unix::fs::symlink("/dev/full", run.join("ckpt-1post-0000004.tmp")).unwrap();
    let o = hytune(
        &[
            "train",
            "--headless",
            "--backend",
            "cpu",
            "--config",
            cfg,
            "--out",
            "R",
            "--set",
            "post.steps=8",
            "--set",
            "checkpoint.every=2",
            "--set",
            "eval.every=0",
        ],
        cwd,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let last = err.trim().lines().last().unwrap();
    assert!(
        last.starts_with("error: cannot write checkpoint")
            && last.contains("ckpt-1post-0000004.hyt"),
        "{err}"
    );
    assert!(last.contains("last good checkpoint") && last.contains("ckpt-1post-0000002.hyt"));
    assert!(!run.join("ckpt-1post-0000004.hyt").exists());
    assert!(
        !run.join("ckpt-1post-0000004.tmp").exists(),
        "no partial file left"
    );
    hytune::engine::checkpoint::load(&run.join("ckpt-1post-0000002.hyt")).unwrap();
}

#[test]
fn every_checkpoint_left_by_a_killed_writer_loads() {
    let dir = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let cwd = dir.path();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    // A base first, so every kill lands in post-training with a checkpoint each step.
    ok(hytune(
        &[
            "data", "gen", "--config", cfg, "--suite", "dosage", "--out", "D",
        ],
        cwd,
    ));
    let mut checked = 0;
    for (k, wait_ms) in [0u64, 37, 91, 150, 230].into_iter().enumerate() {
        let out = format!("R{k}");
        let mut child = common::hytune_command(cwd)
            .args([
                "train",
                "--headless",
                "--backend",
                "cpu",
                "--config",
                cfg,
                "--data",
                "D",
                "--out",
                &out,
                "--set",
                "post.steps=400",
                "--set",
                "checkpoint.every=1",
                "--set",
                "checkpoint.keep_last=3",
                "--set",
                "eval.every=0",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Once post-training writes a checkpoint every step, kill it at a varied moment.
        let started = std::time::Instant::now();
        let writing = || {
            std::fs::read_dir(cwd.join(&out)).is_ok_and(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("ckpt-1post"))
            })
        };
        while !writing() && started.elapsed().as_secs() < 60 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for e in std::fs::read_dir(cwd.join(&out)).unwrap().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "hyt") {
                hytune::engine::checkpoint::load(&p)
                    .unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 5,
        "the writer got to checkpoints before the kills ({checked})"
    );
}

/// The highest post-training step in a run's metrics.jsonl so far.
fn last_post_step(run: &Path) -> u64 {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["phase"] == "post")
        .filter_map(|v| v["step"].as_u64())
        .max()
        .unwrap_or(0)
}

/// What Slurm and Kubernetes do at the end of a job: SIGTERM, then SIGKILL about 30 s later.
/// The run drops the step in progress, skips the evaluations still due, writes a checkpoint of
/// the last finished step and exits within seconds; resuming from it gives every later step
/// exactly as a run that was never stopped.
#[test]
fn sigterm_stops_within_seconds_and_the_resume_is_exact() {
    use std::time::{Duration, Instant};
    let dir = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let cwd = dir.path();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let sets = [
        "--set",
        "post.steps=10",
        "--set",
        "checkpoint.every=0",
        "--set",
        "eval.every=0",
    ];
    let train = |out: &str| {
        let mut a = vec![
            "train",
            "--config",
            cfg,
            "--headless",
            "--backend",
            "cpu",
            "--out",
            out,
        ];
        a.extend(sets);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    ok(hytune(
        &train("R").iter().map(String::as_str).collect::<Vec<_>>(),
        cwd,
    ));

    let mut child = common::hytune_command(cwd)
        .args(train("S"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while last_post_step(&cwd.join("S")) < 3 {
        assert!(t.elapsed() < Duration::from_secs(240), "no post step 3");
        assert!(child.try_wait().unwrap().is_none(), "ended before step 3");
        std::thread::sleep(Duration::from_millis(5));
    }
    let sent = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        took < Duration::from_secs(15),
        "{took:?} from SIGTERM to exit"
    );
    let log = std::fs::read_to_string(cwd.join("S/events.log")).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("stop requested"))
        .unwrap_or_else(|| panic!("no stop line in events.log:\n{log}"));
    eprintln!("{took:?} from SIGTERM to exit; {line}");
    assert!(!cwd.join("S/final.hyt").exists(), "the run did not finish");
    let ck = hytune::engine::checkpoint::periodic(&cwd.join("S"))
        .into_iter()
        .last()
        .expect("a checkpoint written on the stop");
    let at = last_post_step(&cwd.join("S"));
    assert!(
        ck.to_string_lossy().ends_with(&format!("{at:07}.hyt")),
        "checkpoint {} of the last finished step {at}",
        ck.display()
    );

    let ck = ck.to_string_lossy().to_string();
    ok(hytune(
        &[
            "train",
            "--resume",
            &ck,
            "--out",
            "S2",
            "--headless",
            "--backend",
            "cpu",
        ],
        cwd,
    ));
    assert_continues(&cwd.join("R"), &cwd.join("S2"), ("post", at));
}
