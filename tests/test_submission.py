"""Unit tests for reading submissions: no student code runs here, only parsing."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader import notebooks
from grader.submission import SubmissionError, open_submission, read_source, syntax_message


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_statements_become_units_with_their_first_line(tmp_path):
    source = write(tmp_path / "q1_softmax.py",
                   "import numpy as np\n\n@staticmethod\ndef f(x):\n    return x\n\na = 1; b = 2\nprint(a)\n")
    units = read_source(str(source), "q1_softmax.py").units
    assert [(u.line, u.code.splitlines()[0]) for u in units] == [
        (1, "import numpy as np"), (3, "@staticmethod"), (7, "a = 1; b = 2"), (8, "print(a)")]


def test_future_imports_reach_every_unit(tmp_path):
    source = write(tmp_path / "m.py", "from __future__ import annotations\ndef f(x: Undefined) -> int:\n    pass\n")
    units = read_source(str(source), "m.py").units
    assert all(u.future == ["annotations"] for u in units)


@pytest.mark.parametrize("code, what", [
    ('print "hello"\n', "a print statement"),
    ("x = 1\nprint x\n", "a print statement"),
    ("try:\n    pass\nexcept ValueError, e:\n    pass\n", "'except X, e:'"),
    ("raise ValueError, 'bad'\n", "'raise E, message'"),
    ("exec 'x = 1'\n", "an exec statement"),
])
def test_python2_is_named(code, what):
    with pytest.raises(SyntaxError) as info:
        compile(code, "f.py", "exec")
    message = syntax_message(info.value, code, "f.py")
    assert message.startswith("f.py is written for Python 2") and what in message


def test_plain_syntax_error_is_not_called_python2():
    code = "printer = (\nx = '<>'\n"
    with pytest.raises(SyntaxError) as info:
        compile(code, "f.py", "exec")
    message = syntax_message(info.value, code, "f.py")
    assert "Python 2" not in message and "does not parse" in message and "line 1" in message


def test_notebook_magics_are_translated_like_ipython(tmp_path):
    nb = new_notebook(cells=[new_code_cell("%matplotlib inline\nimport numpy as np"),
                             new_code_cell("%%time\nx = 1"),
                             new_code_cell("!pip install numpy"),
                             new_code_cell("def f(:\n  pass"),
                             new_code_cell("files = !ls")])
    path = tmp_path / "a.ipynb"
    nbformat.write(nb, path)
    source = read_source(str(path), "a.ipynb")
    cells: dict[str, list[str]] = {}      # a cell loads statement by statement: one unit each
    for unit in source.units:
        cells.setdefault(unit.filename, []).append(unit.code)
    codes = list(cells.values())
    assert codes[0] == ["get_ipython().run_line_magic('matplotlib', 'inline')\n", "import numpy as np\n"]
    assert "run_cell_magic('time'" in codes[1][0]
    assert "get_ipython().system('pip install numpy')" in codes[2][0]
    assert "getoutput('ls')" in codes[3][0]
    assert len(cells) == 4 and "a.ipynb [code cell 4] does not parse" in source.problems[0]


REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for folder in ("tests/fixtures", "assignments", "examples")
                   for p in (REPO / folder).rglob("*.ipynb"))


def _units_via_nbformat(path: Path, relative: str, monkeypatch) -> list[tuple[str, str]]:
    monkeypatch.setattr(notebooks, "v4_cells", lambda text: None)  # force nbformat's reader
    units = read_source(str(path), relative).units
    monkeypatch.undo()
    return [(u.id, u.code) for u in units]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_notebooks_read_as_json_give_nbformats_units(path, monkeypatch):
    """The JSON fast path for nbformat 4 must be exactly what nbformat itself reads."""
    fast = [(u.id, u.code) for u in read_source(str(path), path.name).units]
    assert fast and fast == _units_via_nbformat(path, path.name, monkeypatch)


def test_nbformat_3_and_odd_v4_notebooks_still_read(tmp_path, monkeypatch):
    from nbformat import v3

    old = v3.new_notebook(worksheets=[v3.new_worksheet(cells=[
        v3.new_text_cell("markdown", "# hi"), v3.new_code_cell(input="def f(x):\n    return 2 * x")])])
    (tmp_path / "old.ipynb").write_text(v3.writes_json(old))
    assert notebooks.v4_cells((tmp_path / "old.ipynb").read_text()) is None
    units = read_source(str(tmp_path / "old.ipynb"), "old.ipynb").units
    assert [u.code for u in units] == ["def f(x):\n    return 2 * x"]

    odd = {"nbformat": 4, "nbformat_minor": 2, "metadata": {}, "cells": [
        {"cell_type": "code", "source": ["x = 1\n", "y = x + 1"], "metadata": {}, "outputs": []},
        {"cell_type": "raw", "source": "not python", "metadata": {}},
        {"cell_type": "code", "source": "z = 3", "metadata": {}, "outputs": []},
        {"cell_type": "code", "source": "   \n", "metadata": {}, "outputs": []}]}
    (tmp_path / "odd.ipynb").write_text(json.dumps(odd))
    fast = [(u.id, u.code) for u in read_source(str(tmp_path / "odd.ipynb"), "odd.ipynb").units]
    assert fast == [("odd.ipynb#1:1", "x = 1\n"), ("odd.ipynb#1:2", "y = x + 1"), ("odd.ipynb#2:1", "z = 3")]
    assert fast == _units_via_nbformat(tmp_path / "odd.ipynb", "odd.ipynb", monkeypatch)

    del odd["cells"][1]["metadata"]  # nbformat refuses the whole notebook for this; we don't
    (tmp_path / "odd.ipynb").write_text(json.dumps(odd))
    assert [u.code for u in read_source(str(tmp_path / "odd.ipynb"), "odd.ipynb").units] == [
        "x = 1\n", "y = x + 1", "z = 3"]

    odd["cells"] = [{"cell_type": "code", "source": 42}]  # off the fast path: nbformat decides
    (tmp_path / "odd.ipynb").write_text(json.dumps(odd))
    assert notebooks.v4_cells(json.dumps(odd)) is None
    with pytest.raises(SubmissionError, match="odd.ipynb is not a valid notebook"):
        read_source(str(tmp_path / "odd.ipynb"), "odd.ipynb")
    (tmp_path / "cut.ipynb").write_text(json.dumps(odd)[:20])
    with pytest.raises(SubmissionError, match=r"cut.ipynb is not a valid notebook \(NotJSONError"):
        read_source(str(tmp_path / "cut.ipynb"), "cut.ipynb")


def test_broken_notebook_is_one_problem_beside_files_that_load(tmp_path):
    write(tmp_path / "sub" / "a.ipynb", "{not json")
    write(tmp_path / "sub" / "q1_softmax.py", "def softmax(x):\n    return x\n")
    submission = open_submission(str(tmp_path / "sub"))
    assert any("a.ipynb is not a valid notebook" in p for p in submission.problems)
    assert submission.file_names == ["a.ipynb", "q1_softmax.py"]


def test_broken_notebooks_alone_are_unreadable(tmp_path):
    write(tmp_path / "sub" / "a.ipynb", "{not json")
    (tmp_path / "sub" / "b.ipynb").write_bytes(b"\xff\xfe not text")
    with pytest.raises(SubmissionError, match="a.ipynb is not a valid notebook"):
        open_submission(str(tmp_path / "sub"))
    with pytest.raises(SubmissionError, match="is not a notebook .it is not UTF-8"):
        open_submission(str(tmp_path / "sub" / "b.ipynb"))


def test_code_one_folder_down_is_the_code_root(tmp_path):
    write(tmp_path / "sub" / "README.txt", "hi")
    write(tmp_path / "sub" / "assignment1" / "q1_softmax.py", "x = 1\n")
    write(tmp_path / "sub" / "assignment1" / "q2_neural.py", "x = 2\n")
    submission = open_submission(str(tmp_path / "sub"))
    assert submission.code_root_relative == "assignment1"
    assert submission.package == "assignment1"
    names = {r["name"]: r["aliases"] for r in submission.worker_records(1)}
    assert names["assignment1.q1_softmax"] == ["q1_softmax"]
    assert submission.modules_named("q2_neural") == ["assignment1.q2_neural"]


def test_modules_shadowing_the_standard_library_keep_only_their_package_name(tmp_path):
    write(tmp_path / "sub" / "random.py", "x = 1\n")
    write(tmp_path / "sub" / "q1_softmax.py", "x = 1\n")
    records = {r["name"]: r["aliases"] for r in open_submission(str(tmp_path / "sub")).worker_records(1)}
    assert records["sub.random"] == [] and records["sub.q1_softmax"] == ["q1_softmax"]


def test_zip_slip_links_and_mac_junk_are_not_extracted(tmp_path):
    archive = tmp_path / "hw.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("hw/q1_softmax.py", "def softmax(x):\n    return x\n")
        handle.writestr("../evil.py", "x = 1\n")
        handle.writestr("__MACOSX/hw/._q1_softmax.py", b"\x00\x05\x16\x07junk")
        link = zipfile.ZipInfo("hw/link.py")
        link.external_attr = (0o120777 << 16)
        handle.writestr(link, "/etc/passwd")
    submission = open_submission(str(archive))
    try:
        assert submission.copy_files == ["hw/q1_softmax.py"]
        assert not (tmp_path / "evil.py").exists()
    finally:
        submission.close()


def test_zip_bomb_is_refused(tmp_path, monkeypatch):
    import grader.zips as module

    monkeypatch.setattr(module, "MAX_TOTAL_BYTES", 1000)
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("a.py", "#" * 5000)
    with pytest.raises(SubmissionError, match="unpacks to more than"):
        open_submission(str(archive))


def test_not_a_submission(tmp_path):
    write(tmp_path / "notes.txt", "hi")
    with pytest.raises(SubmissionError, match="holds no .py or .ipynb"):
        open_submission(str(tmp_path))
    with pytest.raises(SubmissionError, match="is not a folder, .py, .ipynb or .zip"):
        open_submission(str(tmp_path / "notes.txt"))


def test_sha256_follows_content(tmp_path):
    write(tmp_path / "a" / "q1_softmax.py", "x = 1\n")
    write(tmp_path / "b" / "q1_softmax.py", "x = 1\n")
    first, second = open_submission(str(tmp_path / "a")), open_submission(str(tmp_path / "b"))
    assert first.sha256 == second.sha256
    write(tmp_path / "b" / "q1_softmax.py", "x = 2\n")
    assert open_submission(str(tmp_path / "b")).sha256 != first.sha256


def test_names_that_are_not_utf8_become_distinct_valid_names_in_the_sandbox(tmp_path):
    sub = os.fsencode(str(tmp_path / "sub"))
    os.makedirs(os.path.join(sub, b"d\xe9"))
    files = {b"q1_softmax.py": b"def softmax(x):\n    return x\n", b"caf\xe9.py": b"a = 1\n",
             b"caf\\xe9.py": b"b = 2\n", b"\xff" * 200 + b".py": b"c = 3\n", b"d\xe9/m.py": b"d = 4\n"}
    for name, data in files.items():
        with open(os.path.join(sub, name), "wb") as handle:
            handle.write(data)
    found = open_submission(os.fsdecode(sub))
    names = found.file_names
    assert len(set(names)) == len(files) and all(len(p.encode()) <= 255 for n in names for p in n.split("/"))
    assert "caf\\xe9.py" in names and "d\\xe9/m.py" in names
    found.copy_to(str(tmp_path / "copy"))
    for record in found.worker_records(1):
        if record["path"]:
            assert (tmp_path / "copy" / record["path"]).is_file()
    copied = {p.read_bytes() for p in (tmp_path / "copy").rglob("*.py")}
    assert copied == set(files.values())
