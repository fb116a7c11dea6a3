"""Benchmark: grade N generated nn_basics submissions and print wall time, throughput and RSS.

    python bench/run.py --n 200            # grader run one by one, grader batch, and the floor
    python bench/run.py --n 50 --only run  # just one of: run, batch, floor

The floor is what a fresh Python process costs to import numpy and the student's modules (a
notebook's cells read with json) and run comparable checks in-process, with no sandbox and no
pytest: the cheapest honest alternative. For the batch, median and p95 are each submission's own
grading time (its gradebook row); throughput is the class over the batch's whole wall time.
Figures are printed, never asserted: speed targets live here, not in timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
CORRECT = ROOT / "examples" / "nn_basics" / "correct"
MODULES = ["q1_softmax.py", "q2_sigmoid.py", "q2_gradcheck.py", "q2_neural.py"]

BUGS = [
    ("q1_softmax.py", "x = x / np.sum(x, axis=1, keepdims=True)", "x = x / (np.sum(x, axis=1, keepdims=True) + 1e-6)"),
    ("q1_softmax.py", "x = x - np.max(x, axis=1, keepdims=True)", "x = x"),
    ("q2_sigmoid.py", "s * (1 - s)", "s * (1 + s)"),
    ("q2_gradcheck.py", "        x[ix] += h\n        random.setstate(rndstate)", "        x[ix] += h"),
    ("q2_neural.py", "gradW2 = ", "gradW2 = 1.01 * "),
]


def generate(folder: Path, n: int) -> list[Path]:
    """N submissions: every third a notebook, every second one with one realistic bug."""
    sources = {name: (CORRECT / name).read_text() for name in MODULES}
    subs = []
    for i in range(n):
        files = dict(sources)
        if i % 2:
            name, old, new = BUGS[i % len(BUGS)]
            files[name] = files[name].replace(old, new, 1)
        target = folder / f"student{i:04d}"
        target.mkdir(parents=True)
        if i % 3 == 0:
            code = "\n\n".join(text for name, text in files.items())
            code = "\n".join(line for line in code.splitlines() if not line.startswith("from q"))
            cells = [new_code_cell(chunk) for chunk in code.split("\n\n\n") if chunk.strip()]
            nbformat.write(new_notebook(cells=cells), target / "assignment1.ipynb")
        else:
            for name, text in files.items():
                (target / name).write_text(text)
        subs.append(target)
    return subs


class TreeRSS(threading.Thread):
    """Samples the memory of a process and all its descendants (Linux /proc): the summed RSS
    (which counts pages that forked workers share once per process) and the summed PSS
    (each shared page split between the processes sharing it: the honest total)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak, self.peak_pss, self.done = pid, interval, 0, 0, False

    def _children(self) -> dict[int, list[int]]:
        tree: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as handle:
                        parent = int(handle.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                tree.setdefault(parent, []).append(int(entry))
        return tree

    def sample(self) -> tuple[int, int]:
        tree, total, pss, todo = self._children(), 0, 0, [self.pid]
        while todo:
            pid = todo.pop()
            todo += tree.get(pid, [])
            try:
                with open(f"/proc/{pid}/statm") as handle:
                    total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
                with open(f"/proc/{pid}/smaps_rollup") as handle:
                    for line in handle:
                        if line.startswith("Pss:"):
                            pss += int(line.split()[1]) * 1024
                            break
            except (OSError, ValueError, IndexError):
                pass
        return total, pss

    def run(self) -> None:
        while not self.done:
            rss, pss = self.sample()
            self.peak, self.peak_pss = max(self.peak, rss), max(self.peak_pss, pss)
            time.sleep(self.interval)


def timed(argv: list[str], **kwargs) -> tuple[float, tuple[int, int], subprocess.CompletedProcess]:
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    sampler = TreeRSS(process.pid)
    sampler.start()
    out, err = process.communicate()
    sampler.done = True
    sampler.join()
    elapsed = time.perf_counter() - started
    return elapsed, (sampler.peak, sampler.peak_pss), subprocess.CompletedProcess(argv, process.returncode, out, err)


def batch_latencies(out: Path) -> list[float]:
    """Each submission's own grading time in the batch (from its gradebook row): the median and
    p95 of these are per submission; throughput is the class over the batch's whole wall time."""
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        return [row[0] for row in db.execute("SELECT seconds FROM runs")]


def summary(label: str, times: list[float], peak: tuple[int, int], total: float | None = None) -> dict:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    total = total if total is not None else sum(times)
    figures = {"label": label, "n": len(times), "median_s": statistics.median(times), "p95_s": p95,
               "throughput_per_s": len(times) / total, "peak_rss_mb": peak[0] / 2**20,
               "peak_pss_mb": peak[1] / 2**20, "total_s": total}
    print(f"{label:<28} n={len(times):<5} median {figures['median_s']*1000:7.1f} ms   "
          f"p95 {p95*1000:7.1f} ms   {figures['throughput_per_s']:6.2f} subs/s   "
          f"peak RSS {figures['peak_rss_mb']:6.1f} MB (PSS {figures['peak_pss_mb']:6.1f} MB)   "
          f"total {total:6.1f} s")
    return figures


FLOOR = r'''
import sys, time, random, importlib, io, contextlib
started = time.perf_counter()
import numpy as np
sub, ref = sys.argv[1], sys.argv[2]
def load(folder, prefix):
    sys.path.insert(0, folder)
    mods = {}
    for name in ("q1_softmax", "q2_sigmoid", "q2_gradcheck", "q2_neural"):
        for key in [k for k in sys.modules if k in ("q1_softmax", "q2_sigmoid", "q2_gradcheck", "q2_neural")]:
            del sys.modules[key]
    ns = {}
    try:
        for name in ("q1_softmax", "q2_sigmoid", "q2_gradcheck", "q2_neural"):
            try:
                ns.update(vars(importlib.import_module(name)))
            except Exception:
                pass
    finally:
        sys.path.remove(folder)
    return ns
def load_any(folder):
    import json, os
    nbs = [f for f in os.listdir(folder) if f.endswith(".ipynb")]
    if not nbs:
        return load(folder, "s")
    ns = {"__name__": "nb"}
    with open(os.path.join(folder, nbs[0])) as handle:
        cells = json.load(handle)["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            try:
                exec("".join(cell["source"]), ns)
            except Exception:
                pass
    return ns
s = load_any(sub)
r = load(ref, "r")
score = 0
rng = np.random.default_rng(0)
for shape in [(4,), (3, 5), (6, 2)]:
    x = rng.normal(size=shape)
    try:
        score += np.allclose(s["softmax"](x), r["softmax"](x), rtol=1e-6)
        score += np.allclose(s["sigmoid"](x), r["sigmoid"](x))
        score += np.allclose(s["sigmoid_grad"](r["sigmoid"](x)), r["sigmoid_grad"](r["sigmoid"](x)))
    except Exception:
        pass
quad = lambda x: (np.sum(x ** 2), 2 * x)
for x in [rng.normal(size=(5,)), rng.normal(size=(3, 4))]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            s["gradcheck_naive"](quad, x)
        except Exception:
            pass
    score += "pass" in out.getvalue().lower()
for dims in [(10, 5, 10), (4, 6, 3)]:
    n = 8
    data = rng.normal(size=(n, dims[0])); labels = np.zeros((n, dims[2])); labels[np.arange(n), rng.integers(0, dims[2], n)] = 1
    params = rng.normal(size=(dims[0] + 1) * dims[1] + (dims[1] + 1) * dims[2])
    try:
        c, g = s["forward_backward_prop"](data, labels, params, list(dims))
        c2, g2 = r["forward_backward_prop"](data, labels, params, list(dims))
        score += np.isclose(c, c2) and np.allclose(g, g2)
    except Exception:
        pass
print(score)
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="submissions to generate (default 50)")
    parser.add_argument("--only", choices=("run", "batch", "floor"), help="measure just one way")
    parser.add_argument("--run-n", type=int, default=None,
                        help="how many of them to grade one by one with `grader run` (default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    grader = [sys.executable, "-m", "grader"]
    work = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    results = []
    try:
        subs = generate(work / "class", args.n)
        print(f"generated {len(subs)} submissions in {work / 'class'} "
              f"({sum(1 for s in subs if any(s.glob('*.ipynb')))} notebooks, "
              f"{sum(1 for i in range(len(subs)) if i % 2)} with a bug); machine: {os.cpu_count()} cores")
        print(f"python bytecode cache: {'off (PYTHONDONTWRITEBYTECODE is set)' if sys.flags.dont_write_bytecode else 'on'}")
        ref = ROOT / "reference_solutions" / "nn_basics"
        if args.only in (None, "floor"):
            times, peak = [], (0, 0)
            for sub in subs[: args.run_n or len(subs)]:
                elapsed, rss, _ = timed([sys.executable, "-c", FLOOR, str(sub), str(ref)])
                times.append(elapsed)
                peak = (max(peak[0], rss[0]), max(peak[1], rss[1]))
            floor = summary("floor (python+numpy+checks)", times, peak)
            results.append(floor)
        if args.only in (None, "run"):
            times, peak = [], (0, 0)
            for sub in subs[: args.run_n or len(subs)]:
                elapsed, rss, done = timed([*grader, "run", str(sub), "--sandbox", args.sandbox, "-q"], cwd=ROOT)
                if done.returncode not in (0, 1):
                    print(f"grader run failed on {sub}: {done.stderr.strip()[-300:]}")
                times.append(elapsed)
                peak = (max(peak[0], rss[0]), max(peak[1], rss[1]))
            results.append(summary("grader run (one by one)", times, peak))
        if args.only in (None, "batch"):
            out = work / "results"
            elapsed, peak, done = timed([*grader, "batch", str(work / "class"), "--assignment", "nn_basics",
                                         "--out", str(out), "--jobs", str(args.jobs)], cwd=ROOT)
            if done.returncode not in (0, 1):
                print(f"grader batch unavailable or failed (exit {done.returncode}): "
                      f"{done.stderr.strip().splitlines()[-1:] if done.stderr.strip() else ''}")
            else:
                results.append(summary(f"grader batch --jobs {args.jobs}", batch_latencies(out), peak, total=elapsed))
        floor_figures = next((r for r in results if r["label"].startswith("floor")), None)
        if floor_figures:
            for figures in results:
                if figures is not floor_figures:
                    print(f"ratio to floor: {figures['label']:<28} median x{figures['median_s'] / floor_figures['median_s']:.2f}, "
                          f"throughput x{figures['throughput_per_s'] / floor_figures['throughput_per_s']:.2f}")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
