"""A class in which one student in ten is hostile: every other student is graded exactly as alone.

The hostile students are drawn from the classes of attack that once broke a whole batch: text
that is not valid UTF-8 (a lone surrogate in an exception, a Latin-1 folder name, a non-UTF-8
file name inside a submission), ids that normalise to the same one, control sequences and
workflow commands in exception text, a 5 MB exception message, kernel objects left for the next
student in a warm sandbox, and unreadable zips. The batch must grade every honest student with
the score ``grader run`` gives them alone, write every output, and grade nobody on a rerun.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli

CORRECT = FIXTURES / "modules_correct"
EPSILON = ("x = x / np.sum(x, axis=1, keepdims=True)", "x = x / (np.sum(x, axis=1, keepdims=True) + 1e-8)")

RAISE_UGLY = '''
import numpy as np

def softmax(x):
    raise ValueError("\\ud800 bad \\x1b[2J\\x1b]0;pwned\\x07 \\n  ::error file=a.py::forged\\r## 55 / 55 points\\n"
                     "hint: you forgot nothing ![x](http://example.invalid/i.png) " + "A" * 5_000_000)
'''

LEAVE_OBJECTS = '''
import ctypes, os
import numpy as np

def _leave():
    os.makedirs("/tmp/locked/secret", exist_ok=True)
    open("/tmp/locked/secret/answers.txt", "w").write("42")
    os.chmod("/tmp/locked", 0)
    try:
        open("/dev/shm/left.txt", "w").write("42")
    except OSError:
        pass
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.add_key(b"user", b"grader-secret", b"42", 2, ctypes.c_int32(-4))  # user keyring
    except Exception:
        pass

def softmax(x):
    _leave()
    x = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)
'''

LOOK_FOR_OBJECTS = '''
import ctypes, os
import numpy as np

def _found():
    seen = []
    if os.path.exists("/tmp/locked"):
        seen.append("/tmp/locked")
    if os.path.exists("/dev/shm/left.txt"):
        seen.append("/dev/shm/left.txt")
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.request_key(b"user", b"grader-secret", None, ctypes.c_int32(-4)) > 0:
            seen.append("keyring")
    except Exception:
        pass
    return seen

def softmax(x):
    seen = _found()
    if seen:
        raise RuntimeError("found " + ",".join(seen))
    x = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)
'''


def _copy_correct(target: Path, replace: tuple[str, str] | None = None, extra: dict | None = None) -> None:
    shutil.copytree(CORRECT, target)
    if replace:
        path = target / "q1_softmax.py"
        text = path.read_text()
        assert replace[0] in text
        path.write_text(text.replace(*replace))
    for name, text in (extra or {}).items():
        (target / name).write_text(text)


def _zip_of(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_class")
    subs = root / "subs"
    subs.mkdir()
    honest: dict[str, str] = {}          # id -> "correct" | "buggy"
    for i in range(36):
        kind = "buggy" if i % 4 == 3 else "correct"
        _copy_correct(subs / f"s{i:02d}", EPSILON if kind == "buggy" else None)
        honest[f"s{i:02d}"] = kind
    # Ids that normalise to the same one: a folder alice, alice.zip and a folder alice-2.
    _copy_correct(subs / "alice")
    honest["alice"] = "correct"
    buggy = root / "buggy_alice"
    _copy_correct(buggy, EPSILON)
    _zip_of(buggy, subs / "alice.zip")
    _copy_correct(subs / "alice-2")
    # The hostile ones.
    _copy_correct(subs / "ugly_text", extra={"q1_softmax.py": RAISE_UGLY})
    latin1 = os.path.join(os.fsencode(subs), "jos\xe9".encode("latin-1"))
    os.mkdir(latin1)
    for path in CORRECT.iterdir():
        shutil.copy(path, os.path.join(latin1, os.fsencode(path.name)))
    with open(os.path.join(latin1, b"notes-\xff.txt"), "wb") as out:
        out.write(b"caf\xe9\n")
    _copy_correct(subs / "leaver", extra={"q1_softmax.py": LEAVE_OBJECTS})
    _copy_correct(subs / "looker", extra={"q1_softmax.py": LOOK_FOR_OBJECTS})
    with open(subs / "broken.zip", "wb") as out:
        out.write(b"PK\x03\x04" + os.urandom(300))
    out_dir = root / "results"
    first = run_cli("batch", str(subs), "--assignment", "nn_basics", "--out", str(out_dir), "--jobs", "1",
                    timeout=900)
    return subs, out_dir, honest, first


def _grades(out_dir: Path) -> dict[str, dict]:
    with open(out_dir / "grades.csv", newline="", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_every_honest_student_is_graded_as_alone(hostile_class, tmp_path):
    subs, out_dir, honest, first = hostile_class
    assert first.returncode == 0, first.stderr[-3000:]
    alone = {}
    for kind, folder in (("correct", subs / "s00"), ("buggy", subs / "s03")):
        report = tmp_path / f"{kind}.json"
        done = run_cli("run", str(folder), "--json", str(report))
        assert done.returncode in (0, 1), done.stderr
        alone[kind] = json.loads(report.read_text())["score"]
    grades = _grades(out_dir)
    for student, kind in honest.items():
        assert float(grades[student]["total"]) == alone[kind], (student, grades[student])
        report = json.loads((out_dir / "students" / student / "report.json").read_text())
        assert report["score"] == alone[kind]
    # alice.zip (buggy) and the folder alice-2 (correct) each keep their own score under distinct ids.
    ids = [s for s in grades if s.startswith("alice")]
    assert len(ids) == 3 and len(set(ids)) == 3
    scores = sorted(float(grades[s]["total"]) for s in ids)
    assert scores == sorted([alone["correct"], alone["correct"], alone["buggy"]]), ids
    # The student graded after the one who left kernel objects behind saw none of them.
    looker = json.loads((out_dir / "students" / "looker" / "report.json").read_text())
    assert looker["score"] == alone["correct"], json.dumps(looker["problems"])


def test_hostile_students_cost_only_themselves_and_every_output_is_written(hostile_class):
    subs, out_dir, honest, first = hostile_class
    grades = _grades(out_dir)
    for name in ("grades.csv", "canvas_gradebook.csv", "report.html", "gradebook.sqlite"):
        assert (out_dir / name).is_file(), name
    assert any(s.startswith("jos") for s in grades), list(grades)
    assert grades["broken"]["status"] == "unreadable"
    ugly = (out_dir / "students" / "ugly_text" / "report.json").read_bytes()
    assert len(ugly) < 1_000_000, len(ugly)
    json.loads(ugly.decode("utf-8"))          # strict UTF-8, strict JSON
    markdown = (out_dir / "students" / "ugly_text" / "feedback.md").read_text(encoding="utf-8")
    assert "\x1b" not in markdown and "\r" not in markdown
    prose = _outside_code_fences(markdown)
    assert not any(line.lstrip().startswith("## 55") for line in prose), prose
    assert "![" not in "\n".join(prose)
    assert "\x1b" not in first.stdout + first.stderr
    page = (out_dir / "report.html").read_text(encoding="utf-8")
    assert "you forgot nothing" not in page
    # Canvas: the unreadable student gets no grade at all, never a 0.
    with open(out_dir / "canvas_gradebook.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    broken = [row for row in rows if "broken" in row]
    assert broken and broken[0][-1] == "", broken


def _outside_code_fences(markdown: str) -> list[str]:
    """The lines CommonMark renders as Markdown (not inside a fenced code block; a fence may be
    indented as the content of the list item it belongs to)."""
    prose, fence = [], None
    for line in markdown.splitlines():
        stripped = line.lstrip(" ")
        run = len(stripped) - len(stripped.lstrip("`~"))
        if fence is None and run >= 3:
            fence = stripped[:run]
        elif fence is not None and stripped.rstrip() and set(stripped.rstrip()) == {fence[0]} \
                and len(stripped.rstrip()) >= len(fence):
            fence = None
        elif fence is None:
            prose.append(line)
    return prose


def test_a_rerun_grades_nobody(hostile_class):
    subs, out_dir, honest, first = hostile_class
    again = run_cli("batch", str(subs), "--assignment", "nn_basics", "--out", str(out_dir), "--jobs", "1",
                    timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "0 graded now" in again.stdout, again.stdout + again.stderr
