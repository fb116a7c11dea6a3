"""Hidden checks for bce_loss(y, y_hat) (the mean binary cross-entropy over all entries, y_hat
clipped to [EPS, 1 - EPS] with EPS = 1e-12) and bce_grad(y, y_hat) (its gradient with respect to
y_hat, same clipping). The gradient is compared with central differences of the student's own
bce_loss and with the reference.
"""


import numpy as np
import pytest

from grader.checks import CheckFailure, as_numeric, assert_close
from grader.checks.siblings import sibling


S = sibling(__file__, "_support.py")


def batch(seed, n=6, k=1):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, k)) > 0.5).astype(float)
    y_hat = rng.uniform(0.05, 0.95, size=(n, k))
    return y, y_hat


def loss_value(submission, y, y_hat):
    value = as_numeric(submission.bce_loss(y, y_hat), "bce_loss's result")
    if value.size != 1:
        raise CheckFailure(f"bce_loss returned an array of shape {value.shape}, expected one number"
                           "\nhint: average over all entries: the loss is a single number")
    return float(value.reshape(()))


@pytest.mark.problem("bce", points=2)
def test_loss_value(submission, reference):
    """bce_loss(y, y_hat) is -mean(y log y_hat + (1 - y) log(1 - y_hat))"""
    for seed, (n, k) in ((31, (6, 1)), (32, (4, 3))):
        y, y_hat = batch(seed, n, k)
        got = loss_value(submission, y, y_hat)
        expected = reference.bce_loss(y, y_hat)
        hint = "loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) with p = clip(y_hat)"
        if np.isclose(got, expected * y.size, rtol=1e-6):
            hint = f"the loss is summed, not averaged: divide by the number of entries ({y.size})"
        elif np.isclose(got, expected * k, rtol=1e-6) and k > 1:
            hint = "the loss is averaged over the rows only: take the mean over all entries"
        elif np.isclose(got, -expected, rtol=1e-6):
            hint = "the sign is flipped: the loss is minus the mean log-likelihood"
        assert_close(got, expected, rtol=1e-7, atol=1e-12, what=f"bce_loss on a {n}x{k} batch", hint=hint)


@pytest.mark.problem("bce", points=1)
def test_loss_clipped(submission, reference):
    """bce_loss stays finite when y_hat is exactly 0 or 1 (clip to [1e-12, 1 - 1e-12])"""
    y = np.array([[1.0], [0.0], [1.0], [0.0]])
    y_hat = np.array([[0.0], [1.0], [1.0], [0.0]])
    value = as_numeric(submission.bce_loss(y, y_hat), "bce_loss's result")
    assert_close(value.reshape(-1)[:1], [reference.bce_loss(y, y_hat)], rtol=1e-6, atol=1e-9,
                 what="bce_loss with y_hat = 0 or 1",
                 hint="clip y_hat to [EPS, 1 - EPS] (EPS = 1e-12) before taking logs: "
                      "p = np.clip(y_hat, EPS, 1 - EPS)")


@pytest.mark.problem("bce", points=2)
def test_grad_value(submission, reference):
    """bce_grad(y, y_hat) is the gradient of bce_loss with respect to y_hat"""
    for seed, (n, k) in ((33, (6, 1)), (34, (4, 3))):
        y, y_hat = batch(seed, n, k)
        got = as_numeric(submission.bce_grad(y, y_hat), "bce_grad's result")
        expected = reference.bce_grad(y, y_hat)
        hint = "grad = (p - y) / (p * (1 - p)) / y.size with p = clip(y_hat)"
        if got.shape == expected.shape:
            if S.same(got, expected * y.size):
                hint = (f"the gradient is {y.size} (the number of entries) times too large: the "
                        "loss is a mean, so divide by y.size")
            elif S.same(got, expected * k) and k > 1:
                hint = "the gradient is divided by the number of rows only: divide by y.size"
            elif S.same(got, -expected):
                hint = "the sign is flipped: grad = (p - y) / (p * (1 - p)) / y.size"
        numeric = S.numeric_input_grad(lambda p: [loss_value(submission, y, p)], y_hat,
                                       lambda out: float(out[0]), h=1e-6)
        assert_close(got, numeric, rtol=1e-5, atol=1e-8,
                     what=f"bce_grad on a {n}x{k} batch (against central differences of your bce_loss)",
                     hint=hint)
        assert_close(got, expected, rtol=1e-7, atol=1e-12, what=f"bce_grad on a {n}x{k} batch", hint=hint)


@pytest.mark.problem("bce", points=1)
def test_grad_clipped(submission, reference):
    """bce_grad stays finite when y_hat is exactly 0 or 1 (the same clipping as the loss)"""
    y = np.array([[1.0], [0.0], [0.0], [1.0]])
    y_hat = np.array([[0.0], [1.0], [0.5], [1.0]])
    got = as_numeric(submission.bce_grad(y, y_hat), "bce_grad's result")
    expected = reference.bce_grad(y, y_hat)
    hint = "clip y_hat to [EPS, 1 - EPS] (EPS = 1e-12) in bce_grad too, the same p as the loss"
    if S.same(got, expected * y.size, 1e-6, 1e-9):
        hint = f"the gradient is {y.size} (the number of entries) times too large: divide by y.size"
    assert_close(got, expected, rtol=1e-6, atol=1e-9, what="bce_grad with y_hat = 0 or 1", hint=hint)
