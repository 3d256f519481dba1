//! The GGUF container (versions 2 and 3): header, metadata and tensor table, read with every
//! length and offset checked against the file, so a truncated or corrupted file is one error
//! naming what was being read, never a panic or a huge allocation.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use super::dequant::GgmlType;

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;

/// One metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Uint(u64),
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Array(Vec<Value>),
}

impl Value {
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Uint(u) => Some(u),
            Value::Int(i) if i >= 0 => Some(i as u64),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(f) => Some(f),
            Value::Uint(u) => Some(u as f64),
            Value::Int(i) => Some(i as f64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// A tensor's entry: `dims[0]` is the innermost (row) length, as ggml counts.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    pub kind: GgmlType,
    /// Absolute byte range of its data in the file.
    pub start: usize,
    pub len: usize,
}

impl TensorInfo {
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// The shape outermost first (`[rows, row length]` for a matrix): Hugging Face's order.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
}

pub struct Gguf {
    pub version: u32,
    pub metadata: BTreeMap<String, Value>,
    pub tensors: Vec<TensorInfo>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        if self.bytes.len() - self.at < n {
            bail!(
                "truncated at byte {} while reading {} ({n} bytes needed, {} left)",
                self.at,
                what(),
                self.bytes.len() - self.at
            );
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }

    /// A count of items of at least `min_size` bytes each, refused when the rest of the file
    /// could not hold them.
    fn count(&mut self, min_size: usize, what: &dyn Fn() -> String) -> Result<usize> {
        let n = self.u64(what)?;
        let room = (self.bytes.len() - self.at) as u64 / min_size.max(1) as u64;
        if n > room {
            bail!(
                "{}: count {n} is more than the rest of the file ({} bytes) can hold: truncated or corrupt",
                what(),
                self.bytes.len() - self.at
            );
        }
        Ok(n as usize)
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String> {
        let n = self.count(1, what)?;
        let b = self.take(n, what)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => bail!("{}: not valid UTF-8", what()),
        }
    }

    fn value(&mut self, kind: u32, what: &dyn Fn() -> String, depth: usize) -> Result<Value> {
        let mut n = |k: usize| -> Result<&'a [u8]> { self.take(k, what) };
        Ok(match kind {
            0 => Value::Uint(n(1)?[0] as u64),
            1 => Value::Int(n(1)?[0] as i8 as i64),
            2 => Value::Uint(u16::from_le_bytes(n(2)?.try_into().unwrap()) as u64),
            3 => Value::Int(i16::from_le_bytes(n(2)?.try_into().unwrap()) as i64),
            4 => Value::Uint(u32::from_le_bytes(n(4)?.try_into().unwrap()) as u64),
            5 => Value::Int(i32::from_le_bytes(n(4)?.try_into().unwrap()) as i64),
            6 => Value::Float(f32::from_le_bytes(n(4)?.try_into().unwrap()) as f64),
            7 => match n(1)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => bail!("{}: bool byte {b} (0 or 1 expected)", what()),
            },
            8 => Value::Str(self.string(what)?),
            9 => {
                if depth > 2 {
                    bail!("{}: arrays nested too deep", what());
                }
                let elem = self.u32(what)?;
                let size = match elem {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    9 => 12,
                    other => bail!("{}: unknown array element type {other}", what()),
                };
                let count = self.count(size, what)?;
                let mut v = Vec::with_capacity(count);
                for _ in 0..count {
                    v.push(self.value(elem, what, depth + 1)?);
                }
                Value::Array(v)
            }
            10 => Value::Uint(u64::from_le_bytes(n(8)?.try_into().unwrap())),
            11 => Value::Int(i64::from_le_bytes(n(8)?.try_into().unwrap())),
            12 => Value::Float(f64::from_le_bytes(n(8)?.try_into().unwrap())),
            other => bail!("{}: unknown value type {other}", what()),
        })
    }
}

impl Gguf {
    /// Parses the header, metadata and tensor table of `bytes` (the whole file).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut c = Cursor { bytes, at: 0 };
        let magic = c.take(4, &|| "the magic".into())?;
        if magic != MAGIC {
            bail!("not a GGUF file (magic {magic:02x?}, expected \"GGUF\")");
        }
        let version = c.u32(&|| "the version".into())?;
        if !(2..=3).contains(&version) {
            bail!("GGUF version {version} is not supported (2 and 3 are)");
        }
        let n_tensors = c.count(24, &|| "the tensor count".into())?;
        let n_kv = c.count(12, &|| "the metadata count".into())?;
        let mut metadata = BTreeMap::new();
        for i in 0..n_kv {
            let key = c.string(&|| format!("metadata key {i}"))?;
            let what = || format!("metadata `{key}`");
            let kind = c.u32(&what)?;
            let v = c.value(kind, &what, 0)?;
            metadata.insert(key, v);
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => a,
                _ => bail!("metadata `general.alignment`: {v:?} is not a power of two"),
            },
        };
        let mut infos = Vec::with_capacity(n_tensors);
        for i in 0..n_tensors {
            let name = c.string(&|| format!("tensor {i}'s name"))?;
            let what = || format!("tensor `{name}`");
            let n_dims = c.u32(&what)?;
            if !(1..=4).contains(&n_dims) {
                bail!("tensor `{name}`: {n_dims} dimensions (1 to 4 expected)");
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(c.u64(&what)?);
            }
            let kind_id = c.u32(&what)?;
            let kind = GgmlType::from_id(kind_id).ok_or_else(|| {
                anyhow::anyhow!(
                    "tensor `{name}`: ggml type {kind_id} ({}) is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K are)",
                    super::dequant::type_name(kind_id)
                )
            })?;
            let offset = c.u64(&what)?;
            infos.push((name, dims, kind, offset));
        }
        let data_start = (c.at as u64).div_ceil(alignment) * alignment;
        let mut tensors = Vec::with_capacity(infos.len());
        for (name, dims, kind, offset) in infos {
            let elements = dims
                .iter()
                .try_fold(1u64, |a, &d| a.checked_mul(d))
                .filter(|&e| e > 0)
                .ok_or_else(|| {
                    anyhow::anyhow!("tensor `{name}`: shape {dims:?} is empty or overflows")
                })?;
            let (block, size) = kind.block();
            if dims[0] % block as u64 != 0 {
                bail!(
                    "tensor `{name}`: rows of {} values do not split into {kind:?} blocks of {block}",
                    dims[0]
                );
            }
            let len = elements / block as u64 * size as u64;
            let start = data_start.checked_add(offset);
            let end = start.and_then(|s| s.checked_add(len));
            match (start, end) {
                (Some(s), Some(e)) if e <= bytes.len() as u64 => tensors.push(TensorInfo {
                    name,
                    dims,
                    kind,
                    start: s as usize,
                    len: len as usize,
                }),
                _ => bail!(
                    "tensor `{name}`: its {len} bytes at offset {offset} run past the end of the file ({} bytes): truncated?",
                    bytes.len()
                ),
            }
        }
        Ok(Gguf {
            version,
            metadata,
            tensors,
        })
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key)
    }
}
