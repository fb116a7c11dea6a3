# Mutant sigmoid_grad_sign (problem: sigmoid_grad): s * (s - 1).
"""Reference sigmoid and its gradient (instructor's solution)."""

import numpy as np


def sigmoid(x):
    """Logistic function, finite for any input (no overflow warning for large |x|)."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    exp_x = np.exp(x[~positive])
    out[~positive] = exp_x / (1.0 + exp_x)
    return out if out.ndim else out[()]


def sigmoid_grad(s):
    """Gradient of the sigmoid given its value s = sigmoid(x)."""
    s = np.asarray(s, dtype=float)
    result = s * (s - 1.0)
    return result if result.ndim else result[()]
