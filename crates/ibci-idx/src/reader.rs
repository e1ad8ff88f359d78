//! Reading whole IDX arrays from raw or gzip-compressed input.
//!
//! The encoding is detected from the first two bytes (gzip's `1f 8b`), never from the file
//! name. The payload is returned as stored (big-endian decoded to native integers or floats);
//! no normalisation happens here (see [`crate::pixels`] for the u8 -> f32 conversion).
//!
//! Allocation never trusts the header: when the input length is known (files, byte slices),
//! the header's claim is checked against it before the payload buffer is allocated; when it
//! is not (gzip, arbitrary readers), the buffer grows only as bytes actually arrive, up to
//! the claim. A hostile header claiming 2^31 x 2^31 elements is therefore a `Truncated`
//! error, not an allocation failure.

use std::fs;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::Path;

use byteorder::{BigEndian, ByteOrder};
use flate2::bufread::MultiGzDecoder;

use crate::error::{IdxError, Result};
use crate::header::{read_full, read_header, ElemType, Header};

/// The elements of an IDX file, in the file's element type.
#[derive(Clone, Debug, PartialEq)]
pub enum IdxData {
    /// Unsigned bytes.
    U8(Vec<u8>),
    /// Signed bytes.
    I8(Vec<i8>),
    /// 16-bit signed integers.
    I16(Vec<i16>),
    /// 32-bit signed integers.
    I32(Vec<i32>),
    /// Single-precision floats.
    F32(Vec<f32>),
    /// Double-precision floats.
    F64(Vec<f64>),
}

/// A whole IDX array: header plus row-major elements.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// Element type and dimensions.
    pub header: Header,
    /// The elements, `header.len()` of them.
    pub data: IdxData,
    /// Whether the input was gzip-compressed.
    pub gzip: bool,
}

