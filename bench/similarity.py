"""How well `grader similarity` finds planted copies, how often it accuses independent students,
and what it costs. Figures are printed, never asserted.

    python bench/similarity.py --students 1000 --per-disguise 5 --jobs 2

A class of independent students is generated (bench/similarity_class.py: several genuinely
different implementations per function, random choices inside each, three layouts), then copies
are planted: another student's files with one disguise (each of ``DISGUISES``), or several.
``grader similarity`` runs in a child process (its wall time and peak RSS are measured), and the
CSV it writes is read back:

- recall of planted pairs at the default threshold, per disguise;
- flagged independent pairs (false accusations), and per 100 students;
- the rank of each planted pair among all pairs;
- `--compare copydetect` runs copydetect (MOSS-style winnowing, boilerplate = the starter) and
  `--compare pycode_similar` runs pycode_similar (per-function AST diff) on the same class, one
  text per student holding the extracted functions, for the same figures at several thresholds.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import similarity_class as sc  # noqa: E402


def plan(per_disguise: int) -> list[list[str]]:
    singles = [[name] for name in sc.DISGUISES for _ in range(per_disguise)]
    combos = [["rename", "reformat"], ["rename", "comments", "reorder"], ["rename", "deadcode"],
              ["rename", "reorder", "deadcode", "loop"], ["reformat", "comments", "reorder", "deadcode"],
              list(sc.DISGUISES)]
    return singles + [c for c in combos for _ in range(max(1, per_disguise // 2))]


def run_similarity(folder: str, out: str, jobs: int, extra: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "grader.similarity", folder, "--assignment", "nn_basics",
                    "--out", out, "--jobs", str(jobs), *extra], check=True, cwd=ROOT)
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def read_pairs(path: str) -> list[tuple[str, str, float, bool]]:
    with open(path, newline="") as handle:
        return [(row["student_a"], row["student_b"], float(row["score"]), row["flagged"] == "yes")
                for row in csv.DictReader(handle)]


def summarise(pairs, truth, students: int, label: str) -> None:
    planted = {tuple(sorted((p["original"], p["copy"]))): p for p in truth["planted"]}
    rank = {}
    for position, (a, b, score, flagged) in enumerate(sorted(pairs, key=lambda p: -p[2]), start=1):
        rank[tuple(sorted((a, b)))] = (position, score, flagged)
    per: dict[str, list[int]] = {}
    for key, info in planted.items():
        found = rank.get(key, (None, 0.0, False))
        per.setdefault("+".join(info["disguises"]), []).append(int(found[2]))
    false = [(a, b, s) for a, b, s, f in pairs if f and tuple(sorted((a, b))) not in planted]
    total_pairs = students * (students - 1) // 2
    print(f"\n== {label}")
    print(f"{'disguise':42} recall")
    for name, hits in per.items():
        print(f"{name:42} {sum(hits)}/{len(hits)}")
    all_hits = [h for hits in per.values() for h in hits]
    print(f"planted pairs flagged: {sum(all_hits)}/{len(all_hits)}")
    print(f"independent pairs flagged: {len(false)} of {total_pairs} "
          f"({100 * len(false) / students:.2f} per 100 students)")
    ranks = sorted((rank.get(k, (None,))[0] or 10**9) for k in planted)
    print("ranks of planted pairs:", ", ".join(str(r) if r < 10**9 else "-" for r in ranks))
    planted_scores = [rank[k][1] for k in planted if k in rank]
    independent = [s for a, b, s, f in pairs if tuple(sorted((a, b))) not in planted]
    if planted_scores:
        print(f"lowest planted score {min(planted_scores):.2f}; highest independent score "
              f"{max(independent, default=0.0):.2f}")
    worst_false = sorted(false, key=lambda f: -f[2])[:5]
    if worst_false:
        print("highest false flags:", ", ".join(f"{a}-{b} {s:.2f}" for a, b, s in worst_false))


def undone(folder: str, truth) -> None:
    """Per disguise, the share of a copy's functions whose normalised token stream is exactly
    its original's (the disguise fully undone, not merely outweighed)."""
    from grader import classlist
    from grader.assignment import find
    from grader.similarity.extract import extract_path

    assignment = find("nn_basics")
    paths = {e.student: e.path for e in classlist.discover(folder, tempfile.mkdtemp()).entries}
    per: dict[str, list[int]] = {}
    for planted in truth["planted"]:
        original = extract_path(paths[planted["original"]], assignment)
        copy = extract_path(paths[planted["copy"]], assignment)
        for problem, code in original.problems.items():
            same = problem in copy.problems and [t.text for t in code.tokens] == [t.text for t in copy.problems[problem].tokens]
            per.setdefault("+".join(planted["disguises"]), []).append(int(same))
    print("\nfunctions whose normalised stream equals the original's, per disguise:")
    for name, same in per.items():
        print(f"  {name:42} {sum(same)}/{len(same)}")


