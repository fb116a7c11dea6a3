"""The report as Markdown: a table of problems and lost points, fit for $GITHUB_STEP_SUMMARY
(GitHub renders it on the run's page) or a GitLab artifact."""

from __future__ import annotations

import os
import stat

from grader import outfile, safetext
from grader import student_view as view
from grader.safetext import for_markdown_inline as inline

def _fence(lines: list[str], indent: str) -> list[str]:
    """A check's details (at most ``view.DETAIL_LINES`` lines) in a block only our fence closes."""
    block = safetext.for_markdown_block("\n".join(view.detail(line) for line in lines[:view.DETAIL_LINES])
                                        + (f"\n... ({len(lines) - view.DETAIL_LINES} more lines)"
                                           if len(lines) > view.DETAIL_LINES else ""))
    return [indent + line for line in block.splitlines()]


def render(report: dict, *, assignment_points: float | None = None) -> str:
    """Markdown for one report, in ``student_view``'s words and order: the table, then per
    problem one diagnosis, its failing checks one line each and their values in a block.
    ``assignment_points`` is the assignment's full total, to say so when only some of its
    checks ran (the public ones) and the report does not carry it."""
    fb = view.feedback(report)
    if not fb.coverage and assignment_points is not None and fb.max_score < assignment_points:
        fb.coverage = view.coverage({"max_score": fb.max_score, "assignment": {"points": assignment_points}})
    score, max_score = fb.score, fb.max_score
    verdict = "full marks" if score >= max_score else f"{view.num(max_score - score)} points lost"
    out = [f"## {inline(fb.title)}: {view.num(score)} / {view.num(max_score)} points ({verdict})", ""]
    if fb.coverage:
        out += [fb.coverage.capitalize(), ""]  # our words and numbers only
    out += ["| problem | points | lost | status |", "| --- | ---: | ---: | --- |"]
    for problem in fb.problems:
        mark = "✅ passed" if problem.passed else "❌ failed"
        out.append(f"| {inline(problem.id)} | {view.num(problem.score)} / {view.num(problem.max_score)} "
                   f"| {view.num(problem.lost) if problem.lost else ''} | {mark} |")
    out.append(f"| **total** | **{view.num(score)} / {view.num(max_score)}** "
               f"| **{view.num(max_score - score) if max_score - score else ''}** | |")
    if fb.lost:
        out += ["", "### Lost points", ""]
        out += [f"{inline(line)}" for line in fb.common] + ([""] if fb.common else [])
        for problem in fb.lost:
            line = f"- **{inline(problem.id)}** (−{view.num(problem.lost)})"
            out.append(line + (f": {inline(problem.headline)}" if problem.headline else ""))
            if problem.not_implemented and fb.common:
                continue
            if problem.collapsed:
                names = ", ".join(c.name for c in problem.checks)
                out.append(f"  - {inline(problem.collapsed)}: {inline(names)}")
                if problem.checks and problem.checks[0].details:
                    out += _fence(problem.checks[0].details, "    ")
            else:
                for check in problem.checks:
                    text = f"  - {inline(check.name)} (−{view.num(check.lost)})"
                    text += f": {inline(check.summary)}" if check.summary else ""
                    text += f"; hint: {inline(check.hint)}" if check.hint else ""
                    out.append(text)
                    if check.details:
                        out += _fence(check.details, "    ")
            if problem.hidden:
                out.append(f"  - and {problem.hidden} check(s) not described here")
    if fb.loading:
        out += ["", "### While loading your files", ""] + [f"- {inline(line)}" for line in fb.loading]
    if fb.notes:
        out += ["", "Notes:", ""] + [f"- {inline(note)}" for note in fb.notes]
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
