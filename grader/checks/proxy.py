"""The ``submission`` a check talks to: attribute calls become calls in the worker.

``submission.softmax(x)`` sends ``x`` to the worker, runs the student's softmax there with the
check's seed and its problem's time limit, and returns the result as data (or raises a
StudentError that carries the student's traceback as text). Every call is remembered, so a
failing check's feedback can show the input that failed.
"""

from __future__ import annotations

import builtins
import dataclasses
from typing import Callable, NamedTuple

from grader.checks.numeric import CheckFailure, outline, show
from grader.session import STRIKES, CallResult, Session
from grader.wire import Foreign, Handle, Remote


class StudentError(CheckFailure):
    """The student's function raised, hung, crashed or was missing; the message says which."""

    def __init__(self, message: str, result: CallResult, hints: list[str] | None = None) -> None:
        super().__init__(message)
        self.result = result
        self.hints = list(hints or [])  # the check's own diagnosis (no student text in it)


NUMPY_ALIAS_HINT = ("np.float, np.int and friends were removed in NumPy 1.24; "
                    "use float, int or np.float64")


def explain_hints(result: CallResult) -> list[str]:
    """Hints the grader can give about a failed call from its error type alone."""
    error = result.error or {}
    kind, message = error.get("type", "Error"), error.get("message", "")
    if kind == "AttributeError" and "numpy" in message and any(
            f"'{alias}'" in message for alias in ("float", "int", "bool", "object", "complex")):
        return [NUMPY_ALIAS_HINT]
    return []


# Exception types whose names the grader may repeat where a check's input is private: Python's
# own and numpy's. Any other name is the student's choice, and a name can carry the input
# however short it is (``type(repr(x), (Exception,), {})``), so it is not repeated there.
KNOWN_EXCEPTIONS = frozenset(
    name for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)) | {
    "LinAlgError", "AxisError", "ComplexWarning", "TooHardError", "DTypePromotionError"}


def public_type_name(kind: str) -> str:
    """A student's exception type as it may be named in feedback that must not carry the input."""
    return kind if kind in KNOWN_EXCEPTIONS else "an exception of a class of its own"


def explain_brief(result: CallResult) -> str:
    """What went wrong in a call, without any text the student's code produced (for checks
    whose input must stay private: an exception message, printout or the name of an exception
    class made up at run time could carry it)."""
    error = result.error or {}
    raw = error.get("type", "Error")
    name = result.function
    if raw == "NotFound":
        return f"{name} was not found in the submission"
    if raw in ("Timeout", "Crashed", "BadResult", "Budget", "MemoryError", "LimitExceeded"):
        return str(error.get("message", raw))   # the grader's and the worker's own words
    kind = public_type_name(raw)
    if kind == "SystemExit":
        return f"{name} called sys.exit()"
    return f"{name} raised {kind}"


class Call(NamedTuple):
    """What feedback needs of one call a check made: the grader's own inputs, the outcome
    without the returned data (a string value stays: feedback quotes it), and the strings the
    student chose. Never the returned arrays: they would outlive the check, and a submission
    returning big ones would grow the grading process without bound."""

    label: str
    args: list
    kwargs: dict
    result: CallResult
    strings: set[str]


def student_strings(result: CallResult) -> set[str]:
    """Every piece of text in a call's outcome that the student's code chose: strings and dict
    keys in the returned value and arguments, the type names of objects it returned, its
    exception's type and message. Feedback that must not carry the input leaves these out."""
    found: set[str] = set()

    def walk(value: object, depth: int = 0) -> None:
        if depth > 20:
            return
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, Foreign):
            found.update((value.type_name, value.text))
        elif isinstance(value, (Handle, Remote)):  # a Remote's other attributes live in the worker
            found.add(value.type_name)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item, depth + 1)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key, depth + 1)
                walk(item, depth + 1)

    walk(result.value)
    walk(result.args_after)
    error = result.error or {}
    if error.get("type") not in KNOWN_EXCEPTIONS:
        found.add(str(error.get("type", "")))
    found.add(str(error.get("message", "")))
    found.add(result.stdout)
    return {text for text in found if text}


