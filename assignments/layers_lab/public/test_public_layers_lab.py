"""Public checks for layers_lab: small cases whose answers are written out, so they need no
reference solution. Run them yourself with `grader run YOUR_NOTEBOOK --public`.

Conventions: x has shape (N, n_in); Linear holds W (n_in, n_out) and b (n_out,); every layer has
forward(x), backward(x, dy) (returns dx; Linear also stores dW and db, summed over the batch) and
step(lr); bce_loss is the mean over all entries, bce_grad its gradient w.r.t. y_hat;
fit(net, X, y, epochs, lr, batch_size) returns one mean training loss per epoch.
"""

import pathlib

import numpy as np
import pytest

from grader.checks import CheckFailure, StudentError, as_numeric, assert_close, explain
from grader.checks.siblings import sibling


def hidden_support():
    """The hidden checks' helpers (checks/_support.py), when the full grader is installed; in a
    students' copy there are none, and the public checks judge on their written-out values alone."""
    path = pathlib.Path(__file__).resolve().parent.parent / "checks" / "_support.py"
    return sibling(__file__, "../checks/_support.py") if path.is_file() else None


def forgiving(check, excuse, submission, reference, feedback):
    """Run ``check``; if it fails and the full grader is installed, ``excuse(S, submission,
    reference)`` may show that the failure belongs to another problem (a note), else re-raise."""
    try:
        check()
    except (CheckFailure, StudentError):
        support = hidden_support() if reference is not None else None
        note = excuse(support, submission, reference) if support is not None else None
        if not note:
            raise
        feedback.note(note)


@pytest.mark.problem("linear", points=1, visibility="visible")
def test_public_linear(submission):
    """public: Linear(2, 3) forward, backward (dx, dW, db) and step(0.1) on a 2-example batch"""
    layer = submission.Linear(2, 3)
    layer.W = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    layer.b = np.array([0.5, -0.5, 1.0])
    x = np.array([[1.0, 2.0], [-1.0, 0.5]])
    dy = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 1.0]])
    assert_close(layer.forward(x), [[1.5, 3.5, -0.5], [-0.5, 3.0, 0.0]], what="forward(x)",
                 hint="forward is x @ W + b")
    assert_close(layer.backward(x, dy), [[0.5, 1.0], [-3.0, 5.0]], what="backward's dx",
                 hint="dx = dy @ W.T")
    assert_close(layer.dW, [[0.5, -2.0, -2.0], [2.25, 1.0, -1.5]], what="dW", hint="dW = x.T @ dy")
    assert_close(layer.db, [1.5, 2.0, 0.0], what="db", hint="db = dy.sum(axis=0)")
    layer.step(0.1)
    assert_close(layer.W, [[0.95, -1.8, 0.7], [-0.225, 2.9, -0.85]], what="W after step(0.1)",
                 hint="W -= lr * dW")
    assert_close(layer.b, [0.35, -0.7, 1.0], what="b after step(0.1)", hint="b -= lr * db")


@pytest.mark.problem("activations", points=1, visibility="visible")
def test_public_activations(submission):
    """public: Sigmoid and ReLU forward and backward at x = [-2, 0, 1.5]"""
    x, dy = np.array([[-2.0, 0.0, 1.5]]), np.array([[1.0, 2.0, -1.0]])
    assert_close(submission.Sigmoid().forward(x), [[0.119202922022, 0.5, 0.817574476194]],
                 rtol=1e-9, what="Sigmoid.forward(x)")
    assert_close(submission.Sigmoid().backward(x, dy), [[0.104993585404, 0.5, -0.14914645207]],
                 rtol=1e-9, what="Sigmoid.backward(x, dy)", hint="dy * s * (1 - s) with s = sigmoid(x)")
    assert_close(submission.ReLU().forward(x), [[0.0, 0.0, 1.5]], what="ReLU.forward(x)")
    assert_close(submission.ReLU().backward(x, dy), [[0.0, 0.0, -1.0]], what="ReLU.backward(x, dy)",
                 hint="dy * (x > 0): the gradient at x = 0 is 0")


