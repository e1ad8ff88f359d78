"""IBCI (Mao et al., CIKM 2021, "Neuron Campaign for Initialization Guided by Information
Bottleneck Theory") for NumPy and PyTorch, computed in-process by the ibci Rust crates.

- :func:`campaign` initialises any MLP by the neuron campaign and returns its weights,
  bit-identical to ``ibci init --init ibci`` with the same flags and data;
- :func:`init_torch` fills the ``nn.Linear`` layers of a ``torch.nn.Sequential`` MLP in place;
- :func:`load_mnist` reads an MNIST-style directory through ibci's IDX loader;
- :mod:`ibci.mi` holds the information estimators (nats).

The GIL is released while the Rust code runs. Rust's errors arrive as :class:`IdxError` and
:class:`CampaignError` (both ``ValueError``) with the library's message; bad shapes, dtypes
and options are refused with a ``ValueError`` or ``TypeError`` naming the argument.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _ibci
from ._checks import count as _count
from ._checks import labels as _labels
from ._ibci import CampaignError, IdxError
from . import mi

__all__ = [
    "campaign",
    "init_torch",
    "load_mnist",
    "mi",
    "CampaignError",
    "IdxError",
    "__version__",
]

__version__: str = _ibci.__version__

Candidates = Union[None, int, Tuple[int, int]]


def _features(x: Any, name: str = "x") -> np.ndarray:
    """``x`` as a C-contiguous 2-D float32 array (refusing other dtypes and shapes)."""
    a = np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (samples, features), got shape {a.shape}")
    if a.dtype != np.float32:
        raise TypeError(
            f"{name}: expected float32, got {a.dtype} (convert with {name}.astype(np.float32))"
        )
    return np.ascontiguousarray(a)


def campaign(
    widths: Sequence[int],
    x: np.ndarray,
    y: np.ndarray,
    *,
    base: str = "he",
    variant: str = "reference",
    criteria: str = "both",
    alpha: Optional[Sequence[float]] = None,
    candidates: Candidates = None,
    activation: str = "relu",
    seed: int = 1,
    threads: Optional[int] = None,
) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Initialise the MLP ``widths`` (input first, e.g. ``[784, 100, 10]``) by the neuron
    campaign on the samples ``x`` (float32, ``(n, widths[0])``) with integer labels ``y``
    in ``0..widths[-1]``.

    ``base`` ("he" or "xavier") is the candidates' distribution, ``variant`` ("reference":
    the official code's; "paper": Algorithm 1 as printed), ``criteria`` ("both", "tie" or
    "iim"), ``alpha`` one IIM weight per layer (default: 1 falling linearly to 0),
    ``candidates`` the candidate ratio R or (R_hidden, R_output), ``activation`` ("relu" or
    "tanh") between the layers (none after the last). Every random number comes from
    ``seed``; ``threads`` (default: all cores) changes no bit.

    Returns one ``(weight, bias)`` per layer, float32, weight shaped ``(out, in)`` as in
    ``torch.nn.Linear``: the same bits as ``ibci init --arch W1-W2-... --init ibci
    --base BASE --variant VARIANT --criteria CRITERIA --seed SEED`` on the same data.
    """
    widths = [_count(w, "widths") for w in widths]
    a = _features(x)
    n, d = a.shape
    if candidates is None:
        cand: Optional[List[int]] = None
    elif isinstance(candidates, (int, np.integer)):
        cand = [_count(candidates, "candidates")]
    else:
        cand = [_count(c, "candidates") for c in candidates]
    alphas = None if alpha is None else [float(v) for v in alpha]
    layers = _ibci.campaign(
        widths,
        a.tobytes(),
        n,
        d,
        _labels(y, n),
        base,
        variant,
        criteria,
        alphas,
        cand,
        activation,
        _seed(seed),
        None if threads is None else _count(threads, "threads"),
    )
    return [
        (
            np.frombuffer(w, dtype="<f4").reshape(rows, cols).copy(),
            np.frombuffer(b, dtype="<f4").copy(),
        )
        for (w, rows, cols, b) in layers
    ]


