//! One test per error kind, on tiny hand-made fixtures; each checks the variant, the file it
//! names, and the expected/found values in the message.

mod common;

use std::path::Path;

use common::{gz, idx, idx_u8, images_labels, small_dataset, TempDir};
use ibci_idx::mnist::{load, DigestCheck, LoadOptions};
use ibci_idx::{read_bytes, read_file, read_from, ElemType, IdxError};

const SRC: &str = "fixture.idx";

fn parse(bytes: &[u8]) -> IdxError {
    read_bytes(bytes, Path::new(SRC)).expect_err("fixture must be rejected")
}

fn custom() -> LoadOptions {
    LoadOptions {
        classes: 3,
        digests: DigestCheck::Skip,
    }
}

#[test]
fn missing_file_lists_spellings_and_hint() {
    let dir = TempDir::new("missing");
    let e = load(dir.path(), &LoadOptions::default()).unwrap_err();
    let IdxError::MissingFile { dir: d, tried, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(d, dir.path());
    assert_eq!(
        tried,
        &[
            "train-images-idx3-ubyte",
            "train-images-idx3-ubyte.gz",
            "train-images.idx3-ubyte",
            "train-images.idx3-ubyte.gz"
        ]
    );
    assert!(e.to_string().contains("HINT"), "{e}");
    // A single missing file of an otherwise complete directory is named too.
    small_dataset(&dir, true, false);
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let e = load(dir.path(), &custom()).unwrap_err();
    assert!(
        matches!(&e, IdxError::MissingFile { tried, .. } if tried[0] == "t10k-labels-idx1-ubyte"),
        "{e:?}"
    );
}

#[test]
fn io_error_names_the_file() {
    let e = read_file(Path::new("/nonexistent/ibci/train-images-idx3-ubyte")).unwrap_err();
    assert!(
        matches!(&e, IdxError::Io { file, .. } if file.ends_with("train-images-idx3-ubyte")),
        "{e:?}"
    );
}

#[test]
fn bad_magic() {
    let mut f = idx_u8(&[4]);
    f[1] = 0x42;
    let e = parse(&f);
    assert!(
        matches!(&e, IdxError::BadMagic { found, file } if *found == [0, 0x42, 8, 1] && file == Path::new(SRC)),
        "{e:?}"
    );
    assert!(e.to_string().contains("00 42 08 01"), "{e}");
    // A text file is not an IDX file either.
    assert!(matches!(parse(b"hello world"), IdxError::BadMagic { .. }));
}

#[test]
fn unknown_type_code() {
    for code in [0x00u8, 0x07, 0x0A, 0x0F, 0xFF] {
        let e = parse(&idx(code, &[1], &[0]));
        assert!(
            matches!(e, IdxError::UnknownType { code: c, .. } if c == code),
            "{e:?}"
        );
    }
}

#[test]
fn shape_overflow() {
    // 2^32-1 to the 4th power of f64 elements overflows u64.
    let dims = [u32::MAX; 4];
    let e = parse(&idx(0x0E, &dims, &[]));
    assert!(
        matches!(&e, IdxError::ShapeOverflow { dims: d, .. } if d == &dims),
        "{e:?}"
    );
    // 255 dimensions of 2 elements: 2^255.
    let e = parse(&idx(0x08, &[2; 255], &[]));
    assert!(matches!(e, IdxError::ShapeOverflow { .. }), "{e:?}");
}

#[test]
fn hostile_header_is_an_error_not_an_allocation() {
    // 2^31 x 2^31 bytes claimed, 16 present: rejected before any payload buffer exists,
    // for raw bytes, gzip bytes and a stream of unknown length.
    let f = idx(0x08, &[1 << 31, 1 << 31], &[7; 16]);
    let expect = |e: IdxError| {
        assert!(
            matches!(e, IdxError::Truncated { part: "payload", expected_bytes, found_bytes, .. }
                if expected_bytes == (1u64 << 62) + 12 && found_bytes == 28),
            "{e:?}"
        )
    };
    expect(parse(&f));
    expect(parse(&gz(&f)));
    expect(read_from(&f[..], Path::new(SRC)).unwrap_err());
    expect(read_from(&gz(&f)[..], Path::new(SRC)).unwrap_err());
}

#[test]
fn truncated_header_and_payload() {
    let e = parse(&[0, 0, 8]);
    assert!(
        matches!(
            e,
            IdxError::Truncated {
                part: "header",
                expected_bytes: 4,
                found_bytes: 3,
                ..
            }
        ),
        "{e:?}"
    );
    // Rank 3 needs 12 bytes of dimensions; 5 are there.
    let e = parse(&[0, 0, 8, 3, 0, 0, 0, 2, 0]);
    assert!(
        matches!(
            e,
            IdxError::Truncated {
                part: "header",
                expected_bytes: 16,
                found_bytes: 9,
                ..
            }
        ),
        "{e:?}"
    );
    // 2 x 3 i16 = 12 payload bytes; 11 present.
    let full = idx(0x0B, &[2, 3], &[1; 12]);
    let cut = &full[..full.len() - 1];
    for e in [
        parse(cut),
        parse(&gz(cut)),
        read_from(cut, Path::new(SRC)).unwrap_err(),
    ] {
        assert!(
            matches!(
                e,
                IdxError::Truncated {
                    part: "payload",
                    expected_bytes: 24,
                    found_bytes: 23,
                    ..
                }
            ),
            "{e:?}"
        );
    }
    assert!(parse(cut).to_string().contains("24 bytes, found only 23"));
}

#[test]
fn trailing_bytes() {
    let mut f = idx_u8(&[2, 2]);
    f.extend_from_slice(&[9, 9, 9]);
    for e in [
        parse(&f),
        parse(&gz(&f)),
        read_from(&f[..], Path::new(SRC)).unwrap_err(),
    ] {
        assert!(
            matches!(
                e,
                IdxError::TrailingBytes {
                    expected_bytes: 16,
                    found_bytes: 19,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

#[test]
fn gzip_corruption() {
    let good = gz(&idx_u8(&[40, 5]));
    // A flipped byte in the deflate data, in the CRC, and in the length trailer; a stream cut
    // short; garbage after the last member.
    let mut data = good.clone();
    data[20] ^= 0xFF;
    let mut crc = good.clone();
    let n = crc.len();
    crc[n - 6] ^= 0x01;
    let mut isize = good.clone();
    isize[n - 1] ^= 0x01;
    let cut = good[..good.len() / 2].to_vec();
    let mut garbage = good.clone();
    garbage.extend_from_slice(b"not gzip");
    for (what, bytes) in [
        ("data", data),
        ("crc", crc),
        ("isize", isize),
        ("cut", cut),
        ("garbage", garbage),
    ] {
        let e = parse(&bytes);
        assert!(
            matches!(&e, IdxError::Gzip { file, .. } if file == Path::new(SRC)),
            "{what}: {e:?}"
        );
        let e = read_from(&bytes[..], Path::new(SRC)).unwrap_err();
        assert!(matches!(e, IdxError::Gzip { .. }), "{what} (stream): {e:?}");
    }
}

#[test]
fn wrong_type_and_rank_for_a_data_set() {
    let dir = TempDir::new("wrongtype");
    small_dataset(&dir, false, false);
    // Labels stored as i32 instead of u8.
    let labels_i32: Vec<u8> = (0..12u32).flat_map(|i| (i % 3).to_be_bytes()).collect();
    dir.write("train-labels-idx1-ubyte", &idx(0x0C, &[12], &labels_i32));
    let e = load(dir.path(), &custom()).unwrap_err();
    assert!(
        matches!(
            e,
            IdxError::WrongType {
                expected: ElemType::U8,
                found: ElemType::I32,
                ..
            }
        ),
        "{e:?}"
    );
    // Images of rank 2 instead of 3.
    small_dataset(&dir, false, false);
    dir.write("t10k-images-idx3-ubyte", &idx_u8(&[5, 6]));
    let e = load(dir.path(), &custom()).unwrap_err();
    assert!(
        matches!(&e, IdxError::WrongRank { expected: 3, found, file } if found == &[5, 6] && file.ends_with("t10k-images-idx3-ubyte")),
        "{e:?}"
    );
}

#[test]
fn count_mismatch() {
    let dir = TempDir::new("count");
    small_dataset(&dir, true, false);
    let (_, labels) = images_labels(11, 3);
    dir.write("train-labels-idx1-ubyte.gz", &gz(&labels));
    let e = load(dir.path(), &custom()).unwrap_err();
    assert!(
        matches!(&e, IdxError::CountMismatch { n_images: 12, n_labels: 11, images, labels }
            if images.ends_with("train-images-idx3-ubyte.gz") && labels.ends_with("train-labels-idx1-ubyte.gz")),
        "{e:?}"
    );
}

#[test]
fn label_out_of_range() {
    let dir = TempDir::new("label");
    small_dataset(&dir, false, true);
    let mut labels: Vec<u8> = (0..5).map(|i| i % 3).collect();
    labels[3] = 3;
    dir.write("t10k-labels.idx1-ubyte", &idx(0x08, &[5], &labels));
    let e = load(dir.path(), &custom()).unwrap_err();
    assert!(
        matches!(
            e,
            IdxError::LabelOutOfRange {
                index: 3,
                label: 3,
                classes: 3,
                ..
            }
        ),
        "{e:?}"
    );
    // The same labels are fine with four classes.
    let four = LoadOptions {
        classes: 4,
        ..custom()
    };
    assert_eq!(load(dir.path(), &four).unwrap().test.labels, labels);
}

#[test]
fn digest_mismatch_against_mnist_and_sums() {
    let dir = TempDir::new("digest");
    small_dataset(&dir, true, false);
    // Not MNIST: the built-in digests reject it, naming the file and both digests.
    let e = load(
        dir.path(),
        &LoadOptions {
            classes: 3,
            digests: DigestCheck::KnownMnist,
        },
    )
    .unwrap_err();
    assert!(
        matches!(&e, IdxError::DigestMismatch { expected, found, .. } if expected.len() == 3 && found.contains("decompressed")),
        "{e:?}"
    );
    // Nor Fashion-MNIST: its built-in digest (one per file) rejects it, naming the file.
    let e = load(
        dir.path(),
        &LoadOptions {
            classes: 3,
            digests: DigestCheck::KnownFashionMnist,
        },
    )
    .unwrap_err();
    assert!(
        matches!(&e, IdxError::DigestMismatch { file, expected, .. }
            if expected.len() == 1 && file.ends_with("train-images-idx3-ubyte.gz")),
        "{e:?}"
    );
    // A SHA256SUMS file with one wrong line.
    let sums_opts = LoadOptions {
        classes: 3,
        digests: DigestCheck::SumsFile,
    };
    let mut sums = String::from("# comment\n");
    for name in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        let bytes = std::fs::read(dir.path().join(name)).unwrap();
        let hex = ibci_idx::sha256::to_hex(&ibci_idx::sha256::sha256(&bytes));
        sums.push_str(&format!("{hex}  {name}\n"));
    }
    dir.write("SHA256SUMS", sums.as_bytes());
    load(dir.path(), &sums_opts).expect("all four lines match");
    let bad = sums.replacen("  t10k-images", "  t10k-images-XX", 1);
    dir.write("SHA256SUMS", bad.as_bytes());
    let e = load(dir.path(), &sums_opts).unwrap_err();
    assert!(
        matches!(&e, IdxError::NoDigest { name, .. } if name == "t10k-images-idx3-ubyte.gz"),
        "{e:?}"
    );
    let first_hex = &sums[10..74];
    let flipped = sums.replacen(first_hex, &"0".repeat(64), 1);
    dir.write("SHA256SUMS", flipped.as_bytes());
    let e = load(dir.path(), &sums_opts).unwrap_err();
    assert!(
        matches!(&e, IdxError::DigestMismatch { file, found, .. } if file.ends_with("train-images-idx3-ubyte.gz") && found == first_hex),
        "{e:?}"
    );
}
