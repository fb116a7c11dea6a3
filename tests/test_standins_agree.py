"""Unit test: which helper is blamed compares structured results element by element."""

import numpy as np

from grader.checks.standins import _agrees


def test_structured_results_agree_element_by_element():
    result = (np.ones(3), {"x": np.zeros(2), "out": np.ones(2)})
    assert _agrees(result, (np.ones(3), {"x": np.zeros(2), "out": np.ones(2)}))
    assert not _agrees(result, (np.ones(3), {"x": np.zeros(2), "out": 2 * np.ones(2)}))
    assert not _agrees(result, (np.ones(3), {"x": np.zeros(2)}))
    assert not _agrees(np.ones(3), np.ones((1, 3)))  # a (1, N) row is not a 1-D vector
    assert not _agrees("text", np.ones(3))
