"""One training epoch of the paper's MLPs in plain NumPy (float32), the same work as
`pytorch_mlp.py`. The thread count goes to the BLAS through OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS, set before NumPy is imported.

    pip install numpy
    python3 benches/compare/numpy_mlp.py --arch mlp2 --threads 1
"""
import argparse
import os
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="mlp2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    import numpy as np

    from common import ARCHS, mnist, report

    tx, ty, vx, vy = mnist(np)
    widths = ARCHS[a.arch]
    rng = np.random.default_rng(a.seed)
    ws = [(rng.standard_normal((fi, fo)) * np.sqrt(2.0 / fi)).astype(np.float32) for fi, fo in zip(widths, widths[1:])]
    bs = [np.zeros(fo, dtype=np.float32) for fo in widths[1:]]
    order = rng.permutation(tx.shape[0])
    lr = np.float32(0.1)
    t0 = time.perf_counter()
    for i in range(0, tx.shape[0], 100):
        idx = order[i : i + 100]
        x, y = tx[idx], ty[idx]
        acts = [x]
        for l, (w, b) in enumerate(zip(ws, bs)):
            z = acts[-1] @ w + b
            acts.append(np.maximum(z, 0) if l < len(ws) - 1 else z)
        z = acts[-1]
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        dz = p / np.float32(len(y))
        for l in range(len(ws) - 1, -1, -1):
            dw = acts[l].T @ dz
            db = dz.sum(axis=0)
            if l > 0:
                dz = (dz @ ws[l].T) * (acts[l] > 0)
            ws[l] -= lr * dw
            bs[l] -= lr * db
    epoch_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    h = vx
    for l, (w, b) in enumerate(zip(ws, bs)):
        h = h @ w + b
        if l < len(ws) - 1:
            h = np.maximum(h, 0)
    test_err = float((h.argmax(axis=1) != vy).mean())
    eval_s = time.perf_counter() - t0
    report(epoch_s, eval_s, test_err)


if __name__ == "__main__":
    main()
