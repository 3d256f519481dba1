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
    // Every cell of a dataset starts from the same model: it is evaluated once, in the
    // dataset's first cell (seed 1's RD at each fraction), and the base row reads it there.
    let mut before: Vec<String> = std::fs::read_dir(exp.join("cells"))
        .unwrap()
        .flatten()
        .filter(|c| c.path().join("eval-post-0000000.json").exists())
        .map(|c| c.file_name().to_string_lossy().into_owned())
        .collect();
    before.sort();
    assert_eq!(before, ["dosage-f0.2-rd-s1", "dosage-f1-rd-s1"]);
    assert_eq!(
        csv.lines()
            .filter(|l| l.contains(",eval,post,0,all,"))
            .count(),
        2,
        "{csv}"
    );
    assert!(summary.contains("| hytuning | 2 |"), "{summary}");
    assert!(summary.contains("labeled sweep (eval accuracy / ECE)"));
    assert!(summary.contains("labeled sweep (dev accuracy / ECE)"));
    // The paired intervals of HyTuning against RD over both seeds.
    assert!(summary.contains("Paired differences"), "{summary}");
    assert!(summary.contains("| hytuning − rd | 2 |"), "{summary}");
    assert!(
        summary.contains("| comparison | seeds | items | accuracy | Brier | ECE | confident errors |\n|---|---|---|---|---|---|---|\n"),
        "{summary}"
    );
    // The faithfulness section: selective prediction, post-hoc maps, certificates, paired.
    assert!(
        summary.contains("### Confidence a user can act on"),
        "{summary}"
    );
    assert!(summary.contains("| strategy | difficulty | seeds | accuracy | AURC | E-AURC |"));
    assert!(summary.contains("Brier T-scaled"));
    assert!(summary.contains("Certified abstention at ε 0.05, δ 0.1"));
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",aurc,e_aurc,selective_accuracy_50,selective_accuracy_80,coverage")
    );
    for plot in [
        "dosage-f0.2-risk-coverage.svg",
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

    // Another config in the same folder is refused, naming the folder and the key.
    let mut other = args.to_vec();
    other.extend(["--set", "post.steps=9"]);
    let o = hytune(&other, dir.path());
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("holds an experiment with another config: `post.steps` is 8 there, 9 here"),
        "{err}"
    );

    // A folder written by an earlier hytune lacks the keys added since (here `eval.before`,
    // whose default is what that version did): the same settings resume it, untouched.
    let file = exp.join("experiment.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let older: String = text
        .lines()
        .filter(|l| !l.starts_with("before = "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(older, text, "the key is in the file");
    std::fs::write(&file, &older).unwrap();
    let o = hytune(&args, dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), older);

    // One written by a later hytune has a key this one does not know: refused, naming the file
    // and the key, and the file is left as it was.
    let newer = older.replacen("[eval]\n", "[eval]\nfuture_key = 1\n", 1);
    assert_ne!(newer, older);
    std::fs::write(&file, &newer).unwrap();
    let o = hytune(&args, dir.path());
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("experiment.toml: holds an experiment this hytune cannot read")
            && err.contains("future_key"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), newer);
}

