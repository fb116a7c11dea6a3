"""The wire between the grader and a worker: data only, never pickle, never code.

Both sides import this file (the worker gets a private copy inside its sandbox), so it may use
nothing but the standard library and numpy. A message is a 4-byte length, a JSON header and the
raw bytes of any arrays, each an .npy file read back with ``allow_pickle=False``.

The grader treats everything a worker sends as hostile: ``decode`` accepts only plain numbers,
strings, lists, tuples, str-keyed dicts and numeric ndarrays within fixed size limits, and turns
anything else the worker describes into a ``Foreign`` placeholder that equals nothing.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import numpy as np

MAX_HEADER_BYTES = 4 * 1024 * 1024
MAX_BLOB_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 160 * 1024 * 1024
MAX_DEPTH = 32
MAX_ITEMS = 200_000
MAX_STRING = 1024 * 1024
MAX_INT_BITS = 4096
NUMERIC_KINDS = "biufc"


class WireError(Exception):
    """The other side broke the protocol (or sent more than the limits allow)."""


class Foreign:
    """Stands for a value the worker could not (or would not) send as plain data.

    It equals nothing, not even another Foreign, so no check can pass by comparing it.
    """

    __slots__ = ("type_name", "text")

    def __init__(self, type_name: str, text: str = "") -> None:
        self.type_name = type_name
        self.text = text

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{self.type_name} object{': ' + self.text if self.text else ''}>"


class Handle:
    """An object that lives in the worker (an instance of a student's class), by reference.

    Only its number crosses the boundary; the grader can call its methods and read its
    attributes through the worker, and hand it back as an argument."""

    __slots__ = ("id", "type_name", "generation")

    def __init__(self, ident: int, type_name: str, generation: int | None = None) -> None:
        self.id = ident
        self.type_name = type_name
        self.generation = generation  # which worker it lives in (set by the grader's session)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Handle) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("handle", self.id))

    def __repr__(self) -> str:
        return f"<{self.type_name} object #{self.id} in the worker>"


class Remote:
    """Base of the grader's stand-ins for objects that live in the worker (see
    grader/checks/proxy.py): like a Foreign, never data, whatever it holds."""

    __slots__ = ()

    @property
    def type_name(self) -> str:
        return object.__getattribute__(self, "_handle").type_name


class FunctionSpec:
    """A callable the worker builds on its own side from a named factory (grader -> worker)."""

    __slots__ = ("name", "params")

    def __init__(self, name: str, **params: object) -> None:
        self.name = name
        self.params = params

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.name}({args})"


class Callback:
    """A function the grader evaluates on its own side, handed to student code (grader ->
    worker): the worker gets a stub that asks the grader for each answer. A sandbox function
    built in the worker would carry its parameters (a check's "error" or "scale") in its
    closure, where the student's code can read them and answer without computing anything.
    From the worker, it equals nothing, like a Foreign."""

    __slots__ = ("id", "uses_random")

    def __init__(self, ident: int, uses_random: bool = False) -> None:
        self.id = ident
        self.uses_random = uses_random   # the student's random states travel with each call

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "<function f>"


# ---------------------------------------------------------------- encoding (either side)

def _type_name(value: object) -> str:
    cls = type(value)
    module = getattr(cls, "__module__", "") or ""
    qual = getattr(cls, "__qualname__", cls.__name__)
    return qual if module in ("builtins", "") else f"{module}.{qual}"


def _safe_repr(value: object, limit: int = 200) -> str:
    try:
        text = repr(value)
    except BaseException:  # noqa: BLE001 - repr of student objects may do anything
        return ""
    if not isinstance(text, str):
        return ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _npy_bytes(array: np.ndarray) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class _Count:
    """How many items an encoding has produced so far (the decoder's MAX_ITEMS, applied early)."""

    def __init__(self) -> None:
        self.items = 0


def _too_deep() -> dict:
    return {"$": "object", "type": f"value nested deeper than {MAX_DEPTH} levels", "repr": ""}


def _as_plain(value: object, np) -> tuple[bool, object]:
    """A value that is a dict, list, tuple, str, int, float or ndarray in all but exact type
    (OrderedDict, defaultdict, Counter, a namedtuple, np.matrix, a masked array, an IntEnum, a
    str subclass, a subclass of a numpy scalar type), as the plain value it holds.

    Only the base types' own methods are used (``dict.items``, ``list.__iter__``,
    ``ndarray.view``, ``int.__int__``), never the subclass's: a student's overridden
    ``items``, ``__iter__``, ``__array__`` or ``__eq__`` cannot run here or forge anything, and
    nothing of the object but its data is sent. (False, None) when it is none of these."""
    cls = type(value)
    if issubclass(cls, np.ndarray):
        return True, np.ndarray.view(value, np.ndarray)
    if issubclass(cls, np.generic):
        return True, np.asarray(value)
    if issubclass(cls, dict):
        return True, dict(dict.items(value))
    if issubclass(cls, list):
        return True, list(list.__iter__(value))
    if issubclass(cls, tuple):
        return True, tuple(tuple.__iter__(value))
    if issubclass(cls, str):
        return True, str.__str__(value)
    if issubclass(cls, bool):  # bool cannot be subclassed; here for clarity
        return True, bool(int.__int__(value))
    if issubclass(cls, int):
        return True, int.__int__(value)
    if issubclass(cls, float):
        return True, float.__float__(value)
    return False, None


def encode(value: object, blobs: list[bytes], depth: int = 0,
           keep: Callable[[object], int | None] | None = None, count: _Count | None = None) -> object:
    """Turn a value into JSON-able data, appending array bytes to ``blobs``.

    Whatever the decoder would refuse (nesting past MAX_DEPTH, a string over MAX_STRING, an
    int over MAX_INT_BITS) is sent as an object description instead, so a result the grader
    cannot take costs the student that value, never the worker; more than MAX_ITEMS items
    raises WireError (the worker then reports the result as too large)."""
    import numpy as np  # here, not at the top: the grader starts its worker before numpy loads

    count = count if count is not None else _Count()
    count.items += 1
    if count.items > MAX_ITEMS:
        raise WireError(f"the value has more than {MAX_ITEMS} items")
    if depth >= MAX_DEPTH:
        return _too_deep()
    cls = type(value)
    if value is None or cls is bool:
        return value
    if cls not in (int, float, str, list, tuple, dict) and cls is not np.ndarray and not (
            issubclass(cls, np.generic) and cls.__module__ == "numpy"):
        converted, plain = _as_plain(value, np)
        if converted:
            return encode(plain, blobs, depth, keep, count)
    if cls is str:
        if len(value) > MAX_STRING:
            return {"$": "object", "type": f"str of {len(value)} characters (too long)", "repr": ""}
        return value
    if cls is int:
        if value.bit_length() > MAX_INT_BITS:
            return {"$": "object", "type": "int (too large)", "repr": ""}
        return value
    if cls is float:
        if math.isfinite(value):
            return value
        return {"$": "float", "v": repr(value)}
    if cls is np.ndarray:
        if value.nbytes > MAX_BLOB_BYTES:
            return {"$": "object", "type": f"numpy.ndarray of {value.nbytes // 2**20} MiB (too large)",
                    "repr": f"shape {value.shape}"}
        if value.dtype.kind not in NUMERIC_KINDS or value.dtype.fields is not None:
            return {"$": "object", "type": f"numpy.ndarray of dtype {value.dtype}", "repr": ""}
        # (not np.ascontiguousarray: it makes a 0-d array 1-d)
        blobs.append(_npy_bytes(value if value.flags.c_contiguous else np.copy(value, order="C")))
        return {"$": "nd", "blob": len(blobs) - 1}
    if issubclass(cls, np.generic) and cls.__module__ == "numpy":
        array = np.asarray(value)
        if array.dtype.kind not in NUMERIC_KINDS or array.dtype.fields is not None:
            return {"$": "object", "type": _type_name(value), "repr": _safe_repr(value)}
        blobs.append(_npy_bytes(array))
        return {"$": "np", "blob": len(blobs) - 1}
    if cls in (list, tuple):
        items = [encode(item, blobs, depth + 1, keep, count) for item in value]
        return items if cls is list else {"$": "tuple", "items": items}
    if cls is dict:
        keys = [str.__str__(k) if issubclass(type(k), str) else k for k in value]
        if not all(type(k) is str for k in keys):
            return {"$": "object", "type": "dict with non-string keys", "repr": _safe_repr(value)}
        return {"$": "dict", "items": [[k, encode(v, blobs, depth + 1, keep, count)]
                                       for k, v in zip(keys, dict.values(value))]}
    if isinstance(value, FunctionSpec):
        return {"$": "fn", "name": value.name, "params": encode(dict(value.params), blobs, depth + 1)}
    if isinstance(value, Callback):
        return {"$": "cb", "id": value.id, "random": value.uses_random}
    if isinstance(value, Foreign):
        return {"$": "object", "type": value.type_name, "repr": value.text}
    if isinstance(value, Handle):
        return {"$": "handle", "id": value.id, "type": value.type_name}
    if keep is not None:
        ident = keep(value)
        if ident is not None:
            return {"$": "handle", "id": ident, "type": cls.__qualname__}
    return {"$": "object", "type": _type_name(value), "repr": _safe_repr(value)}


# ---------------------------------------------------------------- decoding (strict)

class _Budget:
    def __init__(self) -> None:
        self.items = 0


def _load_array(raw: bytes) -> np.ndarray:
    import numpy as np

    try:
        array = np.load(io.BytesIO(raw), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any malformed .npy is a protocol error
        raise WireError(f"unreadable array data ({type(exc).__name__})") from None
    if type(array) is not np.ndarray:
        raise WireError("array data is not a plain ndarray")
    if array.dtype.kind not in NUMERIC_KINDS or array.dtype.fields is not None:
        raise WireError(f"array of non-numeric dtype {array.dtype}")
    return array


TYPE_NAME_LIMIT = 200   # a type name from the worker: one line, this many characters at most
REPR_LIMIT = 300


def _raw_text(value: str, limit: int) -> str:
    return value[:limit]


def decode(data: object, blobs: list[bytes], depth: int = 0, budget: _Budget | None = None,
           resolve: Callable[[int], object] | None = None,
           text: Callable[[str, int], str] | None = None) -> object:
    """Rebuild a value from its wire form, accepting plain data only.

    ``text(value, limit)`` is the policy every string passes through (the grader gives
    ``grader.safetext.text``: valid, capped text; the worker, which gets the grader's own
    strings, gives none). Anything malformed, however deep, raises WireError and nothing else."""
    try:
        return _decode(data, blobs, depth, budget or _Budget(), resolve, text or _raw_text)
    except RecursionError:
        raise WireError("value nested too deeply") from None


def one_line(text: Callable[[str, int], str], value: str, limit: int = TYPE_NAME_LIMIT) -> str:
    """A name from the other side (a type's, a function's) as one short line of text."""
    return " ".join(text(value[: limit + 1], limit).split())


def _decode(data: object, blobs: list[bytes], depth: int, budget: _Budget,
            resolve: Callable[[int], object] | None, text: Callable[[str, int], str]) -> object:
    budget.items += 1
    if budget.items > MAX_ITEMS:
        raise WireError(f"value has more than {MAX_ITEMS} items")
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if data is None or type(data) in (bool, float):
        return data
    if type(data) is int:
        if data.bit_length() > MAX_INT_BITS:
            raise WireError("integer too large")
        return data
    if type(data) is str:
        if len(data) > MAX_STRING:
            raise WireError("string too long")
        return text(data, MAX_STRING)
    if type(data) is list:
        return [_decode(item, blobs, depth + 1, budget, resolve, text) for item in data]
    if type(data) is not dict:
        raise WireError(f"unexpected {type(data).__name__} on the wire")
    tag = data.get("$")
    if tag in ("nd", "np"):
        index = data.get("blob")
        if type(index) is not int or not 0 <= index < len(blobs):
            raise WireError("array reference out of range")
        array = _load_array(blobs[index])
        if tag == "np":
            if array.ndim != 0:
                raise WireError("scalar with a shape")
            return array[()]
        return array
    if tag == "float":
        value = data.get("v")
        if value not in ("nan", "inf", "-inf"):
            raise WireError("bad special float")
        return float(value)
    if tag == "tuple":
        items = data.get("items")
        if type(items) is not list:
            raise WireError("bad tuple")
        return tuple(_decode(item, blobs, depth + 1, budget, resolve, text) for item in items)
    if tag == "dict":
        items = data.get("items")
        if type(items) is not list:
            raise WireError("bad dict")
        result = {}
        for pair in items:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str \
                    or len(pair[0]) > MAX_STRING:
                raise WireError("bad dict item")
            result[text(pair[0], MAX_STRING)] = _decode(pair[1], blobs, depth + 1, budget, resolve, text)
        return result
    if tag == "handle":
        ident, type_name = data.get("id"), data.get("type", "")
        if type(ident) is not int or type(type_name) is not str:
            raise WireError("bad object handle")
        return resolve(ident) if resolve is not None else Handle(ident, one_line(text, type_name))
    if tag == "object":
        type_name = data.get("type")
        description = data.get("repr", "")
        if type(type_name) is not str or type(description) is not str:
            raise WireError("bad object description")
        return Foreign(one_line(text, type_name), text(description[: REPR_LIMIT + 1], REPR_LIMIT))
    if tag == "cb":
        ident = data.get("id")
        if type(ident) is not int:
            raise WireError("bad callback")
        return Callback(ident, data.get("random") is True)
    if tag == "fn":
        name = data.get("name")
        params = _decode(data.get("params", {"$": "dict", "items": []}), blobs, depth + 1, budget,
                         None, text)
        if type(name) is not str or type(params) is not dict:
            raise WireError("bad function spec")
        spec = FunctionSpec(text(name[: TYPE_NAME_LIMIT + 1], TYPE_NAME_LIMIT))
        spec.params = params  # not as keywords: a parameter called "name" is data too
        return spec
    raise WireError(f"unknown tag {tag!r}")


# ---------------------------------------------------------------- framing

def pack(message: dict, values: dict[str, object] | None = None,
         keep: Callable[[object], int | None] | None = None,
         attachments: list[bytes] | None = None) -> bytes:
    """One frame: the message, with each entry of ``values`` encoded under its key.

    ``attachments`` (grader to worker only: the submission's source) travel as raw blobs, not
    in the header, so a source of any size up to MAX_BLOB_BYTES fits; the header's
    ``attachments`` lists their blob numbers. Over any limit: WireError, nothing sent."""
    blobs: list[bytes] = []
    body = dict(message)
    for key, value in (values or {}).items():
        body[key] = encode(value, blobs, keep=keep)
    if attachments is not None:
        body["attachments"] = list(range(len(blobs), len(blobs) + len(attachments)))
        blobs.extend(attachments)
    body["blob_sizes"] = [len(b) for b in blobs]
    try:
        header = json.dumps(body, allow_nan=False).encode()
    except RecursionError:
        raise WireError("message nested too deeply") from None
    if len(header) > MAX_HEADER_BYTES:
        raise WireError(f"message of {len(header) // 2**20} MiB is over the "
                        f"{MAX_HEADER_BYTES // 2**20} MiB limit")
    if any(len(b) > MAX_BLOB_BYTES for b in blobs) or sum(map(len, blobs)) > MAX_TOTAL_BYTES:
        raise WireError(f"arrays of {sum(map(len, blobs)) // 2**20} MiB are over the "
                        f"{MAX_TOTAL_BYTES // 2**20} MiB limit")
    return struct.pack(">I", len(header)) + header + b"".join(blobs)


def read_exact(fd: int, size: int) -> bytes:
    """Blocking read of exactly ``size`` bytes (the worker's side; the grader reads with deadlines)."""
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(read: Callable[[int], bytes]) -> tuple[dict, list[bytes]]:
    """Read one frame through ``read(n)``, enforcing every size limit before reading the bytes
    a frame announces."""
    prefix = read(4)
    if len(prefix) != 4:
        raise WireError("truncated message")
    (length,) = struct.unpack(">I", prefix)
    if length > MAX_HEADER_BYTES:
        raise WireError(f"message header of {length} bytes is over the limit")
    raw = read(length)
    if len(raw) != length:
        raise WireError("truncated message")
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise WireError("message header is not JSON") from None
    except RecursionError:
        raise WireError("message header nested too deeply") from None
    if type(header) is not dict:
        raise WireError("message header is not an object")
    sizes = header.pop("blob_sizes", [])
    if type(sizes) is not list or not all(type(s) is int and s >= 0 for s in sizes):
        raise WireError("bad blob sizes")
    if any(s > MAX_BLOB_BYTES for s in sizes) or sum(sizes) > MAX_TOTAL_BYTES:
        mib = max(sizes, default=0) / 2**20
        raise WireError(f"result of {mib:.0f} MiB is larger than the {MAX_BLOB_BYTES // 2**20} MiB limit")
    blobs = [read(s) for s in sizes]
    if [len(b) for b in blobs] != sizes:
        raise WireError("truncated message")
    return header, blobs


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
