"""Reference: forward and backward pass of a two-layer network on one column vector.

z1 = W1 x + b1, a1 = relu(z1), z2 = W2 a1 + b2, a2 = sigmoid(z2),
loss = -(y log a2 + (1 - y) log(1 - a2)).
"""

import numpy as np

PARAMS = ("W1", "b1", "W2", "b2")


def relu(z):
    return np.maximum(z, 0.0)


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def fprop(x, y, params):
    """The forward pass. x is (n, 1), y is 0 or 1, params holds W1 (h, n), b1 (h, 1),
    W2 (1, h), b2 (1, 1). Returns the cache: a dict with x, y, z1, a1, z2, a2, loss and the
    four parameters (bprop reads everything it needs from it)."""
    W1, b1, W2, b2 = (params[key] for key in PARAMS)
    z1 = W1 @ x + b1
    a1 = relu(z1)
    z2 = W2 @ a1 + b2
    a2 = sigmoid(z2)
    loss = float(-(y * np.log(a2) + (1 - y) * np.log(1 - a2)).sum())
    cache = {"x": x, "y": y, "z1": z1, "a1": a1, "z2": z2, "a2": a2, "loss": loss}
    return cache


def bprop(cache):
    """The gradients of the loss with respect to W1, b1, W2, b2, as a dict with their shapes.
    relu's derivative is taken as (z1 > 0): 0 at z1 = 0."""
    x, y, z1, a1, a2, W2 = (cache[key] for key in ("x", "y", "z1", "a1", "a2", "W2"))
    dz2 = a2 - y
    dW2 = dz2 @ a1.T
    db2 = dz2
    dz1 = (W2.T @ dz2) * (z1 > 0)
    dW1 = dz1 @ x.T
    db1 = dz1
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
