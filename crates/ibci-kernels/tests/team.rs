//! The team ([`Team`]): every task runs exactly once, on any team size and task count (more
//! tasks than slots included); a broadcast reaches every member on its own thread; a task's
//! panic reaches the caller and leaves the team usable; a kernel inside a team task does not
//! split over the team again; a parked helper wakes for the next region; the round-trip probe
//! measures something between two members, and nothing in a team of one.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use ibci_kernels::sparse::{rows_times, CsrRows, Packed};
use ibci_kernels::team::SPIN;
use ibci_kernels::{KernelPath, Mat, Par, Team};

#[test]
fn every_task_runs_once() {
    for size in 1..=4 {
        let team = Team::new(size);
        assert_eq!(team.size(), size);
        for tasks in [0, 1, 2, 3, 5, 8, 31, 32, 33, 70] {
            let runs: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
            team.run(tasks, &|t| {
                runs[t].fetch_add(1, Ordering::Relaxed);
            });
            for (t, r) in runs.iter().enumerate() {
                assert_eq!(
                    r.load(Ordering::Relaxed),
                    1,
                    "a team of {size}, {tasks} tasks: task {t}"
                );
            }
        }
    }
}

/// A team asked for more members than a region has slots has `MAX_SIZE`, and works.
#[test]
fn a_team_has_at_most_max_size_members() {
    let team = Team::new(Team::MAX_SIZE + 5);
    assert_eq!(team.size(), Team::MAX_SIZE);
    let runs = AtomicUsize::new(0);
    team.run(100, &|_| {
        runs.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(runs.load(Ordering::Relaxed), 100);
    assert_eq!(Team::new(0).size(), 1);
}

#[test]
fn the_round_trip_probe_needs_two_members_and_measures_a_time() {
    assert_eq!(Team::new(1).round_trip_ns(64), None);
    for size in [2, 3] {
        let team = Team::new(size);
        // Also right after the helpers started, and once they have parked.
        for pause in [Duration::ZERO, SPIN * 20] {
            thread::sleep(pause);
            let ns = team.round_trip_ns(64).expect("two members or more");
            assert!(ns.is_finite() && ns > 0.0, "team of {size}: {ns} ns");
        }
        // The team still runs regions afterwards.
        let runs = AtomicUsize::new(0);
        team.run(10, &|_| {
            runs.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(runs.load(Ordering::Relaxed), 10);
    }
}

#[test]
fn a_broadcast_reaches_every_member_on_its_own_thread() {
    for size in 1..=4 {
        let team = Team::new(size);
        let seen = Mutex::new(Vec::new());
        team.broadcast(&|m| {
            seen.lock().unwrap().push((m, thread::current().id()));
        });
        let seen = seen.into_inner().unwrap();
        let members: HashSet<usize> = seen.iter().map(|s| s.0).collect();
        let threads: HashSet<_> = seen.iter().map(|s| s.1).collect();
        assert_eq!(seen.len(), size, "a team of {size}: {seen:?}");
        assert_eq!(members, (0..size).collect(), "a team of {size}");
        assert_eq!(
            threads.len(),
            size,
            "a team of {size}: one thread per member"
        );
        assert!(
            seen.iter()
                .any(|&(m, id)| m == 0 && id == thread::current().id()),
            "member 0 is the caller"
        );
    }
}

#[test]
fn join_returns_both_results() {
    let team = Team::new(2);
    for i in 0..100u64 {
        let (a, b) = team.join(|| i * 2, || format!("{i}"));
        assert_eq!((a, b), (i * 2, i.to_string()));
    }
    let (a, b) = Par::Seq.join(|| 1, || 2);
    assert_eq!((a, b), (1, 2));
}

/// `join`'s first closure runs on the calling thread every time (its kernels then split over
/// this team or the caller's rayon pool, never rayon's global one); a panic in it reaches the
/// caller after the second has finished.
#[test]
fn join_runs_its_first_closure_on_the_caller() {
    let team = Team::new(2);
    let me = thread::current().id();
    for _ in 0..200 {
        let (a, _) = team.join(|| thread::current().id(), || thread::current().id());
        assert_eq!(a, me);
    }
    let b_done = AtomicUsize::new(0);
    let r = catch_unwind(AssertUnwindSafe(|| {
        team.join(
            || panic!("a fails"),
            || {
                thread::sleep(Duration::from_millis(20));
                b_done.fetch_add(1, Ordering::SeqCst)
            },
        )
    }));
    assert!(r.is_err(), "the first closure's panic is re-raised");
    assert_eq!(
        b_done.load(Ordering::SeqCst),
        1,
        "the second closure finished first"
    );
    assert_eq!(team.join(|| 1, || 2), (1, 2), "the team goes on");
}

/// Inside `join`, the first closure still has the team: its regions run every task once
/// while a helper may be busy with the second closure (and join them once it is done), also
/// when the helper had parked; a join inside it runs both closures here, in order; the second
/// closure's panic reaches the caller.
#[test]
fn join_lets_its_first_closure_use_the_team() {
    let team = Team::new(2);
    team.install(|| {
        for i in 0..300usize {
            if i % 50 == 0 {
                // Long enough for the helper to park: the offer must wake it.
                thread::sleep(SPIN * 10);
            }
            let counts: Vec<AtomicUsize> = (0..64).map(|_| AtomicUsize::new(0)).collect();
            let (a, b) = team.join(
                || {
                    let size = ibci_kernels::team::current(|t| t.map(|t| t.size()));
                    for _ in 0..4 {
                        team.run(64, &|t| {
                            counts[t].fetch_add(1, Ordering::Relaxed);
                        });
                    }
                    let nested = team.join(|| thread::current().id(), || i);
                    (size, nested)
                },
                || (0..1000u64).map(|x| x * x).sum::<u64>() + i as u64,
            );
            assert_eq!(a.0, Some(2), "the team is installed in the first closure");
            assert_eq!(a.1, (thread::current().id(), i), "a nested join runs here");
            assert_eq!(b, 332_833_500 + i as u64);
            assert!(
                counts.iter().all(|c| c.load(Ordering::Relaxed) == 4),
                "every task of every region ran once"
            );
        }
    });
    let r = catch_unwind(AssertUnwindSafe(|| team.join(|| 1, || panic!("b fails"))));
    assert!(r.is_err(), "the second closure's panic is re-raised");
    assert_eq!(team.join(|| 1, || 2), (1, 2), "the team goes on");
}

#[test]
fn a_panicking_task_reaches_the_caller_and_the_team_goes_on() {
    let team = Team::new(3);
    for bad in 0..6 {
        let done = AtomicUsize::new(0);
        let r = catch_unwind(AssertUnwindSafe(|| {
            team.run(6, &|t| {
                if t == bad {
                    panic!("task {t} fails");
                }
                done.fetch_add(1, Ordering::Relaxed);
            })
        }));
        let msg = r.expect_err("the panic is re-raised");
        assert_eq!(
            msg.downcast_ref::<String>().map(String::as_str),
            Some(format!("task {bad} fails").as_str())
        );
        // Every other task of the region still ran (slots run theirs in order, so a slot's
        // tasks after the panicking one are skipped: only count the ones that ran).
        assert!(done.load(Ordering::Relaxed) >= 3, "bad task {bad}");
        let after = AtomicUsize::new(0);
        team.run(7, &|_| {
            after.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(after.load(Ordering::Relaxed), 7);
    }
}

#[test]
fn a_parked_helper_wakes_for_the_next_region() {
    let team = Team::new(2);
    for _ in 0..3 {
        thread::sleep(SPIN * 20 + Duration::from_millis(5));
        let ids = Mutex::new(HashSet::new());
        team.broadcast(&|_| {
            ids.lock().unwrap().insert(thread::current().id());
        });
        assert_eq!(ids.into_inner().unwrap().len(), 2);
    }
}

/// A product that a team task runs with `Par::Rayon` sees no team (it would otherwise publish
/// a region inside the running one) and runs on rayon, with the same bits.
#[test]
fn a_kernel_inside_a_team_task_does_not_split_over_the_team() {
    let (m, k, n) = (37, 50, 20);
    let x = Mat::from_fn(m, k, |i, p| {
        if (i * 7 + p * 3) % 4 == 0 {
            (i + p) as f32 / 64.0
        } else {
            0.0
        }
    });
    let w = Mat::from_fn(k, n, |p, j| ((p * n + j) % 13) as f32 / 8.0 - 0.75);
    let csr = CsrRows::new(x.as_ref());
    let rows: Vec<usize> = (0..m).rev().collect();
    let product = |par: Par| {
        let mut c = Mat::filled(m, n, f32::NAN);
        let ok = rows_times(
            c.as_mut(),
            &csr,
            &rows,
            w.as_ref().into(),
            None,
            &mut Packed::new(KernelPath::default_path()),
            par,
        );
        assert!(ok);
        c.into_vec()
    };
    let want = product(Par::Seq);
    let team = Team::new(2);
    let got = Mutex::new(Vec::new());
    team.install(|| {
        assert_eq!(product(Par::Rayon), want, "on the team");
        team.run(2, &|_| {
            got.lock().unwrap().push(product(Par::Rayon));
        });
    });
    for g in got.into_inner().unwrap() {
        assert_eq!(g, want, "inside a team task");
    }
}
