"""The whole comparison of a class, in order: discover, extract, fingerprint, index, score, write.

``grader similarity`` and ``grader batch --similarity`` both call ``compare_class``. Extraction
(reading and parsing every submission) runs in ``jobs`` processes; each returns only integers
(fingerprints), so the parent's memory holds the index and nothing of the students' text. The
students shown on the page are read again at the end, for their text and matching lines.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import time
from dataclasses import dataclass, field

from grader import classlist, outfile, safetext
from grader.assignment import Assignment
from grader.similarity.extract import StudentCode, extract_path
from grader.similarity.fingerprint import fingerprints
from grader.similarity.index import Pair, Settings, as_array, build, score_pairs

CSV_NAME = "similarity.csv"
HTML_NAME = "similarity.html"


@dataclass
class Result:
    students: int
    pairs_compared: int
    flagged: list[Pair]
    reported: list[Pair]
    seconds: float
    out_dir: str
    threshold: float
    notes: list[str] = field(default_factory=list)


_ASSIGNMENT: Assignment | None = None


def _init(assignment: Assignment) -> None:
    global _ASSIGNMENT
    _ASSIGNMENT = assignment


def student_prints(code: StudentCode, problems: list[str]) -> list[set[int] | None]:
    """One set of fingerprints per problem (None: not attempted), salted by the problem."""
    row: list[set[int] | None] = []
    for salt, problem in enumerate(problems):
        found = code.problems.get(problem)
        row.append(set(fingerprints(found.tokens, salt)) if found else None)
    return row


def _extract_one(job: tuple[str, str]) -> tuple[list, list[str]]:
    """One student's fingerprints as int64 arrays (compact to send back and to keep)."""
    student, path = job
    assert _ASSIGNMENT is not None
    code = extract_path(path, _ASSIGNMENT, student)
    row = student_prints(code, [p.id for p in _ASSIGNMENT.problems])
    return [as_array(fps) if fps is not None else None for fps in row], code.notes


def starter_prints(assignment: Assignment) -> set[int]:
    """Every fingerprint of the code handed out (assignments/NAME/starter/)."""
    folder = os.path.join(assignment.folder, "starter")
    if not os.path.isdir(folder):
        return set()
    code = extract_path(folder, assignment, "starter", starter=True)
    return {fp for fps in student_prints(code, [p.id for p in assignment.problems]) if fps for fp in fps}


def compare_class(submissions_dir: str, assignment: Assignment, out_dir: str,
                  settings: Settings | None = None, jobs: int = 0, show: int = 30) -> Result:
    """Compare every pair of students of ``submissions_dir`` and write similarity.csv and
    similarity.html into ``out_dir``."""
    from grader.similarity import page

    settings = settings or Settings()
    started = time.monotonic()
    os.makedirs(out_dir, exist_ok=True)
    found = classlist.discover(submissions_dir, os.path.join(out_dir, ".staging"))
    entries = found.entries
    problems = [p.id for p in assignment.problems]
    jobs = jobs or os.cpu_count() or 1
    work = [(e.student, e.path) for e in entries]
    notes = list(found.skipped)
    if jobs > 1 and len(work) > 8:
        context = multiprocessing.get_context("fork")
        with context.Pool(jobs, initializer=_init, initargs=(assignment,)) as pool:
            rows = pool.map(_extract_one, work, chunksize=max(1, len(work) // (jobs * 8)))
    else:
        _init(assignment)
        rows = [_extract_one(job) for job in work]
    prints = []
    for (student, _), (row, student_notes) in zip(work, rows):
        prints.append(row)
        notes += [f"{student}: {n}" for n in student_notes]
    del rows
    index = build([s for s, _ in work], problems, prints, starter_prints(assignment), settings)
    del prints
    reported = score_pairs(index, settings)
    n = len(entries)
    threshold = settings.threshold_for(n)
    flagged = [p for p in reported if p.score >= threshold]
    result = Result(students=n, pairs_compared=n * (n - 1) // 2, flagged=flagged, reported=reported,
                    seconds=0.0, out_dir=out_dir, threshold=threshold, notes=notes)
    outfile.write(os.path.join(out_dir, CSV_NAME), to_csv(reported, problems, threshold))
    paths = {e.student: e.path for e in entries}
    shown = reported[:max(show, len(flagged))]
    outfile.write(os.path.join(out_dir, HTML_NAME),
                  page.render(shown, index, assignment, paths, settings, result))
    result.seconds = time.monotonic() - started
    return result


def to_csv(pairs: list[Pair], problems: list[str], threshold: float) -> str:
    """Every reported pair, best first: rank, the two students, the overall score in bits,
    whether it reaches ``threshold``, and each problem's bits (empty where one of them did not
    attempt it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["rank", "student_a", "student_b", "score", "flagged", *problems])
    for rank, pair in enumerate(pairs, start=1):
        writer.writerow([rank, safetext.for_csv(pair.a), safetext.for_csv(pair.b), f"{pair.score:.2f}",
                         "yes" if pair.score >= threshold else "no",
                         *[f"{pair.problems[p].score:.2f}" if p in pair.problems else "" for p in problems]])
    return buffer.getvalue()

