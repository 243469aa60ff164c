#!/usr/bin/env python3
"""Pivots the criterion `gemm` group and the NumPy peer tables into the BENCHMARKS.md table.

    python3 benches/peers/gemm_table.py [--cpu] TARGET_DIR [NUMPY_T1_OUTPUT [NUMPY_T2_OUTPUT]]

With `--cpu`, reads the `gemm-cputime` group (one thread, timed by thread CPU time) and NumPy's
CPU-time column instead of the wall-clock ones.

TARGET_DIR is the cargo target directory the bench ran in (it holds `criterion/gemm/...`); the
NumPy files are saved outputs of `benches/peers/gemm.py --threads 1` and `--threads 2`. Prints
GFLOP/s per product and thread count for ours, ndarray's `dot`, the `gemm` crate (when measured)
and NumPy, ours as a fraction of the measured f32 FMA peak (one core per thread), and ours over
NumPy.
"""

import json
import pathlib
import re
import sys


def criterion_rows(target, group):
    rows = {}
    for bench in pathlib.Path(target, "criterion", group).glob("**/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        flops = meta.get("throughput", {}).get("Elements")
        if not flops:
            continue
        gflops = flops / est["median"]["point_estimate"]
        rows[(meta["function_id"], meta["value_str"])] = gflops
    return rows


def numpy_rows(path, cpu):
    out = {}
    for line in pathlib.Path(path).read_text().splitlines():
        m = re.match(r"\| (\S+/t\d) \| ([\d.]+) \|(?: ([\d.]+) \|)?", line)
        if m and (not cpu or m.group(3)):
            out[m.group(1)] = float(m.group(3) if cpu else m.group(2))
    return out


def main():
    args = sys.argv[1:]
    cpu = "--cpu" in args
    args = [a for a in args if a != "--cpu"]
    rows = criterion_rows(args[0], "gemm-cputime" if cpu else "gemm")
    numpy = {}
    for path in args[1:]:
        numpy.update(numpy_rows(path, cpu))
    peak = rows.get(("peak_fma", "avx512/t1"))
    have_crate = any(f == "gemm-crate" for f, _ in rows)
    measured = {v for f, v in rows if f == "ours"}
    ids = [f"{shape}/t{t}" for t in (1, 2) for shape in shapes() if f"{shape}/t{t}" in measured]
    head = ["product/threads", "ours", "ndarray dot (t1)"] + (["gemm crate"] if have_crate else []) + [
        "NumPy OpenBLAS", "ours / NumPy", "ours % of peak"]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for v in ids:
        threads = int(v.rsplit("/t", 1)[1])
        ours = rows[("ours", v)]
        nd = rows.get(("ndarray", v.rsplit("/", 1)[0] + "/t1"))
        cells = [v, f"{ours:.1f}", f"{nd:.1f}" if nd and threads == 1 else "—"]
        if have_crate:
            gc = rows.get(("gemm-crate", v))
            cells.append(f"{gc:.1f}" if gc else "—")
        np_v = numpy.get(v)
        cells.append(f"{np_v:.1f}" if np_v else "—")
        cells.append(f"{ours / np_v:.2f}" if np_v else "—")
        cells.append(f"{100 * ours / (peak * threads):.0f}%" if peak else "—")
        print("| " + " | ".join(cells) + " |")
    if peak:
        print(f"\nMeasured f32 FMA peak (gemm/peak_fma/avx512/t1): {peak:.1f} GFLOP/s per core.")
    avx2 = rows.get(("ours-avx2", "xw_1024x1024x1024/t1"))
    if avx2:
        print(f"Our AVX2 fallback at 1024³, one thread: {avx2:.1f} GFLOP/s.")


def shapes():
    """The bench's products, in its order (as in gemm.py)."""
    out = []
    for batch in (128, 256):
        for d, h in ((784, 512), (512, 256), (256, 10)):
            out += [f"xw_{batch}x{d}x{h}", f"xtdy_{d}x{batch}x{h}", f"dywt_{batch}x{h}x{d}"]
    return out + ["xw_1024x1024x1024"]


if __name__ == "__main__":
    main()