/// The experiment's report files: results.csv, summary.md and every plot, by name.
fn reports(exp: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = ["results.csv", "summary.md"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read_to_string(exp.join(n)).unwrap()))
        .collect();
    let mut plots: Vec<_> = std::fs::read_dir(exp.join("plots"))
        .unwrap()
        .flatten()
        .map(|e| {
            (
                format!("plots/{}", e.file_name().to_string_lossy()),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    plots.sort();
    v.extend(plots);
    v
}

/// A grid spread over three shard processes started at once on one folder (what a Slurm array
/// or a Kubernetes Indexed Job does), a fourth that duplicates one of them, one shard killed
/// mid-cell with SIGKILL and rerun, then the merge: the reports are those of one unsharded run.
#[test]
fn three_shards_on_one_folder_give_the_unsharded_results() {
    use std::process::{Child, Stdio};
    use std::time::{Duration, Instant};
    let dir = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let cwd = dir.path();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let args = |out: &str, extra: &[&str]| -> Vec<String> {
        let mut a = vec![
            "experiment",
            "--config",
            cfg,
            "--backend",
            "cpu",
            "--out",
            out,
            "--set",
            "experiment.strategies=[\"rd\", \"hytuning\"]",
            "--set",
            "experiment.fractions=[0.2]",
            "--set",
            "experiment.seeds=[1, 2, 3]",
            "--set",
            "checkpoint.every=2",
        ];
        a.extend(extra);
        a.into_iter().map(String::from).collect()
    };
    let run = |a: Vec<String>| {
        let o = common::hytune_command(cwd).args(&a).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{a:?}: {err}");
        err
    };
    let start = |a: Vec<String>| -> Child {
        common::hytune_command(cwd)
            .args(&a)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let err = run(args("whole", &[]));
    assert!(err.contains("6 cells"), "{err}");

    let err = run(args("sharded", &["--prepare"]));
    assert!(err.contains("prepared"), "{err}");
    let shard = |i: usize| args("sharded", &["--shard", &format!("{i}/3")]);
    // Counted from 1, as nextest, Playwright and Jest count: 1/3, 2/3, 3/3.
    let mut kids: Vec<Child> = (1..=3).map(|i| start(shard(i))).collect();
    // Shard 2 once more, at the same time: the two share its cells, never one cell.
    let twin = start(shard(2));
    // Shard 3 is killed mid-cell: while it holds a claim on a cell that has started.
    let victim = kids[2].id();
    let t = Instant::now();
    'wait: loop {
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "shard 3 never started a cell"
        );
        for e in std::fs::read_dir(cwd.join("sharded/cells"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let claim = std::fs::read_to_string(e.path().join("claim.json")).unwrap_or_default();
            let started = e.path().join("metrics.jsonl").exists();
            if started && claim.contains(&format!("\"pid\":{victim},")) {
                break 'wait;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    kids[2].kill().unwrap();
    let killed = kids.remove(2).wait_with_output().unwrap();
    assert!(!killed.status.success());
    let mut said = Vec::new();
    for k in kids.into_iter().chain([twin]) {
        let o = k.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        said.push(err);
    }
    assert!(
        said[1..]
            .iter()
            .any(|e| e.contains("being run by") && e.contains("moving on")),
        "one of the two shard-2 processes met the other's claim: {said:?}"
    );
    // The merge before the rerun fails, naming what is missing; `--partial` accepts it.
    let o = common::hytune_command(cwd)
        .args(args("sharded", &["--merge"]))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "a merge with cells missing exited 0: {err}"
    );
    assert!(
        err.contains("missing") && err.contains("--partial"),
        "{err}"
    );
    let err = run(args("sharded", &["--merge", "--partial"]));
    assert!(!err.contains("6/6 cells done"), "{err}");
    // The killed shard rerun: its dead claim is taken over, the cell resumed.
    run(shard(3));
    let err = run(args("sharded", &["--merge"]));
    assert!(err.contains("6/6 cells done"), "{err}");
    let (whole, sharded) = (reports(&cwd.join("whole")), reports(&cwd.join("sharded")));
    assert_eq!(
        whole.iter().map(|r| &r.0).collect::<Vec<_>>(),
        sharded.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    for (a, b) in whole.iter().zip(&sharded) {
        assert!(
            a.1 == b.1,
            "{} differs between the unsharded and the sharded run",
            a.0
        );
    }
    // No claim, temporary or dead-claim file is left anywhere.
    let mut left = Vec::new();
    let mut stack = vec![cwd.join("sharded")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                stack.push(e.path());
            } else if n.contains("claim") || n.contains(".tmp-") {
                left.push(e.path());
            }
        }
    }
    assert!(left.is_empty(), "{left:?}");
}
