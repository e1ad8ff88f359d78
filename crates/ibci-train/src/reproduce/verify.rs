//! `ibci reproduce --verify`: each run of the sweep that the output directory holds is run
//! again, and its final weights (their SHA-256) and every epoch's numbers are compared with
//! the cached entry, bit for bit. Nothing is written; any difference fails the command.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use ibci_nn::train::Split;
use serde_json::Value;

use super::cache::{RunRecord, RunResult};
use super::execute::execute_all;
use super::sweep::{Run, Sweep};

/// What a run gave again, against its cached entry: `None` if the same, else what differs.
fn difference(again: &RunRecord, cached: &RunResult) -> Result<Option<String>> {
    let (_, now) = again.as_cached()?;
    let want = cached
        .weights_sha256
        .as_deref()
        .unwrap_or("(none recorded)");
    if again.weights_sha256 != want {
        return Ok(Some(format!(
            "weights {} against the cached {want}",
            again.weights_sha256
        )));
    }
    let bits = |r: &[f64; 5]| r.map(f64::to_bits);
    if now.history.len() != cached.history.len() {
        return Ok(Some(format!(
            "{} epochs against the cached {}",
            now.history.len(),
            cached.history.len()
        )));
    }
    Ok(now
        .history
        .iter()
        .zip(&cached.history)
        .find(|(a, b)| bits(a) != bits(b))
        .map(|(a, b)| format!("epoch {}: {a:?} against the cached {b:?}", a[0])))
}

/// Runs every `(index, cached result)` of `todo` again, `jobs` at a time with `threads` each
/// ([`execute_all`]), and compares; fails if any differs.
pub(super) fn verify_runs(
    sweep: &Sweep,
    all: &[Run],
    configs: &[(Value, String)],
    todo: &[(usize, RunResult)],
    data: (Split<'_>, Split<'_>),
    jobs: (usize, usize),
    out: &Path,
) -> Result<()> {
    if todo.is_empty() {
        bail!(
            "--verify: {} holds none of this sweep's runs (give the sweep's flags and its --out)",
            out.join("runs").display()
        );
    }
    let cached: HashMap<usize, &RunResult> = todo.iter().map(|(i, r)| (*i, r)).collect();
    let indices: Vec<usize> = todo.iter().map(|&(i, _)| i).collect();
    let (mut done, mut differ) = (0, Vec::new());
    let mut failure = None;
    execute_all(sweep, all, configs, &indices, data, jobs, |i, r| {
        let what = all.get(i).map_or("starting a worker".into(), Run::label);
        let verdict = r.and_then(|again| {
            let cached = cached
                .get(&i)
                .context("a result for a run that was not asked for")?;
            Ok((difference(&again, cached)?, again.weights_sha256))
        });
        match verdict {
            Ok((None, digest)) => {
                done += 1;
                eprintln!(
                    "[{done}/{}] {what}: the same (weights {digest})",
                    todo.len()
                );
            }
            Ok((Some(why), _)) => {
                done += 1;
                eprintln!("[{done}/{}] {what}: DIFFERENT: {why}", todo.len());
                differ.push(what);
            }
            Err(e) => {
                failure.get_or_insert(e.context(what));
            }
        }
    });
    if let Some(e) = failure {
        return Err(e.context("--verify stopped"));
    }
    if !differ.is_empty() {
        bail!(
            "--verify: {} of {} runs differ from their entries in {}: {}",
            differ.len(),
            todo.len(),
            out.join("runs").display(),
            differ.join(", ")
        );
    }
    let runs = match todo.len() {
        1 => "the one run gave its".to_string(),
        n => format!("all {n} runs gave their"),
    };
    say!(
        "--verify: {runs} cached weights and every epoch's numbers, bit for bit ({})",
        out.join("runs").display()
    );
    Ok(())
}
