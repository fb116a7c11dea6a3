"""Grade submissions: load each into a worker, run the checks, score, build the report.

``grade`` is one submission; ``grade_each`` is many, one after another, in one pytest session:
the check files are collected once and every check then runs against each submission in turn
(a batch's grading process grades hundreds per session, so it pays pytest's configuration and
collection once rather than per student). Both are the same path, so both give the same report.
Each step lives in its own module; this file is the order they run in.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import sys
import time
from typing import Callable, Iterable, Iterator

from grader import assignment as assignments
from grader import report, sandbox, scoring
from grader import zygote as zygotes
from grader.assignment import Assignment
from grader.sandbox import SandboxUnavailable
from grader.session import Session
from grader.submission import Submission, open_submission

Source = str | Submission
OnGraded = Callable[[Source, "dict | BaseException"], None]


class GraderFailure(Exception):
    """The grader itself (or the assignment's checks) failed: exit code 3."""


class CheckAuthorError(GraderFailure):
    """A check has a bug of its author's (a typo'd name or fixture, a helper called wrongly):
    no student may lose points for it, so the submission is not graded (exit 3, grader-error
    in a batch), and ``grader validate`` fails on the reference. The message names the check's
    file and line (see GraderPlugin.fault_of for what counts as the author's)."""


def grade(path: Source, assignment: Assignment, *, sandbox_mode: str = "auto",
          public_only: bool = False, on_warning=None, warm: bool = False) -> dict:
    """The report for one submission. Raises SubmissionError for an unreadable submission,
    SandboxUnavailable for a sandbox that cannot run, GraderFailure for our own faults.

    ``warm`` (for a process that grades many submissions) forks each worker from a sandbox
    kept ready in this process (grader/zygote.py) instead of starting a new one."""
    outcomes: list = []
    grade_each([path], assignment, sandbox_mode=sandbox_mode, public_only=public_only,
               on_warning=on_warning, warm=warm, on_graded=lambda _source, outcome: outcomes.append(outcome))
    if isinstance(outcomes[0], BaseException):
        raise outcomes[0]
    return outcomes[0]


def grade_each(sources: Iterable[Source], assignment: Assignment, *, on_graded: OnGraded,
               sandbox_mode: str = "auto", public_only: bool = False, on_warning=None,
               warm: bool = False) -> None:
    """Grade each submission in turn: ``on_graded(source, report)``, or ``on_graded(source,
    exception)`` for one that could not be graded (SubmissionError, SandboxUnavailable,
    GraderFailure), before the next source is taken, so ``sources`` may be read lazily.

    Nothing of one submission reaches the next: each gets its own worker, every fixture is
    torn down after its last check, and the checks' per-check state is cleared (see
    ``_CheckLoop``). Module-level state of the check files is shared, as it always was between
    the submissions a process grades: checks keep none of a submission there."""
    sources = iter(sources)
    first = next(sources, None)
    if first is None:
        return
    check_dirs = assignment.check_dirs(public_only)
    if not check_dirs:
        failure = GraderFailure(f"{assignment.folder} has no checks/ or public/ folder")
        for source in itertools.chain([first], sources):
            on_graded(source, failure)
        return
    loop: _CheckLoop | None = None

    def warn(message: str) -> None:  # a fallback found inside the loop still reaches the caller
        if on_warning and loop:
            loop.to_caller(on_warning, message)
        elif on_warning:
            on_warning(message)

    jobs = _Jobs(assignment, sandbox_mode, warm, warn)
    job = jobs.prepare(first)  # its worker starts while this process imports what follows
    try:
        # Public checks carry their expected values, so a students' copy (no hidden checks,
        # no reference solution) still grades; elsewhere a missing reference is an error.
        reference = None if assignment.is_public_copy(check_dirs) else assignments.load_reference(assignment)
        from grader.checks.plugin import GraderPlugin
    except BaseException:
        job.close()
        raise
    loop = _CheckLoop(job, map(jobs.prepare, sources), GraderPlugin(assignment, reference), jobs, on_graded)
    exit_code, output = run_checks(loop, check_dirs, assignment.folder)
    if loop.finished:
        return
    if loop.interrupted:  # Ctrl-C, which pytest turned into its exit code 2
        raise KeyboardInterrupt
    # pytest stopped before our loop, or inside it: what was not graded cannot be
    failure = GraderFailure(f"the checks could not run (pytest exit {exit_code}): {output[-1500:]}")
    if not loop.started:
        unfinished = [job]
    else:
        unfinished = [loop.current] if loop.current else []
    for pending in itertools.chain(unfinished, loop.waiting):
        pending.close()
        on_graded(pending.source, failure)


def run_checks(loop: "_CheckLoop", check_dirs: list[str], rootdir: str) -> tuple[int, str]:
    """Run the check files with pytest in this process, ``loop`` taking the place of pytest's
    own test loop; pytest's exit code and what it printed."""
    import pytest
    from pytest_jsonreport.plugin import JSONReport

    loop.json_plugin = JSONReport()
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

    class TestLoop:
        @pytest.hookimpl(tryfirst=True)
        def pytest_runtestloop(self, session: pytest.Session) -> bool:
            return loop.run(session)

    loop.caller_streams = (sys.stdout, sys.stderr)
    try:
        with contextlib.redirect_stdout(loop.output), contextlib.redirect_stderr(loop.output):
            exit_code = pytest.main(args, plugins=[loop.plugin, loop.json_plugin, TestLoop()])
    finally:
        if saved is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved
    return int(exit_code), loop.output.getvalue().strip()


class _Job:
    """One submission on its way through the checks: its files, its worker, its clock."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.started = time.perf_counter()
        self.submission: Submission | None = None
        self.session: Session | None = None
        self.mode = ""
        self.error: BaseException | None = None  # it could not even be opened

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
        if self.submission is not None:
            self.submission.close()


class _Jobs:
    """Opens a submission and starts its worker, in the sandbox chosen for it."""

    def __init__(self, assignment: Assignment, sandbox_mode: str, warm: bool, on_warning) -> None:
        self.assignment, self.sandbox_mode, self.warm, self.on_warning = assignment, sandbox_mode, warm, on_warning
        self.hidden = [p for p in (assignment.folder, assignment.reference_dir) if p]

    def prepare(self, source: Source) -> _Job:
        job = _Job(source)
        try:
            job.submission = source if isinstance(source, Submission) else open_submission(source)
            self.start_worker(job)
        except Exception as exc:  # noqa: BLE001 - this submission's alone: reported by the loop
            job.error = exc
        return job

    def start_worker(self, job: _Job) -> None:
        mode, warning = sandbox.choose_mode(self.sandbox_mode)
        if warning and self.on_warning:
            self.on_warning(warning)
        assignment, submission = self.assignment, job.submission
        functions = {name: submission.modules_named(hints[0]) + hints
                     for name, hints in assignment.functions_wanted().items()}
        zygote = (zygotes.warm(assignment.limits, assignment.sandbox_functions, self.hidden)
                  if self.warm and mode == "bubblewrap" else None)
        job.mode = mode
        job.session = Session(submission, mode=mode, limits=assignment.limits,
                              factories=assignment.sandbox_functions, functions=functions,
                              unit_seconds=assignment.load_seconds,
                              budget_seconds=assignment.submission_seconds,
                              hidden_paths=self.hidden, zygote=zygote)
        job.session.begin()

    def start(self, job: _Job) -> Session:
        """The job's worker, loaded. A bwrap that cannot build its sandbox here is found out at
        this point (no probe ran before): under ``auto`` the worker starts again in process
        mode, with the fallback's warning (choose_mode knows by now)."""
        try:
            job.session.start()
        except SandboxUnavailable:
            if self.sandbox_mode != "auto":
                raise
            job.session.close()
            self.start_worker(job)
            job.session.start()
        return job.session


class _CheckLoop:
    """Stands in for pytest's test loop (``pytest_runtestloop``): runs every collected check
    against one submission after another, and turns each run into that submission's report."""

    def __init__(self, first: _Job, waiting: Iterator[_Job], plugin, jobs: _Jobs, on_graded: OnGraded) -> None:
        self.first, self.waiting, self.plugin, self.jobs, self.on_graded = first, waiting, plugin, jobs, on_graded
        self.started = self.finished = self.interrupted = False
        self.current: _Job | None = None  # taken from ``waiting``, not reported yet
        self.json_plugin = None
        self.output = io.StringIO()  # what pytest and the checks print, kept from the caller's streams
        self.caller_streams: tuple | None = None

    def to_caller(self, callback: Callable, *args) -> None:
        """Call back with the caller's own stdout and stderr in place, not pytest's buffer."""
        if self.caller_streams is None:
            return callback(*args)
        inside = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = self.caller_streams
        try:
            callback(*args)
        finally:
            sys.stdout, sys.stderr = inside

    def run(self, session) -> bool:
        import pytest

        self.started = True
        problem = self._setup_problem(session)
        for job in itertools.chain([self.first], self.waiting):
            self.current = job
            try:
                if job.error is not None:
                    raise job.error
                if problem:
                    raise GraderFailure(f"the checks could not run: {problem}")
                outcome: dict | BaseException = self._grade(job, session)
            except pytest.exit.Exception as exc:
                outcome = GraderFailure(f"a check called pytest.exit ({exc.msg}); checks must not end the session")
            except Exception as exc:  # noqa: BLE001 - costs this submission only
                outcome = exc
            except KeyboardInterrupt:
                self.interrupted = True
                raise
            finally:
                job.close()
            self.output.seek(0)
            self.output.truncate()
            self.current = None
            self.to_caller(self.on_graded, job.source, outcome)
        self.finished = True
        return True

    def _setup_problem(self, session) -> str:
        if self.plugin.setup_errors:
            return "; ".join(self.plugin.setup_errors)
        if not session.items:
            return "no checks were collected (test_*.py files with test_ functions)"
        return ""

    def _grade(self, job: _Job, session) -> dict:
        worker = self.jobs.start(job)
        self.plugin.session = worker
        items = session.items
        for index, item in enumerate(items):
            item.user_properties.clear()  # json-report records them: only this submission's
            following = items[index + 1] if index + 1 < len(items) else None  # None: tear all down
            session.config.hook.pytest_runtest_protocol(item=item, nextitem=following)
        if self.plugin.faults:  # a check's or the grader's own bug: no report, no false zero
            fault = self.plugin.faults[0]
            self.plugin.session = None
            raise fault
        tests = scoring.score_tests({"tests": _take_tests(self.json_plugin, session.config)})
        unit_errors = [_unit_line(o.unit, o.error) for o in worker.unit_outcomes.values() if o.error]
        load_lines = report.load_summary(job.submission, unit_errors, worker.load_notes)
        found = dict(worker.functions)
        self.plugin.session = None
        check_errors = [t["name"] for t in tests if t.pop("check_error")]
        problems = scoring.score_problems(tests, self.jobs.assignment)
        result = report.build(assignment=self.jobs.assignment, submission=job.submission, tests=tests,
                              problems=problems, load_lines=load_lines, functions=found,
                              sandbox_mode=job.mode, execution_time=time.perf_counter() - job.started)
        result["grader"]["check_errors"] = check_errors
        return result


def _take_tests(json_plugin, config) -> list[dict]:
    """The checks pytest-json-report recorded since the last call, in the order they ran.

    Our session runs every check once per submission, so each submission takes its records and
    leaves none behind: json-report keeps one record per check for the whole session (and a
    failed stage there outlives a later pass), and pytest's terminal reporter keeps every test
    report for its summary (about 170 KB a submission: a grading process would grow without
    end)."""
    tests = list(json_plugin._json_tests.values())
    json_plugin._json_tests.clear()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.stats.clear()
    return tests


def _unit_line(unit: str, error: dict) -> str:
    file, line = unit.rsplit(":", 1) if ":" in unit else (unit, "")
    where = f"{file}, line {line}"
    if "#" in file:   # a notebook cell's statement: 'nb.ipynb#3:2'
        file, cell = file.rsplit("#", 1)
        where = f"{file} [code cell {cell}]"
    kind, message = error.get("type", "Error"), error.get("message", "")
    location = error.get("location")
    if location and "#" in unit:
        where += f", line {location['line']}"
    return f"{where}: {kind}: {message} (skipped; the rest was loaded)"
