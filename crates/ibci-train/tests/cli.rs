//! The `ibci` binary as a user runs it: output, exit status, and error messages.

mod common;

use std::path::{Path, PathBuf};

use common::{idx_u8, tempdir};
use std::process::{Command, Output};

fn ibci(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ibci"))
        .args(args)
        .output()
        .expect("run ibci")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn mnist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist")
}

#[test]
fn data_check_passes_on_the_shipped_mnist() {
    let o = ibci(&["data", "check", mnist().to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert_eq!(out.matches("OK (known MNIST digest)").count(), 4, "{out}");
    assert!(out.contains("train: 60000 images of 28x28"), "{out}");
    assert!(out.contains("test : 10000 images of 28x28"), "{out}");
    assert!(out.contains("0:980 1:1135"), "{out}");
}

#[test]
fn data_info_shows_header_histogram_and_pixel_stats() {
    let labels = mnist().join("t10k-labels-idx1-ubyte.gz");
    let o = ibci(&["data", "info", labels.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    for want in [
        "encoding:  gzip",
        "magic:     00 00 08 01",
        "type:      u8 (0x08)",
        "shape:     10000",
        "histogram: 0:980 1:1135 2:1032 3:1010 4:982 5:892 6:958 7:1028 8:974 9:1009",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    let images = mnist().join("t10k-images-idx3-ubyte.gz");
    let (out, _) = text(&ibci(&["data", "info", images.to_str().unwrap()]));
    assert!(out.contains("shape:     10000 x 28 x 28"), "{out}");
    // The test set's pixel mean on [0, 1] is 0.1325.
    assert!(out.contains("pixels:    mean 0.1325"), "{out}");
    // 80.72% of its pixels are exactly 0 (what the sparse first-layer product exploits).
    assert!(
        out.contains("zeros:     80.72% of pixels (6328781)"),
        "{out}"
    );
}

#[test]
fn data_info_on_a_float_file_and_on_garbage() {
    let dir = tempdir("info");
    let mut f = vec![0, 0, 0x0D, 1, 0, 0, 0, 3];
    for v in [1.0f32, 2.0, 6.0] {
        f.extend(v.to_be_bytes());
    }
    std::fs::write(dir.join("floats.idx"), &f).unwrap();
    std::fs::write(dir.join("junk.idx"), b"definitely not idx").unwrap();
    let (out, _) = text(&ibci(&[
        "data",
        "info",
        dir.join("floats.idx").to_str().unwrap(),
    ]));
    assert!(out.contains("type:      f32 (0x0d)"), "{out}");
    assert!(out.contains("floats, mean 3.000000"), "{out}");
    let o = ibci(&["data", "info", dir.join("junk.idx").to_str().unwrap()]);
    let (_, err) = text(&o);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("junk.idx") && err.contains("not an IDX file"),
        "{err}"
    );
}

#[test]
fn data_check_fails_with_the_typed_error() {
    let dir = tempdir("check");
    let o = ibci(&["data", "check", dir.to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("missing data file") && err.contains("HINT"),
        "{err}"
    );

    // A custom data set: rejected against MNIST's digests, accepted with --digests none,
    // rejected again when a label exceeds --classes.
    for (prefix, n) in [("train", 4u8), ("t10k", 2)] {
        let pixels: Vec<u8> = (0..n * 4).collect();
        let labels: Vec<u8> = (0..n).map(|i| i % 2).collect();
        std::fs::write(
            dir.join(format!("{prefix}-images-idx3-ubyte")),
            idx_u8(&[n.into(), 2, 2], &pixels),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{prefix}-labels-idx1-ubyte")),
            idx_u8(&[n.into()], &labels),
        )
        .unwrap();
    }
    let d = dir.to_str().unwrap();
    let o = ibci(&["data", "check", d]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("SHA-256 mismatch") && err.contains("--digests"),
        "{err}"
    );
    let o = ibci(&["data", "check", d, "--digests", "none", "--classes", "2"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("train: 4 images of 2x2, classes 0:2 1:2"),
        "{out}"
    );
    let o = ibci(&["data", "check", d, "--digests", "none", "--classes", "1"]);
    let (_, err) = text(&o);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("label 1 at index 1 is out of range, expected < 1"),
        "{err}"
    );
}

#[test]
fn unknown_flags_and_subcommands_exit_2_with_usage() {
    for args in [
        &["data", "check", "--bogus", "x"][..],
        &["data", "chek", "x"],
        &["frobnicate"],
        &[],
    ] {
        let o = ibci(args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("Usage:"), "{args:?}: {err}");
    }
    // A bad value names the flag and what it accepts.
    for (args, want) in [
        (
            &["data", "check", "x", "--digests", "md5"],
            "[possible values: mnist, fashion-mnist, sums, none]",
        ),
        (&["data", "check", "x", "--classes", "0"], "1..=256"),
    ] {
        let o = ibci(args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(args[3]) && err.contains(want),
            "{args:?}: {err}"
        );
    }
    // Every choice is an enum clap checks: an unknown initialiser, variant, base or method is
    // a usage error listing the accepted names, not a silent default.
    for (args, want) in [
        (
            &["train", "--init", "he"][..],
            "lsuv-he, lsuv-pytorch, lsuv-pytorch-xavier, lsuv-pytorch-he, ibci]",
        ),
        (
            &["train", "--score", "bits"],
            "[possible values: proxy, mi]",
        ),
        (
            &["reproduce", "--variant", "v2"],
            "[possible values: reference, paper]",
        ),
        (
            &["reproduce", "--bases", "he,glorot"],
            "[possible values: he, xavier]",
        ),
        (
            &["reproduce", "--methods", "ibci,bogus"],
            "[possible values: vanilla, lsuv, ibci, tie, iim]",
        ),
    ] {
        let o = ibci(args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(args[1]) && err.contains(want),
            "{args:?}: {err}"
        );
    }
    // Bad values and combinations of training flags: status 2, naming the flag and what it
    // accepts, before any work (the data directory does not exist: it is never reached).
    for (args, want) in [
        (&["--lr", "nan"][..], "'nan' for '--lr"),
        (&["--lr", "-0.1"], "above 0"),
        (&["--batch", "0"], "'0' for '--batch"),
        (&["--epochs", "0"], "'0' for '--epochs"),
        (&["--threads", "0"], "expected 1 to 1024"),
        (&["--threads", "100000"], "expected 1 to 1024"),
        (&["--momentum", "1.5"], "[0, 1)"),
        (&["--weight-decay", "-1"], "at least 0"),
        (&["--bias", "inf"], "finite"),
        (&["--arch", "garbage"], "--arch"),
        (&["--lsuv-batch", "0"], "'0' for '--lsuv-batch"),
        (&["--lsuv-batch", "50"], "--lsuv-batch applies only"),
        (&["--alpha", "1,0"], "--alpha applies only with --init ibci"),
        (&["--init", "ibci", "--alpha", "1,2"], "outside [0, 1]"),
    ] {
        let mut all = vec!["train", "--data", "/nonexistent-ibci-data"];
        all.extend_from_slice(args);
        let o = ibci(&all);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // A network too large for this machine is a typed error before anything is allocated
    // (it used to abort on allocation failure), naming the memory needed and available.
    let o = ibci(&[
        "train",
        "--data",
        "/nonexistent-ibci-data",
        "--arch",
        "784-100000000-10",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("GiB needed") && err.contains("available"),
        "{err}"
    );
    // A network, base or method named twice is refused (status 2), not run twice; mlp2 and
    // its widths are the same network.
    for args in [
        &["--bases", "he,he"][..],
        &["--methods", "ibci,vanilla,ibci"],
        &["--nets", "mlp2,784-100-10"],
    ] {
        let mut all = vec!["reproduce", "--out", "/nonexistent-ibci-out"];
        all.extend_from_slice(args);
        let o = ibci(&all);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(args[0]) && err.contains("named twice"),
            "{err}"
        );
    }
}

#[test]
fn info_and_the_kernel_path_knob() {
    let o = ibci(&["info"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("cpu level:") && out.contains("gemm path:"),
        "{out}"
    );
    assert!(out.contains("portable"), "{out}");
    let run = |args: &[&str], path: &str| {
        Command::new(env!("CARGO_BIN_EXE_ibci"))
            .args(args)
            .env("IBCI_KERNEL_PATH", path)
            .output()
            .unwrap()
    };
    // Forcing the portable path is always possible and is reported as forced, with its cost.
    let (out, _) = text(&run(&["info"], "portable"));
    assert!(out.contains("gemm path:        portable (forced"), "{out}");
    assert!(out.contains("portable path:    about "), "{out}");
    // A run on the portable path says so in one line at start-up (here it then fails on a
    // missing data directory: the notice comes first).
    let (_, err) = text(&run(
        &["train", "--data", "/nonexistent-ibci-data"],
        "portable",
    ));
    let notes: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("note: kernel path portable"))
        .collect();
    assert_eq!(notes.len(), 1, "{err}");
    assert!(
        notes[0].contains("IBCI_KERNEL_PATH=portable") && notes[0].contains("x slower"),
        "{err}"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        let (_, err) = text(&run(&["train", "--data", "/nonexistent-ibci-data"], "avx2"));
        assert!(!err.contains("note: kernel path portable"), "{err}");
    }
    // An unknown path is a usage error naming the variable and the choices.
    let o = run(&["data", "check", "x"], "sse9");
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("IBCI_KERNEL_PATH=\"sse9\"") && err.contains("portable, avx2, avx512"),
        "{err}"
    );
    // A path this CPU lacks is refused, not silently replaced.
    let lacking = ["avx512", "avx2"].into_iter().find(|p| {
        !ibci_kernels::KernelPath::parse(p)
            .expect("known path")
            .supported()
    });
    if let Some(missing) = lacking {
        let o = run(&["info"], missing);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("does not support"), "{err}");
    }
}

/// Runs the binary on an emulated CPU model, or `None` when qemu-user is not installed. A
/// skip is a failure under CI (`CI` set) or when `IBCI_REQUIRE_PATHS` names `portable`
/// (which these tests are the only ones to run on a CPU without AVX).
fn on_cpu(model: &str, args: &[&str]) -> Option<Output> {
    let qemu_ok = Command::new("qemu-x86_64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !qemu_ok || !cfg!(target_arch = "x86_64") {
        let required = std::env::var(ibci_kernels::dispatch::REQUIRE_ENV).unwrap_or_default();
        assert!(
            std::env::var_os("CI").is_none()
                && !required.split(',').any(|p| p.trim() == "portable"),
            "qemu-x86_64 is needed for the CPU emulation tests (CI or {}=portable): \
             apt-get install qemu-user",
            ibci_kernels::dispatch::REQUIRE_ENV
        );
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"cpu emulation tests SKIPPED: qemu-x86_64 not found (apt-get install qemu-user)\n",
        );
        return None;
    }
    let mut cmd = Command::new("qemu-x86_64");
    cmd.args(["-cpu", model, env!("CARGO_BIN_EXE_ibci")])
        .args(args);
    Some(cmd.output().expect("run qemu-x86_64"))
}

#[test]
fn a_cpu_below_the_build_level_is_refused_not_crashed() {
    // A Core 2 has SSSE3 but not SSE4.1, SSE4.2 or POPCNT (x86-64-v2 needs them).
    let mnist = mnist();
    let Some(o) = on_cpu("core2duo", &["data", "check", mnist.to_str().unwrap()]) else {
        return;
    };
    let (_, err) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(3),
        "expected a refusal, not a crash: {err}"
    );
    assert!(
        err.contains("lacks: sse4.1, sse4.2, popcnt") && err.contains("x86-64-v2"),
        "{err}"
    );
}

#[test]
fn a_v2_cpu_without_avx_runs_on_the_portable_path() {
    // Nehalem is exactly x86-64-v2: no AVX, so only the portable kernels are available.
    let Some(o) = on_cpu("Nehalem", &["info"]) else {
        return;
    };
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("kernel paths:     portable (supported)"),
        "{out}"
    );
    let mnist = mnist();
    let o =
        on_cpu("Nehalem", &["data", "check", mnist.to_str().unwrap()]).expect("qemu found above");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains(": OK (10 classes"), "{out}");
}
