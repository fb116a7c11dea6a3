"""Reference: softmax over axis 0 (each column) and the Jacobian of a softmax vector."""

import numpy as np


def softmax(x):
    """Softmax of each column (axis 0) of a 1-D or 2-D array; keeps the shape."""
    x = np.asarray(x, dtype=float)
    e = np.exp(x - np.max(x, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def softmax_grad(s):
    """The Jacobian ds_i/dx_j = diag(s) - s s^T of s = softmax(x), for a 1-D s: an (n, n) array."""
    s = np.asarray(s, dtype=float).reshape(-1)
    return np.diag(s) - s.T @ s
