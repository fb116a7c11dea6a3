"""Hidden checks for softmax_forward: row-wise softmax of an (N, C) batch, and its cache.

softmax_forward(x) returns (out, cache) with cache = {"x": x, "out": out}. Every value is
compared with the reference at rtol 1e-9; a failure that matches a known bug says which one
(``diagnose_forward`` for wrong values, ``diagnose_error`` for exceptions).
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, StudentError, as_numeric, assert_close, explain, show

RTOL = 1e-9
ROW_MAX = "subtract each row's maximum (np.max(x, axis=1, keepdims=True)) before exp"


def _rowwise(x, shift):
    with np.errstate(all="ignore"):
        e = np.exp(x - shift)
        return e / e.sum(axis=1, keepdims=True)


def diagnose_forward(x, got):
    """The likely bug behind a wrong ``out``, in one sentence (or None)."""
    try:
        got = as_numeric(got)
    except CheckFailure:
        return None
    if got.shape != x.shape:
        if got.shape == (x.shape[0],) or got.shape == (x.shape[1],):
            return "the output must keep the input's (N, C) shape: do not sum or squeeze it away"
        return f"the output must keep the input's shape {x.shape}"
    with np.errstate(all="ignore"):
        if not np.all(np.isfinite(got)):
            pattern = np.isfinite(got)
            if not np.array_equal(pattern, np.isfinite(_rowwise(x, 0.0))) and \
                    np.array_equal(pattern, np.isfinite(_rowwise(x, np.max(x)))):
                return ("you subtracted the maximum of the whole batch: subtract each row's own "
                        "maximum, or rows far below it underflow to 0/0")
            return "exp overflowed (or underflowed to 0/0) without subtracting the max: " + ROW_MAX
        rows, columns = got.sum(axis=1), got.sum(axis=0)
        if np.allclose(columns, 1.0) and not np.allclose(rows, 1.0):
            return "normalised over the wrong axis: each row (one example, axis 1) must sum to 1, not each column"
        if np.isclose(got.sum(), 1.0) and not np.allclose(rows, 1.0):
            return "normalised over the whole batch: each row must sum to 1 on its own"
        if x.shape[0] == x.shape[1]:
            shifted = x - np.max(x, axis=1)
            e = np.exp(shifted)
            if np.allclose(got, e / e.sum(axis=1)) or np.allclose(got, np.exp(x) / np.exp(x).sum(axis=1)):
                return ("the row maximum or row sum broadcasts along the wrong axis: keep them as "
                        "columns with keepdims=True")
        if np.allclose(rows, rows.flat[0]) and 1e-13 < abs(1 - rows.flat[0]) < 1e-3:
            return f"rows sum to {rows.flat[0]:.12g}, not 1: is there an epsilon in the denominator?"
    return None


def diagnose_error(x):
    def hint(result):
        message = (result.error or {}).get("message", "")
        if "could not be broadcast" in message:
            return ("keep the row maximum and the row sum as columns (np.max(x, axis=1, "
                    "keepdims=True)) so they broadcast over each row")
        return None

    return hint


def forward(submission, x):
    """The student's (out, cache) for x, with failures explained."""
    result = submission.run("softmax_forward", [x])
    if not result.ok:
        hint = diagnose_error(x)(result)
        raise StudentError(explain(result, submission.load_problems_for("softmax_forward"))
                           + (f"\nhint: {hint}" if hint else ""), result, [hint] if hint else [])
    return unpack(result.value)


def unpack(value):
    if isinstance(value, np.ndarray):
        raise CheckFailure("softmax_forward returned an array; it must return the pair (out, cache)\n"
                           "hint: return out, {'x': x, 'out': out}")
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise CheckFailure(f"softmax_forward must return the pair (out, cache); it returned {show(value, 200)}")
    return value[0], value[1]


def check_out(submission, reference, x):
    out, cache = forward(submission, x)
    expected, _ = reference.softmax_forward(x)
    assert_close(out, expected, rtol=RTOL, what="out", hint=diagnose_forward(x, out))
    return out, cache


@pytest.mark.problem("softmax_forward", points=1)
def test_small_batch(submission, reference):
    """a 4 x 5 batch of logits is normalised row by row"""
    check_out(submission, reference, np.random.default_rng(1).normal(size=(4, 5)) * 3)


@pytest.mark.problem("softmax_forward", points=1)
def test_square_batch(submission, reference):
    """a square 5 x 5 batch is normalised row by row (axis and broadcasting mistakes show here)"""
    check_out(submission, reference, np.random.default_rng(2).normal(size=(5, 5)) * 2)


