"""Hidden checks for fprop(x, y, params): the forward pass of a two-layer network.

z1 = W1 x + b1, a1 = relu(z1), z2 = W2 a1 + b2, a2 = sigmoid(z2),
loss = -(y log a2 + (1 - y) log(1 - a2)), on a column vector x of shape (4, 1) with 5 hidden
units. fprop returns the cache: a dict holding x, y, z1, a1, z2, a2, loss and the parameters
W1, b1, W2, b2 (bprop(cache) reads everything it needs from it). Values are compared with the
reference at rtol 1e-7; column vectors must stay (h, 1).
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, as_numeric, assert_close, call_student

N_IN, HIDDEN = 4, 5
KEYS = ("x", "y", "z1", "a1", "z2", "a2", "loss", "W1", "b1", "W2", "b2")
PARAMS = ("W1", "b1", "W2", "b2")


def network(seed, y):
    """x (4, 1), the label y and params W1 (5, 4), b1 (5, 1), W2 (1, 5), b2 (1, 1)."""
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(HIDDEN, N_IN)), "b1": rng.normal(size=(HIDDEN, 1)),
              "W2": rng.normal(size=(1, HIDDEN)), "b2": rng.normal(size=(1, 1))}
    return rng.normal(size=(N_IN, 1)), y, params


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def cache_of(value, needed):
    """The student's cache as a dict, with the keys ``needed`` present."""
    if not isinstance(value, dict):
        if isinstance(value, (tuple, list)) and any(isinstance(v, dict) for v in value):
            raise CheckFailure("fprop returned a tuple holding a dict\nhint: fprop returns the cache "
                               "dict itself, with the loss in it under 'loss'")
        raise CheckFailure(f"fprop must return the cache as a dict; it returned "
                           f"{getattr(value, 'type_name', type(value).__name__)}\n"
                           f"hint: return {{'x': x, 'y': y, 'z1': z1, 'a1': a1, 'z2': z2, 'a2': a2, "
                           f"'loss': loss, 'W1': W1, 'b1': b1, 'W2': W2, 'b2': b2}}")
    missing = [k for k in needed if k not in value]
    if missing:
        raise CheckFailure(f"the cache fprop returned has no {', '.join(repr(k) for k in missing)} "
                           f"(it has {', '.join(repr(k) for k in value) or 'no keys'})\n"
                           f"hint: the cache holds the keys {', '.join(KEYS)}")
    return value


def shape_error_hint(result):
    message = (result.error or {}).get("message", "")
    if "converted to Python scalars" in message:
        return ("a2 is a (1, 1) array: turn the loss into a number with .item() or np.sum(...), "
                "not float(...) (NumPy 2 refuses float() of a (1, 1) array)")
    if "mismatch" in message or "broadcast" in message or "not aligned" in message:
        return ("check the shapes: x is an (n, 1) column, W1 is (h, n), b1 is (h, 1), W2 is (1, h) and "
                "b2 is (1, 1), so z1 = W1 @ x + b1 and a1 are (h, 1) and z2 = W2 @ a1 + b2 is (1, 1)")
    return None


def run_fprop(submission, x, y, params, needed):
    return cache_of(call_student(submission, "fprop", [x, y, params], error_hint=shape_error_hint), needed)


def column_hint(name, got, want, source):
    """A hint for a cache entry of the wrong shape (or None)."""
    if got.shape == want.shape:
        return None
    h = want.shape[0]
    if got.shape == (h,):
        return f"keep column vectors: {name} = {source} has shape ({h}, 1), not ({h},)"
    if got.shape == (1, h) and h > 1:
        return f"{name} came back as a row: {source} is a column of shape ({h}, 1), not x.T @ W1.T"
    if got.shape == (h, h) and h > 1:
        return (f"a ({h},) vector plus a ({h}, 1) column broadcasts to ({h}, {h}): keep b1 and "
                "W1 @ x as columns")
    return None


def diagnose_hidden(x, params, z1, a1):
    W1, b1 = params["W1"], params["b1"]
    right_z1 = W1 @ x + b1
    hint = column_hint("z1", z1, right_z1, "W1 @ x + b1")
    if hint:
        return hint
    if not np.allclose(z1, right_z1, rtol=1e-7):
        if np.allclose(z1, W1 @ x, rtol=1e-7):
            return "z1 = W1 @ x + b1: the bias b1 is missing"
        return None
    hint = column_hint("a1", a1, right_z1, "relu(z1)")
    if hint:
        return hint
    variants = [(_sigmoid(z1), "a1 = relu(z1) = np.maximum(z1, 0), not the sigmoid"),
                (z1, "a1 = relu(z1) = np.maximum(z1, 0): the relu is missing"),
                ((z1 > 0).astype(float), "relu(z1) is np.maximum(z1, 0), not the indicator (z1 > 0)"),
                (np.abs(z1), "relu(z1) is np.maximum(z1, 0), not |z1|"),
                (np.minimum(z1, 0), "relu(z1) is np.maximum(z1, 0), not np.minimum")]
    for value, hint in variants:
        if np.allclose(a1, value, rtol=1e-7):
            return hint
    return None


