//! One run of a sweep: its data, initialisation and training, as `ibci train` would do it.

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