@pytest.mark.problem("softmax_forward", points=1)
def test_tall_batch(submission, reference):
    """an 8 x 3 batch (more examples than classes) is normalised row by row"""
    check_out(submission, reference, np.random.default_rng(3).normal(size=(8, 3)))


@pytest.mark.problem("softmax_forward", points=0.5)
def test_single_example_keeps_shape(submission, reference):
    """a batch of one example, shape (1, 4), comes back as shape (1, 4)"""
    check_out(submission, reference, np.array([[0.5, -1.0, 2.0, 0.0]]))


@pytest.mark.problem("softmax_forward", points=1.5)
def test_large_logits_stay_finite(submission, reference):
    """logits in the +-1000s stay finite and exact, each row with its own maximum"""
    x = np.array([[1001.0, 1002.0, 1000.0], [3.0, 4.0, 5.0], [-1000.0, -1001.0, -999.0]])
    check_out(submission, reference, x)


@pytest.mark.problem("softmax_forward", points=1)
def test_widely_spread_rows_stay_finite(submission, reference):
    """rows whose logits spread over more than a thousand stay finite and exact"""
    # From each row's maximum, exp only underflows to 0 (harmless); from any other shift,
    # such as the row's minimum, exp(559 - (-942.4)) overflows to inf and inf / inf is NaN.
    x = np.array([[559.0, -366.8, -942.4], [3.0, -2.0, 1.0], [-800.0, 100.0, 0.0]])
    check_out(submission, reference, x)


@pytest.mark.problem("softmax_forward", points=0.5)
def test_rows_sum_to_one(submission, reference):
    """every row of a 6 x 7 batch of spread-out logits sums to 1 within 1e-12"""
    x = np.random.default_rng(4).normal(size=(6, 7)) * 10
    out, _ = check_out(submission, reference, x)
    sums = as_numeric(out).sum(axis=1)
    if not np.all(np.abs(sums - 1.0) <= 1e-12):
        worst = sums[np.argmax(np.abs(sums - 1))]
        raise CheckFailure(f"a row sums to {worst:.15g}, not 1 within 1e-12\n"
                           "hint: is there an epsilon in the denominator?")


@pytest.mark.problem("softmax_forward", points=1.5)
def test_cache_holds_input_and_output(submission, reference):
    """the cache is the dict {"x": x, "out": out} the backward pass needs"""
    x = np.random.default_rng(5).normal(size=(3, 4))
    out, cache = check_out(submission, reference, x)
    expected, _ = reference.softmax_forward(x)
    if not isinstance(cache, dict):
        raise CheckFailure(f"the cache is {show(cache, 200)}, not a dict\n"
                           "hint: return the cache as the dict {'x': x, 'out': out}")
    if "out" not in cache:
        raise CheckFailure(f"the cache has no 'out' (its keys: {sorted(cache)})\nhint: the cache is "
                           "missing the output: keep the softmax output in it as cache['out'], "
                           "the backward pass needs it (dx = out * (dout - sum(dout * out)))")
    if "x" not in cache:
        raise CheckFailure(f"the cache has no 'x' (its keys: {sorted(cache)})\n"
                           "hint: keep the input in the cache as cache['x']")
    assert_close(cache["out"], expected, rtol=RTOL, what="cache['out']",
                 hint="cache['out'] must be the softmax output that softmax_forward returns")
    assert_close(cache["x"], x, rtol=0, atol=0, scale_atol=0, what="cache['x']",
                 hint="cache['x'] must be the input x as it was given (not shifted, not changed in place)")


@pytest.mark.problem("softmax_forward", points=1)
def test_input_left_unchanged(submission, reference):
    """softmax_forward leaves its input x as it found it"""
    x = np.random.default_rng(6).normal(size=(4, 3)) * 4
    result = submission.run("softmax_forward", [x.copy()], return_args=True)
    if not result.ok:
        raise StudentError(explain(result, submission.load_problems_for("softmax_forward")), result)
    after = result.args_after[0] if result.args_after else None
    try:
        unchanged = np.array_equal(as_numeric(after), x)
    except CheckFailure:
        unchanged = False
    if not unchanged:
        raise CheckFailure("softmax_forward changed its input x\n"
                           "hint: x -= x.max(...) shifts the caller's array in place: write "
                           "shifted = x - np.max(x, axis=1, keepdims=True) instead")
