"""Hidden checks for softmax: row-wise on 1-D and 2-D input, shape-keeping, stable, exact.

Every comparison is at rtol 1e-6 against the reference; a failure that matches a known bug says
which one (``diagnose_softmax`` for wrong values, ``diagnose_error`` for exceptions).
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, as_numeric, assert_close, call_student

RTOL = 1e-6
ROW_MAX = "subtract each row's maximum before exp (softmax(x) == softmax(x - c) for any constant c)"


def _naive(x, shift):
    """softmax as a buggy student computes it, to recognise their result."""
    with np.errstate(all="ignore"):
        e = np.exp(x - shift)
        return e / e.sum(axis=-1, keepdims=True)


def diagnose_softmax(x, got):
    """The likely bug behind a wrong softmax, in one sentence (or None)."""
    raw = got
    x = np.asarray(x, dtype=float)
    try:
        got = as_numeric(got)
    except CheckFailure:
        return None
    if got.shape != x.shape:
        if x.ndim == 1 and got.shape == (1, x.size):
            return "a 1-D input must give a 1-D result: shape (1, N) came back; do not reshape it to a row"
        if x.ndim == 2 and got.shape == (x.shape[1],) and x.shape[0] == 1:
            return "a (1, N) matrix must stay (1, N): do not squeeze or flatten the result"
        return f"the result must keep the input's shape {x.shape}"
    if isinstance(raw, np.ndarray) and raw.dtype.kind in "iub":
        return ("the result came back as integers: for integer input, compute in floats "
                "(np.zeros_like(x) of an integer x is an integer array)")
    if not np.all(np.isfinite(got)):
        pattern = np.isfinite(got)
        if x.ndim == 2 and not np.array_equal(pattern, np.isfinite(_naive(x, 0.0))) \
                and np.array_equal(pattern, np.isfinite(_naive(x, np.max(x)))):
            return ("you subtracted the maximum of the whole matrix: subtract each row's own "
                    "maximum (np.max(x, axis=1, keepdims=True)), or rows far below it underflow to 0/0")
        return "exp overflowed (or underflowed to 0/0) without subtracting the max: " + ROW_MAX
    rows = got.sum(axis=-1)
    if x.ndim == 2 and np.allclose(got.sum(axis=0), 1.0) and not np.allclose(rows, 1.0):
        return "normalised over the wrong axis: each row (axis 1) must sum to 1, not each column"
    if x.ndim == 2 and np.isclose(got.sum(), 1.0) and not np.allclose(rows, 1.0):
        return "normalised over the whole matrix: each row must sum to 1 on its own"
    if np.allclose(rows, rows.flat[0]) and 1e-13 < abs(1 - rows.flat[0]) < 1e-3:
        return (f"rows sum to {rows.flat[0]:.12g}, not 1: is there an epsilon in the denominator?")
    return None


def diagnose_error(x):
    """A hint for an exception raised on input x (or None)."""
    x = np.asarray(x)

    def hint(result):
        message = (result.error or {}).get("message", "")
        kind = (result.error or {}).get("type", "")
        if "could not be broadcast" in message and x.ndim == 2:
            return ("keep the row maximum and the row sum as columns (np.max(x, axis=1, "
                    "keepdims=True)) so they broadcast over each row")
        if kind in ("AxisError", "IndexError") and x.ndim == 1:
            return "a 1-D input has only axis 0: handle a vector as well as a matrix (axis=-1 works for both)"
        if kind == "UFuncTypeError" or "Cannot cast ufunc" in message:
            return "integer input cannot be changed in place with float results: convert x to float first"
        return None

    return hint


def check_softmax(submission, reference, x, rtol=RTOL):
    got = call_student(submission, "softmax", [x], error_hint=diagnose_error(x))
    assert_close(got, reference.softmax(x), rtol=rtol, hint=diagnose_softmax(x, got))
    return got


@pytest.mark.problem("softmax", points=1)
def test_one_dimensional_input(submission, reference):
    """a 1-D vector gives its softmax, as a 1-D vector"""
    check_softmax(submission, reference, np.array([1.0, 2.0, 3.0, -1.5]))


@pytest.mark.problem("softmax", points=1.5)
def test_non_square_matrix_row_wise(submission, reference):
    """a 3 x 5 matrix is normalised row by row"""
    rng = np.random.default_rng(1)
    check_softmax(submission, reference, rng.normal(size=(3, 5)) * 3)


@pytest.mark.problem("softmax", points=1)
def test_tall_matrix(submission, reference):
    """a 6 x 2 matrix is normalised row by row"""
    rng = np.random.default_rng(2)
    check_softmax(submission, reference, rng.normal(size=(6, 2)))


@pytest.mark.problem("softmax", points=1)
def test_wide_matrix_many_rows(submission, reference):
    """a 20 x 10 matrix of spread-out logits is normalised row by row"""
    rng = np.random.default_rng(6)
    check_softmax(submission, reference, rng.normal(size=(20, 10)) * 5)


@pytest.mark.problem("softmax", points=0.5)
def test_single_row_matrix_keeps_shape(submission, reference):
    """a 1 x 4 matrix comes back as a 1 x 4 matrix"""
    check_softmax(submission, reference, np.array([[0.5, -1.0, 2.0, 0.0]]))


@pytest.mark.problem("softmax", points=1)
def test_large_logits_stay_finite(submission, reference):
    """large positive logits (1000s) stay finite and exact, row by row"""
    check_softmax(submission, reference, np.array([[1001.0, 1002.0], [3.0, 4.0], [-1000.0, 1000.0]]))


@pytest.mark.problem("softmax", points=1)
def test_one_dimensional_widely_spread_logits(submission, reference):
    """a 1-D vector whose logits spread over thousands stays finite and exact"""
    # From the maximum down, exp(x - max) only underflows to 0 (harmless); from any other
    # shift, such as the minimum, exp(3000 - (-1500)) overflows to inf and inf / inf is NaN.
    check_softmax(submission, reference, np.array([1000.0, 2000.0, 3000.0, -1500.0]))


@pytest.mark.problem("softmax", points=1)
def test_large_negative_logits(submission, reference):
    """large negative logits (-1000s) stay finite and exact"""
    check_softmax(submission, reference, np.array([-1001.0, -1002.0, -1000.0]))


@pytest.mark.problem("softmax", points=1)
def test_rows_sum_to_one(submission, reference):
    """every row sums to 1 within 1e-12"""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 7)) * 10
    got = check_softmax(submission, reference, x)
    sums = as_numeric(got).sum(axis=1)
    if not np.all(np.abs(sums - 1.0) <= 1e-12):
        worst = sums[np.argmax(np.abs(sums - 1))]
        raise CheckFailure(f"a row sums to {worst:.15g}, not 1 within 1e-12\n"
                           "hint: rows summing to 1 - epsilon: is there an epsilon in the denominator?")


@pytest.mark.problem("softmax", points=1)
def test_integer_input(submission, reference):
    """integer input gives the same (float) result as float input"""
    check_softmax(submission, reference, np.array([[1, 2, 3], [0, 0, 5]]))
