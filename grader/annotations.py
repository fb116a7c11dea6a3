"""GitHub Actions annotations: one ``::error`` per problem that lost points, placed on the
student's function wherever the grader located it.

GitHub wants ``file=`` relative to the checked-out repository ($GITHUB_WORKSPACE). The worker
reports each function's file relative to the submission's code root, which is the submission
path given on the command line, or a folder inside it (a submission whose files sit one folder
down). So the path is: the submission path, made absolute, plus that folder, plus the file,
made relative to the workspace. A notebook cell has no line GitHub could show, and a .zip
or a file outside the workspace has no place in the repository; those get an annotation
naming the file (or none) with the cell and line in the message instead.
"""

from __future__ import annotations

import os
import re

from grader import safetext
from grader import student_view as view
from grader.submission import SubmissionError, open_submission

_CELL = re.compile(r"^(?P<file>.+?) \[(?:code )?cell (?P<cell>\d+)\]$")
MESSAGE_CHARS = 2000


def command(level: str, message: str, **properties: str | int | None) -> str:
    """One workflow command line: its values terminal-safe, then escaped as GitHub documents it,
    so nothing in them can end the command or start another."""
    props = ",".join(f"{key}={safetext.workflow_property(safetext.for_terminal(str(value)))}"
                     for key, value in properties.items() if value is not None)
    return f"::{level}{' ' + props if props else ''}::{safetext.workflow_data(safetext.for_terminal(message))}"


def code_root(submission_path: str) -> str | None:
    """The folder on disk the worker's file names are relative to (None for a .zip)."""
    origin = os.path.abspath(submission_path)
    if os.path.isfile(origin):
        return None if origin.endswith(".zip") else os.path.dirname(origin)
    try:
        submission = open_submission(origin)
    except SubmissionError:
        return None
    try:
        return os.path.normpath(os.path.join(origin, submission.code_root_relative))
    finally:
        submission.close()


def locate(found: dict | None, root: str | None, workspace: str) -> tuple[str | None, int | None, str]:
    """(file relative to the workspace, line, where in words) for one located function."""
    if not found or not isinstance(found.get("file"), str):
        return None, None, "not found in your files"
    name, line = found["file"], found.get("line")
    cell = _CELL.match(name)
    where = f"{view.cell_name(name)}, line {line}" if line else view.cell_name(name)
    if cell:
        name, line = cell["file"], None
    if root is None or name.startswith("<"):
        return None, None, where
    full = os.path.normpath(os.path.join(root, name))
    relative = os.path.relpath(full, workspace)
    if relative.startswith(os.pardir) or not os.path.isfile(full):
        return None, None, where
    return relative.replace(os.sep, "/"), (line if isinstance(line, int) and line > 0 else None), where


def github(report: dict, functions_of: dict[str, list[str]], *, workspace: str | None = None) -> list[str]:
    """The annotation lines for a report; ``functions_of`` maps each problem to its functions."""
    workspace = os.path.abspath(workspace or os.environ.get("GITHUB_WORKSPACE") or os.getcwd())
    root = code_root(report["submission"]["path"])
    located = report["submission"].get("functions", {})
    lines = []
    fb = view.feedback(report)
    for problem in fb.lost:
        names = functions_of.get(problem.id, [problem.id])
        found = next((located.get(n) for n in names if located.get(n)), None)
        file, line, where = locate(found, root, workspace)
        title = f"{problem.id}: {view.num(problem.score)} / {view.num(problem.max_score)} points"
        body = [] if file else [f"{', '.join(names)} ({where})"]
        body += [problem.headline] if problem.headline else []
        if not (problem.not_implemented and fb.common):
            for check in problem.checks:
                body.append(f"- {check.name}" + (f": {check.summary}" if check.summary else "")
                            + (f"; hint: {check.hint}" if check.hint else ""))
        if problem.hidden:
            body.append(f"- and {problem.hidden} check(s) not described here")
        message = "\n".join(body)
        if len(message) > MESSAGE_CHARS:
            cut = message[:MESSAGE_CHARS]   # at a space or line end, never inside a number
            at = max(cut.rfind(" "), cut.rfind("\n"))
            message = (cut[:at] if at > 0 else cut) + " ..."
        lines.append(command("error", message, file=file, line=line, title=title))
    score, max_score = report["score"], report["max_score"]
    lines.append(command("notice", f"{view.num(score)} / {view.num(max_score)} points",
                         title=f"grader: {report.get('assignment', {}).get('name', '')}"))
    return lines
