"""ibci.mi against the Rust results (exactly) and an independent NumPy computation; and
every refusal."""

import numpy as np
import pytest

import ibci
from conftest import run


def layer(n=400, d=6, seed=5):
    """A small continuous layer with labels that inform it (no ties)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    t = (rng.standard_normal((n, d)) + y[:, None] * 0.8).astype(np.float32)
    return t, y.astype(np.int64)


def rust_estimates(estimates_bin, tmp_path, t, y, noise, bins, k):
    (tmp_path / "t.f32").write_bytes(t.astype("<f4").tobytes())
    (tmp_path / "y.i64").write_bytes(y.astype("<i8").tobytes())
    out = run([estimates_bin, tmp_path / "t.f32", tmp_path / "y.i64", len(t), t.shape[1], noise, bins, k])
    return {name: float(v) for name, v in (line.split() for line in out.stdout.splitlines())}


def test_estimates_equal_the_rust_results(estimates_bin, tmp_path):
    t, y = layer()
    want = rust_estimates(estimates_bin, tmp_path, t, y, 0.5, 0.7, 3)
    got = dict(zip(["kde_ixt_upper", "kde_ixt_lower", "kde_ity_upper", "kde_ity_lower"], ibci.mi.kde_bounds(t, y, 0.5)))
    got["binned_ixt"], got["binned_ity"] = ibci.mi.binned(t, 0.7, y)
    got["ross"] = ibci.mi.ross(t[:, 0], y, k=3)
    got["ksg1"] = ibci.mi.ksg(t[:, 0], t[:, 1], k=3, variant=1)
    got["ksg2"] = ibci.mi.ksg(t[:, 0].astype(np.float64), t[:, 1:2], k=3, variant=2)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == want[name], f"{name}: {got[name]!r} vs Rust {want[name]!r}"
    assert ibci.mi.binned(t, 0.7) == want["binned_ixt"]


def test_kde_and_binning_match_numpy():
    t, y = layer(n=300, d=3)
    x64 = t.astype(np.float64)
    d2 = ((x64[:, None, :] - x64[None, :, :]) ** 2).sum(-1)
    noise = 0.3
    for (value, width) in [(0, 2 * noise), (1, 8 * noise)]:
        k = np.exp(-d2 / width)
        ixt = -np.mean(np.log(k.mean(1)))
        same = y[:, None] == y[None, :]
        counts = np.bincount(y)[y]
        ity = np.mean(np.log((k * same).sum(1) / counts) - np.log(k.mean(1)))
        b = ibci.mi.kde_bounds(t, y, noise)
        assert abs(b[value] - ixt) < 1e-10 and abs(b[2 + value] - ity) < 1e-10
    # Binned: the entropy of the rows' bin patterns, and I(T;Y) = H(T) - H(T|Y).
    keys = [tuple(r) for r in np.floor(x64 / 1.5).astype(np.int64)]
    _, ids = np.unique(np.array(keys), axis=0, return_inverse=True)
    ids = ids.ravel()

    def h(labels):
        p = np.bincount(labels) / len(labels)
        p = p[p > 0]
        return -(p * np.log(p)).sum()

    joint = ids * 4 + y
    ixt, ity = ibci.mi.binned(t, 1.5, y)
    assert abs(ixt - h(ids)) < 1e-12
    assert abs(ity - (h(ids) + h(y) - h(joint))) < 1e-12


def test_bad_arguments_are_refused():
    t, y = layer(n=50, d=2)
    cases = [
        (lambda: ibci.mi.kde_bounds(t, y, 0.0), ValueError, "noise"),
        (lambda: ibci.mi.kde_bounds(t, y[:10], 0.1), ValueError, "10 labels for 50"),
        (lambda: ibci.mi.kde_bounds(t.astype(np.int32), y, 0.1), TypeError, "floating"),
        (lambda: ibci.mi.kde_bounds(t[None], y, 0.1), ValueError, "1-D or 2-D"),
        (lambda: ibci.mi.kde_bounds(t, y.astype(np.float32), 0.1), TypeError, "integer labels"),
        (lambda: ibci.mi.kde_bounds(t, y - 5, 0.1), ValueError, "at least 0"),
        (lambda: ibci.mi.binned(t, -1.0), ValueError, "bin width"),
        (lambda: ibci.mi.binned(np.full((4, 2), np.nan, np.float32), 1.0), ValueError, "finite"),
        (lambda: ibci.mi.ross(t, y), ValueError, "1-D"),
        (lambda: ibci.mi.ross(t[:, 0], y, k=0), ValueError, "k"),
        (lambda: ibci.mi.ross(np.full(50, np.inf, np.float32), y), ValueError, "finite"),
        (lambda: ibci.mi.ksg(t[:, 0], t[:10, 1]), ValueError, "rows"),
        (lambda: ibci.mi.ksg(t[:, 0], t[:, 1], k=50), ValueError, "k=50"),
        (lambda: ibci.mi.ksg(t[:, 0], t[:, 1], variant=3), ValueError, "variant"),
    ]
    for call, exc, words in cases:
        with pytest.raises(exc) as e:
            call()
        assert words in str(e.value), f"{words!r} not in {e.value}"
