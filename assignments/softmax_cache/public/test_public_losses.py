"""Public checks for softmax_cross_entropy and two_layer_loss on inputs whose answers are
written out (no reference solution needed). With the reference installed (the full grading), a
wrong softmax helper of yours stands aside for the reference's, so it costs only its own problem.
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, StudentError, as_numeric, assert_close, explain, show
from grader.checks.standins import own_or_standins

SCORES = np.array([[2.0, 1.0, -1.0], [0.5, 0.5, 3.0]])
LABELS = np.array([0, 1])
CE_LOSS = 1.5005103005796607
CE_GRAD = [[-0.1473077436508794, 0.12974823017120957, 0.017559513479669865],
           [0.03525473033060252, -0.4647452696693975, 0.4294905393387949]]

X = np.array([[1.0, -0.5], [0.25, 2.0]])
Y = np.array([1, 0])
PARAMS = {"W1": np.array([[0.5, -0.25, 1.0], [0.75, 0.5, -0.5]]), "b1": np.array([0.1, 0.2, -0.3]),
          "W2": np.array([[1.0, -1.0], [0.5, 0.25], [-0.75, 0.5]]), "b2": np.array([0.05, -0.05])}
REG = 0.1
NET_LOSS = 0.7873724442398249
NET_GRADS = {
    "W1": [[0.4405225045154072, -0.05066117271541873, -0.016132428899223145],
           [-0.06522099690617705, 0.09471061827665023, 0.008066214449611572]],
    "b1": [0.34465435934535776, 0.03735530913832512, -0.2761324288992232],
    "W2": [[0.22065547025630333, -0.22065547025630325], [0.0879666565793792, 0.062033343420620876],
           [0.014260645963409563, -0.06426064596340958]],
    "b2": [0.1723271796726789, -0.17232717967267885],
}


def pair(result, name, first, second):
    if not result.ok:
        raise StudentError(explain(result), result)
    value = result.value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise CheckFailure(f"{name} must return ({first}, {second}); it returned {show(value, 200)}")
    loss = as_numeric(value[0], "the loss")
    if loss.size != 1:
        raise CheckFailure(f"the loss must be a single number; it has shape {loss.shape}")
    return float(loss.reshape(())), value[1]


def judge_cross_entropy(result):
    loss, dscores = pair(result, "softmax_cross_entropy", "loss", "dscores")
    assert_close(loss, CE_LOSS, rtol=1e-9, what="the loss",
                 hint="the loss is -mean(log p[np.arange(N), y]), averaged over the examples")
    assert_close(dscores, CE_GRAD, rtol=1e-8, atol=1e-12, what="dscores",
                 hint="dscores = (p - onehot(y)) / N")


def judge_network(result):
    loss, grads = pair(result, "two_layer_loss", "loss", "grads")
    assert_close(loss, NET_LOSS, rtol=1e-9, what="the loss",
                 hint="mean cross-entropy + reg * (sum of squares of W1, b1, W2 and b2)")
    if not isinstance(grads, dict) or sorted(grads) != sorted(NET_GRADS):
        raise CheckFailure(f"grads must be a dict with the keys W1, b1, W2, b2; it is {show(grads, 200)}")
    for key, expected in NET_GRADS.items():
        assert_close(grads[key], expected, rtol=1e-8, atol=1e-12, what=f"grads['{key}']",
                     hint="backpropagate the mean cross-entropy, then add 2 * reg * P to each gradient")


def run(submission, reference, feedback, function, args, helpers, judge):
    if reference is None:  # a students' copy: no reference helpers to stand in for theirs
        judge(submission.run(function, args))
    else:
        own_or_standins(submission, reference, function, args, helpers, judge, feedback)


@pytest.mark.problem("softmax_cross_entropy", points=1, visibility="visible")
def test_public_cross_entropy(submission, reference, feedback):
    """public: loss and dscores of two examples of three classes, labels [0, 1]"""
    run(submission, reference, feedback, "softmax_cross_entropy", [SCORES, LABELS],
        ("softmax_forward", "softmax_backward"), judge_cross_entropy)


@pytest.mark.problem("two_layer_loss", points=1, visibility="visible")
def test_public_tiny_network(submission, reference, feedback):
    """public: loss and gradients of a 2-3-2 network on two examples, reg = 0.1"""
    run(submission, reference, feedback, "two_layer_loss", [X, Y, PARAMS, REG],
        ("softmax_forward", "softmax_backward", "softmax_cross_entropy"), judge_network)
