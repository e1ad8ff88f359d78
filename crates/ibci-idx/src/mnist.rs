//! MNIST-style data set directories: four IDX files, train/test images/labels.
//!
//! Each file is looked up under the spellings in circulation, in this order:
//! `train-images-idx3-ubyte`, `train-images-idx3-ubyte.gz`, `train-images.idx3-ubyte`,
//! `train-images.idx3-ubyte.gz` (likewise `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
//! `t10k-labels-idx1-ubyte`). Images must be u8 of rank 3 (count, rows, cols), labels u8 of
//! rank 1; the counts of a split must agree and every label must be below the class count.
//!
//! Integrity: by default each file must match the well-known SHA-256 of the MNIST file of that
//! name, either as stored or, for a gzip file, after decompression (so the original LeCun
//! `.gz` files, re-compressed copies and raw files all pass). Fashion-MNIST is checked with
//! [`DigestCheck::KnownFashionMnist`] (its four `.gz` files as distributed). Custom data sets
//! opt out with [`DigestCheck::SumsFile`] (the directory's own `SHA256SUMS`) or
//! [`DigestCheck::Skip`].

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{IdxError, Result};
use crate::header::ElemType;
use crate::pixels::to_unit_f32;
use crate::reader::{read_bytes, IdxArray, IdxData};
use crate::sha256::{sha256, to_hex, Sha256};

/// How to get the data, shown with a missing-file error.
pub const DATA_HINT: &str = "MNIST ships with ibci in datasets/mnist/ of the repository (four .gz IDX files and SHA256SUMS); \
Fashion-MNIST installs with `apt-get install dataset-fashion-mnist` into /usr/share/datasets/fashion-mnist/; \
any other IDX data set works with the same file names";

/// One of the four files of an MNIST-style directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// `train-images-idx3-ubyte`.
    TrainImages,
    /// `train-labels-idx1-ubyte`.
    TrainLabels,
    /// `t10k-images-idx3-ubyte`.
    TestImages,
    /// `t10k-labels-idx1-ubyte`.
    TestLabels,
}

impl Part {
    /// The four parts, in file-listing order.
    pub const ALL: [Part; 4] = [
        Part::TrainImages,
        Part::TrainLabels,
        Part::TestImages,
        Part::TestLabels,
    ];

    fn stem(self) -> (&'static str, &'static str) {
        match self {
            Part::TrainImages => ("train-images", "idx3-ubyte"),
            Part::TrainLabels => ("train-labels", "idx1-ubyte"),
            Part::TestImages => ("t10k-images", "idx3-ubyte"),
            Part::TestLabels => ("t10k-labels", "idx1-ubyte"),
        }
    }

    /// The canonical (uncompressed, dash-separated) file name.
    pub fn canonical_name(self) -> String {
        let (a, b) = self.stem();
        format!("{a}-{b}")
    }

    /// The accepted file names, in lookup order.
    pub fn spellings(self) -> [String; 4] {
        let (a, b) = self.stem();
        [
            format!("{a}-{b}"),
            format!("{a}-{b}.gz"),
            format!("{a}.{b}"),
            format!("{a}.{b}.gz"),
        ]
    }

    fn is_images(self) -> bool {
        matches!(self, Part::TrainImages | Part::TestImages)
    }
}

