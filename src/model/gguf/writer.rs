//! Writes a model as a GGUF file llama.cpp and Ollama read: llama.cpp's tensor names (q and k
//! rows permuted back for the llama architecture), the config, the tokenizer and the chat
//! template as metadata, matrices in F32, F16, BF16 or Q8_0 and every 1-D tensor (norms) in F32.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use half::{bf16, f16};

use super::dequant::GgmlType;
use super::reader::Value;

/// The encodings an export can write.
pub const FORMATS: &[&str] = &["f32", "f16", "bf16", "q8_0"];

pub fn format_type(name: &str) -> Option<GgmlType> {
    Some(match name.to_ascii_lowercase().as_str() {
        "f32" | "float32" => GgmlType::F32,
        "f16" | "float16" => GgmlType::F16,
        "bf16" | "bfloat16" => GgmlType::Bf16,
        "q8_0" => GgmlType::Q8_0,
        _ => return None,
    })
}

fn type_id(t: GgmlType) -> u32 {
    match t {
        GgmlType::F32 => 0,
        GgmlType::F16 => 1,
        GgmlType::Q4_0 => 2,
        GgmlType::Q4_1 => 3,
        GgmlType::Q5_0 => 6,
        GgmlType::Q5_1 => 7,
        GgmlType::Q8_0 => 8,
        GgmlType::Q4K => 12,
        GgmlType::Q5K => 13,
        GgmlType::Q6K => 14,
        GgmlType::Bf16 => 30,
    }
}

/// `x` encoded as `t` (F32, F16, BF16, or ggml's reference Q8_0: per block of 32, d = max|x| /
/// 127 and q = round(x / d)).
pub fn encode(t: GgmlType, x: &[f32]) -> Vec<u8> {
    match t {
        GgmlType::F32 => x.iter().flat_map(|v| v.to_le_bytes()).collect(),
        GgmlType::F16 => x
            .iter()
            .flat_map(|v| f16::from_f32(*v).to_le_bytes())
            .collect(),
        GgmlType::Bf16 => x
            .iter()
            .flat_map(|v| bf16::from_f32(*v).to_le_bytes())
            .collect(),
        GgmlType::Q8_0 => {
            let mut out = Vec::with_capacity(x.len() / 32 * 34);
            for b in x.chunks(32) {
                let amax = b.iter().fold(0f32, |m, v| m.max(v.abs()));
                let d = amax / 127.0;
                let id = if d != 0.0 { 1.0 / d } else { 0.0 };
                out.extend(f16::from_f32(d).to_le_bytes());
                out.extend(b.iter().map(|v| (v * id).round() as i8 as u8));
            }
            out
        }
        other => unreachable!("{other:?} is not written"),
    }
}

/// How llama.cpp types each metadata key hytune writes.
fn kv_bytes(key: &str, v: &Value) -> Result<Vec<u8>> {
    let s = |t: &str| {
        let mut b = (t.len() as u64).to_le_bytes().to_vec();
        b.extend(t.as_bytes());
        b
    };
    let mut b = Vec::new();
    match v {
        Value::Str(t) => {
            b.extend(8u32.to_le_bytes());
            b.extend(s(t));
        }
        Value::Bool(x) => {
            b.extend(7u32.to_le_bytes());
            b.push(*x as u8);
        }
        Value::Float(f) => {
            b.extend(6u32.to_le_bytes());
            b.extend((*f as f32).to_le_bytes());
        }
        Value::Uint(u) => {
            b.extend(4u32.to_le_bytes());
            b.extend(u32::try_from(*u).context(key.to_string())?.to_le_bytes());
        }
        Value::Int(i) => {
            b.extend(5u32.to_le_bytes());
            b.extend(i32::try_from(*i).context(key.to_string())?.to_le_bytes());
        }
        Value::Array(items) => {
            b.extend(9u32.to_le_bytes());
            match items.first() {
                Some(Value::Str(_)) | None => {
                    b.extend(8u32.to_le_bytes());
                    b.extend((items.len() as u64).to_le_bytes());
                    for it in items {
                        b.extend(s(it.as_str().context(key.to_string())?));
                    }
                }
                Some(Value::Uint(_) | Value::Int(_)) => {
                    // token types are INT32 in llama.cpp
                    b.extend(5u32.to_le_bytes());
                    b.extend((items.len() as u64).to_le_bytes());
                    for it in items {
                        let n = it.as_u64().context(key.to_string())?;
                        b.extend((n as i32).to_le_bytes());
                    }
                }
                Some(Value::Float(_)) => {
                    b.extend(6u32.to_le_bytes());
                    b.extend((items.len() as u64).to_le_bytes());
                    for it in items {
                        b.extend((it.as_f64().context(key.to_string())? as f32).to_le_bytes());
                    }
                }
                Some(other) => bail!("metadata `{key}`: arrays of {other:?} are not written"),
            }
        }
    }
    Ok(b)
}

