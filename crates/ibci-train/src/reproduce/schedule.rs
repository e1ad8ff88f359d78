//! The sweep's jobs: what is cached, what runs, `--jobs` at a time, with progress.

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ibci_nn::atomic::write_atomically;
use ibci_nn::ArchSpec;
use serde_json::Value;

use super::args::ReproduceArgs;
use super::cache::{adopt, cached, Cached, RunRecord, RunResult};
use super::execute::{execute_all, load_data};
use super::init_info::init_info;
use super::merge::merge;
use super::report::write_outputs;
use super::sweep::Sweep;
use super::verify::verify_runs;
use crate::lock::OutLock;

/// Runs `ibci reproduce`.
pub fn run(args: &ReproduceArgs, argv: &[String]) -> Result<()> {
    let start = Instant::now();
    if !args.merge.is_empty() && args.out.is_none() && !args.names_a_sweep() {
        return Err(crate::usage::usage(anyhow::anyhow!(
            "--merge without sweep flags needs --out DIR"
        )));
    }
    let sweep = Sweep::from_args(args).map_err(crate::usage::usage)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&sweep.name));
    let runs_dir = out.join("runs");
    if args.verify && !runs_dir.is_dir() {
        bail!(
            "--verify: {} holds no runs to verify (give the sweep's --out)",
            out.display()
        );
    }
    let existed = out.exists();
    fs::create_dir_all(&runs_dir).with_context(|| format!("creating {}", runs_dir.display()))?;
    let _lock = OutLock::take(&out.join(".ibci.lock"), &format!("--out {}", out.display()))?;
    let result = if args.merge.is_empty() {
        sweep_in(args, argv, sweep, &out, start)
    } else {
        merge(args, &out, argv)
    };
    if result.is_err() && !existed {
        remove_if_unused(&out);
    }
    result
}

/// Removes an output directory that this command created and that holds no finished run
/// (a failure before any result leaves nothing behind). Called with its lock held.
fn remove_if_unused(out: &std::path::Path) {
    let runs = out.join("runs");
    let empty = fs::read_dir(&runs).is_ok_and(|mut d| d.next().is_none());
    if empty {
        let _ = fs::remove_dir(&runs);
        let _ = fs::remove_file(out.join("sweep.json"));
        let _ = fs::remove_file(out.join(".ibci.lock"));
        let _ = fs::remove_dir(out);
    }
}