/// The well-known digests of one MNIST file.
struct KnownDigest {
    part: Part,
    /// SHA-256 of the uncompressed IDX file.
    raw: &'static str,
    /// SHA-256 of known gzip encodings: the `gzip -9n` copies in datasets/mnist/ and the
    /// original files distributed by LeCun et al.
    gz: [&'static str; 2],
}

const MNIST_DIGESTS: [KnownDigest; 4] = [
    KnownDigest {
        part: Part::TrainImages,
        raw: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        gz: [
            "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ],
    },
    KnownDigest {
        part: Part::TrainLabels,
        raw: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        gz: [
            "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ],
    },
    KnownDigest {
        part: Part::TestImages,
        raw: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        gz: [
            "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ],
    },
    KnownDigest {
        part: Part::TestLabels,
        raw: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        gz: [
            "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ],
    },
];

/// The files of Fashion-MNIST as Zalando Research distributes them (and Debian's
/// `dataset-fashion-mnist` installs them), gzip-compressed, in [`Part::ALL`] order.
const FASHION_MNIST_GZ: [&str; 4] = [
    "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
];

/// The name of a well-known data set from its four files' SHA-256 digests (in [`Part::ALL`]
/// order, as [`Dataset::files`] lists them): `mnist` (raw or any known gzip of each file) or
/// `fashion-mnist`; `None` for anything else. Data named by content, not by the path they
/// were found at.
pub fn known_dataset(file_sha256: &[String]) -> Option<&'static str> {
    if file_sha256.len() != 4 {
        return None;
    }
    let mnist = MNIST_DIGESTS
        .iter()
        .zip(file_sha256)
        .all(|(k, d)| k.raw == d || k.gz.contains(&d.as_str()));
    let fashion = FASHION_MNIST_GZ
        .iter()
        .zip(file_sha256)
        .all(|(k, d)| k == d);
    match (mnist, fashion) {
        (true, _) => Some("mnist"),
        (_, true) => Some("fashion-mnist"),
        _ => None,
    }
}

/// Which digests a data set's files are checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DigestCheck {
    /// The well-known MNIST digests built into this crate (the default).
    #[default]
    KnownMnist,
    /// The Fashion-MNIST digests built into this crate: its four files as Zalando Research
    /// distributes them (and Debian's `dataset-fashion-mnist` installs them), gzip-compressed.
    KnownFashionMnist,
    /// The `SHA256SUMS` file in the data set directory (for custom data sets).
    SumsFile,
    /// No digest check (explicit opt-out for custom data).
    Skip,
}

/// How a file's integrity was established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verified {
    /// Its bytes matched a built-in MNIST digest.
    KnownDigest,
    /// Its decompressed bytes matched a built-in MNIST digest.
    KnownContentDigest,
    /// Its bytes matched the built-in Fashion-MNIST digest.
    KnownFashionDigest,
    /// It matched a line of the directory's `SHA256SUMS`.
    SumsFile,
    /// Not checked ([`DigestCheck::Skip`]).
    NotChecked,
}

/// Options for [`load`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Number of classes; every label must be below it.
    pub classes: usize,
    /// Which digests to check against.
    pub digests: DigestCheck,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            classes: 10,
            digests: DigestCheck::KnownMnist,
        }
    }
}

/// What was found and checked for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReport {
    /// Which file of the data set.
    pub part: Part,
    /// Where it was found.
    pub path: PathBuf,
    /// Whether it was gzip-compressed.
    pub gzip: bool,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub sha256: String,
    /// How its integrity was established.
    pub verified: Verified,
}

/// One split (train or test): images as stored (u8, row-major `n x rows x cols`) and labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Pixel intensities, `n * rows * cols` of them.
    pub images: Vec<u8>,
    /// One label per image, each `< classes`.
    pub labels: Vec<u8>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image (`rows * cols`).
    pub fn dim(&self) -> usize {
        self.rows * self.cols
    }

    /// The images as f32 in [0, 1], row-major `n x dim` (see [`crate::pixels`]).
    pub fn images_f32(&self) -> Vec<f32> {
        to_unit_f32(&self.images)
    }

    /// Number of images of each class `0..classes`. Labels `>= classes` are not counted.
    pub fn class_histogram(&self, classes: usize) -> Vec<usize> {
        let mut h = vec![0usize; classes];
        for &l in &self.labels {
            if let Some(c) = h.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        h
    }
}

/// A loaded and checked MNIST-style data set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// The training split.
    pub train: Split,
    /// The test split.
    pub test: Split,
    /// Number of classes.
    pub classes: usize,
    /// The four files, in [`Part::ALL`] order.
    pub files: Vec<FileReport>,
}

/// Finds the four files of an MNIST-style directory under any accepted spelling.
pub fn locate(dir: &Path) -> Result<[PathBuf; 4]> {
    let find = |part: Part| -> Result<PathBuf> {
        let names = part.spellings();
        names
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| IdxError::MissingFile {
                dir: dir.to_path_buf(),
                tried: names.to_vec(),
                hint: DATA_HINT,
            })
    };
    Ok([
        find(Part::TrainImages)?,
        find(Part::TrainLabels)?,
        find(Part::TestImages)?,
        find(Part::TestLabels)?,
    ])
}

