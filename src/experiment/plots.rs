//! The experiment's plots, as SVG files (no font or image-codec dependencies): accuracy and ECE
//! against the labeled fraction (a line per strategy, ± std over seeds), a reliability diagram
//! per suite and fraction (a line per strategy, bins pooled over seeds), and α with both PRGs
//! over the steps of HyTuning runs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::prelude::*;

use super::cell_data::{CellData, mean_std};
use crate::config::Config;
use crate::engine::protocol::CanaryReport;
use crate::method::calibration::Calibration;

/// The canary reports of a run folder, in step order.
pub fn read_canary(run: &Path) -> Vec<CanaryReport> {
    std::fs::read_to_string(run.join("canary.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|r: &CanaryReport| r.phase == "post")
        .collect()
}

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

/// The width of the strip right of a step chart that holds its legend, so that the legend
/// never hides the last steps, where a run's outcome shows.
const LEGEND_W: u32 = 230;

/// A part of an SVG drawing.
type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// A step chart's drawing area (wider than `W` by the legend strip) and the strip.
fn with_legend_strip(
    path: &Path,
) -> std::result::Result<(Area<'_>, Area<'_>), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (W.0 + LEGEND_W, W.1)).into_drawing_area();
    root.fill(&WHITE)?;
    Ok(root.split_horizontally(W.0))
}

/// A chart over the post-training steps `0..last` on `root`, its y axis over `y`, whole-number
/// step labels.
fn step_chart<'a, 'b>(
    root: &'a Area<'b>,
    title: &str,
    last: f64,
    y: std::ops::Range<f64>,
) -> std::result::Result<
    ChartContext<
        'a,
        SVGBackend<'b>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    Box<dyn std::error::Error>,
> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..last, y)?;
    chart
        .configure_mesh()
        .x_desc("post-training step")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    Ok(chart)
}

/// The legend of a step chart in its strip: a line of each entry's style and its name.
fn draw_legend(strip: &Area<'_>, entries: &[(&str, ShapeStyle)]) -> Plot {
    for (i, (name, style)) in entries.iter().enumerate() {
        let y = 60 + 24 * i as i32;
        strip.draw(&PathElement::new(vec![(4, y), (26, y)], *style))?;
        strip.draw(&Text::new(
            name.to_string(),
            (34, y - 7),
            ("sans-serif", 14).into_font().color(&BLACK),
        ))?;
    }
    Ok(())
}

