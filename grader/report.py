"""The score report: a superset of Gradescope's results.json, and its terminal rendering.

The JSON is a contract (users' scripts and CI read it); its JSON Schema ships beside this file in
schema/report.schema.json and the test suite validates real reports against it.
"""

from __future__ import annotations

import json
import os
import tempfile

from grader import __version__
from grader.assignment import Assignment
from grader.submission import Submission



def load_summary(submission: Submission, unit_errors: list[str], notes: list[str]) -> list[str]:
    """What went wrong while loading, one line each, for the student."""
    return [*submission.problems, *unit_errors, *notes]


def build(*, assignment: Assignment, submission: Submission, tests: list[dict],
          problems: dict[str, dict], load_lines: list[str], functions: dict[str, dict | None],
          sandbox_mode: str, execution_time: float) -> dict:
    score = round(sum(t["score"] for t in tests), 4)
    max_score = round(sum(t["max_score"] for t in tests), 4)
    lines = [f"{assignment.title}: {_num(score)} / {_num(max_score)} points"]
    for problem_id, problem in problems.items():
        mark = "ok " if problem["status"] == "passed" else "-- "
        lines.append(f"  {mark}{problem_id}: {_num(problem['score'])} / {_num(problem['max_score'])}")
    if load_lines:
        lines.append("While loading your files:")
        lines += [f"  - {line}" for line in load_lines]
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
                       "version": assignment.version},
        "submission": {"path": submission.origin, "files": submission.file_names,
                       "sha256": submission.sha256, "load_errors": load_lines,
                       "functions": {name: found for name, found in sorted(functions.items())}},
        "grader": {"version": __version__, "sandbox": sandbox_mode},
    }


def _num(value: float) -> float:
    return int(value) if float(value) == int(value) else value


def write_json(report: dict, path: str) -> None:
    """Write atomically, so a reader never sees half a report."""
    text = json.dumps(report, indent=2) + "\n"
    if path == "-":
        print(text, end="")
        return
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".report-", suffix=".json")
    with os.fdopen(handle, "w") as out:
        out.write(text)
    os.replace(temporary, path)


def terminal(report: dict) -> str:
    """A table of problems and points, then every lost point with its feedback."""
    width = max([len(p) for p in report["problems"]] + [7])
    rows = [f"{'problem':<{width}}  {'points':>13}  status"]
    for problem_id, problem in report["problems"].items():
        points = f"{_num(problem['score'])} / {_num(problem['max_score'])}"
        rows.append(f"{problem_id:<{width}}  {points:>13}  {problem['status']}")
    rows.append(f"{'total':<{width}}  {str(report['score']) + ' / ' + str(report['max_score']):>13}")
    lost = [t for t in report["tests"] if t["status"] != "passed"]
    if lost:
        rows += ["", "Lost points:"]
        for test in lost:
            rows.append(f"- {test['name']} ({_num(test['max_score'])} point{'s' if test['max_score'] != 1 else ''})")
            rows += ["    " + line for line in test["output"].splitlines()]
    loading = report["submission"].get("load_errors") or []
    if loading:
        rows += ["", "While loading your files:"] + [f"- {line}" for line in loading]
    notes = [t for t in report["tests"] if t["status"] == "passed" and t["output"]]
    if notes:
        rows += ["", "Notes:"] + [f"- {t['name']}: {t['output']}" for t in notes]
    return "\n".join(rows)
