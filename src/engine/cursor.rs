//! Where each data stream is: an epoch number and a position in that epoch's shuffled order.
//! Orders derive from (seed, stream, epoch), so a checkpoint only needs these counters.

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub epoch: u64,
    pub pos: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursors {
    pub corpus: Cursor,
    pub labeled: Cursor,
    pub unlabeled: Cursor,
}

/// A stream of indices over `n` items, reshuffled every epoch.
pub struct Stream {
    seed: u64,
    order: Vec<usize>,
    epoch_of_order: Option<u64>,
}

impl Stream {
    pub fn new(seed: u64, stream_id: u64, n: usize) -> Self {
        Self {
            seed: seed ^ stream_id.wrapping_mul(0x2545_F491_4F6C_DD1D),
            order: (0..n).collect(),
            epoch_of_order: None,
        }
    }

    /// The next `k` indices, advancing `cursor`.
    pub fn take(&mut self, cursor: &mut Cursor, k: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(k);
        while out.len() < k {
            if cursor.pos >= self.order.len() {
                cursor.epoch += 1;
                cursor.pos = 0;
            }
            if self.epoch_of_order != Some(cursor.epoch) {
                self.order = (0..self.order.len()).collect();
                Rng::new(self.seed.wrapping_add(cursor.epoch)).shuffle(&mut self.order);
                self.epoch_of_order = Some(cursor.epoch);
            }
            out.push(self.order[cursor.pos]);
            cursor.pos += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumed_stream_continues_exactly() {
        let mut a = Stream::new(1, 2, 7);
        let mut c = Cursor::default();
        let first = a.take(&mut c, 10);
        let saved = c.clone();
        let rest = a.take(&mut c, 10);
        let mut b = Stream::new(1, 2, 7);
        let mut c2 = saved;
        assert_eq!(b.take(&mut c2, 10), rest);
        let mut epoch0 = first[..7].to_vec();
        epoch0.sort();
        assert_eq!(
            epoch0,
            (0..7).collect::<Vec<_>>(),
            "an epoch visits each item once"
        );
    }
}
