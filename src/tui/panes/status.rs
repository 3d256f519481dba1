//! The status bar (phase, step, throughput, ETA, backend, strategy, badges, last checkpoint)
//! and the key-help bar.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::progress::format_duration;
use crate::tui::app::App;

pub fn spans(app: &App) -> Vec<Span<'static>> {
    let sep = || Span::styled(" │ ", Style::default().fg(Color::DarkGray));
    let mut v = vec![Span::styled(
        "hytune",
        Style::default()
            .add_modifier(Modifier::BOLD)
            .fg(Color::Cyan),
    )];
    let badge = |t: &str, c: Color| {
        Span::styled(
            format!(" {t} "),
            Style::default()
                .bg(c)
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD),
        )
    };
    if app.paused {
        v.push(badge("PAUSED", Color::Yellow));
    } else if app.pausing {
        v.push(badge("pausing…", Color::Yellow));
    }
    if let Some((done, n)) = app.evaluating {
        v.push(badge(&format!("evaluating {done}/{n}…"), Color::Blue));
    }
    if app.frozen.is_some() {
        v.push(badge("FROZEN", Color::Cyan));
    }
    if app.stopping && app.running() {
        v.push(badge("stopping…", Color::Magenta));
    }
    if app.finished.is_some() {
        v.push(badge("DONE", Color::Green));
    }
    if app.failed.is_some() {
        v.push(badge("FAILED", Color::Red));
    }
    let p = &app.progress;
    v.push(sep());
    v.push(Span::raw(format!(
        "{} {}/{}",
        app.phase.map(|p| p.name()).unwrap_or("starting"),
        p.step,
        p.total
    )));
    v.push(sep());
    match (p.tokens_per_second(), p.eta_seconds()) {
        (Some(t), Some(eta)) => v.push(Span::raw(format!(
            "{t:.0} tok/s  ETA {}",
            format_duration(eta)
        ))),
        // Only a GPU backend compiles kernels; the CPU's first step waits on nothing but itself.
        _ if app.phase.is_some() => v.push(Span::styled(
            match &app.info {
                Some(i) if i.backend.starts_with("wgpu") => "warming up (compiling kernels)…",
                _ => "warming up: first steps…",
            },
            Style::default().fg(Color::Yellow),
        )),
        _ => v.push(Span::raw("loading…")),
    }
    if let Some(info) = &app.info {
        v.push(sep());
        v.push(Span::raw(info.backend.clone()));
    }
    v.push(sep());
    v.push(Span::raw(app.config.mix.strategy.clone()));
    // What is trained, before the model's name, so an 80-column header still shows it.
    if let Some(info) = app.info.as_ref().filter(|i| i.training.starts_with("LoRA")) {
        v.push(sep());
        v.push(Span::raw(info.training.replace(" trainable", "")));
    }
    if let Some(info) = &app.info {
        // The model's name without its sizes: "byte GPT", "Qwen2ForCausalLM", ...
        v.push(sep());
        v.push(Span::raw(
            info.model
                .split(" (")
                .next()
                .unwrap_or_default()
                .to_string(),
        ));
    }
    if let Some(ck) = &app.last_checkpoint {
        v.push(sep());
        v.push(Span::raw(format!(
            "ckpt {}",
            ck.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        )));
    }
    v
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    frame.render_widget(Paragraph::new(Line::from(spans(app))), area);
}

/// One line of the most used keys, from the keymap.
pub fn render_help_bar(frame: &mut Frame, area: Rect, app: &App) {
    let mut v = Vec::new();
    for b in app.keymap.bindings.iter().filter(|b| b.short.is_some()) {
        v.push(Span::styled(
            b.key.clone(),
            Style::default().fg(Color::Yellow),
        ));
        v.push(Span::styled(
            format!(" {}  ", b.short.unwrap()),
            Style::default().fg(Color::DarkGray),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(v)), area);
}
