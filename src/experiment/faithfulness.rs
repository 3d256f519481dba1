//! The summary's section on confidence a user can act on: selective prediction (AURC, E-AURC,
//! selective accuracy, confident errors at the coverage RD has at the confident threshold),
//! post-hoc calibration fitted on dev (temperature scaling, isotonic, the logistic calibrator)
//! and certified abstention (certified on dev, applied to eval), overall and by difficulty, with
//! paired per-item intervals of HyTuning against every other strategy.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use super::cell_data::{CellData, mean_std};
use super::cell_fits::{DRAWS, Fitted, Item, fit, redrawn};
use crate::method::bootstrap::{Metric, Preds, paired_diff};
use crate::method::calibration::{brier, ece};
use crate::method::certify::Applied;
use crate::method::selective::{aurc, coverage_at, e_aurc, errors_at_coverage, selective_accuracy};
use crate::rng::Rng;

/// Resamples of the items per interval.
const REPS: usize = 1000;

fn fmt(v: &[f64]) -> String {
    match mean_std(v) {
        None => "—".into(),
        Some((m, _)) if v.len() == 1 => format!("{m:.3}"),
        Some((m, s)) => format!("{m:.3} ± {s:.3}"),
    }
}

/// The eval items of one difficulty level (`None`: all).
fn at_level(level: Option<u32>) -> impl Fn(&Item) -> bool {
    move |i: &Item| level.is_none() || i.difficulty == level
}

/// `(conf, correct)` of the items kept, under one confidence column.
fn pick(f: &Fitted, col: &[f64], keep: &dyn Fn(&Item) -> bool) -> (Vec<f64>, Vec<bool>) {
    col.iter()
        .zip(&f.eval)
        .filter(|(_, i)| keep(i))
        .map(|(c, i)| (*c, i.correct))
        .unzip()
}

fn raw(f: &Fitted) -> Vec<f64> {
    f.eval.iter().map(|i| i.conf).collect()
}

/// The coverage RD has at the confident threshold (mean over its seeds), per level.
fn matched_coverage(rd: &[Fitted], threshold: f64, level: Option<u32>) -> Option<f64> {
    let v: Vec<f64> = rd
        .iter()
        .map(|f| coverage_at(&pick(f, &raw(f), &at_level(level)).0, threshold))
        .collect();
    mean_std(&v).map(|m| m.0)
}

