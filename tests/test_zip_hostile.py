"""Hostile zips and notebooks: each is read safely or refused with one SubmissionError (never
another exception), nothing is written outside the grader's own temporary folder, and that
folder is gone afterwards, whatever happened."""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
import time
import zipfile

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader import zips
from grader.submission import SubmissionError, open_submission, read_source, syntax_message

PLACEHOLDER = b"@@RAW@@"
NAME = st.one_of(
    st.sampled_from(["q1_softmax.py", "hw/q2_neural.py", "../evil.py", "/abs/evil.py", "C:/evil.py",
                     "hw/../../evil.py", "hw\\..\\..\\evil.py", "__MACOSX/._q.py", "hw/", "hw",
                     "hw/q1_softmax.py/x.py", "./q.py", "a" * 300 + ".py", "caf\u00e9.py", "n\x00ul.py",
                     "@@RAW@@.py", "hw/@@RAW@@/q.py"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20).map(
        lambda s: s + ".py"))
ENTRY = st.tuples(NAME, st.binary(max_size=200),
                  st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]),
                  st.sampled_from(["file", "file", "file", "link", "encrypted", "utf8-flag"]))


def _build(entries, raw: bytes) -> bytes:
    """A zip of these entries; ``@@RAW@@`` in a name becomes ``raw`` (7 arbitrary bytes, e.g.
    not UTF-8), in the local header and the central directory alike."""
    buffer = io.BytesIO()
    flags = []
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, method, kind in entries:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = method
            if kind == "link":
                info.external_attr = 0o120777 << 16
            archive.writestr(info, data)
            flags.append({"encrypted": 0x1, "utf8-flag": 0x800}.get(kind, 0))
        offsets = [info.header_offset for info in archive.infolist()]
    data = bytearray(buffer.getvalue())
    # zipfile rewrites the flags it writes, so set ours in both headers afterwards.
    directory = struct.unpack("<I", data[data.rfind(b"PK\x05\x06") + 16:][:4])[0]
    for flag, local in zip(flags, offsets):
        names, extra, comment = struct.unpack("<HHH", data[directory + 28: directory + 34])
        for at in (local + 6, directory + 8):
            data[at:at + 2] = struct.pack("<H", struct.unpack("<H", data[at:at + 2])[0] | flag)
        directory += 46 + names + extra + comment
    return bytes(data).replace(PLACEHOLDER, raw)


