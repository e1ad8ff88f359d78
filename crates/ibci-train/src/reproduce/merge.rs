//! Shards: collecting the runs of a sweep from several output folders into one report.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ibci_nn::atomic::write_atomically;
use serde_json::Value;

use super::args::ReproduceArgs;
use super::cache::{adopt, cached, read_json, Cached, RunResult};
use super::report::write_outputs;
use super::sweep::{Run, Sweep};

/// The results of every run of the sweep, from the runs/ folders of `dirs`, each copied into
/// `out/runs` (sealed with a checksum, for an unchecked entry adopted with `adopt`).
pub(super) fn collect(
    sweep: &Sweep,
    all: &[Run],
    configs: &[(Value, String)],
    dirs: &[PathBuf],
    out: &Path,
    adopt_unchecked: bool,
) -> Result<Vec<RunResult>> {
    let mut results = Vec::with_capacity(all.len());
    let mut missing = Vec::new();
    for (run, (cfg, key)) in all.iter().zip(configs) {
        let name = format!("{key}.json");
        let dst = out.join("runs").join(&name);
        let mut found = None;
        for d in dirs {
            let src = d.join("runs").join(&name);
            match cached(d, cfg, key, sweep.epochs) {
                Cached::Missing => continue,
                Cached::Hit(r) => {
                    if src != dst {
                        fs::copy(&src, &dst)
                            .with_context(|| format!("copying {}", src.display()))?;
                    }
                    found = Some(r);
                }
                Cached::Unchecked(text, r) if adopt_unchecked => {
                    adopt(&text, &src, &dst)?;
                    found = Some(r);
                }
                Cached::Unchecked(..) => eprintln!(
                    "ibci reproduce: {} has no checksum (written by an older ibci); not used without --adopt-unchecked-cache",
                    src.display()
                ),
                Cached::Bad(why) => eprintln!(
                    "ibci reproduce: {} is not used: {why}",
                    src.display()
                ),
            }
            if found.is_some() {
                break;
            }
        }
        match found {
            Some(r) => results.push(r),
            None => missing.push(format!(
                "{} {} {} seed {}",
                run.net, run.base, run.method, run.seed
            )),
        }
    }
    if !missing.is_empty() {
        bail!(
            "{} of {} runs of the sweep have no usable results in {} (first: {}); run the missing shards, or the sweep itself, first",
            missing.len(),
            all.len(),
            dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
            missing[0]
        );
    }
    Ok(results)
}

/// A `sweep.json` without its preset (which only titles the tables; older shards lack it).
fn identity(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("preset");
    }
    v
}

/// `--merge`: the tables from shard directories, for the sweep the flags name or, without
/// sweep flags, the one the first shard's `sweep.json` describes.
pub(super) fn merge(args: &ReproduceArgs, out: &Path, argv: &[String]) -> Result<()> {
    let start = Instant::now();
    let mut data_sha: Option<Vec<String>> = None;
    let mut sweep: Option<Sweep> = None;
    for d in &args.merge {
        let v = read_json(&d.join("sweep.json")).with_context(|| {
            format!(
                "--merge {}: no readable sweep.json (is it a reproduce output directory?)",
                d.display()
            )
        })?;
        let sha: Vec<String> = v["data_sha256"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let s = match sweep.take() {
            Some(s) => s,
            None if args.names_a_sweep() => Sweep::from_args(args).map_err(crate::usage::usage)?,
            None => Sweep::from_record(&v)
                .with_context(|| format!("--merge {}: its sweep.json", d.display()))?,
        };
        let mut s = s;
        s.name_data(&sha);
        if identity(&v) != identity(&s.describe(&sha)) {
            bail!(
                "--merge {}: its sweep differs from {} (compare the sweep.json files)",
                d.display(),
                if args.names_a_sweep() {
                    "the one these flags describe".to_string()
                } else {
                    format!("{}'s", args.merge[0].display())
                }
            );
        }
        if data_sha.as_ref().is_some_and(|s| *s != sha) {
            bail!(
                "--merge {}: its data differ from the other shards'",
                d.display()
            );
        }
        data_sha = Some(sha);
        sweep = Some(s);
    }
    let data_sha = data_sha.expect("at least one --merge directory");
    let sweep = &sweep.expect("at least one --merge directory");
    let all = sweep.runs();
    let configs: Vec<(Value, String)> =
        all.iter().map(|r| sweep.run_config(r, &data_sha)).collect();
    let results = collect(
        sweep,
        &all,
        &configs,
        &args.merge,
        out,
        args.adopt_unchecked_cache,
    )?;
    let describe = sweep.describe(&data_sha);
    write_atomically(
        &out.join("sweep.json"),
        serde_json::to_string_pretty(&describe)?.as_bytes(),
    )?;
    write_outputs(
        sweep,
        &describe,
        &all,
        &results,
        out,
        argv,
        start,
        (0, 0),
        0,
    )
}
