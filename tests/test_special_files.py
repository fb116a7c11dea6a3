"""Paths that are not regular files (FIFOs, sockets, character devices, folders named like
files) and a reader that goes away: the grader never opens them blind, never blocks on them,
and a closed stdout costs the printing, not the run. Everything through the real CLI."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, run_cli, write_folder

CORRECT = FIXTURES / "modules_correct"
FAST = 20   # seconds: a FIFO that is opened blocks forever, so any hang fails here

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")


def _refused(done: subprocess.CompletedProcess, name: str, kind: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"{name} is not a regular file: it is {kind}" in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["x.ipynb", "y.zip", "z.py"])
def test_a_fifo_as_the_submission_is_refused_at_once(tmp_path: Path, name: str) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    start = time.monotonic()
    done = run_cli("run", str(fifo), "--assignment", "nn_basics", timeout=FAST)
    _refused(done, name, "a FIFO")
    assert time.monotonic() - start < FAST


def test_a_socket_as_the_submission_is_refused(tmp_path: Path) -> None:
    short = tempfile.mkdtemp(prefix="g-sock-", dir="/tmp")   # AF_UNIX paths are short
    try:
        path = os.path.join(short, "s.py")
        server = socket.socket(socket.AF_UNIX)
        server.bind(path)
        try:
            _refused(run_cli("run", path, "--assignment", "nn_basics", timeout=FAST), "s.py", "a socket")
        finally:
            server.close()
    finally:
        shutil.rmtree(short, ignore_errors=True)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_character_device_is_never_read(tmp_path: Path) -> None:
    # /dev/zero never ends: read, it would fill the memory; named through a link called
    # sub.zip (the path named is followed, as any submission's is), it is still a device.
    link = tmp_path / "sub.zip"
    link.symlink_to("/dev/zero")
    _refused(run_cli("run", str(link), "--assignment", "nn_basics", timeout=FAST), "sub.zip",
             "a character device")
    _refused(run_cli("run", "/dev/zero", "--assignment", "nn_basics", timeout=FAST), "zero",
             "a character device")


def test_a_folder_named_like_a_zip_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "sub.zip"
    shutil.copytree(CORRECT, folder)
    done = run_cli("run", str(folder), "--assignment", "nn_basics", timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_fifo_inside_a_folder_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "sub"
    shutil.copytree(CORRECT, folder)
    os.mkfifo(folder / "extra.py")
    os.mkfifo(folder / "notes.ipynb")
    done = run_cli("run", str(folder), "--assignment", "nn_basics", timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_batch_marks_fifo_entries_unreadable_at_once(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copytree(CORRECT, subs / "alice")
    os.mkfifo(subs / "bob.ipynb")
    os.mkfifo(subs / "carol.zip")
    os.mkfifo(subs / "dave.py")
    out = tmp_path / "out"
    start = time.monotonic()
    done = run_cli("batch", str(subs), "--assignment", "nn_basics", "--out", str(out), "-j", "2",
                   timeout=60)
    assert time.monotonic() - start < 60
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    rows = {row["student"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert rows["alice"]["status"] == "full marks"
    for student in ("bob", "carol", "dave"):
        assert rows[student]["status"] == "unreadable", rows[student]


def test_a_canvas_fifo_beside_a_student_does_not_block(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    for number, path in enumerate(sorted(CORRECT.glob("*.py"))):
        shutil.copyfile(path, subs / f"alicesmith_101_{9000 + number}_{path.name}")
    os.mkfifo(subs / "bobjones_202_7001_q1_softmax.py")
    done = run_cli("batch", str(subs), "--assignment", "nn_basics", "--out", str(tmp_path / "out"),
                   timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    rows = {row["student"]: row for row in csv.DictReader((tmp_path / "out" / "grades.csv").open())}
    assert rows["alicesmith"]["status"] == "full marks", rows


def _through_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """``grader ARGS | true`` in bash: the reader is gone before the grader prints; the
    grader's own exit status comes back through PIPESTATUS."""
    command = " ".join([f"'{sys.executable}'", "-m", "grader", *[f"'{a}'" for a in args]])
    script = f'{command} 2>"$ERR" | true; exit "${{PIPESTATUS[0]}}"'
    err = tempfile.NamedTemporaryFile(prefix="grader-err-", delete=False)
    err.close()
    try:
        done = subprocess.run(["bash", "-c", script], cwd=ROOT, timeout=300, capture_output=True,
                              text=True, env=dict(os.environ, ERR=err.name), stdin=subprocess.DEVNULL)
        return subprocess.CompletedProcess(done.args, done.returncode, done.stdout,
                                           Path(err.name).read_text())
    finally:
        os.unlink(err.name)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("fixture, code", [("modules_correct", 0), ("all_wrong", 1)])
def test_stdout_closed_early_keeps_the_exit_code(tmp_path: Path, fixture: str, code: int) -> None:
    report = tmp_path / "r.json"
    done = _through_closed_pipe("run", str(FIXTURES / fixture), "--assignment", "nn_basics",
                                "--json", str(report))
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and "internal failure" not in done.stderr, done.stderr
    assert "BrokenPipe" not in done.stderr
    assert report.exists()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_json_to_a_closed_stdout_keeps_the_exit_code() -> None:
    done = _through_closed_pipe("run", str(FIXTURES / "all_wrong"), "--assignment", "nn_basics",
                                "--json", "-")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_open_regular_never_opens_what_is_not_a_regular_file(tmp_path: Path) -> None:
    # A FIFO swapped in for a module between the listing and the reading costs that module,
    # never a hang: the folder is read with open_regular (stat, O_NONBLOCK, fstat).
    from grader.submission import SubmissionError, open_regular

    folder = write_folder(tmp_path / "s", {"a.py": "x = 1\n"})
    os.mkfifo(folder / "b.py")
    with open_regular(str(folder / "a.py")) as handle:
        assert handle.read() == b"x = 1\n"
    with pytest.raises(SubmissionError, match="b.py is not a regular file: it is a FIFO"):
        open_regular(str(folder / "b.py"))
    os.symlink(folder / "a.py", folder / "c.py")
    with pytest.raises(SubmissionError, match="not a regular file: it is a symbolic link"):
        open_regular(str(folder / "c.py"))
    with open_regular(str(folder / "c.py"), follow=True) as handle:
        assert handle.read() == b"x = 1\n"
