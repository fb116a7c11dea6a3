"""The grader's reading of what a worker sends: one frame in, plain and capped data out.

A worker runs student code, so every byte of its messages is hostile: the student may write to
the channel directly, whatever the worker itself would have sent. ``read_message`` is the one
place those bytes become the grader's data. It keeps only the header fields the grader knows,
passes every string once through ``grader.safetext.text`` (valid UTF-8, capped at TEXT_LIMIT,
type and function names at one short line), accepts numbers only where numbers belong (a NaN
or an Infinity is a float in a returned value, never a time or a text), and turns every
malformed frame, however deep or truncated, into ``wire.WireError`` and nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from grader import safetext, wire

NAME_LIMIT = wire.TYPE_NAME_LIMIT
VALUE_KEYS = ("value", "args_after", "args", "kwargs", "random", "np_random")
MAX_ENTRIES = 1000  # functions found, callables counted: more is not a worker's honest answer


@dataclass
class CallResult:
    """What one call of a student function did, as data."""

    function: str
    value: object = None
    error: dict | None = None
    stdout: str = ""
    seconds: float = 0.0
    args_after: list | None = None
    callables: list = field(default_factory=list)
    standins_used: list = field(default_factory=list)
    method: bool = False  # for getattr: the attribute is a method (call it through the target)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class LoadEvent:
    unit: str
    error: dict | None
    stdout: str


def _policy(value: str, limit: int) -> str:
    """The wire's text hook: safetext's policy, never over its TEXT_LIMIT whatever the limit
    asked for (a returned string, a dict key and a message are capped alike)."""
    return safetext.text(value, min(limit, safetext.TEXT_LIMIT))


def text(value: object) -> str:
    """Student text (or '' for what is not text) as valid, capped text."""
    return safetext.text(value) if isinstance(value, str) else ""


def name(value: object) -> str:
    """A name from the worker (an exception type, a function, an event) as one short line."""
    return wire.one_line(_policy, value) if isinstance(value, str) else ""


def error_dict(value: object) -> dict | None:
    """An error as the worker described it: type (one line), message and traceback (capped)."""
    if not isinstance(value, dict):
        return None
    clean = {"type": name(value.get("type")), "message": text(value.get("message")),
             "traceback": text(value.get("traceback"))}
    location = value.get("location")
    if isinstance(location, dict) and isinstance(location.get("file"), str) \
            and type(location.get("line")) is int and 0 < location["line"] < 2**31:
        clean["location"] = {"file": safetext.text(location["file"], 4096).replace("\n", " "),
                             "line": location["line"]}
    return clean


def _seconds(value: object) -> float:
    if type(value) is int:
        return float(value) if 0 <= value < 2**53 else 0.0
    return value if type(value) is float and math.isfinite(value) and value >= 0 else 0.0


def _functions(value: object) -> dict[str, dict | None] | None:
    """The ``loaded`` event's map of function name -> where it was found (or None)."""
    if not isinstance(value, dict):
        return None
    found: dict[str, dict | None] = {}
    for key, where in list(value.items())[:MAX_ENTRIES]:
        if not isinstance(where, dict):
            found[name(key)] = None
            continue
        line = where.get("line")
        found[name(key)] = {"module": name(where.get("module")),
                            "file": text(where.get("file")) or None,
                            "line": line if type(line) is int and 0 < line < 2**31 else None}
    return found


def _callables(value: object) -> list[dict]:
    if not isinstance(value, list):
        return []
    kept = []
    for entry in value[:MAX_ENTRIES]:
        if isinstance(entry, dict):
            calls = entry.get("calls")
            kept.append({"name": name(entry.get("name")),
                         "calls": calls if type(calls) is int and 0 <= calls < 2**63 else 0})
    return kept


def clean(header: dict, blobs: list[bytes]) -> dict:
    """The fields of a worker's message the grader reads, each as the data it must be."""
    message: dict = {"event": name(header.get("event"))}
    if "name" in header:
        message["name"] = name(header["name"])
    if type(header.get("id")) is int:   # a callback's number: the grader's own, echoed
        message["id"] = header["id"]
    for key in ("unit", "stdout", "text", "message"):  # a unit's id is the grader's, echoed as is
        if key in header:
            message[key] = text(header[key])
    if "error" in header:
        message["error"] = error_dict(header["error"])
    if "seconds" in header:
        message["seconds"] = _seconds(header["seconds"])
    if "method" in header:
        message["method"] = header["method"] is True
    if "functions" in header:
        message["functions"] = _functions(header["functions"])
    if "callables" in header:
        message["callables"] = _callables(header["callables"])
    for key in VALUE_KEYS:
        if key in header:
            message[key] = wire.decode(header[key], blobs, text=_policy)
    return message


def read_message(read: Callable[[int], bytes]) -> dict:
    """One frame from a worker, cleaned (see ``clean``); WireError for anything malformed.

    ``read(n)`` raises EOFError or TimeoutError when the worker is gone or late; those pass."""
    header, blobs = wire.read_frame(read)
    try:
        return clean(header, blobs)
    except RecursionError:
        raise wire.WireError("message nested too deeply") from None


def stamp(value: object, generation: int, depth: int = 0) -> object:
    """Mark every object handle in a result with the worker it lives in."""
    if depth > wire.MAX_DEPTH + 2:
        return value
    if isinstance(value, wire.Handle):
        value.generation = generation
    elif isinstance(value, (list, tuple)):
        for item in value:
            stamp(item, generation, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            stamp(item, generation, depth + 1)
    return value
