"""One training epoch of the paper's MLPs in PyTorch, for comparison with ibci's epoch time.

Same work as `cargo bench --bench epoch`: MNIST pre-loaded as tensors (pixels / 255), He-normal
weights, zero biases, ReLU hidden layers, softmax cross-entropy (mean), plain SGD lr 0.1,
batch 100, one shuffled pass over the 60,000 training images, then the 10,000 test images.
Only the epoch and the evaluation are timed.

    pip install torch numpy
    python3 benches/compare/pytorch_mlp.py --arch mlp2 --threads 1
"""
import argparse
import time

import numpy as np
import torch

from common import ARCHS, mnist, report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="mlp2", choices=sorted(ARCHS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    tx, ty, vx, vy = [torch.from_numpy(v) for v in mnist(np)]
    widths = ARCHS[a.arch]
    layers = []
    for i, (fi, fo) in enumerate(zip(widths, widths[1:])):
        lin = torch.nn.Linear(fi, fo)
        torch.nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
        torch.nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()
    order = torch.randperm(tx.shape[0])
    t0 = time.perf_counter()
    for i in range(0, tx.shape[0], 100):
        idx = order[i : i + 100]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(tx[idx]), ty[idx])
        loss.backward()
        opt.step()
    epoch_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with torch.no_grad():
        wrong = sum(int((model(vx[i : i + 1000]).argmax(1) != vy[i : i + 1000]).sum()) for i in range(0, vx.shape[0], 1000))
    eval_s = time.perf_counter() - t0
    report(epoch_s, eval_s, wrong / vx.shape[0])


if __name__ == "__main__":
    main()
