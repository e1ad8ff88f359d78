//! Typed errors of the IDX parser and the MNIST-style data set loader.
//!
//! Every variant names the file it concerns and, where a value was checked, what was
//! expected and what was found. `Display` gives one line a user can act on; variants about
//! missing data add a HINT on how to get it.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::elem::ElemType;

/// Everything that can go wrong when reading IDX files or an MNIST-style directory.
#[derive(Debug)]
#[non_exhaustive]
pub enum IdxError {
    /// A required file was not found (under any of the accepted spellings).
    MissingFile {
        /// The directory that was searched.
        dir: PathBuf,
        /// The spellings that were tried, relative to `dir`.
        tried: Vec<String>,
        /// How to obtain the data.
        hint: &'static str,
    },
    /// An operating-system error while opening or reading a file.
    Io {
        /// The file concerned.
        file: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The first two bytes of the magic number are not zero.
    BadMagic {
        /// The file concerned.
        file: PathBuf,
        /// The four magic bytes that were found.
        found: [u8; 4],
    },
    /// The third magic byte is not one of the six IDX element type codes.
    UnknownType {
        /// The file concerned.
        file: PathBuf,
        /// The type code that was found.
        code: u8,
    },
    /// The dimensions multiply to more elements or bytes than this machine can address.
    ShapeOverflow {
        /// The file concerned.
        file: PathBuf,
        /// The dimensions claimed by the header.
        dims: Vec<u32>,
    },
    /// The input ended before the header or the payload was complete.
    Truncated {
        /// The file concerned.
        file: PathBuf,
        /// `"header"` or `"payload"`.
        part: &'static str,
        /// Bytes the header says the whole (decompressed) file has.
        expected_bytes: u64,
        /// Bytes actually available.
        found_bytes: u64,
    },
    /// The input goes on after the payload the header describes.
    TrailingBytes {
        /// The file concerned.
        file: PathBuf,
        /// Bytes the header says the whole (decompressed) file has.
        expected_bytes: u64,
        /// Bytes actually available.
        found_bytes: u64,
    },
    /// The gzip stream is corrupt (bad header, bad deflate data, CRC or length mismatch, or cut
    /// short).
    Gzip {
        /// The file concerned.
        file: PathBuf,
        /// What the decompressor reported.
        detail: String,
    },
    /// The file parsed, but its element type is not the one this use requires.
    WrongType {
        /// The file concerned.
        file: PathBuf,
        /// The element type required.
        expected: ElemType,
        /// The element type found.
        found: ElemType,
    },
    /// The file parsed, but its rank is not the one this use requires.
    WrongRank {
        /// The file concerned.
        file: PathBuf,
        /// The rank required.
        expected: usize,
        /// The dimensions found.
        found: Vec<usize>,
    },
    /// An image file and its label file disagree on the number of items.
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Number of images.
        n_images: usize,
        /// The label file.
        labels: PathBuf,
        /// Number of labels.
        n_labels: usize,
    },
    /// A label is not below the number of classes.
    LabelOutOfRange {
        /// The label file.
        file: PathBuf,
        /// Position of the first offending label.
        index: usize,
        /// Its value.
        label: u8,
        /// The number of classes (labels must be `< classes`).
        classes: usize,
    },
    /// A file's SHA-256 digest is not the expected one.
    DigestMismatch {
        /// The file concerned.
        file: PathBuf,
        /// Expected digest(s), lower-case hex.
        expected: Vec<String>,
        /// Digest of the file's bytes (and, for gzip files, of the decompressed bytes).
        found: String,
    },
    /// Digest checking against a `SHA256SUMS` file was asked for, but it has no line for a file.
    NoDigest {
        /// The sums file.
        sums: PathBuf,
        /// The file name that has no line.
        name: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, IdxError>;

impl fmt::Display for IdxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdxError::MissingFile { dir, tried, hint } => write!(
                f,
                "{}: missing data file: tried {}\nHINT: {hint}",
                dir.display(),
                tried.join(", ")
            ),
            // The OS error is the source (see `source`), not repeated here.
            IdxError::Io { file, .. } => write!(f, "{}: cannot read", file.display()),
            IdxError::BadMagic { file, found } => write!(
                f,
                "{}: not an IDX file: magic bytes {:02x} {:02x} {:02x} {:02x}, expected 00 00 <type> <rank>",
                file.display(),
                found[0],
                found[1],
                found[2],
                found[3]
            ),
            IdxError::UnknownType { file, code } => write!(
                f,
                "{}: unknown IDX element type code 0x{code:02x}, expected one of 08 (u8), 09 (i8), 0b (i16), 0c (i32), 0d (f32), 0e (f64)",
                file.display()
            ),
            IdxError::ShapeOverflow { file, dims } => write!(
                f,
                "{}: IDX dimensions {dims:?} describe more bytes than this machine can address",
                file.display()
            ),
            IdxError::Truncated {
                file,
                part,
                expected_bytes,
                found_bytes,
            } => write!(
                f,
                "{}: truncated IDX {part}: the header implies {expected_bytes} bytes, found only {found_bytes}",
                file.display()
            ),
            IdxError::TrailingBytes {
                file,
                expected_bytes,
                found_bytes,
            } => write!(
                f,
                "{}: trailing bytes after the IDX payload: the header implies {expected_bytes} bytes, found {found_bytes}",
                file.display()
            ),
            IdxError::Gzip { file, detail } => {
                write!(f, "{}: corrupt gzip stream: {detail}", file.display())
            }
            IdxError::WrongType {
                file,
                expected,
                found,
            } => write!(
                f,
                "{}: IDX element type is {found}, expected {expected}",
                file.display()
            ),
            IdxError::WrongRank {
                file,
                expected,
                found,
            } => write!(
                f,
                "{}: IDX rank is {} (dims {found:?}), expected rank {expected}",
                file.display(),
                found.len()
            ),
            IdxError::CountMismatch {
                images,
                n_images,
                labels,
                n_labels,
            } => write!(
                f,
                "{} has {n_images} images but {} has {n_labels} labels; expected equal counts",
                images.display(),
                labels.display()
            ),
            IdxError::LabelOutOfRange {
                file,
                index,
                label,
                classes,
            } => write!(
                f,
                "{}: label {label} at index {index} is out of range, expected < {classes}",
                file.display()
            ),
            IdxError::DigestMismatch {
                file,
                expected,
                found,
            } => write!(
                f,
                "{}: SHA-256 mismatch: expected {}, found {found} (the file is corrupt, or is not the data set it is named after)",
                file.display(),
                expected.join(" or ")
            ),
            IdxError::NoDigest { sums, name } => write!(
                f,
                "{}: no SHA-256 line for {name}, expected one per data file",
                sums.display()
            ),
        }
    }
}

impl std::error::Error for IdxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IdxError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
