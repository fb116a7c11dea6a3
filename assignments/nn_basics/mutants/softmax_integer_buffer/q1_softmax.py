# Mutant softmax_integer_buffer (problem: softmax): writes the result into np.zeros_like(x), an integer array for integer input.
"""Reference softmax (instructor's solution). Imported only by the grader, never by a worker."""

import numpy as np


def softmax(x):
    """Row-wise softmax of a 1-D or 2-D array, stable for large logits; keeps the shape."""
    x = np.asarray(x)
    if x.ndim == 1:
        shifted = x - np.max(x)
        exps = np.exp(shifted)
        return exps / np.sum(exps)
    shifted = x - np.max(x, axis=1, keepdims=True)
    exps = np.exp(shifted)
    out = np.zeros_like(x)
    out[:] = exps / np.sum(exps, axis=1, keepdims=True)
    return out
