"""The equivalence filter: a mutant that answers like the reference everywhere we can look is
set aside, not counted as a survivor the checks failed to catch.

"Everywhere" is the calls the checks themselves make (recorded while the reference is graded:
every call that crosses to the worker, with its seed, time limit and stand-ins) and the same
calls again on random inputs of the same shapes. The calls are replayed in order, so objects
the checks build in the worker (``Linear(3, 2)``, then ``layer.forward(x)``) are built again and
their handles mapped to the new worker's. Both the reference and each mutant are replayed in the
sandbox, through the session API the grading uses; a mutant that hangs, crashes or exhausts
memory there is a difference like any other, and costs only its own worker.
"""

from __future__ import annotations

import contextlib
import copy
import re
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from grader import session as sessions
from grader.checks.numeric import show
from grader.wire import Foreign, FunctionSpec, Handle

RTOL, ATOL = 1e-9, 1e-12  # "the same value": tight, only round-off of an identical computation
VARIANTS = 2  # random-input replays of the checks' calls
LOST = "LostObject"  # a call on an object that an earlier call did not build in this replay


@dataclass
class Call:
    """One call a check made into the worker, as Session.call received it."""

    function: str
    args: list
    kwargs: dict
    options: dict            # seed, time_limit, standins, return_args, op, value
    target: Handle | None
    result: object = None    # what the reference returned (for mapping the handles it made)

    @property
    def label(self) -> str:
        return f"{self.target.type_name}.{self.function}" if self.target is not None else self.function


@dataclass
class Outcome:
    """What a replayed call did, as comparable data."""

    value: object = None
    error: str | None = None  # the exception's type only: its message may quote addresses
    stdout: str = ""
    args_after: object = None
    callables: object = None  # how the functions handed to it were called (gradcheck's f)

    def text(self, limit: int = 300) -> str:
        if self.error:
            return f"raised {self.error}"
        text = show(self.value, limit)
        if self.stdout:
            text += f" (printed {self.stdout.strip()[:120]!r})"
        return text


@dataclass
class Difference:
    """The first input on which a mutant and the reference disagree: the check to add."""

    call: Call
    probe: str               # the checks' own call, random inputs of its shapes, or its data magnified
    expected: Outcome
    got: Outcome

    def as_dict(self) -> dict:
        where, expected, got = mismatch(self.expected, self.got)
        return {"function": self.call.label, "probe": self.probe,
                "args": [describe(a) for a in self.call.args],
                "kwargs": {k: describe(v) for k, v in self.call.kwargs.items()},
                "seed": self.call.options.get("seed", 0), "where": where,
                "expected": expected, "got": got}

    def text(self) -> str:
        shown = [describe(a) for a in self.call.args] + [f"{k}={describe(v)}" for k, v in self.call.kwargs.items()]
        where, expected, got = mismatch(self.expected, self.got)
        return (f"{self.call.label}({', '.join(shown)})  [{self.probe}, seed {self.call.options.get('seed', 0)}]\n"
                f"      {where} of the reference: {expected}\n      {where} of the mutant:    {got}")


def _first_unequal(a: object, b: object, path: str) -> tuple[str, object, object]:
    """The innermost part of two returned values where they part (a key, an index)."""
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        for key in a:
            if not same_value(a[key], b[key]):
                return _first_unequal(a[key], b[key], f"{path}[{key!r}]")
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b)):
            if not same_value(x, y):
                return _first_unequal(x, y, f"{path}[{index}]")
    return path, a, b


def mismatch(expected: Outcome, got: Outcome) -> tuple[str, str, str]:
    """Where two outcomes differ, and each side there, as text: the result (or the part of it
    that differs), what was printed, the arguments after the call, or the exception."""
    if expected.error or got.error:
        return "outcome", expected.text(), got.text()
    if not same_value(expected.value, got.value):
        where, a, b = _first_unequal(expected.value, got.value, "result")
        return where, show(a, 400), show(b, 400)
    if printed(expected.stdout) != printed(got.stdout):
        return "printed output", repr(expected.stdout[:300]), repr(got.stdout[:300])
    if not same_value(expected.args_after, got.args_after):
        where, a, b = _first_unequal(expected.args_after, got.args_after, "arguments after the call")
        return where, show(a, 400), show(b, 400)
    return "calls of the functions it was given", show(expected.callables, 300), show(got.callables, 300)


def describe(value: object) -> str:
    """A value with its shape, readable in a report."""
    if isinstance(value, np.ndarray):
        return show(value, 400)
    if isinstance(value, Handle):
        return f"<{value.type_name} object built by an earlier call>"
    return show(value, 200)


