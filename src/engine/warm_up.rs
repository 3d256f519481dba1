//! Before post-training's first step, with shape bucketing on: one forward and backward of
//! every bucketed training shape, and one decode from every bucketed prompt length, on
//! throwaway data, so that GPU kernels are tuned and compiled before step 1 rather than in the
//! middle of its timing (and so the distinct-shape count settles at once).

use std::time::Instant;

use burn::tensor::Tensor;

use super::trainer::Trainer;
use crate::model::generate::{SampleOpts, generate_until};
use crate::model::score::Packed;
use crate::model::shapes;
use crate::rng::Rng;

impl Trainer {
    pub(super) fn warm_up_shapes(&mut self) {
        if !shapes::bucketing() {
            return;
        }
        let t0 = Instant::now();
        let before = shapes::distinct();
        let post = self.config.post.clone();
        let strategy = self.config.strategy();
        let max_len = self.model.max_len();
        let pad = self.model.codec().pad();
        let mut questions = post.questions;
        if strategy != crate::method::mixing::Strategy::Rlif {
            questions += post.labeled_rollouts.min(post.rd_batch);
        }
        let rd_rows = post.rd_batch;
        let rl_rows = if strategy.needs_rollouts() {
            questions * post.group_size
        } else {
            0
        };
        // The training passes: RD alone and RL alone (`update = split`) or both (`joint`).
        let mut row_counts = vec![rd_rows, rl_rows];
        if post.update != "split" {
            row_counts.push(rd_rows + rl_rows);
        }
        row_counts.retain(|&r| r > 0);
        row_counts.dedup();
        for cols in shapes::buckets(max_len) {
            for &rows in &row_counts {
                if self.stop.is_raised() {
                    return;
                }
                // One sequence of `cols + 1` tokens per row, every target counted.
                let seq = vec![pad; cols + 1];
                let pairs: Vec<(&[u32], &[u32])> =
                    (0..rows).map(|_| (&seq[..1], &seq[1..])).collect();
                let packed = Packed::new(&pairs, max_len);
                let loss: Tensor<1> = packed.token_logprobs(&self.model).sum().neg();
                let _ = loss.backward();
            }
        }
        if rl_rows > 0 {
            let policy = burn::module::Module::valid(&self.model);
            let opts = SampleOpts {
                temperature: Some(post.temperature),
                top_k: post.top_k,
                max_new: post.max_new_tokens,
            };
            let mut rng = Rng::new(0);
            // The held-out meter's questions decode in the same batch.
            let rows = (questions + self.heldout.len()) * self.config.votes();
            for len in shapes::buckets(max_len.saturating_sub(post.max_new_tokens).max(1)) {
                let prompts = vec![vec![pad; len]; rows];
                let _ = generate_until(&policy, &prompts, &opts, &mut rng, self.stop.atomic());
            }
        }
        self.dir.log(&format!(
            "shape warm-up: {} shapes in {:.1} s (run.shape_buckets)",
            shapes::distinct() - before,
            t0.elapsed().as_secs_f64()
        ));
    }
}
