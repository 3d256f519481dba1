//! Products with a weight stored in half precision (`model.dtype = bf16 | f16`): the frozen
//! base of a LoRA run holds its projections at 2 bytes a parameter, and each product widens
//! them to f32 one cache-sized panel at a time, so the arithmetic stays f32 (weight-only
//! rounding, as bitsandbytes' and llama.cpp's f32-compute paths do) and no f32 copy of a
//! whole weight is ever made.
//!
//! `dst[m × n] (+)= lhs[m × k] · op(W)`, with `W` row-major `[rows, cols]` and `op(W)` either
//! `W` (`k = rows`, `n = cols`: the forward `x · W`) or `Wᵀ` (`k = cols`, `n = rows`: the
//! input gradient `g · Wᵀ`). The columns of `dst` are split into panels spread over the rayon
//! pool; each panel walks `k` in blocks, widening `op(W)`'s block into a buffer of its own and
//! handing it to `gemm`.

use half::{bf16, f16};
use rayon::prelude::*;

/// A half-precision element that widens to f32 exactly.
pub trait Half: Copy + Send + Sync {
    fn widen(self) -> f32;

    /// `dst[i] = src[i]` widened.
    fn widen_into(dst: &mut [f32], src: &[Self]) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = s.widen();
        }
    }
}

impl Half for bf16 {
    #[inline(always)]
    fn widen(self) -> f32 {
        // bf16 is the top half of an f32's bits.
        f32::from_bits((self.to_bits() as u32) << 16)
    }

    fn widen_into(dst: &mut [f32], src: &[Self]) {
        widen_bf16(dst, src)
    }
}

impl Half for f16 {
    #[inline(always)]
    fn widen(self) -> f32 {
        self.to_f32()
    }
}

/// Columns of `dst` per panel at most, and rows of `op(W)` per block: a block's f32 buffer is
/// 256 × 256 × 4 = 256 KiB, within this CPU's 512 KiB L2 beside gemm's own packing.
const PANEL: usize = 256;
const BLOCK: usize = 256;

/// `dst` row-major `[m, n]`, its pointer shared by the panels, which write disjoint columns.
#[derive(Clone, Copy)]
struct Dst(*mut f32);
// SAFETY: each panel writes only its own columns of `dst`; nothing reads them meanwhile.
unsafe impl Send for Dst {}
unsafe impl Sync for Dst {}

