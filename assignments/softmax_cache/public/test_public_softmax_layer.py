"""Public checks for softmax_forward and softmax_backward: students may read these and run them
with `grader run . --public`.

Public checks hold their expected values in the file, so they need no reference solution (the
students' copy of the grader has none). They count toward the problem's points.
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, assert_close, show

X = np.array([[1.0, 2.0, 3.0], [1001.0, 1000.0, 999.0]])
OUT = [[0.09003057317038046, 0.24472847105479764, 0.6652409557748218],
       [0.6652409557748218, 0.24472847105479764, 0.09003057317038046]]

X_B = np.array([[0.5, -1.0, 2.0], [0.0, 1.0, -0.5]])
OUT_B = np.array([[0.1752903921400367, 0.039112573270687456, 0.7855970345892759],
                  [0.23122389762214907, 0.6285317192117624, 0.14024438316608848]])
DOUT_B = np.array([[1.0, -2.0, 0.5], [0.25, 0.0, -1.0]])
DX_B = [[0.08942198104727624, -0.09738497886019377, 0.007962997812917543],
        [0.07686770459291983, 0.05181515478735127, -0.1286828593802711]]


@pytest.mark.problem("softmax_forward", points=1, visibility="visible")
def test_public_forward(submission):
    """public: softmax_forward of [[1, 2, 3], [1001, 1000, 999]] and its cache {"x": x, "out": out}"""
    value = submission.softmax_forward(X)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise CheckFailure(f"softmax_forward must return the pair (out, cache); it returned {show(value, 200)}")
    out, cache = value
    assert_close(out, OUT, rtol=1e-9, what="out",
                 hint="work row by row, and subtract each row's maximum before exp")
    if not isinstance(cache, dict) or "x" not in cache or "out" not in cache:
        raise CheckFailure(f"the cache is {show(cache, 200)}\nhint: return the cache as the dict "
                           "{'x': x, 'out': out}")
    assert_close(cache["out"], OUT, rtol=1e-9, what="cache['out']",
                 hint="cache['out'] must be the softmax output that softmax_forward returns")
    assert_close(cache["x"], X, rtol=0, what="cache['x']",
                 hint="cache['x'] must be the input as it was given: do not shift x in place (x -= ...)")


@pytest.mark.problem("softmax_backward", points=1, visibility="visible")
def test_public_backward(submission):
    """public: softmax_backward of a 2 x 3 upstream gradient, given the cache {"x": x, "out": out}"""
    dx = submission.softmax_backward(DOUT_B, {"x": X_B, "out": OUT_B})
    assert_close(dx, DX_B, rtol=1e-8, atol=1e-12, what="dx",
                 hint="dx = out * (dout - np.sum(dout * out, axis=1, keepdims=True))")
