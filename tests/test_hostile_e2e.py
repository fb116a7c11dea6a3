"""Issue 12/13 regressions through the real CLI: ids unique and tied to their source, odd bytes
in names and messages, unreadable zips and notebooks, and the Python 2 detector on a hostile line."""

from __future__ import annotations

import csv
import io
import os
import shutil
import sqlite3
import zipfile
from pathlib import Path

from conftest import FIXTURES, run_cli, write_folder

CORRECT = FIXTURES / "modules_correct"
WRONG = FIXTURES / "all_wrong"


def _grades(out: Path) -> dict[str, dict]:
    return {row["student"]: row for row in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}


def _batch(folder: Path, out: Path, env: dict | None = None):
    return run_cli("batch", str(folder), "--assignment", "nn_basics", "--out", str(out), "--jobs", "2", env=env)


def test_colliding_ids_each_keep_their_own_source_and_a_rerun_regrades_nobody(tmp_path):
    folder = tmp_path / "class"
    shutil.copytree(CORRECT, folder / "alice")
    shutil.copytree(CORRECT, folder / "alice-2")
    with zipfile.ZipFile(folder / "alice.zip", "w") as archive:
        archive.write(WRONG / "q1_softmax.py", "q1_softmax.py")
    done = _batch(folder, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    grades = _grades(tmp_path / "out")
    assert {s: g["total"] for s, g in grades.items()} == {"alice": "55", "alice-2": "55", "alice-3": "0"}
    with sqlite3.connect(tmp_path / "out" / "gradebook.sqlite") as db:
        sources = dict(db.execute("SELECT student, source_path FROM runs"))
    assert {s: os.path.basename(p) for s, p in sources.items()} == {
        "alice": "alice", "alice-2": "alice-2", "alice-3": "alice.zip"}
    again = _batch(folder, tmp_path / "out")
    assert "0 to grade" in again.stdout + again.stderr, again.stdout + again.stderr
    assert _grades(tmp_path / "out") == grades


def test_odd_bytes_in_names_and_messages_do_not_stop_the_batch(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    latin1 = os.path.join(os.fsencode(str(folder)), b"Jos\xe9")
    shutil.copytree(CORRECT, os.fsdecode(latin1))
    shutil.copytree(CORRECT, folder / "bob")
    with open(os.path.join(os.fsencode(str(folder / "bob")), b"notes\xff.py"), "wb") as handle:
        handle.write(b"x = 1\n")
    shutil.copytree(CORRECT, folder / "carol")
    softmax = (folder / "carol" / "q1_softmax.py").read_text()
    (folder / "carol" / "q1_softmax.py").write_text(softmax.replace(
        "def softmax(x):", 'def softmax(x):\n    raise ValueError("bad \\udce9 and \\ud800 here")\n', 1))
    shutil.copytree(CORRECT, folder / "zed")
    done = _batch(folder, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    grades = _grades(tmp_path / "out")
    assert {s: g["total"] for s, g in grades.items() if s != "carol"} == {
        "Jos_xe9": "55", "bob": "55", "zed": "55"}
    assert grades["carol"]["softmax"] == "0" and grades["carol"]["status"] == "points lost"
    again = _batch(folder, tmp_path / "out")
    assert "0 to grade" in again.stdout + again.stderr
    for path in (os.fsdecode(latin1), str(folder / "bob")):
        alone = run_cli("run", path, "--assignment", "nn_basics", "--json", str(tmp_path / "r.json"), "--quiet")
        assert alone.returncode == 0, alone.stderr


def test_unreadable_zips_are_exit_2_and_leave_no_temporary_folder(tmp_path):
    private = tmp_path / "tmp"
    private.mkdir()
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as archive:
        for index in range(10_001):
            archive.writestr(f"f{index}.py", b"")
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("q1_softmax.py", (CORRECT / "q1_softmax.py").read_bytes())
    raw = bytearray(data.getvalue())
    raw[40:60] = b"\xff" * 20                                    # corrupt deflate stream
    (tmp_path / "corrupt.zip").write_bytes(bytes(raw))
    for name in ("many.zip", "corrupt.zip"):
        done = run_cli("run", str(tmp_path / name), "--assignment", "nn_basics", env={"TMPDIR": str(private)})
        assert done.returncode == 2, (name, done.returncode, done.stderr)
        assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr, done.stderr
        assert os.listdir(private) == [], name


def test_python2_detector_does_not_hang_on_a_hostile_line(tmp_path):
    sub = write_folder(tmp_path / "sub", {name: (CORRECT / name).read_text() for name in os.listdir(CORRECT)})
    (sub / "notes.py").write_text("except" + " " * 1_000_000 + "\n")
    done = run_cli("run", str(sub), "--assignment", "nn_basics", "--quiet", timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_notebook_that_is_not_json_is_unreadable_not_zero(tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "dave.ipynb").write_text("this is not json")
    shutil.copytree(CORRECT, tmp_path / "class" / "erin")
    done = run_cli("run", str(tmp_path / "class" / "dave.ipynb"), "--assignment", "nn_basics")
    assert done.returncode == 2 and "dave.ipynb is not a valid notebook" in done.stderr, done.stderr
    assert done.stderr.strip().count("\n") == 0
    batch = _batch(tmp_path / "class", tmp_path / "out")
    assert batch.returncode == 0, batch.stderr
    grades = _grades(tmp_path / "out")
    assert grades["dave"]["status"] == "unreadable" and grades["erin"]["total"] == "55"
