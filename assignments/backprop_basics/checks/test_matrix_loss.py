"""Hidden checks for matrix_loss(X, W, Y, lam) = ||XW - Y||_2^2 + lam * ||W||_1 and dL/dW.

X is 7 x 4, W is 4 x 3 and Y is 7 x 3, so a transposed gradient has the wrong shape. The loss
and gradient are compared with the reference (rtol 1e-7 / 1e-6) and the gradient with central
differences of the student's own loss. sign(W), 0 where W is 0, is the subgradient of |W|.
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, as_numeric, assert_close, call_student

N, D, K = 7, 4, 3
LAM = 0.7


def problem(seed, zeros=False):
    """X, W, Y: W's entries at least 0.3 from 0 (no kinks of |W| nearby) unless ``zeros``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    raw = rng.normal(size=(D, K))
    W = np.sign(raw) * (0.3 + np.abs(raw))
    if zeros:
        W[0, 1] = W[2, 0] = W[3, 2] = 0.0
    Y = rng.normal(size=(N, K))
    return X, W, Y


def unpack(value):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        kind = getattr(value, "type_name", type(value).__name__)
        raise CheckFailure(f"matrix_loss must return a tuple (L, dW); it returned {kind}"
                           + (f" of {len(value)}" if isinstance(value, (tuple, list)) else ""))
    L = as_numeric(value[0], "the loss L")
    if L.size != 1:
        raise CheckFailure(f"the loss L must be a single number; it has shape {L.shape}\n"
                           "hint: sum over every entry: np.sum((X @ W - Y) ** 2)")
    return float(L.reshape(())), as_numeric(value[1], "the gradient dW")


def student(submission, X, W, Y, lam):
    return unpack(call_student(submission, "matrix_loss", [X, W, Y, lam]))


def diagnose_loss(X, W, Y, lam, L):
    R = X @ W - Y
    l1 = lam * np.sum(np.abs(W))
    variants = [
        (np.linalg.norm(R) + l1, "||XW - Y||_2^2 is squared: np.linalg.norm(R) is its square root; "
                                 "use np.sum((X @ W - Y) ** 2)"),
        (np.sum(R ** 2) + lam * np.sum(W ** 2), "the penalty is lam * ||W||_1 = lam * np.sum(np.abs(W)) "
                                                "(L1), not lam * np.sum(W ** 2)"),
        (np.sum(R ** 2), "the penalty lam * np.sum(np.abs(W)) is missing"),
        (np.mean(R ** 2) + l1, "sum the squared residuals, do not average them"),
        (np.sum(R ** 2) + lam * np.sum(W), "take the absolute value: lam * np.sum(np.abs(W))"),
        (np.sum(R ** 2) - l1, "the penalty is added: + lam * np.sum(np.abs(W))"),
    ]
    for value, hint in variants:
        if np.isclose(L, value, rtol=1e-7):
            return hint
    return None


def diagnose_grad(X, W, Y, lam, dW):
    R = X @ W - Y
    data, sign = 2 * X.T @ R, np.sign(W)
    right = data + lam * sign
    if dW.shape != W.shape:
        if dW.shape == W.T.shape:
            return "dW must have W's shape (d, k): 2 * X.T @ (X @ W - Y), not its transpose"
        return f"dW must have W's shape {W.shape}"
    variants = [
        (data / 2 + lam * sign, "the gradient of ||XW - Y||^2 is 2 X^T (XW - Y): the factor 2 is missing"),
        (data + lam * W, "the subgradient of lam * |W| is lam * np.sign(W), not lam * W"),
        (data / 2 + lam * W, "the factor 2 of the squared norm is missing, and the subgradient of "
                             "lam * |W| is lam * np.sign(W), not lam * W"),
        (data + 2 * lam * W, "2 * lam * W is the gradient of an L2 penalty; the L1 penalty's is "
                             "lam * np.sign(W)"),
        (data, "the penalty's subgradient lam * np.sign(W) is missing"),
        (-data + lam * sign, "the data term has the wrong sign: dL/dW = 2 X^T (XW - Y), not 2 X^T (Y - XW)"),
        (-right, "the gradient has the wrong sign"),
    ]
    for value, hint in variants:
        if np.allclose(dW, value, rtol=1e-6, atol=1e-12) and not np.allclose(value, right, rtol=1e-6):
            return hint
    at_zero = W == 0
    if at_zero.any():
        if np.isnan(dW[at_zero]).any():
            return "W / np.abs(W) divides 0 by 0 where W is 0: use np.sign(W), which is 0 there"
        off = ~np.isclose(dW, right, rtol=1e-6, atol=1e-12)
        if off.any() and np.all(at_zero[off]):
            return ("wrong only where W is 0: use np.sign(W), which is 0 there, not "
                    "np.where(W >= 0, 1, -1) or the like")
    return None


