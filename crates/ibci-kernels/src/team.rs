//! A team of threads that stays awake through a run of short parallel regions (a training
//! epoch's batches: three regions of 20-100 microseconds each, about 200 microseconds a
//! batch), where rayon's idle workers fall asleep between regions and take tens of
//! microseconds to wake for each (`cargo bench --bench rayon_wake`).
//!
//! ```text
//! Team::new(n)          the calling thread (member 0) and n - 1 helper threads
//! team.install(f)       runs f here; inside it, Par::Rayon kernels that know the team
//!                       (the sparse products, the GEMM, Par::join) split over its members
//! team.run(tasks, f)    f(t) for t in 0..tasks, over the members; returns when all are done
//! team.join(a, b)       a here (its kernels split over the team), b on a helper meanwhile
//! ```
//!
//! One region at a time, published in one atomic word: `generation (23 bits) | pinned (1) |
//! slots (8) | claimed mask (32)`. A region has `slots = min(tasks, 32)` slots; slot `s`
//! runs tasks `s, s + slots, ...`. Member `m` first claims its own slots (`s % n == m`, so that a task's
//! data stays in the same core's cache from batch to batch), then any left unclaimed, each by
//! a compare-and-swap of the word; it reads the region's job only after a successful claim,
//! so a member that saw an older word cannot run a job that has ended. The caller waits only
//! for slots that a member has claimed (a pending count): a helper that is asleep or
//! descheduled makes the caller run its slots, never makes it wait. Helpers spin (with the
//! pause hint) for [`SPIN`] after their last region, then park until the next one.
//!
//! [`Team::join`] offers its second closure as the one background job (a word of its own): the
//! first helper to take it runs it, then goes back to claiming slots, while the caller runs
//! the first closure, whose kernels publish regions as usual (a helper busy with the job
//! claims no slots, so the caller runs them). The caller then runs the job itself if no
//! helper took it, or waits for the helper that did.
//!
//! A panic in a task is caught where it happens, the region finishes, and the caller
//! re-raises it. Results never depend on which member runs a task (each task writes its
//! own outputs), so the team changes no bit.

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// How long an idle helper spins before it parks: longer than the gaps between a training
/// step's regions and between its batches (a few microseconds), shorter than a test-set
/// evaluation, during which a spinning helper would take a core from rayon's workers.
pub const SPIN: Duration = Duration::from_micros(200);

/// Groups of a [`Team::round_trip_ns`] probe, of which the fastest counts.
pub const PROBE_GROUPS: u32 = 4;

/// Slots per region (the claimed mask's bits).
const MAX_SLOTS: usize = 32;
const MASK_BITS: u32 = 32;
const SLOT_SHIFT: u32 = 32;
/// Set for a region whose slots only their own members may claim ([`Team::broadcast`]).
const PINNED: u64 = 1 << 40;
const GEN_SHIFT: u32 = 41;
/// Distinct nonzero generations before they repeat.
const GENERATIONS: u64 = (1 << (64 - GEN_SHIFT)) - 1;

/// One region's job as members read it: a type-erased `&dyn Fn(usize) + Sync`.
type Job<'a> = &'a (dyn Fn(usize) + Sync);

/// States of the background job ([`Team::join`]).
const BG_NONE: u8 = 0;
const BG_OFFERED: u8 = 1;
const BG_TAKEN: u8 = 2;
const BG_DONE: u8 = 3;

/// What the caller and helpers share.
struct Shared {
    /// `generation | slots | claimed mask`, as above.
    state: AtomicU64,
    /// The current region's job: a pointer to a `Job` on the caller's stack, valid while a
    /// claimed slot of the region is pending.
    job: AtomicPtr<()>,
    /// The current region's task count.
    tasks: AtomicUsize,
    /// Slots of the current region not yet finished.
    pending: AtomicUsize,
    /// The first panic of the current region's tasks.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// Helpers parked (or about to park).
    parked: AtomicUsize,
    /// The background job's state: none, offered, taken (by a helper or the caller), done.
    bg: AtomicU8,
    /// The background job: a pointer to a `Job` on the caller's stack, valid while `bg` is
    /// offered or taken.
    bg_job: AtomicPtr<()>,
    /// The team is being dropped.
    exit: AtomicBool,
    size: usize,
}

