"""What the sandbox costs per submission: ``grader run`` on one correct submission with
``--sandbox bubblewrap`` and with ``--sandbox process``, several runs each, medians printed.

    python bench/sandbox_cost.py [--runs 7] [--submission tests/fixtures/modules_correct]

Also times one bare worker start (spawn + numpy import + ready) in each mode, the part of the
difference that repeats whenever a worker is replaced.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def grade_seconds(submission: str, mode: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "grader", "run", submission, "--sandbox", mode, "-q"],
                          cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"grader run failed ({done.returncode}): {done.stderr}")
    return elapsed


def worker_start_seconds(mode: str) -> float:
    sys.path.insert(0, str(ROOT))
    from grader import sandbox
    from grader.session import Session
    from grader.submission import open_submission

    submission = open_submission(str(ROOT / "tests" / "fixtures" / "modules_correct"))
    started = time.perf_counter()
    with Session(submission, mode=mode, limits=sandbox.Limits(), factories=None, functions={}) as session:
        session._spawn()
        elapsed = time.perf_counter() - started
    submission.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--submission", default=str(ROOT / "tests" / "fixtures" / "modules_correct"))
    args = parser.parse_args()
    results = {}
    for mode in ("bubblewrap", "process"):
        grade_seconds(args.submission, mode)  # warm the page cache
        runs = [grade_seconds(args.submission, mode) for _ in range(args.runs)]
        starts = [worker_start_seconds(mode) for _ in range(args.runs)]
        results[mode] = (statistics.median(runs), min(runs), max(runs), statistics.median(starts))
    print(f"grader run {Path(args.submission).name}, {args.runs} runs each")
    print(f"{'mode':<12}{'median s':>10}{'min s':>8}{'max s':>8}{'worker start s':>16}")
    for mode, (median, low, high, start) in results.items():
        print(f"{mode:<12}{median:>10.3f}{low:>8.3f}{high:>8.3f}{start:>16.3f}")
    extra = results["bubblewrap"][0] - results["process"][0]
    print(f"sandbox cost per submission: {extra:+.3f} s ({extra / results['process'][0]:+.0%}); "
          f"per worker start: {results['bubblewrap'][3] - results['process'][3]:+.3f} s")


if __name__ == "__main__":
    main()
