"""Hidden checks for Linear(n_in, n_out): W (n_in, n_out), b (n_out,), forward x @ W + b,
backward(x, dy) storing dW and db (summed over the batch) and returning dx, step(lr).

Every layer lives in the worker; the checks hold handles, set W and b themselves, and compare the
gradients with central differences of the student's own forward (computed here, through the
handle) and with the reference. Shapes are non-square (n_in != n_out, N != both) so transposes
show.
"""


import numpy as np
import pytest

from grader.checks import CheckFailure, StudentError, as_numeric, assert_close
from grader.checks.siblings import sibling


S = sibling(__file__, "_support.py")
N, N_IN, N_OUT = 5, 4, 3


def layer_with_weights(submission, seed=1):
    layer = submission.Linear(N_IN, N_OUT)
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(N_IN, N_OUT)), rng.normal(size=N_OUT)
    layer.W, layer.b = W, b
    return layer, W, b


def read(layer, name):
    try:
        return getattr(layer, name)
    except StudentError as exc:
        if "AttributeError" in str(exc):
            raise CheckFailure(f"the layer has no attribute {name} after backward\nhint: backward "
                               f"must store the gradient as self.{name}") from None
        raise


@pytest.mark.problem("linear", points=1)
def test_init_shapes(submission):
    """Linear(4, 3) starts with W of shape (4, 3), random, and b of shape (3,)"""
    layer = submission.Linear(N_IN, N_OUT)
    W, b = as_numeric(layer.W, "W"), as_numeric(layer.b, "b")
    if W.shape == (N_OUT, N_IN):
        raise CheckFailure(f"W has shape {W.shape}, expected ({N_IN}, {N_OUT})\nhint: W is "
                           "(n_in, n_out) so that forward is x @ W + b for x of shape (N, n_in)")
    if W.shape != (N_IN, N_OUT):
        raise CheckFailure(f"W has shape {W.shape}, expected ({N_IN}, {N_OUT})")
    if b.shape != (N_OUT,):
        raise CheckFailure(f"b has shape {b.shape}, expected ({N_OUT},)\nhint: b is a 1-D array "
                           "of n_out entries (np.zeros(n_out))")
    if np.allclose(W, W.flat[0]):
        raise CheckFailure(f"every entry of the initial W is {W.flat[0]!r}\nhint: initialise W with "
                           "small random numbers (e.g. np.random.randn(n_in, n_out) * np.sqrt(1 / n_in)) "
                           "so that the units do not all learn the same thing")
    if not np.all(np.isfinite(W)) or np.abs(W).max() > 10:
        raise CheckFailure(f"the initial W has entries as large as {np.abs(W).max():.3g}\nhint: "
                           "scale the random W down, e.g. by np.sqrt(1 / n_in)")


@pytest.mark.problem("linear", points=2)
def test_forward(submission, reference):
    """forward(x) is x @ W + b, with the W and b the layer holds"""
    layer, W, b = layer_with_weights(submission)
    x = S.data((N, N_IN), 2)
    got = as_numeric(layer.forward(x), "forward's output")
    expected = x @ W + b
    hint = None
    if S.same(got, x @ W):
        hint = "the bias is missing: return x @ W + b"
    elif S.same(got, x @ W - b):
        hint = "the bias is subtracted: return x @ W + b"
    assert_close(got, expected, rtol=1e-7, atol=1e-12, what="forward(x)",
                 hint=hint or "forward is x @ W + b with W of shape (n_in, n_out)")
    ref = reference.Linear(N_IN, N_OUT)
    ref.W, ref.b = W, b
    assert_close(got, ref.forward(x), rtol=1e-7, atol=1e-12, what="forward(x)")


def backward(layer, x, dy):
    return as_numeric(layer.backward(x, dy), "backward's result (dx)")


@pytest.mark.problem("linear", points=1)
def test_backward_dx(submission, reference):
    """backward(x, dy) returns dx = dL/dx, the same shape as x"""
    layer, W, b = layer_with_weights(submission)
    x, dy = S.data((N, N_IN), 3), S.data((N, N_OUT), 4)
    layer.forward(x)
    dx = backward(layer, x, dy)
    numeric = S.numeric_input_grad(layer.forward, x, lambda out: float(np.sum(out * dy)))
    hint = "dx = dy @ W.T"
    if S.same(dx, x):
        hint = "backward returns x instead of dx = dy @ W.T"
    elif dx.shape == (N, N_OUT) and S.same(dx, dy):
        hint = "backward returns dy unchanged: dx = dy @ W.T"
    assert_close(dx, numeric, rtol=1e-5, atol=1e-7, what="dx (against central differences of your forward)",
                 hint=hint)
    ref = reference.Linear(N_IN, N_OUT)
    ref.W, ref.b = W, b
    assert_close(dx, ref.backward(x, dy), rtol=1e-7, atol=1e-12, what="dx", hint=hint)


