"""The score report: a superset of Gradescope's results.json, and its terminal rendering.

The JSON is a contract (users' scripts and CI read it); its JSON Schema ships beside this file in
schema/report.schema.json and the test suite validates real reports against it.
"""

from __future__ import annotations

import json
import math

from grader import __version__, outfile, safetext, scoring
from grader import student_view as view
from grader.assignment import Assignment
from grader.submission import Submission


def load_summary(submission: Submission, unit_errors: list[str], notes: list[str]) -> list[str]:
    """What went wrong while loading, one line each, for the student."""
    return [*submission.problems, *unit_errors, *notes]


def build(*, assignment: Assignment, submission: Submission, tests: list[dict],
          problems: dict[str, dict], load_lines: list[str], functions: dict[str, dict | None],
          sandbox_mode: str, execution_time: float) -> dict:
    """The report. Its ``tests`` are in assignment order (problems as assignment.toml lists them,
    then each problem's checks as they ran), and its ``output`` (what Gradescope shows) is the
    student view every other output renders too, so all of them say the same in one order."""
    tests = scoring.in_assignment_order(tests, list(problems))
    score = round(sum(t["score"] for t in tests), 4)
    max_score = round(sum(t["max_score"] for t in tests), 4)
    lines = [f"{assignment.title}: {_num(score)} / {_num(max_score)} points"]
    for problem_id, problem in problems.items():
        mark = "ok " if problem["status"] == "passed" else "-- "
        lines.append(f"  {mark}{problem_id}: {_num(problem['score'])} / {_num(problem['max_score'])}")
    draft = {"score": score, "max_score": max_score, "tests": tests, "problems": problems,
             "assignment": {"title": assignment.title, "points": _num(assignment.max_score)},
             "submission": {"load_errors": load_lines, "functions": functions}}
    rest = view.text_lines(view.feedback(draft))
    if rest:
        lines += [""] + rest
    return {
        "score": _num(score),
        "max_score": _num(max_score),
        "execution_time": round(execution_time, 3),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "problems": problems,
        "assignment": {"name": assignment.name, "title": assignment.title,
                       "version": assignment.version, "points": _num(assignment.max_score)},
        "submission": {"path": submission.origin, "files": submission.file_names,
                       "sha256": submission.sha256, "load_errors": load_lines,
                       "functions": {name: found for name, found in sorted(functions.items())}},
        "grader": {"version": __version__, "sandbox": sandbox_mode},
    }


def _num(value: float) -> float:
    return int(value) if float(value) == int(value) else value


SCORE_KEYS = ("score", "max_score", "execution_time")


def _strict(value: object, key: str | None = None) -> object:
    """The report as strict JSON data: every string valid, capped text; a non-finite number that
    is data (a value a check recorded) becomes text, since JSON has no NaN; a non-finite score is
    a grader bug and is refused rather than written as something a schema or Gradescope rejects."""
    if isinstance(value, dict):
        return {safetext.text(k) if isinstance(k, (str, bytes)) else str(k): _strict(v, k)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        if key in SCORE_KEYS:
            raise ValueError(f"the report's {key} is {value}, not a finite number")
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (str, bytes, bytearray)):
        return safetext.text(value)
    return value


def render_json(report: dict) -> str:
    """The report file's text: strict JSON (no NaN or Infinity tokens), indented."""
    return json.dumps(_strict(report), indent=2, allow_nan=False) + "\n"


def write_json(report: dict, path: str) -> None:
    """Write through ``outfile``: atomic for a file, direct for a device or pipe, ``-`` for
    stdout. Raises ``outfile.OutputError`` for a path that cannot be written."""
    outfile.write(path, render_json(report))


def terminal(report: dict) -> str:
    """A table of problems and points, then the lost points as ``student_view`` words them (per
    problem one diagnosis, its failing checks one line each, one example's values). Every line
    a student can reach goes through ``safetext.for_terminal``: no escape sequence survives."""
    t = safetext.for_terminal
    problems = {t(pid): problem for pid, problem in report["problems"].items()}
    width = max([len(p) for p in problems] + [7])
    rows = [f"{'problem':<{width}}  {'points':>13}  status"]
    for problem_id, problem in problems.items():
        points = f"{_num(problem['score'])} / {_num(problem['max_score'])}"
        rows.append(f"{problem_id:<{width}}  {points:>13}  {t(problem['status'])}")
    rows.append(f"{'total':<{width}}  {str(report['score']) + ' / ' + str(report['max_score']):>13}")
    rest = view.text_lines(view.feedback(report))
    if rest:
        rows += [""] + [t(line) for line in rest]
    return "\n".join(rows)
