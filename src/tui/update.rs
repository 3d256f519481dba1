//! The one pure function that updates the TUI state from engine events and key presses and
//! returns the commands to send. Popups get keys first, then global keys.

use super::app::{App, EDITABLE, LogKind, Popup, ROLLING_CONFIDENCES};
use super::keymap::Action;
use crate::config::parse_value;
use crate::engine::protocol::{Command, Event};

/// A message to the TUI: an engine event or a key (by its config name).
#[derive(Clone, Debug)]
pub enum Msg {
    Engine(Event),
    Key(String),
}

/// Applies one message; returns the commands for the engine.
pub fn update(app: &mut App, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Engine(e) => {
            on_event(app, e);
            Vec::new()
        }
        Msg::Key(k) => on_key(app, &k),
    }
}

fn on_event(app: &mut App, e: Event) {
    match e {
        Event::Started(info) => {
            app.log(
                LogKind::Info,
                format!("run folder {}", info.run_dir.display()),
            );
            app.log(LogKind::Info, format!("model {}", info.model));
            app.log(LogKind::Info, info.memory.clone());
            app.info = Some(info);
        }
        Event::PhaseStarted {
            phase,
            total,
            start,
        } => {
            if let Some(prev) = app.phase {
                if prev != phase {
                    app.offset += app.progress.total;
                }
            }
            app.phase = Some(phase);
            app.progress.total = total;
            app.progress.step = start;
            app.log(
                LogKind::Info,
                format!("phase {}: steps {start}..{total}", phase.name()),
            );
        }
        Event::Step(m) => {
            app.progress.push(&m);
            let x = app.x(m.step);
            let d = &mut app.data;
            if let Some(v) = m.loss_rd {
                d.loss_rd.push(x, v);
            }
            if let Some(v) = m.loss_rlif {
                d.loss_rlif.push(x, v);
            }
            d.loss_total.push(x, m.loss_total);
            if let Some(v) = m.alpha {
                d.alpha.push(x, v);
            }
            if let Some(v) = m.prg_anchor {
                d.prg_anchor.push(x, v);
            }
            if let Some(v) = m.prg_policy {
                d.prg_policy.push(x, v);
            }
            if let Some(v) = m.heldout_solve {
                d.heldout.push(x, v);
            }
            for c in &m.rollout_confidences {
                if d.rolling_confidence.len() == ROLLING_CONFIDENCES {
                    d.rolling_confidence.pop_front();
                }
                d.rolling_confidence.push_back(*c);
            }
            d.last_step = Some(*m);
        }
        Event::Traces { traces, .. } => app.data.traces = traces,
        Event::Evaluating { done, items } => app.evaluating = Some((done, items)),
        Event::Eval(r) => {
            app.evaluating = None;
            let c = &r.overall;
            let certified = r
                .certificate
                .as_ref()
                .map(|c| format!(" {}", crate::engine::protocol::certified_coverage(c)))
                .unwrap_or_default();
            app.log(
                LogKind::Info,
                format!(
                    "{} {} {}: acc {:.3} ECE {:.3} Brier {:.3}{certified}",
                    r.split, r.phase, r.step, c.accuracy, c.ece, c.brier
                ),
            );
            // Keep predictions of the latest eval only (the inspector browses them).
            if let Some(prev) = app.data.evals.last_mut() {
                prev.predictions = Vec::new();
            }
            app.data.evals.push(*r);
        }
        Event::Canary(c) => {
            let kind = if c.onset.is_some() {
                LogKind::Warning
            } else {
                LogKind::Info
            };
            app.log(kind, format!("canary {}: {}", c.step, c.summary_line()));
            app.data.canary.push(*c);
        }
        Event::Sample(s) => {
            app.data.samples.push(*s);
            if app.data.samples.len() > 20 {
                app.data.samples.remove(0);
            }
            if let Some(Popup::Inspector { index }) = &mut app.popup {
                *index = 0;
            }
        }
        Event::Checkpoint { path, .. } => {
            app.log(LogKind::Info, format!("checkpoint {}", path.display()));
            app.last_checkpoint = Some(path);
        }
        Event::Paused => {
            app.paused = true;
            app.pausing = false;
            app.log(LogKind::Info, "paused".into());
        }
        Event::Resumed => {
            app.paused = false;
            app.log(LogKind::Info, "resumed".into());
        }
        Event::HyperChanged { step, key, value } => {
            app.data.marks.push((app.x(step), format!("{key}={value}")));
            app.log(LogKind::Info, format!("step {step}: {key} = {value}"));
            if let Ok(c) = app.config.set(&key, parse_value(&value)) {
                app.config = c;
            }
        }
        Event::Warning(w) => app.log(LogKind::Warning, w),
        Event::Finished(s) => {
            app.log(
                LogKind::Info,
                format!(
                    "finished: {} steps in {:.0} s — q to quit",
                    s.steps, s.seconds
                ),
            );
            app.finished = Some(*s);
            if app.stopping {
                app.quit = true;
            }
        }
        Event::Failed(m) => {
            app.log(LogKind::Error, m.clone());
            app.failed = Some(m);
            if app.stopping {
                app.quit = true;
            }
        }
    }
}

