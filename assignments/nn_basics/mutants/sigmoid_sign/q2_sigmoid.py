# Mutant sigmoid_sign (problem: sigmoid): 1 / (1 + exp(x)): the sign of x flipped.
"""Reference sigmoid and its gradient (instructor's solution)."""

import numpy as np


def sigmoid(x):
    """Logistic function, finite for any input (no overflow warning for large |x|)."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = np.exp(-x[positive]) / (1.0 + np.exp(-x[positive]))
    out[~positive] = 1.0 / (1.0 + np.exp(x[~positive]))
    return out if out.ndim else out[()]


def sigmoid_grad(s):
    """Gradient of the sigmoid given its value s = sigmoid(x)."""
    s = np.asarray(s, dtype=float)
    result = s * (1.0 - s)
    return result if result.ndim else result[()]
