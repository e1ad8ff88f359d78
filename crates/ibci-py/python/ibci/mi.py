"""Information estimators of ``ibci_mi``, in nats, identical to the Rust results.

- :func:`ross`: Ross's estimator of I(z; y) for a continuous ``z`` and discrete labels
  (scikit-learn's ``mutual_info_classif``, without its jitter);
- :func:`ksg`: the Kraskov-Stoegbauer-Grassberger estimators 1 and 2 of I(x; z);
- :func:`kde_bounds`: Kolchinsky & Tracey's upper and lower bounds on I(X;T) and I(T;Y) for a
  layer T plus Gaussian noise of variance ``noise`` (agreeing with an f64 brute force to
  about 1e-14);
- :func:`binned`: the binned I(X;T) = H(T) and I(T;Y) at bin width ``bins`` (Saxe et al.).

The GIL is released while each runs.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from . import _ibci
from ._checks import count
from ._checks import labels as _labels

__all__ = ["ross", "ksg", "kde_bounds", "binned"]


def _float_matrix(a: Any, name: str, dtype: str) -> np.ndarray:
    """``a`` as a C-contiguous 2-D array of ``dtype`` (a 1-D array is one column)."""
    v = np.asarray(a)
    if v.ndim == 1:
        v = v.reshape(-1, 1)
    if v.ndim != 2:
        raise ValueError(f"{name}: expected a 1-D or 2-D array, got shape {v.shape}")
    if not np.issubdtype(v.dtype, np.floating):
        raise TypeError(f"{name}: expected floating-point values, got {v.dtype}")
    return np.ascontiguousarray(v, dtype=dtype)


def ross(z: Any, y: Any, k: int = 3) -> float:
    """Ross's I(z; y), nats: ``z`` a 1-D array of finite values (computed in float32),
    ``y`` integer labels of the same length, ``k`` neighbours."""
    v = np.asarray(z)
    if v.ndim != 1:
        raise ValueError(f"z: expected a 1-D array, got shape {v.shape}")
    a = _float_matrix(v, "z", "<f4")
    return _ibci.ross(a.tobytes(), len(a), _labels(y, len(a)), count(k, "k"))


def ksg(x: Any, z: Any, k: int = 3, variant: int = 1) -> float:
    """KSG estimator ``variant`` (1 or 2) of I(x; z), nats, max-norm, ``k`` neighbours;
    ``x`` and ``z`` 1-D or 2-D with the same number of rows (computed in float64)."""
    a = _float_matrix(x, "x", "<f8")
    b = _float_matrix(z, "z", "<f8")
    if len(a) != len(b):
        raise ValueError(f"x has {len(a)} rows, z has {len(b)}")
    if variant not in (1, 2):
        raise ValueError(f"variant: expected 1 or 2, got {variant!r}")
    return _ibci.ksg(a.tobytes(), a.shape[1], b.tobytes(), b.shape[1], len(a), count(k, "k"), int(variant))


def kde_bounds(
    t: Any, y: Any, noise: float, *, threads: Optional[int] = None
) -> Tuple[float, float, float, float]:
    """The KDE bounds for the layer ``t`` (samples x units, float32) with labels ``y`` and
    noise variance ``noise``: ``(I(X;T) upper, I(X;T) lower, I(T;Y) upper, I(T;Y) lower)``,
    nats."""
    a = _float_matrix(t, "t", "<f4")
    n_threads = None if threads is None else count(threads, "threads")
    return _ibci.kde_bounds(
        a.tobytes(), a.shape[0], a.shape[1], _labels(y, len(a)), float(noise), n_threads
    )


def binned(t: Any, bins: float, y: Any = None) -> Any:
    """The binned estimate for the layer ``t`` (samples x units, float32, finite) at bin
    width ``bins`` (each activation to ``floor(t / bins)``): I(X;T) = H(T) in nats, or, with
    labels ``y``, the pair ``(I(X;T), I(T;Y))``."""
    a = _float_matrix(t, "t", "<f4")
    labels = np.zeros(len(a), dtype=np.int64) if y is None else y
    ixt, ity = _ibci.binned(a.tobytes(), a.shape[0], a.shape[1], _labels(labels, len(a)), float(bins))
    return ixt if y is None else (ixt, ity)
