//! The RL variants end to end on the tiny model: each reward (and the controls), labeled
//! rollouts driving α by their solve rate, Dr. GRPO with clip-higher, both update modes; the
//! reward canary's file and metrics; and exact resume through the split update's second
//! optimizer.

mod common;

use common::{dataset, run, tiny};
use hytune::engine::checkpoint;
use hytune::engine::protocol::{Event, Phase};

fn tmp() -> hytune::scratch::TempDir {
    hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap()
}

#[test]
fn every_reward_and_update_mode_trains_with_finite_losses() {
    let dir = tmp();
    let data = dataset(dir.path());
    for (k, sets) in [
        vec![
            ("post.reward", "\"consensus\""),
            ("post.update", "\"split\""),
        ],
        vec![
            ("post.reward", "\"self_certainty\""),
            ("post.update", "\"joint\""),
        ],
        vec![
            ("post.reward", "\"consensus_prg\""),
            ("post.prg_weight", "0.25"),
            ("post.advantage", "\"dr_grpo\""),
            ("post.clip_eps_high", "0.28"),
        ],
        vec![("post.reward", "\"random\"")],
        vec![("post.reward", "\"format\""), ("mix.strategy", "\"rlif\"")],
    ]
    .into_iter()
    .enumerate()
    {
        let mut all = vec![
            ("pretrain.steps", "3"),
            ("post.steps", "4"),
            ("eval.every", "2"),
            ("checkpoint.every", "0"),
            ("post.min_majority", "0"),
            // The tiny model seldom answers, so consensus groups seldom have an advantage:
            // step RL every step to exercise each loss (`scaled` is tested in tests/engine.rs).
            ("post.rl_step", "\"always\""),
        ];
        all.extend(sets.iter().copied());
        let c = tiny(&all);
        let r = run(c, &data, &dir.path().join(format!("r{k}")), None);
        assert_eq!(r.failed, None, "{sets:?}");
        let post: Vec<_> = r.steps.iter().filter(|m| m.phase == "post").collect();
        assert_eq!(post.len(), 4);
        assert!(post.iter().all(|m| m.loss_total.is_finite()), "{sets:?}");
        assert!(post.iter().any(|m| m.loss_rlif.is_some()), "{sets:?}");
    }
}

#[test]
fn labeled_rollouts_drive_alpha_and_the_canary_reports_its_figures() {
    let dir = tmp();
    let data = dataset(dir.path());
    let c = tiny(&[
        ("pretrain.steps", "3"),
        ("post.steps", "4"),
        ("eval.every", "2"),
        ("checkpoint.every", "0"),
        ("post.labeled_rollouts", "2"),
        ("mix.alpha_rule", "\"solve_rate\""),
        ("mix.hold_until_conf", "0"),
        ("mix.momentum", "0"),
    ]);
    let run_dir = dir.path().join("run");
    let r = run(c.clone(), &data, &run_dir, None);
    assert_eq!(r.failed, None);
    for m in r.steps.iter().filter(|m| m.phase == "post") {
        // Momentum 0: α is exactly 1 − the solve rate, clamped.
        let want = (1.0 - m.solve_rate.unwrap()).clamp(c.mix.alpha_min, c.mix.alpha_max);
        assert!((m.alpha.unwrap() - want).abs() < 1e-12, "{m:?}");
    }
    // The canary ran before training, at step 2 and at the end.
    let canary: Vec<serde_json::Value> = std::fs::read_to_string(run_dir.join("canary.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps: Vec<u64> = canary.iter().map(|v| v["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, [0, 2, 4]);
    for v in &canary {
        for k in [
            "reward_auroc",
            "self_certainty_auroc",
            "logprob_auroc",
            "majority_gold",
            "answer_rate",
            "cut_rate",
            "reward_mean",
            "accuracy",
            "confident_error_rate",
        ] {
            assert!(v.get(k).is_some(), "canary lacks {k}: {v}");
        }
        assert_eq!(v["votes"], 4);
    }
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap();
    let at2: serde_json::Value = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["phase"] == "post" && v["step"] == 2)
        .unwrap();
    assert!(at2.get("canary_accuracy").is_some(), "{at2}");
    assert!(
        at2.as_object().unwrap().keys().any(|k| k.contains("auroc"))
            || at2["canary_majority_gold"].is_number(),
        "{at2}"
    );
    assert_eq!(
        r.events
            .iter()
            .filter(|e| matches!(e, Event::Canary(_)))
            .count(),
        3
    );
}

#[test]
fn held_out_labels_meter_the_policy_and_drive_alpha() {
    let dir = tmp();
    let data = dataset(dir.path());
    let sets = [
        ("pretrain.steps", "3"),
        ("post.steps", "3"),
        ("eval.every", "0"),
        ("checkpoint.every", "0"),
        ("mix.heldout_labels", "3"),
        ("mix.alpha_rule", "\"heldout\""),
        ("mix.hold_until_conf", "0"),
        ("mix.momentum", "0"),
    ];
    let c = tiny(&sets);
    let run_dir = dir.path().join("run");
    let r = run(c.clone(), &data, &run_dir, None);
    assert_eq!(r.failed, None);
    let post: Vec<_> = r.steps.iter().filter(|m| m.phase == "post").collect();
    assert_eq!(post.len(), 3);
    for m in post {
        // Momentum 0: α is exactly 1 − the held-out solve rate, clamped; the meter's 3
        // questions × 4 votes give a rate in twelfths.
        let h = m.heldout_solve.unwrap();
        assert!(((h * 12.0).round() - h * 12.0).abs() < 1e-9, "{h}");
        let want = (1.0 - h).clamp(c.mix.alpha_min, c.mix.alpha_max);
        assert!((m.alpha.unwrap() - want).abs() < 1e-12, "{m:?}");
    }
    let log = std::fs::read_to_string(run_dir.join("events.log")).unwrap();
    assert!(
        log.contains("3 labeled traces held out of RD") && log.contains("RD trains on 21"),
        "{log}"
    );
    // RD keeps every trace and rolls nothing out.
    let mut rd = sets.to_vec();
    rd.retain(|(k, _)| *k != "mix.alpha_rule");
    rd.push(("mix.strategy", "\"rd\""));
    let r = run(tiny(&rd), &data, &dir.path().join("rd"), None);
    assert_eq!(r.failed, None);
    assert!(r.steps.iter().all(|m| m.heldout_solve.is_none()));
}

#[test]
fn resume_through_the_split_update_is_exact() {
    let dir = tmp();
    let data = dataset(dir.path());
    let c = tiny(&[
        ("pretrain.steps", "3"),
        ("post.steps", "6"),
        ("eval.every", "0"),
        ("checkpoint.every", "3"),
        ("checkpoint.keep_last", "10"),
        ("post.update", "\"split\""),
        ("post.labeled_rollouts", "1"),
        ("post.min_majority", "0"),
    ]);
    let a = run(c.clone(), &data, &dir.path().join("a"), None);
    assert_eq!(a.failed, None);
    let ck = dir
        .path()
        .join("a")
        .join(checkpoint::periodic_name(Phase::Post, 3));
    // The checkpoint holds the RL optimizer's state.
    let loaded = checkpoint::load(&ck).unwrap();
    assert!(loaded.rl_optimizer_bytes().is_some());
    let b = run(c, &data, &dir.path().join("b"), Some(ck));
    assert_eq!(b.failed, None);
    assert_eq!(b.losses("post"), a.losses("post")[3..].to_vec());
}
