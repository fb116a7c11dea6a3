"""An array result crosses the wire with its shape, 0-d included: np.where(x >= 0, ...) on a
float returns a 0-d array, and a sigmoid written that way lost the 'sigmoid of a Python float'
points when the wire made it shape (1,) (np.ascontiguousarray is at least 1-d)."""

from __future__ import annotations

import numpy as np
import pytest

from grader import wire


@pytest.mark.parametrize("array", [np.array(0.5), np.arange(6.0).reshape(2, 3),
                                   np.arange(12.0).reshape(3, 4).T, np.zeros((0, 2))],
                         ids=["0-d", "2-d", "transposed", "empty"])
def test_arrays_keep_their_shape_and_values(array):
    blobs: list[bytes] = []
    back = wire.decode(wire.encode(array, blobs), blobs)
    assert type(back) is np.ndarray and back.shape == array.shape and np.array_equal(back, array)