@contextlib.contextmanager
def recording() -> Iterator[list[Call]]:
    """Record every call any Session makes while the block runs (the reference's grading)."""
    calls: list[Call] = []
    original = sessions.Session.call

    def call(self, function, args, kwargs=None, *, seed=0, time_limit=10.0, standins=None,
             return_args=False, target=None, op="call", value=None):
        entry = Call(function, copy.deepcopy(list(args)), copy.deepcopy(dict(kwargs or {})),
                     {"seed": seed, "time_limit": time_limit, "standins": standins,
                      "return_args": return_args, "op": op, "value": copy.deepcopy(value)},
                     copy.deepcopy(target))
        result = original(self, function, args, kwargs, seed=seed, time_limit=time_limit,
                          standins=standins, return_args=return_args, target=target, op=op, value=value)
        entry.result = result.value
        calls.append(entry)
        return result

    sessions.Session.call = call
    try:
        yield calls
    finally:
        sessions.Session.call = original


# ------------------------------------------------------------------ random inputs of the same shapes

def perturb(value: object, rng: np.random.Generator) -> object:
    """A value of the same kind and shape with new numbers, keeping the structure a check's input
    usually has: one-hot rows stay one-hot (rows permuted), probabilities stay in (0, 1) and rows
    that sum to one still do. Integers, handles and functions are kept: they are sizes, labels
    and objects, not data."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size:
        if set(np.unique(value).tolist()) == {0.0, 1.0}:  # one-hot labels, masks
            return rng.permutation(value) if value.ndim else value.copy()
        low, high = float(value.min()), float(value.max())
        if low >= 0 and high <= 1:
            new = rng.uniform(0.01, 0.99, value.shape)
            rows = value.sum(axis=-1) if value.ndim else value
            if value.ndim and np.allclose(rows, 1):
                new = new / new.sum(axis=-1, keepdims=True)
            return new.astype(value.dtype)
        scale = float(value.std()) or 1.0
        return (rng.standard_normal(value.shape) * scale + float(value.mean())).astype(value.dtype)
    if isinstance(value, float):
        return value * float(rng.uniform(0.5, 1.5))
    if isinstance(value, (list, tuple)):
        return type(value)(perturb(v, rng) for v in value)
    if isinstance(value, dict):
        return {k: perturb(v, rng) for k, v in value.items()}
    return value


def magnified(value: object, rng: np.random.Generator | None = None) -> object:
    """The same data a thousand times larger (logits, activations: not probabilities, labels
    or sizes): where a numerically unstable formula overflows and a stable one does not."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size:
        if set(np.unique(value).tolist()) <= {0.0, 1.0} or (value.min() >= 0 and value.max() <= 1):
            return value.copy()
        return value * 1000.0
    if isinstance(value, (list, tuple)):
        return type(value)(magnified(v) for v in value)
    if isinstance(value, dict):
        return {k: magnified(v) for k, v in value.items()}
    return value


def variants(calls: list[Call], count: int = VARIANTS, seed: int = 0) -> list[list[Call]]:
    """The checks' calls, then ``count`` replays of them on random inputs of the same shapes,
    then one on their own inputs magnified."""
    rng = np.random.default_rng(seed)
    sequences = [calls]
    changes = [perturb] * count + [magnified]
    for change in changes:
        sequences.append([Call(c.function, change(c.args, rng), change(c.kwargs, rng),
                               {**c.options, "value": change(c.options["value"], rng)}, c.target, c.result)
                          for c in calls])
    return sequences


# ------------------------------------------------------------------ replay and comparison

def _map_handles(value: object, mapping: dict[int, Handle]) -> object:
    if isinstance(value, Handle):
        if value.id not in mapping:
            raise LookupError(value.type_name)
        return mapping[value.id]
    if isinstance(value, (list, tuple)):
        return type(value)(_map_handles(v, mapping) for v in value)
    if isinstance(value, dict):
        return {k: _map_handles(v, mapping) for k, v in value.items()}
    return value


def _learn_handles(recorded: object, now: object, mapping: dict[int, Handle]) -> None:
    """Handles the reference's grading got back, paired with those this replay got back."""
    if isinstance(recorded, Handle) and isinstance(now, Handle):
        mapping[recorded.id] = now
    elif isinstance(recorded, (list, tuple)) and isinstance(now, (list, tuple)) and len(recorded) == len(now):
        for r, n in zip(recorded, now):
            _learn_handles(r, n, mapping)
    elif isinstance(recorded, dict) and isinstance(now, dict):
        for key in recorded.keys() & now.keys():
            _learn_handles(recorded[key], now[key], mapping)


