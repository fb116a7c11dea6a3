"""Hidden checks for bprop(cache): the gradients of the two-layer network's loss.

bprop takes the cache fprop returns (a dict with x, y, z1, a1, z2, a2, loss, W1, b1, W2, b2) and
returns {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}, each of its parameter's shape. Most checks
hand bprop the reference's cache, so a wrong fprop costs only fprop's points; one check hands it
the student's own cache and compares with the rate of change of the student's own loss (and falls
back to the reference's cache and loss when the student's fprop is wrong). Gradients are compared
with the reference (rtol 1e-6) and with central differences computed here, in the grader.
relu's derivative is (z1 > 0): 0 at z1 = 0.
"""

import itertools

import numpy as np
import pytest

from grader.checks import CheckFailure, as_numeric, assert_close, call_student, explain

N_IN, HIDDEN = 4, 5
PARAMS = ("W1", "b1", "W2", "b2")
RETURN = "return {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}"


def network(seed, y, zero_units=False):
    """x (4, 1), y and params W1 (5, 4), b1 (5, 1), W2 (1, 5), b2 (1, 1); with ``zero_units``
    hidden units 0 and 3 get z1 = 0 exactly (their row of W1 and their b1 are 0)."""
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(HIDDEN, N_IN)), "b1": rng.normal(size=(HIDDEN, 1)),
              "W2": rng.normal(size=(1, HIDDEN)), "b2": rng.normal(size=(1, 1))}
    if zero_units:
        params["W1"][[0, 3]] = 0.0
        params["b1"][[0, 3]] = 0.0
    return rng.normal(size=(N_IN, 1)), y, params


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def grads_of(value):
    """The student's gradients as a dict of float arrays, or a CheckFailure saying why not."""
    if not isinstance(value, dict):
        kind = getattr(value, "type_name", type(value).__name__)
        raise CheckFailure(f"bprop must return the gradients as a dict; it returned {kind}\nhint: {RETURN}")
    missing = [k for k in PARAMS if k not in value]
    if missing:
        raise CheckFailure(f"the gradients bprop returned have no {', '.join(repr(k) for k in missing)} "
                           f"(keys: {', '.join(repr(k) for k in value) or 'none'})\nhint: {RETURN}")
    return {k: as_numeric(value[k], f"the gradient '{k}'") for k in PARAMS}


def key_hint(result):
    if (result.error or {}).get("type") == "KeyError":
        return ("bprop may read only what fprop puts in the cache: x, y, z1, a1, z2, a2, loss, "
                "W1, b1, W2, b2")
    return None


def run_bprop(submission, cache):
    return grads_of(call_student(submission, "bprop", [cache], error_hint=key_hint))


def variants(cache):
    """Gradients as common bugs compute them: {(output bug, relu bug): grads}."""
    x, y, z1, a1, a2, W2 = (np.asarray(cache[k], dtype=float) for k in ("x", "y", "z1", "a1", "a2", "W2"))
    outputs = {None: a2 - y, "neg": y - a2, "extra": (a2 - y) * a2 * (1 - a2)}
    relus = {None: (z1 > 0).astype(float), "ge": (z1 >= 0).astype(float), "a1": a1,
             "none": np.ones_like(z1), "sigmoid": _sigmoid(z1) * (1 - _sigmoid(z1)),
             "a1sigmoid": a1 * (1 - a1)}
    out = {}
    for (o, dz2), (r, d) in itertools.product(outputs.items(), relus.items()):
        dz1 = (W2.T @ dz2) * d
        out[(o, r)] = {"W1": dz1 @ x.T, "b1": dz1, "W2": dz2 @ a1.T, "b2": dz2}
    return out


