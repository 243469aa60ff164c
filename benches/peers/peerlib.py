"""Shared helpers of the peer scripts (`step.py`, `epoch.py`, `activations.py`, `gemm.py --json`).

Call `setup()` before anything imports NumPy: it parses `--threads`, `--seconds`, `--filter` and
`--json`, and fixes the BLAS/OpenMP thread count through the environment (OpenBLAS and MKL read it
once, at load), so run one process per thread count. `setup()` returns the arguments, NumPy, and
torch (or None when it is not importable, which `emit_info` then says).

Every measurement is one JSON line:
    {"group", "peer", "name", "size", "threads", "median_seconds", "throughput", "unit"}
`group/name/size/t<threads>` is the id of the criterion row it pairs with (see xtask/src/peers.rs).
"""

import argparse
import json
import os
import statistics
import sys
import time


def setup(description, extra=None):
    """Parses the common arguments, sets the thread environment, imports NumPy and torch."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch threads (default 1)")
    p.add_argument("--seconds", type=float, default=1.0, help="time budget per measurement (default 1)")
    p.add_argument("--filter", default="", help="only ids (group/name/size/tN) containing this text")
    p.add_argument("--ids", default="", help="comma-separated ids to run (all when empty)")
    p.add_argument("--json", action="store_true", help="JSON lines (the default here; kept for symmetry)")
    p.add_argument("--no-torch", action="store_true", help="NumPy only")
    if extra:
        extra(p)
    args = p.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    # Some machines set these for old OpenBLAS builds; they slow a current one (see gemm.py).
    os.environ.pop("OPENBLAS_CORETYPE", None)
    os.environ.pop("OPENBLAS_L2_SIZE", None)
    import numpy as np  # noqa: E402  (after the environment is set)

    global _NO_TORCH_REASON
    torch = None
    _NO_TORCH_REASON = "--no-torch given"
    if not args.no_torch:
        try:
            import torch  # noqa: E402

            torch.set_num_threads(args.threads)
        except ImportError as e:
            torch = None
            _NO_TORCH_REASON = f"not importable ({e})"
    return args, np, torch


_NO_TORCH_REASON = "not importable"


def emit_info(np, torch, threads):
    """One `{"info": ...}` line naming the versions and BLAS, for the table's footnotes."""
    blas = "unknown BLAS"
    try:
        from threadpoolctl import threadpool_info

        libs = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')} kernel, "
                f"{i.get('num_threads')} threads)" for i in threadpool_info()
                if i.get("user_api") == "blas"]
        if libs:
            blas = ", ".join(libs)
    except ImportError:
        blas = "BLAS unknown (threadpoolctl not installed)"
    info = {"info": f"NumPy {np.__version__} with {blas}; threads {threads} via OMP/OPENBLAS/MKL_NUM_THREADS"}
    print(json.dumps(info))
    if torch is None:
        print(json.dumps({"info": f"PyTorch {_NO_TORCH_REASON}: NumPy rows only"}))
    else:
        mkl = "MKL" if torch.backends.mkl.is_available() else "no MKL"
        print(json.dumps({"info": f"PyTorch {torch.__version__} ({mkl}, oneDNN "
                          f"{'on' if torch.backends.mkldnn.is_available() else 'off'}), "
                          f"torch.set_num_threads({torch.get_num_threads()})"}))
    sys.stdout.flush()


def measure(fn, seconds, min_reps=5, warmup=2):
    """Median wall seconds per call of `fn` after `warmup` calls, over at least `min_reps` calls
    or `seconds` of calls, batching fast calls so each timing lasts at least about 1 ms."""
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    per = max(1, int(1e-3 / max(one, 1e-9)))
    times = []
    end = time.perf_counter() + seconds
    while len(times) < min_reps or time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(per):
            fn()
        times.append((time.perf_counter() - t0) / per)
    return statistics.median(times)


def wanted(args, group, name, size):
    """Whether `group/name/size/t<threads>` passes `--filter` and `--ids`."""
    ident = f"{group}/{name}/{size}/t{args.threads}"
    return args.filter in ident and (not args.ids or ident in args.ids.split(","))


def emit(args, group, peer, name, size, seconds, amount, unit):
    """Prints one measurement; `amount` units of work per call (samples, bytes, flops)."""
    print(json.dumps({
        "group": group, "peer": peer, "name": name, "size": size, "threads": args.threads,
        "median_seconds": seconds, "throughput": amount / seconds, "unit": unit,
    }))
    sys.stdout.flush()