def replay(session: sessions.Session, calls: list[Call],
           stop: Callable[[int, Outcome], bool] | None = None) -> list[Outcome]:
    """Make the calls in this session, in order; ``stop(index, outcome)`` ends the replay early."""
    mapping: dict[int, Handle] = {}
    outcomes: list[Outcome] = []
    for index, call in enumerate(calls):
        try:
            args, kwargs = _map_handles(call.args, mapping), _map_handles(call.kwargs, mapping)
            target = _map_handles(call.target, mapping)
            value = _map_handles(call.options["value"], mapping)
        except LookupError as lost:
            outcome = Outcome(error=LOST)  # the object an earlier call should have built
        else:
            options = {**call.options, "value": value}
            result = session.call(call.function, copy.deepcopy(args), copy.deepcopy(kwargs), target=target, **options)
            _learn_handles(call.result, result.value, mapping)
            outcome = Outcome(result.value, (result.error or {}).get("type") if result.error else None,
                              result.stdout, result.args_after, result.callables)
        outcomes.append(outcome)
        if stop is not None and stop(index, outcome):
            break
    return outcomes


def same_value(a: object, b: object) -> bool:
    """Equal as data, floats within round-off of each other (NaNs equal)."""
    if isinstance(a, Handle) or isinstance(b, Handle):
        return isinstance(a, Handle) and isinstance(b, Handle) and a.type_name == b.type_name
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(same_value(x, y) for x, y in zip(a, b)))
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(same_value(a[k], b[k]) for k in a))
    if isinstance(a, Foreign) or isinstance(b, Foreign):  # its text may hold an address
        return isinstance(a, Foreign) and isinstance(b, Foreign) and a.type_name == b.type_name
    if isinstance(a, FunctionSpec) or isinstance(b, FunctionSpec):
        return (isinstance(a, FunctionSpec) and isinstance(b, FunctionSpec) and a.name == b.name
                and same_value(a.params, b.params))
    if isinstance(a, (str, bytes, type(None))) or isinstance(b, (str, bytes, type(None))):
        return type(a) is type(b) and a == b
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return type(a) is type(b) and bool(a) == bool(b)
    try:
        x, y = np.asarray(a), np.asarray(b)
    except Exception:  # noqa: BLE001 - not numbers: equal only if ==
        return a == b
    if x.shape != y.shape or x.dtype.kind != y.dtype.kind:
        return False
    if x.dtype.kind in "fc" or y.dtype.kind in "fc":
        return bool(np.allclose(x, y, rtol=RTOL, atol=ATOL, equal_nan=True))
    return bool(np.array_equal(x, y))


WARNING = re.compile(r"^[^\n]*?:\d+: (\w*Warning: [^\n]*)\n(?:  [^\n]*\n)?", re.MULTILINE)


def printed(text: str) -> str:
    """What a call printed, with Python's warnings reduced to their kind and message: they also
    quote the file, line and source text, which the mutation may have changed."""
    return WARNING.sub(r"\1\n", text)


def same(a: Outcome, b: Outcome) -> bool:
    if a.error or b.error:
        return a.error == b.error
    return (printed(a.stdout) == printed(b.stdout) and same_value(a.value, b.value) and same_value(a.args_after, b.args_after)
            and same_value(a.callables, b.callables))


@dataclass
class Baseline:
    """The reference's answers to every probe, and the probes whose answer is not reproducible
    (compared with nothing)."""

    sequences: list[list[Call]]
    outcomes: list[list[Outcome]]
    unstable: set[tuple[int, int]] = field(default_factory=set)


def baseline(open_session: Callable[[], contextlib.AbstractContextManager], calls: list[Call],
             count: int = VARIANTS) -> Baseline:
    """Replay every probe on the reference twice (two workers); keep what agrees. A call whose
    object the replay could not rebuild on the reference itself is compared with nothing too."""
    sequences = variants(calls, count)
    runs = []
    for _ in range(2):
        with open_session() as session:
            runs.append([replay(session, sequence) for sequence in sequences])
    unstable = {(s, i) for s, (first, second) in enumerate(zip(*runs))
                for i, (a, b) in enumerate(zip(first, second)) if not same(a, b) or a.error == LOST}
    return Baseline(sequences, runs[0], unstable)


def first_difference(session: sessions.Session, base: Baseline,
                     relevant: Callable[[Call], bool]) -> Difference | None:
    """Replay the probes on a mutant until it answers one of its own problem's calls differently
    (``relevant``); the first difference found (its own problem's if any), or None: equivalent."""
    found: Difference | None = None
    for s, sequence in enumerate(base.sequences):
        expected = base.outcomes[s]

        def stop(index: int, outcome: Outcome) -> bool:
            nonlocal found
            if (s, index) in base.unstable or same(expected[index], outcome):
                return False
            call = sequence[index]
            if s == 0:
                probe = f"the checks' call {index + 1}"
            elif s < len(base.sequences) - 1:
                probe = f"random inputs (variant {s}) of the shapes of the checks' call {index + 1}"
            else:
                probe = f"the checks' call {index + 1} with its data magnified 1000 times"
            mine = relevant(call)
            if found is None or (mine and not relevant(found.call)):
                found = Difference(call, probe, expected[index], outcome)
            return mine

        replay(session, sequence, stop)
        if found is not None:
            return found
    return found
