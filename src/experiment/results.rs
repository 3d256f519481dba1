//! What an experiment folder reports: `results.csv` (one row per cell, evaluation and
//! difficulty), `summary.md` (final evaluations, mean ± std over seeds, the best of each column
//! in bold) and the plots. Everything is read back from the cells' run folders, so a report can
//! be rebuilt at any time (`hytune experiment --report`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::cell_data::{CellData, mean_std, read_cell};
use super::grid::{arm_label, arms, cells};
use super::plots;
use crate::config::Config;
use crate::engine::protocol::EvalReport;
use crate::method::calibration::Calibration;

/// The columns of the summary: name, value, and whether higher is better.
pub const METRICS: &[(&str, fn(&Calibration) -> Option<f64>, bool)] = &[
    ("accuracy", |c| Some(c.accuracy), true),
    ("ECE", |c| Some(c.ece), false),
    ("Brier", |c| Some(c.brier), false),
    ("AUROC", |c| c.auroc, true),
    (
        "confident-error rate",
        |c| Some(c.confident_error_rate),
        false,
    ),
];

pub struct Written {
    pub rows: usize,
    pub done: usize,
    pub cells: usize,
    pub plots: Vec<PathBuf>,
}

impl Written {
    pub fn describe(&self, dir: &Path) -> String {
        format!(
            "{}/{} cells done; {} rows in {}, summary in {}, {} plots in {}",
            self.done,
            self.cells,
            self.rows,
            dir.join("results.csv").display(),
            dir.join("summary.md").display(),
            self.plots.len(),
            dir.join("plots").display()
        )
    }
}

fn csv_rows(data: &[CellData]) -> (String, usize) {
    let mut out = String::from(
        "suite,fraction,labels,strategy,seed,done,split,phase,step,difficulty,n,accuracy,ece,brier,auroc,confident_error_rate,mean_confidence,aurc,e_aurc,selective_accuracy_50,selective_accuracy_80,coverage\n",
    );
    let mut n = 0;
    for d in data {
        for r in &d.reports {
            let groups = std::iter::once(("all".to_string(), &r.overall))
                .chain(r.by_difficulty.iter().map(|(k, c)| (k.to_string(), c)));
            for (difficulty, c) in groups {
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{},{},{},{:.6},{:.6},{:.6},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6}",
                    d.cell.suite.name(),
                    d.cell.fraction,
                    d.cell.count.map(|n| n.to_string()).unwrap_or_default(),
                    d.cell.variant(),
                    d.cell.seed,
                    d.done,
                    r.split,
                    r.phase,
                    r.step,
                    difficulty,
                    c.n,
                    c.accuracy,
                    c.ece,
                    c.brier,
                    c.auroc.map(|a| format!("{a:.6}")).unwrap_or_default(),
                    c.confident_error_rate,
                    c.mean_confidence,
                    c.aurc,
                    c.e_aurc,
                    c.selective_accuracy_50,
                    c.selective_accuracy_80,
                    c.coverage
                );
                n += 1;
            }
        }
    }
    (out, n)
}

fn fmt_ms(v: &[f64]) -> String {
    match mean_std(v) {
        None => "—".into(),
        Some((m, _)) if v.len() == 1 => format!("{m:.3}"),
        Some((m, s)) => format!("{m:.3} ± {s:.3}"),
    }
}

