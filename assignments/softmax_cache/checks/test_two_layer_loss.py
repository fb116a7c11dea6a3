"""Hidden checks for two_layer_loss(X, y, params, reg) -> (loss, grads).

z1 = X W1 + b1, a1 = relu(z1), scores = a1 W2 + b2; the loss is the mean softmax cross-entropy
plus reg * (sum(W1**2) + sum(b1**2) + sum(W2**2) + sum(b2**2)) (biases included); grads is a
dict keyed and shaped like params; relu'(z) = 0 where z <= 0. Loss and gradients are compared
with the reference (rtol 1e-8) and the gradients with central differences of the student's own
loss. A wrong softmax_forward / softmax_backward / softmax_cross_entropy costs points in its
own problem only: see own_or_standins.
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, StudentError, as_numeric, assert_close, explain, show
from grader.checks.standins import own_or_standins

HELPERS = ("softmax_forward", "softmax_backward", "softmax_cross_entropy")
NAMES = ("W1", "b1", "W2", "b2")
RTOL, ATOL = 1e-8, 1e-12


def network(seed, n, d, h, c):
    """A reproducible batch, integer labels and parameters; no hidden unit sits at a ReLU kink."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, c, size=n)
    params = {"W1": rng.normal(size=(d, h)) * 0.8, "b1": rng.normal(size=h) * 0.3,
              "W2": rng.normal(size=(h, c)) * 0.8, "b2": rng.normal(size=c) * 0.3}
    z1 = X @ params["W1"] + params["b1"]
    assert np.min(np.abs(z1)) > 1e-3, "choose another seed: a hidden unit is at the ReLU's kink"
    return X, y, params


# ------------------------------------------------------------ the bugs, recomputed here

def variant(X, y, params, reg, *, reg_factor=1.0, grad_factor=2.0, biases=True, mean=True,
            mask=">", columns=False, reg_in_loss=True, reg_in_grad=True, dW2_from="a1"):
    """two_layer_loss as a student with one of the classic bugs computes it: (loss, grads)."""
    W1, b1, W2, b2 = (params[k] for k in NAMES)
    n = X.shape[0]
    z1 = X @ W1 + b1
    a1 = np.maximum(z1, 0)
    scores = a1 @ W2 + b2
    shifted = scores - scores.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    dscores = p.copy()
    if columns:
        data = -np.sum(logp[:, y])
        dscores[:, y] -= 1
    else:
        data = -np.sum(logp[np.arange(n), y])
        dscores[np.arange(n), y] -= 1
    if mean:
        data, dscores = data / n, dscores / n
    regularised = NAMES if biases else ("W1", "W2")
    loss = data + (reg_factor * reg * sum(np.sum(params[k] ** 2) for k in regularised) if reg_in_loss else 0)
    da1 = dscores @ W2.T
    dz1 = da1 * {">": z1 > 0, ">=": z1 >= 0, "none": np.ones_like(z1)}[mask]
    grads = {"W1": X.T @ dz1, "b1": dz1.sum(axis=0), "W2": {"a1": a1, "z1": z1}[dW2_from].T @ dscores, "b2": dscores.sum(axis=0)}
    if reg_in_grad:
        for k in regularised:
            grads[k] = grads[k] + grad_factor * reg * params[k]
    return loss, grads


LOSS_BUGS = [
    (dict(reg_in_loss=False), "the loss has no regularisation term: add reg * (the sum of squares "
                              "of W1, b1, W2 and b2)"),
    (dict(biases=False), "the biases are left out of the regulariser: this assignment's L2 term is "
                         "reg * the sum of squares of every weight AND bias (b1 and b2 too)"),
    (dict(reg_factor=0.5), "the regulariser is 0.5 * reg * sum of squares: this assignment uses "
                           "reg * sum of squares (no 1/2)"),
    (dict(mean=False), "the cross-entropy is summed over the examples: average it (divide by N)"),
    (dict(columns=True), "probs[:, y] picks whole columns (an N x N block): pick each example's "
                         "own class with probs[np.arange(N), y]"),
]

