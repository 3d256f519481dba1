//! α_t over time with PRG_anchor and PRG_policy (and the held-out meter's solve rate when the
//! run has one), and markers where a hyperparameter changed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::widgets::{Chart, Dataset, GraphType};

use super::{bounds, pane_block, step_axes};
use crate::tui::app::{App, Pane};

/// Vertical dotted lines at the change steps, spanning `y`.
pub fn marker_points(marks: &[(f64, String)], xb: [f64; 2], y: [f64; 2]) -> Vec<(f64, f64)> {
    marks
        .iter()
        .filter(|(x, _)| *x >= xb[0] && *x <= xb[1])
        .flat_map(|(x, _)| (0..=10).map(move |i| (*x, y[0] + (y[1] - y[0]) * i as f64 / 10.0)))
        .collect()
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let d = app.view();
    let alpha = d.alpha.points(app.whole_run);
    let anchor = d.prg_anchor.points(app.whole_run);
    let policy = d.prg_policy.points(app.whole_run);
    let heldout = d.heldout.points(app.whole_run);
    let (xb, _) = bounds(&[&alpha, &anchor, &policy]);
    let (_, yb) = bounds(&[&alpha, &anchor, &policy, &[(xb[0], 0.0), (xb[0], 1.0)]]);
    let marks = marker_points(&d.marks, xb, yb);
    let mut datasets = vec![
        Dataset::default()
            .name("α")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(Color::Yellow))
            .data(&alpha),
        Dataset::default()
            .name("PRG anchor")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(Color::Green))
            .data(&anchor),
        Dataset::default()
            .name("PRG policy")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(Color::Magenta))
            .data(&policy),
    ];
    if !heldout.is_empty() {
        datasets.push(
            Dataset::default()
                .name("held-out solved")
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(Color::Cyan))
                .data(&heldout),
        );
    }
    if !marks.is_empty() {
        datasets.push(
            Dataset::default()
                .name("changed")
                .marker(Marker::Dot)
                .graph_type(GraphType::Scatter)
                .style(Style::default().fg(Color::Red))
                .data(&marks),
        );
    }
    // The held-out meter (`mix.heldout_labels`), what α follows under `alpha_rule = heldout`,
    // comes right after α so a narrow pane keeps it.
    let held = d
        .heldout
        .last()
        .map(|h| format!(" · held-out solved {:.0}%", 100.0 * h))
        .unwrap_or_default();
    let mut title = match (d.alpha.last(), d.prg_anchor.last(), d.prg_policy.last()) {
        (Some(a), Some(pa), Some(pp)) => {
            format!("Mixing · α {a:.2}{held} · PRG anchor {pa:+.3} policy {pp:+.3}")
        }
        (Some(a), Some(pa), None) => format!("Mixing · α {a:.2}{held} · PRG anchor {pa:+.3}"),
        _ => "Mixing · (post-training)".to_string(),
    };
    // Rollouts the length cap cut before their end: never silent.
    if let Some(t) = d.last_step.as_ref().and_then(|m| m.truncation_rate)
        && t > 0.0
    {
        title.push_str(&format!(" · cut {:.0}%", 100.0 * t));
    }
    let (x_axis, y_axis) = step_axes(xb, yb, 2);
    let chart = Chart::new(datasets)
        .block(pane_block(&title, app, Pane::Mixing))
        .x_axis(x_axis)
        .y_axis(y_axis);
    frame.render_widget(chart, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_only_inside_the_window() {
        let marks = vec![(5.0, "a".to_string()), (50.0, "b".to_string())];
        let p = marker_points(&marks, [0.0, 10.0], [0.0, 1.0]);
        assert_eq!(p.len(), 11);
        assert!(p.iter().all(|q| q.0 == 5.0));
        assert_eq!(p[10].1, 1.0);
    }
}
