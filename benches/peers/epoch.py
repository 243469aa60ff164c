#!/usr/bin/env python3
"""One training epoch over 60 000 MNIST-sized synthetic samples (784 f32, 10 classes) at batch 128
with Adam, the 784-512-256-10 MLP plain and with BatchNorm, in NumPy (CS231n style) and PyTorch.

    python3 benches/peers/epoch.py --threads 1 [--repeats 3]

Each epoch draws a new permutation and gathers each mini-batch (`x[idx]`, as CS231n's Solver and
a shuffling DataLoader do); the last batch holds the 96 remaining samples. Pairs with
`epoch/<plain|bn>/n60000_b128/t<threads>` of benches/benches/epoch.rs; throughput in samples/s.
The median of `--repeats` epochs after one warm-up epoch of 20 batches.
"""

import statistics
import time

import peerlib
from mlp import NumpyMlp, TorchMlp, data

N, BATCH = 60_000, 128
ARGS, np, torch = peerlib.setup(
    __doc__.split("\n")[0],
    lambda p: p.add_argument("--repeats", type=int, default=3, help="timed epochs (default 3)"))


def epoch(step, x, y, rng, max_batches=None):
    perm = rng.permutation(N)
    for k, i in enumerate(range(0, N, BATCH)):
        if max_batches is not None and k == max_batches:
            break
        idx = perm[i:i + BATCH]
        step(x[idx], y[idx])


def timed(step, x, y):
    rng = np.random.default_rng(0)
    epoch(step, x, y, rng, max_batches=20)
    times = []
    for _ in range(max(1, ARGS.repeats)):
        t0 = time.perf_counter()
        epoch(step, x, y, rng)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    peerlib.emit_info(np, torch, ARGS.threads)
    x, y = data(np, N)
    size = f"n{N}_b{BATCH}"
    tx = torch.from_numpy(x) if torch is not None else None
    ty = torch.from_numpy(y) if torch is not None else None
    for name, bn in (("plain", False), ("bn", True)):
        if not peerlib.wanted(ARGS, "epoch", name, size):
            continue
        net = NumpyMlp(np, bn)
        peerlib.emit(ARGS, "epoch", "numpy", name, size, timed(net.step, x, y), N, "samples")
        if torch is not None:
            tnet = TorchMlp(torch, bn)
            # Index with a torch tensor of the permutation's batch, as a DataLoader would.
            t = timed(lambda xb, yb: tnet.step(xb, yb), _TorchIndexed(tx), _TorchIndexed(ty))
            peerlib.emit(ARGS, "epoch", "torch", name, size, t, N, "samples")


class _TorchIndexed:
    """`obj[numpy_idx]` → `tensor[torch_idx]` (a gather into a new batch tensor)."""

    def __init__(self, t):
        self.t = t

    def __getitem__(self, idx):
        return self.t[torch.from_numpy(idx)]


if __name__ == "__main__":
    main()
