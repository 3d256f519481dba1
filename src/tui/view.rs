//! The screen: all panes at 120×40 and larger; at 80×24 the focused pane (tab cycles) above
//! the eval table and the log; a notice when the terminal is too small.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::widgets::Paragraph;

use super::app::{App, Pane, Popup};
use super::panes;

pub const MIN_SIZE: (u16, u16) = (60, 16);

fn pane(frame: &mut Frame, area: Rect, app: &App, p: Pane) {
    match p {
        Pane::Losses => panes::losses::render(frame, area, app),
        Pane::Mixing => panes::mixing::render(frame, area, app),
        Pane::Traces => panes::traces::render(frame, area, app),
        Pane::Confidence => panes::confidence::render(frame, area, app),
        Pane::Evals => panes::evals::render(frame, area, app),
        Pane::Log => panes::log::render(frame, area, app),
    }
}

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = format!(
            "terminal too small: {}×{} (need at least {}×{}) — training goes on",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        );
        frame.render_widget(
            Paragraph::new(msg).style(Style::default().fg(Color::Yellow)),
            area,
        );
        return;
    }
    let [status, body, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    panes::status::render(frame, status, app);
    panes::status::render_help_bar(frame, help, app);
    if area.width >= 110 && area.height >= 34 {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)])
                .areas(body);
        let [l1, l2, l3] = Layout::vertical([
            Constraint::Percentage(40),
            Constraint::Percentage(30),
            Constraint::Percentage(30),
        ])
        .areas(left);
        pane(frame, l1, app, Pane::Losses);
        pane(frame, l2, app, Pane::Mixing);
        pane(frame, l3, app, Pane::Traces);
        let [r1, r2, r3] = Layout::vertical([
            Constraint::Length(13),
            Constraint::Percentage(40),
            Constraint::Min(4),
        ])
        .areas(right);
        pane(frame, r1, app, Pane::Confidence);
        pane(frame, r2, app, Pane::Evals);
        pane(frame, r3, app, Pane::Log);
    } else {
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
        pane(frame, top, app, app.focus);
        let [b1, b2] = Layout::horizontal([
            Constraint::Length(47.min(area.width / 2 + 7)),
            Constraint::Min(10),
        ])
        .areas(bottom);
        let (small_left, small_right) = match app.focus {
            Pane::Evals => (Pane::Confidence, Pane::Log),
            Pane::Log => (Pane::Evals, Pane::Confidence),
            _ => (Pane::Evals, Pane::Log),
        };
        pane(frame, b1, app, small_left);
        pane(frame, b2, app, small_right);
    }
    match &app.popup {
        Some(Popup::Help) => panes::help::render(frame, area, app),
        Some(Popup::Quit) => panes::quit::render(frame, area),
        Some(Popup::Inspector { index }) => panes::inspector::render(frame, area, app, *index),
        Some(Popup::Editor {
            selected,
            editing,
            error,
        }) => panes::editor::render(frame, area, app, *selected, editing, error),
        None => {}
    }
}
