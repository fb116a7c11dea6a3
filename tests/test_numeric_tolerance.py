"""assert_close compares values near zero with an absolute tolerance scaled to the expected
values (1e-14 of the largest): a sound formula other than the reference's is not failed for
rounding deep in a tail, while an error of the values' own scale still is."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks import CheckFailure, assert_close


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


X = np.array([-1000.0, -700.0, -350.0, -30.0, 0.0, 30.0, 350.0, 700.0, 1000.0])


def test_the_tanh_sigmoid_passes_in_the_tails():
    # 0 where 1e-152 is expected, 9.3592e-14 where 9.3576e-14 is: off by < 1e-16 absolute
    assert_close(0.5 * (1 + np.tanh(X / 2)), stable_sigmoid(X), rtol=1e-7)


def test_a_clipped_sigmoid_still_fails():
    clipped = stable_sigmoid(np.clip(X, -20, 20))   # off by 2e-9 at the values' scale of 1
    with pytest.raises(CheckFailure, match="absolute"):
        assert_close(clipped, stable_sigmoid(X), rtol=1e-7)


def test_relative_errors_at_the_values_scale_are_unchanged():
    expected = np.array([1.0, 2.0, 3.0])
    with pytest.raises(CheckFailure):
        assert_close(expected * (1 + 1e-6), expected, rtol=1e-7)
    assert_close(expected * (1 + 1e-8), expected, rtol=1e-7)


def test_scale_atol_zero_is_purely_relative():
    with pytest.raises(CheckFailure):
        assert_close(0.5 * (1 + np.tanh(X / 2)), stable_sigmoid(X), rtol=1e-7, scale_atol=0)


def test_a_lone_tiny_value_is_judged_relative_to_itself():
    # its scale is itself: 1e-152 against 0 is a 100% error
    with pytest.raises(CheckFailure):
        assert_close(0.0, 1e-152, rtol=1e-7)


def test_as_scalar_reads_one_number_of_any_shape_and_refuses_the_rest():
    """NumPy 2 refuses float() of a (1,) or (1, 1) array: a check must read one number with
    as_scalar, whatever shape the student's sum kept; a complex or multi-valued one is the
    student's failure (a CheckFailure), never the check's crash."""
    import numpy as np
    import pytest

    from grader.checks import CheckFailure, as_scalar

    for value in (2.5, np.float32(2.5), np.array(2.5), np.array([2.5]), np.array([[2.5]]), [2.5]):
        assert as_scalar(value, "the cost") == 2.5
    for value in (np.array([1.0, 2.0]), np.array([1 + 2j]), "2.5", None):
        with pytest.raises(CheckFailure):
            as_scalar(value, "the cost")
