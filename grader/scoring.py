"""From pytest-json-report's record of the checks to points: per check, per problem, in total.

A check earns all its points or none; a problem's score is the sum over its checks, so partial
credit comes from spreading a problem's points over several checks.
"""

from __future__ import annotations

from grader.assignment import Assignment


def _round(value: float) -> float:
    value = round(float(value), 4)
    return int(value) if value == int(value) else value


def score_tests(json_report: dict) -> list[dict]:
    """One Gradescope-style test entry per check, in the order the checks ran."""
    tests = []
    for entry in json_report.get("tests", []):
        meta = entry.get("metadata") or {}
        problem = meta.get("problem", "")
        points = float(meta.get("points", 0))
        passed = entry.get("outcome") == "passed"
        lines = list(meta.get("notes", []))
        if not passed:
            lines.insert(0, meta.get("feedback") or f"check {entry.get('outcome', 'failed')}")
        tests.append({
            "name": f"{problem}: {meta.get('title', entry.get('nodeid', ''))}",
            "score": _round(points if passed else 0),
            "max_score": _round(points),
            "status": "passed" if passed else "failed",
            "output": "\n".join(lines),
            "visibility": meta.get("visibility", "visible"),
            "tags": [problem],
            "extra_data": {"seed": int(meta.get("seed", 0)),
                           **({"hints": list(meta.get("hints", [])), "failure": str(meta.get("failure", ""))}
                              if not passed else {})},
            "check_error": bool(meta.get("check_error", False)),
        })
    return tests


def score_problems(tests: list[dict], assignment: Assignment) -> dict[str, dict]:
    problems = {}
    for problem in assignment.problems:
        mine = [t for t in tests if t["tags"] == [problem.id]]
        earned = sum(t["score"] for t in mine)
        possible = sum(t["max_score"] for t in mine)
        status = "passed" if mine and all(t["status"] == "passed" for t in mine) else "failed"
        problems[problem.id] = {"score": _round(earned), "max_score": _round(possible),
                                "status": status, "title": problem.title}
    return problems


def in_assignment_order(tests: list[dict], problem_ids: list[str]) -> list[dict]:
    """The checks ordered by their problem's place in assignment.toml, each problem's checks in
    the order they ran: the one order every output (terminal, Markdown, HTML, JUnit, Gradescope)
    shows, whatever order pytest collected the check files in (hidden before public)."""
    place = {problem: index for index, problem in enumerate(problem_ids)}
    return sorted(tests, key=lambda t: place.get((t.get("tags") or [""])[0], len(place)))