def check(submission, reference, X, W, Y, lam, loss=True, grad=True):
    L, dW = student(submission, X, W, Y, lam)
    want_L, want_dW = reference.matrix_loss(X, W, Y, lam)
    if loss:
        assert_close(L, want_L, rtol=1e-7, what="the loss L", hint=diagnose_loss(X, W, Y, lam, L))
    if grad:
        assert_close(dW, want_dW, rtol=1e-6, atol=1e-10, what="the gradient dW",
                     hint=diagnose_grad(X, W, Y, lam, dW))


@pytest.mark.problem("matrix_loss", points=1)
@pytest.mark.parametrize("lam", [0.0, LAM], ids=["lam=0", "lam=0.7"])
def test_loss(submission, reference, lam):
    """the loss ||XW - Y||_2^2 + lam * ||W||_1 on a 7 x 4 X and a 4 x 3 W"""
    X, W, Y = problem(1)
    check(submission, reference, X, W, Y, lam, grad=False)


@pytest.mark.problem("matrix_loss", points=2)
def test_gradient_without_penalty(submission, reference):
    """dL/dW = 2 X^T (XW - Y) when lam = 0"""
    X, W, Y = problem(2)
    check(submission, reference, X, W, Y, 0.0, loss=False)


@pytest.mark.problem("matrix_loss", points=2)
def test_gradient_with_penalty(submission, reference):
    """dL/dW = 2 X^T (XW - Y) + lam * sign(W) when lam = 0.7"""
    X, W, Y = problem(3)
    check(submission, reference, X, W, Y, LAM, loss=False)


@pytest.mark.problem("matrix_loss", points=1)
def test_subgradient_at_zero(submission, reference):
    """where W is exactly 0 the subgradient sign(W) is 0"""
    X, W, Y = problem(4, zeros=True)
    check(submission, reference, X, W, Y, LAM, loss=False)


@pytest.mark.problem("matrix_loss", points=2)
def test_gradient_matches_own_loss(submission):
    """dW agrees with central differences of your own loss, entry by entry"""
    X, W, Y = problem(5)
    h = 1e-6
    _, dW = student(submission, X, W, Y, LAM)
    if dW.shape != W.shape:
        raise CheckFailure(f"dW has shape {dW.shape}; it must have W's shape {W.shape}")
    numeric = np.zeros_like(W)
    for index in np.ndindex(*W.shape):
        step = np.zeros_like(W)
        step[index] = h
        numeric[index] = (student(submission, X, W + step, Y, LAM)[0]
                          - student(submission, X, W - step, Y, LAM)[0]) / (2 * h)
    close = np.isclose(dW, numeric, rtol=1e-5, atol=1e-6)
    if close.all():
        return
    hint = diagnose_grad(X, W, Y, LAM, dW) or ("differentiate exactly the loss you return: "
                                               "2 X^T (XW - Y) + lam * sign(W)")
    if np.allclose(dW, 2 * numeric, rtol=1e-4):
        hint = "the gradient is twice the loss's rate of change: is the loss missing its square?"
    elif np.allclose(2 * dW - LAM * np.sign(W), numeric, rtol=1e-4, atol=1e-5):
        hint = "the factor 2 of the squared norm's gradient is missing"
    raise CheckFailure(
        f"dW disagrees with the rate of change of your own loss (central differences, h={h:g}) in "
        f"{int((~close).sum())} of {close.size} entries\nyours:     {np.array2string(dW, precision=6)}\n"
        f"numerical: {np.array2string(numeric, precision=6)}\nhint: {hint}")
