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

use crate::engine::protocol::Command;
use crate::engine::{Job, spawn};
use app::App;
use update::{Msg, update};

pub fn run(job: Job) -> Result<ExitCode> {
    let mut app = App::new(job.config.clone());
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
    std::thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            if event::poll(Duration::from_millis(50)).unwrap_or(false) {
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
                    _ => {}
                }
            }
        }
    });
    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(sig, signalled.clone())?;
    }

    let mut terminal = ratatui::try_init()?;
    let frame_time = Duration::from_secs_f64(1.0 / app.config.tui.fps as f64);
    let mut last_draw = Instant::now() - frame_time;
    let mut dirty = true;
    let mut signal_sent = false;
    let outcome: Result<()> = (|| {
        loop {
            if signalled.load(Ordering::Relaxed) && !signal_sent {
                // Checkpoint first, then leave; the terminal is restored below.
                signal_sent = true;
                app.stopping = true;
                let _ = handle.commands.send(Command::Stop { checkpoint: true });
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
            if resize_rx.try_recv().is_ok() {
                terminal.autoresize()?;
                dirty = true;
            }
            if app.quit || (signal_sent && !app.running()) {
                break;
            }
            if dirty && last_draw.elapsed() >= frame_time {
                terminal.draw(|f| view::draw(f, &app))?;
                last_draw = Instant::now();
                dirty = false;
            }
        }
        Ok(())
    })();
    input_done.store(true, Ordering::Relaxed);
    ratatui::restore();
    outcome?;
    print_summary(&app);
    Ok(if app.failed.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_summary(app: &App) {
    if let Some(info) = &app.info {
        println!("hytune: run folder {}", info.run_dir.display());
    }
    if let Some(s) = &app.finished {
        println!(
            "{} steps in {:.0} s{}",
            s.steps,
            s.seconds,
            if s.stopped_early {
                " (stopped early)"
            } else {
                ""
            }
        );
        if let (Some(a), Some(b)) = (&s.first_eval, &s.last_eval) {
            println!(
                "eval accuracy {:.3} → {:.3}, ECE {:.3} → {:.3}, Brier {:.3} → {:.3}",
                a.accuracy, b.accuracy, a.ece, b.ece, a.brier, b.brier
            );
        }
        if let Some(c) = &s.last_checkpoint {
            println!("last checkpoint {}", c.display());
        }
    } else if let Some(f) = &app.failed {
        println!("error: {f}");
    } else {
        println!("quit before the run finished (no checkpoint written on quit)");
    }
}
