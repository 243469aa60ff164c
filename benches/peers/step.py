#!/usr/bin/env python3
"""One training step (forward, softmax cross-entropy, backward, Adam) of the 784-512-256-10 MLP,
plain and with BatchNorm, at batch 64, 128 and 256, in NumPy (CS231n style) and PyTorch.

    python3 benches/peers/step.py --threads 1     # one process per thread count

Pairs with `step/<plain|bn>/b<batch>/t<threads>` of benches/benches/step.rs. Prints JSON lines
(see peerlib.py); throughput in samples/s. Works without PyTorch (NumPy rows only).
"""

import peerlib
from mlp import NumpyMlp, TorchMlp, data

ARGS, np, torch = peerlib.setup(__doc__.split("\n")[0])


def main():
    peerlib.emit_info(np, torch, ARGS.threads)
    for batch in (64, 128, 256):
        x, y = data(np, batch)
        size = f"b{batch}"
        for name, bn in (("plain", False), ("bn", True)):
            if not peerlib.wanted(ARGS, "step", name, size):
                continue
            net = NumpyMlp(np, bn)
            t = peerlib.measure(lambda: net.step(x, y), ARGS.seconds, min_reps=10, warmup=3)
            peerlib.emit(ARGS, "step", "numpy", name, size, t, batch, "samples")
            if torch is not None:
                tnet = TorchMlp(torch, bn)
                tx, ty = torch.from_numpy(x), torch.from_numpy(y)
                t = peerlib.measure(lambda: tnet.step(tx, ty), ARGS.seconds, min_reps=10, warmup=3)
                peerlib.emit(ARGS, "step", "torch", name, size, t, batch, "samples")


if __name__ == "__main__":
    main()