/// One tensor: its GGUF name, shape outermost first, encoding and f32 values.
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub kind: GgmlType,
    pub values: Vec<f32>,
}

/// Writes `metadata` and `tensors` to `out` (through a temporary file, renamed when whole).
pub fn write(out: &Path, metadata: &[(String, Value)], tensors: &[Tensor]) -> Result<()> {
    const ALIGN: usize = 32;
    let mut head = b"GGUF".to_vec();
    head.extend(3u32.to_le_bytes());
    head.extend((tensors.len() as u64).to_le_bytes());
    head.extend((metadata.len() as u64 + 1).to_le_bytes());
    let s = |t: &str| {
        let mut b = (t.len() as u64).to_le_bytes().to_vec();
        b.extend(t.as_bytes());
        b
    };
    head.extend(s("general.alignment"));
    head.extend(4u32.to_le_bytes());
    head.extend((ALIGN as u32).to_le_bytes());
    for (k, v) in metadata {
        head.extend(s(k));
        head.extend(kv_bytes(k, v)?);
    }
    let data: Vec<Vec<u8>> = tensors.iter().map(|t| encode(t.kind, &t.values)).collect();
    let mut offset = 0usize;
    for (t, d) in tensors.iter().zip(&data) {
        head.extend(s(&t.name));
        head.extend((t.shape.len() as u32).to_le_bytes());
        for &n in t.shape.iter().rev() {
            head.extend((n as u64).to_le_bytes());
        }
        head.extend(type_id(t.kind).to_le_bytes());
        head.extend((offset as u64).to_le_bytes());
        offset += d.len().div_ceil(ALIGN) * ALIGN;
    }
    head.resize(head.len().div_ceil(ALIGN) * ALIGN, 0);
    let tmp = crate::publish::unique_tmp(out);
    let write = || -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        f.write_all(&head)?;
        for d in &data {
            f.write_all(d)?;
            f.write_all(&vec![0u8; d.len().div_ceil(ALIGN) * ALIGN - d.len()])?;
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, out)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!("cannot write {}: {e}", out.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gguf::dequant::dequantize;

    #[test]
    fn encodings_round_trip_within_their_rounding() {
        let x: Vec<f32> = (0..64).map(|i| (i as f32 - 31.5) / 7.0).collect();
        assert_eq!(dequantize(GgmlType::F32, &encode(GgmlType::F32, &x)), x);
        // Half a unit in the last place: 2^-11 of the value for f16, 2^-8 for bf16.
        for (t, rel) in [
            (GgmlType::F16, 2f32.powi(-11)),
            (GgmlType::Bf16, 2f32.powi(-8)),
        ] {
            let y = dequantize(t, &encode(t, &x));
            for (a, b) in x.iter().zip(&y) {
                assert!((a - b).abs() <= a.abs() * rel, "{t:?}: {a} → {b}");
            }
        }
        // Q8_0: within half a step (max|x| / 127 of its block), plus the f16 rounding of d.
        let y = dequantize(GgmlType::Q8_0, &encode(GgmlType::Q8_0, &x));
        for (xb, yb) in x.chunks(32).zip(y.chunks(32)) {
            let step = xb.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            for (a, b) in xb.iter().zip(yb) {
                assert!(
                    (a - b).abs() <= 0.5 * step + a.abs() * 2f32.powi(-11),
                    "{a} → {b}"
                );
            }
        }
        // Q8_0 by hand: block max 4.5 → d = 4.5/127; 4.5 encodes as 127.
        let q = encode(GgmlType::Q8_0, &[4.5; 32]);
        assert_eq!((q.len(), q[2] as i8), (34, 127));
    }
}
