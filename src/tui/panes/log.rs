//! Warnings, checkpoints, hyperparameter changes and errors, newest last.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane_block;
use crate::tui::app::{App, LogKind, Pane};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let d = app.view();
    let rows = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = d
        .log
        .iter()
        .skip(d.log.len().saturating_sub(rows))
        .map(|(kind, text)| {
            let color = match kind {
                LogKind::Info => Color::Gray,
                LogKind::Warning => Color::Yellow,
                LogKind::Error => Color::Red,
            };
            Line::from(Span::styled(text.clone(), Style::default().fg(color)))
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(pane_block("Log", app, Pane::Log)),
        area,
    );
}
