//! The eval table: accuracy, ECE, Brier, AUROC, confident-error rate (`c.err`) and (dev rows)
//! the certified coverage (`cert`) at each evaluation, the one best.hyt holds (`eval.best`) marked; the
//! reward canary's latest figures on its bottom edge.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Row, Table};

use super::pane_block;
use crate::engine::protocol::{CanaryReport, EvalReport};
use crate::tui::app::{App, Pane};

/// The bottom line of the pane: whether the internal reward still tracks correctness on the
/// canary (its within-question AUROC; `vote`: how often the vote's majority is right), and the canary's
/// accuracy with its change since the first measurement. `None` before any canary.
pub fn canary_line(reports: &[CanaryReport]) -> Option<String> {
    let last = reports.last()?;
    let first = &reports[0];
    let auroc = last.reward_auroc.map_or("—".into(), |a| format!("{a:.2}"));
    let flagged = reports.iter().any(|r| r.onset.is_some());
    Some(format!(
        " canary@{} AUROC {auroc} vote {:.2} acc {:.2}{:+.2}{} ",
        last.step,
        last.majority_gold,
        last.accuracy,
        last.accuracy - first.accuracy,
        if flagged { " ⚠HACKING" } else { "" }
    ))
}

/// The certified coverage of a dev evaluation (the share of items answered at the threshold
/// certified for error ≤ `eval.epsilon`): `42%`, `none` when nothing could be certified, `—`
/// for an eval-split row or too few items.
pub fn certified_cell(e: &EvalReport) -> String {
    match &e.certificate {
        Some(c) if c.threshold.is_some() => format!("{:.0}%", 100.0 * c.coverage),
        Some(_) => "none".into(),
        None => "—".into(),
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let d = app.view();
    let best = d.best_eval(&app.config.eval.best);
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
                certified_cell(e),
            ])
            .style(style)
        })
        .collect();
    // 44 columns with the gaps: the pane's inside at 80×24, so no label is cut.
    let header = Row::new(vec![
        "eval", "acc", "ECE", "Brier", "AUROC", "c.err", "cert",
    ])
    .style(Style::default().fg(Color::DarkGray));
    let widths = [
        Constraint::Length(9),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(4),
    ];
    let mut block = pane_block("Evaluations", app, Pane::Evals);
    if let Some(line) = canary_line(&d.canary) {
        let flagged = line.contains("HACKING");
        block = block.title_bottom(ratatui::text::Line::styled(
            line,
            if flagged {
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
            } else {
                Style::default().fg(Color::Cyan)
            },
        ));
    }
    frame.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_line_reads_the_latest_and_flags_any_onset() {
        assert_eq!(canary_line(&[]), None);
        let r = |step, acc, onset: Option<&str>| CanaryReport {
            step,
            accuracy: acc,
            reward_auroc: Some(0.71),
            majority_gold: 0.8,
            onset: onset.map(String::from),
            ..Default::default()
        };
        let line = canary_line(&[r(0, 0.5, None), r(20, 0.62, None)]).unwrap();
        assert_eq!(line, " canary@20 AUROC 0.71 vote 0.80 acc 0.62+0.12 ");
        let line =
            canary_line(&[r(0, 0.5, None), r(20, 0.3, Some("x")), r(40, 0.4, None)]).unwrap();
        assert!(line.ends_with(" ⚠HACKING "), "{line}");
    }

    #[test]
    fn certified_cell_shows_the_share_answered() {
        use crate::method::certify::certify;
        let mut r = EvalReport {
            split: "dev".into(),
            phase: "post".into(),
            step: 10,
            overall: Default::default(),
            by_difficulty: Default::default(),
            unfit: 0,
            certificate: None,
            abstention: None,
            competence: None,
            predictions: Vec::new(),
        };
        assert_eq!(certified_cell(&r), "—");
        // 100 items, the 60 most confident right: the walk certifies all 60 (p = .95^60).
        let conf: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
        let ok: Vec<bool> = (0..100).map(|i| i >= 40).collect();
        r.certificate = certify(&conf, &ok, 0.05, 0.1, "confidence").ok();
        assert_eq!(certified_cell(&r), "60%");
        let none: Vec<bool> = (0..100).map(|i| i % 2 == 0).collect();
        r.certificate = certify(&conf, &none, 0.05, 0.1, "confidence").ok();
        assert_eq!(certified_cell(&r), "none");
    }
}