HINTS = {
    "neg": "dL/dz2 = a2 - y for a sigmoid output with cross-entropy; yours has the opposite sign (y - a2)",
    "extra": ("dL/dz2 is simply a2 - y: the sigmoid's derivative a2(1 - a2) cancels against the "
              "cross-entropy's, so do not multiply by it again"),
    "ge": "relu's derivative is 0 at z1 = 0: use (z1 > 0), not (z1 >= 0)",
    "a1": "relu's derivative is the indicator (z1 > 0), not a1 = relu(z1)",
    "none": "multiply W2.T @ dz2 by relu's derivative (z1 > 0) to get dz1",
    "sigmoid": "the hidden layer is a relu: its derivative is (z1 > 0), not the sigmoid's",
    "a1sigmoid": "the hidden layer is a relu: its derivative is (z1 > 0), not a1 * (1 - a1)",
}


def shape_hint(key, got, want):
    if got.shape == want.shape:
        return None
    if got.shape == want.T.shape and key == "W2":
        return "dW2 must have W2's shape (1, h): dz2 @ a1.T, not a1 @ dz2.T"
    if got.shape == want.T.shape and key == "W1":
        return "dW1 must have W1's shape (h, n): dz1 @ x.T, not x @ dz1.T"
    if key == "b1" and got.size == 1:
        return "db1 has b1's shape (h, 1): for one example it is dz1 itself, not a sum over it"
    if got.size == want.size:
        return f"keep column vectors: the gradient '{key}' must have {key}'s shape {want.shape}, not {got.shape}"
    return f"the gradient '{key}' must have {key}'s shape {want.shape}"


def diagnose(cache, got, keys):
    """The likely bug behind wrong gradients ``keys`` (or None)."""
    right = variants(cache)[(None, None)]
    for key in keys:
        hint = shape_hint(key, got[key], right[key])
        if hint:
            return hint
    for (o, r), grads in variants(cache).items():
        if (o, r) == (None, None):
            continue
        if all(np.allclose(got[k], grads[k], rtol=1e-6, atol=1e-12) for k in keys) and not all(
                np.allclose(right[k], grads[k], rtol=1e-6, atol=1e-12) for k in keys):
            return "; ".join(HINTS[b] for b in (o, r) if b)
    return None


def check_keys(grads, want, cache, keys):
    hint = diagnose(cache, grads, keys)
    for key in keys:
        assert_close(grads[key], want[key], rtol=1e-6, atol=1e-12, what=f"the gradient '{key}'", hint=hint)


