# Mutant sigmoid_tanh_identity (problem: sigmoid): the tanh identity without halving x: 0.5 * (1 + tanh(x)).
"""Reference sigmoid and its gradient (instructor's solution)."""

import numpy as np


def sigmoid(x):
    """Logistic function, finite for any input (no overflow warning for large |x|)."""
    x = np.asarray(x, dtype=float)
    out = 0.5 * (1.0 + np.tanh(x))
    return out if out.ndim else out[()]


def sigmoid_grad(s):
    """Gradient of the sigmoid given its value s = sigmoid(x)."""
    s = np.asarray(s, dtype=float)
    result = s * (1.0 - s)
    return result if result.ndim else result[()]