/// The sweep itself, in `out` (created and locked).
fn sweep_in(
    args: &ReproduceArgs,
    argv: &[String],
    mut sweep: Sweep,
    out: &std::path::Path,
    start: Instant,
) -> Result<()> {
    let runs_dir = out.join("runs");
    let shard = args.shard;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = args.jobs.unwrap_or((cores / args.threads_per_run).max(1));

    let (train, test, data_sha) = load_data(&sweep)?;
    sweep.name_data(&data_sha);
    let labels = 1 + train.y.iter().chain(&test.y).copied().max().unwrap_or(0);
    for net in &sweep.nets {
        let spec = ArchSpec::parse(net)?;
        if spec.outputs() < labels || spec.inputs() != train.x.cols() {
            bail!(
                "--nets {net}: {} inputs and {} outputs, but the data have {} pixels and labels up to {}",
                spec.inputs(),
                spec.outputs(),
                train.x.cols(),
                labels - 1
            );
        }
    }
    let describe = sweep.describe(&data_sha);
    // --verify writes nothing: the directory keeps the sweep it was made for.
    if !args.verify {
        write_atomically(
            &out.join("sweep.json"),
            serde_json::to_string_pretty(&describe)?.as_bytes(),
        )?;
    }
    let all = sweep.runs();
    let mine: Vec<usize> = (0..all.len())
        .filter(|i| shard.is_none_or(|(s, n)| i % n == s - 1))
        .collect();
    let configs: Vec<(Value, String)> =
        all.iter().map(|r| sweep.run_config(r, &data_sha)).collect();
    if args.init_info {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs * args.threads_per_run)
            .build()?;
        return init_info(
            &sweep,
            &all,
            &configs,
            (train.view(), test.view()),
            out,
            &pool,
        );
    }
    // Each run's result: from the cache now, or from its worker below.
    let mut results: Vec<Option<RunResult>> = vec![None; all.len()];
    let mut unchecked = 0;
    for &i in &mine {
        let (cfg, key) = &configs[i];
        let path = runs_dir.join(format!("{key}.json"));
        match cached(out, cfg, key, sweep.epochs) {
            Cached::Missing => {}
            Cached::Hit(r) => results[i] = Some(r),
            Cached::Unchecked(text, r) if args.adopt_unchecked_cache => {
                adopt(&text, &path, &path)?;
                results[i] = Some(r);
            }
            Cached::Unchecked(..) => unchecked += 1,
            Cached::Bad(why) => eprintln!(
                "ibci reproduce: cached run {} is not used: {why}; {}",
                path.display(),
                if args.verify {
                    "it is not verified"
                } else {
                    "it is run again"
                }
            ),
        }
    }
    if args.verify {
        let cached: Vec<(usize, RunResult)> = mine
            .iter()
            .filter_map(|&i| results[i].take().map(|r| (i, r)))
            .collect();
        eprintln!(
            "ibci reproduce --verify: {} of the sweep's {} runs are cached in {} and run again ({} not cached, {unchecked} without a checksum: not verified); {jobs} at a time x {} thread(s)",
            cached.len(),
            mine.len(),
            runs_dir.display(),
            mine.len() - cached.len() - unchecked,
            args.threads_per_run
        );
        return verify_runs(
            &sweep,
            &all,
            &configs,
            &cached,
            (train.view(), test.view()),
            (jobs, args.threads_per_run),
            out,
        );
    }
    if unchecked > 0 {
        // Running them again could take hours: let the user choose.
        bail!(
            "{unchecked} cached runs in {} have no checksum (written by an older ibci); rerun with --adopt-unchecked-cache to check their configuration and keep them, or delete them to run them again",
            runs_dir.display()
        );
    }
    let todo: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|&i| results[i].is_none())
        .collect();
    if sweep.name == "quick" {
        eprintln!(
            "ibci reproduce: QUICK version (MLP-2, {} epochs, {} seeds); the paper's protocol is --full (MLP-2/3/5, 100 epochs, 5 seeds)",
            sweep.epochs, sweep.seeds
        );
    }
    eprintln!(
        "ibci reproduce: {} runs in the sweep{}, {} cached, {} to run; {jobs} at a time x {} thread(s); results in {}; {} per run, seeds 1 to {}",
        all.len(),
        shard.map_or(String::new(), |(i, n)| format!(" (shard {i}/{n}: {})", mine.len())),
        mine.len() - todo.len(),
        todo.len(),
        args.threads_per_run,
        out.display(),
        // Said every time: a custom sweep takes the quick version's 20 epochs unless told.
        sweep.epochs_text(),
        sweep.seeds
    );

    let run_start = Instant::now();
    let mut failure = None;
    let mut done = 0;
    let on_result = |i: usize, r: Result<RunRecord>| {
        let v = match r {
            Ok(v) => v,
            Err(e) => {
                let what = all
                    .get(i)
                    .map_or("starting a worker".into(), |r| format!("run {}", r.label()));
                failure.get_or_insert(e.context(what));
                return;
            }
        };
        let path = runs_dir.join(format!("{}.json", configs[i].1));
        let written = v.as_cached().and_then(|(text, res)| {
            write_atomically(&path, text.as_bytes())?;
            Ok(res)
        });
        let res = match written {
            Ok(res) => res,
            Err(e) => {
                failure.get_or_insert(e);
                return;
            }
        };
        done += 1;
        let (best, epoch) = res.best();
        let el = run_start.elapsed().as_secs_f64();
        let eta = el / done as f64 * (todo.len() - done) as f64;
        eprintln!(
            "[{done}/{}] {}: min test error {:.2}% at epoch {epoch}, final {:.2}%  ({:.0} s; ETA {})",
            todo.len(),
            all[i].label(),
            100.0 * best,
            100.0 * res.last(),
            v.seconds,
            minutes_seconds(eta)
        );
        results[i] = Some(res);
    };
    execute_all(
        &sweep,
        &all,
        &configs,
        &todo,
        (train.view(), test.view()),
        (jobs, args.threads_per_run),
        on_result,
    );
    if let Some(e) = failure {
        return Err(e.context("the sweep stopped; finished runs are cached, rerun to resume"));
    }
    if let Some((i, n)) = shard {
        say!(
            "shard {i}/{n}: {} runs done in {}; once every shard is done, build the tables with: ibci reproduce --merge SHARD_DIR... --out DIR",
            mine.len(),
            runs_dir.display()
        );
        return Ok(());
    }
    let results = results
        .into_iter()
        .collect::<Option<Vec<RunResult>>>()
        .context("a run of the sweep finished without a result")?;
    write_outputs(
        &sweep,
        &describe,
        &all,
        &results,
        out,
        argv,
        start,
        (jobs, args.threads_per_run),
        todo.len(),
    )
}

/// `seconds` as "M min SS s", rounded to the whole second before it is split (rounding the
/// seconds alone printed 59.6 s as "0 min 60 s").
fn minutes_seconds(seconds: f64) -> String {
    let whole = seconds.max(0.0).round() as u64;
    format!("{} min {:02} s", whole / 60, whole % 60)
}

#[cfg(test)]
mod tests {
    use super::minutes_seconds;

    #[test]
    fn minutes_seconds_rounds_before_it_splits() {
        assert_eq!(minutes_seconds(0.0), "0 min 00 s");
        assert_eq!(minutes_seconds(59.6), "1 min 00 s");
        assert_eq!(minutes_seconds(1379.7), "23 min 00 s");
        assert_eq!(minutes_seconds(1038.2), "17 min 18 s");
        assert_eq!(minutes_seconds(-3.0), "0 min 00 s");
    }
}