/// A team of `size` members: the thread that calls [`Team::run`] and `size - 1` helpers.
/// Dropping it stops and joins the helpers.
pub struct Team {
    shared: Arc<Shared>,
    helpers: Vec<(Thread, JoinHandle<()>)>,
    /// Not `Sync`: one thread at a time publishes regions.
    _one_caller: std::marker::PhantomData<Cell<()>>,
}

impl std::fmt::Debug for Team {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Team").field("size", &self.size()).finish()
    }
}

thread_local! {
    /// The team installed on this thread, if any (see [`Team::install`]); null while one of
    /// its regions runs here.
    static CURRENT: Cell<*const Team> = const { Cell::new(std::ptr::null()) };
    /// This thread's member index while it runs a team's task (0 for the caller).
    static MEMBER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Restores a thread-local when dropped (also when unwinding).
struct Restore<T: Copy + 'static>(&'static std::thread::LocalKey<Cell<T>>, T);

impl<T: Copy + 'static> Drop for Restore<T> {
    fn drop(&mut self) {
        self.0.with(|c| c.set(self.1));
    }
}

impl Team {
    /// The most members a team has (one per slot of a region).
    pub const MAX_SIZE: usize = MAX_SLOTS;

    /// A team of `size` members (at least one, at most [`Team::MAX_SIZE`]): this thread and
    /// `size - 1` new helper threads, idle until the first region.
    ///
    /// # Panics
    /// If the operating system cannot start a thread.
    pub fn new(size: usize) -> Team {
        let size = size.clamp(1, Team::MAX_SIZE);
        let shared = Arc::new(Shared {
            state: AtomicU64::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            tasks: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            panic: Mutex::new(None),
            parked: AtomicUsize::new(0),
            bg: AtomicU8::new(BG_NONE),
            bg_job: AtomicPtr::new(std::ptr::null_mut()),
            exit: AtomicBool::new(false),
            size,
        });
        let helpers = (1..size)
            .map(|m| {
                let s = Arc::clone(&shared);
                let h = thread::Builder::new()
                    .name(format!("ibci-team-{m}"))
                    .spawn(move || help(&s, m))
                    .expect("Team::new: could not start a helper thread");
                (h.thread().clone(), h)
            })
            .collect();
        Team {
            shared,
            helpers,
            _one_caller: std::marker::PhantomData,
        }
    }

    /// Members, the caller included.
    pub fn size(&self) -> usize {
        self.shared.size
    }

    /// Runs `f` on this thread with this team installed: inside it, kernels given
    /// [`Par::Rayon`](crate::Par::Rayon) that know the team run their tasks on it (see
    /// [`current`]).
    pub fn install<R>(&self, f: impl FnOnce() -> R) -> R {
        let _restore = Restore(&CURRENT, CURRENT.with(|c| c.replace(self)));
        f()
    }

    /// `f(t)` for every `t` in `0..tasks`, over the team's members; returns when every task
    /// has finished. A task's panic is re-raised here once all have finished.
    pub fn run(&self, tasks: usize, f: &(dyn Fn(usize) + Sync)) {
        if tasks == 0 {
            return;
        }
        if self.size() == 1 || tasks == 1 {
            return (0..tasks).for_each(f);
        }
        self.region(tasks, false, f);
    }

    /// `f(m)` on every member `m` (the caller is 0), each on its own thread; returns when all
    /// have run (waiting for a parked helper to wake).
    pub fn broadcast(&self, f: &(dyn Fn(usize) + Sync)) {
        if self.size() == 1 {
            return f(0);
        }
        self.region(self.size(), true, f);
    }