/// One table: a row per strategy (finished cells of `suite` at `fraction`), plus the base row.
fn table(out: &mut String, data: &[&CellData], split: &str, strategies: &[String]) {
    let _ = writeln!(
        out,
        "| strategy | seeds | {} |",
        METRICS.iter().map(|m| m.0).collect::<Vec<_>>().join(" | ")
    );
    let _ = writeln!(out, "|---|---|{}", "---|".repeat(METRICS.len()));
    if let Some(base) = data.iter().find_map(|d| d.before(split)) {
        let cols: Vec<String> = METRICS
            .iter()
            .map(|(_, f, _)| {
                f(&base.overall)
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or("—".into())
            })
            .collect();
        let _ = writeln!(
            out,
            "| base (before post-training) | — | {} |",
            cols.join(" | ")
        );
    }
    let per: Vec<(&String, Vec<&Calibration>)> = strategies
        .iter()
        .map(|s| {
            let cs = data
                .iter()
                .filter(|d| d.done && d.cell.variant() == *s)
                .filter_map(|d| d.last(split).map(|r| &r.overall))
                .collect();
            (s, cs)
        })
        .filter(|(_, cs): &(&String, Vec<&Calibration>)| !cs.is_empty())
        .collect();
    // The best mean of each column.
    let best: Vec<Option<f64>> = METRICS
        .iter()
        .map(|(_, f, higher)| {
            per.iter()
                .filter_map(|(_, cs)| {
                    mean_std(&cs.iter().filter_map(|c| f(c)).collect::<Vec<_>>()).map(|x| x.0)
                })
                .reduce(|a, b| if (b > a) == *higher { b } else { a })
        })
        .collect();
    for (s, cs) in &per {
        let cols: Vec<String> = METRICS
            .iter()
            .zip(&best)
            .map(|((_, f, _), b)| {
                let v: Vec<f64> = cs.iter().filter_map(|c| f(c)).collect();
                let text = fmt_ms(&v);
                let is_best = mean_std(&v)
                    .zip(*b)
                    .is_some_and(|((m, _), b)| (m - b).abs() < 1e-12);
                if is_best && per.len() > 1 {
                    format!("**{text}**")
                } else {
                    text
                }
            })
            .collect();
        let _ = writeln!(out, "| {s} | {} | {} |", cs.len(), cols.join(" | "));
    }
}

