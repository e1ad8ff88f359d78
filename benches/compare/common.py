"""Shared by the comparison scripts: MNIST from the repository's .gz IDX files, the paper's
networks, and the output line the ibci bench parses."""
import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MNIST = os.path.join(HERE, "..", "..", "datasets", "mnist")
ARCHS = {
    "mlp2": [784, 100, 10],
    "mlp3": [784, 256, 100, 10],
    "mlp5": [784, 32, 32, 32, 32, 10],
}


def idx(name):
    with gzip.open(os.path.join(MNIST, name + ".gz"), "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    return dims, data[4 + 4 * rank :]


def mnist(np):
    """(train_x, train_y, test_x, test_y): float32 pixels in [0, 1] (x / 255), int64 labels."""
    out = []
    for split in ("train", "t10k"):
        (n, r, c), pix = idx(split + "-images-idx3-ubyte")
        _, lab = idx(split + "-labels-idx1-ubyte")
        x = np.frombuffer(pix, dtype=np.uint8).reshape(n, r * c).astype(np.float32) / 255.0
        y = np.frombuffer(lab, dtype=np.uint8).astype(np.int64)
        out += [x, y]
    return out


def report(epoch_s, eval_s, test_err):
    print(f"epoch_seconds={epoch_s:.6f} eval_seconds={eval_s:.6f} test_err={test_err:.6f}", flush=True)
