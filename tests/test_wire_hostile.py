"""Property-based tests of the grader's side of the wire: whatever a worker sends (random JSON,
deep nesting, huge or broken strings, random bytes, truncated frames, NaN and Infinity, bad .npy
blobs, wrong dtypes), reading it gives plain data or a Foreign, or raises WireError, and every
string that comes out is valid UTF-8 and capped. And what the worker encodes comes back as the
plain equivalent, containers in all but exact type included, without the student's methods."""

from __future__ import annotations

import collections
import enum
import io
import json
import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader import messages, safetext, wire

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CAP = safetext.TEXT_LIMIT + 64  # the cap, plus the sentence that says what was cut


def frame(header: object, blobs: list[bytes] = (), raw: bytes | None = None) -> bytes:
    body = raw if raw is not None else json.dumps(header).encode()
    return struct.pack(">I", len(body)) + body + b"".join(blobs)


def reader(data: bytes):
    stream = io.BytesIO(data)
    return stream.read


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def strings_in(value: object, depth: int = 0):
    """Every string a check or an output could see in a decoded value."""
    assert depth < 100
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key, depth + 1)
            yield from strings_in(item, depth + 1)
    elif isinstance(value, (wire.Foreign, wire.Handle)):
        yield value.type_name
        yield getattr(value, "text", "")
    elif isinstance(value, wire.FunctionSpec):
        yield value.name
        yield from strings_in(value.params, depth + 1)


def assert_plain(value: object, depth: int = 0) -> None:
    """Plain data only: what a check may compare."""
    assert depth <= wire.MAX_DEPTH + 2
    if value is None or type(value) in (bool, int, float, str):
        return
    if type(value) is np.ndarray or isinstance(value, np.generic):
        assert value.dtype.kind in wire.NUMERIC_KINDS
        return
    if type(value) in (list, tuple):
        for item in value:
            assert_plain(item, depth + 1)
        return
    if type(value) is dict:
        for key, item in value.items():
            assert type(key) is str
            assert_plain(item, depth + 1)
        return
    assert type(value) in (wire.Foreign, wire.Handle, wire.FunctionSpec), type(value)


def assert_safe_strings(value: object) -> None:
    for text in strings_in(value):
        text.encode("utf-8")  # strictly: no lone surrogate survives
        assert len(text) <= CAP and "\x00" not in text
    for named in _named(value):
        assert len(named) <= wire.TYPE_NAME_LIMIT + 64 and "\n" not in named and "\r" not in named


def _named(value: object, depth: int = 0):
    if isinstance(value, (wire.Foreign, wire.Handle)):
        yield value.type_name
    elif isinstance(value, (list, tuple)) and depth < 100:
        for item in value:
            yield from _named(item, depth + 1)
    elif isinstance(value, dict) and depth < 100:
        for item in value.values():
            yield from _named(item, depth + 1)


# ----------------------------------------------------------------- hostile headers and frames

hostile_text = st.one_of(st.text(max_size=50), st.just("\ud800x\udcff"), st.just("a\x00b\nc"),
                         st.builds(lambda n, c: c * n, st.integers(0, 200_000), st.sampled_from("x\n\x00é")))
floats = st.floats(allow_nan=True, allow_infinity=True)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**5000, 2**5000), floats, hostile_text)


def tagged(children):
    blob = st.integers(-2, 5)
    return st.one_of(
        st.fixed_dictionaries({"$": st.sampled_from(["nd", "np"]), "blob": blob}),
        st.fixed_dictionaries({"$": st.just("float"), "v": st.sampled_from(["nan", "inf", "-inf", "1e999", 3])}),
        st.fixed_dictionaries({"$": st.just("tuple"), "items": st.lists(children, max_size=4)}),
        st.fixed_dictionaries({"$": st.just("dict"), "items": st.lists(
            st.one_of(st.tuples(hostile_text, children).map(list), children), max_size=4)}),
        st.fixed_dictionaries({"$": st.just("object"), "type": hostile_text, "repr": hostile_text}),
        st.fixed_dictionaries({"$": st.just("handle"), "id": st.integers(-5, 5), "type": hostile_text}),
        st.fixed_dictionaries({"$": st.just("fn"), "name": hostile_text, "params": children}),
        st.fixed_dictionaries({"$": st.sampled_from(["pickle", None, 1])}),
        st.dictionaries(hostile_text, children, max_size=3),
    )


wire_values = st.recursive(scalars, lambda children: st.one_of(st.lists(children, max_size=4), tagged(children)),
                           max_leaves=25)