    /// How long a cache line takes to go from member 0 to member 1 and back, in nanoseconds:
    /// the two take turns incrementing one counter, `trips` round trips in [`PROBE_GROUPS`]
    /// groups after a few untimed ones, and the fastest group's mean is returned (a group in
    /// which either thread was descheduled does not count). `None` for a team of one.
    ///
    /// What each line the members share costs a step that splits its work over them. On a
    /// virtual machine the host may place two virtual cores near each other or far apart
    /// (2026-12-03, a 2-core AMD EPYC guest: 30-77 ns or 313-342 ns), and in the far
    /// placement a two-thread training step is slower than a one-thread one.
    pub fn round_trip_ns(&self, trips: u32) -> Option<f64> {
        if self.size() < 2 {
            return None;
        }
        /// The counter, alone on its cache line.
        #[repr(align(64))]
        struct Line(AtomicU64);
        const WARM: u64 = 4;
        let turn = Line(AtomicU64::new(0));
        let per = u64::from(trips.div_ceil(PROBE_GROUPS).max(1));
        let total = WARM + per * u64::from(PROBE_GROUPS);
        let wait_for = |v: u64| {
            while turn.0.load(Ordering::Acquire) != v {
                std::hint::spin_loop();
            }
        };
        let best = Mutex::new(f64::INFINITY);
        self.broadcast(&|m| match m {
            0 => {
                let mut fastest = f64::INFINITY;
                let mut start = Instant::now();
                for i in 0..total {
                    if i >= WARM && (i - WARM).is_multiple_of(per) {
                        if i > WARM {
                            fastest = fastest.min(start.elapsed().as_secs_f64());
                        }
                        start = Instant::now();
                    }
                    turn.0.store(2 * i + 1, Ordering::Release);
                    wait_for(2 * i + 2);
                }
                fastest = fastest.min(start.elapsed().as_secs_f64());
                *best.lock().unwrap_or_else(|e| e.into_inner()) = fastest * 1e9 / per as f64;
            }
            1 => {
                for i in 0..total {
                    wait_for(2 * i + 1);
                    turn.0.store(2 * i + 2, Ordering::Release);
                }
            }
            _ => {}
        });
        Some(best.into_inner().unwrap_or_else(|e| e.into_inner()))
    }

