//! The eval table: accuracy, ECE, Brier, AUROC and confident-error rate at each evaluation,
//! the best (lowest dev Brier in post-training) marked.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Row, Table};

use super::pane_block;
use crate::tui::app::{App, Pane};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let d = app.view();
    let best = d.best_eval();
    let visible = area.height.saturating_sub(3) as usize;
    let start = d.evals.len().saturating_sub(visible);
    let rows: Vec<Row> = d.evals[start..]
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let c = &e.overall;
            let is_best = best == Some(start + k);
            let style = if is_best {
                Style::default()
                    .fg(Color::Green)
                    .add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            };
            Row::new(vec![
                format!(
                    "{}{}{} {}",
                    if is_best { "★" } else { " " },
                    &e.split[..e.split.len().min(4)],
                    if e.phase == "post" { "" } else { "·pre" },
                    e.step
                ),
                format!("{:.3}", c.accuracy),
                format!("{:.3}", c.ece),
                format!("{:.3}", c.brier),
                c.auroc
                    .map(|a| format!("{a:.3}"))
                    .unwrap_or_else(|| "n/a".into()),
                format!("{:.3}", c.confident_error_rate),
            ])
            .style(style)
        })
        .collect();
    let header = Row::new(vec!["eval", "acc", "ECE", "Brier", "AUROC", "conf.err"])
        .style(Style::default().fg(Color::DarkGray));
    let widths = [
        Constraint::Length(11),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(8),
    ];
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(pane_block("Evaluations", app, Pane::Evals)),
        area,
    );
}