def numerical_gradient(loss, params, h=1e-6):
    """Central differences of ``loss(params)`` for every entry of every parameter."""
    out = {}
    for key in PARAMS:
        grad = np.zeros_like(params[key])
        for index in np.ndindex(*params[key].shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[key][index] += h
            minus[key][index] -= h
            grad[index] = (loss(plus) - loss(minus)) / (2 * h)
        out[key] = grad
    return out


@pytest.mark.problem("bprop", points=1)
@pytest.mark.parametrize("y", [1, 0], ids=["y=1", "y=0"])
def test_output_layer_gradients(submission, reference, y):
    """dW2 = dz2 a1^T and db2 = dz2 with dz2 = a2 - y, on the reference's cache"""
    x, y, params = network(11, y)
    cache = reference.fprop(x, y, params)
    grads = run_bprop(submission, cache)
    check_keys(grads, reference.bprop(cache), cache, ("W2", "b2"))


@pytest.mark.problem("bprop", points=1.5)
@pytest.mark.parametrize("y", [1, 0], ids=["y=1", "y=0"])
def test_hidden_layer_gradients(submission, reference, y):
    """dW1 = dz1 x^T and db1 = dz1 with dz1 = (W2^T dz2) * (z1 > 0), on the reference's cache"""
    x, y, params = network(12, y)
    cache = reference.fprop(x, y, params)
    grads = run_bprop(submission, cache)
    check_keys(grads, reference.bprop(cache), cache, ("W1", "b1"))


@pytest.mark.problem("bprop", points=1)
def test_relu_derivative_at_zero(submission, reference):
    """relu's derivative is 0 where z1 = 0 exactly (hidden units 0 and 3)"""
    x, y, params = network(13, 1, zero_units=True)
    cache = reference.fprop(x, y, params)
    grads = run_bprop(submission, cache)
    check_keys(grads, reference.bprop(cache), cache, PARAMS)


@pytest.mark.problem("bprop", points=2)
def test_matches_numerical_gradient(submission, reference):
    """every gradient agrees with central differences of the loss (reference's cache)"""
    x, y, params = network(14, 0)
    cache = reference.fprop(x, y, params)
    grads = run_bprop(submission, cache)
    numeric = numerical_gradient(lambda p: reference.fprop(x, y, p)["loss"], params)
    wrong = [k for k in PARAMS if grads[k].shape != numeric[k].shape
             or not np.allclose(grads[k], numeric[k], rtol=1e-5, atol=1e-8)]
    if wrong:
        hint = diagnose(cache, grads, wrong) or "backpropagate through exactly the forward pass"
        raise CheckFailure(
            "the gradient(s) " + ", ".join(f"'{k}'" for k in wrong) + " disagree with the loss's "
            "rate of change (central differences, h=1e-6):\n"
            + "\n".join(f"{k}: yours {np.array2string(grads[k], precision=6, separator=', ')} "
                        f"(shape {grads[k].shape}), numerical "
                        f"{np.array2string(numeric[k], precision=6, separator=', ')} (shape {numeric[k].shape})"
                        for k in wrong)
            + f"\nhint: {hint}")


def agrees(own, want):
    """Whether the student's cache holds the reference cache's values (the loss as any size-1 value)."""
    if not isinstance(own, dict):
        return False
    for key, value in want.items():
        if key not in own:
            return False
        try:
            got = as_numeric(own[key])
        except CheckFailure:
            return False
        value = np.asarray(value, dtype=float)
        if key == "loss":
            got, value = got.reshape(-1), value.reshape(-1)
        if got.shape != value.shape or not np.allclose(got, value, rtol=1e-7, atol=1e-12):
            return False
    return True


@pytest.mark.problem("bprop", points=2)
def test_consistent_with_own_fprop(submission, reference, feedback):
    """bprop on your own fprop's cache agrees with the rate of change of your own loss"""
    x, y, params = network(15, 0)
    directions = np.random.default_rng(16)
    directions = {k: directions.normal(size=v.shape) for k, v in params.items()}
    own = submission.run("fprop", [x, y, params])
    want = reference.fprop(x, y, params)
    if own.ok and agrees(own.value, want):
        cache = own.value

        def loss(p):
            return float(as_numeric(call_student(submission, "fprop", [x, y, p])["loss"]).reshape(-1)[0])
        whose = "your own"
    else:
        cache = want

        def loss(p):
            return reference.fprop(x, y, p)["loss"]
        whose = "the reference's"
        feedback.note("your fprop's cache differs from the reference's (fprop loses points in its own "
                      "problem), so bprop was checked on the reference's cache and loss")
    result = submission.run("bprop", [cache])
    if not result.ok:
        raise CheckFailure(f"on {whose} cache: " + explain(result, submission.load_problems_for("bprop")))
    grads = grads_of(result.value)
    h = 1e-5
    wrong = []
    for key in PARAMS:
        step = {k: v + (h * directions[k] if k == key else 0) for k, v in params.items()}
        back = {k: v - (h * directions[k] if k == key else 0) for k, v in params.items()}
        numeric = (loss(step) - loss(back)) / (2 * h)
        if grads[key].shape != params[key].shape:
            wrong.append(f"'{key}' has shape {grads[key].shape}, {key} has {params[key].shape}")
            continue
        analytic = float(np.sum(grads[key] * directions[key]))
        if not np.isclose(analytic, numeric, rtol=1e-5, atol=1e-8):
            wrong.append(f"along a random direction in {key} the loss changes at rate {numeric:.8g}, "
                         f"the gradient '{key}' says {analytic:.8g}")
    if wrong:
        hint = diagnose(cache, grads, PARAMS) or "differentiate exactly the loss your fprop computes"
        raise CheckFailure(f"on {whose} cache the gradients disagree with {whose} loss:\n"
                           + "\n".join(wrong) + f"\nhint: {hint}")