    /// Publishes a region of `tasks` tasks (`pinned`: slot `s` runs on member `s` only) and
    /// takes part in it until every slot has finished.
    fn region(&self, tasks: usize, pinned: bool, f: &(dyn Fn(usize) + Sync)) {
        let sh = &*self.shared;
        // A kernel that a task runs here does not split over the team again (it would
        // publish a region inside this one): it sees no team, and rayon's pool.
        let _outer = Restore(&CURRENT, CURRENT.with(|c| c.replace(std::ptr::null())));
        let _member = Restore(&MEMBER, MEMBER.with(|c| c.replace(Some(0))));
        let slots = tasks.min(MAX_SLOTS);
        let job: Job<'_> = f;
        // The previous region has finished (pending was 0 when it returned), so no member
        // reads `job` or `tasks` until it claims a slot of the region published below.
        sh.job
            .store(&job as *const Job<'_> as *mut (), Ordering::Relaxed);
        sh.tasks.store(tasks, Ordering::Relaxed);
        sh.pending.store(slots, Ordering::Relaxed);
        // Generations 1, 2, ..., 2^23 - 1, 1, ...: never 0, the initial word's.
        let generation = (sh.state.load(Ordering::Relaxed) >> GEN_SHIFT) % GENERATIONS + 1;
        let word = (generation << GEN_SHIFT)
            | if pinned { PINNED } else { 0 }
            | ((slots as u64) << SLOT_SHIFT);
        sh.state.store(word, Ordering::SeqCst);
        if sh.parked.load(Ordering::SeqCst) > 0 {
            self.helpers.iter().for_each(|(t, _)| t.unpark());
        }
        work(sh, 0);
        while sh.pending.load(Ordering::Acquire) != 0 {
            std::hint::spin_loop();
        }
        if let Some(p) = sh.panic.lock().unwrap_or_else(|e| e.into_inner()).take() {
            resume_unwind(p);
        }
    }

    /// `(a(), b())`: `a` on this thread, always (inside [`Team::install`] the kernels it calls
    /// with [`Par::Rayon`](crate::Par) split over the team, as outside the join), and
    /// `b` offered to the helpers as a background job: the first to take it runs it, then
    /// joins `a`'s regions; if none has taken it when `a` returns, it runs here. A join inside
    /// `a` runs its two closures in order here. A panic in either is re-raised once both have
    /// finished (`a`'s first).
    pub fn join<RA, RB: Send>(
        &self,
        a: impl FnOnce() -> RA,
        b: impl FnOnce() -> RB + Send,
    ) -> (RA, RB) {
        let sh = &*self.shared;
        if self.size() == 1 || sh.bg.load(Ordering::Relaxed) != BG_NONE {
            return (a(), b());
        }
        // The job is run once, so the lock is taken once, uncontended.
        let b = Mutex::new((Some(b), None));
        let run_b = |_: usize| {
            let mut g = b.lock().unwrap_or_else(|e| e.into_inner());
            g.1 = g.0.take().map(|f| catch_unwind(AssertUnwindSafe(f)));
        };
        let job: Job<'_> = &run_b;
        sh.bg_job
            .store(&job as *const Job<'_> as *mut (), Ordering::Relaxed);
        sh.bg.store(BG_OFFERED, Ordering::SeqCst);
        if sh.parked.load(Ordering::SeqCst) > 0 {
            self.helpers.iter().for_each(|(t, _)| t.unpark());
        }
        let ra = catch_unwind(AssertUnwindSafe(a));
        match sh
            .bg
            .compare_exchange(BG_OFFERED, BG_TAKEN, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => run_b(0),
            // A helper took it: it finishes it (its panic is caught), so this wait ends.
            Err(_) => {
                while sh.bg.load(Ordering::Acquire) != BG_DONE {
                    std::hint::spin_loop();
                }
            }
        }
        // No helper reads the job again: the next one is offered by this thread, later.
        sh.bg.store(BG_NONE, Ordering::Release);
        let ra = ra.unwrap_or_else(|p| resume_unwind(p));
        let rb = b.into_inner().unwrap_or_else(|e| e.into_inner()).1;
        match rb.expect("Team::join: the second closure ran") {
            Ok(rb) => (ra, rb),
            Err(p) => resume_unwind(p),
        }
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.exit.store(true, Ordering::SeqCst);
        for (t, h) in self.helpers.drain(..) {
            t.unpark();
            // A helper's tasks catch their panics, so it only ends by returning.
            let _ = h.join();
        }
    }
}

/// The team installed on this thread ([`Team::install`]), if any, and not while one of its
/// own regions is running here.
pub fn current<R>(f: impl FnOnce(Option<&Team>) -> R) -> R {
    let p = CURRENT.with(Cell::get);
    // SAFETY: CURRENT is non-null only inside `Team::install` on this thread, whose `&self`
    // outlives the call (the guard restores the previous value before it returns).
    f(unsafe { p.as_ref() })
}

/// The member index of the team task running on this thread (0 for the caller), if any.
pub fn member() -> Option<usize> {
    MEMBER.with(Cell::get)
}

/// Member `me` claims and runs slots of the current region until none is left unclaimed.
fn work(sh: &Shared, me: usize) {
    let mut word = sh.state.load(Ordering::Acquire);
    loop {
        let slots = ((word >> SLOT_SHIFT) & 0xff) as usize;
        let free = !(word as u32) & low_bits(slots);
        if free == 0 {
            return;
        }
        // Own slots (s % size == me) first, then any (in a pinned region, own ones only).
        let own = free & own_bits(me, sh.size, slots);
        if own == 0 && word & PINNED != 0 {
            return;
        }
        let s = if own != 0 { own } else { free }.trailing_zeros();
        match sh.state.compare_exchange_weak(
            word,
            word | (1 << s),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                run_slot(sh, s as usize, slots);
                word = sh.state.load(Ordering::Acquire);
            }
            Err(now) => word = now,
        }
    }
}

/// Runs slot `s`'s tasks of the region whose slot this member has just claimed.
fn run_slot(sh: &Shared, s: usize, slots: usize) {
    let tasks = sh.tasks.load(Ordering::Relaxed);
    // SAFETY: the claim succeeded on the current word, so the region is the one whose job
    // the caller stored before publishing it (the claim's Acquire sees that store), and the
    // caller keeps the job alive until this slot's pending count is released below.
    let job: Job<'_> = unsafe { *(sh.job.load(Ordering::Relaxed) as *const Job<'_>) };
    let r = catch_unwind(AssertUnwindSafe(|| {
        (s..tasks).step_by(slots).for_each(job);
    }));
    if let Err(p) = r {
        let mut first = sh.panic.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(p);
    }
    sh.pending.fetch_sub(1, Ordering::Release);
}

