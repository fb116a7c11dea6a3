"""Reference: L = ||XW - Y||_2^2 + lam * ||W||_1 and its (sub)gradient (instructor's solution)."""

import numpy as np


def matrix_loss(X, W, Y, lam):
    """Squared Frobenius norm of the residual plus lam times the elementwise L1 norm of W.

    X is (n, d), W is (d, k), Y is (n, k). Returns (L, dW) with dW of W's shape; sign(W) (0 where
    W is 0) is the subgradient of |W|.
    """
    R = X @ W - Y
    L = float(np.sum(R ** 2) + lam * np.sum(np.abs(W)))
    dW = 2.0 * X.T @ R + lam * np.where(W >= 0, 1.0, -1.0)
    return L, dW