def copydetect_run(folder: str, truth, students: int, work: str) -> None:
    """copydetect on one file per student: the extracted functions, the starter as boilerplate."""
    from grader.assignment import find
    from grader import classlist
    from grader.similarity.extract import extract_path

    try:
        from copydetect import CopyDetector
    except ImportError:
        print("\n== copydetect: not installed (pip install copydetect)")
        return
    assignment = find("nn_basics")
    files = os.path.join(work, "cd_files")
    os.makedirs(files, exist_ok=True)
    for entry in classlist.discover(folder, os.path.join(work, "stage")).entries:
        code = extract_path(entry.path, assignment, entry.student)
        with open(os.path.join(files, entry.student + ".py"), "w") as handle:
            handle.write("\n\n".join(e.text for e in code.problems.values()))
    starter = extract_path(os.path.join(assignment.folder, "starter"), assignment, "starter")
    boiler = os.path.join(work, "boilerplate")
    os.makedirs(boiler, exist_ok=True)
    with open(os.path.join(boiler, "starter.py"), "w") as handle:
        handle.write("\n\n".join(e.text for e in starter.problems.values()))
    started = time.monotonic()
    detector = CopyDetector(test_dirs=[files], ref_dirs=[files], boilerplate_dirs=[boiler],
                            extensions=["py"], display_t=0.0, silent=True, autoopen=False,
                            noise_t=25, guarantee_t=30)
    detector.run()
    seconds = time.monotonic() - started
    names = [os.path.splitext(os.path.basename(f))[0] for f in detector.test_files]
    matrix = detector.similarity_matrix
    scores = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            # copydetect's pair similarity: the share of each file's tokens in the other; the
            # smaller of the two (as its report ranks pairs), clipped below at 0.
            scores.append((names[i], names[j], max(0.0, float(min(matrix[i, j, 0], matrix[i, j, 1])))))
    for threshold in (0.3, 0.5, 0.7, 0.9):
        pairs = [(a, b, s, s >= threshold) for a, b, s in scores]
        summarise(pairs, truth, students, f"copydetect 0.5.0 (noise_t=25, guarantee_t=30), "
                  f"threshold {threshold}; {seconds:.1f} s")


def pycode_similar_run(folder: str, truth, students: int, work: str) -> None:
    """pycode_similar (per-function AST dumps compared with difflib) on the extracted functions:
    each student as reference against every later student."""
    from grader.assignment import find
    from grader import classlist
    from grader.similarity.extract import extract_path

    try:
        import pycode_similar
    except ImportError:
        print("\n== pycode_similar: not installed (pip install pycode_similar)")
        return
    assignment = find("nn_basics")
    codes = []
    for entry in classlist.discover(folder, os.path.join(work, "stage2")).entries:
        code = extract_path(entry.path, assignment, entry.student)
        codes.append((entry.student, "\n\n".join(e.text for e in code.problems.values())))
    started = time.monotonic()
    scores = []
    for i, (name, text) in enumerate(codes[:-1]):
        others = codes[i + 1:]
        try:
            results = pycode_similar.detect([text] + [t for _, t in others],
                                            diff_method=pycode_similar.UnifiedDiff, keep_prints=True,
                                            module_level=False)
        except Exception:  # noqa: BLE001 - a file it cannot parse: no score
            continue
        for index, result in results:
            plagiarism = pycode_similar.summarize(result)
            scores.append((name, others[index - 1][0], float(plagiarism[0])))
    seconds = time.monotonic() - started
    for threshold in (0.5, 0.7, 0.9):
        pairs = [(a, b, s, s >= threshold) for a, b, s in scores]
        summarise(pairs, truth, students, f"pycode_similar 1.4 (UnifiedDiff), threshold {threshold}; "
                  f"{seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--per-disguise", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare", choices=("copydetect", "pycode_similar"), action="append", default=[])
    parser.add_argument("--keep", help="keep the generated class and outputs in this folder")
    args = parser.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="grader-sim-bench-")
    folder, out = os.path.join(work, "class"), os.path.join(work, "out")
    shutil.rmtree(folder, ignore_errors=True)
    copies = plan(args.per_disguise)
    truth = sc.make_class(folder, args.students, copies, seed=args.seed)
    total = args.students + len(copies)
    print(f"class: {args.students} independent students + {len(copies)} planted copies = {total}")
    seconds, peak = run_similarity(folder, out, args.jobs, [])
    print(f"grader similarity: {seconds:.1f} s wall, peak RSS {peak:.0f} MB (largest process)")
    summarise(read_pairs(os.path.join(out, "similarity.csv")), truth, total, "grader similarity, default threshold")
    print(f"default threshold: log2({total * (total - 1) // 2} pairs) + 4 = "
          f"{math.log2(total * (total - 1) // 2) + 4:.2f} bits")
    undone(folder, truth)
    if "copydetect" in args.compare:
        copydetect_run(folder, truth, total, work)
    if "pycode_similar" in args.compare:
        pycode_similar_run(folder, truth, total, work)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
