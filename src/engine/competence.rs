//! The votes of `hytune eval --votes N`: each item rolled out N times as an unlabeled question
//! would be in RLIF, reduced against its gold answer (`method::competence`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::rollouts::rollouts;
use crate::data::EvalItem;
use crate::data::extract::Extract;
use crate::data::fit::eval_misfit;
use crate::method::competence::{Competence, VoteItem, by_difficulty};
use crate::model::Lm;
use crate::model::generate::{NEVER, SampleOpts};
use crate::rng::Rng;

/// The competence map of one set of items.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CompetenceReport {
    pub votes: usize,
    pub temperature: f64,
    pub min_majority: f64,
    pub overall: Competence,
    pub by_difficulty: BTreeMap<u32, Competence>,
}

/// `votes` samples of each item that fits the context, `rows` rollouts decoded together at
/// most; `progress` hears the items done. `None` when no item fits.
#[allow(clippy::too_many_arguments)]
pub fn competence_map(
    model: &Lm,
    items: &[EvalItem],
    votes: usize,
    opts: &SampleOpts,
    extract: Extract,
    min_majority: f64,
    rows: usize,
    rng: &mut Rng,
    progress: &mut dyn FnMut(usize),
) -> Option<CompetenceReport> {
    let codec = model.codec();
    let fit: Vec<&EvalItem> = items
        .iter()
        .filter(|it| eval_misfit(codec, it, model.max_len(), opts.max_new).is_none())
        .collect();
    let per = (rows / votes.max(1)).max(1);
    let mut reduced = Vec::with_capacity(fit.len());
    for chunk in fit.chunks(per) {
        let questions: Vec<&str> = chunk.iter().map(|i| i.question.as_str()).collect();
        let rolls = rollouts(model, &questions, votes, opts, extract, rng, &NEVER);
        for (item, group) in chunk.iter().zip(rolls.chunks(votes)) {
            let answers: Vec<Option<&str>> =
                group.iter().map(|r| r.parsed.answer.as_deref()).collect();
            let ended: Vec<bool> = group.iter().map(|r| r.ended).collect();
            let confs: Vec<Option<f64>> = group.iter().map(|r| r.response_confidence).collect();
            reduced.push(VoteItem::of(
                item.difficulty,
                &answers,
                &ended,
                &confs,
                &item.answer,
            ));
        }
        progress(reduced.len());
    }
    let (overall, by_difficulty) = by_difficulty(&reduced, min_majority);
    Some(CompetenceReport {
        votes,
        temperature: opts.temperature.unwrap_or(0.0),
        min_majority,
        overall: overall?,
        by_difficulty,
    })
}

impl CompetenceReport {
    /// `difficulty 1: n 67  majority right 0.418 ± 0.060  …`, one line per difficulty, then
    /// the overall line.
    pub fn lines(&self) -> Vec<String> {
        let line = |label: String, c: &Competence| {
            format!(
                "  {label}: n {}  majority right {:.3} ± {:.3}  pass@{} {:.3}  vote accuracy {:.3}  answered {:.3}  cut {:.3}  trained {:.3} (right {}){}",
                c.items,
                c.majority_right,
                c.majority_right_se,
                self.votes,
                c.pass_at_n,
                c.vote_accuracy,
                c.answer_rate,
                c.cut_rate,
                c.trained,
                c.trained_right
                    .map(|r| format!("{r:.3}"))
                    .unwrap_or_else(|| "—".into()),
                if c.at_edge() { "  at the edge" } else { "" }
            )
        };
        let mut out = vec![format!(
            "votes: {} per item at temperature {}; a group trains when its majority holds ≥ {} of its votes",
            self.votes, self.temperature, self.min_majority
        )];
        out.extend(
            self.by_difficulty
                .iter()
                .map(|(d, c)| line(format!("difficulty {d}"), c)),
        );
        out.push(line("all".into(), &self.overall));
        out.push(format!(
            "  groups a vote threshold trains, and the share of them whose majority is right: {}",
            trade_offs(&self.overall.by_threshold)
        ));
        out.push(format!(
            "  groups a floor on the majority's mean response confidence trains (post.min_confidence, majority ≥ {}), and the share of them whose majority is right: {}",
            self.min_majority,
            trade_offs(&self.overall.by_confidence)
        ));
        out
    }
}

/// `≥ 0.5: 0.820 (0.700), …`: each setting's groups trained and how often rightly.
fn trade_offs(rows: &[(f64, f64, Option<f64>)]) -> String {
    rows.iter()
        .map(|(t, share, right)| {
            let right = right.map_or_else(|| "—".into(), |r| format!("{r:.3}"));
            format!("≥ {t}: {share:.3} ({right})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
