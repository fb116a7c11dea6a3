# Mutant softmax_assumes_matrix (problem: softmax): handles only 2-D input (axis=1 on a vector raises).
"""Reference softmax (instructor's solution). Imported only by the grader, never by a worker."""

import numpy as np


def softmax(x):
    """Row-wise softmax of a 1-D or 2-D array, stable for large logits; keeps the shape."""
    x = np.asarray(x, dtype=float)
    shifted = x - np.max(x, axis=1, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=1, keepdims=True)