/// One line per strategy: mean of `metric` over seeds at each labeled count (traces, on a
/// log axis fitted to the grid's counts), with ± std bars.
fn against_labels(
    path: &Path,
    title: &str,
    metric: fn(&Calibration) -> f64,
    config: &Config,
    data: &[&CellData],
) -> Plot {
    let size = config.data.size as f64;
    let arms = super::grid::arms(&config.experiment, config.data.size);
    let counts: Vec<f64> = arms.iter().map(|(f, _)| (f * size).max(1.0)).collect();
    let lo = counts.iter().copied().fold(f64::INFINITY, f64::min) / 1.5;
    let hi = counts.iter().copied().fold(1.0, f64::max) * 1.5;
    let root = SVGBackend::new(path, W).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((lo..hi).log_scale(), 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc(format!(
            "labeled traces (of {}; log scale)",
            config.data.size
        ))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(title.split(' ').next().unwrap_or(""))
        .draw()?;
    for (i, s) in config.experiment.strategies.iter().enumerate() {
        let mut pts = Vec::new();
        for (&(f, _), &n) in arms.iter().zip(&counts) {
            let v: Vec<f64> = data
                .iter()
                .filter(|d| d.done && d.cell.fraction == f && d.cell.variant() == *s)
                .filter_map(|d| d.last("eval").map(|r| metric(&r.overall)))
                .collect();
            if let Some((m, sd)) = mean_std(&v) {
                pts.push((n, m, sd));
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

/// Error among the answered items against the share answered (most confident first), a line per
/// strategy averaged over its seeds' final evaluations.
fn risk_coverage(path: &Path, title: &str, config: &Config, data: &[&CellData]) -> Plot {
    let curves: Vec<(usize, &String, Vec<(f64, f64)>)> = config
        .experiment
        .strategies
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let seeds: Vec<_> = data
                .iter()
                .filter(|d| d.done && d.cell.variant() == *s)
                .filter_map(|d| super::cell_fits::final_items(d, "eval"))
                .collect();
            (!seeds.is_empty()).then(|| (i, s, super::cell_fits::mean_curve(&seeds)))
        })
        .collect();
    let top = curves
        .iter()
        .flat_map(|c| c.2.iter().map(|p| p.1))
        .fold(0.05f64, f64::max)
        .min(1.0)
        * 1.1;
    let root = SVGBackend::new(path, W).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc("coverage (share answered, most confident first)")
        .y_desc("error among the answered")
        .draw()?;
    for (i, s, pts) in curves {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
            .label(s.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    let eps = config.eval.epsilon;
    chart
        .draw_series(LineSeries::new(
            vec![(0.0, eps), (1.0, eps)],
            BLACK.mix(0.4).stroke_width(1),
        ))?
        .label(format!("ε = {eps}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.4)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
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
            .filter(|d| d.done && d.cell.variant() == *s)
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

/// α, PRG_anchor, PRG_policy, the gold-answer confidence and (with `mix.heldout_labels`) the
/// held-out meter's solve rate over the steps of one HyTuning run.
fn alpha_prg(path: &Path, title: &str, cell: &CellData) -> Plot {
    let series: [(
        &str,
        fn(&crate::engine::protocol::StepMetrics) -> Option<f64>,
    ); 5] = [
        ("alpha", |m| m.alpha),
        ("PRG anchor (gold)", |m| m.prg_anchor),
        ("PRG policy (rollouts)", |m| m.prg_policy),
        ("gold-answer confidence", |m| m.anchor_conf),
        ("held-out solve rate", |m| m.heldout_solve),
    ];
    let steps = cell.steps.iter().filter(|m| m.phase == "post");
    let last = steps.clone().map(|m| m.step).max().unwrap_or(1) as f64;
    let lo = steps
        .flat_map(|m| series.iter().filter_map(|(_, f)| f(m)))
        .fold(0.0f64, f64::min)
        .max(-1.0);
    let (root, strip) = with_legend_strip(path)?;
    let mut chart = step_chart(&root, title, last, (lo - 0.05)..1.05)?;
    let mut legend = Vec::new();
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
        chart.draw_series(LineSeries::new(pts, c.stroke_width(2)))?;
        legend.push((*name, c.stroke_width(2)));
    }
    draw_legend(&strip, &legend)?;
    root.present()?;
    Ok(())
}

/// The reward canary over the steps of one run (`canary.jsonl`): the within-question AUROC of
/// its reward, how often the vote's majority is the gold answer, the canary's accuracy, its
/// mean reward (scaled to its largest value); onsets of hacking marked with a cross.
fn canary(path: &Path, title: &str, reports: &[CanaryReport]) -> Plot {
    let last = reports.iter().map(|r| r.step).max().unwrap_or(1).max(1) as f64;
    let top = reports
        .iter()
        .map(|r| r.reward_mean.abs())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let series: [(&str, Box<dyn Fn(&CanaryReport) -> Option<f64>>); 4] = [
        (
            "reward AUROC (within question)",
            Box::new(|r| r.reward_auroc),
        ),
        ("majority = gold", Box::new(|r| Some(r.majority_gold))),
        ("canary accuracy", Box::new(|r| Some(r.accuracy))),
        (
            "mean reward (scaled)",
            Box::new(move |r| Some(r.reward_mean / top)),
        ),
    ];
    let (root, strip) = with_legend_strip(path)?;
    let mut chart = step_chart(&root, title, last, 0.0..1.05)?;
    let mut legend = Vec::new();
    for (i, (name, f)) in series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = reports
            .iter()
            .filter_map(|r| f(r).map(|v| (r.step as f64, v)))
            .collect();
        let c = color(i);
        chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?;
        legend.push((*name, c.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
    }
    let onsets: Vec<_> = reports
        .iter()
        .filter(|r| r.onset.is_some())
        .map(|r| Cross::new((r.step as f64, 0.03), 7, RED.stroke_width(3)))
        .collect();
    let gray = BLACK.mix(0.45).stroke_width(1);
    let bar = crate::method::hacking::AUROC_FLOOR;
    chart.draw_series(LineSeries::new([(0.0, bar), (last, bar)], gray))?;
    let bar_name = format!("AUROC {bar} (hacking rule's floor)");
    legend.push((&bar_name, gray));
    if !onsets.is_empty() {
        legend.push(("x: onset of hacking", RED.stroke_width(3)));
    }
    chart.draw_series(onsets)?;
    draw_legend(&strip, &legend)?;
    root.present()?;
    Ok(())
}

/// Writes every plot the cells on disk allow; returns their paths.
pub fn write_all(dir: &Path, config: &Config, data: &[CellData]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut out = Vec::new();
    let mut emit = |name: String, plot: &dyn Fn(&Path) -> Plot| -> Result<()> {
        let path = dir.join(name);
        // Drawn under a name of this process's, then renamed: a reader never sees half a plot.
        let tmp = crate::publish::unique_tmp(&path);
        plot(&tmp)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .and_then(|_| Ok(std::fs::rename(&tmp, &path)?))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                anyhow::anyhow!("cannot write {}: {e}", path.display())
            })?;
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
        emit(format!("{suite}-accuracy-vs-labels.svg"), &|p| {
            against_labels(
                p,
                &format!("accuracy ({suite}, eval)"),
                |c| c.accuracy,
                config,
                &of_suite,
            )
        })?;
        emit(format!("{suite}-ece-vs-labels.svg"), &|p| {
            against_labels(
                p,
                &format!("ECE ({suite}, eval)"),
                |c| c.ece,
                config,
                &of_suite,
            )
        })?;
        for (f, count) in super::grid::arms(&config.experiment, config.data.size) {
            let here: Vec<&CellData> = of_suite
                .iter()
                .copied()
                .filter(|d| d.cell.fraction == f)
                .collect();
            if !here.iter().any(|d| d.done) {
                continue;
            }
            let tag = here[0].cell.labels_tag();
            emit(format!("{suite}-{tag}-reliability.svg"), &|p| {
                reliability(
                    p,
                    &format!(
                        "reliability ({suite}, {}, eval)",
                        super::grid::arm_label(f, count)
                    ),
                    config,
                    &here,
                )
            })?;
            emit(format!("{suite}-{tag}-risk-coverage.svg"), &|p| {
                risk_coverage(
                    p,
                    &format!(
                        "risk-coverage ({suite}, {}, eval)",
                        super::grid::arm_label(f, count)
                    ),
                    config,
                    &here,
                )
            })?;
            for d in here.iter().filter(|d| {
                matches!(d.cell.variant().as_str(), "hytuning" | "rlif")
                    && d.cell.seed == here[0].cell.seed
            }) {
                let reports = read_canary(&d.run_dir);
                if reports.len() < 2 {
                    continue;
                }
                emit(format!("{}-canary.svg", d.cell.name()), &|p| {
                    canary(p, &format!("reward canary ({})", d.cell.name()), &reports)
                })?;
            }
            for d in here
                .iter()
                .filter(|d| d.cell.variant() == "hytuning" && !d.steps.is_empty())
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
