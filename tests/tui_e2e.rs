//! The real binary in a real terminal (tmux): keys reach the engine, the screen shows it, and a
//! checkpoint file appears.

use std::path::{Path, PathBuf};
use std::process::Command as Cmd;

/// Whether tmux is here (under `HYTUNE_REQUIRE_TMUX`, as in CI, it must be).
fn have_tmux() -> bool {
    if Cmd::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var("HYTUNE_REQUIRE_TMUX").is_err(),
            "HYTUNE_REQUIRE_TMUX is set but tmux is missing"
        );
        eprintln!("skipped: no tmux");
        return false;
    }
    true
}

fn tmux(args: &[&str]) -> std::process::Output {
    Cmd::new("tmux").args(args).output().unwrap()
}

/// `hytune train` on the tiny config with `sets`, in a new tmux session `session` of `size`
/// (columns, rows), writing the run to `<dir>/run`. With `then` empty the pane's process is
/// hytune itself (`exec`); else `then` follows it in the shell.
fn start(dir: &Path, session: &str, size: (u16, u16), sets: &str, then: &str) -> PathBuf {
    let run = dir.join("run");
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/configs/tiny.toml");
    let exec = if then.is_empty() { "exec " } else { "" };
    let cmd = format!(
        "cd {d} && {exec}env XDG_DATA_HOME={d}/xdg XDG_CONFIG_HOME={d}/xdg {} train --config {cfg} --backend cpu {sets} --out {}{then}",
        env!("CARGO_BIN_EXE_hytune"),
        run.display(),
        d = dir.display()
    );
    let (w, h) = (size.0.to_string(), size.1.to_string());
    tmux(&["new-session", "-d", "-s", session, "-x", &w, "-y", &h, &cmd]);
    run
}

/// The real binary in a real terminal: start on the tiny config, press space, c, i and q, read
/// the screen, and find the checkpoint file.
#[test]
fn end_to_end_in_tmux() {
    use std::time::{Duration, Instant};
    if !have_tmux() {
        return;
    }
    let dir = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let session = format!("hytune-e2e-{}", std::process::id());
    // Enough post-training steps that the run is still going while we press keys; the shell
    // stays a while after it so the last screen can be read.
    let run = start(
        dir.path(),
        &session,
        (120, 40),
        "--set post.steps=400 --set pretrain.steps=30",
        "; sleep 30",
    );
    let capture = || {
        String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout).into_owned()
    };
    let wait_for = |what: &dyn Fn(&str) -> bool, secs: u64| {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(secs) {
            let s = capture();
            if what(&s) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let s = capture();
        tmux(&["kill-session", "-t", &session]);
        panic!("timed out; screen:\n{s}");
    };
    wait_for(&|s| s.contains("post ") && s.contains("tok/s"), 120);
    tmux(&["send-keys", "-t", &session, "Space"]);
    let s = wait_for(&|s| s.contains("PAUSED"), 30);
    assert!(s.contains("Losses"), "{s}");
    tmux(&["send-keys", "-t", &session, "c"]);
    wait_for(&|s| s.contains("ckpt ckpt-1post"), 30);
    tmux(&["send-keys", "-t", &session, "i"]);
    wait_for(&|s| s.contains("Inspector"), 10);
    tmux(&["send-keys", "-t", &session, "Escape"]);
    tmux(&["send-keys", "-t", &session, "q"]);
    wait_for(&|s| s.contains("Quit?"), 10);
    tmux(&["send-keys", "-t", &session, "s"]);
    let s = wait_for(&|s| s.contains("hytune: run folder"), 60);
    tmux(&["kill-session", "-t", &session]);
    assert!(s.contains("stopped early"), "{s}");
    let ckpts: Vec<_> = std::fs::read_dir(&run)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("ckpt-1post"))
        .collect();
    assert!(!ckpts.is_empty(), "a checkpoint file was written");
}

/// A closed terminal, for real: the TUI runs inside tmux and the tmux session is killed (what a
/// closed terminal window or a dropped SSH session does: the pty goes away and SIGHUP arrives).
/// The run writes a checkpoint, says so in events.log, and the process ends on its own.
#[test]
fn a_killed_terminal_loses_nothing() {
    use std::time::{Duration, Instant};
    if !have_tmux() {
        return;
    }
    let dir = hytune::scratch::TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let session = format!("hytune-hup-{}", std::process::id());
    // `exec`: the pane's process is hytune itself, so its pid is the one to watch.
    let run = start(
        dir.path(),
        &session,
        (80, 24),
        "--set post.steps=2000 --set pretrain.steps=30 --set checkpoint.every=0",
        "",
    );
    let pid =
        String::from_utf8_lossy(&tmux(&["list-panes", "-t", &session, "-F", "#{pane_pid}"]).stdout)
            .trim()
            .to_string();
    let t = Instant::now();
    loop {
        let s = String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout)
            .into_owned();
        if s.contains("post ") && s.contains("tok/s") {
            break;
        }
        if t.elapsed() > Duration::from_secs(120) {
            tmux(&["kill-session", "-t", &session]);
            panic!("post-training never showed; screen:\n{s}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    tmux(&["kill-session", "-t", &session]);
    let killed = Instant::now();
    // Gone, or a zombie its parent has yet to reap.
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    };
    while alive() && killed.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(),
        "hytune (pid {pid}) still running 60 s after the terminal closed"
    );
    let log = std::fs::read_to_string(run.join("events.log")).unwrap();
    assert!(
        log.contains("stop requested") && log.contains("finished after"),
        "events.log:\n{log}"
    );
    let ckpts: Vec<_> = std::fs::read_dir(&run)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("ckpt-1post"))
        .collect();
    assert!(
        !ckpts.is_empty(),
        "a checkpoint file was written; events.log:\n{log}"
    );
    eprintln!(
        "ended {:?} after tmux kill-session; events.log ends:\n{}",
        killed.elapsed(),
        log.lines().rev().take(3).collect::<Vec<_>>().join("\n")
    );
}
