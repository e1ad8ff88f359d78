//! Every element type and several ranks, raw and gzip, through every entry point; both file
//! name spellings of a data set directory.

mod common;

use std::path::Path;

use common::{gz, idx, small_dataset, TempDir};
use ibci_idx::mnist::{load, locate, DigestCheck, LoadOptions, Verified};
use ibci_idx::{read_bytes, read_file, read_from, ElemType, IdxArray, IdxData};

/// Big-endian payload for `n` elements of `elem`, with negative and fractional values where
/// the type has them, and the native values it must decode to.
fn payload(elem: ElemType, n: usize) -> (Vec<u8>, IdxData) {
    let ints = (0..n as i64).map(|i| i * 37 - 100);
    match elem {
        ElemType::U8 => {
            let v: Vec<u8> = ints.map(|x| x as u8).collect();
            (v.clone(), IdxData::U8(v))
        }
        ElemType::I8 => {
            let v: Vec<i8> = ints.map(|x| x as i8).collect();
            (v.iter().map(|&x| x as u8).collect(), IdxData::I8(v))
        }
        ElemType::I16 => {
            let v: Vec<i16> = ints.map(|x| (x * 300) as i16).collect();
            (
                v.iter().flat_map(|x| x.to_be_bytes()).collect(),
                IdxData::I16(v),
            )
        }
        ElemType::I32 => {
            let v: Vec<i32> = ints.map(|x| (x * 70_000) as i32).collect();
            (
                v.iter().flat_map(|x| x.to_be_bytes()).collect(),
                IdxData::I32(v),
            )
        }
        ElemType::F32 => {
            let v: Vec<f32> = ints.map(|x| x as f32 / 3.0).collect();
            (
                v.iter().flat_map(|x| x.to_be_bytes()).collect(),
                IdxData::F32(v),
            )
        }
        ElemType::F64 => {
            let v: Vec<f64> = ints.map(|x| x as f64 / 7.0).collect();
            (
                v.iter().flat_map(|x| x.to_be_bytes()).collect(),
                IdxData::F64(v),
            )
        }
    }
}

#[test]
fn every_type_and_rank_round_trips_through_every_entry_point() {
    let dir = TempDir::new("roundtrip");
    let shapes: [&[u32]; 6] = [&[], &[0], &[5], &[3, 4], &[2, 3, 4], &[1, 2, 1, 3, 2]];
    for elem in ElemType::ALL {
        for dims in shapes {
            let n: usize = dims.iter().map(|&d| d as usize).product();
            let (bytes, data) = payload(elem, n);
            let file = idx(elem.code(), dims, &bytes);
            for gzip in [false, true] {
                let input = if gzip { gz(&file) } else { file.clone() };
                let what = format!("{elem} {dims:?} gzip={gzip}");
                let path = dir.write("x.idx", &input);
                let results: [IdxArray; 3] = [
                    read_bytes(&input, Path::new("mem")).expect(&what),
                    read_from(&input[..], Path::new("stream")).expect(&what),
                    read_file(&path).expect(&what),
                ];
                for a in results {
                    assert_eq!(a.elem(), elem, "{what}");
                    assert_eq!(
                        a.dims(),
                        dims.iter().map(|&d| d as usize).collect::<Vec<_>>()
                    );
                    assert_eq!(a.data, data, "{what}");
                    assert_eq!(a.gzip, gzip, "{what}");
                    assert_eq!(a.len(), n);
                    assert_eq!(a.to_idx_bytes(), file, "{what}: re-encoding");
                    assert_eq!(a.to_f64().len(), n);
                }
            }
        }
    }
}

#[test]
fn gzip_is_detected_by_content_not_name() {
    let dir = TempDir::new("sniff");
    let file = idx(0x08, &[3], &[1, 2, 3]);
    let a = read_file(&dir.write("looks-raw-idx1-ubyte", &gz(&file))).unwrap();
    assert!(a.gzip);
    let b = read_file(&dir.write("looks-compressed.gz", &file)).unwrap();
    assert!(!b.gzip);
    assert_eq!(a.data, b.data);
}

#[test]
fn concatenated_gzip_members_read_like_gzip_dc() {
    let file = idx(0x08, &[6], &[1, 2, 3, 4, 5, 6]);
    let mut two = gz(&file[..7]);
    two.extend(gz(&file[7..]));
    assert_eq!(
        read_bytes(&two, Path::new("m")).unwrap().as_u8(),
        Some(&[1, 2, 3, 4, 5, 6][..])
    );
}

#[test]
fn both_spellings_raw_and_gzip_load_the_same_data() {
    let opts = LoadOptions {
        classes: 3,
        digests: DigestCheck::Skip,
    };
    let mut loaded = Vec::new();
    for (gzip, dotted) in [(false, false), (true, false), (false, true), (true, true)] {
        let dir = TempDir::new("spell");
        small_dataset(&dir, gzip, dotted);
        let paths = locate(dir.path()).unwrap();
        let name = paths[0].file_name().unwrap().to_string_lossy().into_owned();
        let sep = if dotted { "." } else { "-" };
        assert_eq!(
            name,
            format!(
                "train-images{sep}idx3-ubyte{}",
                if gzip { ".gz" } else { "" }
            )
        );
        let d = load(dir.path(), &opts).unwrap();
        assert!(d
            .files
            .iter()
            .all(|f| f.verified == Verified::NotChecked && f.gzip == gzip));
        loaded.push(d);
    }
    let first = &loaded[0];
    assert_eq!(first.train.len(), 12);
    assert_eq!(first.test.len(), 5);
    assert_eq!(
        (first.train.rows, first.train.cols, first.train.dim()),
        (2, 3, 6)
    );
    assert_eq!(first.train.class_histogram(3), vec![4, 4, 4]);
    for d in &loaded[1..] {
        assert_eq!((&d.train, &d.test), (&first.train, &first.test));
    }
    let f = first.test.images_f32();
    assert_eq!(f.len(), 30);
    assert_eq!(f[7], first.test.images[7] as f32 / 255.0);
}
