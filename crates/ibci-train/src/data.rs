//! `ibci data info` and `ibci data check`.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::ValueEnum;
use ibci_idx::mnist::{self, DigestCheck, LoadOptions, Split, Verified};
use ibci_idx::{read_file, ElemType, IdxData};

/// Mean and (population) standard deviation, accumulated in f64.
fn mean_std(values: impl ExactSizeIterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.clone().sum::<f64>() / n;
    let var = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn histogram_line(h: &[usize]) -> String {
    h.iter()
        .enumerate()
        .map(|(c, n)| format!("{c}:{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints header, type, shape and summary statistics of one IDX file.
pub fn info(path: &Path) -> Result<()> {
    let on_disk = std::fs::metadata(path)
        .with_context(|| format!("cannot read IDX file {}", path.display()))?
        .len();
    let array = read_file(path).with_context(|| format!("ibci data info {}", path.display()))?;
    let h = &array.header;
    let magic = [0u8, 0, h.elem.code(), h.dims.len() as u8];
    say!("file:      {}", path.display());
    say!(
        "encoding:  {} ({on_disk} bytes on disk, {} bytes as IDX)",
        if array.gzip { "gzip" } else { "raw" },
        h.total_bytes()
    );
    say!(
        "magic:     {:02x} {:02x} {:02x} {:02x}",
        magic[0],
        magic[1],
        magic[2],
        magic[3]
    );
    say!("type:      {}", h.elem);
    say!("rank:      {}", h.dims.len());
    let shape: Vec<String> = h.dims.iter().map(usize::to_string).collect();
    say!("shape:     {}", shape.join(" x "));
    say!("elements:  {}", h.len());
    let integer = !matches!(h.elem, ElemType::F32 | ElemType::F64);
    match (&array.data, h.dims.len()) {
        // A rank-1 integer file is a label vector: show the value histogram.
        (IdxData::U8(labels), 1) => {
            let mut hist = vec![0usize; 256];
            labels.iter().for_each(|&l| hist[usize::from(l)] += 1);
            let used = hist.iter().rposition(|&n| n > 0).map_or(0, |i| i + 1);
            say!("classes:   {used} (labels 0..{used})");
            say!("histogram: {}", histogram_line(&hist[..used]));
        }
        // Images stored as bytes: pixel statistics on the [0, 1] scale the trainer uses.
        (IdxData::U8(pixels), r) if r >= 2 => {
            let (mean, std) = mean_std(pixels.iter().map(|&p| f64::from(p) / 255.0));
            let (min, max) = pixels
                .iter()
                .fold((u8::MAX, u8::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
            say!("pixels:    mean {mean:.6} std {std:.6} on [0,1] (u8/255; raw min {min}, max {max})");
            let zeros = pixels.iter().filter(|&&p| p == 0).count();
            say!(
                "zeros:     {:.2}% of pixels ({zeros})",
                100.0 * zeros as f64 / pixels.len().max(1) as f64
            );
        }
        _ => {
            let values = array.to_f64();
            let (mean, std) = mean_std(values.iter().copied());
            let (min, max) = values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            let kind = if integer { "integers" } else { "floats" };
            say!("values:    {kind}, mean {mean:.6} std {std:.6} min {min} max {max}");
        }
    }
    Ok(())
}

fn print_split(name: &str, s: &Split, classes: usize) {
    say!(
        "{name}: {} images of {}x{}, classes {}",
        s.len(),
        s.rows,
        s.cols,
        histogram_line(&s.class_histogram(classes))
    );
}

/// Loads and verifies a data set directory; any failure is an error naming the file.
pub fn check(dir: &Path, digests: DigestCheck, classes: usize) -> Result<()> {
    let start = Instant::now();
    let opts = LoadOptions { classes, digests };
    let data = mnist::load(dir, &opts)
        .with_context(|| format!("data set check failed for {}", dir.display()))?;
    for f in &data.files {
        let how = match f.verified {
            Verified::KnownDigest => "OK (known MNIST digest)",
            Verified::KnownContentDigest => "OK (known MNIST digest of the decompressed file)",
            Verified::KnownFashionDigest => "OK (known Fashion-MNIST digest)",
            Verified::SumsFile => "OK (SHA256SUMS)",
            Verified::NotChecked => "not checked (--digests none)",
        };
        say!("{}  {}  {how}", f.sha256, f.path.display());
    }
    print_split("train", &data.train, classes);
    print_split("test ", &data.test, classes);
    say!(
        "{}: OK ({} classes, {:.2} s)",
        dir.display(),
        classes,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Which SHA-256 digests data files are checked against (`--digests`).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Digests {
    /// The well-known MNIST digests built into ibci.
    Mnist,
    /// The Fashion-MNIST digests built into ibci (its four .gz files as distributed, as
    /// `apt-get install dataset-fashion-mnist` installs them).
    FashionMnist,
    /// The directory's own SHA256SUMS file (custom data sets).
    Sums,
    /// No digest check (custom data sets without sums).
    None,
}

impl From<Digests> for DigestCheck {
    fn from(d: Digests) -> Self {
        match d {
            Digests::Mnist => DigestCheck::KnownMnist,
            Digests::FashionMnist => DigestCheck::KnownFashionMnist,
            Digests::Sums => DigestCheck::SumsFile,
            Digests::None => DigestCheck::Skip,
        }
    }
}