/// Writes the section for one suite and label count.
pub fn section(
    out: &mut String,
    data: &[&CellData],
    strategies: &[String],
    threshold: f64,
    epsilon: f64,
    delta: f64,
) {
    let fitted: Vec<(&String, Vec<Fitted>)> = strategies
        .iter()
        .map(|s| {
            let v: Vec<Fitted> = data
                .iter()
                .filter(|d| d.done && d.cell.variant() == *s)
                .filter_map(|d| fit(d, epsilon, delta))
                .collect();
            (s, v)
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if fitted.is_empty() {
        return;
    }
    let rd = fitted
        .iter()
        .find(|(s, _)| s.as_str() == "rd")
        .map(|x| &x.1);
    let levels: Vec<Option<u32>> = std::iter::once(None)
        .chain(
            fitted[0].1[0]
                .eval
                .iter()
                .filter_map(|i| i.difficulty)
                .collect::<BTreeSet<u32>>()
                .into_iter()
                .map(Some),
        )
        .collect();
    let level_name = |l: Option<u32>| match l {
        None => "all".to_string(),
        Some(1) => "1 step".to_string(),
        Some(l) => format!("{l} steps"),
    };
    let cov = |l| rd.and_then(|rd| matched_coverage(rd, threshold, l));

    let _ = writeln!(
        out,
        "\n### Confidence a user can act on (eval; every map, calibrator and certificate fitted on dev)\n"
    );
    let _ = writeln!(
        out,
        "Selective prediction, answering the most confident first. AURC: area under the risk–coverage curve (lower is better); E-AURC: AURC less a perfect ranking's; confident errors at RD's coverage: the share of items that are wrong among each strategy's most confident c, c being the coverage RD has at confidence {threshold}{}.\n",
        cov(None)
            .map(|c| format!(" ({c:.3} overall)"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "| strategy | difficulty | seeds | accuracy | AURC | E-AURC | accuracy at 50% coverage | at 80% | coverage at {threshold} | confident errors at RD's coverage |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    for &l in &levels {
        for (s, fs) in &fitted {
            let keep = at_level(l);
            let col = |m: &dyn Fn(&[f64], &[bool]) -> f64| -> String {
                let v: Vec<f64> = fs
                    .iter()
                    .map(|f| {
                        let (c, k) = pick(f, &raw(f), &keep);
                        m(&c, &k)
                    })
                    .collect();
                fmt(&v)
            };
            let matched = match cov(l) {
                Some(c) => col(&|x, k| errors_at_coverage(x, k, c)),
                None => "—".into(),
            };
            let _ = writeln!(
                out,
                "| {s} | {} | {} | {} | {} | {} | {} | {} | {} | {matched} |",
                level_name(l),
                fs.len(),
                col(&|_, k| k.iter().filter(|x| **x).count() as f64 / k.len().max(1) as f64),
                col(&aurc),
                col(&e_aurc),
                col(&|x, k| selective_accuracy(x, k, 0.5)),
                col(&|x, k| selective_accuracy(x, k, 0.8)),
                col(&|x, _| coverage_at(x, threshold)),
            );
        }
    }

    let _ = writeln!(
        out,
        "\nPost-hoc calibration fitted on each cell's dev predictions and applied to eval: temperature scaling σ(logit(p)/T), isotonic regression, and the logistic calibrator (response and answer log-odds, steps written). A calibration claim counts after these.\n"
    );
    let _ = writeln!(
        out,
        "| strategy | difficulty | T | Brier raw | Brier T-scaled | Brier isotonic | Brier logistic | ECE raw | ECE T-scaled | ECE isotonic | ECE logistic |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for &l in &levels {
        for (s, fs) in &fitted {
            let keep = at_level(l);
            let col = |which: &dyn Fn(&Fitted) -> Vec<f64>, m: &dyn Fn(&[f64], &[bool]) -> f64| {
                let v: Vec<f64> = fs
                    .iter()
                    .map(|f| {
                        let (c, k) = pick(f, &which(f), &keep);
                        m(&c, &k)
                    })
                    .collect();
                fmt(&v)
            };
            let t: Vec<f64> = fs.iter().map(|f| f.temperature).collect();
            let _ = writeln!(
                out,
                "| {s} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                level_name(l),
                fmt(&t),
                col(&raw, &brier),
                col(&|f| f.ts.clone(), &brier),
                col(&|f| f.iso.clone(), &brier),
                col(&|f| f.lr.clone(), &brier),
                col(&raw, &ece),
                col(&|f| f.ts.clone(), &ece),
                col(&|f| f.iso.clone(), &ece),
                col(&|f| f.lr.clone(), &ece),
            );
        }
    }

    let _ = writeln!(
        out,
        "\nCertified abstention at ε {epsilon}, δ {delta}: the threshold each cell certifies on its dev predictions (the model's confidence; or the logistic calibrator fitted on half of dev and certified on the other half), applied to eval. Held: seeds whose eval error among the answered stayed ≤ ε. The seeds share one dev set, so they are one draw of the calibration set, not five: the last two columns re-draw it (dev and eval pooled and re-split {DRAWS} times) and give the mean test coverage and the share of draws whose test error exceeded ε, which a valid certificate keeps at or below δ.\n"
    );
    let _ = writeln!(
        out,
        "| strategy | difficulty | score | dev coverage | eval coverage | eval error among answered | held | over {DRAWS} redrawn dev sets: coverage | share of draws over ε |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for &l in &levels {
        for (s, fs) in &fitted {
            for logistic in [false, true] {
                let keep = at_level(l);
                let applied: Vec<Applied> = fs
                    .iter()
                    .filter_map(|f| f.applied(logistic, &keep))
                    .collect();
                if applied.is_empty() {
                    continue;
                }
                let dev_cov: Vec<f64> = fs
                    .iter()
                    .filter_map(|f| if logistic { &f.cert_lr } else { &f.cert }.as_ref())
                    .map(|c| c.coverage)
                    .collect();
                let cov: Vec<f64> = applied.iter().map(|a| a.coverage).collect();
                let risk: Vec<f64> = applied.iter().filter_map(|a| a.risk).collect();
                // The promise is about all the answered items; a level's share is shown, not
                // judged.
                let held = if l.is_none() {
                    format!(
                        "{}/{}",
                        applied.iter().filter(|a| a.held).count(),
                        applied.len()
                    )
                } else {
                    "—".into()
                };
                let redraw = if l.is_none() {
                    let r: Vec<(f64, f64)> = fs
                        .iter()
                        .filter_map(|f| redrawn(f, epsilon, delta, logistic))
                        .collect();
                    let (c, p): (Vec<f64>, Vec<f64>) = r.into_iter().unzip();
                    format!("{} | {}", fmt(&c), fmt(&p))
                } else {
                    "— | —".into()
                };
                let _ = writeln!(
                    out,
                    "| {s} | {} | {} | {} | {} | {} | {held} | {redraw} |",
                    level_name(l),
                    if logistic { "logistic" } else { "confidence" },
                    if l.is_none() {
                        fmt(&dev_cov)
                    } else {
                        "—".into()
                    },
                    fmt(&cov),
                    if risk.is_empty() {
                        "none answered".into()
                    } else {
                        fmt(&risk)
                    },
                );
            }
        }
    }

    paired(out, &fitted, &levels, &level_name, &cov);
}

/// Paired per-item intervals of HyTuning − each other strategy, seed by seed on the same eval
/// items, with every cell's own dev-fitted maps and certificates held fixed.
fn paired(
    out: &mut String,
    fitted: &[(&String, Vec<Fitted>)],
    levels: &[Option<u32>],
    level_name: &dyn Fn(Option<u32>) -> String,
    cov: &dyn Fn(Option<u32>) -> Option<f64>,
) {
    let Some((_, hy)) = fitted.iter().find(|(s, _)| s.as_str() == "hytuning") else {
        return;
    };
    let mut rows = Vec::new();
    for (other, os) in fitted.iter().filter(|(s, _)| s.as_str() != "hytuning") {
        let seeds: Vec<u64> = hy
            .iter()
            .map(|f| f.seed)
            .filter(|s| os.iter().any(|o| o.seed == *s))
            .collect();
        if seeds.is_empty() {
            continue;
        }
        let by_seed = |v: &[Fitted], s: u64| v.iter().position(|f| f.seed == s).unwrap();
        for &l in levels {
            // The questions every compared cell scored, at this level, in one order.
            fn index(f: &Fitted, l: Option<u32>) -> HashMap<&str, usize> {
                f.eval
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| at_level(l)(i))
                    .map(|(k, i)| (i.question.as_str(), k))
                    .collect()
            }
            let maps: Vec<(HashMap<&str, usize>, HashMap<&str, usize>)> = seeds
                .iter()
                .map(|&s| (index(&hy[by_seed(hy, s)], l), index(&os[by_seed(os, s)], l)))
                .collect();
            let mut qs: Vec<&str> = maps[0].0.keys().copied().collect();
            qs.retain(|q| {
                maps.iter()
                    .all(|(a, b)| a.contains_key(q) && b.contains_key(q))
            });
            qs.sort();
            if qs.is_empty() {
                continue;
            }
            let preds =
                |v: &[Fitted], side: usize, col: &dyn Fn(&Fitted) -> Vec<f64>| -> Vec<Preds> {
                    seeds
                        .iter()
                        .zip(&maps)
                        .map(|(&s, m)| {
                            let f = &v[by_seed(v, s)];
                            let c = col(f);
                            let idx = if side == 0 { &m.0 } else { &m.1 };
                            qs.iter()
                                .map(|q| (c[idx[q]], f.eval[idx[q]].correct))
                                .collect()
                        })
                        .collect()
                };
            let ts = |f: &Fitted| f.ts.clone();
            let cert = |f: &Fitted| f.answered(false).unwrap_or_else(|| vec![0.0; f.eval.len()]);
            let matched = cov(l);
            let mean_conf = |c: &[f64], _: &[bool]| c.iter().sum::<f64>() / c.len().max(1) as f64;
            let at_cov =
                move |c: &[f64], k: &[bool]| errors_at_coverage(c, k, matched.unwrap_or(0.0));
            let lr = |f: &Fitted| f.lr.clone();
            let cols: [(&dyn Fn(&Fitted) -> Vec<f64>, Metric<'_>); 7] = [
                (&ts, &brier),
                (&lr, &brier),
                (&raw, &aurc),
                (&lr, &aurc),
                (&raw, &e_aurc),
                (&raw, &at_cov),
                (&cert, &mean_conf),
            ];
            let mut cells = Vec::new();
            for (k, (col, m)) in cols.iter().enumerate() {
                if k == 5 && matched.is_none() {
                    cells.push("—".to_string());
                    continue;
                }
                let mut rng = Rng::new(0xFA17 + k as u64);
                cells.push(
                    match paired_diff(&preds(hy, 0, col), &preds(os, 1, col), *m, REPS, &mut rng) {
                        Some((d, lo, hi)) => format!("{d:+.3} [{lo:+.3}, {hi:+.3}]"),
                        None => "—".into(),
                    },
                );
            }
            rows.push(format!(
                "| hytuning − {other} | {} | {} | {} | {} |",
                level_name(l),
                seeds.len(),
                qs.len(),
                cells.join(" | ")
            ));
        }
    }
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nPaired differences on the same eval items (mean over seeds; 95% per-item bootstrap interval, {REPS} resamples; each cell's dev-fitted temperature and certificate held fixed). The logistic columns use each cell's calibrator fitted on its dev predictions. Below 0 favours HyTuning for Brier, AURC, E-AURC and confident errors; above 0 for certified coverage:\n"
    );
    let _ = writeln!(
        out,
        "| comparison | difficulty | seeds | items | Brier (T-scaled) | Brier (logistic) | AURC | AURC (logistic) | E-AURC | confident errors at RD's coverage | certified coverage |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let _ = writeln!(out, "{r}");
    }
}
