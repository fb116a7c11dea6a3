"""Hidden checks for forward_backward_prop: cost and gradient on several networks.

Every network has one-hot labels; the dimension triples include H != Dx, Dy != Dx and Dx > H
so transposes and misplaced biases show. The cost may be summed or averaged over the examples
(settings.cost_convention), as long as the gradient follows the same convention. A wrong
student helper (softmax, sigmoid, sigmoid_grad) costs only its own problem: see own_or_standins.
"""

import itertools

import numpy as np
import pytest

from grader.checks import CheckFailure, StudentError, as_numeric, as_scalar, assert_close, explain
from grader.checks.standins import own_or_standins

HELPERS = ("softmax", "sigmoid", "sigmoid_grad")


def network(n, dims, seed):
    """A reproducible data set, one-hot labels and parameters for dimensions (Dx, H, Dy)."""
    rng = np.random.default_rng(seed)
    Dx, H, Dy = dims
    data = rng.normal(size=(n, Dx))
    labels = np.zeros((n, Dy))
    labels[np.arange(n), rng.integers(0, Dy, size=n)] = 1
    params = rng.normal(size=(Dx + 1) * H + (H + 1) * Dy)
    return data, labels, params, list(dims)


def blocks(grad, dims):
    Dx, H, Dy = dims
    sizes = [Dx * H, H, H * Dy, Dy]
    names = ["W1", "b1", "W2", "b2"]
    out, start = {}, 0
    for name, size in zip(names, sizes):
        out[name] = grad[start:start + size]
        start += size
    return out


def diagnose_size(size, expected_size, dims, n):
    """Name the likely bug behind a gradient with the wrong number of entries (or None)."""
    Dx, H, Dy = dims
    extra = size - expected_size
    if n > 1:
        if extra == (n - 1) * (H + Dy):
            return "neither bias gradient is summed over the examples: sum b1's and b2's over axis 0"
        if extra == (n - 1) * H:
            return f"the b1 gradient has {n} x {H} entries, one row per example: sum it over the examples (axis 0)"
        if extra == (n - 1) * Dy:
            return f"the b2 gradient has {n} x {Dy} entries, one row per example: sum it over the examples (axis 0)"
        if extra == n - H:
            return "the b1 gradient has one entry per example: sum over the examples (axis 0), not over axis 1"
        if extra == n - Dy:
            return "the b2 gradient has one entry per example: sum over the examples (axis 0), not over axis 1"
    return None


def diagnose_order(grad, expected, dims):
    """The order of blocks the student used, if the gradient is right but out of order."""
    want = blocks(expected, dims)
    for order in itertools.permutations(want):
        if list(order) != list(want) and np.allclose(
                grad, np.concatenate([want[name] for name in order]), rtol=1e-5, atol=1e-9):
            return (f"the gradient blocks are in the order {', '.join(order)}: concatenate them "
                    "as W1, b1, W2, b2 (the order of params)")
    return None


def diagnose(grad, expected, dims, n):
    """Name the likely bug behind a wrong gradient, block by block."""
    Dx, H, Dy = dims
    order = diagnose_order(grad, expected, dims)
    if order:
        return order
    got, want = blocks(grad, dims), blocks(expected, dims)
    wrong = [k for k in got if not np.allclose(got[k], want[k], rtol=1e-5, atol=1e-9)]
    hints = []
    if "W2" in wrong and np.allclose(got["W2"], want["W2"].reshape(H, Dy).T.flatten(), rtol=1e-5):
        hints.append("dW2 is flattened transposed: flatten the (H, Dy) matrix, not its transpose")
    if "W1" in wrong and np.allclose(got["W1"], want["W1"].reshape(Dx, H).T.flatten(), rtol=1e-5):
        hints.append("dW1 is flattened transposed: flatten the (Dx, H) matrix, not its transpose")
    for bias, size in (("b1", H), ("b2", Dy)):
        if bias in wrong and n > 1 and np.allclose(got[bias] * n, want[bias], rtol=1e-5):
            hints.append(f"the {bias} gradient is averaged, not summed over the examples")
    if not hints and set(wrong) == {"W1", "b1"}:
        hints.append("only the first layer's gradients (W1, b1) are wrong: the hidden error is "
                     "delta.dot(W2.T) * sigmoid_grad(h) with h = sigmoid(data.dot(W1) + b1), the "
                     "activation (sigmoid_grad takes s, not z1)")
    elif wrong:
        hints.append("wrong gradient block(s): " + ", ".join(wrong))
    return "; ".join(hints)


