//! The `?` overlay, generated from the keymap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::centered;
use crate::tui::app::App;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let area = centered(area, 70, 80);
    frame.render_widget(Clear, area);
    let mut lines: Vec<Line> = app
        .keymap
        .bindings
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(
                    format!(" {:>7}  ", b.key),
                    Style::default().fg(Color::Yellow),
                ),
                Span::raw(b.help),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        " bindings: [keys] in config.toml · any key closes",
        Style::default().fg(Color::DarkGray),
    )));
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys ")),
        area,
    );
}
