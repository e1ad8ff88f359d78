//! No allocation inside the batch loop: a counting global allocator sees zero allocations
//! during a training epoch's batches after the first, for plain SGD and for momentum, with
//! and without the sparse index, on one thread and inside a two-thread pool. (Its own test
//! binary: the allocator counts every thread of the process.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ibci_kernels::sparse::CsrRows;
use ibci_kernels::{Mat, Par};
use ibci_nn::init::{BiasInit, FanMode, Nonlinearity, WeightInit};
use ibci_nn::train::{shuffle_stream, SgdState, Split, Trainer};
use ibci_nn::workspace::Workspace;
use ibci_nn::{ArchSpec, Mlp, TrainConfig};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

struct Counting;

static ARMED: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counter is a side
// effect only.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The allocations `f` makes, on any thread, while it runs.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    COUNT.load(Ordering::SeqCst)
}

/// The count is process-wide: the tests take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// 1,000 seeded MNIST-like rows (a fifth of the pixels nonzero), ten classes, their sparse
/// index, and a two-thread pool whose workers have all started.
struct Fixture {
    x: Mat,
    y: Vec<usize>,
    csr: CsrRows,
    pool: rayon::ThreadPool,
}

impl Fixture {
    fn new(seed: u64) -> Fixture {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let (n, d) = (1_000, 784);
        let x = Mat::from_fn(n, d, |_, _| {
            if rng.next_u32() % 5 == 0 {
                (1 + rng.next_u32() % 255) as f32 / 255.0
            } else {
                0.0
            }
        });
        let y: Vec<usize> = (0..n).map(|i| i % 10).collect();
        let csr = CsrRows::new(x.as_ref());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        // Every worker started and settled before anything is counted: a worker that starts
        // late (a loaded machine) allocates its own thread state, which no batch asked for.
        // The count is process-wide, so that would be counted (seen once in CI: 2).
        pool.broadcast(|_| ());
        Fixture { x, y, csr, pool }
    }
}

/// The 784-64-32-10 ReLU net, He-normal, seed 1.
fn net() -> Mlp {
    let spec = ArchSpec::parse("784-64-32-10").unwrap();
    let he = WeightInit::KaimingNormal {
        mode: FanMode::FanIn,
        nl: Nonlinearity::Relu,
    };
    Mlp::init(
        &spec,
        &vec![he; spec.layers()],
        BiasInit::Constant(0.0),
        &mut Xoshiro256PlusPlus::seed_from_u64(1),
    )
}

#[test]
fn no_batch_after_the_first_allocates() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Fixture { x, y, csr, pool } = Fixture::new(3);
    let n = y.len();
    for (momentum, sparse, par) in [
        (0.0, true, Par::Seq),
        (0.0, true, Par::Rayon),
        (0.9, true, Par::Seq),
        (0.0, false, Par::Seq),
        (0.9, false, Par::Rayon),
    ] {
        let mut mlp = net();
        let cfg = TrainConfig {
            batch: 100,
            momentum,
            lr: 0.05,
            ..TrainConfig::default()
        };
        let mut state = SgdState::new(&mlp, momentum);
        let mut ws = Workspace::new(&mlp, cfg.batch);
        let data = Split {
            x: x.as_ref(),
            y: &y,
            sparse: sparse.then_some(&csr),
        };
        let order: Vec<usize> = (0..n).rev().collect();
        let batches: Vec<&[usize]> = order.chunks(cfg.batch).collect();
        let counted = pool.install(|| {
            ws.step(&mut mlp, &mut state, data, batches[0], &cfg, par);
            allocations(|| {
                for rows in &batches[1..] {
                    let st = ws.step(&mut mlp, &mut state, data, rows, &cfg, par);
                    assert!(st.loss.is_finite());
                }
            })
        });
        assert_eq!(
            counted,
            0,
            "momentum {momentum}, sparse {sparse}, {par:?}: {counted} allocations in {} batches",
            batches.len() - 1
        );
    }
}

/// Steps switching between one thread and a team (as a trainer does while its cores are far
/// apart, `train::FarCores`): after one step in either form and `Workspace::prepare` for the
/// other (what the trainer does), no step allocates, whichever form comes first.
#[test]
fn steps_switching_between_one_thread_and_the_team_allocate_nothing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Fixture { x, y, csr, pool } = Fixture::new(4);
    let cfg = TrainConfig {
        batch: 100,
        lr: 0.05,
        ..TrainConfig::default()
    };
    let data = Split {
        x: x.as_ref(),
        y: &y,
        sparse: Some(&csr),
    };
    let order: Vec<usize> = (0..y.len()).rev().collect();
    let batches: Vec<&[usize]> = order.chunks(cfg.batch).collect();
    for first in [Par::Seq, Par::Rayon] {
        let other = if first == Par::Seq {
            Par::Rayon
        } else {
            Par::Seq
        };
        // The other form from the second step on, then every third step the first again.
        let par = |bi: usize| if bi.is_multiple_of(3) { first } else { other };
        let mut mlp = net();
        let mut state = SgdState::new(&mlp, 0.0);
        let mut ws = Workspace::new(&mlp, cfg.batch);
        // Inside a rayon pool, as the trainer runs: the kernels that keep to rayon would
        // otherwise send their work to the global pool from outside it, whose queue
        // allocates.
        let counted = pool.install(|| {
            let team = ibci_kernels::Team::new(2);
            team.install(|| {
                ws.step(&mut mlp, &mut state, data, batches[0], &cfg, first);
                ws.prepare(other);
                allocations(|| {
                    for (bi, rows) in batches.iter().enumerate().skip(1) {
                        let st = ws.step(&mut mlp, &mut state, data, rows, &cfg, par(bi));
                        assert!(st.loss.is_finite());
                    }
                })
            })
        });
        assert_eq!(
            counted,
            0,
            "{first:?} first: {counted} allocations in {} batches",
            batches.len() - 1
        );
    }
}

/// The training loop itself (`Trainer::epoch`: shuffling, the next batch's columns filled on
/// the second thread while a batch computes, the test evaluation): a second epoch allocates
/// nothing, on one thread and in a two-thread pool.
#[test]
fn a_second_epoch_allocates_nothing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Fixture { x, y, csr, pool } = Fixture::new(5);
    for par in [Par::Seq, Par::Rayon] {
        let mut mlp = net();
        let cfg = TrainConfig {
            batch: 100,
            lr: 0.05,
            ..TrainConfig::default()
        };
        let mut state = SgdState::new(&mlp, 0.0);
        let data = Split {
            x: x.as_ref(),
            y: &y,
            sparse: Some(&csr),
        };
        let mut trainer = Trainer::new(&mlp, &cfg, par);
        let counted = pool.install(|| {
            let mut epoch = |e: usize| {
                let mut shuffle = shuffle_stream(1, e);
                trainer
                    .epoch(&mut mlp, &mut state, data, data, e, &mut shuffle)
                    .unwrap()
            };
            epoch(1);
            let mut loss = f64::NAN;
            let counted = allocations(|| loss = epoch(2).train_loss);
            assert!(loss.is_finite());
            counted
        });
        assert_eq!(
            counted, 0,
            "{par:?}: {counted} allocations in the second epoch"
        );
    }
}
