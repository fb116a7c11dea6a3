"""The pytest plugin that turns an assignment's check files into graded checks.

Checks are plain pytest functions marked ``@pytest.mark.problem("softmax", points=2)``. They get
the fixtures ``submission`` (calls into the sandboxed worker), ``reference`` (the instructor's
solution, in this process), ``settings`` (assignment.toml's [settings]) and ``feedback`` (notes
for the student on a passing check). One hook, one job: collection checks the markers, the
metadata hook records what scoring needs, pytest-json-report carries it out.
"""

from __future__ import annotations

import inspect
import os
import re
import types

import pytest
from _pytest.fixtures import FixtureLookupError

import grader
from grader.assignment import Assignment
from grader.checks.numeric import CheckFailure
from grader.checks.proxy import StudentError, SubmissionProxy, explain_brief, explain_hints
from grader.grading import CheckAuthorError, GraderFailure
from grader.session import Session

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


class CheckSetupError(Exception):
    """The checks themselves are wrong (a marker missing or naming no problem)."""


class Feedback:
    """Notes a check leaves for the student, shown even when the check passes."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)


def check_title(item: pytest.Item) -> str:
    """The sentence the student reads: the docstring's first line, else the function name."""
    function = getattr(item, "function", None)
    doc = (getattr(function, "__doc__", None) or "").strip().splitlines()
    title = doc[0].strip() if doc else item.originalname.removeprefix("test_").replace("_", " ")
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        title += f" [{callspec.id}]"
    return title


def problem_of(item: pytest.Item) -> tuple[str, float, str]:
    marker = item.get_closest_marker("problem")
    if marker is None or not marker.args:
        raise CheckSetupError(f"{item.nodeid} has no @pytest.mark.problem(ID, points=N): "
                              "mark it with the problem it grades")
    points = float(marker.kwargs.get("points", 1))
    visibility = str(marker.kwargs.get("visibility", "visible"))
    if visibility not in VISIBILITIES:
        raise CheckSetupError(f"{item.nodeid}: visibility must be one of {VISIBILITIES}")
    return str(marker.args[0]), points, visibility


def seed_of(item: pytest.Item) -> int:
    """The seed the worker uses for this check's calls: ``@pytest.mark.seed(n)``, else 0."""
    marker = item.get_closest_marker("seed")
    return int(marker.args[0]) if marker and marker.args else 0


GRADER_DIR = os.path.dirname(os.path.abspath(grader.__file__))
# How Python words a call whose arguments do not fit the function: "assert_close() got an
# unexpected keyword argument 'tol'", "softmax() missing 1 required positional argument: 'x'".
BAD_CALL = re.compile(r"^[\w.<>]+\(\) (missing \d+ required|got an unexpected keyword|got multiple "
                      r"values|takes (\d+|from \d+ to \d+) positional|takes no arguments)")


def _frames(tb: types.TracebackType | None) -> list[tuple[str, int]]:
    frames = []
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        # "<frozen ...>", "<string>": no file, so neither the checks' nor the grader's
        frames.append((name if name.startswith("<") else os.path.abspath(name), tb.tb_lineno))
        tb = tb.tb_next
    return frames


def _def_line(item: pytest.Item) -> int:
    """The line of the check's ``def`` (where its fixtures are named), below its decorators."""
    try:
        lines, first = inspect.getsourcelines(item.function)
    except (AttributeError, OSError, TypeError):
        return item.location[1] + 1
    for offset, line in enumerate(lines):
        if line.lstrip().startswith(("def ", "async def ")):
            return first + offset
    return first


def _inside(path: str, folder: str) -> bool:
    return bool(folder) and os.path.isabs(path) and os.path.commonpath([path, folder]) == folder


