//! The IDX header: magic number and dimensions.
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! offset 0      : 0x00 0x00 <type code> <rank r>
//! offset 4      : dim_0 (u32) ... dim_{r-1} (u32)
//! offset 4 + 4r : dim_0 * ... * dim_{r-1} elements of the type, big-endian, row-major
//! ```
//!
//! Type codes: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64.

use std::io::Read;
use std::path::Path;

pub use crate::elem::ElemType;
use crate::error::{IdxError, Result};

/// A parsed IDX header whose sizes are known to fit this machine's address space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Element type.
    pub elem: ElemType,
    /// Dimensions, outermost first. Rank 0 (no dimensions) describes a single element.
    pub dims: Vec<usize>,
}

impl Header {
    /// Builds a header, checking that the element and byte counts fit in `isize`.
    ///
    /// `file` only names the source in the error.
    pub fn new(elem: ElemType, dims: &[u32], file: &Path) -> Result<Header> {
        let overflow = || IdxError::ShapeOverflow {
            file: file.to_path_buf(),
            dims: dims.to_vec(),
        };
        let mut elems: u64 = 1;
        for &d in dims {
            elems = elems.checked_mul(u64::from(d)).ok_or_else(overflow)?;
        }
        let payload = elems.checked_mul(elem.size() as u64).ok_or_else(overflow)?;
        let total = payload
            .checked_add(4 + 4 * dims.len() as u64)
            .ok_or_else(overflow)?;
        if total > isize::MAX as u64 {
            return Err(overflow());
        }
        Ok(Header {
            elem,
            dims: dims.iter().map(|&d| d as usize).collect(),
        })
    }

    /// Number of elements (product of the dimensions; 1 for rank 0).
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// True when some dimension is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes taken by the header itself: 4 + 4 * rank.
    pub fn header_bytes(&self) -> u64 {
        4 + 4 * self.dims.len() as u64
    }

    /// Bytes taken by the payload: elements * element size.
    pub fn payload_bytes(&self) -> u64 {
        self.len() as u64 * self.elem.size() as u64
    }

    /// Bytes of the whole (decompressed) file the header describes.
    pub fn total_bytes(&self) -> u64 {
        self.header_bytes() + self.payload_bytes()
    }

    /// The header encoded as IDX bytes.
    ///
    /// # Panics
    /// If a dimension exceeds `u32::MAX` (impossible for a header built by [`Header::new`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let rank = u8::try_from(self.dims.len()).expect("IDX rank must fit in one byte");
        let mut out = vec![0, 0, self.elem.code(), rank];
        for &d in &self.dims {
            let d = u32::try_from(d).expect("IDX dimension must fit in u32");
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }
}

/// Reads as many bytes as are available into `buf`, stopping early only at end of input.
/// Returns how many bytes were read.
pub(crate) fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Parses the magic number and dimensions from `r`.
///
/// `io_err` turns a read error into this crate's error (it differs for raw and gzip input).
pub(crate) fn read_header<R: Read>(
    r: &mut R,
    file: &Path,
    io_err: &dyn Fn(std::io::Error) -> IdxError,
) -> Result<Header> {
    let mut magic = [0u8; 4];
    let got = read_full(r, &mut magic).map_err(io_err)?;
    if got < 4 {
        return Err(IdxError::Truncated {
            file: file.to_path_buf(),
            part: "header",
            expected_bytes: 4,
            found_bytes: got as u64,
        });
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(IdxError::BadMagic {
            file: file.to_path_buf(),
            found: magic,
        });
    }
    let elem = ElemType::from_code(magic[2]).ok_or_else(|| IdxError::UnknownType {
        file: file.to_path_buf(),
        code: magic[2],
    })?;
    let rank = usize::from(magic[3]);
    let mut raw = vec![0u8; 4 * rank];
    let got = read_full(r, &mut raw).map_err(io_err)?;
    if got < raw.len() {
        return Err(IdxError::Truncated {
            file: file.to_path_buf(),
            part: "header",
            expected_bytes: 4 + raw.len() as u64,
            found_bytes: 4 + got as u64,
        });
    }
    let dims: Vec<u32> = raw
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Header::new(elem, &dims, file)
}
