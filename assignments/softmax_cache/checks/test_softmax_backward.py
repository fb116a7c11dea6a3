"""Hidden checks for softmax_backward(dout, cache): the gradient through the softmax Jacobian.

dx_i = out_i * (dout_i - sum_j dout_j * out_j), row by row. softmax_backward is handed the
reference's cache {"x": x, "out": out} (so a wrong softmax_forward costs only its own problem),
its own forward's cache, and is compared both with the reference and with numerical gradients
of sum(dout * softmax(x)) computed here, in the grader.
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, StudentError, as_numeric, assert_close, explain, show
from grader.checks.numeric import SCALE_ATOL

RTOL, ATOL = 1e-8, 1e-12
JACOBIAN = "dx = out * (dout - np.sum(dout * out, axis=1, keepdims=True))"


def softmax(x):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def case(seed, shape, scale=2.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape) * scale
    dout = rng.normal(size=shape)
    return x, dout


def diagnose_backward(x, out, dout, got):
    """The likely bug behind a wrong dx, in one sentence (or None)."""
    try:
        got = as_numeric(got)
    except CheckFailure:
        return None
    if got.shape != out.shape:
        return f"dx must have the shape of x, {out.shape}"
    weighted = np.sum(dout * out, axis=1, keepdims=True)
    variants = [
        (-out * (dout - weighted), "the sign is flipped: " + JACOBIAN),
        (dout * out, "the Jacobian is ignored (dout * out came back): the softmax mixes every "
                     "class of a row, so " + JACOBIAN),
        (dout * out * (1 - out), "only the diagonal of the Jacobian, out_i * (1 - out_i), is used: "
                                 "the off-diagonal terms -out_i * out_j are missing; " + JACOBIAN),
        (out * (dout - np.sum(dout * out, axis=0, keepdims=True)),
         "the sum runs over the examples (axis 0): it must run over each row, axis=1"),
        (out * (dout - np.sum(dout * out)), "the sum runs over the whole batch: it must run over each row"),
        (out * (dout - np.sum(dout, axis=1, keepdims=True)),
         "the row sum must weight dout by the output: sum_j dout_j * out_j, not sum_j dout_j"),
        (dout - weighted, "the result must be multiplied by out: " + JACOBIAN),
        (x * (dout - np.sum(dout * x, axis=1, keepdims=True)),
         "cache['x'] is used where the softmax output cache['out'] is needed"),
    ]
    if out.shape[0] == out.shape[1]:
        variants.append((out * (dout - np.sum(dout * out, axis=1)),
                         "the row sum broadcasts along the wrong axis: keep it a column with keepdims=True"))
    for value, hint in variants:
        if np.allclose(got, value, rtol=1e-6, atol=1e-12):
            return hint
    return None


def error_hint(result):
    message = (result.error or {}).get("message", "")
    if "could not be broadcast" in message:
        return "keep the row sum a column (keepdims=True) so it broadcasts over each row"
    kind = (result.error or {}).get("type")
    if kind == "KeyError":
        return "softmax_backward must work from the cache {'x': x, 'out': out} alone"
    if kind in ("TypeError", "UFuncTypeError", "IndexError") or "unpack" in message:
        return ("the cache is the dict {'x': x, 'out': out}: read the output as cache['out'] "
                "(unpacking the dict gives its keys, not its arrays)")
    return None


def backward(submission, dout, cache):
    result = submission.run("softmax_backward", [dout, cache])
    if not result.ok:
        hint = error_hint(result)
        raise StudentError(explain(result, submission.load_problems_for("softmax_backward"))
                           + (f"\nhint: {hint}" if hint else ""), result, [hint] if hint else [])
    return result.value


def check_on_reference_cache(submission, reference, x, dout):
    out, cache = reference.softmax_forward(x)
    got = backward(submission, dout, cache)
    assert_close(got, reference.softmax_backward(dout, cache), rtol=RTOL, atol=ATOL, what="dx",
                 hint=diagnose_backward(x, out, dout, got))
    return got


@pytest.mark.problem("softmax_backward", points=2)
def test_reference_cache(submission, reference):
    """dx for a 4 x 5 batch, given the reference's cache"""
    check_on_reference_cache(submission, reference, *case(10, (4, 5)))


@pytest.mark.problem("softmax_backward", points=2)
def test_matches_numerical_gradient(submission, reference):
    """dx agrees with central differences of sum(dout * softmax(x)), computed by the grader"""
    x, dout = case(11, (3, 4))
    out, cache = reference.softmax_forward(x)
    got = backward(submission, dout, cache)
    h = 1e-5
    numeric = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        numeric[index] = (np.sum(dout * softmax(plus)) - np.sum(dout * softmax(minus))) / (2 * h)
    assert_close(got, numeric, rtol=1e-5, atol=1e-8, what="dx (against the numerical gradient)",
                 hint=diagnose_backward(x, out, dout, got))


