//! Headless driver: the engine's events as progress on stderr (a redrawn line on a terminal,
//! plain lines otherwise). The engine itself writes the run folder.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::engine::protocol::{Event, StepMetrics};
use crate::engine::{Job, spawn};
use crate::progress::{Progress, format_duration};

/// One status line of a step.
pub fn status_line(m: &StepMetrics, p: &Progress) -> String {
    let mut s = format!(
        "[{}] {}/{}  loss {:.4}",
        m.phase, m.step, m.total, m.loss_total
    );
    if let (Some(rd), Some(rl)) = (m.loss_rd, m.loss_rlif) {
        s.push_str(&format!(" (rd {rd:.3}, rlif {rl:+.3})"));
    }
    if let Some(a) = m.alpha {
        s.push_str(&format!("  α {a:.2}"));
    }
    if let (Some(pa), Some(pp)) = (m.prg_anchor, m.prg_policy) {
        s.push_str(&format!("  PRG {pa:+.3}/{pp:+.3}"));
    }
    if let Some(h) = m.heldout_solve {
        s.push_str(&format!("  held-out solved {:.0}%", 100.0 * h));
    }
    if let Some(t) = m.truncation_rate.filter(|t| *t > 0.0) {
        s.push_str(&format!("  cut {:.0}%", 100.0 * t));
    }
    match p.tokens_per_second() {
        Some(t) => s.push_str(&format!("  {t:.0} tok/s")),
        None => s.push_str("  warming up"),
    }
    if let Some(eta) = p.eta_seconds() {
        s.push_str(&format!("  ETA {}", format_duration(eta)));
    }
    s
}

pub fn run(job: Job) -> Result<ExitCode> {
    // SIGTERM/SIGHUP/SIGINT raise the engine's stop flag: the step in progress is dropped, a
    // checkpoint written, and the process exits within seconds (a scheduler's grace period).
    let stop = job.stop.clone();
    stop.on_signals()?;
    let handle = spawn(job);
    let tty = std::io::stderr().is_terminal();
    let mut progress = Progress::default();
    let mut last_print = Instant::now() - Duration::from_secs(60);
    let mut stop_sent = false;
    let mut code = ExitCode::SUCCESS;
    let mut err = std::io::stderr();
    loop {
        if stop.is_raised() && !stop_sent {
            let _ = writeln!(err, "\nstopping: writing a checkpoint…");
            stop_sent = true;
        }
        let event = match handle.events.recv_timeout(Duration::from_millis(200)) {
            Ok(e) => e,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match event {
            Event::Started(info) => {
                let _ = writeln!(
                    err,
                    "hytune: run folder {}\n  backend {}, strategy {}, {} parameters, data {}\n  model {}\n  post-training: {}\n  {}",
                    info.run_dir.display(),
                    info.backend,
                    info.strategy,
                    info.params,
                    info.data,
                    info.model,
                    info.training,
                    info.memory
                );
            }
            Event::PhaseStarted {
                phase,
                total,
                start,
            } => {
                let _ = writeln!(
                    err,
                    "{}phase {}: steps {}..{}",
                    if tty { "\n" } else { "" },
                    phase.name(),
                    start,
                    total
                );
            }
            Event::Step(m) => {
                progress.push(&m);
                let line = status_line(&m, &progress);
                if tty {
                    let _ = write!(err, "\r\x1b[2K{line}");
                } else if last_print.elapsed() >= Duration::from_secs(5) || m.step == m.total {
                    let _ = writeln!(err, "{line}");
                    last_print = Instant::now();
                }
            }
            Event::Eval(r) => {
                let _ = writeln!(
                    err,
                    "{}{} {} step {}: {}",
                    if tty { "\n" } else { "" },
                    r.split,
                    r.phase,
                    r.step,
                    r.summary_line()
                );
            }
            Event::Canary(c) => {
                let _ = writeln!(
                    err,
                    "{}canary step {}: {}",
                    if tty { "\n" } else { "" },
                    c.step,
                    c.summary_line()
                );
            }
            Event::Checkpoint { path, .. } => {
                if !tty {
                    let _ = writeln!(err, "checkpoint {}", path.display());
                }
            }
            Event::Warning(w) => {
                let _ = writeln!(err, "{}warning: {w}", if tty { "\n" } else { "" });
            }
            Event::HyperChanged { step, key, value } => {
                let _ = writeln!(err, "step {step}: {key} = {value}");
            }
            Event::Finished(s) => {
                let _ = writeln!(
                    err,
                    "{}done in {} ({} steps){}; run folder {}",
                    if tty { "\n" } else { "" },
                    format_duration(s.seconds),
                    s.steps,
                    if s.stopped_early {
                        ", stopped early"
                    } else {
                        ""
                    },
                    s.run_dir.display()
                );
                if let (Some(a), Some(b)) = (&s.first_eval, &s.last_eval) {
                    let _ = writeln!(
                        err,
                        "eval accuracy {:.3} → {:.3}, ECE {:.3} → {:.3}, Brier {:.3} → {:.3}",
                        a.accuracy, b.accuracy, a.ece, b.ece, a.brier, b.brier
                    );
                }
                break;
            }
            Event::Failed(msg) => {
                let _ = writeln!(err, "{}error: {msg}", if tty { "\n" } else { "" });
                code = ExitCode::from(1);
                break;
            }
            Event::Evaluating { done, items } => {
                if tty {
                    let _ = write!(err, "\r\x1b[2Kevaluating {done}/{items} items…");
                } else if done == 0 {
                    let _ = writeln!(err, "evaluating {items} items…");
                }
            }
            Event::Traces { .. } | Event::Sample(_) | Event::Paused | Event::Resumed => {}
        }
    }
    let _ = handle.thread.join();
    Ok(code)
}