blobs = st.lists(st.one_of(
    st.binary(max_size=64),
    st.sampled_from([npy(np.arange(3.0)), npy(np.array(["x"])), npy(np.array([{"a": 1}], dtype=object)),
                     npy(np.float64(2.5)), npy(np.zeros((2, 2), dtype=[("a", "f8")])),
                     npy(np.array([1 + 2j])), npy(np.array(True))]),
    st.builds(lambda raw, cut: raw[:cut], st.just(npy(np.arange(10.0))), st.integers(0, 200))), max_size=4)
headers = st.fixed_dictionaries(
    {"event": st.one_of(hostile_text, scalars)},
    optional={"stdout": st.one_of(hostile_text, floats), "error": st.one_of(
                  st.fixed_dictionaries({"type": hostile_text, "message": st.one_of(hostile_text, floats)},
                                        optional={"location": st.fixed_dictionaries(
                                            {"file": hostile_text, "line": st.one_of(st.integers(), floats)})}),
                  scalars),
              "seconds": st.one_of(floats, st.integers(), hostile_text), "method": scalars,
              "functions": st.one_of(st.dictionaries(hostile_text, st.one_of(scalars, st.fixed_dictionaries(
                  {"module": st.one_of(hostile_text, floats), "file": scalars, "line": scalars})), max_size=3), scalars),
              "callables": st.one_of(st.lists(st.dictionaries(st.sampled_from(["name", "calls"]), scalars), max_size=3), scalars),
              "value": wire_values, "args_after": wire_values, "text": scalars, "unit": scalars})


def read_or_wire_error(data: bytes) -> dict | None:
    try:
        message = messages.read_message(reader(data))
    except wire.WireError:
        return None
    assert type(message) is dict
    for key in messages.VALUE_KEYS:
        if key in message:
            assert_plain(message[key])
    assert_safe_strings(message)
    for key in ("seconds",):
        if key in message:
            assert type(message[key]) is float and math.isfinite(message[key])
    for key in ("stdout", "text", "message", "event", "unit"):
        if key in message:
            assert type(message[key]) is str
    return message


@FAST
@given(headers, blobs)
def test_any_header_reads_as_capped_plain_data_or_a_wire_error(header, raw_blobs):
    data = frame(dict(header, blob_sizes=[len(b) for b in raw_blobs]), raw_blobs)
    if len(data) - 4 - sum(map(len, raw_blobs)) > wire.MAX_HEADER_BYTES:
        return
    read_or_wire_error(data)


@FAST
@given(st.binary(max_size=300), st.integers(0, 400))
def test_random_and_truncated_bytes_are_a_wire_error_or_data(noise, cut):
    read_or_wire_error(noise)
    whole = frame({"event": "result", "value": {"$": "nd", "blob": 0}, "blob_sizes": [len(npy(np.arange(4.0)))]},
                  [npy(np.arange(4.0))])
    read_or_wire_error(whole[:cut])


@FAST
@given(st.integers(1, 200_000), st.sampled_from(["[", "{\"a\":", "[{\"$\":\"tuple\",\"items\":"]))
def test_nesting_of_any_depth_is_a_wire_error(depth, opener):
    closer = {"[": "]", "{\"a\":": "}", "[{\"$\":\"tuple\",\"items\":": "}]"}[opener]
    body = "{\"event\": \"result\", \"value\": " + opener * depth + "1" + closer * depth + "}"
    if len(body) > wire.MAX_HEADER_BYTES:
        return
    message = read_or_wire_error(frame(None, raw=body.encode()))
    if message is not None:
        assert depth <= wire.MAX_DEPTH + 1


def test_nan_and_infinity_are_floats_in_values_and_never_text():
    raw = b'{"event": NaN, "stdout": Infinity, "seconds": NaN, "value": [NaN, -Infinity], ' \
          b'"error": {"type": NaN, "message": Infinity, "location": {"file": NaN, "line": NaN}}}'
    message = read_or_wire_error(frame(None, raw=raw))
    assert message["event"] == "" and message["stdout"] == "" and message["seconds"] == 0.0
    assert math.isnan(message["value"][0]) and message["value"][1] == -math.inf
    assert message["error"] == {"type": "", "message": "", "traceback": ""}


def test_a_huge_type_name_is_one_short_line():
    raw = json.dumps({"event": "result", "error": {"type": "E" * 1_500_000 + "\nSECRET"},
                      "value": {"$": "object", "type": "T" * 1_500_000 + "\nSECRET", "repr": "r" * 900_000}})
    message = read_or_wire_error(frame(None, raw=raw.encode()))
    assert "SECRET" not in message["error"]["type"] and "SECRET" not in message["value"].type_name
    assert len(message["value"].text) <= wire.REPR_LIMIT + 64


