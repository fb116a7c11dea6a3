"""Student bytes to safe text: one decoding policy, and one neutraliser per output kind.

Everything a student controls (file and folder names, source, printed output, exception text and
type names, returned strings) is hostile. It is turned into text exactly once, by ``text`` (or
``name`` for file names), and each output kind then has exactly one neutraliser here that every
writer of that kind uses. Nothing else in the grader decodes student bytes or escapes them.

The policy, decided once:
- bytes are UTF-8; an undecodable byte becomes the four characters ``\\xNN`` (so two names that
  differ only in such bytes stay different), a lone surrogate in a ``str`` becomes ``\\uDNNN``;
- NUL becomes U+FFFD (no output format wants it);
- text longer than its cap is cut, and the cut is said.
"""

from __future__ import annotations

import hashlib
import html
import os
import re

TEXT_LIMIT = 64 * 1024          # one message, traceback or output, once it is on the grader's side
NAME_LIMIT = 255                # one file or folder name

_SURROGATE = re.compile("[\ud800-\udfff]")
_NUL = "\x00"


def _escape_surrogate(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:           # an undecodable byte, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def cap(value: str, limit: int = TEXT_LIMIT) -> str:
    """Cut ``value`` to ``limit`` characters, saying how much was cut."""
    if len(value) <= limit:
        return value
    return value[:limit] + f"\n... [{len(value) - limit} more characters cut]"


def text(value: object, limit: int = TEXT_LIMIT) -> str:
    """Any student-controlled value as valid, capped text ('' for what is not text at all)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value[: 4 * limit + 4])
        value = raw.decode("utf-8", "surrogateescape")
    elif not isinstance(value, str):
        return ""
    value = value[: limit + 4 * 1024]  # never scan more than we keep (plus room to say so)
    if _SURROGATE.search(value):
        value = _SURROGATE.sub(_escape_surrogate, value)
    if _NUL in value:
        value = value.replace(_NUL, "\ufffd")
    return cap(value, limit)


def name(value: str | bytes) -> str:
    """A file or folder name (as ``os.listdir`` or a zip gives it) as valid text, one line, at
    most NAME_LIMIT bytes of UTF-8. A longer one keeps its start and a short digest of the
    whole, so two long names that differ only at the end stay different."""
    if isinstance(value, (bytes, bytearray)):
        value = os.fsdecode(bytes(value))
    clean = text(value, 16 * NAME_LIMIT).replace("\n", "\\n").replace("\r", "\\r")
    raw = clean.encode("utf-8")
    if len(raw) <= NAME_LIMIT:
        return clean
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    stem, ext = os.path.splitext(clean)
    ext = ext if len(ext.encode("utf-8")) <= 16 else ""
    keep = NAME_LIMIT - 13 - len(ext.encode("utf-8"))
    return stem.encode("utf-8")[:keep].decode("utf-8", "ignore") + "~" + digest + ext


# ------------------------------------------------------------------ one neutraliser per output

_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def for_terminal(value: object) -> str:
    """No control sequence reaches a terminal: ESC, CR, BEL, C1 codes and bidi overrides are
    shown as ``\\xNN`` / ``\\uNNNN``; newlines and tabs stay."""
    return _TERMINAL_UNSAFE.sub(_visible, text(value).replace("\r\n", "\n"))


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_MARKDOWN_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&=:])")


def for_markdown_inline(value: object) -> str:
    """One line of Markdown (a table cell, a heading's text): no structure, link, image, HTML
    or line break can come from the student."""
    one_line = re.sub(r"[\r\n\u2028\u2029]+", " ", for_terminal(value))
    return _MARKDOWN_PUNCT.sub(r"\\\1", one_line)


def for_markdown_block(value: object, info: str = "text") -> str:
    """A fenced code block that the student's text cannot close: the fence is longer than any
    run of backticks in the text, and every line ending is a plain newline."""
    body = re.sub(r"\r\n?|[\u2028\u2029]", "\n", for_terminal(value))
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def for_html(value: object) -> str:
    """Text inside an HTML element or a quoted attribute."""
    return html.escape(_XML_INVALID.sub("\ufffd", text(value)), quote=True)


_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def for_xml(value: object) -> str:
    """Characters XML 1.0 allows (the XML library does the escaping of ``<`` and ``&``)."""
    return _XML_INVALID.sub("\ufffd", text(value if isinstance(value, (str, bytes)) else str(value)))


def for_csv(value: object) -> str:
    """A spreadsheet cell that is never a formula (the csv module does the quoting)."""
    cell = text(value if isinstance(value, (str, bytes)) else str(value))
    if cell[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") and not _is_number(cell):
        return "'" + cell
    return cell


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


_WORKFLOW_COMMAND = re.compile(r"^(\s*)(::|##\[)", re.MULTILINE)


def for_ci_log(value: object) -> str:
    """Text printed to a CI log: terminal-safe, and no line a runner would read as a workflow
    command (GitHub's ``::cmd::`` and Azure's ``##[cmd]``, indented or not)."""
    return _WORKFLOW_COMMAND.sub("\\1\u2024\\2", for_terminal(value))


def workflow_data(value: object) -> str:
    """The message part of a GitHub workflow command, escaped as GitHub documents it."""
    return text(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(value: object) -> str:
    """A property value of a GitHub workflow command (``file=...``)."""
    return workflow_data(value).replace(":", "%3A").replace(",", "%2C")
