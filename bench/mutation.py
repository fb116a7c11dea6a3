"""Benchmark: ``grader mutate`` on the shipped assignments: mutants generated, equivalent,
killed, surviving, and the time of each stage (reference, equivalence, grading) and in all.

    python bench/mutation.py                        # all four assignments, one after another
    python bench/mutation.py nn_basics --limit 50   # one assignment, the first 50 mutants

Each assignment runs in a process of its own, exactly as a user runs the command, so the
figures include interpreter start-up and pytest's collection. Printed, never asserted: the
target (nn_basics, a few hundred mutants, within a few minutes on 2 cores) is read from here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ("nn_basics", "backprop_basics", "layers_lab", "softmax_cache")


def measure(name: str, limit: int | None) -> dict:
    """One run of ``python -m grader.mutation NAME``: its JSON report's counts and timings."""
    with tempfile.TemporaryDirectory(prefix="grader-bench-mutate-") as scratch:
        out = os.path.join(scratch, "report.json")
        argv = [sys.executable, "-m", "grader.mutation", name, "--json", out]
        if limit:
            argv += ["--limit", str(limit)]
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise SystemExit(f"{name}: grader mutate failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        report = json.loads(Path(out).read_text())
    totals = {k: sum(p[k] for p in report["problems"].values())
              for k in ("generated", "equivalent", "killed", "survived", "known", "error")}
    return {"name": name, "wall": wall, **totals, **{f"t_{k}": v for k, v in report["seconds"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=list(ASSIGNMENTS))
    parser.add_argument("--limit", type=int, help="only the first N mutants of each")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'assignment':<17}{'generated':>10}{'equivalent':>11}{'killed':>8}{'surviving':>10}{'(known)':>8}"
          f"{'reference':>10}{'equiv.':>8}{'grading':>9}{'wall':>8}{'ms/mutant':>10}")
    for name in args.assignments:
        row = measure(name, args.limit)
        surviving = row["survived"] + row["error"]
        print(f"{name:<17}{row['generated']:>10}{row['equivalent']:>11}{row['killed']:>8}{surviving:>10}"
              f"{row['known']:>8}{row['t_reference']:>9.1f}s{row['t_equivalence']:>7.1f}s"
              f"{row['t_grading']:>8.1f}s{row['wall']:>7.1f}s{1000 * row['wall'] / max(row['generated'], 1):>10.0f}",
              flush=True)


if __name__ == "__main__":
    main()
