//! Data parallelism on the CPU: a batch's rows are split into shards and each shard runs on its
//! own thread: decoding, and training steps whose gradients are then summed.
//!
//! The CPU backend (flex) runs its matrix products on all threads but every other op on one,
//! so one big batch uses about one core. Shards keep every core busy instead. Two things make
//! them independent:
//! - each shard differentiates a *fork* of the model (same parameter ids, fresh autodiff
//!   leaves), so Burn keeps a separate autodiff graph, behind a separate lock, per shard;
//! - each shard runs inside its own one-thread rayon pool, so the backend's matrix products do
//!   not spread each shard over the cores the other shards use.
//!
//! A loss must be split so that the shards' losses sum to the whole batch's loss (each shard
//! divides by the whole batch's count, not its own): the summed gradients are then those of
//! the unsharded step, up to floating-point order.

use std::ops::Range;
use std::sync::OnceLock;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

use super::Lm;

/// Rows a shard gets at least: smaller matrix products waste more than a core saves.
const MIN_ROWS: usize = 4;

/// One-thread pools, one per shard that can run at once.
pub struct Shards {
    pools: Vec<rayon::ThreadPool>,
}

impl Shards {
    /// Up to `threads` shards at once (`rayon::current_num_threads()` follows
    /// `RAYON_NUM_THREADS`).
    pub fn new(threads: usize) -> Self {
        if threads < 2 {
            return Self { pools: Vec::new() };
        }
        let pools = (0..threads)
            .map_while(|i| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .thread_name(move |_| format!("hytune-shard-{i}"))
                    .build()
                    .ok()
            })
            .collect::<Vec<_>>();
        if pools.len() < 2 {
            return Self { pools: Vec::new() };
        }
        Self { pools }
    }

    /// The shards for models on `device`: one per rayon thread (`RAYON_NUM_THREADS`) on flex,
    /// none on the other backends (a GPU, or libtorch, which threads its own ops).
    pub fn for_device(device: &Device) -> &'static Shards {
        static NONE: Shards = Shards { pools: Vec::new() };
        static CPU: OnceLock<Shards> = OnceLock::new();
        if device.clone().inner() == Device::flex() {
            CPU.get_or_init(|| Shards::new(rayon::current_num_threads()))
        } else {
            &NONE
        }
    }

    /// How many shards a batch of `rows` rows is split into.
    pub fn count(&self, rows: usize) -> usize {
        (rows / MIN_ROWS).clamp(1, self.pools.len().max(1))
    }

    /// [`Self::count`] with at most `cap` rows a shard (0: no cap): micro-batches, run
    /// [`Self::threads`] at a time, so a pass holds the activations of that many shards only.
    pub fn count_capped(&self, rows: usize, cap: usize) -> usize {
        let n = self.count(rows);
        if cap == 0 {
            n
        } else {
            n.max(rows.div_ceil(cap))
        }
    }

    /// Shards that run at once.
    pub fn threads(&self) -> usize {
        self.pools.len().max(1)
    }

    /// `f(shard)` for each of `shards` shards in shard order, on as many threads as there are
    /// pools (thread `k` runs shards `k`, `k + pools`, …). One shard runs on the caller's
    /// thread.
    pub fn run<T, F>(&self, shards: usize, f: F) -> Vec<T>
    where
        T: Send,
        F: Fn(usize) -> T + Sync,
    {
        let threads = self.pools.len().min(shards);
        if threads < 2 {
            return (0..shards.max(1)).map(f).collect();
        }
        let f = &f;
        let mut lanes: Vec<std::vec::IntoIter<T>> = std::thread::scope(|s| {
            let handles: Vec<_> = self.pools[..threads]
                .iter()
                .enumerate()
                .map(|(k, pool)| {
                    s.spawn(move || {
                        pool.install(|| (k..shards).step_by(threads).map(f).collect::<Vec<T>>())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|e| std::panic::resume_unwind(e))
                        .into_iter()
                })
                .collect()
        });
        (0..shards)
            .map(|i| lanes[i % threads].next().expect("one result per shard"))
            .collect()
    }

    /// The summed gradients of `loss_of(model, shard)` over `shards` shards, and each shard's
    /// other output in shard order. `loss_of` returns `None` for a shard with nothing to do.
    /// With more than one shard, each differentiates its own fork of `model`.
    pub fn grads<T, F>(&self, model: &Lm, shards: usize, loss_of: F) -> (GradientsParams, Vec<T>)
    where
        T: Send,
        F: Fn(&Lm, usize) -> Option<(Tensor<1>, T)> + Sync,
    {
        let backward = |m: &Lm, loss: Option<(Tensor<1>, T)>| {
            loss.map(|(l, out)| (GradientsParams::from_grads(l.backward(), m), out))
        };
        // Each lane (thread) runs its shards one after another and sums their gradients as
        // they come, so a pass holds one gradient set and one shard's graph per lane.
        let add = |total: Option<GradientsParams>, grads: GradientsParams| {
            Some(match total {
                None => grads,
                Some(mut acc) => {
                    model.visit(&mut AddGrads {
                        acc: &mut acc,
                        other: grads,
                    });
                    acc
                }
            })
        };
        let lanes = self.threads().min(shards).max(1);
        let per_lane = self.run(lanes, |k| {
            let mut total = None;
            let mut outs = Vec::new();
            for i in (k..shards.max(1)).step_by(lanes) {
                let part = if shards <= 1 {
                    backward(model, loss_of(model, i))
                } else {
                    let fork = model.clone().fork(&model.device());
                    backward(&fork, loss_of(&fork, i))
                };
                if let Some((grads, out)) = part {
                    total = add(total, grads);
                    outs.push((i, out));
                }
            }
            (total, outs)
        });
        let mut total = None;
        let mut outs = Vec::new();
        for (grads, lane_outs) in per_lane {
            if let Some(g) = grads {
                total = add(total, g);
            }
            outs.extend(lane_outs);
        }
        outs.sort_by_key(|(i, _)| *i);
        (
            total.unwrap_or_default(),
            outs.into_iter().map(|(_, o)| o).collect(),
        )
    }
}

