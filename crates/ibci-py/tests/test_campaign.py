"""ibci.campaign and ibci.load_mnist against `ibci init`, bit for bit; threads, the GIL and
every refusal."""

import shutil
import threading
import time

import numpy as np
import pytest

import ibci
from conftest import ROOT, read_safetensors, run


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def init_weights(ibci_bin, tmp_path, *flags):
    out = tmp_path / "w.safetensors"
    run([ibci_bin, "init", "--data", ROOT / "datasets/mnist", "--out", out, *flags])
    return read_safetensors(out)


@pytest.mark.parametrize(
    "widths, options, flags",
    [
        ([784, 100, 10], {"seed": 1}, ["--arch", "mlp2", "--init", "ibci", "--seed", "1"]),
        (
            [784, 64, 32, 10],
            {"base": "xavier", "criteria": "tie", "candidates": (3, 5), "activation": "tanh", "seed": 7},
            ["--arch", "784-64-32-10", "--act", "tanh,tanh,identity", "--init", "ibci",
             "--base", "xavier", "--criteria", "tie", "--candidates", "3,5", "--seed", "7"],
        ),
    ],
    ids=["mlp2", "784-64-32-10-tanh-xavier-tie"],
)
def test_campaign_is_bit_identical_to_ibci_init(ibci_bin, mnist, tmp_path, widths, options, flags):
    x, y, _, _ = mnist
    layers = ibci.campaign(widths, x, y, **options)
    want = init_weights(ibci_bin, tmp_path, *flags)
    assert len(layers) == len(widths) - 1
    for i, (w, b) in enumerate(layers, start=1):
        assert w.dtype == np.float32 and w.shape == (widths[i], widths[i - 1])
        assert same_bits(w, want[f"fc{i}.weight"]), f"layer {i} weight"
        assert same_bits(b, want[f"fc{i}.bias"]), f"layer {i} bias"


def test_threads_change_no_bit(mnist):
    x, y, _, _ = mnist
    one = ibci.campaign([784, 30, 10], x[:6000], y[:6000], seed=3, threads=1)
    two = ibci.campaign([784, 30, 10], x[:6000], y[:6000], seed=3, threads=2)
    for (w1, b1), (w2, b2) in zip(one, two):
        assert same_bits(w1, w2) and same_bits(b1, b2)
    other = ibci.campaign([784, 30, 10], x[:6000], y[:6000], seed=4, threads=1)
    assert not same_bits(one[0][0], other[0][0]), "another seed, other weights"


def test_the_gil_is_released_during_a_campaign(mnist):
    x, y, _, _ = mnist
    ticks = [0]
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        time.sleep(0.05)
        before = ticks[0]
        start = time.perf_counter()
        ibci.campaign([784, 100, 10], x, y, seed=1)
        seconds = time.perf_counter() - start
        during = ticks[0] - before
    finally:
        stop.set()
        t.join()
    # Holding the GIL for the whole call would leave the counter at most a switch interval
    # (5 ms) of counting; released, it counts throughout.
    assert seconds > 0.2, f"the campaign took {seconds:.3f} s, too short to tell"
    assert during > 100_000, f"the other thread counted {during} times in {seconds:.2f} s"


def test_load_mnist_gives_the_loaders_arrays(mnist):
    x, y, xt, yt = mnist
    assert x.shape == (60000, 784) and x.dtype == np.float32
    assert xt.shape == (10000, 784) and yt.dtype == np.uint8
    assert list(y[:5]) == [5, 0, 4, 1, 9] and list(yt[:3]) == [7, 2, 1]
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert np.bincount(y).tolist()[:2] == [5923, 6742]


def test_load_mnist_errors_name_the_file(tmp_path):
    with pytest.raises(ibci.IdxError) as e:
        ibci.load_mnist(str(tmp_path / "nowhere"))
    assert "nowhere" in str(e.value)
    assert isinstance(e.value, ValueError)
    bad = tmp_path / "bad"
    shutil.copytree(ROOT / "datasets/mnist", bad)
    victim = next(p for p in bad.iterdir() if p.name.startswith("t10k-labels"))
    victim.write_bytes(victim.read_bytes()[:100])
    for digests in ["mnist", "none"]:
        with pytest.raises(ibci.IdxError) as e:
            ibci.load_mnist(str(bad), digests=digests)
        assert victim.name in str(e.value), str(e.value)
    with pytest.raises(ValueError, match="digests"):
        ibci.load_mnist(str(bad), digests="sha1")
    # MNIST is not Fashion-MNIST: its known digests refuse it, naming a file.
    with pytest.raises(ibci.IdxError, match="train-images.*SHA-256 mismatch"):
        ibci.load_mnist(str(ROOT / "datasets/mnist"), digests="fashion-mnist")


def test_bad_arguments_are_refused_with_a_clear_error(mnist):
    x, y, _, _ = mnist
    x, y = x[:500], y[:500]
    cases = [
        (TypeError, "float32", dict(x=x.astype(np.float64))),
        (ValueError, "2-D", dict(x=x[0])),
        (ValueError, "500 samples", dict(y=y[:10])),
        (TypeError, "integer labels", dict(y=y.astype(np.float32))),
        (ValueError, "0..10", dict(y=np.where(np.arange(500) == 7, 10, y))),
        (ValueError, "at least 0", dict(y=np.where(np.arange(500) == 7, -1, y.astype(np.int64)))),
        (ValueError, "widths[0] = 100", dict(widths=[100, 10])),
        (ValueError, "at least two", dict(widths=[784])),
        (ValueError, "base=\"kaiming\": expected one of he, xavier", dict(base="kaiming")),
        (ValueError, "variant", dict(variant="official")),
        (ValueError, "criteria", dict(criteria="all")),
        (ValueError, "activation", dict(activation="gelu")),
        (ValueError, "candidates", dict(candidates=0)),
        (ValueError, "candidates", dict(candidates=(1, 2, 3))),
        (ValueError, "seed", dict(seed=-1)),
        (ValueError, "threads", dict(threads=0)),
    ]
    for exc, words, change in cases:
        args = dict(widths=[784, 20, 10], x=x, y=y)
        args.update(change)
        widths, xx, yy = args.pop("widths"), args.pop("x"), args.pop("y")
        with pytest.raises(exc) as e:
            ibci.campaign(widths, xx, yy, **args)
        assert words in str(e.value), f"{change}: {e.value}"
    # The campaign's own errors: an IIM weight list of the wrong length.
    with pytest.raises(ibci.CampaignError) as e:
        ibci.campaign([784, 20, 10], x, y, alpha=[0.5])
    assert isinstance(e.value, ValueError) and "alpha" in str(e.value)
