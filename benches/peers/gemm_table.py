#!/usr/bin/env python3
"""Builds the BENCHMARKS.md GEMM table from several runs of `cargo xtask bench --peers gemm/`.

    for r in 1 2 3; do
        cargo xtask bench --peers gemm/ && cp target/bench-summary.md /tmp/gemm-$r.md
    done
    python3 benches/peers/gemm_table.py [--best] /tmp/gemm-*.md

On a shared machine one run of a product can be 20 % slow, ours or the peers' (another guest takes
the core for part of criterion's samples). Each cell here is the median over the runs given (each
run already reports criterion's median), or with `--best` the fastest run, for ours and the peers
alike: disturbance only ever slows a run down. Prints, per product: our GFLOP/s, NumPy's and PyTorch's at one and two threads, ours over
NumPy, and ours as a share of the theoretical f32 peak of the cores in use (32 flops per cycle per
core at the clock the runs measured, `gemm/clock/add_chain`). Nothing in the workspace depends on
this script.
"""

import re
import statistics
import sys

FLOPS_PER_CYCLE = 32  # Zen 4: two 256-bit FMA pipes x 8 lanes x 2 flops (see BENCHMARKS.md)


def bench_order():
    """The products in the order of the criterion bench (and of `gemm.py`)."""
    out = []
    for batch in (128, 256):
        for d, h in ((784, 512), (512, 256), (256, 10)):
            out += [f"xw_{batch}x{d}x{h}", f"xtdy_{d}x{batch}x{h}", f"dywt_{batch}x{h}x{d}"]
    return out + ["xw_1024x1024x1024"]


BENCH_ORDER = bench_order()


def gflops(cell):
    m = re.search(r"([\d.]+) GFLOP/s", cell)
    return float(m.group(1)) if m else None


def parse(path):
    """{(product, threads): (ours, numpy, torch)} and the clock in MHz of one summary file."""
    rows, clock = {}, None
    for line in open(path, encoding="utf-8"):
        # A filtered run has no clock row; xtask then times the clock and states it in a note.
        m = re.search(r"× ([\d.]+) MHz \(measured", line)
        if m and clock is None:
            clock = float(m.group(1))
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5:
            continue
        if cells[0] == "gemm/clock/add_chain":
            m = re.search(r"([\d.]+) MHz", cells[2])
            clock = float(m.group(1)) if m else None
        m = re.fullmatch(r"gemm/ours/(\S+)", cells[0])
        if m:
            rows[(m.group(1), int(cells[1]))] = tuple(gflops(c) for c in cells[2:5])
    return rows, clock


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def best(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def main(paths, pick):
    runs = [parse(p) for p in paths]
    clock = median([c for _, c in runs])
    seen = list(dict.fromkeys(p for rows, _ in runs for (p, _t) in rows))
    products = [p for p in BENCH_ORDER if p in seen] + [p for p in seen if p not in BENCH_ORDER]
    how = "Fastest" if pick is best else "Median"
    print(f"{how} of {len(runs)} runs; clock {f'{clock:.0f} MHz' if clock else 'not measured'}.\n")
    header = "| product | ours t1 | NumPy t1 | PyTorch t1 | vs NumPy | % of peak "
    header += "| ours t2 | NumPy t2 | PyTorch t2 | vs NumPy | % of peak |"
    print(header)
    print("|---|" + "---:|" * 10)
    for product in products:
        cells = [product]
        for threads in (1, 2):
            per_run = [rows.get((product, threads), (None,) * 3) for rows, _ in runs]
            ours, numpy, torch = (pick([r[i] for r in per_run]) for i in range(3))
            fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
            ratio = f"{ours / numpy:.2f}×" if ours and numpy else "-"
            peak = f"{100 * ours / (FLOPS_PER_CYCLE * clock * threads / 1000):.0f}%" if ours and clock else "-"
            cells += [fmt(ours), fmt(numpy), fmt(torch), ratio, peak]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    args = sys.argv[1:]
    fastest = "--best" in args
    files = [a for a in args if a != "--best"]
    if not files:
        sys.exit(__doc__)
    main(files, best if fastest else median)
