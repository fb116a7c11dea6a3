"""Reference: one sigmoid unit f = sigmoid(w0 * x + w1) and its derivatives (instructor's solution)."""

import numpy as np


def sigmoid_unit(x, w):
    """f = 1 / (1 + exp(-(w0*x + w1))) for a number x and w = [w0, w1].

    Returns (f, dfdx, dfdw) with dfdw = np.array([df/dw0, df/dw1]).
    """
    z = w[0] * x + w[1]
    # exp of a negative number only: finite for any z
    if z >= 0:
        f = 1.0 / (1.0 + np.exp(-z))
    else:
        e = np.exp(z)
        f = e / (1.0 + e)
    f = float(f)
    dfdz = np.exp(-z) / (1.0 + np.exp(-z)) ** 2
    dfdx = dfdz * w[0]
    dfdw = np.array([dfdz * x, dfdz], dtype=float)
    return f, float(dfdx), dfdw
