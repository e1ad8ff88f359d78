//! `ibci train` end to end on a tiny synthetic data set: the files it writes, the same
//! results digest for any thread count and kernel path, a pinned digest (golden file), and
//! clear errors for bad flags and divergence.

mod common;

use std::path::Path;

use common::{tempdir, Tiny};
use std::process::{Command, Output};

/// 4 classes of 4x4 images: class c lights row c, plus deterministic noise.
fn tiny_dataset(dir: &Path) {
    common::tiny_dataset(
        dir,
        &Tiny {
            seed: 12345,
            noise_bits: 6,
            lit: 192,
            train: 240,
            test: 60,
        },
    );
}

/// `ibci train` on the tiny data set with the flags every test shares.
fn base(data: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ibci"));
    cmd.args([
        "train",
        "--arch",
        "16-8-4",
        "--seed",
        "3",
        "--batch",
        "20",
        "--digests",
        "none",
    ])
    .arg("--data")
    .arg(data)
    .arg("--out")
    .arg(out);
    cmd
}

/// Three epochs of plain SGD, optionally on a forced kernel path.
fn train(data: &Path, out: &Path, extra: &[&str], path: Option<&str>) -> Output {
    let mut cmd = base(data, out);
    cmd.args(["--epochs", "3"]).args(extra);
    if let Some(p) = path {
        cmd.env("IBCI_KERNEL_PATH", p);
    }
    cmd.output().expect("run ibci train")
}

fn digest_of(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout);
    out.lines()
        .find_map(|l| l.strip_prefix("results digest (sha256 of weights.safetensors): "))
        .unwrap_or_else(|| panic!("no digest in {out}\n{}", String::from_utf8_lossy(&o.stderr)))
        .to_string()
}

