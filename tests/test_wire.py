"""The grader's side of the wire accepts plain data only, whatever the worker sends."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest

from grader import wire


def frame(header: dict, blobs: list[bytes] = ()) -> bytes:
    body = dict(header, blob_sizes=[len(b) for b in blobs])
    raw = json.dumps(body).encode()
    return struct.pack(">I", len(raw)) + raw + b"".join(blobs)


def reader(data: bytes):
    stream = io.BytesIO(data)
    asked = []

    def read(n):
        asked.append(n)
        return stream.read(n)

    return read, asked


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def test_foreign_equals_nothing():
    foreign = wire.Foreign("Anything")
    assert foreign != foreign and not (foreign == 1) and not (foreign == foreign)


def test_objects_and_non_numeric_arrays_become_foreign_when_encoded():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    for value in (np.array(["1.0"]), np.array([object()], dtype=object), object(), AlwaysEqual()):
        blobs: list[bytes] = []
        decoded = wire.decode(wire.encode(value, blobs), blobs)
        assert isinstance(decoded, wire.Foreign)


def test_an_ndarray_subclass_sends_only_its_data():
    class Sub(np.ndarray):
        def __eq__(self, other):
            return True

    value = np.arange(3.0).view(Sub)
    blobs: list[bytes] = []
    decoded = wire.decode(wire.encode(value, blobs), blobs)
    assert type(decoded) is np.ndarray and decoded.tolist() == [0.0, 1.0, 2.0]


def test_pickled_and_non_numeric_arrays_on_the_wire_are_refused():
    for array in (np.array([{"a": 1}], dtype=object), np.array(["x"])):
        with pytest.raises(wire.WireError):
            wire.decode({"$": "nd", "blob": 0}, [npy(array)])


def test_announced_oversize_is_refused_before_it_is_read():
    read, asked = reader(frame({"event": "result"}, []))
    data = json.dumps({"event": "result", "blob_sizes": [2**40]}).encode()
    read, asked = reader(struct.pack(">I", len(data)) + data)
    with pytest.raises(wire.WireError, match="larger than"):
        wire.read_frame(read)
    assert max(asked) < 2**20


def test_nan_and_huge_values():
    assert np.isnan(wire.decode({"$": "float", "v": "nan"}, []))
    with pytest.raises(wire.WireError):
        wire.decode({"$": "float", "v": "1e999999"}, [])
    with pytest.raises(wire.WireError):
        wire.decode(10**2000, [])
    blobs: list[bytes] = []
    big = np.zeros(wire.MAX_BLOB_BYTES // 8 + 1)
    assert "too large" in wire.decode(wire.encode(big, blobs), blobs).type_name


def test_unknown_tags_and_nesting_are_refused():
    with pytest.raises(wire.WireError):
        wire.decode({"$": "pickle", "data": "gASV"}, [])
    nested: object = 1
    for _ in range(wire.MAX_DEPTH + 5):
        nested = [nested]
    with pytest.raises(wire.WireError):
        wire.decode(nested, [])
