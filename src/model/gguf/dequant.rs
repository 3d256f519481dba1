//! ggml's tensor encodings, dequantized to f32 exactly as ggml's reference `dequantize_row_*`
//! does (ggml-quants.c): plain floats, the 32-value blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) and
//! the 256-value "K" super-blocks (Q4_K, Q5_K, Q6_K).

use half::{bf16, f16};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GgmlType {
    F32,
    F16,
    Bf16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q4K,
    Q5K,
    Q6K,
}

/// ggml's names of its type ids, for messages about the ones hytune does not read.
pub fn type_name(id: u32) -> &'static str {
    match id {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        6 => "Q5_0",
        7 => "Q5_1",
        8 => "Q8_0",
        9 => "Q8_1",
        10 => "Q2_K",
        11 => "Q3_K",
        12 => "Q4_K",
        13 => "Q5_K",
        14 => "Q6_K",
        15 => "Q8_K",
        16..=23 => "an IQ type",
        24 => "I8",
        25 => "I16",
        26 => "I32",
        27 => "I64",
        28 => "F64",
        29 => "IQ1_M",
        30 => "BF16",
        34 => "TQ1_0",
        35 => "TQ2_0",
        _ => "unknown",
    }
}

impl GgmlType {
    pub fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            6 => Self::Q5_0,
            7 => Self::Q5_1,
            8 => Self::Q8_0,
            12 => Self::Q4K,
            13 => Self::Q5K,
            14 => Self::Q6K,
            30 => Self::Bf16,
            _ => return None,
        })
    }

    /// (values per block, bytes per block).
    pub fn block(self) -> (usize, usize) {
        match self {
            Self::F32 => (1, 4),
            Self::F16 | Self::Bf16 => (1, 2),
            Self::Q4_0 => (32, 18),
            Self::Q4_1 => (32, 20),
            Self::Q5_0 => (32, 22),
            Self::Q5_1 => (32, 24),
            Self::Q8_0 => (32, 34),
            Self::Q4K => (256, 144),
            Self::Q5K => (256, 176),
            Self::Q6K => (256, 210),
        }
    }
}

fn h(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// The 6-bit scale and min `j` of a K block's 12 packed bytes (ggml's `get_scale_min_k4`).
fn scale_min_k4(j: usize, q: &[u8]) -> (f32, f32) {
    let (d, m) = if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    };
    (d as f32, m as f32)
}

