"""Public checks for softmax: students may read these and run them with `grader run . --public`.

Public checks hold their expected values in the file (no reference solution is needed, so the
students' copy of the grader has none). They are part of the problem's points: assignment.toml
gives each problem the points of its public and hidden checks together.
"""

import numpy as np
import pytest

from grader.checks import assert_close


@pytest.mark.problem("softmax", points=0.5, visibility="visible")
def test_public_known_vector(submission):
    """public: softmax([1, 2]) is [0.2689..., 0.7310...]"""
    assert_close(submission.softmax(np.array([1.0, 2.0])), [0.2689414213699951, 0.7310585786300049],
                 rtol=1e-7, hint="softmax(x)_i = exp(x_i) / sum_j exp(x_j), kept as a 1-D vector")


@pytest.mark.problem("softmax", points=0.5, visibility="visible")
def test_public_rows_and_large_logits(submission):
    """public: each row of [[1001, 1002], [3, 4]] gets its own softmax, without overflow"""
    row = [0.2689414213699951, 0.7310585786300049]
    assert_close(submission.softmax(np.array([[1001.0, 1002.0], [3.0, 4.0]])), [row, row],
                 rtol=1e-7, hint="work row by row, and subtract each row's maximum before exp")
