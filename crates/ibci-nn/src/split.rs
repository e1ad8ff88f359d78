//! The data a network trains and is evaluated on: a borrowed [`Split`] (samples, labels and,
//! when built, the samples' nonzero index), and an [`OwnedSplit`] that holds them.

use ibci_kernels::sparse::CsrRows;
use ibci_kernels::{Mat, MatRef};

/// A data split: row-major samples, their labels, and optionally the samples' nonzero index
/// (with it, the first layer skips zero inputs; the numbers are the same either way).
#[derive(Clone, Copy, Debug)]
pub struct Split<'a> {
    /// `n x features`.
    pub x: MatRef<'a>,
    /// `n` labels, each below the network's output width.
    pub y: &'a [usize],
    /// The nonzeros of `x` ([`CsrRows::new`]), built once per data set.
    pub sparse: Option<&'a CsrRows>,
}

/// A split held as training wants it: f32 samples, `usize` labels and the samples' nonzero
/// index.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedSplit {
    /// `n x features`.
    pub x: Mat,
    /// `n` labels.
    pub y: Vec<usize>,
    /// The nonzeros of `x`.
    pub sparse: CsrRows,
}

impl OwnedSplit {
    /// A split of samples `x` and labels `y`, indexed once.
    pub fn new(x: Mat, y: Vec<usize>) -> OwnedSplit {
        let sparse = CsrRows::new(x.as_ref());
        OwnedSplit { x, y, sparse }
    }

    /// A split of images (`dim` values each, one after another, as an IDX file holds them
    /// once scaled) and their byte labels.
    ///
    /// # Panics
    /// If `images.len() != labels.len() * dim`.
    #[track_caller]
    pub fn from_images(images: Vec<f32>, dim: usize, labels: &[u8]) -> OwnedSplit {
        assert_eq!(
            images.len(),
            labels.len() * dim,
            "from_images: {} values for {} labels of {dim} pixels",
            images.len(),
            labels.len()
        );
        OwnedSplit::new(
            Mat::from_vec(labels.len(), dim, images),
            labels.iter().map(|&l| usize::from(l)).collect(),
        )
    }

    /// A borrowed view for [`Trainer`](crate::train::Trainer) and friends.
    pub fn view(&self) -> Split<'_> {
        Split {
            x: self.x.as_ref(),
            y: &self.y,
            sparse: Some(&self.sparse),
        }
    }
}
