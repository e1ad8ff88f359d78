//! Prints every estimator's value for one data set, so that other front ends (the Python
//! package's tests) can be checked against the Rust results exactly.
//!
//! `cargo run --release -p ibci-mi --example estimates -- T Y N D NOISE BINS K`: `T` holds
//! `N x D` little-endian f32 values (a layer, D >= 2), `Y` N little-endian i64 labels. Prints
//! one `name value` line per estimate, each value in Rust's shortest round-trip form: the
//! KDE bounds of T at noise variance NOISE, the binned I(X;T), I(T;Y) at width BINS, Ross's
//! I(T[:, 0]; Y) with K neighbours, and KSG 1 and 2 of I(T[:, 0]; T[:, 1]) (in f64).

use ibci_kernels::{Mat, Par};
use ibci_mi::binning::binned;
use ibci_mi::discrete::Correction;
use ibci_mi::kde::mi_both;
use ibci_mi::ksg::{ksg, Points, Search, Variant};
use ibci_mi::ross::ross_mi;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 7 {
        eprintln!("usage: estimates T Y N D NOISE BINS K");
        std::process::exit(2);
    }
    let num = |i: usize| -> f64 {
        a[i].parse()
            .unwrap_or_else(|_| panic!("{}: not a number", a[i]))
    };
    let (n, d, noise, bins, k) = (
        num(2) as usize,
        num(3) as usize,
        num(4),
        num(5),
        num(6) as usize,
    );
    let t: Vec<f32> = std::fs::read(&a[0])
        .expect("reading T")
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let y: Vec<usize> = std::fs::read(&a[1])
        .expect("reading Y")
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
        .collect();
    assert!(
        t.len() == n * d && y.len() == n && d >= 2,
        "T, Y: wrong sizes"
    );
    let m = Mat::from_vec(n, d, t);
    let (xt, ty) = mi_both(m.as_ref(), &y, noise, Par::Seq);
    let b = binned(m.as_ref(), &y, bins, Correction::None);
    let col = |j: usize| -> Vec<f32> { (0..n).map(|i| m.at(i, j)).collect() };
    let c0: Vec<f64> = col(0).iter().map(|&v| f64::from(v)).collect();
    let c1: Vec<f64> = col(1).iter().map(|&v| f64::from(v)).collect();
    let ksg_of = |v| {
        ksg(
            Points { data: &c0, d: 1 },
            Points { data: &c1, d: 1 },
            k,
            v,
            Search::Auto,
        )
    };
    for (name, v) in [
        ("kde_ixt_upper", xt.upper),
        ("kde_ixt_lower", xt.lower),
        ("kde_ity_upper", ty.upper),
        ("kde_ity_lower", ty.lower),
        ("binned_ixt", b.i_xt),
        ("binned_ity", b.i_ty),
        ("ross", ross_mi(&col(0), &y, k)),
        ("ksg1", ksg_of(Variant::Ksg1)),
        ("ksg2", ksg_of(Variant::Ksg2)),
    ] {
        println!("{name} {v:?}");
    }
}