@pytest.mark.problem("bce", points=1, visibility="visible")
def test_public_bce(submission):
    """public: bce_loss and bce_grad on three examples"""
    y, y_hat = np.array([[1.0], [0.0], [1.0]]), np.array([[0.9], [0.2], [0.4]])
    assert_close(np.reshape(as_numeric(submission.bce_loss(y, y_hat), "bce_loss"), -1),
                 [0.414931599615397], rtol=1e-9, what="bce_loss", hint="the mean over all entries")
    assert_close(submission.bce_grad(y, y_hat), [[-0.37037037037], [0.416666666667], [-0.833333333333]],
                 rtol=1e-9, what="bce_grad", hint="(p - y) / (p * (1 - p)) / y.size")


@pytest.mark.problem("net", points=1, visibility="visible")
def test_public_net(submission, reference, feedback):
    """public: Net([Linear(2, 2), ReLU(), Linear(2, 1)]) forward, backward and step(0.5)"""
    forgiving(lambda: public_net(submission), lambda S, sub, ref: S.net_forgiven(sub, ref),
              submission, reference, feedback)


def public_net(submission):
    first, second = submission.Linear(2, 2), submission.Linear(2, 1)
    first.W, first.b = np.array([[1.0, -1.0], [2.0, 0.5]]), np.array([0.0, 0.5])
    second.W, second.b = np.array([[1.0], [-2.0]]), np.array([0.1])
    net = submission.Net([first, submission.ReLU(), second])
    x, dy = np.array([[1.0, 1.0], [0.5, -2.0], [-1.0, 1.0]]), np.array([[1.0], [-1.0], [0.5]])
    assert_close(net.forward(x), [[3.1], [0.1], [-2.9]], what="Net.forward(x)")
    assert_close(net.backward(x, dy), [[1.0, 2.0], [0.0, 0.0], [1.5, 0.5]], what="Net.backward(x, dy)",
                 hint="go through the layers in reverse order, each with its own input")
    assert_close(first.dW, [[0.5, 1.0], [1.5, -1.0]], what="the first layer's dW after Net.backward")
    assert_close(second.dW, [[3.5], [1.0]], what="the last layer's dW after Net.backward")
    net.step(0.5)
    assert_close(first.W, [[0.75, -1.5], [1.25, 1.0]], what="the first layer's W after Net.step(0.5)")
    assert_close(second.b, [-0.15], what="the last layer's b after Net.step(0.5)")


@pytest.mark.problem("fit", points=1, visibility="visible")
def test_public_fit(submission, reference, feedback):
    """public: fit learns a separable toy problem (loss goes down, every training point right)"""
    forgiving(lambda: public_fit(submission), fit_excuse, submission, reference, feedback)


def fit_excuse(S, submission, reference):
    try:
        public_fit(submission, {"bce_loss": reference.bce_loss, "bce_grad": reference.bce_grad})
        return ("fit learns the toy problem once the reference bce_loss and bce_grad stand in for "
                "yours (those lose points in problem bce, not here)")
    except (CheckFailure, StudentError):
        pass
    why = S.forgiven_fit(submission, reference)
    return f"the toy problem was not held against fit: {why}" if why else None


def public_fit(submission, standins=None):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, :1] + X[:, 1:] > 0).astype(float)
    layer = submission.Linear(2, 1)
    layer.W, layer.b = np.array([[0.1], [-0.1]]), np.array([0.0])
    net = submission.Net([layer, submission.Sigmoid()])
    result = submission.run("fit", [net, X, y, 30, 0.5, 8], standins=standins)
    if not result.ok:
        raise StudentError(explain(result), result)
    losses = as_numeric(result.value, "fit's losses").reshape(-1)
    if losses.shape != (30,):
        raise CheckFailure(f"fit returned {losses.size} losses for 30 epochs\nhint: return one "
                           "mean training loss per epoch")
    if not losses[-1] < 0.5 * losses[0]:
        raise CheckFailure(f"the loss went from {losses[0]:.4f} to {losses[-1]:.4f} in 30 epochs; "
                           "it should at least halve\nhint: every batch: forward, bce_grad, "
                           "backward, step(lr)")
    accuracy = float(np.mean((as_numeric(net.forward(X)) > 0.5) == (y > 0.5)))
    if accuracy < 0.95:
        raise CheckFailure(f"after fit the net classifies {accuracy:.0%} of the training points "
                           "right; at least 95% expected")
