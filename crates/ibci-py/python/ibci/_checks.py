"""Argument checks shared by the package's functions: each refuses a bad value with a
``ValueError`` or ``TypeError`` that names the argument."""

from __future__ import annotations

from typing import Any

import numpy as np


def labels(y: Any, n: int, name: str = "y") -> bytes:
    """Integer labels ``y`` (n,) as little-endian int64 bytes (the native module checks that
    they are at least 0 and, for a campaign, below the number of classes)."""
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of labels, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name}: expected integer labels, got {a.dtype}")
    if len(a) != n:
        raise ValueError(f"{name}: {len(a)} labels for {n} samples")
    return np.ascontiguousarray(a, dtype="<i8").tobytes()


def count(v: Any, name: str) -> int:
    """A whole number of at least 1."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name}: expected whole numbers of at least 1, got {v!r}")
    return int(v)
