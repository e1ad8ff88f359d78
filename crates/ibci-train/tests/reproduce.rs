//! `ibci reproduce` end to end on a tiny synthetic data set: outputs, the cache (resume, a
//! changed config is a new run), and shards merged into byte-identical summaries.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{reproduce, tempdir, Tiny};

/// 4 classes of 4x4 images (class c lights row c), deterministic noise.
fn tiny_dataset(dir: &Path) {
    common::tiny_dataset(
        dir,
        &Tiny {
            seed: 777,
            noise_bits: 7,
            lit: 128,
            train: 300,
            test: 80,
        },
    );
}

/// A fresh temporary directory holding the tiny data set in `data_dir` (relative to it):
/// (the directory, the data set's path).
fn with_tiny_data(name: &str, data_dir: &str) -> (PathBuf, PathBuf) {
    let root = tempdir(name);
    let data = root.join(data_dir);
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data);
    (root, data)
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{err}");
    err
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const OUTPUTS: [&str; 4] = [
    "summary.md",
    "runs.csv",
    "plots/16-8-4-xavier.svg",
    "plots/16-8-4-he.svg",
];

#[test]
fn sweeps_cache_resume_and_merge_shards_byte_identically() {
    let (root, data) = with_tiny_data("reproduce", "data");
    let a = root.join("a");

    // A whole sweep: 2 bases x 5 methods x 2 seeds.
    let err = ok(&reproduce(&data, &a, &["--jobs", "2"]));
    assert!(
        err.contains("20 runs in the sweep, 0 cached, 20 to run"),
        "{err}"
    );
    assert!(err.contains("; 2 epochs per run, seeds 1 to 2"), "{err}");
    let csv = String::from_utf8(read(&a.join("runs.csv"))).unwrap();
    assert_eq!(csv.lines().count(), 1 + 20 * 3, "one row per run and epoch");
    let summary = String::from_utf8(read(&a.join("summary.md"))).unwrap();
    for needle in [
        "## Table 1",
        "## Table 2",
        "Welch's 95% confidence interval",
        "| He | 16-8-4 |",
        "The paper reports MNIST only",
    ] {
        assert!(summary.contains(needle), "{needle} missing:\n{summary}");
    }
    assert!(read(&a.join("plots/16-8-4-he.svg")).starts_with(b"<svg"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(&a.join("manifest.json"))).unwrap();
    assert_eq!(manifest["results"]["runs"], 20);
    assert_eq!(manifest["command"], "reproduce");
    // The manifest names the data the sweep ran on: the four files' digests, as sweep.json.
    let sweep: serde_json::Value = serde_json::from_slice(&read(&a.join("sweep.json"))).unwrap();
    assert_eq!(manifest["config"], sweep);
    assert_eq!(
        manifest["config"]["data_sha256"].as_array().map(Vec::len),
        Some(4)
    );
    let files = manifest["data"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    assert_eq!(files[0]["sha256"], sweep["data_sha256"][0]);

    // Nothing to do the second time; the outputs are the same bytes.
    let before: Vec<Vec<u8>> = OUTPUTS.iter().map(|f| read(&a.join(f))).collect();
    let err = ok(&reproduce(&data, &a, &["--jobs", "1"]));
    assert!(err.contains("20 cached, 0 to run"), "{err}");
    // An interrupted sweep: three runs lost; only they run again, to the same results.
    let mut files: Vec<_> = std::fs::read_dir(a.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .take(3)
        .for_each(|f| std::fs::remove_file(f).unwrap());
    let err = ok(&reproduce(
        &data,
        &a,
        &["--threads-per-run", "2", "--jobs", "1"],
    ));
    assert!(err.contains("17 cached, 3 to run"), "{err}");
    for (f, b) in OUTPUTS.iter().zip(&before) {
        assert!(read(&a.join(f)) == *b, "{f} changed after resuming");
    }
    // A changed configuration is a new run.
    let err = ok(&reproduce(
        &data,
        &a,
        &["--epochs", "3", "--methods", "ibci", "--bases", "he"],
    ));
    assert!(
        err.contains("2 runs in the sweep, 0 cached, 2 to run"),
        "{err}"
    );

    // Shards 1/3, 2/3, 3/3 merged give the single-machine bytes.
    let shards: Vec<_> = (1..=3).map(|i| root.join(format!("s{i}"))).collect();
    for (i, s) in shards.iter().enumerate() {
        let err = ok(&reproduce(&data, s, &["--shard", &format!("{}/3", i + 1)]));
        assert!(err.contains(&format!("shard {}/3", i + 1)), "{err}");
        assert!(
            !s.join("summary.md").exists(),
            "a shard alone writes no tables"
        );
    }
    let m = root.join("merged");
    // With a shard missing, merging names what is missing.
    let o = reproduce(
        &data,
        &m,
        &[
            "--merge",
            shards[0].to_str().unwrap(),
            shards[1].to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("have no usable results"),
        "{err}"
    );
    let mut args = vec!["--merge"];
    args.extend(shards.iter().map(|s| s.to_str().unwrap()));
    ok(&reproduce(&data, &m, &args));
    for (f, b) in OUTPUTS.iter().zip(&before) {
        assert!(
            read(&m.join(f)) == *b,
            "merged {f} differs from the single-machine run"
        );
    }
    // The sweep is read from the shards: merging needs no sweep flags, and gives the same
    // bytes.
    let m2 = root.join("merged-without-flags");
    let o = Command::new(env!("CARGO_BIN_EXE_ibci"))
        .args(["reproduce", "--out", m2.to_str().unwrap(), "--merge"])
        .args(shards.iter().map(|s| s.to_str().unwrap()))
        .output()
        .unwrap();
    ok(&o);
    for (f, b) in OUTPUTS.iter().zip(&before) {
        assert!(
            read(&m2.join(f)) == *b,
            "{f} merged without sweep flags differs"
        );
    }
    // Shards of another sweep are refused.
    let o = reproduce(
        &data,
        &m,
        &["--epochs", "3", "--merge", shards[0].to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("sweep differs"),
        "{err}"
    );

    // Bad flags: usage errors (status 2) for what the flags alone decide, before any work;
    // failed work (status 1) for what only the data can tell.
    for (flags, msg, code) in [
        (&["--shard", "3/2"][..], "'3/2' for '--shard", 2),
        (&["--bases", "lecun"][..], "--bases", 2),
        (&["--methods", "magic"][..], "--methods", 2),
        (&["--jobs", "0"][..], "'0' for '--jobs", 2),
        (
            &["--threads-per-run", "100000"][..],
            "expected 1 to 1024",
            2,
        ),
        (&["--epochs", "0"][..], "'0' for '--epochs", 2),
        (&["--nets", "mlp2,nonsense"][..], "--nets", 2),
        (&["--nets", "784-100-10"][..], "16 pixels", 1),
        (&["--train-subset", "301"][..], "--train-subset 301", 1),
    ] {
        let o = reproduce(&data, &root.join("bad"), flags);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{flags:?}: {err}");
        assert!(err.contains(msg), "{flags:?}: {err}");
        assert!(
            !root.join("bad").exists(),
            "{flags:?}: a sweep that failed before any run left its directory behind"
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// The committed `results/full` tables, recomputed here from its `runs.csv` without the
/// binary's statistics code: every Table 1 cell (mean ± sample std of the per-seed minimal
/// test error, and the mean epoch of the first minimum) and every IBCI − baseline row of the
/// minimal error (the difference of means, and the Welch interval's half-width against
/// Student's t from the printed table, df 4 to 8, interpolated in 1/df).
#[test]
fn summary_cells_match_runs_csv() {
    use std::collections::BTreeMap;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results/full");
    let csv = std::fs::read_to_string(dir.join("runs.csv")).expect("results/full/runs.csv");
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary.md");
    // (net, base, method) -> seed -> (minimal error %, its first epoch).
    type Best = BTreeMap<(String, String, String), BTreeMap<u64, (f64, f64)>>;
    let mut best = Best::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let epoch: u64 = f[4].parse().unwrap();
        if epoch == 0 {
            continue;
        }
        let err = 100.0 * f[8].parse::<f64>().unwrap();
        let key = (f[0].to_string(), f[1].to_string(), f[2].to_string());
        let seed: u64 = f[3].parse().unwrap();
        let e = best
            .entry(key)
            .or_default()
            .entry(seed)
            .or_insert((f64::INFINITY, 0.0));
        if err < e.0 {
            *e = (err, epoch as f64);
        }
    }
    let stats = |net: &str, base: &str, method: &str| -> (Vec<f64>, f64, f64, f64) {
        let runs = &best[&(net.to_string(), base.to_string(), method.to_string())];
        let v: Vec<f64> = runs.values().map(|r| r.0).collect();
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let ep = runs.values().map(|r| r.1).sum::<f64>() / n;
        (v, m, sd, ep)
    };
    // t(0.975, df) from the printed table.
    let t_table = [
        (4.0, 2.776),
        (5.0, 2.571),
        (6.0, 2.447),
        (7.0, 2.365),
        (8.0, 2.306),
    ];
    let t975 = |df: f64| -> f64 {
        let w = t_table
            .windows(2)
            .find(|w| df <= w[1].0)
            .expect("df within 4..8");
        let ((d0, t0), (d1, t1)) = (w[0], w[1]);
        let s = (1.0 / df - 1.0 / d0) / (1.0 / d1 - 1.0 / d0);
        t0 + s * (t1 - t0)
    };
    let mut checked = 0;
    for (base, base_label) in [("xavier", "Xavier"), ("he", "He")] {
        for (net, net_label) in [("mlp2", "MLP-2"), ("mlp3", "MLP-3"), ("mlp5", "MLP-5")] {
            let rows: Vec<&str> = summary
                .lines()
                .filter(|l| l.starts_with(&format!("| {base_label} | {net_label} |")))
                .collect();
            // Table 1: Vanilla, LSUV, IBCI in columns 2, 5, 8.
            let cells: Vec<&str> = rows[0].split('|').map(str::trim).collect();
            for (method, col) in [("vanilla", 3), ("lsuv", 6), ("ibci", 9)] {
                let (_, m, sd, ep) = stats(net, base, method);
                assert_eq!(
                    cells[col],
                    format!("{m:.2} ± {sd:.2} ({ep:.1})"),
                    "{base} {net} {method}"
                );
                checked += 1;
            }
            // IBCI − Vanilla and IBCI − LSUV: difference and interval (the first row of each
            // comparison is the minimal error's).
            let (ib, mi, _, _) = stats(net, base, "ibci");
            for (other, label) in [("vanilla", "Vanilla"), ("lsuv", "LSUV")] {
                let row = rows
                    .iter()
                    .find(|l| l.starts_with(&format!("| {base_label} | {net_label} | {label} |")))
                    .expect("a comparison row");
                let ci: Vec<&str> = row.split('|').map(str::trim).collect();
                let col = 6;
                let (ob, mo, _, _) = stats(net, base, other);
                let var = |v: &[f64], m: f64| {
                    v.iter().map(|x| (x - m).powi(2)).sum::<f64>()
                        / (v.len() as f64 - 1.0)
                        / v.len() as f64
                };
                let (va, vb) = (var(&ib, mi), var(&ob, mo));
                let df = (va + vb).powi(2) / (va * va / 4.0 + vb * vb / 4.0);
                let half = t975(df) * (va + vb).sqrt();
                let nums: Vec<f64> = ci[col]
                    .replace(['[', ']', ','], " ")
                    .split_whitespace()
                    .map(|x| x.parse().unwrap())
                    .collect();
                let (diff, lo, hi) = (nums[0], nums[1], nums[2]);
                assert!(
                    (diff - (mi - mo)).abs() < 6e-4,
                    "{base} {net} {other}: {diff}"
                );
                assert!(
                    ((hi - lo) / 2.0 - half).abs() < 4e-3,
                    "{base} {net} {other}: half-width {} against {half} (df {df:.2})",
                    (hi - lo) / 2.0
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 30);
}

/// The cache cannot lie: an edited entry is reported and run again (never used), an entry
/// without a checksum is used only when adopted, and every run keeps where it was computed.
#[test]
fn a_bad_cache_entry_is_reported_and_run_again() {
    let (root, data) = with_tiny_data("reproduce-cache", "data");
    let a = root.join("a");
    let sweep: &[&str] = &["--bases", "he", "--methods", "vanilla"];
    ok(&reproduce(&data, &a, sweep));
    let summary = read(&a.join("summary.md"));
    let manifest = |dir: &Path| -> serde_json::Value {
        serde_json::from_slice(&read(&dir.join("manifest.json"))).unwrap()
    };
    let m = manifest(&a);
    assert_eq!(m["results"]["computed_now"], 2);
    assert_eq!(m["results"]["from_cache"], 0);
    let machines = m["results"]["provenances"].as_array().unwrap();
    assert_eq!(machines.len(), 1, "{machines:?}");
    assert_eq!(machines[0]["runs"], 2);
    assert_eq!(machines[0]["machine"]["threads"], 1);
    assert!(machines[0]["machine"]["kernel_path"].is_string());
    assert!(machines[0]["machine"]["cpu_model"].is_string());

    let mut entries: Vec<_> = std::fs::read_dir(a.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    // Edit one digit of a cached test error: the entry is refused, by name, and re-run.
    let text = String::from_utf8(read(&entries[0])).unwrap();
    let at = text.find("]]").expect("the history's end") - 1;
    let digit = if &text[at..=at] == "1" { "2" } else { "1" };
    std::fs::write(
        &entries[0],
        format!("{}{digit}{}", &text[..at], &text[at + 1..]),
    )
    .unwrap();
    let err = ok(&reproduce(&data, &a, sweep));
    assert!(err.contains("1 cached, 1 to run"), "{err}");
    assert!(
        err.contains("does not match its checksum") && err.contains(entries[0].to_str().unwrap()),
        "{err}"
    );
    assert!(
        read(&a.join("summary.md")) == summary,
        "the re-run gives the same table"
    );
    let m = manifest(&a);
    assert_eq!(
        (&m["results"]["computed_now"], &m["results"]["from_cache"]),
        (&1.into(), &1.into())
    );

    // An entry from before checksums (no checksum, no provenance): re-run unless adopted.
    let sealed = String::from_utf8(read(&entries[1])).unwrap();
    let legacy = sealed[..sealed.find(",\"provenance\"").unwrap()].to_string() + "}";
    std::fs::write(&entries[1], &legacy).unwrap();
    let err = ok(&reproduce(
        &data,
        &a,
        &[sweep, &["--adopt-unchecked-cache"]].concat(),
    ));
    assert!(err.contains("2 cached, 0 to run"), "{err}");
    assert!(read(&a.join("summary.md")) == summary);
    let adopted = String::from_utf8(read(&entries[1])).unwrap();
    assert!(
        adopted.starts_with(&legacy[..legacy.len() - 1]),
        "numbers kept as written"
    );
    assert!(adopted.contains("\"provenance\":null,\"content_sha256\":\""));
    let m = manifest(&a);
    let machines = m["results"]["provenances"].as_array().unwrap();
    assert_eq!(machines.len(), 2, "{machines:?}");
    assert!(machines
        .iter()
        .any(|p| p["machine"].is_null() && p["runs"] == 1));
    std::fs::write(&entries[1], &legacy).unwrap();
    let o = reproduce(&data, &a, sweep);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("1 cached runs in") && err.contains("--adopt-unchecked-cache"),
        "{err}"
    );
    assert!(read(&entries[1]) == legacy.as_bytes(), "left as it was");
    std::fs::remove_dir_all(&root).unwrap();
}

/// A 1-epoch sweep on data under a long path: each curve is one marked point, and the titles
/// stay inside the picture.
#[test]
fn a_one_epoch_sweep_on_a_long_path_draws_readable_plots() {
    let long = format!("{}data", "a-rather-long-directory-name/".repeat(6));
    let (root, data) = with_tiny_data("reproduce-plot", &long);
    let a = root.join("a");
    ok(&reproduce(
        &data,
        &a,
        &[
            "--epochs",
            "1",
            "--bases",
            "he",
            "--methods",
            "vanilla,ibci",
        ],
    ));
    let svg = String::from_utf8(read(&a.join("plots/16-8-4-he.svg"))).unwrap();
    assert_eq!(
        svg.matches("<circle").count(),
        2,
        "one marked point per method"
    );
    let title = svg
        .lines()
        .find(|l| l.contains("text-anchor=\"middle\" font-size"))
        .unwrap();
    assert!(
        title.contains('…') && title.contains("base init He"),
        "{title}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// `--init-info` measures every run's layers at initialisation, caches them, and gives the
/// same digest from the cache and for any thread count.
#[test]
fn init_info_measures_each_layer_at_initialisation() {
    let (root, data) = with_tiny_data("reproduce-init-info", "data");
    let a = root.join("a");
    let flags = ["--bases", "he", "--methods", "vanilla,ibci", "--init-info"];
    let digest = |err: &str, out: &str| -> String {
        let line = format!("{err}{out}");
        line.split("digest ")
            .nth(1)
            .expect("a digest")
            .trim()
            .to_string()
    };
    let o = reproduce(&data, &a, &[&flags[..], &["--jobs", "1"]].concat());
    let err = ok(&o);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("(4 runs measured now, 0 from init/)"), "{out}");
    assert!(
        !a.join("runs").read_dir().unwrap().any(|_| true),
        "nothing trained"
    );
    let md = String::from_utf8(read(&a.join("init-info.md"))).unwrap();
    for needle in [
        "## I(T;Y), KDE upper bound",
        "| He | 16-8-4 | 1 | Vanilla |",
        "| He | 16-8-4 | 2 | Vanilla |",
    ] {
        assert!(md.contains(needle), "{needle}:\n{md}");
    }
    let csv = String::from_utf8(read(&a.join("init-info.csv"))).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4 * 2, "one row per run and layer");
    let first = digest(&err, &out);
    // From the cache, with two threads: the same bytes.
    let o = reproduce(&data, &a, &[&flags[..], &["--jobs", "2"]].concat());
    let err = ok(&o);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("(0 runs measured now, 4 from init/)"), "{out}");
    assert_eq!(digest(&err, &out), first);
    // Measured afresh with two threads: the same bytes.
    std::fs::remove_dir_all(a.join("init")).unwrap();
    let o = reproduce(&data, &a, &[&flags[..], &["--jobs", "2"]].concat());
    assert_eq!(digest(&ok(&o), &String::from_utf8_lossy(&o.stdout)), first);
    std::fs::remove_dir_all(&root).unwrap();
}

/// The lsuv method's variant, batch and tolerance are sweep settings: they reach the runs
/// (new cache keys), the header and sweep.json, and a merge without flags.
#[test]
fn lsuv_variants_are_sweep_settings() {
    let (root, data) = with_tiny_data("reproduce-lsuv", "data");
    let (a, b) = (root.join("a"), root.join("b"));
    ok(&reproduce(
        &data,
        &a,
        &["--methods", "lsuv", "--bases", "he"],
    ));
    let flags = [
        "--methods",
        "lsuv",
        "--bases",
        "he",
        "--lsuv-variant",
        "pytorch",
        "--lsuv-batch",
        "50",
        "--lsuv-tol",
        "0.05",
    ];
    ok(&reproduce(&data, &b, &flags));
    let keys = |d: &Path| -> Vec<String> {
        let mut k: Vec<String> = std::fs::read_dir(d.join("runs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        k.sort();
        k
    };
    assert!(
        keys(&a).iter().all(|k| !keys(&b).contains(k)),
        "other runs, other keys"
    );
    let summary = String::from_utf8(read(&b.join("summary.md"))).unwrap();
    assert!(
        summary.contains("LSUV (the author's PyTorch code")
            && summary.contains("50 training images, tolerance 0.05"),
        "{summary}"
    );
    let sweep: serde_json::Value = serde_json::from_slice(&read(&b.join("sweep.json"))).unwrap();
    assert_eq!(sweep["lsuv_variant"], "pytorch");
    let plain: serde_json::Value = serde_json::from_slice(&read(&a.join("sweep.json"))).unwrap();
    assert!(plain.get("lsuv_variant").is_none() && plain.get("lsuv_tol").is_none());
    // Merged without flags: the same tables.
    let m = root.join("m");
    let o = Command::new(env!("CARGO_BIN_EXE_ibci"))
        .args([
            "reproduce",
            "--out",
            m.to_str().unwrap(),
            "--merge",
            b.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    ok(&o);
    assert!(read(&m.join("summary.md")) == summary.as_bytes());
    // The flags are LSUV's only.
    let o = Command::new(env!("CARGO_BIN_EXE_ibci"))
        .args(["train", "--init", "he-normal", "--lsuv-tol", "0.1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--lsuv-tol applies only with"));
    std::fs::remove_dir_all(&root).unwrap();
}
