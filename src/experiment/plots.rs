//! The experiment's plots, as SVG files (no font or image-codec dependencies): accuracy and ECE
//! against the labeled fraction (a line per strategy, ± std over seeds), a reliability diagram
//! per suite and fraction (a line per strategy, bins pooled over seeds), and α with both PRGs
//! over the steps of HyTuning runs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::prelude::*;

use super::results::{CellData, mean_std};
use crate::config::Config;
use crate::method::calibration::Calibration;

const W: (u32, u32) = (720, 460);

fn color(i: usize) -> RGBColor {
    const C: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    C[i % C.len()]
}

type Plot = std::result::Result<(), Box<dyn std::error::Error>>;

/// One line per strategy: mean of `metric` over seeds at each fraction, with ± std bars.
fn against_fraction(
    path: &Path,
    title: &str,
    metric: fn(&Calibration) -> f64,
    config: &Config,
    data: &[&CellData],
) -> Plot {
    let root = SVGBackend::new(path, W).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1.05f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("labeled fraction")
        .y_desc(title.split(' ').next().unwrap_or(""))
        .draw()?;
    for (i, s) in config.experiment.strategies.iter().enumerate() {
        let mut pts = Vec::new();
        for &f in &config.experiment.fractions {
            let v: Vec<f64> = data
                .iter()
                .filter(|d| d.done && d.cell.fraction == f && d.cell.strategy.name() == s)
                .filter_map(|d| d.last("eval").map(|r| metric(&r.overall)))
                .collect();
            if let Some((m, sd)) = mean_std(&v) {
                pts.push((f, m, sd));
            }
        }
        if pts.is_empty() {
            continue;
        }
        let c = color(i);
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (p.0, p.1)),
                c.stroke_width(2),
            ))?
            .label(s.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        chart.draw_series(pts.iter().map(|p| Circle::new((p.0, p.1), 4, c.filled())))?;
        chart.draw_series(pts.iter().map(|p| {
            PathElement::new(
                vec![(p.0, (p.1 - p.2).max(0.0)), (p.0, (p.1 + p.2).min(1.0))],
                c,
            )
        }))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Accuracy against mean confidence per bin, bins pooled over the seeds' final evaluations.
fn reliability(path: &Path, title: &str, config: &Config, data: &[&CellData]) -> Plot {
    let root = SVGBackend::new(path, W).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("confidence")
        .y_desc("accuracy")
        .draw()?;
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.4)))?
        .label("perfect calibration")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.4)));
    for (i, s) in config.experiment.strategies.iter().enumerate() {
        let finals: Vec<&Calibration> = data
            .iter()
            .filter(|d| d.done && d.cell.strategy.name() == s)
            .filter_map(|d| d.last("eval").map(|r| &r.overall))
            .collect();
        let Some(first) = finals.first() else {
            continue;
        };
        let mut pts = Vec::new();
        for b in 0..first.reliability.len() {
            let (mut n, mut acc, mut conf) = (0usize, 0.0, 0.0);
            for c in &finals {
                let bin = &c.reliability[b];
                if let (Some(a), Some(m)) = (bin.accuracy, bin.mean_confidence) {
                    n += bin.count;
                    acc += a * bin.count as f64;
                    conf += m * bin.count as f64;
                }
            }
            if n > 0 {
                pts.push((conf / n as f64, acc / n as f64));
            }
        }
        let c = color(i);
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?
            .label(s.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// α, PRG_anchor, PRG_policy and the gold-answer confidence over the steps of one HyTuning run.
fn alpha_prg(path: &Path, title: &str, cell: &CellData) -> Plot {
    let series: [(
        &str,
        fn(&crate::engine::protocol::StepMetrics) -> Option<f64>,
    ); 4] = [
        ("alpha", |m| m.alpha),
        ("PRG anchor (gold)", |m| m.prg_anchor),
        ("PRG policy (rollouts)", |m| m.prg_policy),
        ("gold-answer confidence", |m| m.anchor_conf),
    ];
    let steps = cell.steps.iter().filter(|m| m.phase == "post");
    let last = steps.clone().map(|m| m.step).max().unwrap_or(1) as f64;
    let lo = steps
        .flat_map(|m| series.iter().filter_map(|(_, f)| f(m)))
        .fold(0.0f64, f64::min)
        .max(-1.0);
    let root = SVGBackend::new(path, W).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..last, (lo - 0.05)..1.05f64)?;
    chart.configure_mesh().x_desc("post-training step").draw()?;
    for (i, (name, f)) in series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = cell
            .steps
            .iter()
            .filter(|m| m.phase == "post")
            .filter_map(|m| f(m).map(|v| (m.step as f64, v)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let c = color(i);
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Writes every plot the cells on disk allow; returns their paths.
pub fn write_all(dir: &Path, config: &Config, data: &[CellData]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut out = Vec::new();
    let mut emit = |name: String, plot: &dyn Fn(&Path) -> Plot| -> Result<()> {
        let path = dir.join(name);
        plot(&path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        out.push(path);
        Ok(())
    };
    for suite in &config.experiment.suites {
        let of_suite: Vec<&CellData> = data
            .iter()
            .filter(|d| d.cell.suite.name() == suite)
            .collect();
        if !of_suite.iter().any(|d| d.done) {
            continue;
        }
        emit(format!("{suite}-accuracy-vs-fraction.svg"), &|p| {
            against_fraction(
                p,
                &format!("accuracy ({suite}, eval)"),
                |c| c.accuracy,
                config,
                &of_suite,
            )
        })?;
        emit(format!("{suite}-ece-vs-fraction.svg"), &|p| {
            against_fraction(
                p,
                &format!("ECE ({suite}, eval)"),
                |c| c.ece,
                config,
                &of_suite,
            )
        })?;
        for &f in &config.experiment.fractions {
            let here: Vec<&CellData> = of_suite
                .iter()
                .copied()
                .filter(|d| d.cell.fraction == f)
                .collect();
            if !here.iter().any(|d| d.done) {
                continue;
            }
            emit(format!("{suite}-f{f}-reliability.svg"), &|p| {
                reliability(
                    p,
                    &format!("reliability ({suite}, {}% labeled, eval)", f * 100.0),
                    config,
                    &here,
                )
            })?;
            for d in here
                .iter()
                .filter(|d| d.cell.strategy.name() == "hytuning" && !d.steps.is_empty())
            {
                emit(format!("{}-alpha-prg.svg", d.cell.name()), &|p| {
                    alpha_prg(
                        p,
                        &format!("HyTuning: alpha and PRG ({})", d.cell.name()),
                        d,
                    )
                })?;
            }
        }
    }
    Ok(out)
}
