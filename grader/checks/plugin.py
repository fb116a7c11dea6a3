"""The pytest plugin that turns an assignment's check files into graded checks.

Checks are plain pytest functions marked ``@pytest.mark.problem("softmax", points=2)``. They get
the fixtures ``submission`` (calls into the sandboxed worker), ``reference`` (the instructor's
solution, in this process), ``settings`` (assignment.toml's [settings]) and ``feedback`` (notes
for the student on a passing check). One hook, one job: collection checks the markers, the
metadata hook records what scoring needs, pytest-json-report carries it out.
"""

from __future__ import annotations

import types

import pytest

from grader.assignment import Assignment
from grader.checks.numeric import CheckFailure
from grader.checks.proxy import StudentError, SubmissionProxy, explain_brief, explain_hints
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
        raise CheckSetupError(f"{item.nodeid} has no @pytest.mark.problem(ID, points=N)")
    points = float(marker.kwargs.get("points", 1))
    visibility = str(marker.kwargs.get("visibility", "visible"))
    if visibility not in VISIBILITIES:
        raise CheckSetupError(f"{item.nodeid}: visibility must be one of {VISIBILITIES}")
    return str(marker.args[0]), points, visibility


def seed_of(item: pytest.Item) -> int:
    """The seed the worker uses for this check's calls: ``@pytest.mark.seed(n)``, else 0."""
    marker = item.get_closest_marker("seed")
    return int(marker.args[0]) if marker and marker.args else 0


class GraderPlugin:
    def __init__(self, assignment: Assignment, reference: types.SimpleNamespace | None) -> None:
        self.session: Session | None = None  # the worker of the submission being graded
        self.assignment = assignment
        self._reference = reference
        self.setup_errors: list[str] = []
        self._module_of = {name: p.module for p in assignment.problems for name in p.functions}
        self._limit_of = {name: p.call_seconds for p in assignment.problems for name in p.functions}

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
                                         f"assignment.toml does not list ({', '.join(sorted(known))})")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.setup_errors.append(f"could not collect {report.nodeid}: {report.longreprtext[-800:]}")

    # -- fixtures
    @pytest.fixture
    def submission(self, request: pytest.FixtureRequest) -> SubmissionProxy:
        seed = seed_of(request.node)
        proxy = SubmissionProxy(
            self.session, seed=seed,
            time_limit=lambda name: self._limit_of.get(name, self.assignment.call_seconds),
            module_of=lambda name: self._module_of.get(name, name))
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

    # -- results (pytest-json-report's hook: its return value lands in the test's metadata)
    def pytest_json_runtest_metadata(self, item: pytest.Item, call: pytest.CallInfo) -> dict:
        try:
            problem, points, visibility = problem_of(item)
        except CheckSetupError:
            problem, points, visibility = "", 0.0, "visible"
        data: dict = {"problem": problem, "points": points, "visibility": visibility,
                      "title": check_title(item), "seed": seed_of(item)}
        feedback = getattr(item, "grader_feedback", None)
        if feedback is not None and feedback.notes:
            data["notes"] = list(feedback.notes)
        if call.excinfo is not None and call.when in ("setup", "call"):
            data["feedback"], data["check_error"] = self.failure_text(item, call.excinfo)
            data["hints"], data["failure"] = grader_diagnosis(call.excinfo.value, data["feedback"],
                                                              getattr(item, "grader_proxy", None))
            if visibility == "hidden":  # its summary may quote the hidden input; hints never do
                data["failure"] = ""
        return data

    def failure_text(self, item: pytest.Item, excinfo: pytest.ExceptionInfo) -> tuple[str, bool]:
        exc = excinfo.value
        proxy = getattr(item, "grader_proxy", None)
        if isinstance(exc, CheckFailure):
            text, check_error = str(exc), False
        elif isinstance(exc, AssertionError):
            text, check_error = str(exc) or "assertion failed", False
        elif isinstance(exc, pytest.skip.Exception):
            text, check_error = f"check skipped: {exc}", True
        else:
            text = f"the check could not use what the submission returned ({type(exc).__name__}: {exc})"
            check_error = True
        error_type = getattr(getattr(exc, "result", None), "error", None) or {}
        show_input = proxy is not None and proxy.calls and error_type.get("type") != "NotFound"
        try:
            _, _, visibility = problem_of(item)
        except CheckSetupError:
            visibility = "visible"
        if visibility != "visible":
            return private_failure_text(exc, text, visibility,
                                        proxy.last_call_outline() if show_input else ""), check_error
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
    for _, _, _, result in (proxy.calls if proxy is not None else []):
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


def private_failure_text(exc: BaseException, text: str, visibility: str, call_outline: str) -> str:
    """Feedback for a failed check whose input is not public.

    The rule, by the check's visibility:

    - ``visible``: everything (handled by the caller): message, expected/got, hint, full input.
    - ``after_due_date`` / ``after_published``: the check's one-sentence summary (its message's
      first line; for a student exception only its type) and its hints; the input as kinds and
      shapes only. Value dumps (``expected:``/``got:`` lines), the student's printed output and
      tracebacks are left out: each of them can carry the input.
    - ``hidden``: only the hints, the named bug, under a line saying that the details are
      withheld. No summary (it may quote values), no input at all.
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
        hints = [line[len("hint:"):].strip() for line in head[1:] if line.startswith("hint:")]
    hints = list(dict.fromkeys(h for h in hints if h))
    if visibility == "hidden":
        lines = ["this is a hidden check: its input, the expected values and your output are not shown"]
    else:
        lines = [summary]
    lines += [f"hint: {hint}" for hint in hints]
    if visibility != "hidden" and call_outline:
        lines.append(f"input (values not shown): {call_outline}")
    return "\n".join(lines)
