//! The real MNIST files committed in datasets/mnist/, loaded through the `ibci` facade.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ibci::idx::mnist::{load, LoadOptions, Verified};
use ibci::idx::IdxError;

fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist")
}

#[test]
fn real_mnist_counts_labels_histogram_and_pixels() {
    let d = load(&mnist_dir(), &LoadOptions::default()).expect("datasets/mnist loads");
    assert!(d
        .files
        .iter()
        .all(|f| f.verified == Verified::KnownDigest && f.gzip));
    assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
    assert_eq!((d.train.rows, d.train.cols), (28, 28));
    assert_eq!(&d.train.labels[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(&d.test.labels[..5], &[7, 2, 1, 0, 4]);
    // The published class counts of MNIST.
    assert_eq!(
        d.train.class_histogram(10),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        d.test.class_histogram(10),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // The familiar normalisation constants (0.1307, 0.3081) are the train set's pixel mean
    // and std on [0, 1]; accumulate in f64 so the check measures the data, not the sum.
    let x = d.train.images_f32();
    assert_eq!(x.len(), 60_000 * 784);
    assert!(x.iter().all(|&p| (0.0..=1.0).contains(&p)));
    let n = x.len() as f64;
    let mean = x.iter().map(|&p| f64::from(p)).sum::<f64>() / n;
    let var = x
        .iter()
        .map(|&p| (f64::from(p) - mean).powi(2))
        .sum::<f64>()
        / n;
    assert!((mean - 0.1307).abs() < 1e-4, "mean pixel {mean}");
    assert!(
        (var.sqrt() - 0.3081).abs() < 1e-4,
        "pixel std {}",
        var.sqrt()
    );
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn raw_files_and_other_gzip_encodings_of_mnist_pass_the_digest_check() {
    let src = mnist_dir();
    let tmp = std::env::temp_dir().join(format!("ibci-mnist-digest-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for name in ["train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"] {
        std::fs::copy(src.join(name), tmp.join(name)).unwrap();
    }
    // Raw, under the dotted spelling: its bytes carry the well-known raw digest.
    let raw = gunzip(&src.join("train-labels-idx1-ubyte.gz"));
    std::fs::write(tmp.join("train-labels.idx1-ubyte"), &raw).unwrap();
    // Re-compressed at another level: new file digest, same content digest.
    let test_labels = gunzip(&src.join("t10k-labels-idx1-ubyte.gz"));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&test_labels).unwrap();
    std::fs::write(tmp.join("t10k-labels-idx1-ubyte.gz"), enc.finish().unwrap()).unwrap();

    let d = load(&tmp, &LoadOptions::default());
    // One corrupted byte in the raw file: a digest mismatch naming it.
    let mut bad = raw.clone();
    bad[100] ^= 1;
    std::fs::write(tmp.join("train-labels.idx1-ubyte"), &bad).unwrap();
    let e = load(&tmp, &LoadOptions::default());
    std::fs::remove_dir_all(&tmp).unwrap();

    let d = d.expect("raw and re-compressed MNIST load");
    let how: Vec<Verified> = d.files.iter().map(|f| f.verified).collect();
    assert_eq!(
        how,
        [
            Verified::KnownDigest,
            Verified::KnownDigest,
            Verified::KnownDigest,
            Verified::KnownContentDigest
        ]
    );
    assert_eq!(d.test.labels.len(), 10_000);
    assert!(
        matches!(e, Err(IdxError::DigestMismatch { ref file, .. }) if file.ends_with("train-labels.idx1-ubyte")),
        "{e:?}"
    );
}