/// `count` contiguous ranges covering `0..n`, their lengths differing by at most one.
pub fn split(n: usize, count: usize) -> Vec<Range<usize>> {
    let count = count.max(1);
    let (base, extra) = (n / count, n % count);
    let mut start = 0;
    (0..count)
        .map(|i| {
            let len = base + (i < extra) as usize;
            let r = start..start + len;
            start += len;
            r
        })
        .collect()
}

/// Adds `other`'s gradient of every parameter into `acc`.
struct AddGrads<'a> {
    acc: &'a mut GradientsParams,
    other: GradientsParams,
}

impl ModuleVisitor for AddGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(g) = self.other.remove::<D>(param.id) else {
            return;
        };
        let sum = match self.acc.remove::<D>(param.id) {
            Some(a) => a + g,
            None => g,
        };
        self.acc.register::<D>(param.id, sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_the_rows_evenly() {
        assert_eq!(split(10, 3), vec![0..4, 4..7, 7..10]);
        assert_eq!(split(2, 4), vec![0..1, 1..2, 2..2, 2..2]);
        assert_eq!(split(0, 1), vec![0..0]);
        assert_eq!(split(5, 0), vec![0..5]);
    }

    #[test]
    fn run_returns_every_shard_in_order_whatever_the_pools() {
        for pools in [1, 2, 3] {
            let s = Shards::new(pools);
            for shards in [1, 2, 5, 7] {
                let out = s.run(shards, |i| i * 10);
                assert_eq!(out, (0..shards).map(|i| i * 10).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn count_keeps_shards_at_least_min_rows() {
        let s = Shards { pools: Vec::new() };
        assert_eq!(s.count(32), 1);
        let s = Shards::new(2);
        assert_eq!(s.count(32), 2);
        assert_eq!(s.count(7), 1);
        assert_eq!(s.count(8), 2);
    }
}