def explain(result: CallResult, load_problems: list[str] | None = None) -> str:
    """One readable paragraph for a call that did not return normally."""
    error = result.error or {}
    kind, message = error.get("type", "Error"), error.get("message", "")
    name = result.function
    if kind == "NotFound":
        text = f"{name} was not found in the submission"
        if load_problems:
            text += "; while loading: " + "; ".join(load_problems[:3])
        return text
    if kind in ("Timeout", "Crashed", "BadResult", "Budget", "MemoryError", "LimitExceeded"):
        text = message
    elif kind == "SystemExit":
        text = f"{name} called sys.exit(): {message}"
    else:
        text = f"{name} raised {kind}: {message}".rstrip(": ")
        text += "".join(f"\nhint: {hint}" for hint in explain_hints(result))
    if error.get("traceback"):
        text += "\n" + error["traceback"].rstrip()
    if result.stdout:
        text += "\nprinted:\n" + result.stdout[-2000:].rstrip()
    return text


class RemoteFunction:
    def __init__(self, proxy: "SubmissionProxy", name: str) -> None:
        self.proxy = proxy
        self.name = name

    def __call__(self, *args, **kwargs):
        result = self.proxy.run(self.name, list(args), kwargs)
        if not result.ok:
            raise StudentError(explain(result, self.proxy.load_problems_for(self.name)), result)
        return result.value


class RemoteObject(Remote):
    """An instance of a student's class that lives in the worker, used like the object itself:
    ``layer.forward(x)`` calls the method there, ``layer.dW`` reads the attribute (as data),
    ``layer.W = w`` sets it. Only the handle's number ever crosses the boundary."""

    def __init__(self, proxy: "SubmissionProxy", handle: Handle) -> None:
        object.__setattr__(self, "_proxy", proxy)
        object.__setattr__(self, "_handle", handle)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        result = self._proxy.run(name, [], op="getattr", target=self._handle)
        if not result.ok:
            raise StudentError(explain(result), result)
        if result.method:
            return RemoteMethod(self._proxy, self._handle, name)
        return result.value

    def __setattr__(self, name: str, value: object) -> None:
        result = self._proxy.run(name, [], op="setattr", target=self._handle, value=value)
        if not result.ok:
            raise StudentError(explain(result), result)

    def __repr__(self) -> str:
        return f"<{self._handle.type_name} object in the worker>"


class RemoteMethod:
    def __init__(self, proxy: "SubmissionProxy", handle: Handle, name: str) -> None:
        self.proxy, self.handle, self.name = proxy, handle, name

    def __call__(self, *args, **kwargs):
        result = self.proxy.run(self.name, list(args), kwargs, target=self.handle)
        if not result.ok:
            raise StudentError(explain(result), result)
        return result.value


def _unwrap(value: object) -> object:
    """Arguments for the wire: a RemoteObject goes as its handle."""
    if isinstance(value, RemoteObject):
        return object.__getattribute__(value, "_handle")
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _wrap(proxy: "SubmissionProxy", value: object) -> object:
    """Results for the check: a handle becomes a RemoteObject it can use."""
    if isinstance(value, Handle):
        return RemoteObject(proxy, value)
    if isinstance(value, (list, tuple)):
        return type(value)(_wrap(proxy, v) for v in value)
    if isinstance(value, dict):
        return {k: _wrap(proxy, v) for k, v in value.items()}
    return value