def diagnose_output(params, cache, z2, a2):
    W2, b2 = params["W2"], params["b2"]
    a1 = as_numeric(cache["a1"], "cache['a1']")
    try:
        own_z2 = W2 @ a1 + b2
    except ValueError:
        own_z2 = None
    if own_z2 is not None and own_z2.shape == z2.shape and np.allclose(z2, own_z2, rtol=1e-7):
        return "z2 follows from your a1, which is wrong (see the hidden-layer check)"
    if own_z2 is not None and own_z2.shape == z2.shape and np.allclose(z2, W2 @ a1, rtol=1e-7):
        return "z2 = W2 @ a1 + b2: the bias b2 is missing"
    if z2.shape == a2.shape:
        if np.allclose(a2, z2, rtol=1e-7):
            return "a2 = sigmoid(z2): the sigmoid is missing"
        if np.allclose(a2, _sigmoid(-z2), rtol=1e-7):
            return "sign error: sigmoid(z) = 1 / (1 + exp(-z))"
        if np.allclose(a2, np.maximum(z2, 0), rtol=1e-7):
            return "the output is a2 = sigmoid(z2), not relu(z2)"
    return None


def diagnose_loss(y, a2_own, a2, loss):
    variants = [(-y * np.log(a2), "the binary cross-entropy is -(y log a2 + (1 - y) log(1 - a2)): "
                                  "the (1 - y) log(1 - a2) term is missing"),
                (-(1 - y) * np.log(1 - a2), "the binary cross-entropy is -(y log a2 + (1 - y) log(1 - a2)): "
                                            "the y log a2 term is missing"),
                (y * np.log(a2) + (1 - y) * np.log(1 - a2), "the loss is the negative log-likelihood: "
                                                            "-(y log a2 + (1 - y) log(1 - a2)), >= 0"),
                (-(y * np.log10(a2) + (1 - y) * np.log10(1 - a2)), "use the natural log np.log, not np.log10"),
                ((a2 - y) ** 2, "the loss is the binary cross-entropy, not the squared error"),
                (0.5 * (a2 - y) ** 2, "the loss is the binary cross-entropy, not the squared error")]
    for value, hint in variants:
        if np.isclose(loss, float(np.sum(value)), rtol=1e-7):
            return hint
    if a2_own is not None and a2_own.size == 1:
        own = float(-(y * np.log(a2_own) + (1 - y) * np.log(1 - a2_own)).sum())
        if np.isclose(loss, own, rtol=1e-7):
            return "the loss follows from your a2, which is wrong (see the output-layer check)"
    return None


def entry(cache, key):
    return as_numeric(cache[key], f"cache['{key}']")


@pytest.mark.problem("fprop", points=1)
@pytest.mark.parametrize("seed", [1, 2])
def test_hidden_layer(submission, reference, seed):
    """the hidden layer: z1 = W1 x + b1 and a1 = relu(z1), as (5, 1) columns"""
    x, y, params = network(seed, 1)
    cache = run_fprop(submission, x, y, params, ("z1", "a1"))
    want = reference.fprop(x, y, params)
    z1, a1 = entry(cache, "z1"), entry(cache, "a1")
    hint = diagnose_hidden(x, params, z1, a1)
    assert_close(z1, want["z1"], rtol=1e-7, atol=1e-12, what="cache['z1']", hint=hint)
    assert_close(a1, want["a1"], rtol=1e-7, atol=1e-12, what="cache['a1']", hint=hint)


@pytest.mark.problem("fprop", points=1)
@pytest.mark.parametrize("seed", [1, 2])
def test_output_layer(submission, reference, seed):
    """the output layer: z2 = W2 a1 + b2 and a2 = sigmoid(z2), each of shape (1, 1)"""
    x, y, params = network(seed, 1)
    cache = run_fprop(submission, x, y, params, ("z2", "a2"))
    want = reference.fprop(x, y, params)
    z2, a2 = entry(cache, "z2"), entry(cache, "a2")
    hint = diagnose_output(params, cache, z2, a2) if "a1" in cache else None
    assert_close(z2, want["z2"], rtol=1e-7, atol=1e-12, what="cache['z2']", hint=hint)
    assert_close(a2, want["a2"], rtol=1e-7, atol=1e-12, what="cache['a2']", hint=hint)


@pytest.mark.problem("fprop", points=1)
@pytest.mark.parametrize("y", [1, 0], ids=["y=1", "y=0"])
def test_loss(submission, reference, y):
    """the binary cross-entropy -(y log a2 + (1 - y) log(1 - a2))"""
    x, y, params = network(3, y)
    cache = run_fprop(submission, x, y, params, ("loss",))
    loss = entry(cache, "loss")
    if loss.size != 1:
        raise CheckFailure(f"cache['loss'] must be a single number; it has shape {loss.shape}")
    loss = float(loss.reshape(-1)[0])
    want = reference.fprop(x, y, params)
    a2_own = entry(cache, "a2") if "a2" in cache else None
    assert_close(loss, want["loss"], rtol=1e-7, what=f"the loss for y = {y}",
                 hint=diagnose_loss(y, a2_own, want["a2"], loss))


@pytest.mark.problem("fprop", points=1)
def test_cache_carries_inputs(submission):
    """the cache carries x, y and W1, b1, W2, b2 unchanged, for bprop"""
    x, y, params = network(4, 0)
    cache = run_fprop(submission, x, y, params, ("x", "y") + PARAMS)
    for key, want in [("x", x), ("y", y)] + [(k, params[k]) for k in PARAMS]:
        assert_close(entry(cache, key), want, rtol=0, atol=0, scale_atol=0, what=f"cache['{key}']",
                     hint="store the inputs in the cache as they came: bprop(cache) needs them")
