"""Public check for forward_backward_prop on a tiny network whose answer is written out.

Dimensions (Dx, H, Dy) = (2, 2, 3), two examples; the gradient is flattened in the order W1, b1,
W2, b2. The cost may be summed over examples or averaged (the gradient then follows suit).
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, StudentError, assert_close, as_numeric, as_scalar, explain
from grader.checks.standins import own_or_standins

DATA = np.array([[0.5, -1.0], [1.5, 0.25]])
LABELS = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
PARAMS = np.array([0.1, -0.2, 0.3, 0.4, 0.05, -0.05,
                   0.2, -0.1, 0.3, -0.4, 0.5, 0.1, 0.0, 0.1, -0.1])
COST_SUM = 2.344609518621222
GRAD_SUM = np.array([-0.07749478792, 0.064685197184, 0.009359723404, -0.117551490848,
                     -0.06537120511, 0.122097222971, -0.161746950567, 0.393433312817,
                     -0.23168636225, -0.13819099029, 0.31044936457, -0.17225837428,
                     -0.432740064306, 0.772485393272, -0.339745328966])


def judge(result):
    if not result.ok:
        raise StudentError(explain(result), result)
    value = result.value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise CheckFailure("forward_backward_prop must return (cost, grad)")
    cost, grad = as_scalar(value[0], "the cost"), value[1]
    scale = 1.0 if abs(cost - COST_SUM) <= 1e-6 * COST_SUM else 0.5
    if abs(cost - COST_SUM * scale) > 1e-6 * COST_SUM:
        raise CheckFailure(f"the cost is {cost!r}; expected {COST_SUM!r} (summed over the two "
                           f"examples) or {COST_SUM / 2!r} (averaged)")
    assert_close(grad, GRAD_SUM * scale, rtol=1e-6, atol=1e-9, what="the gradient",
                 hint="flatten the gradient in the order W1, b1, W2, b2")


@pytest.mark.problem("forward_backward_prop", points=1, visibility="visible")
def test_public_tiny_network(submission, reference, feedback):
    """public: cost and gradient of a 2-2-3 network on two examples"""
    args = [DATA, LABELS, PARAMS, [2, 2, 3]]
    if reference is None:  # a students' copy: no reference helpers to stand in for theirs
        judge(submission.run("forward_backward_prop", args))
    else:  # a wrong softmax/sigmoid/sigmoid_grad costs its own problem, not this one
        own_or_standins(submission, reference, "forward_backward_prop", args,
                        ("softmax", "sigmoid", "sigmoid_grad"), judge, feedback)
