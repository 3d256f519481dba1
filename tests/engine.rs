//! The engine end to end on the CPU backend: HyTuning steps, exact resume, checkpoints.

mod common;

use common::{dataset, run, tiny};
use hytune::engine::checkpoint;
use hytune::engine::protocol::Event;
use hytune::model::GptShape;

#[test]
fn a_scaled_rl_step_is_taken_only_with_an_advantage_to_follow() {
    let dir = hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap();
    let data = dataset(dir.path());
    let c = tiny(&[
        ("pretrain.steps", "3"),
        ("post.steps", "8"),
        ("eval.every", "0"),
        ("checkpoint.every", "0"),
        ("mix.strategy", "rlif"),
        ("post.reward", "random"),
        ("post.rl_step", "scaled"),
    ]);
    let r = run(c, &data, &dir.path().join("run"), None);
    assert_eq!(r.failed, None);
    let post: Vec<_> = r.steps.iter().filter(|m| m.phase == "post").collect();
    assert_eq!(post.len(), 8);
    for m in &post {
        let s = m.rl_scale.expect("an RL strategy logs its step's scale");
        // A random reward gives every group spread: every rollout with tokens has an advantage.
        assert!(s > 0.5 && s <= 1.0, "{s}");
        assert_eq!(m.loss_rlif.is_some(), s > 0.0, "{m:?}");
    }
}

/// `eval.before = false` skips the base's evaluations and canary, and only those: the first
/// evaluation comes after a step, and the ones every `eval.every` steps and at the end still run.
#[test]
fn eval_before_false_skips_the_base_figures_only() {
    let dir = hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap();
    let data = dataset(dir.path());
    let sets = [
        ("pretrain.steps", "3"),
        ("post.steps", "4"),
        ("eval.every", "2"),
        ("eval.canary", "4"),
        ("checkpoint.every", "0"),
    ];
    let files = |before: &str| {
        let run_dir = dir.path().join(format!("run-{before}"));
        let mut c = sets.to_vec();
        c.push(("eval.before", before));
        let r = run(tiny(&c), &data, &run_dir, None);
        assert_eq!(r.failed, None);
        let canary = std::fs::read_to_string(run_dir.join("canary.jsonl")).unwrap();
        let steps: Vec<u64> = canary
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        let mut names: Vec<String> = std::fs::read_dir(&run_dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json") && n.contains("-post-"))
            .collect();
        names.sort();
        (names, steps)
    };
    let (with, canary_with) = files("true");
    let (without, canary_without) = files("false");
    assert_eq!(
        with,
        [
            "dev-post-0000000.json",
            "dev-post-0000002.json",
            "dev-post-0000004.json",
            "eval-post-0000000.json",
            "eval-post-0000004.json"
        ]
    );
    assert_eq!(
        without,
        [
            "dev-post-0000002.json",
            "dev-post-0000004.json",
            "eval-post-0000004.json"
        ]
    );
    assert_eq!((canary_with, canary_without), (vec![0, 2, 4], vec![2, 4]));
}

/// A stop (SIGTERM) during the evaluation before post-training ends the run there: the dev
/// evaluation and the canary still due are not started, no step is taken, and the checkpoint of
/// step 0 is written.
#[test]
fn a_stop_during_the_first_evaluation_starts_nothing_after_it() {
    use hytune::engine::protocol::Phase;
    use hytune::engine::{Job, spawn, stop::StopFlag};
    let dir = hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap();
    // 200 eval items decoded one at a time: the stop lands long before that evaluation ends.
    let data = dir.path().join("data");
    hytune::data::jsonl::write_dataset(
        &data,
        &hytune::data::suites::generate(&hytune::data::suites::GenSpec {
            suite: hytune::data::suites::Suite::Dosage,
            size: 120,
            eval_size: 200,
            dev_size: 4,
            labeled_fraction: 0.2,
            seed: 3,
            factor: hytune::data::suites::skills::FACTOR_RANGE,
        }),
    )
    .unwrap();
    let run_dir = dir.path().join("run");
    let stop = StopFlag::new();
    let config = tiny(&[
        ("pretrain.steps", "3"),
        ("post.steps", "4"),
        ("eval.canary", "4"),
        ("eval.max_items", "200"),
        ("eval.batch_size", "1"),
    ]);
    let job = Job {
        stop: stop.clone(),
        ..common::job(config, &data, &run_dir, None)
    };
    let handle = spawn(job);
    let (mut post, mut after) = (false, Vec::new());
    for e in handle.events.iter() {
        let end = matches!(e, Event::Finished(_) | Event::Failed(_));
        if post && stop.is_raised() {
            after.push(format!("{e:?}"));
        }
        match &e {
            Event::PhaseStarted { phase, .. } => post = *phase == Phase::Post,
            Event::Evaluating { done: 0, .. } if post && !stop.is_raised() => stop.raise(),
            _ => {}
        }
        if end {
            break;
        }
    }
    handle.thread.join().unwrap();
    assert!(stop.is_raised(), "no evaluation before post-training");
    let log = std::fs::read_to_string(run_dir.join("events.log")).unwrap();
    assert!(log.contains("eval evaluation at step 0 given up"), "{log}");
    let started: Vec<_> = after
        .iter()
        .filter(|e| e.starts_with("Evaluating { done: 0") || e.starts_with("Step("))
        .collect();
    assert!(started.is_empty(), "{started:?}");
    assert!(!run_dir.join("canary.jsonl").exists(), "a canary ran");
    let ck = checkpoint::periodic(&run_dir);
    assert!(
        ck.last()
            .is_some_and(|p| p.to_string_lossy().ends_with("post-0000000.hyt")),
        "{ck:?}"
    );
}

#[test]
fn twenty_hytuning_steps_have_finite_losses_and_bounded_alpha() {
    let dir = hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap();
    let data = dataset(dir.path());
    let c = tiny(&[
        ("pretrain.steps", "3"),
        ("post.steps", "20"),
        ("eval.every", "10"),
        ("checkpoint.every", "0"),
        ("mix.strategy", "hytuning"),
        // The tiny model rarely agrees with itself: no vote is too weak to reward here.
        ("post.min_majority", "0"),
        // It rarely answers either, so few groups have an advantage: step RL on every step to
        // exercise its loss (`scaled` would take no RL step without one; tested above).
        ("post.rl_step", "always"),
    ]);
    let r = run(c.clone(), &data, &dir.path().join("run"), None);
    assert_eq!(r.failed, None);
    let post: Vec<_> = r.steps.iter().filter(|m| m.phase == "post").collect();
    assert_eq!(post.len(), 20);
    for m in &post {
        assert!(
            m.loss_total.is_finite() && m.loss_rd.unwrap().is_finite(),
            "{m:?}"
        );
        let a = m.alpha.unwrap();
        assert!(
            (c.mix.alpha_min..=c.mix.alpha_max).contains(&a),
            "alpha {a} out of bounds"
        );
        assert!(m.prg_anchor.unwrap().abs() <= 1.0);
        assert!(m.reward_mean.is_some() && m.extraction_rate.is_some());
        assert!(m.time_rollout > 0.0 && m.time_update > 0.0);
    }
    assert!(
        post.iter().any(|m| m.loss_rlif.is_some()),
        "RLIF loss was used"
    );
    let evals = r
        .events
        .iter()
        .filter(|e| matches!(e, Event::Eval(_)))
        .count();
    assert_eq!(
        evals, 5,
        "eval and dev before, dev at step 10, dev and eval at the end"
    );
    let run_dir = dir.path().join("run");
    for f in [
        "config.toml",
        "metrics.jsonl",
        "events.log",
        "final.hyt",
        "base.hyt",
        "best.hyt",
        "eval-post-0000020.json",
        "predictions-eval-post-0000020.jsonl",
        "dev-post-0000010.json",
    ] {
        assert!(run_dir.join(f).exists(), "{f} missing");
    }
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run_dir.join("eval-post-0000020.json")).unwrap(),
    )
    .unwrap();
    for k in [
        "n",
        "accuracy",
        "ece",
        "brier",
        "auroc",
        "confident_error_rate",
        "mean_confidence",
        "reliability",
        "hist_right",
        "hist_wrong",
        "by_difficulty",
    ] {
        assert!(summary.get(k).is_some(), "summary lacks {k}");
    }
    let lines = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 3 + 20);
}