fn on_key(app: &mut App, key: &str) -> Vec<Command> {
    if key == "ctrl-c" {
        app.popup = Some(Popup::Quit);
        return Vec::new();
    }
    // Popups first, then global keys.
    if let Some(popup) = app.popup.clone() {
        return on_popup_key(app, popup, key);
    }
    let Some(action) = app.keymap.action(key) else {
        return Vec::new();
    };
    match action {
        Action::Pause if app.running() => {
            if app.paused {
                app.paused = false;
                return vec![Command::Resume];
            }
            app.pausing = true;
            return vec![Command::Pause];
        }
        Action::Checkpoint if app.running() => return vec![Command::Checkpoint],
        Action::Evaluate if app.running() => return vec![Command::Evaluate],
        Action::Inspector => app.popup = Some(Popup::Inspector { index: 0 }),
        Action::Editor => {
            app.popup = Some(Popup::Editor {
                selected: 0,
                editing: None,
                error: None,
            })
        }
        Action::Freeze => {
            app.frozen = if app.frozen.is_some() {
                None
            } else {
                Some(app.data.clone())
            }
        }
        Action::LogY => app.log_y = !app.log_y,
        Action::SmoothMore => app.smoothing = (app.smoothing + 0.1).min(0.9),
        Action::SmoothLess => app.smoothing = (app.smoothing - 0.1).max(0.0),
        Action::Zoom => app.whole_run = !app.whole_run,
        Action::Focus => app.focus = app.focus.next(),
        Action::Help => app.popup = Some(Popup::Help),
        Action::Quit => {
            if app.running() {
                app.popup = Some(Popup::Quit);
            } else {
                app.quit = true;
            }
        }
        Action::Pause | Action::Checkpoint | Action::Evaluate => {}
    }
    Vec::new()
}

fn on_popup_key(app: &mut App, popup: Popup, key: &str) -> Vec<Command> {
    match popup {
        Popup::Help => app.popup = None,
        Popup::Quit => match key {
            "s" | "enter" => {
                app.popup = None;
                app.stopping = true;
                return vec![Command::Stop { checkpoint: true }];
            }
            "q" => {
                app.quit = true;
                return vec![Command::Stop { checkpoint: false }];
            }
            _ => app.popup = None,
        },
        Popup::Inspector { index } => {
            let n = app.view().inspectables().len();
            match key {
                "left" => {
                    app.popup = Some(Popup::Inspector {
                        index: index.saturating_sub(1),
                    })
                }
                "right" => {
                    app.popup = Some(Popup::Inspector {
                        index: (index + 1).min(n.saturating_sub(1)),
                    })
                }
                "r" if app.running() => return vec![Command::Sample],
                "esc" | "q" => app.popup = None,
                k if Some(k) == Some(app.keymap.key_of(Action::Inspector)) => app.popup = None,
                _ => {}
            }
        }
        Popup::Editor {
            selected,
            editing,
            error,
        } => return on_editor_key(app, selected, editing, error, key),
    }
    Vec::new()
}

fn on_editor_key(
    app: &mut App,
    selected: usize,
    editing: Option<String>,
    error: Option<String>,
    key: &str,
) -> Vec<Command> {
    let set = |app: &mut App, selected, editing, error| {
        app.popup = Some(Popup::Editor {
            selected,
            editing,
            error,
        })
    };
    match editing {
        None => match key {
            "up" => set(app, selected.saturating_sub(1), None, None),
            "down" => set(app, (selected + 1).min(EDITABLE.len() - 1), None, None),
            "enter" => {
                let current = app
                    .config_value(EDITABLE[selected])
                    .trim_matches('"')
                    .to_string();
                set(app, selected, Some(current), None)
            }
            "esc" | "q" => app.popup = None,
            k if k == app.keymap.key_of(Action::Editor) => app.popup = None,
            _ => set(app, selected, None, error),
        },
        Some(mut buf) => match key {
            "esc" => set(app, selected, None, None),
            "backspace" => {
                buf.pop();
                set(app, selected, Some(buf), error)
            }
            "enter" => {
                let key = EDITABLE[selected];
                // Validate here with the same rules as the engine; it applies at the next step.
                return match app.config.set(key, parse_value(&buf)) {
                    Ok(_) => {
                        set(app, selected, None, None);
                        vec![Command::SetHyper {
                            key: key.to_string(),
                            value: buf,
                        }]
                    }
                    Err(e) => {
                        set(app, selected, Some(buf), Some(e.message));
                        Vec::new()
                    }
                };
            }
            "space" => {
                buf.push(' ');
                set(app, selected, Some(buf), error)
            }
            k if k.chars().count() == 1 => {
                buf.push_str(k);
                set(app, selected, Some(buf), error)
            }
            _ => set(app, selected, Some(buf), error),
        },
    }
    Vec::new()
}
