#!/usr/bin/env python3
"""Peer GEMM measurements for BENCHMARKS.md: NumPy (OpenBLAS) and, when importable, PyTorch (MKL).

Times the same f32 products, with the same operand layouts, as `benches/benches/matmul.rs`
(`gemm/<impl>/<product>_<M>x<K>x<N>/t<threads>`): the 784-512-256-10 MLP at batch 128 and 256,
forward `X·W` (xw), weight gradient `Xᵀ·dY` (xtdy, A a transposed view) and input gradient
`dY·Wᵀ` (dywt, B a transposed view), plus 1024³. Prints GFLOP/s (2·M·K·N flops over the median
wall time) and, with one thread, also over the median thread CPU time, which a busy machine
disturbs less.

    python3 benches/peers/gemm.py --threads 1
    python3 benches/peers/gemm.py --threads 2
    python3 benches/peers/gemm.py --threads 1 --json   # JSON lines for `cargo xtask bench --peers`

The thread count is fixed through the environment before NumPy is imported. OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE are removed for this process (some machines set them for old OpenBLAS builds;
they slow a current one); `--keep-coretype` keeps them. The kernel OpenBLAS picked is printed via
threadpoolctl when it is installed. Nothing in the workspace depends on this script.
"""

import argparse
import os
import statistics
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    p.add_argument("--seconds", type=float, default=0.4, help="time budget per product (default 0.4)")
    p.add_argument("--keep-coretype", action="store_true", help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE")
    p.add_argument("--filter", default="", help="only products whose id contains this text")
    p.add_argument("--ids", default="", help="with --json: comma-separated ids to run (all when empty)")
    p.add_argument("--json", action="store_true",
                   help="JSON lines for `cargo xtask bench --peers` (see peerlib.py) instead of the table")
    return p.parse_args()


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
if not ARGS.keep_coretype:
    os.environ.pop("OPENBLAS_CORETYPE", None)
    os.environ.pop("OPENBLAS_L2_SIZE", None)

import numpy as np  # noqa: E402  (after the environment is set)

try:
    import torch  # noqa: E402

    torch.set_num_threads(ARGS.threads)
except ImportError:
    torch = None


def shapes():
    """(product, M, K, N) in the order of the criterion bench."""
    out = []
    for batch in (128, 256):
        for d, h in ((784, 512), (512, 256), (256, 10)):
            out.append(("xw", batch, d, h))
            out.append(("xtdy", d, batch, h))
            out.append(("dywt", batch, h, d))
    out.append(("xw", 1024, 1024, 1024))
    return out


def matrix(rows, cols, seed):
    """The bench's deterministic values in [-0.5, 0.5)."""
    i = np.arange(rows).reshape(-1, 1)
    j = np.arange(cols).reshape(1, -1)
    return (((i * 31 + j * 17 + seed * 7) % 97) / 97.0 - 0.5).astype(np.float32)


def operands(product, m, k, n):
    """A (M×K) and B (K×N) as views with the bench's layouts (transposes are not copied)."""
    if product == "xw":
        return matrix(m, k, 1), matrix(k, n, 2)
    if product == "xtdy":
        return matrix(k, m, 1).T, matrix(k, n, 2)
    return matrix(m, k, 1), matrix(n, k, 2).T


def measure(fn, seconds):
    """Median wall and thread-CPU seconds per call over repeated batches of calls."""
    fn()
    t0 = time.perf_counter()
    calls = 0
    while time.perf_counter() - t0 < 0.05:
        fn()
        calls += 1
    batch = max(1, calls // 5)
    walls, cpus = [], []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(walls) < 5:
        w0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(batch):
            fn()
        walls.append((time.perf_counter() - w0) / batch)
        cpus.append((time.thread_time() - c0) / batch)
    return statistics.median(walls), statistics.median(cpus)


def main_json():
    """One JSON line per product and peer: group `gemm`, name `matmul`, throughput in flops/s."""
    import json

    import peerlib

    peerlib.emit_info(np, torch, ARGS.threads)
    for product, m, k, n in shapes():
        size = f"{product}_{m}x{k}x{n}"
        ident = f"gemm/matmul/{size}/t{ARGS.threads}"
        if ARGS.filter not in ident or (ARGS.ids and ident not in ARGS.ids.split(",")):
            continue
        a, b = operands(product, m, k, n)
        c = np.empty((m, n), dtype=np.float32)
        runs = [("numpy", lambda: np.matmul(a, b, out=c))]
        if torch:
            ta = torch.from_numpy(np.ascontiguousarray(a.T)).T if product == "xtdy" else torch.from_numpy(a)
            tb = torch.from_numpy(np.ascontiguousarray(b.T)).T if product == "dywt" else torch.from_numpy(b)
            tc = torch.empty((m, n), dtype=torch.float32)
            runs.append(("torch", lambda: torch.matmul(ta, tb, out=tc)))
        for peer, fn in runs:
            wall, _ = measure(fn, ARGS.seconds)
            print(json.dumps({"group": "gemm", "peer": peer, "name": "matmul", "size": size,
                              "threads": ARGS.threads, "median_seconds": wall,
                              "throughput": 2.0 * m * k * n / wall, "unit": "flops"}))
            sys.stdout.flush()


def main():
    if ARGS.json:
        main_json()
        return
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            print(f"# {info.get('internal_api')} {info.get('version')} kernel={info.get('architecture')} "
                  f"threads={info.get('num_threads')}")
    except ImportError:
        print("# threadpoolctl not installed: kernel unknown")
    print(f"# numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else ", torch not importable"))
    cols = ["numpy"] + (["torch"] if torch else [])
    cpu_note = ARGS.threads == 1
    head = "| product | " + " | ".join(
        f"{c} GFLOP/s" + (f" | {c} GFLOP/s (cpu time)" if cpu_note else "") for c in cols)
    print(head + " |")
    print("|---|" + "---:|" * (len(cols) * (2 if cpu_note else 1)))
    for product, m, k, n in shapes():
        ident = f"{product}_{m}x{k}x{n}/t{ARGS.threads}"
        if ARGS.filter not in ident:
            continue
        a, b = operands(product, m, k, n)
        c = np.empty((m, n), dtype=np.float32)
        flops = 2.0 * m * k * n
        cells = []
        wall, cpu = measure(lambda: np.matmul(a, b, out=c), ARGS.seconds)
        cells.append(f"{flops / wall / 1e9:.1f}")
        if cpu_note:
            cells.append(f"{flops / cpu / 1e9:.1f}")
        if torch:
            ta, tb = torch.from_numpy(np.ascontiguousarray(a.T)).T if product == "xtdy" else torch.from_numpy(a), \
                torch.from_numpy(np.ascontiguousarray(b.T)).T if product == "dywt" else torch.from_numpy(b)
            tc = torch.empty((m, n), dtype=torch.float32)
            wall, cpu = measure(lambda: torch.matmul(ta, tb, out=tc), ARGS.seconds)
            cells.append(f"{flops / wall / 1e9:.1f}")
            if cpu_note:
                cells.append(f"{flops / cpu / 1e9:.1f}")
        print(f"| {ident} | " + " | ".join(cells) + " |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
