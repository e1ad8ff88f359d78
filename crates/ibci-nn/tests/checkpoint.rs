//! Checkpoint round trip, and every kind of damage is a typed error, never a panic.

use std::path::Path;

use ibci_nn::checkpoint::{decode, encode, Checkpoint, CheckpointError};
use ibci_nn::init::{BiasInit, WeightInit};
use ibci_nn::train::{EpochMetrics, SgdState};
use ibci_nn::{ArchSpec, Mlp};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn sample() -> Checkpoint {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let spec = ArchSpec::parse("7-5-3")
        .unwrap()
        .with_activations("tanh,sigmoid")
        .unwrap();
    let mlp = Mlp::init(
        &spec,
        &[WeightInit::XavierNormal { gain: 1.0 }; 2],
        BiasInit::LinearDefault,
        &mut rng,
    );
    let mut state = SgdState::new(&mlp, 0.9);
    state.velocity[1].1[2] = 0.25;
    let m = |e: usize| EpochMetrics {
        epoch: e,
        train_loss: if e == 0 { f64::NAN } else { 1.0 / e as f64 },
        train_acc: 0.5,
        test_loss: 0.75,
        test_err: 0.125,
        seconds: 0.01,
    };
    Checkpoint {
        fingerprint: r#"{"seed":5}"#.into(),
        epoch: 2,
        mlp,
        state,
        history: vec![m(0), m(1), m(2)],
    }
}

#[test]
fn round_trip_is_exact() {
    let c = sample();
    let bytes = encode(&c);
    let d = decode(&bytes, Path::new("ck")).unwrap();
    assert_eq!(d.fingerprint, c.fingerprint);
    assert_eq!(d.epoch, 2);
    assert_eq!(d.mlp, c.mlp);
    assert_eq!(d.state, c.state);
    assert!(d.history[0].train_loss.is_nan());
    assert_eq!(d.history[2], c.history[2]);
    assert_eq!(encode(&d), bytes, "re-encoding is byte-identical");
}

#[test]
fn truncations_and_bit_flips_are_typed_errors() {
    let bytes = encode(&sample());
    for len in 0..bytes.len() {
        let e = decode(&bytes[..len], Path::new("ck")).unwrap_err();
        assert!(
            matches!(e, CheckpointError::Corrupt { .. }),
            "length {len}: {e}"
        );
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(6);
    for case in 0..2_000 {
        let mut b = bytes.clone();
        let i = (rng.next_u64() % b.len() as u64) as usize;
        b[i] ^= 1 << (rng.next_u32() % 8);
        let e = decode(&b, Path::new("ck")).unwrap_err();
        assert!(
            matches!(e, CheckpointError::Corrupt { .. }),
            "case {case}, byte {i}: {e}"
        );
    }
}