/// `dst (+)= lhs · op(w)` as the module comment says; `lhs` has row and column strides
/// `(lrs, lcs)`; `accumulate` adds onto `dst` (e.g. a bias written there first).
#[allow(clippy::too_many_arguments)]
pub fn gemm_half<H: Half>(
    dst: &mut [f32],
    m: usize,
    lhs: &[f32],
    (lrs, lcs): (usize, usize),
    w: &[H],
    (rows, cols): (usize, usize),
    transposed: bool,
    accumulate: bool,
) {
    assert_eq!(w.len(), rows * cols, "weight of {rows} × {cols}");
    let (k, n) = if transposed {
        (cols, rows)
    } else {
        (rows, cols)
    };
    assert!(dst.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    assert!(lhs.len() > (m - 1) * lrs + (k - 1) * lcs);
    // Panels: at least one per thread when the columns allow, at most PANEL wide.
    let threads = rayon::current_num_threads().max(1);
    let width = n.div_ceil(threads).clamp(16, PANEL).min(n);
    let out = Dst(dst.as_mut_ptr());
    let panel = |j0: usize| {
        let nb = width.min(n - j0);
        let mut buf = vec![0.0f32; BLOCK * nb];
        for k0 in (0..k).step_by(BLOCK) {
            let kb = BLOCK.min(k - k0);
            // op(W)[k0.., j0..] widened; laid out so that W's rows are read contiguously.
            let (rrs, rcs) = if transposed {
                // op(W)[kk][jj] = W[j0 + jj][k0 + kk]: buf[jj][kk].
                for jj in 0..nb {
                    let src = &w[(j0 + jj) * cols + k0..][..kb];
                    H::widen_into(&mut buf[jj * kb..][..kb], src);
                }
                (1, kb)
            } else {
                // op(W)[kk][jj] = W[k0 + kk][j0 + jj]: buf[kk][jj].
                for kk in 0..kb {
                    let src = &w[(k0 + kk) * cols + j0..][..nb];
                    H::widen_into(&mut buf[kk * nb..][..nb], src);
                }
                (nb, 1)
            };
            let out = out;
            // SAFETY: `dst` holds m × n (asserted) and this panel writes columns j0..j0 + nb of
            // it, which no other panel touches; `lhs` holds every element read (asserted);
            // `buf` holds kb × nb.
            unsafe {
                gemm::gemm(
                    m,
                    nb,
                    kb,
                    out.0.add(j0),
                    1,
                    n as isize,
                    accumulate || k0 > 0,
                    lhs.as_ptr().add(k0 * lcs),
                    lcs as isize,
                    lrs as isize,
                    buf.as_ptr(),
                    rcs as isize,
                    rrs as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        }
    };
    let starts: Vec<usize> = (0..n).step_by(width).collect();
    if starts.len() > 1 && m * n * k >= 64 * 64 * 64 {
        starts.into_par_iter().for_each(panel);
    } else {
        starts.into_iter().for_each(panel);
    }
}

super::flex::wide_fn! {
    /// `dst[i] = src[i]` widened to f32: a shift, eight or sixteen lanes at a time.
    fn widen_bf16(dst: &mut [f32], src: &[bf16]) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = s.widen();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lhs · op(W)` in f64 from the widened weight, the reference the kernel must meet.
    fn reference(
        m: usize,
        lhs: &[f32],
        w: &[f32],
        (rows, cols): (usize, usize),
        transposed: bool,
    ) -> Vec<f32> {
        let (k, n) = if transposed {
            (cols, rows)
        } else {
            (rows, cols)
        };
        let mut out = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    let wv = if transposed {
                        w[j * cols + p]
                    } else {
                        w[p * cols + j]
                    };
                    s += lhs[i * k + p] as f64 * wv as f64;
                }
                out[i * n + j] = s as f32;
            }
        }
        out
    }

    #[test]
    fn bf16_widens_exactly() {
        for v in [0.0f32, 1.0, -2.5, 1.0e-3, 3.0e38, f32::MIN_POSITIVE] {
            let h = bf16::from_f32(v);
            assert_eq!(h.widen(), h.to_f32());
        }
        assert_eq!(bf16::from_f32(1.5).widen(), 1.5);
        assert_eq!(f16::from_f32(-0.125).widen(), -0.125);
    }

    /// By hand: x = [[1, 2]], W = [[1, 0, 2], [0, 1, 3]] (exact in bf16) give [[1, 2, 8]];
    /// g = [[1, 0, 1]] against Wᵀ gives [[3, 3]].
    #[test]
    fn by_hand() {
        let w: Vec<bf16> = [1.0, 0.0, 2.0, 0.0, 1.0, 3.0].map(bf16::from_f32).to_vec();
        let mut y = vec![0.0f32; 3];
        gemm_half(&mut y, 1, &[1.0, 2.0], (2, 1), &w, (2, 3), false, false);
        assert_eq!(y, [1.0, 2.0, 8.0]);
        let mut dx = vec![0.0f32; 2];
        gemm_half(
            &mut dx,
            1,
            &[1.0, 0.0, 1.0],
            (3, 1),
            &w,
            (2, 3),
            true,
            false,
        );
        assert_eq!(dx, [3.0, 3.0]);
        // Accumulating onto a bias of [1, 1, 1].
        let mut yb = vec![1.0f32; 3];
        gemm_half(&mut yb, 1, &[1.0, 2.0], (2, 1), &w, (2, 3), false, true);
        assert_eq!(yb, [2.0, 3.0, 9.0]);
    }

    /// Shapes across panel and block edges (k and n past 256, odd sizes), both layouts, both
    /// half formats, against the f64 product of the widened weight.
    #[test]
    fn matches_the_widened_product() {
        for &(m, rows, cols) in &[(3, 5, 7), (17, 300, 40), (9, 40, 530), (64, 257, 513)] {
            let wf: Vec<f32> = (0..rows * cols)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013)
                .collect();
            let wb: Vec<bf16> = wf.iter().map(|&v| bf16::from_f32(v)).collect();
            let wh: Vec<f16> = wf.iter().map(|&v| f16::from_f32(v)).collect();
            for transposed in [false, true] {
                let k = if transposed { cols } else { rows };
                let n = if transposed { rows } else { cols };
                let lhs: Vec<f32> = (0..m * k)
                    .map(|i| ((i * 13 % 29) as f32 - 14.0) * 0.07)
                    .collect();
                let check = |got: &[f32], widened: Vec<f32>, what: &str| {
                    let want = reference(m, &lhs, &widened, (rows, cols), transposed);
                    for (i, (g, r)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (g - r).abs() <= 1e-4 * (1.0 + r.abs()),
                            "{what} m {m} W {rows}×{cols} transposed {transposed} at {i}: {g} vs {r}"
                        );
                    }
                };
                let mut y = vec![f32::NAN; m * n];
                gemm_half(
                    &mut y,
                    m,
                    &lhs,
                    (k, 1),
                    &wb,
                    (rows, cols),
                    transposed,
                    false,
                );
                check(&y, wb.iter().map(|h| h.to_f32()).collect(), "bf16");
                let mut y = vec![f32::NAN; m * n];
                gemm_half(
                    &mut y,
                    m,
                    &lhs,
                    (k, 1),
                    &wh,
                    (rows, cols),
                    transposed,
                    false,
                );
                check(&y, wh.iter().map(|h| h.to_f32()).collect(), "f16");
            }
        }
    }
}