class GraderPlugin:
    def __init__(self, assignment: Assignment, reference: types.SimpleNamespace | None) -> None:
        self._session: Session | None = None
        self.faults: list[GraderFailure] = []
        self.timed_out: dict[str, str | None] = {}
        self.assignment = assignment
        self._reference = reference
        self.setup_errors: list[str] = []
        self._module_of = {name: p.module for p in assignment.problems for name in p.functions}
        self._limit_of = {name: p.call_seconds for p in assignment.problems for name in p.functions}
        self._author_dirs = [os.path.abspath(os.path.join(assignment.folder, d))
                             for d in ("checks", "public")]
        if assignment.reference_dir:
            self._author_dirs.append(os.path.abspath(assignment.reference_dir))

    @property
    def session(self) -> Session | None:
        """The worker of the submission being graded."""
        return self._session

    @session.setter
    def session(self, worker: Session | None) -> None:
        # A new submission: what the checks learned about the last one (its faults found in
        # the checks or the grader, its functions that timed out) is not carried over.
        self._session = worker
        self.faults = []
        self.timed_out = {}

    # -- configuration and collection
    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "problem(id, points=1, visibility='visible'): "
                                "the problem a check belongs to and the points it is worth")
        config.addinivalue_line("markers", "seed(n): the random seed the worker uses for calls")

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        known = {p.id for p in self.assignment.problems}
        for item in items:
            try:
                problem, _, _ = problem_of(item)
            except CheckSetupError as exc:
                self.setup_errors.append(str(exc))
                continue
            if problem not in known:
                self.setup_errors.append(f"{item.nodeid} names problem {problem!r}, which "
                                         f"assignment.toml does not list ({', '.join(sorted(known))}): "
                                         "fix the marker or add a [[problems]] entry")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.setup_errors.append(f"could not collect {report.nodeid}: {report.longreprtext[-800:]}")

    # -- fixtures
    @pytest.fixture
    def submission(self, request: pytest.FixtureRequest) -> SubmissionProxy:
        seed = seed_of(request.node)
        try:
            problem, _, visibility = problem_of(request.node)
        except CheckSetupError:
            problem, visibility = "", "hidden"
        # The name later checks may point at: a check whose name is not shown is not named.
        name = f"{problem}: {check_title(request.node)}" if visibility == "visible" else None
        proxy = SubmissionProxy(
            self.session, seed=seed,
            time_limit=lambda name: self._limit_of.get(name, self.assignment.call_seconds),
            module_of=lambda name: self._module_of.get(name, name),
            timed_out=self.timed_out, check=name)
        request.node.grader_proxy = proxy
        return proxy

    @pytest.fixture
    def reference(self) -> types.SimpleNamespace:
        return self._reference

    @pytest.fixture
    def settings(self) -> dict:
        return dict(self.assignment.settings)

    @pytest.fixture
    def feedback(self, request: pytest.FixtureRequest) -> Feedback:
        notes = Feedback()
        request.node.grader_feedback = notes
        return notes

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # grade_each runs every item once per submission: nothing one submission's run left on
        # the item (its proxy and calls, notes, failure text) may speak for the next one.
        for name in ("grader_proxy", "grader_feedback", "grader_failure"):
            item.__dict__.pop(name, None)

    # -- results (pytest-json-report's hook: its return value lands in the test's metadata)
    def pytest_json_runtest_metadata(self, item: pytest.Item, call: pytest.CallInfo) -> dict:
        try:
            problem, points, visibility = problem_of(item)
        except CheckSetupError:
            problem, points, visibility = "", 0.0, "visible"
        data: dict = {"problem": problem, "points": points, "visibility": visibility,
                      "title": check_title(item), "seed": seed_of(item)}
        if call.excinfo is not None and call.when in ("setup", "call"):
            fault = self.fault_of(item, call.excinfo)
            if fault is not None:  # not the student's: the submission is not graded at all
                self.faults.append(fault)
                data["feedback"], data["check_error"] = str(fault), True
            else:
                data["feedback"], data["check_error"] = self.failure_text(item, call.excinfo)
                data["hints"], data["failure"] = grader_diagnosis(call.excinfo.value, data["feedback"],
                                                                  getattr(item, "grader_proxy", None))
                if visibility == "hidden":  # its summary may quote the hidden input; hints never do
                    data["failure"] = ""
            item.grader_failure = data["feedback"]
        notes = list(getattr(getattr(item, "grader_feedback", None), "notes", []))
        # A time limit this check ran into is said here even when the check passed (a stand-in
        # answered) or failed on another call: later checks point at it.
        proxy = getattr(item, "grader_proxy", None)
        said = getattr(item, "grader_failure", "")
        notes += [m for m in dict.fromkeys(proxy.timeouts if proxy else []) if m and m not in said]
        if notes:
            data["notes"] = notes
        return data

    def fault_of(self, item: pytest.Item, excinfo: pytest.ExceptionInfo) -> GraderFailure | None:
        """The failure as the fault of the check's author or of the grader, or None when it is
        the submission's (the student loses the check's points, as for any failed check).

        The rule, from the exception and the innermost frame of its traceback:

        - A CheckFailure (StudentError included), an AssertionError or pytest.fail/skip: the
          check judged the submission. The student's.
        - A fixture the check asks for does not exist (pytest's "fixture 'x' not found"): the
          author's, at the check's ``def`` line.
        - Raised in check code (a file under the assignment's checks/ or public/, or the
          reference solution; or in a library that check code called, as numpy's module
          ``__getattr__`` raises for ``np.asarry``) as a NameError (a typo), an ImportError,
          a SyntaxError, an AttributeError of a module or of the ``reference`` namespace
          (``np.asarry``, ``reference.sofmax``), or a TypeError raised by the check's own frame
          in Python's wording for a call whose arguments do not fit (``assert_close() got an
          unexpected keyword argument 'tol'``): the author's. None of these can come from the
          submission's data, which reaches the checks as plain numbers, strings, containers
          and arrays (no modules; nothing callable but the worker's objects, whose failures
          are StudentErrors).
        - Any other exception raised in check code (``result.shape`` on a returned list, an
          IndexError on a short returned tuple, a KeyError, a ValueError): what the submission
          returned did not fit what the check expected. The student's.
        - Raised in the grader's own code (grader/: the plugin, the proxy, the session, the
          helpers), whatever the type: the grader's. An exception raised inside a library
          (numpy) is not: a helper that numpy fails in was most likely handed the submission's
          data, so that stays the student's, as any other exception in check code.
        """
        exc = excinfo.value
        if isinstance(exc, (AssertionError, pytest.skip.Exception, pytest.fail.Exception)):
            return None
        check_file, check_line = item.location[0], _def_line(item)
        if isinstance(exc, FixtureLookupError):
            return CheckAuthorError(f"{check_file}, line {check_line}: {item.name} asks for fixture "
                                    f"'{exc.argname}', which does not exist (a bug in the check; "
                                    "the submission was not graded)")
        frames = _frames(excinfo.tb)
        if not frames:
            return None
        innermost = frames[-1][0]
        what = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}".rstrip(": ")
        ours = [f for f in frames if _inside(f[0], GRADER_DIR) or self._in_author_code(f[0])]
        if ours and self._in_author_code(ours[-1][0]) and self._authors_kind(exc, ours[-1] == frames[-1]):
            path, line = ours[-1]
            return CheckAuthorError(f"{self._relative(path)}, line {line}: a bug in the check "
                                    f"{item.name} ({what}); the submission was not graded")
        if _inside(innermost, GRADER_DIR):
            path, line = frames[-1]
            return GraderFailure(f"{check_file}, line {check_line}: the grader failed in check "
                                 f"{item.name} ({what} at grader/{os.path.relpath(path, GRADER_DIR)}:"
                                 f"{line}); the submission was not graded")
        return None

    def _in_author_code(self, path: str) -> bool:
        return any(_inside(path, folder) for folder in self._author_dirs)

    def _authors_kind(self, exc: BaseException, raised_here: bool) -> bool:
        """Whether an exception raised in (or, through a library such as numpy, from) check
        code is a kind the submission's data cannot cause; ``raised_here``: by the check's own
        frame, not inside a library it called."""
        if isinstance(exc, (NameError, ImportError, SyntaxError)):
            return True
        if isinstance(exc, AttributeError):
            owner = getattr(exc, "obj", None)
            return isinstance(owner, types.ModuleType) or (owner is not None and owner is self._reference)
        return raised_here and isinstance(exc, TypeError) and bool(BAD_CALL.match(str(exc)))

    def _relative(self, path: str) -> str:
        relative = os.path.relpath(path, os.path.abspath(self.assignment.folder))
        return path if relative.startswith("..") else relative

    def failure_text(self, item: pytest.Item, excinfo: pytest.ExceptionInfo) -> tuple[str, bool]:
        exc = excinfo.value
        proxy = getattr(item, "grader_proxy", None)
        if isinstance(exc, CheckFailure):
            text, check_error = str(exc), False
        elif isinstance(exc, AssertionError):
            text, check_error = str(exc) or "assertion failed", False
        elif isinstance(exc, pytest.skip.Exception):
            text, check_error = f"check skipped: {exc}", True
        elif isinstance(exc, pytest.fail.Exception):
            text, check_error = str(exc) or "the check failed", False
        else:
            text = f"the check could not use what the submission returned ({type(exc).__name__}: {exc})"
            check_error = True
        error = getattr(getattr(exc, "result", None), "error", None) or {}
        show_input = (proxy is not None and proxy.calls and error.get("type") != "NotFound"
                      and not error.get("skipped"))  # a call never run: its input says nothing
        try:
            _, _, visibility = problem_of(item)
        except CheckSetupError:
            visibility = "visible"
        if visibility != "visible":
            if not isinstance(exc, (AssertionError, pytest.skip.Exception, pytest.fail.Exception)):
                # its message quotes what the submission returned, which may carry the input
                text = f"the check could not use what the submission returned ({type(exc).__name__})"
            chosen = set().union(*(c.strings for c in proxy.calls)) if proxy else set()
            return private_failure_text(exc, text, visibility,
                                        proxy.last_call_outline() if show_input else "",
                                        chosen), check_error
        if show_input:
            text = f"{text}\ninput: {proxy.last_call_text()}"
        return text, check_error


