"""Hidden checks for forward_backward_prop: cost and gradient on several networks."""

import numpy as np
import pytest

from grader.checks import CheckFailure, StudentError, as_numeric, assert_close, explain
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


def diagnose(grad, expected, dims, n):
    """Name the likely bug behind a wrong gradient, block by block."""
    Dx, H, Dy = dims
    got, want = blocks(grad, dims), blocks(expected, dims)
    wrong = [k for k in got if not np.allclose(got[k], want[k], rtol=1e-5, atol=1e-9)]
    hints = []
    if "W2" in wrong and np.allclose(got["W2"], want["W2"].reshape(H, Dy).T.flatten(), rtol=1e-5):
        hints.append("dW2 is flattened transposed: flatten the (H, Dy) matrix, not its transpose")
    if "W1" in wrong and np.allclose(got["W1"], want["W1"].reshape(Dx, H).T.flatten(), rtol=1e-5):
        hints.append("dW1 is flattened transposed: flatten the (Dx, H) matrix, not its transpose")
    for bias, size in (("b1", H), ("b2", Dy)):
        if bias in wrong and n > 1 and np.allclose(got[bias] * n, want[bias], rtol=1e-5):
            hints.append(f"the {bias} gradient looks averaged, not summed over examples")
    if wrong:
        hints.append("wrong gradient block(s): " + ", ".join(wrong))
    return "; ".join(hints)


def judge_factory(reference, settings, data, labels, params, dims):
    cost_sum, grad_sum = reference.forward_backward_prop(data, labels, params, dims)
    n = data.shape[0]
    allowed = settings.get("cost_convention", "either")

    def judge(result):
        value = result.value
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise CheckFailure(f"forward_backward_prop must return (cost, grad); it returned "
                               f"{type(value).__name__ if not hasattr(value, 'type_name') else value.type_name}")
        cost = as_numeric(value[0], "the cost")
        grad = as_numeric(value[1], "the gradient")
        if cost.size != 1:
            raise CheckFailure(f"the cost must be a single number; it has shape {cost.shape}")
        cost = float(cost.reshape(()))
        if grad.size == grad_sum.size and grad.shape != grad_sum.shape:
            raise CheckFailure(f"the gradient has shape {grad.shape}; return it flat, shape "
                               f"{grad_sum.shape}, in the order W1, b1, W2, b2")
        if grad.shape != grad_sum.shape:
            raise CheckFailure(f"the gradient has {grad.size} entries, expected {grad_sum.size} "
                               f"((Dx + 1) * H + (H + 1) * Dy for dimensions {dims})")
        options = {"sum": (cost_sum, grad_sum), "mean": (cost_sum / n, grad_sum / n)}
        for name in (["sum", "mean"] if allowed == "either" else [allowed]):
            want_cost, want_grad = options[name]
            if np.isclose(cost, want_cost, rtol=1e-6) and np.allclose(grad, want_grad, rtol=1e-5, atol=1e-9):
                return f"cost convention found: {'mean over' if name == 'mean' else 'sum over'} examples"
        for cost_name, grad_name in (("sum", "mean"), ("mean", "sum")):
            if np.isclose(cost, options[cost_name][0], rtol=1e-6) and np.allclose(grad, options[grad_name][1], rtol=1e-5):
                raise CheckFailure(f"the cost is {'summed' if cost_name == 'sum' else 'averaged'} over "
                                   f"examples but the gradient is {'summed' if grad_name == 'sum' else 'averaged'}: "
                                   "use the same convention for both")
        if allowed != "either":
            other = "mean" if allowed == "sum" else "sum"
            if np.isclose(cost, options[other][0], rtol=1e-6):
                raise CheckFailure(f"this assignment asks for the cost as the {allowed} over examples; "
                                   f"yours is the {other}")
        name = "mean" if np.isclose(cost, cost_sum / n, rtol=1e-6) else "sum"
        want_cost, want_grad = options[name]
        if not np.isclose(cost, want_cost, rtol=1e-6):
            raise CheckFailure(f"the cost is {cost:.10g}, expected {cost_sum:.10g} (sum over examples)"
                               f" or {cost_sum / n:.10g} (mean)")
        assert_close(grad, want_grad, rtol=1e-5, atol=1e-9, what="the gradient",
                     hint=diagnose(grad, want_grad, dims, n) or None)
        return None

    return judge


def grade(submission, reference, settings, feedback, n, dims, seed):
    data, labels, params, dims = network(n, dims, seed)
    judge = judge_factory(reference, settings, data, labels, params, dims)
    own_or_standins(submission, reference, "forward_backward_prop",
                    [data, labels, params, dims], HELPERS, judge, feedback)


@pytest.mark.problem("forward_backward_prop", points=4)
def test_classic_network(submission, reference, settings, feedback):
    """cost and gradient of the classic 10-5-10 network on 20 examples"""
    grade(submission, reference, settings, feedback, 20, (10, 5, 10), seed=10)


@pytest.mark.problem("forward_backward_prop", points=4)
def test_hidden_layer_wider_than_input(submission, reference, settings, feedback):
    """cost and gradient when H != Dx and Dy != Dx (4-6-3 network): transposes show"""
    grade(submission, reference, settings, feedback, 8, (4, 6, 3), seed=11)


@pytest.mark.problem("forward_backward_prop", points=4)
def test_two_classes(submission, reference, settings, feedback):
    """cost and gradient of a 3-7-2 network on 5 examples"""
    grade(submission, reference, settings, feedback, 5, (3, 7, 2), seed=12)


@pytest.mark.problem("forward_backward_prop", points=1)
def test_single_example(submission, reference, settings, feedback):
    """cost and gradient for a single example"""
    grade(submission, reference, settings, feedback, 1, (5, 4, 3), seed=13)


def scalar(value, what):
    array = as_numeric(value, what)
    if array.size != 1:
        raise CheckFailure(f"{what} must be a single number; it has shape {array.shape}")
    return float(array.reshape(-1)[0])


def directional_check(submission, standins):
    """Compare the gradient with the cost's own rate of change along a random direction."""
    data, labels, params, dims = network(6, (4, 5, 3), seed=14)
    direction = np.random.default_rng(15).normal(size=params.shape)
    h = 1e-5
    values = []
    for point in (params, params + h * direction, params - h * direction):
        result = submission.run("forward_backward_prop", [data, labels, point, dims], standins=standins)
        if not result.ok:
            raise StudentError(explain(result), result)
        if not isinstance(result.value, (tuple, list)) or len(result.value) != 2:
            raise CheckFailure("forward_backward_prop must return (cost, grad)")
        values.append(result.value)
    numeric = (scalar(values[1][0], "the cost") - scalar(values[2][0], "the cost")) / (2 * h)
    analytic = float(np.dot(as_numeric(values[0][1], "the gradient").ravel(), direction))
    if not np.isclose(numeric, analytic, rtol=1e-4, atol=1e-6):
        raise CheckFailure(f"the gradient disagrees with its own cost: along a random direction "
                           f"the cost changes at rate {numeric:.8g}, the gradient says {analytic:.8g}")


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
