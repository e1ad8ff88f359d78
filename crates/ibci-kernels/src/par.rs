//! How a kernel call uses threads: on the calling thread alone, or over rayon's current
//! pool, or, inside [`Team::install`](crate::Team::install), over that team (the sparse
//! products, the GEMM and [`Par::join`]; the other kernels keep to rayon). Every kernel gives the same bits
//! either way.

use crate::team;

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

    /// Threads the team-aware kernels split over: 1, the installed team's members, or
    /// rayon's current pool's.
    pub fn team_threads(self) -> usize {
        match self {
            Par::Seq => 1,
            Par::Rayon => team::current(|t| t.map(|t| t.size())).unwrap_or_else(|| self.threads()),
        }
    }

    /// `task(t, slot)` for `t` in `0..tasks` (on the installed team, or rayon's pool), the
    /// results combined with `merge`, which must be commutative and associative (the order
    /// in which the tasks finish is not fixed). `slot` is the running thread's index, below
    /// [`Par::team_threads`]: tasks running at the same time have different slots.
    pub(crate) fn map_merge<T: Copy + Send + Sync>(
        self,
        tasks: usize,
        empty: T,
        task: impl Fn(usize, usize) -> T + Sync + Send,
        merge: impl Fn(T, T) -> T + Sync + Send,
    ) -> T {
        use rayon::prelude::*;
        match self {
            Par::Seq => (0..tasks).map(|t| task(t, 0)).fold(empty, merge),
            Par::Rayon => team::current(|team| match team {
                Some(team) => {
                    let acc = std::sync::Mutex::new(empty);
                    team.run(tasks, &|t| {
                        let r = task(t, team::member().unwrap_or(0));
                        let mut a = acc.lock().unwrap_or_else(|e| e.into_inner());
                        *a = merge(*a, r);
                    });
                    acc.into_inner().unwrap_or_else(|e| e.into_inner())
                }
                None => (0..tasks)
                    .into_par_iter()
                    .map(|t| task(t, rayon::current_thread_index().unwrap_or(0)))
                    .reduce(|| empty, merge),
            }),
        }
    }

    /// `(a(), b())`: in order for [`Par::Seq`], else side by side on the installed team or
    /// rayon's pool.
    pub fn join<RA: Send, RB: Send>(
        self,
        a: impl FnOnce() -> RA + Send,
        b: impl FnOnce() -> RB + Send,
    ) -> (RA, RB) {
        match self {
            Par::Seq => (a(), b()),
            Par::Rayon => team::current(|team| match team {
                Some(team) => team.join(a, b),
                None => rayon::join(a, b),
            }),
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
