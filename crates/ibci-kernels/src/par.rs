//! How a kernel call uses threads: on the calling thread alone, or over rayon's current
//! pool. Every kernel gives the same bits either way.

/// Parallelism of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Par {
    /// The calling thread only.
    Seq,
    /// Rayon's current pool (install a pool to choose the thread count).
    Rayon,
}

impl Par {
    /// Threads a call with this parallelism can run on: 1, or rayon's current pool's.
    pub fn threads(self) -> usize {
        match self {
            Par::Seq => 1,
            Par::Rayon => rayon::current_num_threads().max(1),
        }
    }

    /// The parallelism for a pool of `threads` workers: the calling thread alone for one
    /// (no rayon overhead), rayon's current pool otherwise.
    pub fn for_threads(threads: usize) -> Par {
        if threads <= 1 {
            Par::Seq
        } else {
            Par::Rayon
        }
    }
}
