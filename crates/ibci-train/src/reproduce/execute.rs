//! One run of a sweep: its data, initialisation and training, as `ibci train` would do it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ibci_idx::mnist::{self, LoadOptions};
use ibci_idx::sha256::{sha256, to_hex};
use ibci_kernels::Par;
use ibci_nn::init::sample_indices;
use ibci_nn::mlp::gather_rows;
use ibci_nn::train::{epoch_zero, shuffle_stream, OwnedSplit, SgdState, Split, Trainer};
use ibci_nn::{ArchSpec, TrainConfig};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::Value;

use super::cache::RunRecord;
use super::sweep::{Run, Sweep};
use super::SUBSET_SEED;
use crate::init::initialise;
use crate::manifest::Machine;
use crate::safetensors::encode_weights;

/// Loads the sweep's data set (and the training subset).
pub(super) fn load_data(sweep: &Sweep) -> Result<(OwnedSplit, OwnedSplit, Vec<String>)> {
    let data = mnist::load(
        &sweep.data_dir,
        &LoadOptions {
            classes: 10,
            digests: sweep.digests,
        },
    )
    .with_context(|| {
        let hint = if sweep.dataset == "fashion-mnist" {
            " (install it with: apt-get install dataset-fashion-mnist)"
        } else {
            ""
        };
        format!("loading --dataset {}{hint}", sweep.data_dir.display())
    })?;
    let digests: Vec<String> = data.files.iter().map(|f| f.sha256.clone()).collect();
    let mut train = OwnedSplit::from_images(
        data.train.images_f32(),
        data.train.dim(),
        &data.train.labels,
    );
    if let Some(n) = sweep.train_subset {
        if n == 0 || n > train.y.len() {
            bail!(
                "--train-subset {n}: expected 1 to {} (the training set's size)",
                train.y.len()
            );
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(SUBSET_SEED);
        let idx = sample_indices(&mut rng, train.y.len(), n);
        train = OwnedSplit::new(
            gather_rows(train.x.as_ref(), idx.iter().copied()),
            idx.iter().map(|&i| train.y[i]).collect(),
        );
    }
    Ok((
        train,
        OwnedSplit::from_images(data.test.images_f32(), data.test.dim(), &data.test.labels),
        digests,
    ))
}

/// Trains one run; returns its cache record.
pub(super) fn execute(
    sweep: &Sweep,
    run: &Run,
    cfg: &Value,
    train: Split<'_>,
    test: Split<'_>,
    pool: &rayon::ThreadPool,
) -> Result<RunRecord> {
    let start = Instant::now();
    let spec = ArchSpec::parse(&run.net)?;
    let tc = TrainConfig::default();
    let (mut mlp, _) = initialise(
        &sweep.init_args(run),
        &spec,
        0.0,
        run.seed,
        tc.batch,
        train,
        pool,
        false,
    )?;
    let par = Par::for_threads(pool.current_num_threads());
    let mut state = SgdState::new(&mlp, tc.momentum);
    let m0 = pool.install(|| epoch_zero(&mlp, test, par));
    let mut history = vec![[0.0, f64::NAN, f64::NAN, m0.test_loss, m0.test_err]];
    let mut trainer = Trainer::new(&mlp, &tc, par);
    for epoch in 1..=sweep.epochs {
        let mut shuffle = shuffle_stream(run.seed, epoch);
        let m =
            pool.install(|| trainer.epoch(&mut mlp, &mut state, train, test, epoch, &mut shuffle))?;
        history.push([
            epoch as f64,
            m.train_loss,
            m.train_acc,
            m.test_loss,
            m.test_err,
        ]);
    }
    let digest = to_hex(&sha256(&encode_weights(&mlp)));
    Ok(RunRecord {
        config: cfg.clone(),
        history: history
            .iter()
            .map(|r| r.map(|v| v.is_finite().then_some(v)))
            .collect(),
        seconds: start.elapsed().as_secs_f64(),
        weights_sha256: digest,
        provenance: Some(Machine::this(pool.current_num_threads())),
    })
}

/// Runs `todo` (indices into `all` and `configs`), `jobs` at a time with `threads` each, and
/// hands each result to `on_result` on this thread as it arrives. After a failure no run is
/// started (the running ones finish). A worker whose thread pool cannot be built reports
/// index `usize::MAX`.
pub(super) fn execute_all(
    sweep: &Sweep,
    all: &[Run],
    configs: &[(Value, String)],
    todo: &[usize],
    (train, test): (Split<'_>, Split<'_>),
    (jobs, threads): (usize, usize),
    mut on_result: impl FnMut(usize, Result<RunRecord>),
) {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Result<RunRecord>)>();
    std::thread::scope(|s| {
        for _ in 0..jobs.min(todo.len()) {
            let (tx, next) = (tx.clone(), &next);
            s.spawn(move || {
                let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send((usize::MAX, Err(e.into())));
                        return;
                    }
                };
                while let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let r = execute(sweep, &all[i], &configs[i].0, train, test, &pool);
                    let failed = r.is_err();
                    if tx.send((i, r)).is_err() || failed {
                        // Stop taking runs after a failure; the others finish theirs.
                        next.store(todo.len(), Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            on_result(i, r);
        }
    });
}