def grader_diagnosis(exc: BaseException, text: str, proxy: SubmissionProxy | None) -> tuple[list[str], str]:
    """(hints, a one-line summary) of a failure, from the check's and the grader's own words only,
    for the class report: a ``hint:`` line that a student planted in an exception message, a
    printout or a load error must not pose as a diagnosis. A StudentError carries its hints
    apart from the text; in any other failure a hint line counts only when it appears nowhere in
    what the student's code produced during the check (its calls' messages, tracebacks,
    printouts and returned strings, and the submission's load errors)."""
    if isinstance(exc, StudentError):
        return list(dict.fromkeys(explain_hints(exc.result) + list(exc.hints))), explain_brief(exc.result)
    student: list[str] = []
    failed = None
    for call in (proxy.calls if proxy is not None else []):
        result = call.result
        error = result.error or {}
        student += [str(error.get("message", "")), str(error.get("traceback", "")), result.stdout or ""]
        if isinstance(result.value, str):
            student.append(result.value)
        if error:
            failed = result
    if proxy is not None:
        session = proxy._session
        for source in getattr(session.submission, "sources", []) if session.submission else []:
            student += [str(problem) for problem in source.problems]
        for outcome in getattr(session, "unit_outcomes", {}).values():
            if outcome.error:
                student.append(str(outcome.error.get("message", "")))
    planted = "\n".join(student)
    hints = []
    for line in text.splitlines():
        if line.startswith("hint:"):
            hint = line[len("hint:"):].strip()
            if hint and hint not in planted and hint not in hints:
                hints.append(hint)
    if failed is not None:
        return hints, explain_brief(failed)
    first = next((line for line in text.splitlines() if line.strip()), "the check failed")
    return hints, ("the check failed" if first.strip() in planted else first)