@pytest.mark.problem("linear", points=2)
def test_backward_dW(submission, reference):
    """backward(x, dy) stores dW = dL/dW, shape (n_in, n_out), summed over the batch"""
    layer, W, b = layer_with_weights(submission)
    x, dy = S.data((N, N_IN), 5), S.data((N, N_OUT), 6)
    layer.forward(x)
    layer.backward(x, dy)
    dW = as_numeric(read(layer, "dW"), "dW")
    numeric = S.numeric_param_grad(layer, "W", W, lambda out: float(np.sum(out * dy)), lambda: layer.forward(x))
    hint = "dW = x.T @ dy: one row per input, one column per output, summed over the batch"
    if dW.shape == (N_OUT, N_IN) and S.same(dW.T, numeric, 1e-5, 1e-7):
        hint = "dW is transposed: it is x.T @ dy, of shape (n_in, n_out) like W (not dy.T @ x)"
    elif dW.shape == numeric.shape and S.same(dW * N, numeric, 1e-5, 1e-7):
        hint = ("dW is averaged over the batch: dy already holds the 1/N of a mean loss, so sum: "
                "dW = x.T @ dy")
    assert_close(dW, numeric, rtol=1e-5, atol=1e-7, what="dW (against central differences of your forward)",
                 hint=hint)
    ref = reference.Linear(N_IN, N_OUT)
    ref.W, ref.b = W, b
    ref.backward(x, dy)
    assert_close(dW, ref.dW, rtol=1e-7, atol=1e-12, what="dW", hint=hint)


@pytest.mark.problem("linear", points=1)
def test_backward_db(submission, reference):
    """backward(x, dy) stores db = dL/db, shape (n_out,), summed over the batch"""
    layer, W, b = layer_with_weights(submission)
    x, dy = S.data((N, N_IN), 7), S.data((N, N_OUT), 8)
    layer.forward(x)
    layer.backward(x, dy)
    db = as_numeric(read(layer, "db"), "db")
    numeric = S.numeric_param_grad(layer, "b", b, lambda out: float(np.sum(out * dy)), lambda: layer.forward(x))
    hint = "db = dy.sum(axis=0)"
    if db.shape == (N, N_OUT):
        hint = "db has one row per example: sum dy over the batch, db = dy.sum(axis=0)"
    elif db.shape == (N,):
        hint = "db is summed over the wrong axis: db = dy.sum(axis=0), one entry per output"
    elif db.shape == (N_OUT,) and S.same(db * N, numeric, 1e-5, 1e-7):
        hint = "db is averaged over the batch: sum it, db = dy.sum(axis=0)"
    assert_close(db, numeric, rtol=1e-5, atol=1e-7, what="db (against central differences of your forward)",
                 hint=hint)
    ref = reference.Linear(N_IN, N_OUT)
    ref.W, ref.b = W, b
    ref.backward(x, dy)
    assert_close(db, ref.db, rtol=1e-7, atol=1e-12, what="db", hint=hint)


@pytest.mark.problem("linear", points=1)
def test_backward_uses_the_x_it_is_given(submission):
    """backward(x, dy) differentiates at the x it is given, not at the last forward's input"""
    layer, W, b = layer_with_weights(submission)
    x_seen, x_given, dy = S.data((N, N_IN), 9), S.data((N, N_IN), 10), S.data((N, N_OUT), 11)
    layer.forward(x_seen)
    layer.backward(x_given, dy)
    dW = as_numeric(read(layer, "dW"), "dW")
    hint = "backward(x, dy) must use its own argument x (dW = x.T @ dy), not an input kept from forward"
    if dW.shape == (N_IN, N_OUT) and S.same(dW, x_seen.T @ dy):
        raise CheckFailure("after forward(x1) then backward(x2, dy), dW is x1.T @ dy: the input of the "
                           f"last forward, not the x given to backward\nhint: {hint}")
    assert_close(dW, x_given.T @ dy, rtol=1e-7, atol=1e-12, what="dW after backward(x2, dy)", hint=hint)


@pytest.mark.problem("linear", points=2)
def test_step(submission):
    """step(lr) moves W and b against their gradients: W -= lr * dW, b -= lr * db"""
    layer, W, b = layer_with_weights(submission)
    x, dy = S.data((N, N_IN), 12), S.data((N, N_OUT), 13)
    layer.forward(x)
    layer.backward(x, dy)
    dW, db = as_numeric(read(layer, "dW"), "dW"), as_numeric(read(layer, "db"), "db")
    lr = 0.05
    layer.step(lr)
    W_new, b_new = as_numeric(layer.W, "W after step"), as_numeric(layer.b, "b after step")
    # judged against the layer's own dW and db, so a wrong gradient costs only its own check
    for name, new, old, grad in (("W", W_new, W, dW), ("b", b_new, b, db)):
        hint = f"{name} -= lr * d{name}"
        if S.same(new, old):
            hint = f"step left {name} unchanged: update {name} -= lr * d{name}"
        elif S.same(new, old + lr * grad):
            hint = f"step moves {name} up the gradient: {name} -= lr * d{name}, not +="
        elif S.same(new, old - grad):
            hint = f"step ignores lr: {name} -= lr * d{name}"
        assert_close(new, old - lr * grad, rtol=1e-7, atol=1e-12,
                     what=f"{name} after step({lr})", hint=hint)