fn low_bits(n: usize) -> u32 {
    if n >= MASK_BITS as usize {
        u32::MAX
    } else {
        (1u32 << n) - 1
    }
}

/// Slots `s < slots` with `s % size == me`.
fn own_bits(me: usize, size: usize, slots: usize) -> u32 {
    (me..slots).step_by(size).fold(0, |m, s| m | (1 << s))
}

/// A helper's life: claim slots of each new region, spin for [`SPIN`] after the last, then
/// park until the caller publishes another (or the team is dropped).
fn help(sh: &Shared, me: usize) {
    MEMBER.with(|c| c.set(Some(me)));
    // Generation 0 is the initial word's, never a region's: a helper that starts after the
    // first region was published still takes part in it.
    let mut seen = 0;
    let mut idle = Instant::now();
    let mut spins = 0u32;
    loop {
        if sh.exit.load(Ordering::Acquire) {
            return;
        }
        if sh.bg.load(Ordering::Relaxed) == BG_OFFERED
            && sh
                .bg
                .compare_exchange(BG_OFFERED, BG_TAKEN, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            // SAFETY: the job was stored before it was offered (the exchange's Acquire sees
            // that store), and the caller keeps it alive until it sees BG_DONE below.
            let job: Job<'_> = unsafe { *(sh.bg_job.load(Ordering::Relaxed) as *const Job<'_>) };
            job(0);
            sh.bg.store(BG_DONE, Ordering::Release);
            idle = Instant::now();
            continue;
        }
        let word = sh.state.load(Ordering::Acquire);
        if word >> GEN_SHIFT != seen {
            seen = word >> GEN_SHIFT;
            work(sh, me);
            idle = Instant::now();
            continue;
        }
        std::hint::spin_loop();
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(256) && idle.elapsed() > SPIN {
            sh.parked.fetch_add(1, Ordering::SeqCst);
            // Checked again after announcing the park: the caller stores the new word (or
            // offers a job), then reads `parked` (both SeqCst), so either it sees this helper
            // parked and unparks it, or these loads see its word or its job.
            if sh.state.load(Ordering::SeqCst) >> GEN_SHIFT == seen
                && sh.bg.load(Ordering::SeqCst) != BG_OFFERED
                && !sh.exit.load(Ordering::SeqCst)
            {
                thread::park();
            }
            sh.parked.fetch_sub(1, Ordering::SeqCst);
            idle = Instant::now();
        }
    }
}