GRAD_BUGS = [
    (dict(reg_in_grad=False), "the gradient has no regularisation term: the gradient of "
                              "reg * sum(P**2) is 2 * reg * P, added to every gradient"),
    (dict(grad_factor=1.0), "the regularisation gradient is missing the factor 2: "
                            "d/dP (reg * sum(P**2)) = 2 * reg * P"),
    (dict(biases=False), "the biases are left out of the regulariser: db1 and db2 need "
                         "2 * reg * b1 and 2 * reg * b2 too"),
    (dict(mask=">="), "the ReLU's gradient must be 0 where z1 <= 0, including z1 == 0 exactly: "
                      "mask with (z1 > 0), not (z1 >= 0)"),
    (dict(mask="none"), "the ReLU's gradient is missing: multiply the upstream gradient by "
                        "(z1 > 0) before dW1 and db1"),
    (dict(mean=False), "the gradients are summed over the examples: divide by N, as the loss "
                       "averages over them"),
    (dict(columns=True), "dscores[:, y] -= 1 changes whole columns: use dscores[np.arange(N), y] -= 1"),
    (dict(dW2_from="z1"), "dW2 is built from the pre-activation z1: use the ReLU's output, "
                          "dW2 = a1.T @ dscores with a1 = np.maximum(z1, 0)"),
]


def diagnose_loss(X, y, params, reg, loss, expected):
    if not np.isfinite(loss):
        return "the loss is not finite: compute the cross-entropy with log-sum-exp"
    for bug, hint in LOSS_BUGS:
        value, _ = variant(X, y, params, reg, **bug)
        if not np.isclose(value, expected, rtol=1e-7) and np.isclose(loss, value, rtol=1e-7):
            return hint
    return None


def diagnose_grads(X, y, params, reg, grads, expected, wrong):
    for bug, hint in GRAD_BUGS:
        _, value = variant(X, y, params, reg, **bug)
        if any(not np.allclose(value[k], expected[k], rtol=1e-7, atol=1e-13) for k in NAMES) and all(
                np.allclose(grads[k], value[k], rtol=1e-6, atol=1e-12) for k in NAMES):
            return hint
    if set(wrong) <= {"W1", "b1"}:
        return ("only the first layer's gradients are wrong: da1 = dscores @ W2.T, dz1 = da1 * (z1 > 0), "
                "dW1 = X.T @ dz1, db1 = dz1.sum(axis=0)")
    return None


# ------------------------------------------------------------ judging a result

def unpack(value):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise CheckFailure(f"two_layer_loss must return (loss, grads); it returned {show(value, 200)}")
    loss = as_numeric(value[0], "the loss")
    if loss.size != 1:
        raise CheckFailure(f"the loss must be a single number; it has shape {loss.shape}")
    return float(loss.reshape(())), value[1]


def grad_dict(grads, params):
    """The gradients as a dict of float arrays shaped like params, or a CheckFailure why not."""
    if not isinstance(grads, dict):
        raise CheckFailure(f"grads is {show(grads, 200)}, not a dict\n"
                           "hint: return grads as a dict with the keys of params: W1, b1, W2, b2")
    missing = [k for k in NAMES if k not in grads]
    extra = sorted(k for k in grads if k not in NAMES)
    if missing or extra:
        raise CheckFailure(f"grads has the keys {sorted(grads)}; expected exactly W1, b1, W2, b2"
                           + (f" (missing {', '.join(missing)})" if missing else "")
                           + (f" (unexpected {', '.join(extra)})" if extra else "")
                           + "\nhint: key every gradient like the parameter it belongs to")
    out = {}
    for key in NAMES:
        array = as_numeric(grads[key], f"grads['{key}']")
        want = np.shape(params[key])
        if array.shape != want:
            hint = f"grads['{key}'] must have the shape of params['{key}'], {want}"
            if key.startswith("b") and array.shape == (1,) + want:
                hint += ": sum over the examples with axis=0 and no keepdims"
            elif key.startswith("b") and array.ndim == 1:
                hint += ": sum over the examples (axis 0), not over the units (axis 1)"
            elif array.shape == want[::-1]:
                hint += f": it is transposed (d{key} = {'X' if key == 'W1' else 'a1'}.T @ upstream)"
            raise CheckFailure(f"grads['{key}'] has shape {array.shape}, expected {want}\nhint: {hint}")
        out[key] = array
    return out


