"""Grade one submission: load it into a worker, run the checks, score, build the report.

This is the whole pipeline in one readable function; each step lives in its own module.
"""

from __future__ import annotations

import contextlib
import io
import os
import time

from grader import assignment as assignments
from grader import report, sandbox, scoring
from grader import zygote as zygotes
from grader.assignment import Assignment
from grader.sandbox import SandboxUnavailable
from grader.session import Session
from grader.submission import Submission, open_submission


class GraderFailure(Exception):
    """The grader itself (or the assignment's checks) failed: exit code 3."""


def run_checks(plugin, check_dirs: list[str], rootdir: str) -> dict:
    """Run the check files with pytest in this process; return pytest-json-report's record."""
    import pytest
    from pytest_jsonreport.plugin import JSONReport

    json_plugin = JSONReport()
    # Built-in plugins a grading run never uses cost time on every submission (the
    # unraisable-exception plugin alone runs two full garbage collections; logging, warnings
    # and output capture wrap every phase of every check): leave them out. Output needs no
    # capturing: the checks' own is redirected below, and student code runs in the worker.
    unused = ("cacheprovider", "randomly", "unraisableexception", "threadexception", "doctest",
              "pastebin", "junitxml", "stepwise", "nose", "faulthandler", "logging", "warnings",
              "debugging", "setuponly", "setupplan", "python_path")
    args = [*check_dirs, "-q", *[arg for name in unused for arg in ("-p", f"no:{name}")],
            "-p", "pytest_jsonreport.plugin", "--json-report-file=none", "--capture=no",
            "--rootdir", rootdir, "-c", os.devnull, "--import-mode=importlib",
            "-o", "python_files=test_*.py check_*.py", "--tb=no", "--no-header"]
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            exit_code = pytest.main(args, plugins=[plugin, json_plugin])
    finally:
        if saved is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved
    if exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or plugin.setup_errors:
        detail = "; ".join(plugin.setup_errors) or output.getvalue().strip()[-1500:]
        raise GraderFailure(f"the checks could not run (pytest exit {int(exit_code)}): {detail}")
    return json_plugin.report


def grade(path: str | Submission, assignment: Assignment, *, sandbox_mode: str = "auto",
          public_only: bool = False, on_warning=None, warm: bool = False) -> dict:
    """The report for one submission. Raises SubmissionError for an unreadable submission,
    SandboxUnavailable for a sandbox that cannot run, GraderFailure for our own faults.

    ``warm`` (for a process that grades many submissions) forks each worker from a sandbox
    kept ready in this process (grader/zygote.py) instead of starting a new one."""
    started = time.perf_counter()
    check_dirs = assignment.check_dirs(public_only)
    if not check_dirs:
        raise GraderFailure(f"{assignment.folder} has no checks/ or public/ folder")
    submission = path if isinstance(path, Submission) else open_submission(path)
    try:
        for attempt in (1, 2):
            mode, warning = sandbox.choose_mode(sandbox_mode)
            if warning and on_warning:
                on_warning(warning)
            try:
                json_report, load_lines, found = _check(submission, assignment, mode, check_dirs, warm)
                break
            except SandboxUnavailable:
                # bwrap could not build its sandbox here. choose_mode now knows: under "auto"
                # the second attempt falls back to process mode with its warning.
                if sandbox_mode != "auto" or attempt == 2:
                    raise
    finally:
        submission.close()
    tests = scoring.score_tests(json_report)
    check_errors = [t["name"] for t in tests if t.pop("check_error")]
    problems = scoring.score_problems(tests, assignment)
    result = report.build(assignment=assignment, submission=submission, tests=tests,
                          problems=problems, load_lines=load_lines, functions=found,
                          sandbox_mode=mode, execution_time=time.perf_counter() - started)
    result["grader"]["check_errors"] = check_errors
    return result


def _check(submission: Submission, assignment: Assignment, mode: str, check_dirs: list[str],
           warm: bool) -> tuple[dict, list[str], dict]:
    """Load the submission into a worker and run the checks against it: pytest-json-report's
    record, the lines about loading, and the functions the worker found."""
    functions = {name: submission.modules_named(hints[0]) + hints
                 for name, hints in assignment.functions_wanted().items()}
    hidden = [p for p in (assignment.folder, assignment.reference_dir) if p]
    zygote = (zygotes.warm(assignment.limits, assignment.sandbox_functions, hidden)
              if warm and mode == "bubblewrap" else None)
    with Session(submission, mode=mode, limits=assignment.limits,
                 factories=assignment.sandbox_functions, functions=functions,
                 unit_seconds=assignment.load_seconds,
                 budget_seconds=assignment.submission_seconds,
                 hidden_paths=hidden, zygote=zygote) as session:
        session.begin()  # the worker starts while this process imports what follows
        # Public checks carry their expected values, so a students' copy (no hidden checks,
        # no reference solution) still grades; elsewhere a missing reference is an error.
        reference = None if assignment.is_public_copy(check_dirs) else assignments.load_reference(assignment)
        from grader.checks.plugin import GraderPlugin

        session.start()
        plugin = GraderPlugin(session, assignment, reference)
        json_report = run_checks(plugin, check_dirs, assignment.folder)
        unit_errors = [_unit_line(o.unit, o.error) for o in session.unit_outcomes.values() if o.error]
        load_lines = report.load_summary(submission, unit_errors, session.load_notes)
        return json_report, load_lines, dict(session.functions)


def _unit_line(unit: str, error: dict) -> str:
    where = unit.replace("#", " [cell ").rstrip() + ("]" if "#" in unit else "")
    if ":" in unit and "#" not in unit:
        file, line = unit.rsplit(":", 1)
        where = f"{file}, line {line}"
    kind, message = error.get("type", "Error"), error.get("message", "")
    location = error.get("location")
    if location and "#" in unit:
        where += f", line {location['line']}"
    return f"{where}: {kind}: {message} (skipped; the rest was loaded)"
