"""ibci.init_torch: fills a torch.nn.Sequential MLP with the campaign's weights, refuses
what it cannot fill. Skipped, by name ("could not import 'torch'"), where torch is not
installed; IBCI_REQUIRE_TORCH=1 makes that a failure."""

import os

import numpy as np
import pytest

if os.environ.get("IBCI_REQUIRE_TORCH") == "1":
    import torch
else:
    torch = pytest.importorskip("torch")
nn = torch.nn

import ibci  # noqa: E402


def test_init_torch_fills_linear_layers_with_the_campaigns_bits(mnist):
    x, y, _, _ = mnist
    x, y = x[:3000], y[:3000]
    for act, name in [(nn.ReLU, "relu"), (nn.Tanh, "tanh")]:
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 40), act(), nn.Linear(40, 20), act(), nn.Linear(20, 10))
        out = ibci.init_torch(net, torch.from_numpy(x).reshape(-1, 28, 28), torch.from_numpy(y), seed=2, base="xavier")
        assert out is net
        want = ibci.campaign([784, 40, 20, 10], x, y, seed=2, base="xavier", activation=name)
        linears = [m for m in net if isinstance(m, nn.Linear)]
        for m, (w, b) in zip(linears, want):
            assert np.array_equal(m.weight.detach().numpy().view(np.uint32), w.view(np.uint32))
            assert np.array_equal(m.bias.detach().numpy().view(np.uint32), b.view(np.uint32))


def test_init_torch_refuses_what_it_cannot_fill(mnist):
    x, y, _, _ = mnist
    x, y = x[:500], y[:500]
    cases = [
        (nn.Linear(784, 10), TypeError, "nn.Sequential"),
        (nn.Sequential(nn.Linear(784, 20), nn.Sigmoid(), nn.Linear(20, 10)), ValueError, "Sigmoid"),
        (nn.Sequential(nn.Linear(784, 20), nn.ReLU(), nn.Tanh(), nn.Linear(20, 10)), ValueError, "ReLU or nn.Tanh"),
        (nn.Sequential(nn.Linear(784, 20), nn.ReLU(), nn.Linear(30, 10)), ValueError, "20 outputs feeds one of 30"),
        (nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Linear(20, 10)), ValueError, "Conv2d"),
        (nn.Sequential(nn.Linear(784, 20), nn.ReLU()), ValueError, "the last one last"),
    ]
    for module, exc, words in cases:
        with pytest.raises(exc) as e:
            ibci.init_torch(module, x, y)
        assert words in str(e.value), f"{words!r} not in {e.value}"
