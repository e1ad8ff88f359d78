"""Type stubs of the native module ``ibci._ibci`` (arrays cross as little-endian bytes with
their shapes; use the typed wrappers in ``ibci`` and ``ibci.mi``)."""

from typing import List, Optional, Tuple

__version__: str

class IdxError(ValueError): ...
class CampaignError(ValueError): ...

def campaign(
    widths: List[int],
    x: bytes,
    n: int,
    d: int,
    y: bytes,
    base: str,
    variant: str,
    criteria: str,
    alpha: Optional[List[float]],
    candidates: Optional[List[int]],
    activation: str,
    seed: int,
    threads: Optional[int],
) -> List[Tuple[bytes, int, int, bytes]]: ...
def load_mnist(
    path: str, digests: str
) -> Tuple[Tuple[bytes, int, int, bytes], Tuple[bytes, int, int, bytes]]: ...
def ross(z: bytes, n: int, y: bytes, k: int) -> float: ...
def ksg(x: bytes, dx: int, z: bytes, dz: int, n: int, k: int, variant: int) -> float: ...
def kde_bounds(
    t: bytes, n: int, d: int, y: bytes, noise: float, threads: Optional[int]
) -> Tuple[float, float, float, float]: ...
def binned(t: bytes, n: int, d: int, y: bytes, width: float) -> Tuple[float, float]: ...
