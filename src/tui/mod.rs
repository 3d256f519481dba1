//! The live terminal interface: keys and engine events in, commands out, a frame at most every
//! 1/fps seconds and only on change. Knows nothing of Burn: it sees only the protocol.

pub mod app;
pub mod history;
pub mod keymap;
pub mod panes;
pub mod update;
pub mod view;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use anyhow::Result;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};

use crate::engine::{Job, spawn};
use app::App;
use update::{Msg, update};

pub fn run(job: Job) -> Result<ExitCode> {
    let mut app = App::new(job.config.clone());
    // SIGTERM, SIGHUP (a closed terminal, a dropped SSH session) and a terminal that fails to
    // read or write all raise the engine's stop flag: it drops the step in progress, writes a
    // checkpoint and finishes; only then does this loop end.
    let stop = job.stop.clone();
    stop.on_signals()?;
    let handle = spawn(job);
    let (tx, rx) = channel::<Msg>();

    // Engine events and key presses arrive on one channel.
    let events = handle.events;
    let fwd = tx.clone();
    std::thread::spawn(move || {
        for e in events {
            if fwd.send(Msg::Engine(e)).is_err() {
                break;
            }
        }
    });
    let input_done = Arc::new(AtomicBool::new(false));
    let done = input_done.clone();
    let keys = tx.clone();
    let (resize_tx, resize_rx) = channel::<()>();
    let input_stop = stop.clone();
    let terminal_gone = Arc::new(AtomicBool::new(false));
    let input_gone = terminal_gone.clone();
    std::thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            let ready = match event::poll(Duration::from_millis(50)) {
                Ok(r) => r,
                // EIO or EOF: the terminal is gone (a closed pty).
                Err(_) => {
                    input_gone.store(true, Ordering::Relaxed);
                    input_stop.raise();
                    break;
                }
            };
            if ready {
                match event::read() {
                    Ok(TermEvent::Key(k)) if k.kind == KeyEventKind::Press => {
                        if let Some(name) = keymap::key_name(&k) {
                            if keys.send(Msg::Key(name)).is_err() {
                                break;
                            }
                        }
                    }
                    Ok(TermEvent::Resize(..)) => {
                        let _ = resize_tx.send(());
                    }
                    Err(_) => {
                        input_gone.store(true, Ordering::Relaxed);
                        input_stop.raise();
                        break;
                    }
                    _ => {}
                }
            }
        }
    });
    let mut terminal = ratatui::try_init()?;
    let frame_time = Duration::from_secs_f64(1.0 / app.config.tui.fps as f64);
    let mut last_draw = Instant::now() - frame_time;
    let mut dirty = true;
    let mut stopping = false;
    // A failed draw means the terminal went away: stop drawing, keep handling the engine.
    let mut drawable = true;
    let outcome: Result<()> = (|| {
        loop {
            if stop.is_raised() && !stopping {
                // The engine checkpoints and finishes; then leave (the terminal is restored below).
                stopping = true;
                app.stopping = true;
            }
            let wait = if dirty {
                frame_time.saturating_sub(last_draw.elapsed())
            } else {
                frame_time
            };
            match rx.recv_timeout(wait) {
                Ok(msg) => {
                    for cmd in update(&mut app, msg) {
                        let _ = handle.commands.send(cmd);
                    }
                    dirty = true;
                    // Take whatever else is queued before drawing.
                    while let Ok(msg) = rx.try_recv() {
                        for cmd in update(&mut app, msg) {
                            let _ = handle.commands.send(cmd);
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            drawable &= !terminal_gone.load(Ordering::Relaxed);
            if resize_rx.try_recv().is_ok() && drawable {
                if terminal.autoresize().is_err() {
                    drawable = false;
                    stop.raise();
                }
                dirty = true;
            }
            if app.quit || (stopping && !app.running()) {
                break;
            }
            if drawable && dirty && last_draw.elapsed() >= frame_time {
                if terminal.draw(|f| view::draw(f, &app)).is_err() {
                    drawable = false;
                    stop.raise();
                }
                last_draw = Instant::now();
                dirty = false;
            }
        }
        Ok(())
    })();
    input_done.store(true, Ordering::Relaxed);
    if drawable {
        let _ = ratatui::try_restore();
    }
    outcome?;
    // Nothing may panic on a closed terminal: the summary is written without `println!`.
    let _ = print_summary(&mut std::io::stdout(), &app);
    Ok(if app.failed.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_summary(out: &mut dyn std::io::Write, app: &App) -> std::io::Result<()> {
    if let Some(info) = &app.info {
        writeln!(out, "hytune: run folder {}", info.run_dir.display())?;
    }
    if let Some(s) = &app.finished {
        writeln!(
            out,
            "{} steps in {:.0} s{}",
            s.steps,
            s.seconds,
            if s.stopped_early {
                " (stopped early)"
            } else {
                ""
            }
        )?;
        if let (Some(a), Some(b)) = (&s.first_eval, &s.last_eval) {
            writeln!(
                out,
                "eval accuracy {:.3} → {:.3}, ECE {:.3} → {:.3}, Brier {:.3} → {:.3}",
                a.accuracy, b.accuracy, a.ece, b.ece, a.brier, b.brier
            )?;
        }
        if let Some(c) = &s.last_checkpoint {
            writeln!(out, "last checkpoint {}", c.display())?;
        }
    } else if let Some(f) = &app.failed {
        writeln!(out, "error: {f}")?;
    } else {
        writeln!(
            out,
            "quit before the run finished (no checkpoint written on quit)"
        )?;
    }
    Ok(())
}
