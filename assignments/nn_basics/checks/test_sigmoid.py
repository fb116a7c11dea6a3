"""Hidden checks for sigmoid and sigmoid_grad (which takes s = sigmoid(x))."""

import numpy as np
import pytest

from grader.checks import CheckFailure, as_numeric, assert_close


@pytest.mark.problem("sigmoid", points=1.5)
@pytest.mark.parametrize("shape", [(5,), (3, 4)], ids=["vector", "matrix"])
def test_sigmoid_arrays(submission, reference, shape):
    """sigmoid of an array, elementwise"""
    x = np.random.default_rng(4).normal(size=shape) * 4
    assert_close(submission.sigmoid(x), reference.sigmoid(x), rtol=1e-7)


@pytest.mark.problem("sigmoid", points=0.5)
@pytest.mark.parametrize("x", [0.0, -2.5])
def test_sigmoid_scalar(submission, reference, x):
    """sigmoid of a Python float"""
    assert_close(submission.sigmoid(x), reference.sigmoid(x), rtol=1e-7, check_shape=False)


@pytest.mark.problem("sigmoid", points=0.5)
@pytest.mark.parametrize("limit", [30.0, 700.0], ids=["30", "700"])
def test_sigmoid_extremes(submission, reference, limit):
    """sigmoid stays finite and right at large |x|"""
    x = np.array([-limit, limit])
    assert_close(submission.sigmoid(x), reference.sigmoid(x), rtol=1e-7, atol=1e-300,
                 hint="use a form that cannot overflow for large |x|")


def diagnose_grad(s, got):
    try:
        got = as_numeric(got)
    except CheckFailure:
        return None
    if got.shape == s.shape and np.allclose(got, (1 / (1 + np.exp(-s))) * (1 - 1 / (1 + np.exp(-s)))):
        return "sigmoid_grad takes s = sigmoid(x), not x: return s * (1 - s)"
    return None


@pytest.mark.problem("sigmoid_grad", points=1.5)
@pytest.mark.parametrize("shape", [(6,), (2, 3)], ids=["vector", "matrix"])
def test_sigmoid_grad_arrays(submission, reference, shape):
    """sigmoid_grad(s) of an array of sigmoid values"""
    s = reference.sigmoid(np.random.default_rng(5).normal(size=shape) * 2)
    got = submission.sigmoid_grad(s)
    assert_close(got, reference.sigmoid_grad(s), rtol=1e-7, hint=diagnose_grad(s, got))


@pytest.mark.problem("sigmoid_grad", points=1)
@pytest.mark.parametrize("s", [0.5, 0.8807970779778823])
def test_sigmoid_grad_scalar(submission, reference, s):
    """sigmoid_grad of a scalar sigmoid value"""
    got = submission.sigmoid_grad(s)
    assert_close(got, reference.sigmoid_grad(s), rtol=1e-7, check_shape=False,
                 hint=diagnose_grad(np.array(s), got))
