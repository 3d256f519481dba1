//! The binary on bad input: one clear line naming the file, line or key; a non-zero exit; no
//! panic; nothing overwritten.

mod common;
use common::hytune;

use std::process::Output;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn config_mistakes_exit_2_with_file_line_and_key() {
    let dir = hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[post]\nsteps = 10\nlearning_rate = 0.1\n").unwrap();
    let o = hytune(
        &["print-config", "--config", cfg.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("bad.toml:3: `post.learning_rate`: unknown key"),
        "{e}"
    );
    assert!(!e.contains("panicked") && e.lines().count() == 1, "{e}");

    std::fs::write(&cfg, "[mix]\ntau = \"fast\"\n").unwrap();
    let o = hytune(
        &["train", "--headless", "--config", cfg.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bad.toml:2: `mix.tau`: expected float, found string"),
        "{}",
        stderr(&o)
    );

    // A half-precision base needs a frozen base (LoRA); a factor range outside 2..=99 is refused.
    let o = hytune(
        &["print-config", "--set", "model.dtype=\"bf16\""],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`model.dtype`: bf16 stores a frozen base in half precision"),
        "{}",
        stderr(&o)
    );
    let o = hytune(
        &[
            "print-config",
            "--set",
            "model.dtype=\"bf16\"",
            "--set",
            "lora.rank=8",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = hytune(&["print-config", "--set", "model.dtype=\"f8\""], dir.path());
    assert!(
        stderr(&o).contains("expected one of f32, bf16, f16, got `f8`"),
        "{}",
        stderr(&o)
    );
    let o = hytune(
        &["print-config", "--set", "data.factor_range=[1, 12]"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`data.factor_range`"), "{}", stderr(&o));

    let o = hytune(&["print-config", "--set", "model.n_heads=5"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--set: `model.n_heads`: must divide model.d_model (128)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn print_config_without_arguments_is_the_repo_config() {
    let dir = hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap();
    let o = hytune(&["print-config"], dir.path());
    assert!(o.status.success());
    let repo =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml")).unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), repo);
}

#[test]
fn data_gen_check_and_refusals() {
    let dir = hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap();
    let out = dir.path().join("ds");
    let o = hytune(
        &[
            "data",
            "gen",
            "--suite",
            "arith",
            "--out",
            out.to_str().unwrap(),
            "--size",
            "50",
            "--labeled-fraction",
            "0.1",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let before = std::fs::read_to_string(out.join("labeled.jsonl")).unwrap();
    assert_eq!(before.lines().count(), 5);
    let o = hytune(
        &[
            "data",
            "gen",
            "--suite",
            "arith",
            "--out",
            out.to_str().unwrap(),
            "--seed",
            "9",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists already (use --force to replace)"));
    assert_eq!(
        std::fs::read_to_string(out.join("labeled.jsonl")).unwrap(),
        before,
        "nothing overwritten"
    );

    let o = hytune(&["data", "check", out.to_str().unwrap()], dir.path());
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("ok — 5 labeled, 45 unlabeled"));

    std::fs::write(
        out.join("eval.jsonl"),
        "{\"question\":\"q\",\"answer\":\"1\"}\n{\"question\":\"q\"}\n[1,2]\n",
    )
    .unwrap();
    let o = hytune(&["data", "check", out.to_str().unwrap()], dir.path());
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("eval.jsonl:2: missing field `answer`"), "{e}");
    assert!(e.contains("eval.jsonl:3: invalid type"), "{e}");

    let o = hytune(
        &["data", "gen", "--suite", "chemistry", "--out", "x"],
        dir.path(),
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("unknown suite `chemistry`"));
}

#[test]
fn bad_checkpoints_and_cli_are_refused() {
    let dir = hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap();
    let junk = dir.path().join("junk.hyt");
    std::fs::write(&junk, "not a checkpoint").unwrap();
    let o = hytune(
        &[
            "eval",
            "--checkpoint",
            junk.to_str().unwrap(),
            "--data",
            ".",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("junk.hyt: not a hytune checkpoint"),
        "{}",
        stderr(&o)
    );
    let o = hytune(
        &["train", "--headless", "--resume", "missing.hyt"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("missing.hyt: cannot open checkpoint"),
        "{}",
        stderr(&o)
    );
    let o = hytune(&["train", "--bogus"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    // Burn would panic on a device name it does not know; hytune names the variable instead.
    let o = common::hytune_command(dir.path())
        .env("BURN_DEVICE", "cuda")
        .args(["print-config"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("BURN_DEVICE=\"cuda\": not a backend of this build") && !e.contains("panicked"),
        "{e}"
    );
    let o = hytune(&["train", "--headless", "--data", "nowhere"], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("nowhere: not a dataset directory"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn tiny_headless_run_then_eval() {
    let dir = hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let run = dir.path().join("run");
    let o = hytune(
        &[
            "train",
            "--headless",
            "--config",
            cfg,
            "--backend",
            "cpu",
            "--out",
            run.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("eval post step 8"), "{e}");
    let data = std::fs::read_dir(dir.path().join("xdg/hytune/suites"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let ckpt = run.join("final.hyt");
    // `hytune eval` of the final checkpoint on the suite, with more arguments.
    let eval = |more: &[&str]| {
        let mut a = vec![
            "eval",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ];
        a.extend_from_slice(more);
        hytune(&a, dir.path())
    };
    let preds = dir.path().join("p.jsonl");
    let o = eval(&["--json", "--predictions", preds.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["n"], 16);
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&preds)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    for k in [
        "question",
        "gold",
        "answer",
        "correct",
        "confidence",
        "prg",
        "self_certainty",
        "steps",
    ] {
        assert!(first.get(k).is_some(), "prediction lacks {k}");
    }
    // Other answer shapes (eval.extract) read the same raw responses: the last number of each
    // response, found here independently, is its answer; the tiny model never writes `####`.
    let eval_as = |extract: &str, file: &str| {
        let p = dir.path().join(file);
        let set = format!("eval.extract=\"{extract}\"");
        let o = eval(&[
            "--json",
            "--predictions",
            p.to_str().unwrap(),
            "--set",
            &set,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let preds: Vec<serde_json::Value> = std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (s, preds)
    };
    let (_, preds) = eval_as("last_number", "p-last.jsonl");
    assert_eq!(preds.len(), 16);
    let mut checked = 0;
    for p in &preds {
        let response = p["response"].as_str().unwrap();
        if response.contains(',') || response.contains('-') {
            continue; // thousands groups and signs: the unit tests of data::extract
        }
        checked += 1;
        let last = response
            .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
            .last()
            .map(|w| w.trim_end_matches('.').to_string());
        let answer = p["answer"].as_str().map(str::to_string);
        assert_eq!(answer, last, "{response:?}");
        let correct = answer.is_some_and(|a| {
            a.parse::<f64>().ok() == p["gold"].as_str().unwrap().parse::<f64>().ok()
        });
        assert_eq!(p["correct"].as_bool(), Some(correct), "{p}");
    }
    assert!(checked >= 8, "only {checked} plain responses");
    let (s, preds) = eval_as("hash", "p-hash.jsonl");
    assert_eq!(s["accuracy"], 0.0);
    assert!(preds.iter().all(|p| p["answer"].is_null()));
    let o = eval(&["--set", "eval.extract=\"regex\""]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("eval.extract"), "{}", stderr(&o));
    let o = eval(&["--json", "--limit", "5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["n"], 5);
    assert!(s["aurc"].is_number() && s["coverage"].is_number(), "{s}");
    assert!(s.get("abstention").is_none(), "no certificate yet: {s}");

    // `--votes N` on one file of items (dev.jsonl): N samples an item, reduced per difficulty;
    // the shares agree with each other as they must whatever the model answers.
    let dev = data.join("dev.jsonl");
    let o = hytune(
        &[
            "eval",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--data",
            dev.to_str().unwrap(),
            "--votes",
            "3",
            "--json",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &s["competence"];
    assert_eq!(c["votes"], 3, "{s}");
    let all = &c["overall"];
    assert_eq!(all["items"], s["n"]);
    let f = |k: &str| all[k].as_f64().unwrap();
    assert!(f("majority_right") <= f("pass_at_n") && f("vote_accuracy") <= f("pass_at_n"));
    assert!(f("vote_accuracy") <= f("answer_rate") && f("trained") <= 1.0);
    assert_eq!(all["by_threshold"].as_array().unwrap().len(), 5);
    let by = c["by_difficulty"].as_object().unwrap();
    let n: u64 = by.values().map(|d| d["items"].as_u64().unwrap()).sum();
    assert_eq!(Some(n), all["items"].as_u64());
    let o = hytune(
        &[
            "eval",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--data",
            dev.to_str().unwrap(),
            "--votes",
            "2",
        ],
        dir.path(),
    );
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.contains("votes: 2 per item") && out.contains("majority right"),
        "{out}"
    );

    // `hytune calibrate`: refusals first, each one line and exit 1, the checkpoint untouched.
    let calibrate = |more: &[&str]| {
        let mut a = vec!["calibrate", "--checkpoint", ckpt.to_str().unwrap()];
        a.extend_from_slice(more);
        hytune(&a, dir.path())
    };
    let before = std::fs::read(&ckpt).unwrap();
    // The run's own dev.jsonl holds 8 items; a certificate needs 45 at ε 5%, δ 10%.
    let o = calibrate(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("dev.jsonl: 8 calibration items cannot certify anything") && e.contains("45"),
        "{e}"
    );
    let o = calibrate(&["--epsilon", "1.5"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--epsilon 1.5 is outside (0, 1)"),
        "{}",
        stderr(&o)
    );
    let o = calibrate(&["--delta", "0"]);
    assert!(
        stderr(&o).contains("--delta 0 is outside (0, 1)"),
        "{}",
        stderr(&o)
    );
    let o = calibrate(&["--score", "vibes"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--score vibes"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&ckpt).unwrap(), before, "nothing written");
    // 48 held-out items (the eval file three times): enough to run the test.
    let eval_text = std::fs::read_to_string(data.join("eval.jsonl")).unwrap();
    let held = dir.path().join("held.jsonl");
    std::fs::write(&held, eval_text.repeat(3)).unwrap();
    let scored = dir.path().join("scored.jsonl");
    let o = calibrate(&[
        "--data",
        held.to_str().unwrap(),
        "--predictions",
        scored.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.lines().any(|l| l.starts_with("threshold ")), "{out}");
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&scored)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 48);
    assert!(
        rows.iter()
            .all(|r| r["confidence"].is_number() && r["correct"].is_boolean())
    );
    // The certificate is in the checkpoint's header, and the model is unchanged.
    let ck = hytune::engine::checkpoint::load(&ckpt).unwrap();
    let cert = ck
        .meta
        .certificate
        .clone()
        .expect("a certificate in the header");
    assert_eq!((cert.n, cert.epsilon, cert.delta), (48, 0.05, 0.1));
    let wrong = rows.iter().filter(|r| r["correct"] == false).count();
    if cert.threshold.is_none() {
        assert!(out.contains("threshold none"), "{out}");
    } else {
        assert!(cert.errors <= wrong);
    }
    // eval applies it: answered + abstained = all, and says whether the promise held.
    let o = eval(&["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let a = &s["abstention"];
    assert_eq!(
        a["answered"].as_u64().unwrap() + a["abstained"].as_u64().unwrap(),
        16,
        "{s}"
    );
    assert!(a["held"].is_boolean(), "{s}");
    let o = eval(&[]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("abstention at the certified threshold"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // --predictions never overwrites.
    let o = calibrate(&[
        "--data",
        held.to_str().unwrap(),
        "--predictions",
        scored.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists already"), "{}", stderr(&o));
    // The run folder is not overwritten by a second run.
    let o = hytune(
        &[
            "train",
            "--headless",
            "--config",
            cfg,
            "--out",
            run.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("holds a run already"));
}

#[test]
fn items_longer_than_the_context_are_listed_refused_or_skipped_never_cut() {
    let dir = hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let d = dir.path().join("long");
    std::fs::create_dir(&d).unwrap();
    let long = "x".repeat(307);
    let trace =
        |q: &str| format!("{{\"question\":\"{q}\",\"steps\":[\"6*7=42\"],\"answer\":\"42\"}}\n");
    // Line 2 of labeled.jsonl and line 3 of unlabeled.jsonl (after a blank line) are too long.
    let mut labeled = trace("6 times 7?") + &trace(&long);
    for i in 0..6 {
        labeled += &trace(&format!("{i} and 6 times 7?"));
    }
    std::fs::write(d.join("labeled.jsonl"), labeled).unwrap();
    std::fs::write(
        d.join("unlabeled.jsonl"),
        format!("{{\"question\":\"7 times 6?\"}}\n\n{{\"question\":\"{long}\"}}\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("eval.jsonl"),
        format!(
            "{{\"question\":\"{long}\",\"answer\":\"42\"}}\n{{\"question\":\"6*7=?\",\"answer\":\"42\"}}\n"
        ),
    )
    .unwrap();
    let dp = d.to_str().unwrap();

    let o = hytune(&["data", "check", dp, "--config", cfg], dir.path());
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("labeled.jsonl:2: needs 329 tokens (trace), context 160"),
        "{out}"
    );
    assert!(out.contains("unlabeled.jsonl:3: needs 360 tokens"), "{out}");
    assert!(out.contains("eval.jsonl:1: needs"), "{out}");
    let e = stderr(&o);
    assert!(e.contains("3 items do not fit model.max_len 160"), "{e}");
    assert!(e.contains("fix: --set model.max_len=360"), "{e}");
    assert!(e.contains("1 of 8 in labeled.jsonl"), "{e}");

    // Training refuses by default, with the fix, before anything trains.
    let train = |extra: &[&str]| {
        let mut a = vec![
            "train",
            "--headless",
            "--backend",
            "cpu",
            "--config",
            cfg,
            "--data",
            dp,
            "--set",
            "eval.dev_fraction=0",
        ];
        a.extend(extra);
        hytune(&a, dir.path())
    };
    let run = dir.path().join("r1");
    let o = train(&["--out", run.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("1 of 8 labeled traces and 1 of 2 unlabeled questions"),
        "{e}"
    );
    assert!(e.contains("--set model.max_len=360"), "{e}");
    assert!(!run.join("metrics.jsonl").exists(), "nothing trained");

    // Skipping leaves them out, says so, and eval reports the unfit item without scoring it.
    let run = dir.path().join("r2");
    let o = train(&[
        "--out",
        run.to_str().unwrap(),
        "--set",
        "data.too_long=\"skip\"",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("left out 1 labeled traces and 1 unlabeled questions"),
        "{e}"
    );
    assert!(
        e.contains("(1 more do not fit the context: not scored)"),
        "{e}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval-post-0000008.json")).unwrap())
            .unwrap();
    assert_eq!(
        (report["n"].as_u64(), report["unfit"].as_u64()),
        (Some(1), Some(1))
    );
    let preds = std::fs::read_to_string(run.join("predictions-eval-post-0000008.jsonl")).unwrap();
    assert_eq!(preds.matches("\"unfit\":true").count(), 1, "{preds}");

    // A model from scratch may take the context the data needs, and says so.
    let run = dir.path().join("r3");
    let o = train(&[
        "--out",
        run.to_str().unwrap(),
        "--set",
        "data.too_long=\"fit\"",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("model.max_len set to 360"), "{e}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval-post-0000008.json")).unwrap())
            .unwrap();
    assert_eq!(
        (report["n"].as_u64(), report["unfit"].as_u64()),
        (Some(2), Some(0))
    );
}

/// A pretrained model too large for this machine is refused from its config alone, before its
/// weights are read: here the weights are not even there, and the refusal is the estimate's.
#[test]
fn a_model_that_cannot_fit_is_refused_before_loading() {
    let dir = hytune::scratch::TempDir::new_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf/smollm2");
    let big = dir.path().join("big");
    std::fs::create_dir(&big).unwrap();
    for f in [
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
    ] {
        std::fs::copy(src.join(f), big.join(f)).unwrap();
    }
    let mut c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    // About 860 billion parameters: terabytes on any machine.
    c["hidden_size"] = 16384.into();
    c["head_dim"] = 128.into();
    c["num_attention_heads"] = 128.into();
    c["num_key_value_heads"] = 128.into();
    c["intermediate_size"] = 65536.into();
    c["num_hidden_layers"] = 200.into();
    std::fs::write(big.join("config.json"), c.to_string()).unwrap();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let run = dir.path().join("run");
    let o = hytune(
        &[
            "train",
            "--headless",
            "--config",
            cfg,
            "--backend",
            "cpu",
            "--model",
            big.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("memory estimate") && e.contains("exceeds") && !e.contains("safetensors"),
        "{e}"
    );
    assert!(!run.exists(), "no run folder for a refused run");
}
