"""One bug costs one problem: grade a function again with reference helpers standing in.

A forward pass that calls the student's own (wrong) softmax is wrong too, through no fault of
its own. ``own_or_standins`` judges the student's function as it is; if that fails, it runs it
once more with the reference's helpers answering in place of the student's (the reference runs
here, in the grader; the worker only receives its answers as data) and, if that passes, keeps
the points and says which of the student's helpers were to blame.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from grader.checks.numeric import CheckFailure
from grader.checks.proxy import StudentError, SubmissionProxy, explain
from grader.session import CallResult


def _agrees(got: object, expected: object) -> bool:
    """Numerically equal, element by element through tuples, lists and str-keyed dicts."""
    if isinstance(expected, dict):
        return (isinstance(got, dict) and got.keys() == expected.keys()
                and all(_agrees(got[k], expected[k]) for k in expected))
    if isinstance(expected, (tuple, list)):
        return (isinstance(got, (tuple, list)) and len(got) == len(expected)
                and all(_agrees(g, e) for g, e in zip(got, expected)))
    try:
        got_array = np.asarray(got, dtype=float)
        expected_array = np.asarray(expected, dtype=float)
        return got_array.shape == expected_array.shape and bool(
            np.allclose(got_array, expected_array, rtol=1e-6, atol=1e-12))
    except Exception:  # noqa: BLE001 - a Foreign or ragged value agrees with nothing
        return False


def blamed_helpers(submission: SubmissionProxy, reference: object, result: CallResult) -> list[str]:
    """The helpers whose student version disagrees with the reference on the very inputs the
    function under test gave them."""
    blamed, seen = [], set()
    for name, args, kwargs in result.standins_used:
        if name in seen:
            continue
        seen.add(name)
        own = submission.run(name, args, kwargs)
        if not own.ok or not _agrees(own.value, getattr(reference, name)(*args, **kwargs)):
            blamed.append(name)
    return blamed


def own_or_standins(submission: SubmissionProxy, reference: object, function: str, args: list,
                    helpers: tuple[str, ...], judge: Callable[[CallResult], str | None],
                    feedback) -> CallResult:
    """The accepted call result; raises the first attempt's failure if neither attempt passes.

    ``judge`` raises CheckFailure for a wrong result and may return a note for the student.
    """
    first = submission.run(function, args)
    try:
        if not first.ok:
            raise StudentError(explain(first, submission.load_problems_for(function)), first)
        note = judge(first)
        if note:
            feedback.note(note)
        return first
    except CheckFailure as failure:
        original = failure
    standins = {name: getattr(reference, name) for name in helpers}
    second = submission.run(function, args, standins=standins)
    if second.ok:
        try:
            note = judge(second)
        except CheckFailure:
            raise original from None
        blamed = blamed_helpers(submission, reference, second) or sorted(
            {name for name, _, _ in second.standins_used})
        feedback.note(f"{function} is right once the reference {', '.join(blamed)} "
                      f"stand{'s' if len(blamed) == 1 else ''} in for yours (those lose points "
                      f"in their own problem, not here)" + (f"; {note}" if note else ""))
        return second
    raise original from None
