"""The official IBCI code's campaign (`Initialization.init_fc`), re-expressed in PyTorch to
time it next to `cargo bench -p ibci-campaign`.

Same work as the official code with its defaults: all 60,000 training images (pixels / 255),
for every linear layer 5x candidates capped at 1000 (kaiming_normal_ on the (in, C) tensor),
responses act(x W + b) as a [C, 60000] matrix, the std-based proxies (torch_scatter's
scatter_mean/scatter_std, written here with index_add_ since torch_scatter is an extra
install), candidates grouped by preferred class, the quota split over classes, and the greedy
Gram-Schmidt election inside each group. Only the campaign is timed, not the data loading.

    pip install torch numpy
    python3 benches/compare/pytorch_campaign.py --arch mlp2 --threads 2
"""
import argparse
import time

import numpy as np
import torch

from common import ARCHS, mnist


def split_quota(sizes, quota):
    order = sorted(range(len(sizes)), key=lambda g: (sizes[g], g))
    share, left = [0] * len(sizes), quota
    for done, g in enumerate(order):
        share[g] = min(sizes[g], left // (len(sizes) - done))
        left -= share[g]
    return share


def class_stats(pred, y, classes):
    # pred: [C, n]; per-class mean and unbiased std along n.
    onehot = torch.zeros(classes, y.numel())
    onehot[y, torch.arange(y.numel())] = 1.0
    count = onehot.sum(1)
    mean = pred @ onehot.T / count
    sq = (pred * pred) @ onehot.T
    var = (sq - count * mean * mean) / (count - 1).clamp(min=1)
    return mean, var.clamp(min=0).sqrt()


def elect(w, scores, quota):
    # w: [in, m] candidates of one group; returns column indices.
    d = w.clone()
    norm0 = w.norm(dim=0)
    picks = []
    for _ in range(quota):
        val = scores * d.norm(dim=0) / norm0
        if picks:
            val[picks] = -float("inf")
        b = int(torch.argmax(val))
        picks.append(b)
        a = d[:, b] / d[:, b].norm()
        d = d - torch.outer(a, a @ w)
    return picks


def campaign(x, y, widths, alphas, classes=10):
    for i in range(len(widths) - 1):
        fan_in, out = widths[i], widths[i + 1]
        c = min(out * 5, 1000)
        w = torch.empty(fan_in, c)
        torch.nn.init.kaiming_normal_(w, nonlinearity="relu")
        last = i == len(widths) - 2
        z = x @ w + 0.01
        pred = (z if last else torch.relu(z)).T.contiguous()
        div = pred.std(dim=1)
        div = div / div.norm()
        mean, std = class_stats(pred, y, classes)
        outer, inner = mean.std(dim=1), std.mean(dim=1)
        acc = outer / outer.norm() - inner / inner.norm()
        acc = acc / acc.norm()
        a = alphas[i]
        scores = a * acc + (1 - a) * div
        belong = mean.argmax(dim=1)
        groups = [torch.nonzero(belong == k).flatten() for k in range(classes)]
        quota = split_quota([len(g) for g in groups], out)
        chosen = []
        for g, q in zip(groups, quota):
            if q:
                chosen += [int(g[j]) for j in elect(w[:, g], scores[g], q)]
        wl = w[:, chosen]
        z = x @ wl
        x = z if last else torch.relu(z)
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="mlp2", choices=sorted(ARCHS))
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    tx, ty, _, _ = [torch.from_numpy(v) for v in mnist(np)]
    widths = ARCHS[a.arch]
    alphas = [0.0] * (len(widths) - 2) + [1.0]  # the code's convention: alpha weights TIE
    with torch.no_grad():
        campaign(tx[:2000], ty[:2000], widths, alphas)  # warm-up
        t = time.perf_counter()
        campaign(tx, ty, widths, alphas)
        s = time.perf_counter() - t
    print(f"campaign_seconds={s:.6f}", flush=True)


if __name__ == "__main__":
    main()
