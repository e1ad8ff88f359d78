//! `ibci reproduce`: the paper's Tables 1 and 2, re-run with statistics.
//!
//! A sweep is a list of runs: for each network, base initialiser (Xavier, He), method
//! (Vanilla, LSUV, IBCI, TIE only, IIM only) and seed, one training run exactly as
//! `ibci train --arch NET --init INIT --seed S --epochs E` would do it (same initialisation
//! stream, same shuffles, so the same bits). Runs execute in parallel, `--jobs` at a time
//! with `--threads-per-run` threads each; the thread counts change no result.
//!
//! Cache: each finished run is written to `OUT/runs/KEY.json`, KEY being a digest of its full
//! configuration (data digests, network, initialiser and its options, protocol, seed, subset)
//! and of [`RESULTS_REVISION`], so an interrupted sweep resumes where it stopped, a finished
//! run is never repeated, and a changed configuration is a new run.
//!
//! Outputs (a pure function of the runs, so merging shards gives the same bytes):
//! `runs.csv` (one row per run and epoch), `summary.md` (the tables), `plots/*.svg` (mean
//! test-error curves with +-1 std bands); and `manifest.json` (command, machine, timings).
//!
//! One file per concern: [`args`] (flags), [`sweep`] (what runs), [`paper`] (the paper's
//! values), [`cache`] (finished runs on disk), [`execute`] (one run), [`schedule`] (the
//! sweep's jobs), [`merge`] (shards), [`report`] (CSV, tables, plots, manifest), [`verify`]
//! (cached runs run again and compared).

mod args;
mod cache;
mod execute;
mod init_info;
mod merge;
mod paper;
mod report;
mod schedule;
mod sweep;
mod verify;

pub use args::ReproduceArgs;
pub use schedule::run;

/// Bumped whenever a change to ibci changes the numbers a run produces: part of every cache
/// key, so results of older code are never mixed with new ones.
pub const RESULTS_REVISION: u32 = 1;

/// The seed of the training subset (`--train-subset`), fixed so that every run of a sweep
/// trains on the same images.
pub const SUBSET_SEED: u64 = 0x5eed_0f5a_b5e7;
