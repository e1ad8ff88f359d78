"""Shared fixtures: the repository, its MNIST copy, and the Rust programs the package is
checked against (built by `cargo build --release -p ibci-train` and
`cargo build --release -p ibci-mi --example estimates`; IBCI_BIN and IBCI_ESTIMATES name
other builds). A missing program is an error, not a skip: these tests exist to compare."""

import os
import pathlib
import subprocess

import numpy as np
import pytest

import ibci

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _program(env: str, default: pathlib.Path, build: str) -> pathlib.Path:
    path = pathlib.Path(os.environ.get(env, default))
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it with `{build}` (or set {env})")
    return path


@pytest.fixture(scope="session")
def ibci_bin() -> pathlib.Path:
    return _program("IBCI_BIN", ROOT / "target/release/ibci", "cargo build --release -p ibci-train")


@pytest.fixture(scope="session")
def estimates_bin() -> pathlib.Path:
    return _program(
        "IBCI_ESTIMATES",
        ROOT / "target/release/examples/estimates",
        "cargo build --release -p ibci-mi --example estimates",
    )


@pytest.fixture(scope="session")
def mnist():
    return ibci.load_mnist(str(ROOT / "datasets/mnist"))


def read_safetensors(path: pathlib.Path) -> dict:
    """The tensors of a .safetensors file (F32 only), by name."""
    import json
    import struct

    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    base = 8 + size
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        lo, hi = spec["data_offsets"]
        out[name] = np.frombuffer(raw[base + lo : base + hi], dtype="<f4").reshape(spec["shape"])
    return out


def run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=True, **kw)
