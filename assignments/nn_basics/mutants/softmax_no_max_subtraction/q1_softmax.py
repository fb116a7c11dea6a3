# Mutant softmax_no_max_subtraction (problem: softmax): exp of the raw logits, without subtracting the row maximum (overflows).
"""Reference softmax (instructor's solution). Imported only by the grader, never by a worker."""

import numpy as np


def softmax(x):
    """Row-wise softmax of a 1-D or 2-D array, stable for large logits; keeps the shape."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        shifted = x
        exps = np.exp(shifted)
        return exps / np.sum(exps)
    shifted = x
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=1, keepdims=True)
