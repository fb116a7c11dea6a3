"""Public checks for sigmoid and sigmoid_grad (expected values written out; no reference)."""

import numpy as np
import pytest

from grader.checks import assert_close


@pytest.mark.problem("sigmoid", points=1, visibility="visible")
def test_public_sigmoid_known_values(submission):
    """public: sigmoid([0, 1, -1]) is [0.5, 0.7310..., 0.2689...]"""
    assert_close(submission.sigmoid(np.array([0.0, 1.0, -1.0])),
                 [0.5, 0.7310585786300049, 0.2689414213699951], rtol=1e-7,
                 hint="sigmoid(x) = 1 / (1 + exp(-x)), elementwise")


@pytest.mark.problem("sigmoid_grad", points=1, visibility="visible")
def test_public_sigmoid_grad_takes_s(submission):
    """public: sigmoid_grad(s) for s = [0.5, 0.25] is s * (1 - s) = [0.25, 0.1875]"""
    assert_close(submission.sigmoid_grad(np.array([0.5, 0.25])), [0.25, 0.1875], rtol=1e-7,
                 hint="sigmoid_grad takes s = sigmoid(x), not x: return s * (1 - s)")
