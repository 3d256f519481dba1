//! The hyperparameter editor: ↑/↓ select, enter edit, enter apply (validated; the engine applies
//! it at the next step and logs it), esc cancel.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::centered;
use crate::tui::app::{App, EDITABLE, value_in};

pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    selected: usize,
    editing: &Option<String>,
    error: &Option<String>,
) {
    let area = centered(area, 70, 80);
    frame.render_widget(Clear, area);
    let mut lines = Vec::new();
    let table = app.config.to_table();
    for (i, key) in EDITABLE.iter().enumerate() {
        let sel = i == selected;
        let value = match (sel, editing) {
            (true, Some(buf)) => format!("{buf}▏"),
            _ => value_in(&table, key),
        };
        let style = if sel {
            Style::default().fg(Color::Black).bg(Color::Yellow)
        } else {
            Style::default()
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {key:<20} "), style),
            Span::raw(format!(" {value}")),
        ]));
    }
    lines.push(Line::from(""));
    if let Some(e) = error {
        lines.push(Line::from(Span::styled(
            e.clone(),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        )));
    } else {
        lines.push(Line::from(Span::styled(
            "↑/↓ select · enter edit/apply · esc cancel",
            Style::default().fg(Color::DarkGray),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Hyperparameters ")),
        area,
    );
}
