# Mutant softmax_1d_as_row (problem: softmax): turns a 1-D input into a (1, N) row and returns that.
"""Reference softmax (instructor's solution). Imported only by the grader, never by a worker."""

import numpy as np


def softmax(x):
    """Row-wise softmax of a 1-D or 2-D array, stable for large logits; keeps the shape."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x.reshape(1, -1)
    shifted = x - np.max(x, axis=1, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=1, keepdims=True)
