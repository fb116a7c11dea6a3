"""Hidden checks for softmax: row-wise, shape-keeping, stable, exact."""

import numpy as np
import pytest

from grader.checks import CheckFailure, as_numeric, assert_close


def diagnose_softmax(x, got):
    """The likely bug behind a wrong softmax, in one sentence (or None)."""
    x = np.asarray(x, dtype=float)
    try:
        got = as_numeric(got)
    except CheckFailure:
        return None
    if got.shape != x.shape:
        if x.ndim == 1 and got.shape == (1, x.size):
            return "a 1-D input must give a 1-D result: do not reshape it to a (1, N) row"
        return f"the result must keep the input's shape {x.shape}"
    if not np.all(np.isfinite(got)):
        return "exp overflowed: subtract the row maximum before exp"
    rows = got.sum(axis=-1)
    if x.ndim == 2 and np.allclose(got.sum(axis=0), 1.0) and not np.allclose(rows, 1.0):
        return "normalised over the wrong axis: each row (axis 1) must sum to 1, not each column"
    if x.ndim == 2 and np.isclose(got.sum(), 1.0) and not np.allclose(rows, 1.0):
        return "normalised over the whole matrix: each row must sum to 1 on its own"
    if np.allclose(rows, rows.flat[0]) and 1e-12 < abs(1 - rows.flat[0]) < 1e-3:
        return (f"rows sum to {rows.flat[0]:.12g}, not 1: is there an epsilon in the denominator?")
    return None


def check_softmax(submission, reference, x, rtol=1e-6):
    got = submission.softmax(x)
    expected = reference.softmax(x)
    try:
        assert_close(got, expected, rtol=rtol, atol=1e-300, hint=diagnose_softmax(x, got))
    except CheckFailure as failure:
        raise CheckFailure(str(failure)) from None
    return got


@pytest.mark.problem("softmax", points=2)
def test_one_dimensional_input(submission, reference):
    """a 1-D vector gives its softmax, as a 1-D vector"""
    check_softmax(submission, reference, np.array([1.0, 2.0, 3.0, -1.5]))


@pytest.mark.problem("softmax", points=2)
def test_non_square_matrix_row_wise(submission, reference):
    """a 3 x 5 matrix is normalised row by row"""
    rng = np.random.default_rng(1)
    check_softmax(submission, reference, rng.normal(size=(3, 5)) * 3)


@pytest.mark.problem("softmax", points=1)
def test_tall_matrix(submission, reference):
    """a 6 x 2 matrix is normalised row by row"""
    rng = np.random.default_rng(2)
    check_softmax(submission, reference, rng.normal(size=(6, 2)))


@pytest.mark.problem("softmax", points=2)
def test_large_logits_stay_finite(submission, reference):
    """large positive logits (1000s) stay finite and exact"""
    check_softmax(submission, reference, np.array([[1001.0, 1002.0], [3.0, 4.0], [-1000.0, 1000.0]]))


@pytest.mark.problem("softmax", points=1)
def test_large_negative_logits(submission, reference):
    """large negative logits stay finite and exact"""
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
        raise CheckFailure(f"rows sum to {worst:.15g}, not 1 within 1e-12: "
                           "is there an epsilon in the denominator?")


@pytest.mark.problem("softmax", points=1)
def test_integer_input(submission, reference):
    """integer input gives the same result as float input"""
    check_softmax(submission, reference, np.array([[1, 2, 3], [0, 0, 5]]))