# Lines of a check's message from which on the text is the student's own printed output.
STUDENT_OUTPUT = ("it printed:", "printed:")


SUMMARY_CHARS = 200


def private_failure_text(exc: BaseException, text: str, visibility: str, call_outline: str,
                         chosen: set[str] = frozenset()) -> str:
    """Feedback for a failed check whose input is not public.

    The rule, by the check's visibility:

    - ``visible``: everything (handled by the caller): message, expected/got, hint, full input.
    - ``after_due_date`` / ``after_published``: the check's one-sentence summary (its message's
      first line; for a student exception only its type) and its hints; the input as kinds and
      shapes only. Value dumps (``expected:``/``got:`` lines), the student's printed output and
      tracebacks are left out: each of them can carry the input.
    - ``hidden``: only the hints, the named bug, under a line saying that the details are
      withheld. No summary (it may quote values), no input at all.

    The summary is one line of at most SUMMARY_CHARS characters, and any text the submission
    chose (``chosen``: strings it returned, type names of its objects and exceptions, its
    exception messages and printout) is cut out of it: a check's own message may quote them
    ("the result ('...') is not numeric"), and any of them can be built from the input.
    """
    if isinstance(exc, StudentError):
        summary = explain_brief(exc.result)
        hints = explain_hints(exc.result) + list(exc.hints)
    else:
        head = []
        for line in text.splitlines():
            if line.strip().lower().startswith(STUDENT_OUTPUT):
                break
            head.append(line)
        summary = head[0] if head else "the check failed"
        for piece in sorted(chosen, key=len, reverse=True):
            if len(piece) >= 3:
                summary = summary.replace(piece, "...")
        hints = [line[len("hint:"):].strip() for line in head[1:] if line.startswith("hint:")]
    hints = list(dict.fromkeys(h for h in hints if h))
    summary = " ".join(summary.split())
    if len(summary) > SUMMARY_CHARS:
        summary = summary[:SUMMARY_CHARS - 3] + "..."
    if visibility == "hidden":
        lines = ["this is a hidden check: its input, the expected values and your output are not shown"]
    else:
        lines = [summary]
    lines += [f"hint: {hint}" for hint in hints]
    if visibility != "hidden" and call_outline:
        lines.append(f"input (values not shown): {call_outline}")
    return "\n".join(lines)
