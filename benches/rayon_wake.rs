//! How long rayon's idle worker takes to pick up work, the cost a training batch pays at each
//! of its parallel regions on two threads (see docs/benchmarks.md, "Two threads on a host with
//! two real cores"). In a two-thread pool the calling worker does `gap` microseconds of serial
//! work, then `rayon::join`s two halves of `half` microseconds each; the second half records
//! when it started. A worker that is still looking for work steals it within a microsecond; one
//! that has gone to sleep must be woken first.
//!
//! Run: `cargo bench --bench rayon_wake`. Medians and 90th percentiles of 2,000 joins per
//! cell; only the same run's cells compare (these machines vary from minute to minute).

use std::time::{Duration, Instant};

const JOINS: usize = 2000;

fn spin(micros: u64) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_micros(micros) {
        std::hint::spin_loop();
    }
}

fn main() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a two-thread pool");
    println!("rayon join, two-thread pool: when the second half starts (microseconds)");
    println!("| serial gap before the join | each half | median | p90 |");
    println!("|---|---|---|---|");
    for gap in [0u64, 20, 100] {
        for half in [20u64, 50, 100] {
            let mut started: Vec<f64> = pool.install(|| {
                (0..JOINS)
                    .map(|_| {
                        spin(gap);
                        let t0 = Instant::now();
                        let (_, s) = rayon::join(
                            || spin(half),
                            || {
                                let s = t0.elapsed();
                                spin(half);
                                s
                            },
                        );
                        s.as_secs_f64() * 1e6
                    })
                    .collect()
            });
            started.sort_by(f64::total_cmp);
            println!(
                "| {gap} | {half} | {:.1} | {:.1} |",
                started[JOINS / 2],
                started[JOINS * 9 / 10]
            );
        }
    }
    println!(
        "(a second half that no other thread took starts when the first ends, after about \
         `half`: a median near `half` means the other worker was not there in time)"
    );
}