impl IdxArray {
    /// Dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.header.dims
    }

    /// Element type.
    pub fn elem(&self) -> ElemType {
        self.header.elem
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.header.len()
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.header.is_empty()
    }

    /// The elements as `u8`, if that is the element type.
    pub fn as_u8(&self) -> Option<&[u8]> {
        match &self.data {
            IdxData::U8(v) => Some(v),
            _ => None,
        }
    }

    /// Every element widened to `f64` (exact for all six types).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            IdxData::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            IdxData::I8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            IdxData::I16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            IdxData::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            IdxData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            IdxData::F64(v) => v.clone(),
        }
    }

    /// The array encoded as an uncompressed IDX file (header then big-endian payload).
    pub fn to_idx_bytes(&self) -> Vec<u8> {
        let mut out = self.header.to_bytes();
        match &self.data {
            IdxData::U8(v) => out.extend_from_slice(v),
            IdxData::I8(v) => out.extend(v.iter().map(|&x| x as u8)),
            IdxData::I16(v) => v.iter().for_each(|x| out.extend(x.to_be_bytes())),
            IdxData::I32(v) => v.iter().for_each(|x| out.extend(x.to_be_bytes())),
            IdxData::F32(v) => v.iter().for_each(|x| out.extend(x.to_be_bytes())),
            IdxData::F64(v) => v.iter().for_each(|x| out.extend(x.to_be_bytes())),
        }
        out
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads an IDX file, raw or gzip-compressed.
pub fn read_file(path: &Path) -> Result<IdxArray> {
    let bytes = fs::read(path).map_err(|source| IdxError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    read_bytes(&bytes, path)
}

/// Parses IDX data held in memory, raw or gzip-compressed. `file` names the source in errors.
pub fn read_bytes(bytes: &[u8], file: &Path) -> Result<IdxArray> {
    if bytes.starts_with(&GZIP_MAGIC) {
        read_gzip(bytes, file)
    } else {
        read_raw(bytes, Some(bytes.len() as u64), file)
    }
}

/// Parses IDX data from a reader of unknown length, raw or gzip-compressed.
/// `file` names the source in errors.
pub fn read_from<R: Read>(mut reader: R, file: &Path) -> Result<IdxArray> {
    let io_err = |source| IdxError::Io {
        file: file.to_path_buf(),
        source,
    };
    let mut prefix = [0u8; 2];
    let got = read_full(&mut reader, &mut prefix).map_err(io_err)?;
    let joined = BufReader::new(Cursor::new(prefix[..got].to_vec()).chain(reader));
    if prefix[..got] == GZIP_MAGIC {
        read_gzip(joined, file)
    } else {
        read_raw(joined, None, file)
    }
}

fn read_gzip<R: BufRead>(input: R, file: &Path) -> Result<IdxArray> {
    // Any read error below comes from the decompressor (the underlying reader is in memory or
    // already buffered), so it is reported as gzip corruption.
    let gz_err = |e: io::Error| IdxError::Gzip {
        file: file.to_path_buf(),
        detail: e.to_string(),
    };
    let mut dec = MultiGzDecoder::new(input);
    let header = read_header(&mut dec, file, &gz_err)?;
    let data = read_payload(&mut dec, &header, None, file, &gz_err)?;
    Ok(IdxArray {
        header,
        data,
        gzip: true,
    })
}

fn read_raw<R: Read>(mut input: R, len: Option<u64>, file: &Path) -> Result<IdxArray> {
    let io_err = |source| IdxError::Io {
        file: file.to_path_buf(),
        source,
    };
    let header = read_header(&mut input, file, &io_err)?;
    let data = read_payload(&mut input, &header, len, file, &io_err)?;
    Ok(IdxArray {
        header,
        data,
        gzip: false,
    })
}

/// Reads exactly the payload `header` describes and checks that the input ends there.
fn read_payload<R: Read>(
    r: &mut R,
    header: &Header,
    known_len: Option<u64>,
    file: &Path,
    io_err: &dyn Fn(io::Error) -> IdxError,
) -> Result<IdxData> {
    let expected = header.total_bytes();
    let want = header.payload_bytes();
    let bytes = match known_len {
        Some(len) => {
            // The length is known: compare before allocating anything.
            if len < expected {
                return Err(IdxError::Truncated {
                    file: file.to_path_buf(),
                    part: "payload",
                    expected_bytes: expected,
                    found_bytes: len,
                });
            }
            if len > expected {
                return Err(IdxError::TrailingBytes {
                    file: file.to_path_buf(),
                    expected_bytes: expected,
                    found_bytes: len,
                });
            }
            // `want <= len`, and `len` bytes exist in memory or on disk, so this fits.
            let mut buf = vec![0u8; want as usize];
            let got = read_full(r, &mut buf).map_err(io_err)?;
            if (got as u64) < want {
                return Err(IdxError::Truncated {
                    file: file.to_path_buf(),
                    part: "payload",
                    expected_bytes: expected,
                    found_bytes: header.header_bytes() + got as u64,
                });
            }
            buf
        }
        None => {
            // Unknown length: the buffer grows only with bytes actually read.
            let mut buf = Vec::new();
            r.by_ref()
                .take(want)
                .read_to_end(&mut buf)
                .map_err(io_err)?;
            if (buf.len() as u64) < want {
                return Err(IdxError::Truncated {
                    file: file.to_path_buf(),
                    part: "payload",
                    expected_bytes: expected,
                    found_bytes: header.header_bytes() + buf.len() as u64,
                });
            }
            // Read to the end: this also makes a gzip decoder verify its CRC and length.
            let extra = io::copy(r, &mut io::sink()).map_err(io_err)?;
            if extra > 0 {
                return Err(IdxError::TrailingBytes {
                    file: file.to_path_buf(),
                    expected_bytes: expected,
                    found_bytes: expected + extra,
                });
            }
            buf
        }
    };
    Ok(decode(header.elem, bytes))
}

/// Converts the big-endian payload to native elements. `bytes.len()` is a multiple of the
/// element size (guaranteed by the caller).
fn decode(elem: ElemType, bytes: Vec<u8>) -> IdxData {
    let n = bytes.len() / elem.size();
    match elem {
        ElemType::U8 => IdxData::U8(bytes),
        ElemType::I8 => IdxData::I8(bytes.into_iter().map(|b| b as i8).collect()),
        ElemType::I16 => {
            let mut v = vec![0i16; n];
            BigEndian::read_i16_into(&bytes, &mut v);
            IdxData::I16(v)
        }
        ElemType::I32 => {
            let mut v = vec![0i32; n];
            BigEndian::read_i32_into(&bytes, &mut v);
            IdxData::I32(v)
        }
        ElemType::F32 => {
            let mut v = vec![0f32; n];
            BigEndian::read_f32_into(&bytes, &mut v);
            IdxData::F32(v)
        }
        ElemType::F64 => {
            let mut v = vec![0f64; n];
            BigEndian::read_f64_into(&bytes, &mut v);
            IdxData::F64(v)
        }
    }
}
