"""Hidden checks for sigmoid and sigmoid_grad (which takes s = sigmoid(x), the classic convention)."""

import numpy as np
import pytest

from grader.checks import CheckFailure, as_numeric, assert_close, call_student

RTOL = 1e-7


def _values(got, shape):
    try:
        got = as_numeric(got)
    except CheckFailure:
        return None
    try:
        return np.broadcast_to(got, shape)
    except ValueError:
        return None


def diagnose_sigmoid(x, got):
    """The likely bug behind a wrong sigmoid (or None)."""
    x = np.asarray(x, dtype=float)
    got = _values(got, x.shape)
    if got is None:
        return None
    right = 1.0 / (1.0 + np.exp(-np.clip(x, -700, 700)))
    if not np.all(np.isfinite(got)):
        return ("exp overflowed for large |x|: 1 / (1 + exp(-x)) is safe for x >= 0, "
                "exp(x) / (1 + exp(x)) for x < 0")
    if np.allclose(got, 1.0 - right, rtol=1e-6, atol=1e-12):
        return "sign error: sigmoid(x) = 1 / (1 + exp(-x)), which is 1/2 + ... for x > 0"
    wrong = ~np.isclose(got, right, rtol=1e-6, atol=0)
    if wrong.any() and np.all(np.abs(x[wrong]) > 15):
        return "wrong only for large |x|: do not clip x or the result, use a form that cannot overflow"
    return None


def diagnose_sigmoid_error(result):
    message = (result.error or {}).get("message", "")
    if any(text in message for text in ("size-1 arrays", "length-1 arrays", "converted to Python scalars")):
        return "math.exp works on single numbers only: use np.exp, which works elementwise on arrays"
    return None


def check_sigmoid(submission, reference, x, check_shape=True):
    got = call_student(submission, "sigmoid", [x], error_hint=diagnose_sigmoid_error)
    assert_close(got, reference.sigmoid(x), rtol=RTOL, check_shape=check_shape,
                 hint=diagnose_sigmoid(x, got))


@pytest.mark.problem("sigmoid", points=1)
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)], ids=["vector", "matrix", "3-d"])
def test_sigmoid_arrays(submission, reference, shape):
    """sigmoid of an array, elementwise, keeping its shape"""
    x = np.random.default_rng(4).normal(size=shape) * 4
    check_sigmoid(submission, reference, x)


@pytest.mark.problem("sigmoid", points=0.25)
@pytest.mark.parametrize("x", [0.0, -2.5])
def test_sigmoid_scalar(submission, reference, x):
    """sigmoid of a Python float"""
    check_sigmoid(submission, reference, x, check_shape=False)


@pytest.mark.problem("sigmoid", points=0.5)
@pytest.mark.parametrize("limit", [30.0, 700.0, 1000.0], ids=["30", "700", "1000"])
def test_sigmoid_extremes(submission, reference, limit):
    """sigmoid stays finite and right at large |x| (exp overflows beyond 709)"""
    check_sigmoid(submission, reference, np.array([-limit, -limit / 2, limit / 2, limit]))


def diagnose_grad(s, got):
    """The likely bug behind a wrong sigmoid_grad(s) (or None)."""
    s = np.asarray(s, dtype=float)
    got = _values(got, s.shape)
    if got is None:
        return None
    of_x = 1.0 / (1.0 + np.exp(-s))
    if np.allclose(got, of_x * (1.0 - of_x), rtol=1e-6):
        return "sigmoid_grad was given s = sigmoid(x), not x: return s * (1 - s) without calling sigmoid again"
    if np.allclose(got, -s * (1.0 - s), rtol=1e-6):
        return "sign error: the derivative is s * (1 - s), not s * (s - 1)"
    return None


def diagnose_grad_error(result):
    message = (result.error or {}).get("message", "")
    if (result.error or {}).get("type") == "TypeError" and "iter" in message:
        return "sigmoid_grad must also work on a single number: use array arithmetic, not a loop over s"
    return None


def check_sigmoid_grad(submission, reference, s, check_shape=True):
    got = call_student(submission, "sigmoid_grad", [s], error_hint=diagnose_grad_error)
    assert_close(got, reference.sigmoid_grad(s), rtol=RTOL, check_shape=check_shape,
                 hint=diagnose_grad(s, got))


@pytest.mark.problem("sigmoid_grad", points=1.5)
@pytest.mark.parametrize("shape", [(6,), (2, 3)], ids=["vector", "matrix"])
def test_sigmoid_grad_arrays(submission, reference, shape):
    """sigmoid_grad(s) of an array of sigmoid values s"""
    s = reference.sigmoid(np.random.default_rng(5).normal(size=shape) * 2)
    check_sigmoid_grad(submission, reference, s)


@pytest.mark.problem("sigmoid_grad", points=1)
@pytest.mark.parametrize("s", [0.5, 0.8807970779778823])
def test_sigmoid_grad_scalar(submission, reference, s):
    """sigmoid_grad of a scalar sigmoid value s"""
    check_sigmoid_grad(submission, reference, s, check_shape=False)
