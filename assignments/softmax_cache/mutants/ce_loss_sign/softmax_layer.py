"""Reference: a softmax layer with a cache, and the softmax cross-entropy loss.

softmax_forward(x) works row-wise on an (N, C) batch and returns (out, cache) with
cache = {"x": x, "out": out}; softmax_backward(dout, cache) returns dx, the gradient through
the softmax's Jacobian; softmax_cross_entropy(scores, y) returns the mean cross-entropy over
the N examples (y: integer class indices) and its gradient with respect to the scores.
"""

import numpy as np


def softmax_forward(x):
    x = np.asarray(x, dtype=float)
    shifted = x - np.max(x, axis=1, keepdims=True)
    exps = np.exp(shifted)
    out = exps / np.sum(exps, axis=1, keepdims=True)
    cache = {"x": x, "out": out}
    return out, cache


def softmax_backward(dout, cache):
    out = cache["out"]
    dx = out * (dout - np.sum(dout * out, axis=1, keepdims=True))
    return dx


def softmax_cross_entropy(scores, y):
    scores = np.asarray(scores, dtype=float)
    y = np.asarray(y)
    n = scores.shape[0]
    rows = np.arange(n)
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = np.mean(log_probs[rows, y])
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1.0
    dscores /= n
    return loss, dscores
