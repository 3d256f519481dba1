//! Causal self-attention with an optional preallocated KV cache.

use burn::module::Module;
use burn::nn::LinearConfig;

use super::lora::Linear;
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
            qkv: LinearConfig::new(d_model, 3 * d_model).init(device).into(),
            proj: LinearConfig::new(d_model, d_model).init(device).into(),
            n_heads,
            d_head: d_model / n_heads,
        }
    }

    /// Its two projections with their LoRA roles: the fused `qkv` (adapted when the spec names
    /// q, k or v) and the output `o`.
    pub(super) fn map_linears(self, f: &mut dyn FnMut(Option<&str>, Linear) -> Linear) -> Self {
        Self {
            qkv: f(Some("qkv"), self.qkv),
            proj: f(Some("o"), self.proj),
            ..self
        }
    }

    pub(super) fn for_each_linear(&self, f: &mut dyn FnMut(Option<&str>, &Linear)) {
        f(Some("qkv"), &self.qkv);
        f(Some("o"), &self.proj);
    }

    /// `x`: `[B, T, D]`; `bias`: additive mask broadcast to `[B, H, T, T_keys]`; `rope`: the
    /// rotary tables of these tokens' positions (rotary models only).
    pub fn forward(
        &self,
        x: Tensor<3>,
        bias: Tensor<4>,
        rope: Option<&Rope>,
        cache: Option<(&mut KvCache, usize)>,
    ) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let heads = |z: Tensor<3>| z.reshape([b, t, self.n_heads, self.d_head]).swap_dims(1, 2); // [B, H, T, dh]
        let qkv = super::kernels::linear::linear(&self.qkv, x);
        let mut q = heads(qkv.clone().narrow(2, 0, d));
        let mut k = heads(qkv.clone().narrow(2, d, d));
        if let Some(r) = rope {
            q = r.apply(q);
            k = r.apply(k);
        }
        let mut v = heads(qkv.narrow(2, 2 * d, d));
        // Without a cache the bias is `causal_bias` (`Lm::forward` is the only such caller).
        let causal = cache.is_none();
        if let Some((cache, layer)) = cache {
            (k, v) = cache.append(layer, k, v);
        }
        let keys = k.dims()[2];
        let scores = q.matmul(k.swap_dims(2, 3));
        let probs = if causal && super::kernels::causal_softmax::applies(&scores) {
            debug_assert_eq!(bias.dims(), [1, 1, t, t]);
            super::kernels::causal_softmax::softmax(scores, 1.0 / (self.d_head as f32).sqrt())
        } else {
            let scores = scores.div_scalar((self.d_head as f32).sqrt());
            activation::softmax(scores + bias.expand([b, self.n_heads, t, keys]), 3)
        };
        let out = probs.matmul(v); // [B, H, T, dh]
        super::kernels::linear::linear(&self.proj, out.swap_dims(1, 2).reshape([b, t, d]))
    }
}

/// Rotary position tables for one batch: `cos` and `sin` of `position · θ^(−2i/d_head)`,
/// each frequency twice (`[B, 1, T, d_head]`), as in the rotate-half form of Llama.
pub struct Rope {
    cos: Tensor<4>,
    sin: Tensor<4>,
}

/// The rotary base θ.
pub const ROPE_THETA: f64 = 10_000.0;

impl Rope {
    /// Tables for `positions` (`[B, T]` row-major).
    pub fn new(positions: &[u32], b: usize, t: usize, d_head: usize, device: &Device) -> Self {
        let inv: Vec<f64> = (0..d_head / 2)
            .map(|i| ROPE_THETA.powf(-(2.0 * i as f64) / d_head as f64))
            .collect();
        Self::with_frequencies(positions, b, t, &inv, device)
    }

    /// Tables for given inverse frequencies (`d_head / 2` of them), e.g. a pretrained model's.
    pub fn with_frequencies(
        positions: &[u32],
        b: usize,
        t: usize,
        inv: &[f64],
        device: &Device,
    ) -> Self {
        let d_head = 2 * inv.len();
        let mut cos = Vec::with_capacity(b * t * d_head);
        let mut sin = Vec::with_capacity(b * t * d_head);
        for &p in positions {
            for _ in 0..2 {
                for f in inv {
                    let a = p as f64 * f;
                    cos.push(a.cos() as f32);
                    sin.push(a.sin() as f32);
                }
            }
        }
        let table = |v| Tensor::<4>::from_data(TensorData::new(v, [b, 1, t, d_head]), device);
        Self {
            cos: table(cos),
            sin: table(sin),
        }
    }

