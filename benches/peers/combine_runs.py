#!/usr/bin/env python3
"""Combines several `target/bench-summary.md` files of `cargo xtask bench --peers` into one table.

    for r in 1 2 3; do
        cargo xtask bench --peers step && cp target/bench-summary.md /tmp/step-$r.md
    done
    python3 benches/peers/combine_runs.py [--median] /tmp/step-*.md

For every row (work, threads) and every side (ours, NumPy, PyTorch) keeps the fastest of the runs
(or the median time with `--median`) and recomputes the ratios (peer time / our time). A shared
machine slows a random row of a run by 15-25%, ours or a peer's, and never speeds one up, so the
fastest run is each side's least disturbed figure. Nothing in the workspace depends on this script.
"""

import re
import statistics
import sys

UNITS = {"ns": 1e-9, "µs": 1e-6, "ms": 1e-3, "s": 1.0}


def seconds(cell):
    m = re.match(r"([\d.]+) (ns|µs|ms|s)\b", cell)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def parse(path):
    """{(work, threads): [ours cell, NumPy cell, PyTorch cell]} of one summary file."""
    rows = {}
    for line in open(path, encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[1].isdigit():
            rows[(cells[0], int(cells[1]))] = cells[2:5]
    return rows


def main(paths, pick):
    runs = [parse(p) for p in paths]
    keys = list(dict.fromkeys(k for rows in runs for k in rows))
    print(f"{'Median' if pick is statistics.median else 'Fastest'} of {len(runs)} runs.\n")
    print("| work | threads | ours | NumPy | PyTorch | ours vs NumPy | ours vs PyTorch |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key in keys:
        chosen = []
        for side in range(3):
            timed = [(seconds(r[key][side]), r[key][side]) for r in runs if key in r]
            timed = [t for t in timed if t[0] is not None]
            if not timed:
                chosen.append((None, "-"))
                continue
            target = pick([t for t, _ in timed])
            chosen.append(min(timed, key=lambda t: abs(t[0] - target)))
        ours = chosen[0][0]
        ratios = [f"{peer / ours:.2f}×" if ours and peer else "-" for peer, _ in chosen[1:]]
        print(f"| {key[0]} | {key[1]} | " + " | ".join(c for _, c in chosen) + " | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    args = sys.argv[1:]
    files = [a for a in args if a != "--median"]
    if not files:
        sys.exit(__doc__)
    main(files, statistics.median if "--median" in args else min)