#[test]
fn writes_the_run_record_and_reproduces_its_digest_everywhere() {
    let root = tempdir("record");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data);

    let o = train(&data, &root.join("a"), &["--threads", "1"], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let digest = digest_of(&o);

    // The files: metrics (epochs 0..3), manifest, weights whose SHA-256 is the digest.
    let metrics = std::fs::read_to_string(root.join("a/metrics.csv")).unwrap();
    let lines: Vec<&str> = metrics.lines().collect();
    assert_eq!(
        lines[0],
        "epoch,train_loss,train_acc,test_loss,test_err,seconds"
    );
    assert_eq!(lines.len(), 5, "{metrics}");
    assert!(lines[1].starts_with("0,NaN,NaN,"), "{metrics}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("a/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["config"]["seed"], 3);
    assert_eq!(manifest["command"], "train");
    assert_eq!(manifest["results_digest"], digest.as_str());
    assert_eq!(manifest["config"]["arch"], serde_json::json!([16, 8, 4]));
    assert_eq!(manifest["results"]["weights_sha256"], digest.as_str());
    assert_eq!(manifest["threads"], 1);
    assert!(manifest["git_commit"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    assert!(manifest["kernels"]["gemm_path"].is_string());
    let weights = std::fs::read(root.join("a/weights.safetensors")).unwrap();
    let n = u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&weights[8..8 + n]).unwrap();
    assert_eq!(header["fc1.weight"]["shape"], serde_json::json!([8, 16]));
    assert_eq!(header["fc2.bias"]["shape"], serde_json::json!([4]));
    // The task is easy: three epochs learn it.
    let final_err: f64 = lines[4].split(',').nth(4).unwrap().parse().unwrap();
    assert!(final_err < 0.2, "{metrics}");

    // Same digest with 2 threads, and on the portable kernel path.
    let o2 = train(&data, &root.join("b"), &["--threads", "2"], None);
    assert_eq!(digest_of(&o2), digest, "--threads 2");
    let o3 = train(
        &data,
        &root.join("c"),
        &["--threads", "3"],
        Some("portable"),
    );
    assert_eq!(digest_of(&o3), digest, "portable path, 3 threads");

    // Pinned: a change to any kernel, initialiser or the RNG stream changes this digest.
    let golden = include_str!("golden/train_tiny.sha256");
    let pinned = golden
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap_or("")
        .trim();
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(
        digest, pinned,
        "the tiny run's digest changed; if intended, update tests/golden/train_tiny.sha256"
    );
}

#[test]
fn bad_flags_and_divergence_are_clear_errors() {
    let root = tempdir("errors");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data);
    let cases: [(&[&str], i32, &str); 6] = [
        (&["--arch", "16-x-4"], 2, "--arch"),
        (&["--arch", "mlp2"], 1, "784 inputs, but the images"),
        (
            &["--lr", "0"],
            2,
            "'0' for '--lr <LR>': \"0\": expected a finite number above 0",
        ),
        (&["--init", "lecun"], 2, "possible values"),
        (&["--lr", "1e30"], 1, "training diverged at epoch 1, batch"),
        // A finite blow-up is divergence too, not a finished run with a loss of 1e28.
        (&["--lr", "1e6"], 1, "nats (try a smaller learning rate)"),
    ];
    for (extra, code, want) in cases {
        let mut args = vec!["--epochs", "1"];
        args.extend_from_slice(extra);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ibci"));
        cmd.arg("train")
            .args(&args)
            .args(["--digests", "none", "--seed", "1"]);
        if !extra.contains(&"--arch") {
            cmd.args(["--arch", "16-8-4"]);
        }
        let o = cmd
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(root.join("o"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: expected {want:?} in {err}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// SGD with momentum (so the checkpoint carries velocities); epochs from `extra`.
fn ibci_train(data: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = base(data, out);
    cmd.args(["--momentum", "0.9"]).args(extra);
    cmd
}

/// metrics.csv without the wall-time column.
fn metrics_without_time(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

#[test]
fn resume_continues_bit_identically_and_refuses_bad_checkpoints() {
    let root = tempdir("resume");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data);
    let run = |out: &str, extra: &[&str]| {
        let o = ibci_train(&data, &root.join(out), extra).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let digest = |stdout: &str| stdout.lines().last().unwrap_or("").to_string();

    let (code, full, err) = run("full", &["--epochs", "4"]);
    assert_eq!(code, Some(0), "{err}");
    // Stop after 2 epochs, then resume to 4: same weights, same metrics.
    assert_eq!(run("part", &["--epochs", "2"]).0, Some(0));
    let (code, resumed, err) = run("part", &["--epochs", "4", "--resume"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("resuming") && err.contains("after epoch 2"),
        "{err}"
    );
    assert_eq!(digest(&resumed), digest(&full));
    assert_eq!(
        metrics_without_time(&root.join("part")),
        metrics_without_time(&root.join("full"))
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("part/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["config"]["resumed_after_epoch"], 2);

    // Fewer epochs than the checkpoint holds: a usage error, nothing silently cut.
    let (code, _, err) = run("part", &["--epochs", "3", "--resume"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("already at epoch 4"), "{err}");
    // Another learning rate: a mismatch that names both configurations.
    let (code, _, err) = run("part", &["--epochs", "5", "--resume", "--lr", "0.2"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("belongs to another run configuration") && err.contains("\"lr\":\"0.2\""),
        "{err}"
    );
    // A flipped byte: corrupt, not used, not restarted.
    let ckpt = root.join("part/checkpoint.bin");
    let mut bytes = std::fs::read(&ckpt).unwrap();
    bytes[100] ^= 0x40;
    std::fs::write(&ckpt, &bytes).unwrap();
    let (code, _, err) = run("part", &["--epochs", "5", "--resume"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("corrupt checkpoint"), "{err}");
    // Truncated, too.
    std::fs::write(&ckpt, &bytes[..bytes.len() / 2]).unwrap();
    let (_, _, err) = run("part", &["--epochs", "5", "--resume"]);
    assert!(err.contains("corrupt checkpoint"), "{err}");
    // Nothing to resume.
    let (code, _, err) = run("empty", &["--epochs", "2", "--resume"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no checkpoint"), "{err}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_killed_run_resumes_to_the_same_weights() {
    let root = tempdir("kill");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data);
    let epochs = "150";
    let full = ibci_train(&data, &root.join("full"), &["--epochs", epochs])
        .output()
        .unwrap();
    assert!(full.status.success());
    let want = String::from_utf8_lossy(&full.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    // Kill -9 once the first checkpoint exists (mid-run, possibly mid-write).
    let mut child = ibci_train(&data, &root.join("killed"), &["--epochs", epochs])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ckpt = root.join("killed/checkpoint.bin");
    let t0 = std::time::Instant::now();
    while !ckpt.exists() && t0.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let o = ibci_train(
        &data,
        &root.join("killed"),
        &["--epochs", epochs, "--resume"],
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // The kill must have interrupted the run, or this test proves nothing.
    let after: usize = err
        .split("after epoch ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no resume message in {err}"));
    assert!(
        after < 150,
        "the run finished before it was killed (epoch {after})"
    );
    let got = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(got, want, "{err}");
}

#[test]
fn lsuv_runs_report_unit_variance_and_reproduce() {
    let root = tempdir("lsuv");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data);
    let mut digests = Vec::new();
    for (out, threads) in [("a", "1"), ("b", "2")] {
        let o = train(
            &data,
            &root.join(out),
            &[
                "--init",
                "lsuv-he",
                "--lsuv-batch",
                "64",
                "--threads",
                threads,
            ],
            None,
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert!(err.contains("LSUV layer 2: output variance"), "{err}");
        digests.push(digest_of(&o));
    }
    assert_eq!(
        digests[0], digests[1],
        "LSUV runs differ across thread counts"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("a/manifest.json")).unwrap()).unwrap();
    let lsuv = &manifest["results"]["initialisation"]["lsuv"];
    assert_eq!(lsuv["batch"], 64);
    for layer in lsuv["layers"].as_array().unwrap() {
        let v = layer["final_var"].as_f64().unwrap();
        assert!((v - 1.0).abs() < 0.1, "{manifest}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// `ibci init` on the tiny data set.
fn ibci_init(data: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ibci"))
        .args([
            "init",
            "--arch",
            "16-8-4",
            "--seed",
            "5",
            "--digests",
            "none",
        ])
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run ibci init")
}

fn init_digest(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout);
    out.lines()
        .find_map(|l| l.strip_prefix("weights sha256: "))
        .unwrap_or_else(|| panic!("no digest in {out}\n{}", String::from_utf8_lossy(&o.stderr)))
        .to_string()
}

#[test]
fn ibci_init_and_train_run_every_variant_and_reproduce() {
    let root = tempdir("ibci");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data);
    let variants: [&[&str]; 7] = [
        &["--init", "ibci"],
        &["--init", "ibci", "--variant", "paper", "--base", "xavier"],
        &["--init", "ibci", "--criteria", "tie"],
        &[
            "--init",
            "ibci",
            "--criteria",
            "iim",
            "--candidate-scale",
            "code",
        ],
        &[
            "--init",
            "ibci",
            "--alpha",
            "0.5,0.25",
            "--candidates",
            "3,4",
            "--bias",
            "0.01",
        ],
        &[
            "--init",
            "ibci",
            "--candidate-dist",
            "uniform",
            "--init-samples",
            "100",
        ],
        &["--init", "ibci", "--score", "mi"],
    ];
    let mut seen = Vec::new();
    for flags in variants {
        let mut digests = Vec::new();
        for threads in ["1", "2"] {
            let out = root.join(format!("w{}-{threads}.safetensors", seen.len()));
            let o = ibci_init(&data, &out, &[flags, &["--threads", threads]].concat());
            assert!(
                o.status.success(),
                "{flags:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            digests.push(init_digest(&o));
            let mut side = out.as_os_str().to_owned();
            side.push(".json");
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&side).unwrap()).unwrap();
            let layers = m["results"]["initialisation"]["layers"].as_array().unwrap();
            assert_eq!(layers.len(), 2, "{m}");
            assert_eq!(layers[0]["picks"].as_array().unwrap().len(), 8);
            assert_eq!(
                m["results"]["weights_sha256"].as_str().unwrap(),
                digests.last().unwrap()
            );
        }
        assert_eq!(digests[0], digests[1], "{flags:?}: thread counts differ");
        assert!(
            !seen.contains(&digests[0]),
            "{flags:?} gave another variant's weights"
        );
        seen.push(digests[0].clone());
    }
    // Training from the campaign: runs, records the campaign in the manifest, reproduces.
    let o = train(
        &data,
        &root.join("t1"),
        &["--init", "ibci", "--threads", "1"],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o2 = train(
        &data,
        &root.join("t2"),
        &["--init", "ibci", "--threads", "2"],
        None,
    );
    assert_eq!(digest_of(&o), digest_of(&o2));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("t1/manifest.json")).unwrap()).unwrap();
    assert_eq!(m["config"]["init"]["variant"], "reference");
    assert_eq!(m["results"]["initialisation"]["samples"], 240);
    // Bad campaign flags: clear errors, before any work.
    for (flags, msg) in [
        (&["--alpha", "1"][..], "--alpha: 1 values for 2 layers"),
        (&["--alpha", "1,x"][..], "is not a number"),
        (&["--alpha", "1,2"][..], "outside [0, 1]"),
        (
            &["--criteria", "tie", "--alpha", "1,0"][..],
            "only applies with --criteria both",
        ),
        (&["--candidates", "0"][..], "--candidates"),
        (&["--max-candidates", "4"][..], "4 candidates for 8 neurons"),
        (&["--init-samples", "1"][..], "--init-samples 1"),
        (&["--variant", "fancy"][..], "invalid value 'fancy'"),
    ] {
        let o = ibci_init(
            &data,
            &root.join("bad.safetensors"),
            &[&["--init", "ibci"], flags].concat(),
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(msg), "{flags:?}: {err}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn infoplane_records_every_layer_every_epoch_and_redraws() {
    let root = tempdir("infoplane");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data);
    let out = root.join("run");
    let o = train(
        &data,
        &out,
        &["--infoplane", "--infoplane-samples", "50"],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("information plane in"), "{err}");
    let csv = std::fs::read_to_string(out.join("infoplane.csv")).unwrap();
    // Empty fields (the Rényi estimator's, not measured by default) read as NaN.
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 4 * 2, "epochs 0..=3, two layers:\n{csv}");
    assert!(rows
        .iter()
        .all(|r| r.len() == 18 && r[12..].iter().all(|v| v.is_nan())));
    let ln50 = 50f64.ln();
    for r in &rows {
        assert_eq!((r[3], r[4]), (0.5, 0.1), "the resolutions are in every row");
        // Binned and KDE estimates of I(X;T) lie in [0, ln 50]; of I(T;Y) in [0, ln 4].
        for &v in &[r[5], r[7], r[8]] {
            assert!((-1e-9..=ln50 + 1e-6).contains(&v), "{r:?}");
        }
        for &v in &[r[6], r[9], r[10]] {
            assert!((-1e-6..=4f64.ln() + 1e-6).contains(&v), "{r:?}");
        }
        assert!(
            r[8] <= r[7] + 1e-9 && r[10] <= r[9] + 1e-6,
            "lower <= upper: {r:?}"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["results"]["infoplane"]["bin_width"], 0.5);
    assert_eq!(manifest["results"]["infoplane"]["samples"], 50);
    // The training is untouched by the measurements.
    let plain = train(&data, &root.join("plain"), &[], None);
    assert_eq!(digest_of(&o), digest_of(&plain));
    // `ibci plot` redraws the same pictures from the CSV.
    let svg = std::fs::read(out.join("infoplane.svg")).unwrap();
    assert!(svg.starts_with(b"<svg") && String::from_utf8_lossy(&svg).contains("bin width 0.5"));
    std::fs::remove_file(out.join("infoplane.svg")).unwrap();
    let p = Command::new(env!("CARGO_BIN_EXE_ibci"))
        .arg("plot")
        .arg(&out)
        .output()
        .unwrap();
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    assert_eq!(std::fs::read(out.join("infoplane.svg")).unwrap(), svg);
    // Resuming keeps the epochs already measured: 2 epochs, then on to 3, gives the rows of
    // the straight run (all but the seconds).
    let plane = ["--infoplane", "--infoplane-samples", "50"];
    let part = root.join("part");
    let run = |extra: &[&str]| base(&data, &part).args(plane).args(extra).output().unwrap();
    assert!(run(&["--epochs", "2"]).status.success());
    let r = run(&["--epochs", "3", "--resume"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let without_seconds = |dir: &Path| without_seconds(&dir.join("infoplane.csv"));
    assert_eq!(without_seconds(&part), without_seconds(&out));
    assert_eq!(digest_of(&r), digest_of(&o));
    // Resuming a measured run without --infoplane would end its series: a usage error.
    let r = base(&data, &part)
        .args(["--epochs", "4", "--resume"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{e}");
    assert!(e.contains("pass --infoplane"), "{e}");
    // Resuming at another resolution, or a run that was not measured, is refused.
    let r = run(&["--epochs", "4", "--resume", "--infoplane-bin-width", "1"]);
    let e = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{e}");
    assert!(
        e.contains("was measured with 50 samples") && e.contains("bin width 0.5"),
        "{e}"
    );
    let r = base(&data, &part)
        .args([
            "--infoplane",
            "--infoplane-samples",
            "40",
            "--epochs",
            "4",
            "--resume",
        ])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{e}");
    assert!(e.contains("asks for 40 samples"), "{e}");
    let r = base(&data, &root.join("plain"))
        .args(plane)
        .args(["--epochs", "4", "--resume"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && e.contains("was it run with --infoplane?"),
        "{e}"
    );
    // Errors: a sample count beyond the test set, a plot without a CSV.
    let r = train(
        &data,
        &root.join("x"),
        &["--infoplane", "--infoplane-samples", "61"],
        None,
    );
    assert!(String::from_utf8_lossy(&r.stderr).contains("--infoplane-samples 61: expected 2 to 60"));
    let p = Command::new(env!("CARGO_BIN_EXE_ibci"))
        .arg("plot")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!p.status.success() && String::from_utf8_lossy(&p.stderr).contains("infoplane.csv"));
    std::fs::remove_dir_all(&root).unwrap();
}

/// The rows of an `infoplane.csv` without their seconds (field 12), which vary.
fn without_seconds(csv: &Path) -> Vec<String> {
    std::fs::read_to_string(csv)
        .unwrap()
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(11);
            f.join(",")
        })
        .collect()
}

/// `--infoplane-estimator renyi`: only the Rényi columns and plot, estimates within their
/// bounds, resumable, its flags refused without it or at impossible values, and a resume
/// with other Rényi settings refused.
#[test]
fn infoplane_renyi_estimator() {
    let root = tempdir("infoplane-renyi");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data);
    let plane = [
        "--infoplane",
        "--infoplane-samples",
        "50",
        "--infoplane-estimator",
        "renyi",
        "--renyi-samples",
        "40",
    ];
    let out = root.join("run");
    let o = train(&data, &out, &plane, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("infoplane.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 4 * 2, "epochs 0..=3, two layers:\n{csv}");
    for r in &rows {
        assert!(
            r[5..11].iter().all(|v| v.is_empty()),
            "binning and KDE not measured: {r:?}"
        );
        assert_eq!((r[12], r[13]), ("40", "1.01"), "{r:?}");
        let num = |k: usize| r[k].parse::<f64>().unwrap();
        assert!(num(14) > 0.0 && num(15) > 0.0, "kernel widths: {r:?}");
        // I(X;T) <= ln 40 (40 images), I(T;Y) <= S(Y) <= ln 4 (four labels).
        assert!((-1e-9..=40f64.ln() + 1e-9).contains(&num(16)), "{r:?}");
        assert!((-1e-9..=4f64.ln() + 1e-9).contains(&num(17)), "{r:?}");
    }
    assert!(out.join("infoplane-renyi.svg").exists());
    assert!(!out.join("infoplane.svg").exists() && !out.join("infoplane-kde.svg").exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let rec = &manifest["results"]["infoplane"];
    assert_eq!(rec["renyi"]["alpha"], 1.01);
    assert_eq!(rec["renyi"]["sigma"], "aligned");
    assert!(rec.get("bin_width").is_none(), "{rec}");
    // Resumed after 2 epochs: the rows of the straight run.
    let part = root.join("part");
    let run = |extra: &[&str]| base(&data, &part).args(plane).args(extra).output().unwrap();
    assert!(run(&["--epochs", "2"]).status.success());
    let r = run(&["--epochs", "3", "--resume"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(
        without_seconds(&part.join("infoplane.csv")),
        without_seconds(&out.join("infoplane.csv"))
    );
    // Other Rényi settings on resume: refused, naming both.
    let r = run(&["--epochs", "4", "--resume", "--renyi-alpha", "2"]);
    let e = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{e}");
    assert!(
        e.contains("renyi (alpha 1.01") && e.contains("renyi (alpha 2"),
        "{e}"
    );
    // Bad values and flags without the estimator: usage errors before any work.
    for (flags, msg) in [
        (
            &["--infoplane", "--renyi-alpha", "2"][..],
            "add renyi to --infoplane-estimator",
        ),
        (
            &[
                "--infoplane",
                "--infoplane-estimator",
                "renyi",
                "--renyi-sigma",
                "wide",
            ][..],
            "expected \"aligned\" or a finite width",
        ),
        (
            &[
                "--infoplane",
                "--infoplane-estimator",
                "renyi",
                "--renyi-alpha",
                "0",
            ][..],
            "expected a finite number above 0",
        ),
        (
            &[
                "--infoplane",
                "--infoplane-estimator",
                "renyi",
                "--renyi-samples",
                "51",
                "--infoplane-samples",
                "50",
            ][..],
            "--renyi-samples 51: expected 2 to 50",
        ),
        (&["--infoplane-estimator", "renyi"][..], "--infoplane"),
        (
            &["--infoplane", "--infoplane-estimator", "entropy"][..],
            "binning, kde, renyi",
        ),
    ] {
        let r = train(&data, &root.join("bad"), flags, None);
        let e = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{flags:?}: {e}");
        assert!(e.contains(msg), "{flags:?}: {e}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// One writer per output directory: while another process holds `OUT/.ibci.lock`, a second
/// `train` on OUT is refused with the holder named and writes nothing; a lock file left by a
/// process that is gone (no OS lock on it) is taken over.
#[test]
fn a_second_writer_on_the_same_out_is_refused() {
    use std::io::Write;
    let root = tempdir("lock");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data);
    let out = root.join("o");
    std::fs::create_dir_all(&out).unwrap();
    {
        // This test process plays the other ibci.
        let mut held = std::fs::File::create(out.join(".ibci.lock")).unwrap();
        held.try_lock().unwrap();
        writeln!(held, "424242").unwrap();
        let o = train(&data, &out, &[], None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("in use by another ibci (process 424242"),
            "{err}"
        );
        assert!(!out.join("manifest.json").exists());
    }
    // The holder is gone (its lock released with it); the file and its pid remain.
    let o = train(&data, &out, &[], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("manifest.json").exists());
    std::fs::remove_dir_all(&root).unwrap();
}

/// A run with other settings never lands in, or silently replaces, another run's directory:
/// the default directory carries a digest of non-default settings, and an explicit --out
/// holding another run is refused unless --force.
#[test]
fn another_runs_directory_is_not_replaced() {
    let root = tempdir("another");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data);
    let out = root.join("o");
    let o = train(&data, &out, &["--lr", "0.1"], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first = std::fs::read(out.join("weights.safetensors")).unwrap();
    // The same run again is fine; another learning rate is refused and changes nothing.
    let o = train(&data, &out, &["--lr", "0.1"], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = train(&data, &out, &["--lr", "0.05"], None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("holds another run") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(out.join("weights.safetensors")).unwrap(),
        first
    );
    let o = train(&data, &out, &["--lr", "0.05", "--force"], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_ne!(
        std::fs::read(out.join("weights.safetensors")).unwrap(),
        first
    );
    // Default directories: two learning rates, two directories.
    let mut dirs = Vec::new();
    for lr in ["0.1", "0.05"] {
        let o = Command::new(env!("CARGO_BIN_EXE_ibci"))
            .current_dir(&root)
            .args(["train", "--arch", "16-8-4", "--seed", "3", "--epochs", "1"])
            .args(["--digests", "none", "--lr", lr, "--data"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        dirs.push(std::fs::read_dir(root.join("runs")).unwrap().count());
    }
    assert_eq!(dirs, [1, 2], "one default directory per configuration");
    std::fs::remove_dir_all(&root).unwrap();
}
