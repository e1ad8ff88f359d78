"""Initialise a PyTorch MLP-2 (784-100-10, ReLU) by the neuron campaign, train it one epoch
with torch's SGD (lr 0.1, batch 100: the paper's protocol) and print the test error, beside
the same network with PyTorch's default initialisation.

    pip install ./crates/ibci-py torch
    python examples/pytorch_ibci.py            # from the repository's root
"""

import pathlib
import time

import torch
from torch import nn

import ibci

ROOT = pathlib.Path(__file__).resolve().parents[1]


def mlp2() -> nn.Sequential:
    return nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))


def test_error(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (net(x).argmax(1) != y).float().mean().item()


def train_one_epoch(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor, seed: int) -> None:
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    for i in range(0, len(x), 100):
        idx = order[i : i + 100]
        opt.zero_grad()
        nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
        opt.step()


def main() -> None:
    x_train, y_train, x_test, y_test = ibci.load_mnist(str(ROOT / "datasets/mnist"))
    xs, ys = torch.from_numpy(x_train), torch.from_numpy(y_train).long()
    xt, yt = torch.from_numpy(x_test), torch.from_numpy(y_test).long()
    torch.manual_seed(1)
    nets = {"PyTorch default": mlp2(), "IBCI (He candidates)": mlp2()}
    start = time.perf_counter()
    ibci.init_torch(nets["IBCI (He candidates)"], x_train, y_train, base="he", seed=1)
    print(f"ibci.init_torch: {time.perf_counter() - start:.1f} s on {len(x_train)} images")
    for name, net in nets.items():
        before = test_error(net, xt, yt)
        train_one_epoch(net, xs, ys, seed=1)
        print(f"{name:>22}: test error {100 * before:5.2f}% untrained, {100 * test_error(net, xt, yt):5.2f}% after one epoch")


if __name__ == "__main__":
    main()
