#!/usr/bin/env python3
"""Time to a target MNIST test accuracy with PyTorch, for the same model and recipe as `nn train`'s defaults.

Model: 784-512-256-10 MLP, BatchNorm (momentum 0.1, eps 1e-5) before every hidden ReLU, He (Kaiming normal, fan_in)
weights and zero biases. Recipe (`nn train --print-config`): Adam (betas 0.9/0.999, eps 1e-8) at lr 1e-3, cosine
annealing per step to 0 over `--epochs` epochs, batch 128 with a fresh seeded shuffle every epoch, L2 1e-4 on the
weights only (loss += λ/2·ΣW², i.e. Adam's coupled weight_decay on the weight group; biases and BatchNorm
parameters have none), per-channel standardisation fitted on the training split, 10% of the training set held out
for validation (seeded). The split and shuffles use NumPy/PyTorch generators, so they are not the same samples as
ours: same recipe, not the same random draws.

Timing (the same definition as `nn train --target-accuracy`'s `time_to_target_seconds`): wall clock from the start
of the first epoch to the end of the test evaluation of the first epoch whose test accuracy reaches the target,
counting each epoch's training, its validation evaluation and its test evaluation (evaluation in batches of 1024);
data loading and preprocessing are not counted.

Usage: python3 benches/peers/mnist_time_to_target.py --data /path/to/mnist [--target 0.98] [--threads 2]
Prints one JSON line: {"seconds", "epochs", "accuracy", "threads", "torch", "per_epoch": [...]}.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(dir_, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        p = os.path.join(dir_, name)
        if os.path.isfile(p):
            return p
    sys.exit(f"{stem}[.gz] not found in {dir_}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="directory with the four MNIST IDX files (optionally .gz)")
    ap.add_argument("--target", type=float, default=0.98)
    ap.add_argument("--epochs", type=int, default=12, help="maximum epochs (also the cosine schedule's length)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=231)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--val-fraction", type=float, default=0.1)
    args = ap.parse_args()
    try:
        import torch
        from torch import nn
    except ImportError:
        print(json.dumps({"error": "PyTorch is not installed (pip install torch)"}))
        return 0
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    x_train = read_idx(find(args.data, "train-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255.0
    y_train = read_idx(find(args.data, "train-labels-idx1-ubyte")).astype(np.int64)
    x_test = read_idx(find(args.data, "t10k-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255.0
    y_test = read_idx(find(args.data, "t10k-labels-idx1-ubyte")).astype(np.int64)
    order = np.random.default_rng(args.seed).permutation(len(x_train))
    n_val = round(args.val_fraction * len(x_train))
    val_idx, train_idx = order[:n_val], order[n_val:]
    x_val, y_val = x_train[val_idx], y_train[val_idx]
    x_train, y_train = x_train[train_idx], y_train[train_idx]
    # Per-channel standardisation (one channel): one mean and one deviation over all training pixels.
    mean = float(x_train.mean(dtype=np.float64))
    std = float(x_train.std(dtype=np.float64))
    x_train, x_val, x_test = [torch.from_numpy((x - np.float32(mean)) * np.float32(1.0 / std)) for x in (x_train, x_val, x_test)]
    y_train, y_val, y_test = [torch.from_numpy(y) for y in (y_train, y_val, y_test)]

    model = nn.Sequential(
        nn.Linear(784, 512), nn.BatchNorm1d(512, eps=1e-5, momentum=0.1), nn.ReLU(),
        nn.Linear(512, 256), nn.BatchNorm1d(256, eps=1e-5, momentum=0.1), nn.ReLU(),
        nn.Linear(256, 10),
    )
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    weights = [m.weight for m in model if isinstance(m, nn.Linear)]
    others = [p for p in model.parameters() if all(p is not w for w in weights)]
    opt = torch.optim.Adam(
        [{"params": weights, "weight_decay": args.l2}, {"params": others, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
    )
    n = len(x_train)
    steps_per_epoch = math.ceil(n / args.batch_size)
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total) / total)))
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)

    def accuracy(x, y):
        model.eval()
        correct = 0
        with torch.no_grad():
            for s in range(0, len(x), 1024):
                correct += (model(x[s:s + 1024]).argmax(1) == y[s:s + 1024]).sum().item()
        model.train()
        return correct / len(x)

    clock, per_epoch, result = 0.0, [], None
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, args.batch_size):
            idx = perm[s:s + args.batch_size]
            if len(idx) < 2:  # BatchNorm cannot normalise one sample (nn train skips it too)
                continue
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            sched.step()
        val_acc = accuracy(x_val, y_val)
        test_acc = accuracy(x_test, y_test)
        clock += time.perf_counter() - t0
        per_epoch.append({"epoch": epoch, "val_accuracy": val_acc, "test_accuracy": test_acc, "seconds": clock})
        if test_acc >= args.target:
            result = {"seconds": clock, "epochs": epoch, "accuracy": test_acc}
            break
    if result is None:
        result = {"seconds": None, "epochs": args.epochs, "accuracy": per_epoch[-1]["test_accuracy"]}
    result.update({"target": args.target, "threads": args.threads, "torch": torch.__version__, "per_epoch": per_epoch})
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