def judge_factory(reference, settings, data, labels, params, dims, cost_only=False):
    """A judge for own_or_standins: raises CheckFailure for a wrong (cost, grad), returns a
    note naming the cost convention found. ``cost_only`` judges the forward pass alone."""
    cost_sum, grad_sum = reference.forward_backward_prop(data, labels, params, dims)
    n = data.shape[0]
    allowed = settings.get("cost_convention", "either")

    def judge_cost(cost):
        names = ["sum", "mean"] if allowed == "either" else [allowed]
        for name in names:
            if np.isclose(cost, cost_sum if name == "sum" else cost_sum / n, rtol=1e-6):
                return None
        hint = ("this assignment asks for the cost as the {allowed} over examples".format(allowed=allowed)
                if allowed != "either" and np.isclose(cost, cost_sum / n if allowed == "sum" else cost_sum, rtol=1e-6)
                else None)
        expected = (f"expected {cost_sum:.10g} (the cross-entropy of the single example)" if n == 1 else
                    f"expected {cost_sum:.10g} (cross-entropy summed over the {n} examples) or "
                    f"{cost_sum / n:.10g} (averaged)")
        raise CheckFailure(f"the cost is {cost:.10g}, {expected}\nhint: "
                           + (hint or "check the forward pass: h = sigmoid(data.dot(W1) + b1), "
                              "prediction = softmax(h.dot(W2) + b2), cost = -sum(labels * log(prediction))"))

    def judge(result):
        value = result.value
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise CheckFailure(f"forward_backward_prop must return (cost, grad); it returned "
                               f"{type(value).__name__ if not hasattr(value, 'type_name') else value.type_name}")
        cost = as_scalar(value[0], "the cost")
        if cost_only:
            return judge_cost(cost)
        grad = as_numeric(value[1], "the gradient")
        if grad.size == grad_sum.size and grad.shape != grad_sum.shape:
            raise CheckFailure(f"the gradient has shape {grad.shape}, expected {grad_sum.shape}\n"
                               "hint: return the gradient flat, in the order W1, b1, W2, b2")
        if grad.shape != grad_sum.shape:
            hint = diagnose_size(grad.size, grad_sum.size, dims, n)
            raise CheckFailure(f"the gradient has {grad.size} entries, expected {grad_sum.size} "
                               f"((Dx + 1) * H + (H + 1) * Dy for dimensions {dims})"
                               + (f"\nhint: {hint}" if hint else ""))
        options = {"sum": (cost_sum, grad_sum), "mean": (cost_sum / n, grad_sum / n)}
        for name in (["sum", "mean"] if allowed == "either" else [allowed]):
            want_cost, want_grad = options[name]
            if np.isclose(cost, want_cost, rtol=1e-6) and np.allclose(grad, want_grad, rtol=1e-5, atol=1e-9):
                return f"cost convention found: {'mean over' if name == 'mean' else 'sum over'} examples"
        if n > 1:
            for cost_name, grad_name in (("sum", "mean"), ("mean", "sum")):
                if np.isclose(cost, options[cost_name][0], rtol=1e-6) and np.allclose(grad, options[grad_name][1], rtol=1e-5):
                    raise CheckFailure(
                        f"the gradient is {n} (the number of examples) times too "
                        f"{'small' if grad_name == 'mean' else 'large'} for the cost\nhint: the cost is "
                        f"{'summed' if cost_name == 'sum' else 'averaged'} over the examples but the "
                        f"gradient is {'summed' if grad_name == 'sum' else 'averaged'}: use the same "
                        "convention for both")
        judge_cost(cost)
        name = "mean" if n > 1 and np.isclose(cost, cost_sum / n, rtol=1e-6) else "sum"
        if allowed != "either":
            name = allowed
        assert_close(grad, options[name][1], rtol=1e-5, atol=1e-9, what="the gradient",
                     hint=diagnose(grad, options[name][1], dims, n) or None)
        return None

    return judge