# ----------------------------------------------------------------- round trips

# Text the policy keeps as it is (NUL and lone surrogates are changed by design, tested above).
kept_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                    max_size=30)

plain = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**200, 2**200), st.floats(allow_nan=False),
              kept_text, hnp.arrays(hnp.scalar_dtypes().filter(lambda d: d.kind in "biufc"),
                                               hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))),
    lambda children: st.one_of(st.lists(children, max_size=4), st.lists(children, max_size=4).map(tuple),
                               st.dictionaries(kept_text, children, max_size=4)),
    max_leaves=20)


def through_the_wire(value: object) -> object:
    """Encode as the worker does, frame, and read as the grader does."""
    blobs: list[bytes] = []
    header = json.dumps({"event": "result", "value": wire.encode(value, blobs),
                         "blob_sizes": [len(b) for b in blobs]}, allow_nan=False).encode()
    return messages.read_message(reader(struct.pack(">I", len(header)) + header + b"".join(blobs)))["value"]


def same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return type(b) is np.ndarray and a.dtype == b.dtype and a.shape == b.shape and \
            np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


@FAST
@given(plain)
def test_plain_data_round_trips(value):
    assert same(value, through_the_wire(value))


@FAST
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
@given(st.dictionaries(kept_text, st.integers(), max_size=5), st.lists(st.floats(allow_nan=False), max_size=5),
       hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=4)))
def test_containers_in_all_but_exact_type_arrive_as_their_plain_equivalents(mapping, items, matrix):
    Pair = collections.namedtuple("Pair", "a b")

    class MyList(list):
        pass

    class MyFloat(float):
        pass

    class Colour(enum.IntEnum):
        RED = 1

    class MyStr(str):
        pass

    cases = [
        (collections.OrderedDict(mapping), dict(mapping)),
        (collections.defaultdict(int, mapping), dict(mapping)),
        (collections.Counter(mapping), dict(mapping)),
        (Pair(items, mapping), (items, dict(mapping))),
        (MyList(items), list(items)),
        (np.asmatrix(matrix), np.asarray(matrix)),
        (np.ma.masked_array(matrix), np.asarray(matrix)),
        (MyFloat(2.5), 2.5), (Colour.RED, 1), (MyStr("s"), "s"),
        ({MyStr("k"): 1}, {"k": 1}),
        (np.float64(1.5), np.float64(1.5)), (np.int32(7), np.int32(7)), (np.bool_(True), np.bool_(True)),
    ]
    for value, expected in cases:
        got = through_the_wire(value)
        assert same(expected, got), (type(value), got)
        if isinstance(expected, np.generic):
            assert type(got) is type(expected)


def test_a_student_container_sends_only_its_data():
    class Liar(dict):
        def __eq__(self, other):
            return True

        def items(self):
            return [("forged", 1)]

        def keys(self):
            return ["forged"]

        def __iter__(self):
            return iter(["forged"])

    class LyingList(list):
        def __iter__(self):
            return iter([99])

    class LyingArray(np.ndarray):
        def __array__(self, *args, **kwargs):
            return np.array([99.0])

        def __eq__(self, other):
            return True

    class AlwaysEqual:
        def __eq__(self, other):
            return True

    liar = Liar(real=2)
    assert through_the_wire(liar) == {"real": 2}
    assert through_the_wire(LyingList([1, 2])) == [1, 2]
    array = through_the_wire(np.arange(3.0).view(LyingArray))
    assert type(array) is np.ndarray and array.tolist() == [0.0, 1.0, 2.0]
    assert isinstance(through_the_wire(AlwaysEqual()), wire.Foreign)
    assert isinstance(through_the_wire({1: 2}), wire.Foreign)


@pytest.mark.parametrize("depth", [wire.MAX_DEPTH - 1, wire.MAX_DEPTH, wire.MAX_DEPTH + 1, 500])
def test_a_value_nested_past_the_limit_arrives_with_a_foreign_inside(depth):
    value: object = 1.0
    for _ in range(depth):
        value = [value]
    got = through_the_wire(value)
    for _ in range(min(depth, wire.MAX_DEPTH)):
        got = got[0]
    assert got == 1.0 if depth < wire.MAX_DEPTH else isinstance(got, wire.Foreign)


def test_more_items_than_the_decoder_takes_is_refused_by_the_encoder():
    with pytest.raises(wire.WireError):
        wire.pack({"event": "result"}, {"value": [0] * (wire.MAX_ITEMS + 1)})
