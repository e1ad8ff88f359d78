//! Seeded mutation test: 100,000 corrupted IDX inputs (bit flips, truncations, header edits,
//! absurd dimensions, appended bytes; raw and gzip) through the parser. None may panic; each
//! must be `Ok` or a typed error, and an `Ok` must be self-consistent.

mod common;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use common::{gz, idx};
use ibci_idx::{read_bytes, read_from, ElemType, IdxError};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const SEED: u64 = 0x1DC1_2021;
const CASES: usize = 100_000;

fn below(rng: &mut Xoshiro256PlusPlus, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// Well-formed seeds: every element type, ranks 1 to 3.
fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for elem in ElemType::ALL {
        for dims in [&[7u32][..], &[3, 5], &[2, 2, 3]] {
            let n: u32 = dims.iter().product();
            let payload: Vec<u8> = (0..n as usize * elem.size())
                .map(|i| (i * 29 + 3) as u8)
                .collect();
            out.push(idx(elem.code(), dims, &payload));
        }
    }
    out
}

fn mutate(rng: &mut Xoshiro256PlusPlus, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    let rounds = 1 + below(rng, 3);
    for _ in 0..rounds {
        match below(rng, 7) {
            // Flip 1 to 8 random bits.
            0 => {
                for _ in 0..1 + below(rng, 8) {
                    if !v.is_empty() {
                        let i = below(rng, v.len());
                        v[i] ^= 1 << below(rng, 8);
                    }
                }
            }
            // Truncate anywhere (including to nothing).
            1 => {
                let n = below(rng, v.len() + 1);
                v.truncate(n);
            }
            // Edit a header byte (magic, type code or rank) to a random value.
            2 => {
                if v.len() >= 4 {
                    v[below(rng, 4)] = rng.next_u32() as u8;
                }
            }
            // Set a dimension to an absurd value.
            3 => {
                if v.len() >= 8 {
                    let rank = usize::from(v[3]).min((v.len() - 4) / 4).max(1);
                    let at = 4 + 4 * below(rng, rank);
                    let absurd = [u32::MAX, 1 << 31, 1 << 16, 0, rng.next_u32()][below(rng, 5)];
                    v[at..at + 4].copy_from_slice(&absurd.to_be_bytes());
                }
            }
            // Append random bytes.
            4 => {
                for _ in 0..1 + below(rng, 16) {
                    v.push(rng.next_u32() as u8);
                }
            }
            // Huge rank claim.
            5 => {
                if v.len() >= 4 {
                    v[3] = 200 + below(rng, 56) as u8;
                }
            }
            // Overwrite a random run with random bytes.
            _ => {
                if !v.is_empty() {
                    let i = below(rng, v.len());
                    let len = (1 + below(rng, 8)).min(v.len() - i);
                    for b in &mut v[i..i + len] {
                        *b = rng.next_u32() as u8;
                    }
                }
            }
        }
    }
    v
}

fn kind(e: &IdxError) -> &'static str {
    match e {
        IdxError::BadMagic { .. } => "BadMagic",
        IdxError::UnknownType { .. } => "UnknownType",
        IdxError::ShapeOverflow { .. } => "ShapeOverflow",
        IdxError::Truncated { .. } => "Truncated",
        IdxError::TrailingBytes { .. } => "TrailingBytes",
        IdxError::Gzip { .. } => "Gzip",
        other => panic!("the parser returned a data-set-level error: {other:?}"),
    }
}

#[test]
fn hundred_thousand_mutations_never_panic() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let seeds = seeds();
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for case in 0..CASES {
        let base = &seeds[below(&mut rng, seeds.len())];
        // Mutate the raw file and gzip it (corrupt IDX in a sound gzip stream), or mutate the
        // gzip stream itself, or mutate the raw file and parse it as raw.
        let input = match below(&mut rng, 3) {
            0 => gz(&mutate(&mut rng, base)),
            1 => mutate(&mut rng, &gz(base)),
            _ => mutate(&mut rng, base),
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let a = read_bytes(&input, Path::new("mutant"));
            let b = read_from(&input[..], Path::new("mutant"));
            (a, b)
        }));
        let (a, b) = outcome.unwrap_or_else(|_| {
            panic!("seed {SEED:#x}, case {case}: the parser panicked on {input:02x?}")
        });
        match (&a, &b) {
            (Ok(x), Ok(y)) => {
                // Bitwise comparison (payloads may hold NaN).
                let re = x.to_idx_bytes();
                assert_eq!(
                    (&x.header, x.gzip, &re),
                    (&y.header, y.gzip, &y.to_idx_bytes()),
                    "seed {SEED:#x}, case {case}: entry points disagree"
                );
                assert_eq!(re.len() as u64, x.header.total_bytes(), "case {case}");
                if !x.gzip {
                    assert_eq!(
                        re, input,
                        "seed {SEED:#x}, case {case}: re-encoding differs"
                    );
                }
                *tally.entry("Ok").or_default() += 1;
            }
            (Err(x), Err(y)) => {
                assert_eq!(kind(x), kind(y), "seed {SEED:#x}, case {case}: {x} vs {y}");
                *tally.entry(kind(x)).or_default() += 1;
            }
            _ => panic!("seed {SEED:#x}, case {case}: entry points disagree: {a:?} vs {b:?}"),
        }
    }
    println!("mutation outcomes (seed {SEED:#x}): {tally:?}");
    assert_eq!(tally.values().sum::<usize>(), CASES);
    // The mutations must reach every outcome, or the test is not testing much.
    for k in [
        "Ok",
        "BadMagic",
        "UnknownType",
        "ShapeOverflow",
        "Truncated",
        "TrailingBytes",
        "Gzip",
    ] {
        assert!(
            tally.get(k).copied().unwrap_or(0) > 50,
            "too few {k}: {tally:?}"
        );
    }
}