def judge_factory(reference, X, y, params, reg, *, loss=True, gradients=True):
    expected_loss, expected_grads = reference.two_layer_loss(X, y, params, reg)

    def judge(result):
        if not result.ok:
            raise StudentError(explain(result), result)
        got_loss, got_grads = unpack(result.value)
        if loss:
            assert_close(got_loss, expected_loss, rtol=RTOL, what="the loss",
                         hint=diagnose_loss(X, y, params, reg, got_loss, expected_loss))
        if gradients:
            grads = grad_dict(got_grads, params)
            wrong = [k for k in NAMES if not np.allclose(grads[k], expected_grads[k], rtol=RTOL, atol=ATOL)]
            if wrong:
                hint = diagnose_grads(X, y, params, reg, grads, expected_grads, wrong)
                first = wrong[0]
                assert_close(grads[first], expected_grads[first], rtol=RTOL, atol=ATOL,
                             what=f"grads['{first}']",
                             hint=(hint + f" (wrong: {', '.join(wrong)})") if hint else
                             f"wrong gradient(s): {', '.join(wrong)}")
        return None

    return judge


def grade(submission, reference, feedback, X, y, params, reg, **parts):
    own_or_standins(submission, reference, "two_layer_loss", [X, y, params, reg], HELPERS,
                    judge_factory(reference, X, y, params, reg, **parts), feedback)


# ------------------------------------------------------------ the checks

@pytest.mark.problem("two_layer_loss", points=2)
def test_loss_without_regularisation(submission, reference, feedback):
    """the loss of a 5-6-4 network on 10 examples, reg = 0 (the forward pass)"""
    grade(submission, reference, feedback, *network(30, 10, 5, 6, 4), 0.0, gradients=False)


@pytest.mark.problem("two_layer_loss", points=2)
def test_loss_with_regularisation(submission, reference, feedback):
    """the loss of a 5-6-4 network on 10 examples with reg = 0.1 (weights and biases regularised)"""
    grade(submission, reference, feedback, *network(30, 10, 5, 6, 4), 0.1, gradients=False)


@pytest.mark.problem("two_layer_loss", points=3)
def test_gradients_without_regularisation(submission, reference, feedback):
    """every gradient of a 5-6-4 network on 10 examples, reg = 0"""
    grade(submission, reference, feedback, *network(30, 10, 5, 6, 4), 0.0, loss=False)


@pytest.mark.problem("two_layer_loss", points=3)
def test_gradients_with_regularisation(submission, reference, feedback):
    """every gradient of a 5-6-4 network on 10 examples with reg = 0.1"""
    grade(submission, reference, feedback, *network(30, 10, 5, 6, 4), 0.1, loss=False)


@pytest.mark.problem("two_layer_loss", points=1)
def test_grads_keyed_like_params(submission, reference, feedback):
    """grads is a dict with the keys W1, b1, W2, b2, each shaped like its parameter"""
    X, y, params = network(31, 6, 4, 3, 5)
    result = submission.run("two_layer_loss", [X, y, params, 0.01])
    if not result.ok:
        raise StudentError(explain(result, submission.load_problems_for("two_layer_loss")), result)
    grad_dict(unpack(result.value)[1], params)


@pytest.mark.problem("two_layer_loss", points=2)
def test_input_wider_than_hidden_layer(submission, reference, feedback):
    """loss and gradients of a 7-3-2 network on 6 examples with reg = 0.02 (transposes show)"""
    grade(submission, reference, feedback, *network(32, 6, 7, 3, 2), 0.02)


@pytest.mark.problem("two_layer_loss", points=1)
def test_single_example(submission, reference, feedback):
    """loss and gradients for a single example (4-5-3 network, reg = 0.05)"""
    grade(submission, reference, feedback, *network(33, 1, 4, 5, 3), 0.05)