#[test]
fn resume_reproduces_the_uninterrupted_run() {
    let dir = hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap();
    let data = dataset(dir.path());
    let c = tiny(&[
        ("pretrain.steps", "10"),
        ("post.steps", "10"),
        ("eval.every", "0"),
        ("checkpoint.every", "5"),
        ("checkpoint.keep_last", "10"),
    ]);
    let a = run(c.clone(), &data, &dir.path().join("a"), None);
    assert_eq!(a.failed, None);

    // Stopped in pretraining at step 5: the rest of pretraining and all of post-training agree.
    let ck = dir.path().join("a").join(checkpoint::periodic_name(
        hytune::engine::protocol::Phase::Pretrain,
        5,
    ));
    let b = run(c.clone(), &data, &dir.path().join("b"), Some(ck));
    assert_eq!(b.failed, None);
    assert_eq!(b.losses("pretrain"), a.losses("pretrain")[5..].to_vec());
    assert_eq!(b.losses("post"), a.losses("post"));

    // Stopped in post-training at step 5 (optimizer, reference, α EMA, RNG and cursors restored).
    let ck = dir.path().join("a").join(checkpoint::periodic_name(
        hytune::engine::protocol::Phase::Post,
        5,
    ));
    let r = run(c, &data, &dir.path().join("c"), Some(ck));
    assert_eq!(r.failed, None);
    let resumed = r.losses("post");
    assert_eq!(resumed.len(), 5);
    assert_eq!(resumed, a.losses("post")[5..].to_vec());
    let alphas = |ms: &[hytune::engine::protocol::StepMetrics]| {
        ms.iter()
            .filter(|m| m.phase == "post" && m.step > 5)
            .map(|m| m.alpha)
            .collect::<Vec<_>>()
    };
    assert_eq!(alphas(&r.steps), alphas(&a.steps));
}

#[test]
fn checkpoint_of_another_shape_is_refused() {
    let dir = hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap();
    let data = dataset(dir.path());
    let c = tiny(&[
        ("pretrain.steps", "2"),
        ("post.steps", "1"),
        ("eval.every", "0"),
    ]);
    let a = run(c.clone(), &data, &dir.path().join("a"), None);
    assert_eq!(a.failed, None);
    let path = dir.path().join("a/final.hyt");
    let ck = checkpoint::load(&path).unwrap();
    let other = GptShape {
        d_model: 64,
        ..GptShape::from_config(&c.model)
    };
    let e = ck
        .model(&other, &burn::tensor::Device::flex(), &path)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("final.hyt: checkpoint is of another model shape (d_model 32"),
        "{e}"
    );
}
