//! IDX (the MNIST file format) and MNIST-style data set directories.
//!
//! - [`reader`]: whole IDX arrays of any element type (u8, i8, i16, i32, f32, f64) and any
//!   rank, raw or gzip-compressed (detected from the magic bytes, not the file name), with
//!   every header claim checked against the bytes actually available before allocating.
//! - [`mnist`]: the four files of a data set directory under both common spellings, with
//!   count, label-range and SHA-256 checks.
//! - [`pixels`]: the u8 -> f32 in [0, 1] conversion, kept out of the parser.
//! - [`sha256`]: the digest used for the integrity checks.
//!
//! Every failure is an [`IdxError`] that names the file and says what was expected and what
//! was found; malformed input never panics (a seeded mutation test feeds the parser 100,000
//! corrupted files).
//!
//! ```no_run
//! use ibci_idx::mnist::{load, LoadOptions};
//! let data = load("datasets/mnist".as_ref(), &LoadOptions::default())?;
//! assert_eq!(data.train.len(), 60_000);
//! let x = data.train.images_f32(); // 60,000 x 784, row-major, in [0, 1]
//! # Ok::<(), ibci_idx::IdxError>(())
//! ```

pub mod elem;
pub mod error;
pub mod header;
pub mod mnist;
pub mod pixels;
pub mod reader;
pub mod sha256;

pub use error::{IdxError, Result};
pub use header::{ElemType, Header};
pub use reader::{read_bytes, read_file, read_from, IdxArray, IdxData};