@pytest.mark.problem("softmax_backward", points=1.5)
def test_square_batch(submission, reference):
    """dx for a square 5 x 5 batch (axis and broadcasting mistakes show here)"""
    check_on_reference_cache(submission, reference, *case(12, (5, 5)))


@pytest.mark.problem("softmax_backward", points=0.5)
def test_large_batch(submission, reference):
    """dx for a 40 x 10 batch of spread-out logits"""
    check_on_reference_cache(submission, reference, *case(13, (40, 10), scale=6.0))


@pytest.mark.problem("softmax_backward", points=1)
def test_constant_upstream_gradient_gives_zero(submission, reference):
    """dout = all ones gives dx = 0 (each row of the softmax sums to 1 whatever x is)"""
    x = np.random.default_rng(14).normal(size=(3, 4))
    out, cache = reference.softmax_forward(x)
    dout = np.ones_like(x)
    got = backward(submission, dout, cache)
    assert_close(got, np.zeros_like(x), rtol=0, atol=1e-12, what="dx",
                 hint=diagnose_backward(x, out, dout, got) or
                 "a constant shift of a row's dout cannot change dx: " + JACOBIAN)


@pytest.mark.problem("softmax_backward", points=1)
def test_own_forward_cache(submission, reference, feedback):
    """dx from the cache your own softmax_forward built (forward and backward work as a pair)"""
    x, dout = case(15, (4, 3))
    expected_out, reference_cache = reference.softmax_forward(x)
    expected = reference.softmax_backward(dout, reference_cache)
    first = submission.run("softmax_forward", [x])
    try:
        if not first.ok:
            raise StudentError(explain(first, submission.load_problems_for("softmax_forward")), first)
        value = first.value
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise CheckFailure(f"softmax_forward must return (out, cache); it returned {show(value, 200)}")
        got = backward(submission, dout, value[1])
        assert_close(got, expected, rtol=RTOL, atol=ATOL, what="dx from your own cache",
                     hint=diagnose_backward(x, expected_out, dout, got))
        return
    except CheckFailure as failure:
        original = failure
    # Was it the forward pass's fault? Then the reference's cache must give the right dx.
    if first.ok and cache_is_right(first.value, x, expected_out):
        raise original
    try:
        got = backward(submission, dout, reference_cache)
        assert_close(got, expected, rtol=RTOL, atol=ATOL, what="dx")
    except CheckFailure:
        raise original from None
    feedback.note("softmax_backward is right on the reference's cache; the cache your "
                  "softmax_forward builds is wrong, which costs points in softmax_forward, not here")


def cache_is_right(value, x, out):
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not isinstance(value[1], dict):
        return False
    cache = value[1]
    try:
        # the reference's out to rtol 1e-9 (the forward check's tolerance), tail values within
        # assert_close's 1e-14 of the row scale, like every other comparison
        return (np.allclose(as_numeric(cache.get("out")), out, rtol=1e-9, atol=SCALE_ATOL * np.max(np.abs(out)))
                and np.array_equal(as_numeric(cache.get("x")), x))
    except (CheckFailure, ValueError):
        return False


@pytest.mark.problem("softmax_backward", points=1)
def test_inputs_left_unchanged(submission, reference):
    """softmax_backward leaves dout and the cache as it found them"""
    x, dout = case(16, (3, 5))
    _, cache = reference.softmax_forward(x)
    result = submission.run("softmax_backward", [dout.copy(), cache], return_args=True)
    if not result.ok:
        raise StudentError(explain(result, submission.load_problems_for("softmax_backward")), result)
    after = result.args_after or [None, None]
    changed = []
    try:
        if not np.array_equal(as_numeric(after[0]), dout):
            changed.append("dout")
    except CheckFailure:
        changed.append("dout")
    after_cache = after[1] if isinstance(after[1], dict) else {}
    for key in ("x", "out"):
        try:
            if not np.array_equal(as_numeric(after_cache.get(key)), cache[key]):
                changed.append(f"cache['{key}']")
        except CheckFailure:
            changed.append(f"cache['{key}']")
    if changed:
        raise CheckFailure(f"softmax_backward changed {' and '.join(changed)} in place\n"
                           "hint: in-place updates (dout -= ..., out *= ...) overwrite the caller's "
                           "arrays: compute dx into a new array")
