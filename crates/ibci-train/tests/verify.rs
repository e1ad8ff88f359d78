//! `ibci reproduce --verify` on a tiny synthetic data set: cached runs run again give their
//! cached weights and epochs (success, nothing written); an entry whose weights digest differs
//! (re-sealed, so the cache itself accepts it) fails by name with exit 1; an output directory
//! without the sweep's runs fails with exit 1; `--verify` beside `--merge` is a usage error.

mod common;

use std::path::Path;
use std::process::Output;

use common::{tempdir, Tiny};
use ibci_idx::sha256::{sha256, to_hex};

/// [`common::reproduce`] of He and Vanilla only.
fn reproduce(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let sweep = ["--bases", "he", "--methods", "vanilla"];
    common::reproduce(data, out, &[&sweep[..], extra].concat())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Every file under `dir` but the lock (which holds the last locking process's id), with its
/// bytes, sorted by path.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if !p.ends_with(".ibci.lock") {
                let bytes = std::fs::read(&p).unwrap();
                files.push((p, bytes));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn verify_runs_cached_runs_again_and_fails_on_a_difference() {
    let root = tempdir("verify");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    common::tiny_dataset(
        &data,
        &Tiny {
            seed: 778,
            noise_bits: 7,
            lit: 128,
            train: 300,
            test: 80,
        },
    );
    let out = root.join("out");
    let o = reproduce(&data, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    // The same runs again: the same bits, and nothing in the directory changes.
    let before = snapshot(&out);
    let o = reproduce(&data, &out, &["--verify", "--jobs", "2"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(err.matches(": the same (weights ").count(), 2, "{err}");
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains("all 2 runs gave their cached weights"),
        "{said}"
    );
    assert!(
        snapshot(&out) == before,
        "--verify wrote to the output directory"
    );

    // One seed's sweep verifies that seed's run alone.
    let o = reproduce(&data, &out, &["--verify", "--seeds", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o).matches(": the same (weights ").count(), 1);

    // An entry whose weights digest is not what the run gives, sealed anew so that the cache
    // accepts it: --verify names the run and fails.
    let (path, text) = before
        .iter()
        .find(|(p, _)| p.parent().is_some_and(|d| d.ends_with("runs")))
        .map(|(p, b)| (p.clone(), String::from_utf8(b.clone()).unwrap()))
        .expect("a cached run");
    let body = &text[..text.find(",\"content_sha256\":\"").expect("a sealed entry")];
    let at = body.find("\"weights_sha256\":\"").unwrap() + "\"weights_sha256\":\"".len();
    let flipped = if &body[at..=at] == "0" { "1" } else { "0" };
    let edited = format!("{}{flipped}{}}}", &body[..at], &body[at + 1..]);
    let sealed = format!(
        "{},\"content_sha256\":\"{}\"}}",
        &edited[..edited.len() - 1],
        to_hex(&sha256(edited.as_bytes()))
    );
    std::fs::write(&path, &sealed).unwrap();
    let o = reproduce(&data, &out, &["--verify"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.matches(": DIFFERENT: weights ").count(), 1, "{err}");
    assert_eq!(err.matches(": the same (weights ").count(), 1, "{err}");
    assert!(err.contains("1 of 2 runs differ"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), sealed);

    // Nothing to verify against: a directory without the sweep's runs, or none at all.
    let o = reproduce(&data, &out, &["--verify", "--epochs", "3"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("holds none of this sweep's runs"));
    let o = reproduce(&data, &root.join("nowhere"), &["--verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("holds no runs to verify"));
    assert!(!root.join("nowhere").exists());

    // A usage error: --verify does not build tables from shards.
    let o = reproduce(&data, &out, &["--verify", "--merge", "a"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
