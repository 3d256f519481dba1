//! One cell's run folder read back: its evaluations, step metrics and whether it is done. The
//! reports, plots and paired intervals all read cells through this.

use std::path::{Path, PathBuf};

use super::grid::Cell;
use crate::engine::protocol::{EvalReport, StepMetrics};

/// Marks a finished cell (written last: after its final evaluation and checkpoint).
pub const DONE: &str = "done.json";

/// The evaluations and step metrics of one cell's run folder.
pub struct CellData {
    pub cell: Cell,
    pub run_dir: PathBuf,
    pub done: bool,
    pub reports: Vec<EvalReport>,
    pub steps: Vec<StepMetrics>,
}

impl CellData {
    /// The last post-training evaluation of `split` (the final one when the cell is done).
    pub fn last(&self, split: &str) -> Option<&EvalReport> {
        self.reports
            .iter()
            .filter(|r| r.split == split && r.phase == "post")
            .max_by_key(|r| r.step)
    }

    /// The evaluation before post-training: the base model's.
    pub fn before(&self, split: &str) -> Option<&EvalReport> {
        self.reports
            .iter()
            .find(|r| r.split == split && r.phase == "post" && r.step == 0)
    }
}

pub fn read_cell(dir: &Path, cell: Cell) -> CellData {
    let run = dir.join("cells").join(cell.name());
    let mut reports: Vec<EvalReport> = std::fs::read_dir(&run)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (n.starts_with("eval-") || n.starts_with("dev-")) && n.ends_with(".json")
        })
        .filter_map(|p| serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok())
        .collect();
    reports.sort_by(|a, b| (&a.split, a.step).cmp(&(&b.split, b.step)));
    let steps = std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    CellData {
        done: run.join(DONE).exists(),
        run_dir: run.clone(),
        cell,
        reports,
        steps,
    }
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_std(v: &[f64]) -> Option<(f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Some((m, var.sqrt()))
}
