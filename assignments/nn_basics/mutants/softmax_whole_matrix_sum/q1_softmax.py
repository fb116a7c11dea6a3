# Mutant softmax_whole_matrix_sum (problem: softmax): divides by the sum of the whole matrix.
"""Reference softmax (instructor's solution). Imported only by the grader, never by a worker."""

import numpy as np


def softmax(x):
    """Row-wise softmax of a 1-D or 2-D array, stable for large logits; keeps the shape."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        shifted = x - np.max(x)
        exps = np.exp(shifted)
        return exps / np.sum(exps)
    shifted = x - np.max(x, axis=1, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps)
