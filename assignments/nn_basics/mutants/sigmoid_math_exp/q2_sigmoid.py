# Mutant sigmoid_math_exp (problem: sigmoid): math.exp, which takes single numbers only.
"""Reference sigmoid and its gradient (instructor's solution)."""

import math

import numpy as np


def sigmoid(x):
    """Logistic function, finite for any input (no overflow warning for large |x|)."""
    return 1.0 / (1.0 + math.exp(-x))


def sigmoid_grad(s):
    """Gradient of the sigmoid given its value s = sigmoid(x)."""
    s = np.asarray(s, dtype=float)
    result = s * (1.0 - s)
    return result if result.ndim else result[()]
