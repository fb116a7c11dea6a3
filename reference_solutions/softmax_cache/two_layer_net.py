"""Reference: a two-layer ReLU network with softmax cross-entropy and L2 regularisation.

two_layer_loss(X, y, params, reg) with X of shape (N, D), y of N integer class indices and
params = {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}:

    z1 = X W1 + b1,  a1 = relu(z1),  scores = a1 W2 + b2
    loss = mean cross-entropy of softmax(scores) + reg * sum of squares of W1, b1, W2 and b2

returns (loss, grads) with grads keyed and shaped like params. relu'(z) is 0 where z <= 0.
"""

import numpy as np

from softmax_layer import softmax_cross_entropy

PARAM_NAMES = ("W1", "b1", "W2", "b2")


def two_layer_loss(X, y, params, reg):
    W1, b1, W2, b2 = (np.asarray(params[name], dtype=float) for name in PARAM_NAMES)
    X = np.asarray(X, dtype=float)
    z1 = X.dot(W1) + b1
    a1 = np.maximum(z1, 0.0)
    scores = a1.dot(W2) + b2
    data_loss, dscores = softmax_cross_entropy(scores, y)
    loss = data_loss + reg * sum(np.sum(p * p) for p in (W1, b1, W2, b2))

    dW2 = a1.T.dot(dscores) + 2.0 * reg * W2
    db2 = np.sum(dscores, axis=0) + 2.0 * reg * b2
    da1 = dscores.dot(W2.T)
    dz1 = da1 * (z1 > 0)
    dW1 = X.T.dot(dz1) + 2.0 * reg * W1
    db1 = np.sum(dz1, axis=0) + 2.0 * reg * b1
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    return loss, grads
