"""Class download layouts (plain, Canvas, Gradescope), graded for real, and the progress bar."""

from __future__ import annotations

import csv
import io
import os
import shutil

from conftest import FIXTURES, ROOT, run_cli
from grader import classlist

MODULES = ["q1_softmax.py", "q2_sigmoid.py", "q2_gradcheck.py", "q2_neural.py"]
CORRECT = FIXTURES / "modules_correct"
BUGGY = ROOT / "examples" / "nn_basics" / "buggy"


def _canvas_class(folder):
    """Two students as Canvas names downloads: separate files, one resubmitted (-1), one late."""
    folder.mkdir()
    for index, name in enumerate(MODULES):
        (folder / f"smithjane_1001_{500 + index}_{name}").write_bytes((CORRECT / name).read_bytes())
    # Jane first uploaded a buggy softmax; her resubmission (a later attachment, "-1") is correct.
    (folder / "smithjane_1001_400_q1_softmax.py").write_bytes((BUGGY / "q1_softmax.py").read_bytes())
    os.rename(folder / "smithjane_1001_500_q1_softmax.py", folder / "smithjane_1001_500_q1_softmax-1.py")
    for index, name in enumerate(MODULES):
        (folder / f"doejohn_LATE_1002_{600 + index}_{name}").write_bytes((BUGGY / name).read_bytes())


def test_canvas_download_is_regrouped_per_student(tmp_path):
    _canvas_class(tmp_path / "canvas")
    found = classlist.discover(str(tmp_path / "canvas"), str(tmp_path / "staging"))
    assert [(e.student, e.canvas_id, e.late) for e in found.entries] == [
        ("doejohn", "1002", True), ("smithjane", "1001", False)]
    jane = found.entries[1]
    assert sorted(os.listdir(jane.path)) == sorted(MODULES)
    assert (tmp_path / "staging" / "smithjane" / "q1_softmax.py").read_bytes() == (CORRECT / "q1_softmax.py").read_bytes()


def test_canvas_batch_grades_and_fills_the_canvas_ids(tmp_path):
    _canvas_class(tmp_path / "canvas")
    done = run_cli("batch", str(tmp_path / "canvas"), "--assignment", "nn_basics", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    grades = {r["student"]: r for r in csv.DictReader(io.StringIO((tmp_path / "out" / "grades.csv").read_text()))}
    assert grades["smithjane"]["status"] == "full marks"
    assert grades["doejohn"]["status"] == "points lost"
    canvas = list(csv.reader(io.StringIO((tmp_path / "out" / "canvas_gradebook.csv").read_text())))
    assert {row[1]: row[5] for row in canvas[2:]} == {"1001": grades["smithjane"]["total"],
                                                      "1002": grades["doejohn"]["total"]}


GRADESCOPE_METADATA = """\
submission_1234:
  :submitters:
  - :name: Ada Lovelace
    :sid: '20250001'
    :email: ada@example.edu
  :created_at: 2025-01-31 10:00:00.000000000 -08:00
  :score: 0.0
  :status: processed
submission_5678:
  :submitters:
  - :name: Alan Turing
    :sid: 20250002
    :email: alan@example.edu
  - :name: Grace Hopper
    :sid: '20250003'
    :email: grace@example.edu
  :created_at: 2025-01-31 11:00:00.000000000 -08:00
  :score: 0.0
"""


def test_gradescope_export(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "submission_metadata.yml").write_text(GRADESCOPE_METADATA)
    shutil.copytree(CORRECT, export / "submission_1234")
    shutil.copytree(BUGGY, export / "submission_5678")
    metadata = classlist.parse_gradescope_metadata(GRADESCOPE_METADATA)
    assert [m["sid"] for m in metadata["submission_5678"]] == ["20250002", "20250003"]
    done = run_cli("batch", str(export), "--assignment", "nn_basics", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    grades = {r["student"]: r for r in csv.DictReader(io.StringIO((tmp_path / "out" / "grades.csv").read_text()))}
    assert sorted(grades) == ["20250001", "20250002"]
    assert grades["20250001"]["status"] == "full marks"
    canvas = list(csv.reader(io.StringIO((tmp_path / "out" / "canvas_gradebook.csv").read_text())))
    by_sis = {row[2]: (row[0], row[5]) for row in canvas[2:]}
    # both members of the group get the group's grade
    assert by_sis["20250002"] == ("Alan Turing", grades["20250002"]["total"])
    assert by_sis["20250003"] == ("Grace Hopper", grades["20250002"]["total"])


def test_plain_lines_when_not_a_terminal(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copytree(CORRECT, folder / "alice")
    done = run_cli("batch", str(folder), "--assignment", "nn_basics", "--out", str(tmp_path / "out"))
    assert done.returncode == 0
    assert "\r" not in done.stderr
    assert "[1/1] alice:" in done.stderr


def test_one_batch_per_results_folder(tmp_path):
    import fcntl

    (tmp_path / "out").mkdir()
    (tmp_path / "class").mkdir()
    with open(tmp_path / "out" / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        done = run_cli("batch", str(tmp_path / "class"), "--assignment", "nn_basics", "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "another grader batch" in done.stderr
