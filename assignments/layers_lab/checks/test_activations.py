"""Hidden checks for the activation layers Sigmoid and ReLU: forward(x), backward(x, dy) = dy times
the derivative at x (x is the layer's input), and a step(lr) that does nothing (no parameters).

backward is compared with central differences of the student's own forward (through the handle)
and with the reference. ReLU's derivative at exactly 0 is taken to be 0 (the inputs include 0).
"""


import numpy as np
import pytest

from grader.checks import CheckFailure, as_numeric, assert_close
from grader.checks.siblings import sibling


S = sibling(__file__, "_support.py")


def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@pytest.mark.problem("activations", points=1)
def test_sigmoid_forward(submission, reference):
    """Sigmoid().forward(x) is 1 / (1 + exp(-x)), elementwise, finite for large |x|"""
    x = np.array([[-3.0, -0.5, 0.0, 0.25], [1.0, 2.5, -10.0, 7.0], [-700.0, 700.0, 40.0, -40.0]])
    got = as_numeric(submission.Sigmoid().forward(x), "Sigmoid.forward(x)")
    hint = "sigmoid(x) = 1 / (1 + exp(-x))"
    if S.same(got, 1.0 / (1.0 + np.exp(np.clip(x, -500, 500)))):
        hint = "the sign is flipped: sigmoid(x) = 1 / (1 + exp(-x))"
    assert_close(got, sigmoid(x), rtol=1e-7, what="Sigmoid.forward(x)", hint=hint)
    assert_close(got, reference.Sigmoid().forward(x), rtol=1e-7, what="Sigmoid.forward(x)")


@pytest.mark.problem("activations", points=2)
def test_sigmoid_backward(submission, reference):
    """Sigmoid().backward(x, dy) is dy * s * (1 - s) with s = sigmoid(x), x the layer's input"""
    layer = submission.Sigmoid()
    x, dy = S.data((3, 4), 21) * 2, S.data((3, 4), 22)
    layer.forward(x)
    got = as_numeric(layer.backward(x, dy), "Sigmoid.backward(x, dy)")
    numeric = S.numeric_input_grad(layer.forward, x, lambda out: float(np.sum(out * dy)))
    s = sigmoid(x)
    hint = "dx = dy * s * (1 - s) with s = sigmoid(x)"
    if S.same(got, dy * x * (1 - x)):
        hint = ("backward uses x where it needs sigmoid(x): backward gets the layer's input x, so "
                "compute s = sigmoid(x) first, then dy * s * (1 - s)")
    elif S.same(got, s * (1 - s)):
        hint = "dy is missing: multiply the local derivative by dy (the chain rule)"
    elif S.same(got, dy * s):
        hint = "the derivative of sigmoid is s * (1 - s), not s"
    assert_close(got, numeric, rtol=1e-5, atol=1e-8,
                 what="Sigmoid.backward (against central differences of your forward)", hint=hint)
    assert_close(got, reference.Sigmoid().backward(x, dy), rtol=1e-7, atol=1e-12,
                 what="Sigmoid.backward(x, dy)", hint=hint)


@pytest.mark.problem("activations", points=1)
def test_relu_forward(submission, reference):
    """ReLU().forward(x) is max(x, 0), elementwise"""
    x = np.array([[-2.0, -0.0, 0.0, 0.5], [3.0, -1e-9, 1e-9, -7.0]])
    got = as_numeric(submission.ReLU().forward(x), "ReLU.forward(x)")
    hint = "relu(x) = np.maximum(x, 0)"
    if S.same(got, np.abs(x)):
        hint = "negative inputs become 0, not their absolute value: np.maximum(x, 0)"
    elif S.same(got, np.minimum(x, 0)):
        hint = "relu keeps the positive part: np.maximum(x, 0)"
    assert_close(got, np.maximum(x, 0), rtol=1e-12, atol=0, what="ReLU.forward(x)", hint=hint)
    assert_close(got, reference.ReLU().forward(x), rtol=1e-12, atol=0, what="ReLU.forward(x)")


@pytest.mark.problem("activations", points=2)
def test_relu_backward(submission, reference):
    """ReLU().backward(x, dy) passes dy where x > 0 and 0 where x <= 0"""
    layer = submission.ReLU()
    x = S.data((3, 5), 23)
    x[0, 0] = 0.0
    x[1, 1] = 0.0
    dy = S.data((3, 5), 24)
    dy[0, 0] = dy[1, 1] = 1.5
    layer.forward(x)
    got = as_numeric(layer.backward(x, dy), "ReLU.backward(x, dy)")
    hint = "dx = dy * (x > 0)"
    if S.same(got, dy * (x >= 0)):
        hint = "at x = 0 the gradient must be 0: use x > 0, not x >= 0"
    elif S.same(got, dy):
        hint = "backward passes dy everywhere: block it where x <= 0, dx = dy * (x > 0)"
    elif S.same(got, (x > 0).astype(float)):
        hint = "dy is missing: dx = dy * (x > 0), not just the mask"
    elif S.same(got, dy * (dy > 0)):
        hint = "the mask must come from the input x (x > 0), not from dy"
    elif S.same(got, dy * np.maximum(x, 0)):
        hint = "multiply dy by the derivative (x > 0), not by relu(x)"
    # away from 0 the derivative is what central differences of your own forward say
    away = x != 0
    numeric = S.numeric_input_grad(layer.forward, x, lambda out: float(np.sum(out * dy)), h=1e-6)
    assert_close(got[away], numeric[away], rtol=1e-5, atol=1e-8,
                 what="ReLU.backward away from x = 0 (against central differences of your forward)",
                 hint=hint)
    assert_close(got, reference.ReLU().backward(x, dy), rtol=1e-12, atol=0,
                 what="ReLU.backward(x, dy)", hint=hint)


@pytest.mark.problem("activations", points=1)
def test_step_does_nothing(submission):
    """Sigmoid and ReLU have a step(lr) that changes nothing (they have no parameters)"""
    x = S.data((2, 3), 25)
    for name in ("Sigmoid", "ReLU"):
        layer = getattr(submission, name)()
        before = as_numeric(layer.forward(x), f"{name}.forward(x)")
        try:
            layer.step(0.1)
        except Exception as exc:
            raise CheckFailure(f"{name}().step(0.1) failed: {str(exc).splitlines()[0]}\nhint: give "
                               f"{name} a method step(self, lr) that does nothing (pass), so that "
                               "Net.step can call step on every layer") from None
        after = as_numeric(layer.forward(x), f"{name}.forward(x) after step")
        assert_close(after, before, rtol=1e-12, atol=0, what=f"{name}.forward(x) after step(0.1)",
                     hint=f"{name} has no parameters: its step(lr) must not change it")