def _corrupt(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    data = bytearray(data)
    for position, value in flips:
        if data:
            data[position % len(data)] = value
    return bytes(data[:cut] if cut is not None else data)


def _read_in_private_tmp(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as home:
        private, where = os.path.join(home, "tmp"), os.path.join(home, "class")
        os.mkdir(private)
        os.mkdir(where)
        archive = os.path.join(where, "hw.zip")
        with open(archive, "wb") as handle:
            handle.write(data)
        saved = tempfile.tempdir
        tempfile.tempdir = private
        try:
            try:
                found = open_submission(archive)
            except SubmissionError as exc:
                message = str(exc)
                assert "\n" not in message and message.encode("utf-8")
            else:
                try:
                    top = os.path.realpath(found.top)
                    assert top.startswith(os.path.realpath(private) + os.sep)
                    for relative in found.copy_files:
                        full = os.path.realpath(os.path.join(found.top, relative))
                        assert full.startswith(top + os.sep) and not os.path.islink(full)
                    json.dumps([found.file_names, found.problems, found.origin]).encode("utf-8")
                    found.worker_records(1)
                finally:
                    found.close()
        finally:
            tempfile.tempdir = saved
        assert os.listdir(private) == []             # no grader-zip-* left, on any path
        assert os.listdir(where) == ["hw.zip"]       # nothing written beside the zip
        assert sorted(os.listdir(home)) == ["class", "tmp"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ENTRY, max_size=6), st.binary(min_size=7, max_size=7),
       st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
       st.one_of(st.none(), st.integers(0, 400)))
def test_any_zip_is_read_safely_or_refused_in_one_line(entries, raw, flips, cut):
    _read_in_private_tmp(_corrupt(_build(entries, raw), flips, cut))


@pytest.mark.parametrize("case", ["encrypted", "corrupt_deflate", "deflate64", "bad_utf8_name",
                                  "truncated", "file_and_folder", "too_many"])
def test_known_unreadable_zips_are_one_submission_error(case, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    entries = [("q1_softmax.py", b"def softmax(x):\n    return x\n" * 50, zipfile.ZIP_DEFLATED, "file")]
    if case == "encrypted":
        entries[0] = entries[0][:3] + ("encrypted",)
    if case == "bad_utf8_name":
        entries.append(("@@RAW@@.py", b"x = 1\n", zipfile.ZIP_STORED, "utf8-flag"))
    if case == "file_and_folder":
        entries.append(("q1_softmax.py/x.py", b"x = 1\n", zipfile.ZIP_STORED, "file"))
    if case == "too_many":
        monkeypatch.setattr(zips, "MAX_ZIP_ENTRIES", 20)
        entries += [(f"d{i}/", b"", zipfile.ZIP_STORED, "file") for i in range(30)]
    data = _build(entries, b"\xff\xfe\xfd\xfc\xfb\xfa\xf9")
    if case == "corrupt_deflate":
        start = data.index(b"q1_softmax.py") + len("q1_softmax.py")
        data = data[:start + 5] + b"\xff" * 20 + data[start + 25:]
    if case == "deflate64":
        data = data.replace(b"\x08\x00", b"\x09\x00")   # compression method 8 -> 9 in both headers
    if case == "truncated":
        data = data[: len(data) // 2]
    (tmp_path / "hw.zip").write_bytes(data)
    with pytest.raises(SubmissionError) as caught:
        open_submission(str(tmp_path / "hw.zip"))
    assert "\n" not in str(caught.value)
    assert os.listdir(tmp_path / "tmp") == []


def test_a_zip_of_many_entries_is_refused_before_extraction(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as archive:
        for index in range(zips.MAX_ZIP_ENTRIES + 1):
            archive.writestr(f"f{index}.py", b"")
    with pytest.raises(SubmissionError, match="entries"):
        open_submission(str(tmp_path / "many.zip"))
    assert os.listdir(tmp_path / "tmp") == []


def test_a_bomb_is_refused_from_its_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(zips, "MAX_TOTAL_BYTES", 10_000)
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(3):
            archive.writestr(f"q{index}.py", b"#" * 6000)
    with pytest.raises(SubmissionError, match="unpacks to more than"):
        open_submission(str(tmp_path / "bomb.zip"))
    assert os.listdir(tmp_path / "tmp") == []


# ------------------------------------------------------------------ notebooks

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20)
CELL = st.fixed_dictionaries(
    {"cell_type": st.sampled_from(["code", "markdown", "raw", 1, None]),
     "source": st.one_of(st.text(max_size=60), st.lists(st.text(max_size=30), max_size=4),
                         st.sampled_from(["%time x = 1", "!ls", "def f(:", "x = '\ud800'", "a\x00b",
                                          "(" * 200, "except" + " " * 5000, "print 'x'"]), JSONISH)},
    optional={"metadata": JSONISH, "outputs": st.just([]), "execution_count": st.none()})
NOTEBOOK = st.fixed_dictionaries(
    {"nbformat": st.sampled_from([4, 3, "4", None, 4.0]), "cells": st.one_of(st.lists(CELL, max_size=5), JSONISH)},
    optional={"nbformat_minor": st.integers(0, 5), "metadata": JSONISH, "worksheets": JSONISH})


def _read_notebook_bytes(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "nb.ipynb")
        with open(path, "wb") as handle:
            handle.write(raw)
        try:
            source = read_source(path, "nb.ipynb")
        except SubmissionError as exc:
            assert "\n" not in str(exc)
            return
        for unit in source.units:
            compile(unit.code, unit.filename, "exec", dont_inherit=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NOTEBOOK)
def test_any_json_notebook_gives_units_or_one_submission_error(notebook):
    _read_notebook_bytes(json.dumps(notebook).encode("utf-8", "surrogatepass"))


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
                 st.just(b"[" * 100_000), st.just(b'{"nbformat": 4, "cells": ' + b"[" * 100_000)))
def test_any_bytes_notebook_gives_units_or_one_submission_error(raw):
    _read_notebook_bytes(raw)


def test_python2_detector_is_linear_on_hostile_lines():
    for text in ["except" + " " * 1_000_000, "except (" + "a," * 300_000, "print" + " " * 1_000_000 + "x",
                 "x = 1\n" + ("except " + "  ," * 50_000 + "\n") * 20]:
        started = time.monotonic()
        try:
            compile(text, "a.py", "exec")
        except SyntaxError as exc:
            assert syntax_message(exc, text, "a.py")
        assert time.monotonic() - started < 2, text[:20]


def test_a_zip_that_understates_its_entry_count_is_still_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(zips, "MAX_ZIP_ENTRIES", 20)
    with zipfile.ZipFile(tmp_path / "liar.zip", "w") as archive:
        for index in range(30):
            archive.writestr(f"f{index}.py", b"")
    data = bytearray((tmp_path / "liar.zip").read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8:end + 12] = struct.pack("<HH", 1, 1)      # "one entry", says the end record
    (tmp_path / "liar.zip").write_bytes(bytes(data))
    assert zips.declared_entries(str(tmp_path / "liar.zip")) == 1
    with pytest.raises(SubmissionError, match="30 entries"):
        open_submission(str(tmp_path / "liar.zip"))
    assert os.listdir(tmp_path / "tmp") == []
