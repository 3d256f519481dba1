//! Causal self-attention with an optional preallocated KV cache.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData, activation};

pub(super) const MASKED: f32 = -1.0e9;

#[derive(Module, Debug)]
pub struct SelfAttention {
    qkv: Linear,
    proj: Linear,
    pub n_heads: usize,
    pub d_head: usize,
}

impl SelfAttention {
    pub fn new(d_model: usize, n_heads: usize, device: &Device) -> Self {
        Self {
            qkv: LinearConfig::new(d_model, 3 * d_model).init(device),
            proj: LinearConfig::new(d_model, d_model).init(device),
            n_heads,
            d_head: d_model / n_heads,
        }
    }

    /// `x`: `[B, T, D]`; `bias`: additive mask broadcast to `[B, H, T, T_keys]`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        bias: Tensor<4>,
        cache: Option<(&mut KvCache, usize)>,
    ) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let heads = |z: Tensor<3>| z.reshape([b, t, self.n_heads, self.d_head]).swap_dims(1, 2); // [B, H, T, dh]
        let qkv = self.qkv.forward(x);
        let q = heads(qkv.clone().narrow(2, 0, d));
        let mut k = heads(qkv.clone().narrow(2, d, d));
        let mut v = heads(qkv.narrow(2, 2 * d, d));
        if let Some((cache, layer)) = cache {
            (k, v) = cache.append(layer, k, v);
        }
        let keys = k.dims()[2];
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .div_scalar((self.d_head as f32).sqrt());
        let scores = scores + bias.expand([b, self.n_heads, t, keys]);
        let out = activation::softmax(scores, 3).matmul(v); // [B, H, T, dh]
        self.proj.forward(out.swap_dims(1, 2).reshape([b, t, d]))
    }
}

/// `[1, 1, T, T]`: 0 on and below the diagonal, a large negative number above.
pub fn causal_bias(t: usize, device: &Device) -> Tensor<4> {
    let mut v = vec![0.0f32; t * t];
    for i in 0..t {
        for j in i + 1..t {
            v[i * t + j] = MASKED;
        }
    }
    Tensor::<4>::from_data(TensorData::new(v, [1, 1, t, t]), device)
}

/// Host-side bias for `new` queries after `past` cached keys, per row, where key `j` of row
/// `r` is hidden when it is a pad (`j < pads[r]`) or in the future.
pub fn cached_bias(pads: &[usize], past: usize, new: usize) -> Vec<f32> {
    let total = past + new;
    let mut v = vec![0.0f32; pads.len() * new * total];
    for (r, &pad) in pads.iter().enumerate() {
        for i in 0..new {
            let q = past + i;
            for j in 0..total {
                if j < pad || j > q {
                    v[(r * new + i) * total + j] = MASKED;
                }
            }
        }
    }
    v
}

/// Keys and values of every layer, preallocated to the context length so a new token costs
/// one write and the attention read, not a copy of everything before it.
pub struct KvCache {
    keys: Vec<Option<Tensor<4>>>,
    values: Vec<Option<Tensor<4>>>,
    len: usize,
    pending: usize,
}

impl KvCache {
    pub fn new(
        layers: usize,
        rows: usize,
        heads: usize,
        max_len: usize,
        d_head: usize,
        device: &Device,
    ) -> Self {
        let zeros = || Some(Tensor::<4>::zeros([rows, heads, max_len, d_head], device));
        Self {
            keys: (0..layers).map(|_| zeros()).collect(),
            values: (0..layers).map(|_| zeros()).collect(),
            len: 0,
            pending: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn capacity(&self) -> usize {
        self.keys[0].as_ref().expect("cache slot").dims()[2]
    }

    fn append(&mut self, layer: usize, k: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let [b, h, t, dh] = k.dims();
        let (start, end) = (self.len, self.len + t);
        assert!(
            end <= self.capacity(),
            "KV cache overflow: {end} > {}",
            self.capacity()
        );
        // Taking the slot leaves the tensor uniquely owned, so the write can happen in place.
        let keys = self.keys[layer]
            .take()
            .expect("cache slot")
            .slice_assign([0..b, 0..h, start..end, 0..dh], k);
        let values = self.values[layer]
            .take()
            .expect("cache slot")
            .slice_assign([0..b, 0..h, start..end, 0..dh], v);
        self.pending = t;
        let out = (
            keys.clone().slice([0..b, 0..h, 0..end, 0..dh]),
            values.clone().slice([0..b, 0..h, 0..end, 0..dh]),
        );
        self.keys[layer] = Some(keys);
        self.values[layer] = Some(values);
        out
    }

    pub(super) fn advance(&mut self, t: usize) {
        debug_assert_eq!(t, self.pending);
        self.len += t;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_bias_hides_pads_and_future() {
        let m = MASKED;
        // Row 0 has one pad; two new queries after one cached key.
        let v = cached_bias(&[1, 0], 1, 2);
        assert_eq!(&v[0..3], &[m, 0.0, m]);
        assert_eq!(&v[3..6], &[m, 0.0, 0.0]);
        assert_eq!(&v[6..9], &[0.0, 0.0, m]);
        assert_eq!(&v[9..12], &[0.0, 0.0, 0.0]);
    }
}
