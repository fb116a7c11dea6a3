import numpy as np


def softmax(x):
    """Compute the softmax function for each row of the input x.

    Works for both a single N-dimensional vector (1-D array) and for
    M x N matrices (each row is treated as a separate example).
    The output has the same shape as the input.

    Numerical stability: softmax(x) == softmax(x - c) for any constant c,
    so we subtract the max of each row before exponentiating so that
    np.exp never overflows.
    """
    orig_shape = x.shape

    if len(x.shape) > 1:
        # Matrix: subtract the max of each row (keepdims so it broadcasts)
        x = x - np.max(x, axis=1, keepdims=True)
        x = np.exp(x)
        x = x / (np.sum(x, axis=1, keepdims=True) + 1e-8)  # avoid dividing by zero
    else:
        # Vector
        x = x - np.max(x)
        x = np.exp(x)
        x = x / (np.sum(x) + 1e-8)

    assert x.shape == orig_shape
    return x


def test_softmax_basic():
    """Some simple tests to get you started."""
    print("Running basic tests...")
    test1 = softmax(np.array([1, 2]))
    print(test1)
    ans1 = np.array([0.26894142, 0.73105858])
    assert np.allclose(test1, ans1, rtol=1e-05, atol=1e-06)

    test2 = softmax(np.array([[1001, 1002], [3, 4]]))
    print(test2)
    ans2 = np.array([
        [0.26894142, 0.73105858],
        [0.26894142, 0.73105858]])
    assert np.allclose(test2, ans2, rtol=1e-05, atol=1e-06)

    test3 = softmax(np.array([[-1001, -1002]]))
    print(test3)
    ans3 = np.array([0.73105858, 0.26894142])
    assert np.allclose(test3, ans3, rtol=1e-05, atol=1e-06)

    print("You should be able to verify these results by hand!\n")


if __name__ == "__main__":
    test_softmax_basic()