/// Loads, checks and returns the data set in `dir`.
///
/// The four files are read in parallel; each file's digest is computed while it is parsed.
pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Dataset> {
    let [tri, trl, tei, tel] = locate(dir)?;
    let sums = match opts.digests {
        DigestCheck::SumsFile => Some(Sums::read(&dir.join("SHA256SUMS"))?),
        _ => None,
    };
    let sums = sums.as_ref();
    let split = |images: &Path, ip: Part, labels: &Path, lp: Part| {
        rayon::join(
            || load_file(images, ip, opts.digests, sums),
            || load_file(labels, lp, opts.digests, sums),
        )
    };
    let ((a, b), (c, d)) = rayon::join(
        || split(&tri, Part::TrainImages, &trl, Part::TrainLabels),
        || split(&tei, Part::TestImages, &tel, Part::TestLabels),
    );
    let (tri_a, tri_r) = a?;
    let (trl_a, trl_r) = b?;
    let (tei_a, tei_r) = c?;
    let (tel_a, tel_r) = d?;
    let train = make_split(tri_a, &tri, trl_a, &trl, opts.classes)?;
    let test = make_split(tei_a, &tei, tel_a, &tel, opts.classes)?;
    Ok(Dataset {
        train,
        test,
        classes: opts.classes,
        files: vec![tri_r, trl_r, tei_r, tel_r],
    })
}

