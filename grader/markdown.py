"""The report as Markdown: a table of problems and lost points, fit for $GITHUB_STEP_SUMMARY
(GitHub renders it on the run's page) or a GitLab artifact."""

from __future__ import annotations

import os
import stat

from grader import outfile, safetext
from grader import student_view as view
from grader.safetext import for_markdown_inline as inline

FEEDBACK_LINES = 12

def _fence(text: str) -> str:
    """The first FEEDBACK_LINES lines of a check's feedback, in a block only our fence closes."""
    lines = safetext.for_terminal(text).splitlines()
    if len(lines) > FEEDBACK_LINES:
        lines = lines[:FEEDBACK_LINES] + [f"... ({len(lines) - FEEDBACK_LINES} more lines)"]
    return safetext.for_markdown_block("\n".join(lines))


def render(report: dict, *, assignment_points: float | None = None) -> str:
    """Markdown for one report. ``assignment_points`` is the assignment's full total, to say so
    when only some of its checks ran (the public ones)."""
    title = report.get("assignment", {}).get("title") or report.get("assignment", {}).get("name", "")
    score, max_score = report["score"], report["max_score"]
    verdict = "full marks" if score >= max_score else f"{view.num(max_score - score)} points lost"
    out = [f"## {inline(title)}: {view.num(score)} / {view.num(max_score)} points ({verdict})", ""]
    if assignment_points is not None and max_score < assignment_points:
        out += [f"Public checks only: they are worth {view.num(max_score)} of the assignment's "
                f"{view.num(assignment_points)} points; the hidden checks grade the rest.", ""]
    out += ["| problem | points | lost | status |", "| --- | ---: | ---: | --- |"]
    for problem_id, problem in report["problems"].items():
        lost = problem["max_score"] - problem["score"]
        mark = "✅ passed" if problem["status"] == "passed" else "❌ failed"
        out.append(f"| {inline(problem_id)} | {view.num(problem['score'])} / {view.num(problem['max_score'])} "
                   f"| {view.num(lost) if lost else ''} | {mark} |")
    out.append(f"| **total** | **{view.num(score)} / {view.num(max_score)}** "
               f"| **{view.num(max_score - score) if max_score - score else ''}** | |")
    lost_tests = [t for t in report["tests"] if t["status"] != "passed"]
    if lost_tests:
        out += ["", "### Lost points", ""]
        for test in sorted(lost_tests, key=lambda t: list(report["problems"]).index(view.problem_of(t))
                           if view.problem_of(t) in report["problems"] else len(report["problems"])):
            points = view.num(test["max_score"] - test["score"])
            out.append(f"- **{inline(view.name(test))}** (−{points})")
            text = view.output(test)
            if text:
                out += ["  " + line for line in _fence(text).splitlines()]
    loading = report.get("submission", {}).get("load_errors") or []
    if loading:
        out += ["", "### While loading your files", ""] + [f"- {inline(line)}" for line in loading]
    hidden = [t for t in report["tests"] if not view.shown(t)]
    if hidden:
        out += ["", f"{len(hidden)} check(s) are not described here (visibility: "
                f"{', '.join(sorted({t['visibility'] for t in hidden}))})."]
    return "\n".join(out).rstrip() + "\n"


def write(report: dict, path: str, *, assignment_points: float | None = None) -> None:
    """Write ``path`` through ``outfile``; append when it is GitHub's step summary file, which
    collects the Markdown of every step of a job (a regular file GitHub made for us)."""
    text = render(report, assignment_points=assignment_points)
    if path and path == os.environ.get("GITHUB_STEP_SUMMARY"):
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = None
        if mode is not None and stat.S_ISREG(mode):
            try:
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(text)
            except OSError as exc:
                raise outfile.OutputError(f"cannot append to {path}: {exc.strerror}") from None
            return
    outfile.write(path, text)
