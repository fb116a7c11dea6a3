"""Hidden checks for softmax_cross_entropy(scores, y) -> (loss, dscores).

The loss is the cross-entropy of softmax(scores) averaged over the N examples; y holds integer
class indices; dscores = (softmax(scores) - onehot(y)) / N. Loss and gradient are compared with
the reference at rtol 1e-9, and the gradient with central differences of the student's own loss
(computed here, one call per perturbed score). A wrong softmax_forward / softmax_backward does
not cost points here: see own_or_standins.
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, StudentError, as_numeric, assert_close, explain, show
from grader.checks.standins import own_or_standins

HELPERS = ("softmax_forward", "softmax_backward")
RTOL, ATOL = 1e-9, 1e-13
LOG_SUM_EXP = ("log(softmax(...)) underflows to log(0) for a confident wrong prediction: use log-sum-exp, "
               "log-probabilities as shifted - log(sum(exp(shifted))) with shifted = scores - row max")


def case(seed, n, c, scale=2.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, c)) * scale, rng.integers(0, c, size=n)


def probabilities(scores):
    e = np.exp(scores - np.max(scores, axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def diagnose_loss(scores, y, loss, expected):
    n = scores.shape[0]
    p = probabilities(scores)
    with np.errstate(all="ignore"):
        if not np.isfinite(loss) and np.isfinite(expected):
            return LOG_SUM_EXP
        variants = [
            (expected * n, f"the loss is summed over the {n} examples: average it (divide by N)"),
            (-expected, "the sign is flipped: the loss is -mean(log p[correct class])"),
            (-np.mean(np.log(p[:, y])), "p[:, y] picks whole columns (an N x N block): pick each "
                                        "example's own class with p[np.arange(N), y]"),
            (-np.mean(np.log(p)), "the loss must use only each example's correct class, p[np.arange(N), y]"),
            (-np.sum(np.log(p[:, y])) / n, "p[:, y] picks whole columns: use p[np.arange(N), y]"),
        ]
    for value, hint in variants:
        if np.isfinite(value) and np.isclose(loss, value, rtol=1e-7):
            return hint
    return None


def diagnose_gradient(scores, y, got, expected):
    n = scores.shape[0]
    p = probabilities(scores)
    try:
        got = as_numeric(got)
    except CheckFailure:
        return None
    if got.shape != scores.shape:
        return f"dscores must have the shape of scores, {scores.shape}"
    columns = p.copy()
    columns[:, y] -= 1
    everywhere = p - 1
    variants = [
        (expected * n, f"dscores is not divided by N = {n}: the loss is a mean over the examples, "
                       "so its gradient is (p - onehot(y)) / N"),
        (-expected, "the sign is flipped: dscores = (p - onehot(y)) / N"),
        (p / n, "subtract 1 at each example's correct class: dscores[np.arange(N), y] -= 1"),
        (p, "subtract 1 at each example's correct class and divide by N"),
        (columns / n, "dscores[:, y] -= 1 changes whole columns: use dscores[np.arange(N), y] -= 1"),
        (columns, "dscores[:, y] -= 1 changes whole columns: use dscores[np.arange(N), y] -= 1"),
        (everywhere / n, "subtract 1 only at each example's correct class, not everywhere"),
    ]
    for value, hint in variants:
        if np.allclose(got, value, rtol=1e-7, atol=1e-13):
            return hint
    return None


def pair(result):
    if not result.ok:
        raise StudentError(explain(result), result)
    value = result.value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise CheckFailure(f"softmax_cross_entropy must return (loss, dscores); it returned {show(value, 200)}")
    loss = as_numeric(value[0], "the loss")
    if loss.size != 1:
        raise CheckFailure(f"the loss must be a single number; it has shape {loss.shape}\n"
                           "hint: average the per-example losses into one number")
    return float(loss.reshape(())), value[1]


def judge_factory(reference, scores, y, part):
    expected_loss, expected_grad = reference.softmax_cross_entropy(scores, y)

    def judge(result):
        loss, grad = pair(result)
        if part in ("loss", "both"):
            assert_close(loss, expected_loss, rtol=RTOL, what="the loss",
                         hint=diagnose_loss(scores, y, loss, expected_loss))
        if part in ("grad", "both"):
            assert_close(grad, expected_grad, rtol=RTOL, atol=ATOL, what="dscores",
                         hint=diagnose_gradient(scores, y, grad, expected_grad))
        return None

    return judge


def grade(submission, reference, feedback, scores, y, part):
    own_or_standins(submission, reference, "softmax_cross_entropy", [scores, y], HELPERS,
                    judge_factory(reference, scores, y, part), feedback)


@pytest.mark.problem("softmax_cross_entropy", points=2)
def test_loss(submission, reference, feedback):
    """the loss of a 6 x 4 batch of scores (mean cross-entropy over the examples)"""
    grade(submission, reference, feedback, *case(20, 6, 4), "loss")


@pytest.mark.problem("softmax_cross_entropy", points=2)
def test_gradient(submission, reference, feedback):
    """dscores of a 6 x 4 batch of scores"""
    grade(submission, reference, feedback, *case(20, 6, 4), "grad")


@pytest.mark.problem("softmax_cross_entropy", points=1)
def test_more_examples_than_classes(submission, reference, feedback):
    """loss and dscores for 7 examples of 3 classes (label indexing mistakes show here)"""
    grade(submission, reference, feedback, *case(21, 7, 3), "both")


@pytest.mark.problem("softmax_cross_entropy", points=1)
def test_square_batch(submission, reference, feedback):
    """loss and dscores for 4 examples of 4 classes"""
    grade(submission, reference, feedback, *case(22, 4, 4), "both")


@pytest.mark.problem("softmax_cross_entropy", points=1)
def test_confident_wrong_prediction(submission, reference, feedback):
    """a confident wrong prediction (a score gap of 800) gives a finite loss, about 400 here"""
    scores = np.array([[800.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    grade(submission, reference, feedback, scores, np.array([1, 2]), "both")


def numerical_check(submission, standins, scores, y):
    """The student's own dscores against central differences of their own loss."""
    h = 1e-5

    def loss_at(point):
        result = submission.run("softmax_cross_entropy", [point, y], standins=standins)
        return pair(result)

    numeric = np.zeros_like(scores)
    for index in np.ndindex(*scores.shape):
        plus, minus = scores.copy(), scores.copy()
        plus[index] += h
        minus[index] -= h
        numeric[index] = (loss_at(plus)[0] - loss_at(minus)[0]) / (2 * h)
    _, grad = loss_at(scores)  # last, so a failure shows this call's input
    grad = as_numeric(grad, "dscores")
    if grad.shape != scores.shape:
        raise CheckFailure(f"dscores has shape {grad.shape}, expected {scores.shape}")
    n = scores.shape[0]
    hint = "dscores must be the derivative of exactly the loss you return"
    if np.allclose(grad, numeric * n, rtol=1e-5, atol=1e-8):
        hint = f"dscores is N = {n} times the gradient of your loss: divide it by N as the loss does"
    elif np.allclose(grad * n, numeric, rtol=1e-5, atol=1e-8):
        hint = f"your loss is summed over the examples but dscores is averaged: the loss must be the mean"
    elif np.allclose(grad, -numeric, rtol=1e-5, atol=1e-8):
        hint = "dscores has the wrong sign for your loss"
    assert_close(grad, numeric, rtol=1e-5, atol=1e-8,
                 what="dscores (against the numerical gradient of your own loss)", hint=hint)


@pytest.mark.problem("softmax_cross_entropy", points=2)
def test_gradient_matches_own_loss(submission, reference, feedback):
    """dscores agrees with central differences of your own loss, computed by the grader"""
    scores, y = case(23, 3, 4)
    try:
        numerical_check(submission, None, scores, y)
    except CheckFailure as failure:
        try:
            numerical_check(submission, {name: getattr(reference, name) for name in HELPERS}, scores, y)
        except CheckFailure:
            raise failure from None
        feedback.note("consistent once the reference softmax_forward and softmax_backward stand in for yours")