class SubmissionProxy:
    """The ``submission`` fixture of one check.

    ``timed_out`` is shared by every check of one submission: for each function that ran past
    its time limit, the name of the first check where it did (None for a check whose name is
    not shown). A function stopped ``STRIKES`` times is not run again; the checks after that say
    so in a short line pointing at that first check, instead of each repeating the story."""

    def __init__(self, session: Session, *, seed: int, time_limit: Callable[[str], float],
                 module_of: Callable[[str], str], timed_out: dict[str, str | None] | None = None,
                 check: str | None = None) -> None:
        self._session = session
        self._seed = seed
        self._time_limit = time_limit
        self._module_of = module_of
        self._timed_out = {} if timed_out is None else timed_out
        self._check = check
        self.calls: list[Call] = []
        self.timeouts: list[str] = []  # the time-limit messages of calls this check ran

    def __getattr__(self, name: str) -> RemoteFunction:
        if name.startswith("_"):
            raise AttributeError(name)
        return RemoteFunction(self, name)

    def run(self, name: str, args: list, kwargs: dict | None = None, *, seed: int | None = None,
            standins: dict[str, Callable] | None = None, return_args: bool = False,
            target: Handle | None = None, op: str = "call", value: object = None) -> CallResult:
        """Call without raising: for checks that judge errors, printed output or stand-ins.
        ``target``/``op``/``value`` reach methods and attributes of objects in the worker."""
        label = f"{target.type_name}.{name}" if target is not None else name
        struck_out = self._session.strikes.get(label, 0) >= STRIKES  # the session will not run it
        result = self._session.call(name, _unwrap(list(args)), _unwrap(kwargs or {}),
                                    seed=self._seed if seed is None else seed,
                                    time_limit=self._time_limit(name), standins=standins,
                                    return_args=return_args, target=target, op=op,
                                    value=_unwrap(value))
        result.value = _wrap(self, result.value)
        if result.args_after is not None:
            result.args_after = _wrap(self, result.args_after)
        if result.error and result.error.get("type") == "Timeout":
            self._note_timeout(label, result, struck_out)
        if op == "call":
            self.calls.append(Call(label, args, kwargs or {},
                                   dataclasses.replace(result, value=result.value if isinstance(result.value, str) else None,
                                                       args_after=None),
                                   student_strings(result)))
        return result

    def _note_timeout(self, label: str, result: CallResult, struck_out: bool) -> None:
        """The first checks where a function ran past its limit keep the full message; a later
        check where it was not run at all says so briefly and names the first one."""
        if not struck_out:
            self.timeouts.append(result.error.get("message", ""))
            self._timed_out.setdefault(label, self._check)
            return
        first = self._timed_out.get(label)
        where = f"in check '{first}'" if first else "in an earlier check"
        result.error = {"type": "Timeout", "message": f"not run: {label} ran past its time limit {where}",
                        "skipped": True}

    def has(self, name: str) -> bool:
        """Whether the submission defines ``name`` (after loading)."""
        self._session.start()
        return self._session.functions.get(name) is not None

    def load_problems_for(self, name: str) -> list[str]:
        """Load-time problems in the file a function conventionally lives in."""
        module = self._module_of(name)
        problems = []
        for source in self._session.submission.sources:
            if source.module_parts[-1] == module:
                problems += source.problems
        for outcome in self._session.unit_outcomes.values():
            if outcome.error and outcome.unit.split("/")[-1].startswith(module + "."):
                problems.append(f"{outcome.unit}: {outcome.error.get('type')}: "
                                f"{outcome.error.get('message')}")
        return problems

    def last_call_outline(self) -> str:
        """The last call with its arguments' kinds and shapes only, not their values."""
        if not self.calls:
            return ""
        name, args, kwargs = self.calls[-1][:3]
        shown = [outline(a) for a in args] + [f"{k}={outline(v)}" for k, v in kwargs.items()]
        return f"{name}({', '.join(shown)})"

    def last_call_text(self) -> str:
        if not self.calls:
            return ""
        name, args, kwargs = self.calls[-1][:3]
        shown = [show(a, 300) for a in args] + [f"{k}={show(v, 300)}" for k, v in kwargs.items()]
        return f"{name}({', '.join(shown)})"


def call_student(submission: "SubmissionProxy", name: str, args: list, kwargs: dict | None = None,
                 error_hint: Callable[[CallResult], str | None] | None = None) -> object:
    """``submission.NAME(*args)``, but a failed call's StudentError carries the check's own
    diagnosis (``error_hint(result)``, a sentence or None) as a hint."""
    result = submission.run(name, list(args), kwargs)
    if result.ok:
        return result.value
    hint = error_hint(result) if error_hint else None
    message = explain(result, submission.load_problems_for(name))
    if hint:
        message += f"\nhint: {hint}"
    raise StudentError(message, result, [hint] if hint else [])
