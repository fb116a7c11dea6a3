"""Numeric assertions whose failure messages a student can act on.

Modelled on PrairieLearn's numeric feedback: every failure says what was expected, what came
back, where and by how much they differ, and (when the check knows it) the likely bug.
"""

from __future__ import annotations

import numpy as np

from grader.wire import Foreign, Remote


class CheckFailure(AssertionError):
    """A check failed because of the submission; its message is the feedback shown."""


def show(value: object, limit: int = 400) -> str:
    """A short, reproducible rendering of a value for feedback, on one line. What does not fit
    in ``limit`` characters is shortened at a separator (an array to its shape and first values),
    never inside a number: a cut ``1.013896...`` reads as a value the student never saw."""
    if isinstance(value, np.ndarray):
        text = _show_array(value, limit)
    elif isinstance(value, (float, np.floating)):
        text = repr(float(value))
    elif isinstance(value, tuple):
        text = "(" + ", ".join(show(v, limit) for v in value) + ("," if len(value) == 1 else "") + ")"
    elif isinstance(value, list):
        text = "[" + ", ".join(show(v, limit) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= limit else _cut(text, limit)


def _show_array(value: np.ndarray, limit: int) -> str:
    body = np.array2string(value, precision=8, threshold=24, edgeitems=3, separator=", ",
                           max_line_width=10**6)
    body = " ".join(body.split())              # rows on one line: [[1, 2], [3, 4]]
    dtype = "" if value.dtype.kind in "f" else f", dtype {value.dtype}"
    text = f"array({body})" + (f" with shape {value.shape}" if value.ndim else "") + dtype
    if len(text) <= limit or value.size <= 3:
        return text
    first = np.array2string(value.ravel()[:3], precision=8, separator=", ", max_line_width=10**6)
    return f"array with shape {value.shape}{dtype}, first values {' '.join(first[:-1].split())}, ...]"


def _cut(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters at a separator (', ' or a space), never inside
    a number or a word; the cut is marked with ' ...'."""
    head = text[: max(limit - 4, 1)]
    at = max(head.rfind(", "), head.rfind(" "))
    return (head[:at] if at > 0 else head).rstrip(", ") + " ..."


def outline(value: object) -> str:
    """A value's kind and shape without its contents (for checks whose input stays private)."""
    if isinstance(value, np.ndarray):
        text = f"array of shape {value.shape}"
        return text if value.dtype.kind == "f" else f"{text}, dtype {value.dtype}"
    if isinstance(value, (bool, np.bool_)):
        return "a bool"
    if isinstance(value, (int, np.integer)):
        return "an int"
    if isinstance(value, (float, np.floating)):
        return "a float"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    if callable(value) or type(value).__name__ == "FunctionSpec":
        return "a function"
    return f"a {type(value).__name__}"


def describe_type(value: object) -> str:
    if isinstance(value, (Foreign, Remote)):
        return f"an object of type {value.type_name}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"


def as_numeric(value: object, what: str = "the result") -> np.ndarray:
    """The value as a float array, or a CheckFailure saying why it is not one."""
    if isinstance(value, (Foreign, Remote)):
        raise CheckFailure(f"{what} is {describe_type(value)}, not numbers or a numpy array")
    if value is None:
        raise CheckFailure(f"{what} is None: did the function forget to return?")
    if isinstance(value, (bool, np.bool_)):
        raise CheckFailure(f"{what} is a bool ({value}), not a number")
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - ragged lists and the like
        raise CheckFailure(f"{what} ({show(value)}) cannot be read as a numeric array") from None
    if array.dtype.kind not in "biufc":
        raise CheckFailure(f"{what} ({show(value)}) is not numeric")
    return array.astype(complex if array.dtype.kind == "c" else float)


def as_scalar(value: object, what: str = "the result") -> float:
    """One number, however the student's code shaped it: a float, a numpy scalar, or an array
    of any shape holding one value (``np.sum(..., keepdims=True)`` gives (1, 1); NumPy 2
    refuses ``float()`` of anything but a 0-d array, so a check must not call it directly)."""
    array = as_numeric(value, what)
    if array.size != 1:
        raise CheckFailure(f"{what} should be one number; it has shape {array.shape}")
    if array.dtype.kind == "c":
        raise CheckFailure(f"{what} is a complex number ({show(value)}), not a real one")
    return float(array.reshape(-1)[0])


# The absolute tolerance every comparison allows, as a fraction of the largest |expected| value.
# Any sound formula rounds at about eps * scale per operation on O(scale) intermediates: 0.5 * (1
# + tanh(x / 2)) is off by ~1e-17 from sigmoid(x) deep in the tail, where the value itself is
# 1e-152 and a purely relative test calls that a 100% error. 1e-14 allows ~45 such roundings and is
# 1e7 times below rtol = 1e-7 on O(1) values, so it never hides an error a relative test on
# values of the array's own scale would see (clipping sigmoid's x to [-20, 20] is still off by
# 2e-9 of the scale).
SCALE_ATOL = 1e-14


def scale_of(expected: np.ndarray) -> float:
    """The largest finite |value| of ``expected`` (0 for none): what 'near zero' is measured by."""
    finite = np.abs(expected[np.isfinite(expected)])
    return float(finite.max()) if finite.size else 0.0


def assert_close(got: object, expected: object, *, rtol: float = 1e-7, atol: float = 0.0,
                 scale_atol: float = SCALE_ATOL, hint: str | None = None, what: str = "the result",
                 check_shape: bool = True) -> None:
    """Fail unless ``got`` matches ``expected`` elementwise within rtol/atol (and in shape).

    The absolute tolerance is ``max(atol, scale_atol * largest |expected|)``: values near zero are
    compared in absolute terms relative to the array's scale (a right formula other than the
    reference's is not punished for rounding deep in a tail), values of that scale relatively.
    ``scale_atol=0`` asks for a purely relative comparison (e.g. a lone value in a tail whose
    relative accuracy is the point of the check).
    """
    expected_array = np.asarray(expected, dtype=float)
    got_array = as_numeric(got, what)
    if check_shape and got_array.shape != expected_array.shape:
        message = (f"{what} has shape {got_array.shape}, expected {expected_array.shape}")
        if hint is None and expected_array.ndim == 1 and got_array.shape == (1,) + expected_array.shape:
            message += ": a 1-D input must give a 1-D result (do not reshape it to a row)"
        raise CheckFailure(_with_hint(message, hint))
    if not check_shape:
        try:
            got_array = np.broadcast_to(got_array, expected_array.shape)
        except ValueError:
            raise CheckFailure(_with_hint(f"{what} has shape {got_array.shape}, expected "
                                          f"{expected_array.shape}", hint)) from None
    if np.iscomplexobj(got_array):
        raise CheckFailure(_with_hint(f"{what} has complex values", hint))
    bad = ~np.isfinite(got_array) & np.isfinite(expected_array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CheckFailure(_with_hint(
            f"{what} has {int(bad.sum())} non-finite value(s) (first at index {index}: "
            f"{got_array[index] if index else got_array}) where finite values are expected\n"
            f"expected: {show(expected_array)}\ngot:      {show(got_array)}", hint))
    atol = max(atol, scale_atol * scale_of(expected_array))
    close = np.isclose(got_array, expected_array, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return
    error = np.abs(got_array - expected_array)
    error = np.where(np.isfinite(error), error, np.inf)
    worst = np.unravel_index(int(np.argmax(np.where(close, -1, error))), error.shape) if error.ndim else ()
    scale = np.abs(expected_array[worst]) if error.ndim else np.abs(expected_array)
    relative = float(error[worst] / scale) if scale else float("inf")
    where = f" at index {tuple(int(i) for i in worst)}" if error.ndim else ""
    message = (f"{what} differs from the expected values{where}: got {float(got_array[worst]):.10g}, "
               f"expected {float(expected_array[worst]):.10g} (relative error {relative:.2g}, "
               f"allowed {rtol:g}" + (f" or {atol:.2g} absolute" if atol else "")
               + f"); {int((~close).sum())} of {close.size} value(s) differ\n"
               f"expected: {show(expected_array)}\ngot:      {show(got_array)}")
    raise CheckFailure(_with_hint(message, hint))


def _with_hint(message: str, hint: str | None) -> str:
    return f"{message}\nhint: {hint}" if hint else message
