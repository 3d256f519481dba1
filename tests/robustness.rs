//! Seeded random mutations of a valid config, dataset and checkpoint: byte flips, truncations,
//! huge numbers, non-UTF-8 bytes, deep nesting, a checkpoint header claiming huge sizes. For each:
//! no panic; a refused input exits non-zero with one line naming the file (a dataset: one line per
//! bad record); an input the mutation left valid is accepted.

mod common;
use common::hytune;

use std::path::{Path, PathBuf};
use std::process::Output;

use hytune::rng::Rng;

/// One random mutation of `bytes`.
fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if b.is_empty() {
        // Nothing left to flip or cut (an earlier truncation emptied it).
        return b;
    }
    let at = |rng: &mut Rng, b: &Vec<u8>| rng.below(b.len().max(1));
    match rng.below(7) {
        0 => {
            for _ in 0..1 + rng.below(4) {
                let i = at(rng, &b);
                b[i] ^= 1 << rng.below(8);
            }
        }
        1 => b.truncate(at(rng, &b)),
        2 => {
            let i = at(rng, &b);
            let huge: &[&[u8]] = &[
                b"99999999999999999999999",
                b"1e400",
                b"-1",
                b"nan",
                b"18446744073709551616",
            ];
            b.splice(i..i, huge[rng.below(huge.len())].iter().copied());
        }
        3 => {
            let i = at(rng, &b);
            b.splice(i..i, [0xff, 0xfe, 0xc3]);
        }
        4 => {
            let i = at(rng, &b);
            let deep: Vec<u8> = std::iter::repeat_n(b'[', 5000).collect();
            b.splice(i..i, deep);
        }
        5 => {
            // A line repeated (duplicate keys or records).
            let i = at(rng, &b);
            let start = b[..i]
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(0, |p| p + 1);
            let end = b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| i + p + 1);
            let line = b[start..end].to_vec();
            b.splice(end..end, line);
        }
        _ => {
            let i = at(rng, &b);
            b.insert(i, b"{}[]=\"\n#"[rng.below(8)]);
        }
    }
    b
}

fn no_panic(o: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !err.contains("panicked") && o.status.code() != Some(101) && o.status.code().is_some(),
        "{what}: {err}"
    );
    err
}

