"""Hidden checks for softmax(x) over axis 0 and its Jacobian softmax_grad(s) = diag(s) - s s^T.

softmax normalises each column (axis 0) of a 2-D array, and a 1-D vector as a whole; it keeps
the shape and subtracts each column's maximum before exp. softmax_grad takes a 1-D s =
softmax(x) and returns the (n, n) matrix ds_i/dx_j, compared with the reference and with a
numerical Jacobian computed here by central differences.
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, as_numeric, assert_close, call_student

RTOL = 1e-7


def _columns(x, shift):
    with np.errstate(all="ignore"):
        e = np.exp(x - shift)
        return e / e.sum(axis=0, keepdims=True)


def diagnose_softmax(x, got):
    """The likely bug behind a wrong softmax (or None)."""
    try:
        got = as_numeric(got)
    except CheckFailure:
        return None
    if got.shape != x.shape:
        if x.ndim == 2 and x.shape[1] == 1 and got.shape == (x.shape[0],):
            return "an (n, 1) column must stay (n, 1): do not flatten or squeeze the result"
        return f"the result must keep the input's shape {x.shape}"
    if not np.all(np.isfinite(got)):
        if x.ndim == 2 and np.array_equal(np.isfinite(got), np.isfinite(_columns(x, np.max(x)))) \
                and not np.array_equal(np.isfinite(got), np.isfinite(_columns(x, 0.0))):
            return ("you subtracted the maximum of the whole matrix: subtract each column's maximum "
                    "(np.max(x, axis=0, keepdims=True)), or columns far below it underflow to 0/0")
        return "exp overflowed: subtract each column's maximum before exp (softmax(x) = softmax(x - c))"
    if x.ndim == 2:
        rows = got.sum(axis=1)
        if np.allclose(rows, 1.0) and not np.allclose(got.sum(axis=0), 1.0):
            return "softmax over the wrong axis: each column (axis 0) must sum to 1, not each row"
        if x.shape[1] > 1 and np.isclose(got.sum(), 1.0) and not np.allclose(got.sum(axis=0), 1.0):
            return "normalised over the whole matrix: each column (axis 0) must sum to 1 on its own"
    return None


def check_softmax(submission, reference, x):
    got = call_student(submission, "softmax", [x])
    assert_close(got, reference.softmax(x), rtol=RTOL, hint=diagnose_softmax(x, got))


@pytest.mark.problem("softmax", points=1)
def test_vector(submission, reference):
    """a 1-D vector gives its softmax, as a 1-D vector"""
    check_softmax(submission, reference, np.array([0.5, -1.0, 2.0, 0.0, 1.5]))


@pytest.mark.problem("softmax", points=1)
def test_columns(submission, reference):
    """each column of a 3 x 5 matrix is normalised on its own (axis 0)"""
    check_softmax(submission, reference, np.random.default_rng(21).normal(size=(3, 5)) * 3)


@pytest.mark.problem("softmax", points=1)
def test_large_logits(submission, reference):
    """columns of logits near +1000 and near -1000 stay finite and exact"""
    check_softmax(submission, reference, np.array([[1000.0, -1000.0], [1001.0, -999.0], [999.0, -1001.0]]))


@pytest.mark.problem("softmax", points=1)
def test_widely_spread_columns(submission, reference):
    """columns whose logits spread over thousands stay finite and exact"""
    # From each column's maximum, exp only underflows to 0 (harmless); from any other shift,
    # such as the column's minimum, exp(800 - (-1500)) overflows to inf and inf / inf is NaN.
    check_softmax(submission, reference, np.array([[1000.0, -1500.0], [-200.0, -150.0], [-300.0, 800.0]]))


@pytest.mark.problem("softmax", points=1)
def test_column_vector_keeps_shape(submission, reference):
    """an (n, 1) column vector comes back as an (n, 1) column"""
    check_softmax(submission, reference, np.array([[1.0], [-2.0], [0.5], [3.0]]))


def diagnose_grad(s, got):
    """The likely bug behind a wrong softmax_grad (or None)."""
    n = s.size
    if got.shape != (n, n):
        if got.shape == (n,):
            return "the Jacobian is an (n, n) matrix: diag(s) - np.outer(s, s), not a vector"
        return f"the Jacobian of a length-{n} s is an ({n}, {n}) matrix: np.diag(s) - np.outer(s, s)"
    outer, diag = np.outer(s, s), np.diag(s)
    variants = [
        (-outer, "the diagonal term np.diag(s) is missing: J = diag(s) - s s^T"),
        (outer - diag, "the Jacobian is negated: J = diag(s) - s s^T, not s s^T - diag(s)"),
        (diag - np.dot(s, s), "s^T s is the inner product (one number); J needs the outer product "
                              "s s^T = np.outer(s, s), an (n, n) matrix"),
        (diag - np.diag(s * s), "the off-diagonal entries -s_i s_j are missing: J = diag(s) - np.outer(s, s)"),
        (diag, "the outer product s s^T is missing: J = diag(s) - np.outer(s, s)"),
        (diag + outer, "J = diag(s) - s s^T: the outer product is subtracted"),
        (np.diag(s * (1 - s)), "the off-diagonal entries -s_i s_j are missing: J = diag(s) - np.outer(s, s)"),
    ]
    for value, hint in variants:
        if np.allclose(got, value, rtol=1e-6, atol=1e-12):
            return hint
    return None


def student_grad(submission, s):
    got = as_numeric(call_student(submission, "softmax_grad", [s]), "the Jacobian")
    return got


@pytest.mark.problem("softmax_grad", points=1)
@pytest.mark.parametrize("n", [5, 2])
def test_jacobian(submission, reference, n):
    """softmax_grad(s) = diag(s) - s s^T for s = softmax of n random logits"""
    s = reference.softmax(np.random.default_rng(30 + n).normal(size=n))
    got = student_grad(submission, s)
    assert_close(got, reference.softmax_grad(s), rtol=1e-7, atol=1e-14, what="the Jacobian",
                 hint=diagnose_grad(s, got))


@pytest.mark.problem("softmax_grad", points=2)
def test_matches_numerical_jacobian(submission, reference):
    """softmax_grad(softmax(x)) agrees with central differences of softmax at x"""
    x = np.random.default_rng(40).normal(size=4)
    s = reference.softmax(x)
    h = 1e-6
    numeric = np.zeros((4, 4))
    for j in range(4):
        step = np.zeros(4)
        step[j] = h
        numeric[:, j] = (reference.softmax(x + step) - reference.softmax(x - step)) / (2 * h)
    got = student_grad(submission, s)
    if got.shape != numeric.shape or not np.allclose(got, numeric, rtol=1e-5, atol=1e-9):
        hint = diagnose_grad(s, got) or "J[i, j] = ds_i/dx_j = s_i (1[i = j] - s_j)"
        raise CheckFailure(f"the Jacobian disagrees with the rate of change of softmax at x = {x.tolist()} "
                           f"(central differences, h={h:g})\nyours:     {np.array2string(got, precision=6)}\n"
                           f"numerical: {np.array2string(numeric, precision=6)}\nhint: {hint}")