/// Reads one file, hashing it while it is parsed, and checks its digest and shape.
fn load_file(
    path: &Path,
    part: Part,
    check: DigestCheck,
    sums: Option<&Sums>,
) -> Result<(IdxArray, FileReport)> {
    let bytes = fs::read(path).map_err(|source| IdxError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    let (digest, parsed) = rayon::join(|| sha256(&bytes), || read_bytes(&bytes, path));
    let array = parsed?;
    let found = to_hex(&digest);
    let verified = verify(path, part, &array, &found, check, sums)?;
    let rank = if part.is_images() { 3 } else { 1 };
    if array.elem() != ElemType::U8 {
        return Err(IdxError::WrongType {
            file: path.to_path_buf(),
            expected: ElemType::U8,
            found: array.elem(),
        });
    }
    if array.dims().len() != rank {
        return Err(IdxError::WrongRank {
            file: path.to_path_buf(),
            expected: rank,
            found: array.dims().to_vec(),
        });
    }
    let report = FileReport {
        part,
        path: path.to_path_buf(),
        gzip: array.gzip,
        sha256: found,
        verified,
    };
    Ok((array, report))
}

/// SHA-256 of the uncompressed IDX encoding of `array`, lower-case hex.
fn content_digest(array: &IdxArray) -> String {
    match &array.data {
        IdxData::U8(v) => {
            let mut h = Sha256::new();
            h.update(&array.header.to_bytes());
            h.update(v);
            to_hex(&h.finish())
        }
        _ => to_hex(&sha256(&array.to_idx_bytes())),
    }
}

fn verify(
    path: &Path,
    part: Part,
    array: &IdxArray,
    found: &str,
    check: DigestCheck,
    sums: Option<&Sums>,
) -> Result<Verified> {
    let mismatch = |expected: Vec<String>, found: String| IdxError::DigestMismatch {
        file: path.to_path_buf(),
        expected,
        found,
    };
    match check {
        DigestCheck::Skip => Ok(Verified::NotChecked),
        DigestCheck::KnownMnist => {
            let known = MNIST_DIGESTS
                .iter()
                .find(|k| k.part == part)
                .expect("every part has known digests");
            if found == known.raw || known.gz.contains(&found) {
                return Ok(Verified::KnownDigest);
            }
            let mut expected = vec![known.raw.to_string()];
            if array.gzip {
                let content = content_digest(array);
                if content == known.raw {
                    return Ok(Verified::KnownContentDigest);
                }
                expected.extend(known.gz.iter().map(|s| s.to_string()));
                return Err(mismatch(
                    expected,
                    format!("{found} (decompressed: {content})"),
                ));
            }
            Err(mismatch(expected, found.to_string()))
        }
        DigestCheck::KnownFashionMnist => {
            let want = FASHION_MNIST_GZ[Part::ALL
                .iter()
                .position(|&p| p == part)
                .expect("every part is in Part::ALL")];
            if found == want {
                Ok(Verified::KnownFashionDigest)
            } else {
                Err(mismatch(vec![want.to_string()], found.to_string()))
            }
        }
        DigestCheck::SumsFile => {
            let sums = sums.expect("sums file is read for DigestCheck::SumsFile");
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(want) = sums.get(&name) {
                return if want == found {
                    Ok(Verified::SumsFile)
                } else {
                    Err(mismatch(vec![want.to_string()], found.to_string()))
                };
            }
            // A gzip file may be listed under its uncompressed name.
            if let Some(want) = name.strip_suffix(".gz").and_then(|n| sums.get(n)) {
                let content = content_digest(array);
                return if want == content {
                    Ok(Verified::SumsFile)
                } else {
                    Err(mismatch(
                        vec![want.to_string()],
                        format!("{content} (decompressed)"),
                    ))
                };
            }
            Err(IdxError::NoDigest {
                sums: sums.path.clone(),
                name,
            })
        }
    }
}

fn make_split(
    images: IdxArray,
    images_path: &Path,
    labels: IdxArray,
    labels_path: &Path,
    classes: usize,
) -> Result<Split> {
    let (n_images, rows, cols) = (images.dims()[0], images.dims()[1], images.dims()[2]);
    let n_labels = labels.dims()[0];
    if n_images != n_labels {
        return Err(IdxError::CountMismatch {
            images: images_path.to_path_buf(),
            n_images,
            labels: labels_path.to_path_buf(),
            n_labels,
        });
    }
    let (IdxData::U8(images), IdxData::U8(labels)) = (images.data, labels.data) else {
        unreachable!("element types were checked in load_file");
    };
    if let Some((index, &label)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| usize::from(l) >= classes)
    {
        return Err(IdxError::LabelOutOfRange {
            file: labels_path.to_path_buf(),
            index,
            label,
            classes,
        });
    }
    Ok(Split {
        images,
        labels,
        rows,
        cols,
    })
}

/// A parsed `SHA256SUMS` file (`<hex>  <name>` or `<hex> *<name>` per line; `#` comments).
struct Sums {
    path: PathBuf,
    entries: Vec<(String, String)>,
}

impl Sums {
    fn read(path: &Path) -> Result<Sums> {
        let text = fs::read_to_string(path).map_err(|source| IdxError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (hex, name) = l.split_once(char::is_whitespace)?;
                let name = name.trim_start().trim_start_matches('*');
                Some((name.to_string(), hex.to_ascii_lowercase()))
            })
            .collect();
        Ok(Sums {
            path: path.to_path_buf(),
            entries,
        })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, h)| h.as_str())
    }
}

#[cfg(test)]
mod known_tests {
    use super::*;

    #[test]
    fn data_sets_are_named_by_their_digests() {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let raw: Vec<&str> = MNIST_DIGESTS.iter().map(|k| k.raw).collect();
        let gz: Vec<&str> = MNIST_DIGESTS.iter().map(|k| k.gz[1]).collect();
        assert_eq!(known_dataset(&owned(&raw)), Some("mnist"));
        assert_eq!(known_dataset(&owned(&gz)), Some("mnist"));
        // Raw and compressed files mixed are still MNIST; a file of another set is not.
        let mixed = [raw[0], gz[1], raw[2], gz[3]];
        assert_eq!(known_dataset(&owned(&mixed)), Some("mnist"));
        let other = [raw[0], raw[1], FASHION_MNIST_GZ[2], raw[3]];
        assert_eq!(known_dataset(&owned(&other)), None);
        assert_eq!(
            known_dataset(&owned(&FASHION_MNIST_GZ)),
            Some("fashion-mnist")
        );
        // Order matters: the train images' digest in the labels' place is not MNIST.
        let swapped = [raw[1], raw[0], raw[2], raw[3]];
        assert_eq!(known_dataset(&owned(&swapped)), None);
        assert_eq!(known_dataset(&owned(&raw[..3])), None);
    }
}