/// `data` (whole blocks of `kind`) as f32 values.
pub fn dequantize(kind: GgmlType, data: &[u8]) -> Vec<f32> {
    let (n, size) = kind.block();
    let mut out = Vec::with_capacity(data.len() / size * n);
    for b in data.chunks_exact(size) {
        match kind {
            GgmlType::F32 => out.push(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            GgmlType::F16 => out.push(h(b, 0)),
            GgmlType::Bf16 => out.push(bf16::from_le_bytes([b[0], b[1]]).to_f32()),
            GgmlType::Q8_0 => {
                let d = h(b, 0);
                out.extend(b[2..34].iter().map(|&q| d * (q as i8) as f32));
            }
            GgmlType::Q4_0 => {
                let d = h(b, 0);
                let qs = &b[2..18];
                out.extend(qs.iter().map(|&q| ((q & 0xF) as i32 - 8) as f32 * d));
                out.extend(qs.iter().map(|&q| ((q >> 4) as i32 - 8) as f32 * d));
            }
            GgmlType::Q4_1 => {
                let (d, m) = (h(b, 0), h(b, 2));
                let qs = &b[4..20];
                out.extend(qs.iter().map(|&q| (q & 0xF) as f32 * d + m));
                out.extend(qs.iter().map(|&q| (q >> 4) as f32 * d + m));
            }
            GgmlType::Q5_0 | GgmlType::Q5_1 => {
                let (d, m, at) = match kind {
                    GgmlType::Q5_0 => (h(b, 0), 0.0, 2),
                    _ => (h(b, 0), h(b, 2), 4),
                };
                let qh = u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
                let qs = &b[at + 4..at + 20];
                let offset = if kind == GgmlType::Q5_0 { 16 } else { 0 };
                let lo = (0..16).map(|j| {
                    let hi = (((qh >> j) << 4) & 0x10) as u8;
                    ((qs[j] & 0xF) | hi) as i32 - offset
                });
                let hi = (0..16).map(|j| {
                    let hi = ((qh >> (j + 12)) & 0x10) as u8;
                    ((qs[j] >> 4) | hi) as i32 - offset
                });
                let v: Vec<i32> = lo.chain(hi).collect();
                out.extend(v.into_iter().map(|x| x as f32 * d + m));
            }
            GgmlType::Q4K | GgmlType::Q5K => {
                let (d, min) = (h(b, 0), h(b, 2));
                let scales = &b[4..16];
                let (qh, qs) = match kind {
                    GgmlType::Q4K => (None, &b[16..144]),
                    _ => (Some(&b[16..48]), &b[48..176]),
                };
                let (mut u1, mut u2) = (1u8, 2u8);
                for (k, q) in qs.chunks_exact(32).enumerate() {
                    let (sc1, m1) = scale_min_k4(2 * k, scales);
                    let (sc2, m2) = scale_min_k4(2 * k + 1, scales);
                    let (d1, m1, d2, m2) = (d * sc1, min * m1, d * sc2, min * m2);
                    let high = |l: usize, bit: u8| {
                        qh.map_or(0.0, |h| if h[l] & bit != 0 { 16.0 } else { 0.0 })
                    };
                    out.extend((0..32).map(|l| d1 * ((q[l] & 0xF) as f32 + high(l, u1)) - m1));
                    out.extend((0..32).map(|l| d2 * ((q[l] >> 4) as f32 + high(l, u2)) - m2));
                    u1 <<= 2;
                    u2 <<= 2;
                }
            }
            GgmlType::Q6K => {
                let (ql, qh, sc) = (&b[0..128], &b[128..192], &b[192..208]);
                let d = h(b, 208);
                for half in 0..2 {
                    let (ql, qh, sc) = (&ql[64 * half..], &qh[32 * half..], &sc[8 * half..]);
                    let mut y = [0f32; 128];
                    for l in 0..32 {
                        let is = l / 16;
                        let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
                        let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                        let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                        let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                        let s = |i: usize| sc[i] as i8 as f32;
                        y[l] = d * s(is) * q1 as f32;
                        y[l + 32] = d * s(is + 2) * q2 as f32;
                        y[l + 64] = d * s(is + 4) * q3 as f32;
                        y[l + 96] = d * s(is + 6) * q4 as f32;
                    }
                    out.extend_from_slice(&y);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f16b(x: f32) -> [u8; 2] {
        f16::from_f32(x).to_le_bytes()
    }

    #[test]
    fn blocks_of_32_by_hand() {
        // Q8_0: d = 0.5, q = 0, 1, -2, … → 0, 0.5, -1.
        let mut b = f16b(0.5).to_vec();
        b.extend((0..32).map(|i| [0i8, 1, -2][i % 3] as u8));
        let v = dequantize(GgmlType::Q8_0, &b);
        assert_eq!(&v[..3], &[0.0, 0.5, -1.0]);
        // Q4_0: byte 0x3A: low nibble 10 → (10 − 8)·d at 0, high nibble 3 → (3 − 8)·d at 16.
        let mut b = f16b(2.0).to_vec();
        b.extend([0x3Au8; 16]);
        let v = dequantize(GgmlType::Q4_0, &b);
        assert_eq!((v[0], v[16], v.len()), (4.0, -10.0, 32));
        // Q4_1: x = q·d + m with d = 1, m = −1.
        let mut b = f16b(1.0).to_vec();
        b.extend(f16b(-1.0));
        b.extend([0x21u8; 16]);
        let v = dequantize(GgmlType::Q4_1, &b);
        assert_eq!((v[0], v[16]), (0.0, 1.0));
        // Q5_0: value j's fifth bit is bit j of qh (j < 16), value j+16's is bit j+12 shifted:
        // qh = 1 (bit 0) makes value 0 = (0 | 16) − 16 = 0, value 1 = 0 − 16 = −16 (d = 1).
        let mut b = f16b(1.0).to_vec();
        b.extend(1u32.to_le_bytes());
        b.extend([0u8; 16]);
        let v = dequantize(GgmlType::Q5_0, &b);
        assert_eq!((v[0], v[1], v[16]), (0.0, -16.0, -16.0));
        // Q5_1, bit 16 of qh → value 16 + 0·… : (qh >> (0 + 12)) & 0x10 = bit 16.
        let mut b = f16b(1.0).to_vec();
        b.extend(f16b(0.0));
        b.extend((1u32 << 16).to_le_bytes());
        b.extend([0u8; 16]);
        let v = dequantize(GgmlType::Q5_1, &b);
        assert_eq!((v[0], v[16], v[17]), (0.0, 16.0, 0.0));
        assert_eq!(dequantize(GgmlType::Bf16, &[0x80, 0x3F]), [1.0]);
        assert_eq!(dequantize(GgmlType::F16, &f16b(-2.5)), [-2.5]);
    }

    #[test]
    fn k_scales_unpack_as_ggml_does() {
        // Scales 0-3 are the low 6 bits of bytes 0-3, mins of bytes 4-7; 4-7 combine the
        // nibbles of bytes 8-11 with the top bits of bytes 0-7.
        let mut q = [0u8; 12];
        q[0] = 0b11_000101; // scale 0 = 5, top bits 3 → scale 4's high bits
        q[4] = 0b01_000111; // min 0 = 7, top bits 1 → min 4's high bits
        q[8] = 0x92; // scale 4 low nibble 2, min 4 low nibble 9
        assert_eq!(scale_min_k4(0, &q), (5.0, 7.0));
        assert_eq!(
            scale_min_k4(4, &q),
            ((2 | (3 << 4)) as f32, (9 | (1 << 4)) as f32)
        );
    }
}