    /// `x · cos + rotate_half(x) · sin` for `x` of `[B, H, T, d_head]`, where
    /// `rotate_half([x1, x2]) = [−x2, x1]`: one pass each way on flex (`kernels/rope.rs`).
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, _, t, d] = x.dims();
        if super::kernels::rope::applies(&x) && self.cos.dims() == [b, 1, t, d] {
            return super::kernels::rope::rotate(x, self.cos.clone(), self.sin.clone());
        }
        self.apply_composed(x)
    }

    /// [`Rope::apply`] composed from tensor ops (every backend).
    pub fn apply_composed(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, h, t, dh] = x.dims();
        let half = dh / 2;
        let rotated = Tensor::cat(
            vec![
                x.clone().narrow(3, half, half).neg(),
                x.clone().narrow(3, 0, half),
            ],
            3,
        );
        x * self.cos.clone().expand([b, h, t, dh])
            + rotated * self.sin.clone().expand([b, h, t, dh])
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
    /// Keys the next forward attends over (≥ the filled length; beyond it the bias masks):
    /// a bucketed view keeps decode shapes from changing every token (`model/shapes.rs`).
    view: usize,
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
            view: 0,
        }
    }

    /// The next forward attends over `keys` columns of the cache (at least the filled ones).
    pub(super) fn set_view(&mut self, keys: usize) {
        self.view = keys.min(self.capacity());
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn capacity(&self) -> usize {
        self.keys[0].as_ref().expect("cache slot").dims()[2]
    }

    pub(super) fn append(
        &mut self,
        layer: usize,
        k: Tensor<4>,
        v: Tensor<4>,
    ) -> (Tensor<4>, Tensor<4>) {
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
        let seen = end.max(self.view);
        let out = (
            keys.clone().slice([0..b, 0..h, 0..seen, 0..dh]),
            values.clone().slice([0..b, 0..h, 0..seen, 0..dh]),
        );
        self.keys[layer] = Some(keys);
        self.values[layer] = Some(values);
        out
    }

    /// Row `r` of the cache becomes what row `from[r]` holds (the rows may repeat): the cache of
    /// prompts prefilled once, forked to each of their samples.
    pub fn fork_rows(&mut self, from: &[usize]) {
        let device = self.keys[0].as_ref().expect("cache slot").device();
        let idx = burn::tensor::Tensor::<1, burn::tensor::Int>::from_data(
            TensorData::new(
                from.iter().map(|&r| r as i64).collect::<Vec<_>>(),
                [from.len()],
            ),
            &device,
        );
        for slot in self.keys.iter_mut().chain(self.values.iter_mut()) {
            let t = slot.take().expect("cache slot");
            *slot = Some(t.select(0, idx.clone()));
        }
    }

    pub(super) fn advance(&mut self, t: usize) {
        debug_assert_eq!(t, self.pending);
        self.len += t;
        self.view = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_rotates_pairs_by_position_times_frequency() {
        let device = Device::flex();
        // d_head 4: frequencies 1 and 10000^(-1/2) = 0.01; pairs (x0, x2) and (x1, x3).
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 1, 4]),
            &device,
        );
        let r = Rope::new(&[2], 1, 1, 4, &device);
        let got = r.apply(x).into_data().try_to_vec::<f32>().unwrap();
        let (c1, s1, c2, s2) = (2f32.cos(), 2f32.sin(), 0.02f32.cos(), 0.02f32.sin());
        let want = [
            1.0 * c1 - 3.0 * s1,
            2.0 * c2 - 4.0 * s2,
            3.0 * c1 + 1.0 * s1,
            4.0 * c2 + 2.0 * s2,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
        // Position 0 leaves x as it is.
        let x0 = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 1, 4]),
            &device,
        );
        let same = Rope::new(&[0], 1, 1, 4, &device)
            .apply(x0)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(same, vec![1.0, 2.0, 3.0, 4.0]);
    }

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