fn by_difficulty(out: &mut String, data: &[&CellData], strategies: &[String]) {
    let mut levels: Vec<u32> = data
        .iter()
        .flat_map(|d| {
            d.reports
                .iter()
                .flat_map(|r| r.by_difficulty.keys().copied())
        })
        .collect();
    levels.sort();
    levels.dedup();
    if levels.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nAccuracy by difficulty (reasoning steps; the last level is beyond training), eval split:\n"
    );
    let _ = writeln!(
        out,
        "| strategy | {} |",
        levels
            .iter()
            .map(|l| format!("{l} steps"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|---|{}", "---|".repeat(levels.len()));
    if let Some(base) = data.iter().find_map(|d| d.before("eval")) {
        let cols: Vec<String> = levels
            .iter()
            .map(|l| {
                base.by_difficulty
                    .get(l)
                    .map(|c| format!("{:.3} (n {})", c.accuracy, c.n))
                    .unwrap_or("—".into())
            })
            .collect();
        let _ = writeln!(out, "| base | {} |", cols.join(" | "));
    }
    for s in strategies {
        let finals: Vec<&EvalReport> = data
            .iter()
            .filter(|d| d.done && d.cell.variant() == *s)
            .filter_map(|d| d.last("eval"))
            .collect();
        if finals.is_empty() {
            continue;
        }
        let cols: Vec<String> = levels
            .iter()
            .map(|l| {
                let v: Vec<f64> = finals
                    .iter()
                    .filter_map(|r| r.by_difficulty.get(l).map(|c| c.accuracy))
                    .collect();
                fmt_ms(&v)
            })
            .collect();
        let _ = writeln!(out, "| {s} | {} |", cols.join(" | "));
    }
}

fn summary(config: &Config, data: &[CellData], done: usize) -> String {
    let e = &config.experiment;
    let mut out = String::from("# Experiment summary\n\n");
    let _ = writeln!(
        out,
        "{done}/{} cells done. Post-training: {} steps per cell from one shared base (seed {}); seeds {:?}. \
         Figures: the final model of each cell on `eval.jsonl` (only reported, never used to choose anything), \
         mean ± sample std over seeds. Bold: the best mean of each column among strategies \
         (higher accuracy and AUROC; lower ECE, Brier and confident-error rate). The dev tables are what \
         defaults and `best.hyt` are chosen on. Config: `experiment.toml`.\n",
        data.len(),
        config.post.steps,
        e.base_seed,
        e.seeds
    );
    let arms = arms(e, config.data.size);
    for suite in &e.suites {
        for &(f, count) in &arms {
            let cells_here: Vec<&CellData> = data
                .iter()
                .filter(|d| d.cell.suite.name() == suite && d.cell.fraction == f)
                .collect();
            if cells_here.is_empty() {
                continue;
            }
            let _ = writeln!(out, "## {suite}, {}\n", arm_label(f, count));
            table(&mut out, &cells_here, "eval", &e.strategies);
            super::paired::intervals(
                &mut out,
                &cells_here,
                "eval",
                config.eval.confident_threshold,
                &e.strategies,
            );
            by_difficulty(&mut out, &cells_here, &e.strategies);
            super::faithfulness::section(
                &mut out,
                &cells_here,
                &e.strategies,
                config.eval.confident_threshold,
                config.eval.epsilon,
                config.eval.delta,
            );
            let _ = writeln!(out, "\nDev split:\n");
            table(&mut out, &cells_here, "dev", &e.strategies);
            out.push('\n');
        }
        for split in ["eval", "dev"] {
            if arms.len() < 2 {
                break;
            }
            let _ = writeln!(out, "## {suite}: labeled sweep ({split} accuracy / ECE)\n");
            let _ = writeln!(
                out,
                "| strategy | {} |",
                arms.iter()
                    .map(|&(f, c)| arm_label(f, c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            let _ = writeln!(out, "|---|{}", "---|".repeat(arms.len()));
            for s in &e.strategies {
                let cols: Vec<String> = arms
                    .iter()
                    .map(|&(f, _)| {
                        let cs: Vec<&Calibration> = data
                            .iter()
                            .filter(|d| {
                                d.done
                                    && d.cell.suite.name() == suite
                                    && d.cell.fraction == f
                                    && d.cell.variant() == *s
                            })
                            .filter_map(|d| d.last(split).map(|r| &r.overall))
                            .collect();
                        if cs.is_empty() {
                            return "—".into();
                        }
                        let acc: Vec<f64> = cs.iter().map(|c| c.accuracy).collect();
                        let ece: Vec<f64> = cs.iter().map(|c| c.ece).collect();
                        format!("{} / {}", fmt_ms(&acc), fmt_ms(&ece))
                    })
                    .collect();
                let _ = writeln!(out, "| {s} | {} |", cols.join(" | "));
            }
            out.push('\n');
        }
    }
    out
}

/// Rewrites `results.csv`, `summary.md` and `plots/` from the cells on disk.
pub fn write_reports(dir: &Path, config: &Config) -> Result<Written> {
    let data: Vec<CellData> = cells(&config.experiment, config.data.size)
        .into_iter()
        .map(|c| read_cell(dir, c))
        .collect();
    let done = data.iter().filter(|d| d.done).count();
    let (csv, rows) = csv_rows(&data);
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        crate::publish::publish(&path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    };
    write("results.csv", &csv)?;
    write("summary.md", &summary(config, &data, done))?;
    let plots = plots::write_all(&dir.join("plots"), config, &data)?;
    Ok(Written {
        rows,
        done,
        cells: data.len(),
        plots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_std_by_hand() {
        // mean 2, squared deviations 1 + 0 + 1 = 2, / (3 − 1) = 1.
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]).unwrap();
        assert!((m - 2.0).abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
        assert_eq!(mean_std(&[0.5]), Some((0.5, 0.0)));
        assert_eq!(mean_std(&[]), None);
        assert_eq!(fmt_ms(&[0.5, 0.7]), "0.600 ± 0.141");
    }
}
