"""Public checks for backprop_basics: students may read these and run them with
`grader run SUBMISSION --public`.

They hold their expected values in the file (no reference solution is needed, so the students'
copy of the grader has none). Each problem has one public point of its total in assignment.toml.
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, as_numeric, assert_close

# the two-layer network of the fprop and bprop checks: x (2, 1), 3 hidden units, label y = 0
X = np.array([[1.0], [-2.0]])
PARAMS = {"W1": np.array([[0.5, -0.25], [-1.0, 0.5], [0.75, 0.1]]),
          "b1": np.array([[0.1], [0.2], [-0.3]]),
          "W2": np.array([[1.0, -0.5, 2.0]]),
          "b2": np.array([[-0.2]])}
Z1 = np.array([[1.1], [-1.8], [0.25]])
A1 = np.array([[1.1], [0.0], [0.25]])
Z2 = np.array([[1.4]])
A2 = np.array([[0.8021838885585817]])
LOSS_Y0 = 1.6204174099184507
LOSS_Y1 = 0.220417409918451


def pick(value, what, keys):
    if not isinstance(value, dict) or any(k not in value for k in keys):
        raise CheckFailure(f"{what} must be a dict with the keys {', '.join(keys)}; it returned "
                           f"{getattr(value, 'type_name', type(value).__name__)}"
                           + (f" with keys {', '.join(map(repr, value))}" if isinstance(value, dict) else ""))
    return value


@pytest.mark.problem("sigmoid_unit", points=1, visibility="visible")
def test_public_sigmoid_unit(submission):
    """public: sigmoid_unit(2, [3, -4]) is (0.880797, 0.314981, [0.209987, 0.104994])"""
    value = submission.sigmoid_unit(2.0, np.array([3.0, -4.0]))
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise CheckFailure("sigmoid_unit must return a tuple (f, dfdx, dfdw) with "
                           "dfdw = np.array([df/dw0, df/dw1])")
    f, dfdx, dfdw = value
    assert_close(f, 0.8807970779778823, rtol=1e-7, what="f", check_shape=False,
                 hint="f = 1 / (1 + exp(-(w0*x + w1)))")
    assert_close(dfdx, 0.31498075621051985, rtol=1e-7, what="dfdx", check_shape=False,
                 hint="df/dx = f(1 - f) * w0")
    assert_close(dfdw, [0.20998717080701323, 0.10499358540350662], rtol=1e-7, what="dfdw",
                 hint="dfdw = [df/dw0, df/dw1] = [f(1 - f) * x, f(1 - f)]")


@pytest.mark.problem("matrix_loss", points=1, visibility="visible")
def test_public_matrix_loss(submission):
    """public: the loss and gradient of a 3 x 2 X, a 2 x 2 W (one entry 0) and lam = 0.1"""
    X = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, -1.0]])
    W = np.array([[0.5, 0.0], [-1.0, 2.0]])
    Y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    value = submission.matrix_loss(X, W, Y, 0.1)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise CheckFailure("matrix_loss must return a tuple (L, dW)")
    L, dW = value
    assert_close(L, 86.85, rtol=1e-9, what="the loss L", check_shape=False,
                 hint="L = np.sum((X @ W - Y) ** 2) + lam * np.sum(np.abs(W)) = 86.5 + 0.35")
    assert_close(dW, [[-19.9, 50.0], [-30.1, 78.1]], rtol=1e-9, what="the gradient dW",
                 hint="dW = 2 * X.T @ (X @ W - Y) + lam * np.sign(W) (np.sign(0) is 0)")


@pytest.mark.problem("fprop", points=1, visibility="visible")
def test_public_fprop(submission):
    """public: fprop of a 2-3-1 network: z1, a1, z2, a2 and the loss for y = 0 and y = 1"""
    for y, want_loss in ((0, LOSS_Y0), (1, LOSS_Y1)):
        cache = pick(submission.fprop(X, y, PARAMS), "fprop's cache", ("z1", "a1", "z2", "a2", "loss"))
        for key, want in (("z1", Z1), ("a1", A1), ("z2", Z2), ("a2", A2)):
            assert_close(cache[key], want, rtol=1e-7, what=f"cache['{key}']",
                         hint="z1 = W1 @ x + b1, a1 = np.maximum(z1, 0), z2 = W2 @ a1 + b2, "
                              "a2 = sigmoid(z2), all columns")
        loss = as_numeric(cache["loss"], "cache['loss']")
        if loss.size != 1:
            raise CheckFailure(f"cache['loss'] must be a single number; it has shape {loss.shape}")
        assert_close(loss.reshape(-1)[0], want_loss, rtol=1e-7, what=f"the loss for y = {y}",
                     hint="loss = -(y * log(a2) + (1 - y) * log(1 - a2))")


@pytest.mark.problem("bprop", points=1, visibility="visible")
def test_public_bprop(submission):
    """public: bprop of the 2-3-1 network's cache (y = 0); hidden unit 1 is off (z1 < 0)"""
    cache = {"x": X, "y": 0, "z1": Z1, "a1": A1, "z2": Z2, "a2": A2, "loss": LOSS_Y0, **PARAMS}
    grads = pick(submission.bprop(cache), "bprop", ("W1", "b1", "W2", "b2"))
    want = {"W1": [[0.8021838885585817, -1.6043677771171634], [0.0, 0.0],
                   [1.6043677771171634, -3.2087355542343268]],
            "b1": [[0.8021838885585817], [0.0], [1.6043677771171634]],
            "W2": [[0.8824022774144399, 0.0, 0.20054597213964548]],
            "b2": [[0.8021838885585817]]}
    for key in ("W2", "b2", "W1", "b1"):
        assert_close(grads[key], want[key], rtol=1e-7, atol=1e-15, what=f"the gradient '{key}'",
                     hint="dz2 = a2 - y, dW2 = dz2 @ a1.T, db2 = dz2, dz1 = (W2.T @ dz2) * (z1 > 0), "
                          "dW1 = dz1 @ x.T, db1 = dz1 (each the shape of its parameter)")


@pytest.mark.problem("softmax", points=1, visibility="visible")
def test_public_softmax(submission):
    """public: softmax([1, 2, 3]) and a 3 x 2 matrix normalised column by column"""
    assert_close(submission.softmax(np.array([1.0, 2.0, 3.0])),
                 [0.09003057317038046, 0.24472847105479764, 0.6652409557748218], rtol=1e-7,
                 hint="softmax(x)_i = exp(x_i) / sum_j exp(x_j), a 1-D vector for a 1-D x")
    assert_close(submission.softmax(np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 1.0]])),
                 [[0.09003057317038046, 0.21194155761708544], [0.24472847105479764, 0.21194155761708544],
                  [0.6652409557748218, 0.5761168847658291]], rtol=1e-7,
                 hint="each column (axis 0) sums to 1: np.max and np.sum with axis=0, keepdims=True")


@pytest.mark.problem("softmax_grad", points=1, visibility="visible")
def test_public_softmax_grad(submission):
    """public: softmax_grad([0.2, 0.3, 0.5]) is diag(s) - s s^T"""
    assert_close(submission.softmax_grad(np.array([0.2, 0.3, 0.5])),
                 [[0.16, -0.06, -0.1], [-0.06, 0.21, -0.15], [-0.1, -0.15, 0.25]], rtol=1e-9, atol=1e-15,
                 hint="J = np.diag(s) - np.outer(s, s): s_i (1 - s_i) on the diagonal, -s_i s_j off it")