#[test]
fn mutated_configs_datasets_and_checkpoints_never_panic() {
    let tmp = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let cwd = tmp.path();
    let cfg_path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let cfg = std::fs::read(cfg_path).unwrap();
    let mut rng = Rng::new(20261127);
    let (mut refused, mut total) = (0, 0);

    // Configs.
    let bad_cfg = cwd.join("bad.toml");
    for k in 0..200 {
        std::fs::write(&bad_cfg, mutate(&mut rng, &cfg)).unwrap();
        let o = hytune(
            &["print-config", "--config", bad_cfg.to_str().unwrap()],
            cwd,
        );
        let err = no_panic(&o, &format!("config mutation {k}"));
        total += 1;
        if !o.status.success() {
            refused += 1;
            assert_eq!(o.status.code(), Some(2), "config mutation {k}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "config mutation {k}: {err}");
            assert!(err.contains("bad.toml"), "config mutation {k}: {err}");
        }
    }

    // Datasets.
    let good = cwd.join("D");
    let o = hytune(
        &[
            "data", "gen", "--config", cfg_path, "--suite", "dosage", "--out", "D", "--size", "40",
        ],
        cwd,
    );
    assert!(o.status.success());
    let files = [
        "labeled.jsonl",
        "unlabeled.jsonl",
        "eval.jsonl",
        "dev.jsonl",
    ];
    let bad = cwd.join("B");
    for k in 0..200 {
        std::fs::create_dir_all(&bad).unwrap();
        for f in files {
            std::fs::copy(good.join(f), bad.join(f)).unwrap();
        }
        let f = files[rng.below(files.len())];
        let text = std::fs::read(good.join(f)).unwrap();
        std::fs::write(bad.join(f), mutate(&mut rng, &text)).unwrap();
        let o = hytune(&["data", "check", "B", "--config", cfg_path], cwd);
        let err = no_panic(&o, &format!("dataset mutation {k} of {f}"));
        total += 1;
        if !o.status.success() {
            refused += 1;
            assert_eq!(o.status.code(), Some(1), "dataset mutation {k}: {err}");
            for line in err.trim().lines() {
                assert!(
                    line.contains(".jsonl") || line.starts_with("B:"),
                    "dataset mutation {k}: {line}"
                );
            }
        }
    }

    // Checkpoints.
    let o = hytune(
        &[
            "train",
            "--headless",
            "--backend",
            "cpu",
            "--config",
            cfg_path,
            "--data",
            "D",
            "--out",
            "R",
            "--set",
            "post.steps=2",
            "--set",
            "eval.every=0",
        ],
        cwd,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ck = std::fs::read(cwd.join("R/final.hyt")).unwrap();
    let bad_ck: PathBuf = cwd.join("bad.hyt");
    for k in 0..120 {
        let mut b = ck.clone();
        match rng.below(4) {
            // The header and the section lengths: where a mutation changes what is read.
            0 => {
                let i = rng.below(4096.min(b.len()));
                b[i] ^= 1 << rng.below(8);
            }
            1 => b.truncate(rng.below(b.len())),
            2 => {
                // A section length claiming a huge size.
                let huge = (1u64 << (30 + rng.below(34))).to_le_bytes();
                b[8..16].copy_from_slice(&huge);
            }
            _ => b = mutate(&mut rng, &b[..4096.min(b.len())]),
        }
        std::fs::write(&bad_ck, &b).unwrap();
        let o = hytune(
            &[
                "eval",
                "--checkpoint",
                "bad.hyt",
                "--data",
                "D",
                "--set",
                "eval.max_items=2",
                "--backend",
                "cpu",
            ],
            cwd,
        );
        let err = no_panic(&o, &format!("checkpoint mutation {k}"));
        total += 1;
        if !o.status.success() {
            refused += 1;
            assert_eq!(o.status.code(), Some(1), "checkpoint mutation {k}: {err}");
            assert_eq!(
                err.trim().lines().count(),
                1,
                "checkpoint mutation {k}: {err}"
            );
            assert!(err.contains("bad.hyt"), "checkpoint mutation {k}: {err}");
        }
    }
    assert_eq!(total, 520);
    assert!(
        refused > total / 2,
        "most mutations are refused ({refused} of {total})"
    );
}

/// A pretrained-model directory with one file mutated (config, tokenizer, generation config,
/// weights header or index): `data check --model` either accepts it or refuses it in one line
/// naming the directory's file, and nothing panics.
#[test]
fn mutated_model_directories_never_panic() {
    let tmp = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let cwd = tmp.path();
    let cfg_path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf/qwen2");
    let o = hytune(
        &[
            "data", "gen", "--config", cfg_path, "--suite", "dosage", "--out", "D", "--size", "20",
        ],
        cwd,
    );
    assert!(o.status.success());
    let files = [
        "config.json",
        "tokenizer.json",
        "generation_config.json",
        "model.safetensors.index.json",
        "model-00001-of-00003.safetensors",
    ];
    let mut rng = Rng::new(20261128);
    let dir = cwd.join("M");
    let mut refused = 0;
    for k in 0..100 {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(&fixture).unwrap().flatten() {
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        let f = files[rng.below(files.len())];
        let bytes = std::fs::read(fixture.join(f)).unwrap();
        // Weights: the JSON header at the front is what a mutation can break.
        let mutated = if f.ends_with(".safetensors") {
            let mut b = bytes.clone();
            let head = mutate(&mut rng, &bytes[..400.min(bytes.len())]);
            b.splice(..400.min(bytes.len()), head);
            b
        } else {
            mutate(&mut rng, &bytes)
        };
        std::fs::write(dir.join(f), mutated).unwrap();
        // `bench` loads the weights too; a single timed step keeps it short.
        let o = hytune(
            &[
                "bench",
                "--model",
                "M",
                "--config",
                cfg_path,
                "--backend",
                "cpu",
                "--repeats",
                "1",
                "--warmup",
                "0",
                "--rows",
                "1",
                "--cols",
                "4",
                "--gen-batch",
                "1",
                "--set",
                "post.max_new_tokens=8",
                "--set",
                "model.max_len=96",
            ],
            cwd,
        );
        let err = no_panic(&o, &format!("model mutation {k} of {f}"));
        if !o.status.success() {
            refused += 1;
            assert_eq!(
                err.trim().lines().count(),
                1,
                "model mutation {k} of {f}: {err}"
            );
            assert!(err.contains("/M"), "model mutation {k} of {f}: {err}");
        }
    }
    assert!(refused > 20, "only {refused} of 100 mutations were refused");
}
