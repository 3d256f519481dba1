//! The paired 95% intervals of `summary.md`: HyTuning against RD and against RLIF (and the
//! controls), per item, over the same eval items, seed by seed (`method::bootstrap`).

use std::collections::HashMap;
use std::fmt::Write as _;

use super::cell_data::CellData;
use crate::method::bootstrap::{Metric, Preds, accuracy, paired_diff};
use crate::method::calibration::{brier, confident_error_rate, ece};
use crate::rng::Rng;

/// Resamples of the items per interval.
const REPS: usize = 1000;

/// The final `split` predictions of a finished cell, keyed by question.
fn final_predictions(d: &CellData, split: &str) -> Option<HashMap<String, (f64, bool)>> {
    Some(
        super::cell_fits::final_items(d, split)?
            .into_iter()
            .map(|i| (i.question, (i.conf, i.correct)))
            .collect(),
    )
}

/// Writes the table of paired differences `hytuning − other` (every other grid entry) for
/// accuracy, Brier, ECE and the confident-error rate, over the seeds both have finished, on the items all of them scored.
pub fn intervals(
    out: &mut String,
    data: &[&CellData],
    split: &str,
    threshold: f64,
    strategies: &[String],
) {
    let by = |s: &str| -> HashMap<u64, HashMap<String, (f64, bool)>> {
        data.iter()
            .filter(|d| d.done && d.cell.variant() == *s)
            .filter_map(|d| Some((d.cell.seed, final_predictions(d, split)?)))
            .collect()
    };
    let hy = by("hytuning");
    if hy.is_empty() {
        return;
    }
    let conf_err = move |c: &[f64], k: &[bool]| confident_error_rate(c, k, threshold);
    let metrics: [(&str, Metric<'_>); 4] = [
        ("accuracy", &accuracy),
        ("Brier", &brier),
        ("ECE", &ece),
        ("confident errors", &conf_err),
    ];
    let mut rows = Vec::new();
    for other in strategies.iter().filter(|s| *s != "hytuning") {
        let o = by(other);
        let mut seeds: Vec<u64> = hy.keys().filter(|s| o.contains_key(s)).copied().collect();
        seeds.sort();
        if seeds.is_empty() {
            continue;
        }
        // The items every compared cell scored, in one order.
        let mut items: Vec<&String> = hy[&seeds[0]].keys().collect();
        items.retain(|q| {
            seeds
                .iter()
                .all(|s| hy[s].contains_key(*q) && o[s].contains_key(*q))
        });
        items.sort();
        let pick =
            |m: &HashMap<String, (f64, bool)>| -> Preds { items.iter().map(|q| m[*q]).collect() };
        let a: Vec<Preds> = seeds.iter().map(|s| pick(&hy[s])).collect();
        let b: Vec<Preds> = seeds.iter().map(|s| pick(&o[s])).collect();
        let mut cols = Vec::new();
        for (k, (_, m)) in metrics.iter().enumerate() {
            let mut rng = Rng::new(0xB007 + k as u64);
            cols.push(match paired_diff(&a, &b, m, REPS, &mut rng) {
                Some((d, lo, hi)) => format!("{d:+.3} [{lo:+.3}, {hi:+.3}]"),
                None => "—".into(),
            });
        }
        rows.push(format!(
            "| hytuning − {other} | {} | {} | {} |",
            seeds.len(),
            items.len(),
            cols.join(" | ")
        ));
    }
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nPaired differences on the same {split} items (mean over seeds; 95% per-item bootstrap interval, {REPS} resamples). An interval above 0 favours HyTuning for accuracy; below 0 for Brier, ECE and confident errors:\n"
    );
    let _ = writeln!(
        out,
        "| comparison | seeds | items | {} |",
        metrics.iter().map(|m| m.0).collect::<Vec<_>>().join(" | ")
    );
    let _ = writeln!(out, "|---|---|---|{}", "---|".repeat(metrics.len()));
    for r in rows {
        let _ = writeln!(out, "{r}");
    }
}