def init_torch(module: Any, x: Any, y: Any, **options: Any) -> Any:
    """Fill the ``nn.Linear`` layers of the ``torch.nn.Sequential`` MLP ``module`` in place
    by :func:`campaign` (same options; ``activation`` is read from the module), and return
    it. The module must alternate ``nn.Linear`` layers with one ``nn.ReLU`` or ``nn.Tanh``
    (the same throughout; ``nn.Flatten`` allowed first) and end with a ``nn.Linear``.
    ``x`` and ``y`` may be tensors or arrays.
    """
    import torch
    from torch import nn

    if not isinstance(module, nn.Sequential):
        raise TypeError(f"module: expected a torch.nn.Sequential, got {type(module).__name__}")
    children = list(module.children())
    if children and isinstance(children[0], nn.Flatten):
        children = children[1:]
    linears = [m for m in children if isinstance(m, nn.Linear)]
    acts = [m for m in children if not isinstance(m, nn.Linear)]
    if not linears or not isinstance(children[-1], nn.Linear):
        raise ValueError("module: expected nn.Linear layers, the last one last")
    kinds = {type(m) for m in acts}
    if not kinds <= {nn.ReLU, nn.Tanh} or len(kinds) > 1:
        names = sorted(type(m).__name__ for m in acts)
        raise ValueError(
            f"module: between the nn.Linear layers expected one nn.ReLU or nn.Tanh throughout, got {names}"
        )
    for i, m in enumerate(children):
        expected_linear = i % 2 == 0
        if isinstance(m, nn.Linear) != expected_linear:
            raise ValueError(
                f"module: expected nn.Linear and activation layers to alternate, got {type(m).__name__} at position {i}"
            )
    for a, b in zip(linears, linears[1:]):
        if a.out_features != b.in_features:
            raise ValueError(
                f"module: a layer of {a.out_features} outputs feeds one of {b.in_features} inputs"
            )
    if options.get("activation") is not None:
        raise ValueError("activation: read from the module; do not pass it to init_torch")
    activation = "tanh" if nn.Tanh in kinds else "relu"
    widths = [linears[0].in_features] + [m.out_features for m in linears]
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    x = np.asarray(x)
    if x.ndim > 2:
        x = x.reshape(len(x), -1)
    params = campaign(widths, x, y, activation=activation, **options)
    with torch.no_grad():
        for m, (w, b) in zip(linears, params):
            m.weight.copy_(torch.from_numpy(w))
            if m.bias is not None:
                m.bias.copy_(torch.from_numpy(b))
    return module


def load_mnist(
    path: str, *, digests: str = "mnist"
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read the MNIST-style directory ``path`` (train/test images and labels, IDX, plain or
    gzip) through ibci's loader, checking the files against ``digests`` ("mnist": the known
    MNIST digests; "fashion-mnist": the known Fashion-MNIST ones; "sums": the directory's
    SHA256SUMS; "none"). Returns ``(x_train, y_train,
    x_test, y_test)``: images float32 ``(n, pixels)`` in [0, 1] as ``ibci train`` sees them,
    labels uint8. Raises :class:`IdxError` naming the file when one is missing or malformed.
    """
    (tr, trn, trd, trl), (te, ten, ted, tel) = _ibci.load_mnist(str(path), digests)
    return (
        np.frombuffer(tr, dtype="<f4").reshape(trn, trd).copy(),
        np.frombuffer(trl, dtype=np.uint8).copy(),
        np.frombuffer(te, dtype="<f4").reshape(ten, ted).copy(),
        np.frombuffer(tel, dtype=np.uint8).copy(),
    )


def _seed(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < 2**64:
        raise ValueError(f"seed: expected a whole number in [0, 2**64), got {v!r}")
    return int(v)