def grade(submission, reference, settings, feedback, n, dims, seed, cost_only=False):
    data, labels, params, dims = network(n, dims, seed)
    judge = judge_factory(reference, settings, data, labels, params, dims, cost_only=cost_only)
    own_or_standins(submission, reference, "forward_backward_prop",
                    [data, labels, params, dims], HELPERS, judge, feedback)


@pytest.mark.problem("forward_backward_prop", points=2)
def test_cost_of_classic_network(submission, reference, settings, feedback):
    """the cost (forward pass) of the classic 10-5-10 network on 20 examples"""
    grade(submission, reference, settings, feedback, 20, (10, 5, 10), seed=10, cost_only=True)


@pytest.mark.problem("forward_backward_prop", points=3)
def test_classic_network(submission, reference, settings, feedback):
    """cost and gradient of the classic 10-5-10 network on 20 examples"""
    grade(submission, reference, settings, feedback, 20, (10, 5, 10), seed=10)


@pytest.mark.problem("forward_backward_prop", points=2)
def test_hidden_layer_wider_than_input(submission, reference, settings, feedback):
    """cost and gradient when H != Dx and Dy != Dx (4-6-3 network): transposes show"""
    grade(submission, reference, settings, feedback, 8, (4, 6, 3), seed=11)


@pytest.mark.problem("forward_backward_prop", points=2)
def test_input_wider_than_hidden_layer(submission, reference, settings, feedback):
    """cost and gradient when Dx > H and Dy > H (6-3-4 network on 7 examples)"""
    grade(submission, reference, settings, feedback, 7, (6, 3, 4), seed=16)


@pytest.mark.problem("forward_backward_prop", points=2)
def test_two_classes(submission, reference, settings, feedback):
    """cost and gradient of a 3-7-2 network on 5 examples"""
    grade(submission, reference, settings, feedback, 5, (3, 7, 2), seed=12)


@pytest.mark.problem("forward_backward_prop", points=2)
def test_single_example(submission, reference, settings, feedback):
    """cost and gradient for a single example (5-4-3 network)"""
    grade(submission, reference, settings, feedback, 1, (5, 4, 3), seed=13)


def scalar(value, what):
    return as_scalar(value, what)


def directional_check(submission, standins):
    """Compare the gradient with the cost's own rate of change along a random direction."""
    n = 6
    data, labels, params, dims = network(n, (4, 5, 3), seed=14)
    direction = np.random.default_rng(15).normal(size=params.shape)
    h = 1e-5
    values = []
    for point in (params, params + h * direction, params - h * direction):
        result = submission.run("forward_backward_prop", [data, labels, point, dims], standins=standins)
        if not result.ok:
            raise StudentError(explain(result, submission.load_problems_for("forward_backward_prop")), result)
        if not isinstance(result.value, (tuple, list)) or len(result.value) != 2:
            raise CheckFailure("forward_backward_prop must return (cost, grad)")
        values.append(result.value)
    numeric = (scalar(values[1][0], "the cost") - scalar(values[2][0], "the cost")) / (2 * h)
    analytic = float(np.dot(as_numeric(values[0][1], "the gradient").ravel(), direction))
    if np.isclose(numeric, analytic, rtol=1e-4, atol=1e-6):
        return
    hint = "backpropagate through exactly the computation that gives the cost"
    if np.isclose(analytic, -numeric, rtol=1e-4):
        hint = "the gradient has the wrong sign: the output error is prediction - labels"
    elif np.isclose(analytic, n * numeric, rtol=1e-4):
        hint = "the cost is averaged over the examples but the gradient is summed: use one convention"
    elif np.isclose(n * analytic, numeric, rtol=1e-4):
        hint = "the cost is summed over the examples but the gradient is averaged: use one convention"
    raise CheckFailure(f"the gradient disagrees with its own cost: along a random direction the "
                       f"cost changes at rate {numeric:.8g}, the gradient says {analytic:.8g}\n"
                       f"hint: {hint}")


@pytest.mark.problem("forward_backward_prop", points=2)
def test_gradient_matches_own_cost(submission, reference, feedback):
    """the gradient agrees with the cost it comes with (directional derivative)"""
    try:
        directional_check(submission, None)
    except CheckFailure as failure:
        try:
            directional_check(submission, {name: getattr(reference, name) for name in HELPERS})
        except CheckFailure:
            raise failure from None
        feedback.note("consistent once the reference softmax, sigmoid and sigmoid_grad stand in for yours")
