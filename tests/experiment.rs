//! `hytune experiment` through the binary: a tiny grid runs, writes its reports and plots, and a
//! rerun resumes a half-done cell and skips the finished ones.

mod common;
use common::hytune;

use std::path::Path;

#[test]
fn tiny_grid_reports_and_resumes() {
    let dir = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let exp = dir.path().join("exp");
    let args = [
        "experiment",
        "--config",
        cfg,
        "--backend",
        "cpu",
        "--out",
        exp.to_str().unwrap(),
        "--set",
        "experiment.strategies=[\"rd\", \"hytuning\"]",
        "--set",
        "experiment.fractions=[0.2, 1.0]",
        "--set",
        "experiment.seeds=[1, 2]",
    ];
    let o = hytune(&args, dir.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // Two fractions × two strategies × two seeds; at 1.0 HyTuning rolls out on labeled questions.
    assert!(err.contains("8 cells"), "{err}");
    assert!(err.contains("8/8 cells done"), "{err}");
    let csv = std::fs::read_to_string(exp.join("results.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.starts_with("suite,fraction,labels,strategy,seed,done,split,phase,step,difficulty")
    );
    assert!(
        csv.contains("dosage,0.2,,hytuning,2,true,eval,post,8,all"),
        "{csv}"
    );
    assert!(csv.contains(",dev,post,"), "dev evaluations are rows too");
    assert!(
        csv.contains("dosage,1,,hytuning,1,true,eval,post,8,all"),
        "{csv}"
    );
    let summary = std::fs::read_to_string(exp.join("summary.md")).unwrap();
    assert!(summary.contains("## dosage, 20% labeled"), "{summary}");
    assert!(summary.contains("| base (before post-training) |"));
    assert!(summary.contains("| hytuning | 2 |"), "{summary}");
    assert!(summary.contains("labeled sweep (eval accuracy / ECE)"));
    assert!(summary.contains("labeled sweep (dev accuracy / ECE)"));
    // The paired intervals of HyTuning against RD over both seeds.
    assert!(summary.contains("Paired differences"), "{summary}");
    assert!(summary.contains("| hytuning − rd | 2 |"), "{summary}");
    for plot in [
        "dosage-accuracy-vs-labels.svg",
        "dosage-ece-vs-labels.svg",
        "dosage-f0.2-reliability.svg",
        "dosage-f0.2-hytuning-s1-alpha-prg.svg",
        "dosage-f0.2-hytuning-s1-canary.svg",
    ] {
        let text = std::fs::read_to_string(exp.join("plots").join(plot)).unwrap();
        assert!(text.starts_with("<svg"), "{plot}");
    }

    // A killed cell: its completion mark and final files go, its periodic checkpoint stays.
    let cell = exp.join("cells/dosage-f0.2-hytuning-s2");
    std::fs::remove_file(cell.join("done.json")).unwrap();
    std::fs::remove_file(cell.join("final.hyt")).unwrap();
    let before = std::fs::read_to_string(cell.join("metrics.jsonl")).unwrap();
    let kept: Vec<&str> = before.lines().take(4).collect();
    std::fs::write(cell.join("metrics.jsonl"), kept.join("\n") + "\n").unwrap();
    for e in std::fs::read_dir(&cell).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with("ckpt-") && !n.contains("0000004") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let o = hytune(&args, dir.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("cell 4/8 dosage-f0.2-hytuning-s2"), "{err}");
    assert!(
        !err.contains("cell 1/8"),
        "finished cells are skipped: {err}"
    );
    assert!(cell.join("done.json").exists() && cell.join("final.hyt").exists());
    let after = std::fs::read_to_string(cell.join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = after
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(steps, (1..=8).collect::<Vec<_>>(), "resumed after step 4");

    // Another config in the same folder is refused, naming the folder.
    let mut other = args.to_vec();
    other.extend(["--set", "post.steps=9"]);
    let o = hytune(&other, dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds an experiment with another config"));
}