@pytest.mark.problem("two_layer_loss", points=2)
def test_relu_gradient_at_zero(submission, reference, feedback):
    """hidden units with z1 exactly 0 pass no gradient back (relu'(z) = 0 for z <= 0)"""
    X = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0], [-1.0, 0.5, 2.0], [2.0, 1.0, -1.0]])
    params = {"W1": np.array([[2.0, 1.0, -0.5, 0.25], [-1.0, 0.5, 1.0, 0.5], [0.0, -1.0, 0.75, 1.0]]),
              "b1": np.array([0.0, 0.0, 0.5, 0.0]),
              "W2": np.array([[0.5, -1.0, 0.25], [1.0, 0.5, -0.5], [-0.25, 0.75, 1.0], [0.5, 0.5, -1.0]]),
              "b2": np.array([0.1, -0.2, 0.3])}
    y = np.array([2, 0, 1, 1])
    z1 = X @ params["W1"] + params["b1"]
    assert np.sum(z1 == 0) >= 3, "the check's input must put hidden units exactly at 0"
    grade(submission, reference, feedback, X, y, params, 0.05)


def numerical_check(submission, standins, X, y, params, reg):
    """The student's own gradients against central differences of their own loss."""
    h = 1e-5

    def at(point):
        result = submission.run("two_layer_loss", [X, y, point, reg], standins=standins)
        if not result.ok:
            raise StudentError(explain(result, submission.load_problems_for("two_layer_loss")), result)
        return unpack(result.value)

    numeric = {}
    for key in NAMES:
        numeric[key] = np.zeros_like(params[key])
        for index in np.ndindex(*params[key].shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[key][index] += h
            minus[key][index] -= h
            numeric[key][index] = (at(plus)[0] - at(minus)[0]) / (2 * h)
    grads = grad_dict(at(params)[1], params)  # last, so a failure shows this call's input
    wrong = [k for k in NAMES if not np.allclose(grads[k], numeric[k], rtol=1e-5, atol=1e-8)]
    if not wrong:
        return
    differ = {k: grads[k] - numeric[k] for k in NAMES}

    def all_match(scale, keys=NAMES):
        return all(np.allclose(differ[k], scale * reg * params[k], rtol=1e-4, atol=1e-7) for k in keys)

    n = X.shape[0]
    hint = "backpropagate through exactly the computation that gives the loss"
    if all_match(2.0):
        hint = ("the gradients carry 2 * reg * P but the loss has no regularisation term: "
                "add reg * (the sum of squares of W1, b1, W2, b2) to the loss")
    elif all_match(-2.0):
        hint = ("the loss is regularised but the gradients are not: add 2 * reg * P to each gradient")
    elif all_match(-1.0):
        hint = "the regularisation gradient is missing the factor 2: d/dP (reg * sum(P**2)) = 2 * reg * P"
    elif all_match(0.0, ("W1", "W2")) and all_match(2.0, ("b1", "b2")):
        hint = "the bias gradients are regularised but the loss leaves the biases out"
    elif all_match(0.0, ("W1", "W2")) and all_match(-2.0, ("b1", "b2")):
        hint = "the loss regularises the biases but their gradients do not: add 2 * reg * b"
    elif all(np.allclose(grads[k], n * numeric[k], rtol=1e-4) for k in wrong):
        hint = "the gradients are N times too large for the loss: average over the examples in both"
    raise CheckFailure(f"the gradients disagree with central differences of your own loss in "
                       f"{', '.join(wrong)}: e.g. grads['{wrong[0]}'] = {show(grads[wrong[0]], 200)}, "
                       f"numerical {show(numeric[wrong[0]], 200)}\nhint: {hint}")


@pytest.mark.problem("two_layer_loss", points=3)
def test_gradients_match_own_loss(submission, reference, feedback):
    """every gradient agrees with central differences of your own loss (3-4-3 network, reg = 0.1)"""
    X, y, params = network(34, 5, 3, 4, 3)
    try:
        numerical_check(submission, None, X, y, params, 0.1)
    except CheckFailure as failure:
        try:
            numerical_check(submission, {name: getattr(reference, name) for name in HELPERS},
                            X, y, params, 0.1)
        except CheckFailure:
            raise failure from None
        feedback.note("consistent once the reference softmax helpers stand in for yours")
