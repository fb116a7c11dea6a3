"""Issue 12, end to end through the real CLI: a warm sandbox is, for each student, as fresh as a
new one (IPC objects, keys, locked folders); disk is bounded and the bound is named; no
installed assignment's secrets nor the report folder are visible; the caller's working
directory cannot change the grader's code; a batch leaves no temporary folder behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, make_assignment, write_folder
from grader import sandbox

bwrap_only = pytest.mark.skipif(sandbox.bubblewrap_problem() is not None,
                                reason=str(sandbox.bubblewrap_problem()))


def cli(*args: str, cwd: Path | str = ROOT, env: dict | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    """``grader ARGS`` as the installed console script runs it (``-P``: its own folder, not the
    working directory, leads sys.path)."""
    return subprocess.run([sys.executable, "-P", "-m", "grader", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=dict(os.environ, **(env or {})),
                          stdin=subprocess.DEVNULL)


def batch(subs: Path, assignment: str | Path, out: Path, **kwargs) -> subprocess.CompletedProcess:
    done = cli("batch", str(subs), "--assignment", str(assignment), "--out", str(out), "-j", "1",
               **kwargs)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done


def reports(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (out / "students").glob("*/report.json")}


PROBE_CHECK = '''
import json
import pytest


@pytest.mark.problem("probe", points=1)
def test_probe(submission, feedback):
    """what the student's code found"""
    feedback.note("FOUND " + json.dumps(submission.probe()))
'''


def found(report: dict) -> dict:
    text = report["tests"][0]["output"]
    return json.loads(text[text.index("FOUND ") + 6:].splitlines()[0])


def probe_assignment(folder: Path, name: str = "probe") -> Path:
    return make_assignment(folder, [{"id": "probe", "points": 1, "module": "probe",
                                     "functions": ["probe"]}],
                           PROBE_CHECK, {"probe.py": "def probe():\n    return {}\n"}, name=name)


# ------------------------------------------------------------------ 1. warm sandbox leftovers

LEFTOVERS = r'''
import ctypes, os, platform

NR = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
USER, SESSION = -4, -3


def key(ring):
    # keyctl(KEYCTL_SEARCH, ring, "user", "grader-secret", 0): the key's id if it is there
    return libc.syscall(NR[2], 10, ring, b"user", b"grader-secret", 0) >= 0


def observe():
    seen = {"mqueue": libc.mq_open(b"/grader-secret", os.O_RDONLY) >= 0,
            "user_key": key(USER), "session_key": key(SESSION)}
    for place in ("/tmp", "/dev/shm", "/var/tmp"):
        seen[place] = sorted(os.listdir(place))
    return seen


def plant():
    planted = {"mqueue": libc.mq_open(b"/grader-secret", os.O_CREAT | os.O_RDWR, 0o600, None) >= 0}
    for ring, name in ((USER, "user_key"), (SESSION, "session_key")):
        planted[name] = libc.syscall(NR[0], b"user", b"grader-secret", b"s3cret", 6, ring) >= 0
    for place in ("/tmp", "/dev/shm"):
        try:
            os.makedirs(place + "/locked/inner")
            with open(place + "/locked/inner/secret.txt", "w") as handle:
                handle.write("from the previous student")
            os.chmod(place + "/locked/inner", 0)
            os.chmod(place + "/locked", 0)
            planted[place] = True
        except OSError:  # an earlier student's is still there
            planted[place] = False
    return planted


def probe():
    """Look first (what an earlier student left), then leave the same for the next one."""
    return {"seen": observe(), "planted": plant()}
'''


@bwrap_only
def test_warm_sandbox_leaves_no_ipc_key_or_locked_folder_to_the_next_student(tmp_path):
    assignment = probe_assignment(tmp_path / "probe")
    subs = tmp_path / "subs"
    for name in ("alice", "bob", "carol"):
        write_folder(subs / name, {"probe.py": LEFTOVERS})
    out = tmp_path / "out"
    batch(subs, assignment, out, env={"GRADER_ASSIGNMENTS": ""})
    everyone = reports(out)
    assert set(everyone) == {"alice", "bob", "carol"}
    for student, report in everyone.items():
        result = found(report)
        seen = result["seen"]
        # (when the interpreter lives under /tmp, a checkout there, /tmp holds its mount point)
        mounts = sorted({p.split("/")[2] for p in (sys.prefix, sys.base_prefix) if p.startswith("/tmp/")})
        assert seen == {"mqueue": False, "user_key": False, "session_key": False,
                        "/tmp": mounts, "/dev/shm": [], "/var/tmp": mounts}, (student, result)
        assert result["planted"]["/tmp"] and result["planted"]["/dev/shm"]


# ------------------------------------------------------------------ 2. disk bounded and named

FILLER = r'''
import os


def fill(place):
    """Write up to 64 MiB, 1 MiB a file (under the file size limit), into ``place``."""
    block = b"x" * (1 << 20)
    for index in range(64):
        with open(os.path.join(place, "fill-%d" % index), "wb") as handle:
            handle.write(block)
    return "wrote 64 MiB into " + place
'''

FILL_CHECKS = '''
import pytest


@pytest.mark.problem("tmp", points=1)
def test_tmp(submission):
    """/tmp"""
    submission.fill("/tmp")


@pytest.mark.problem("shm", points=1)
def test_shm(submission):
    """/dev/shm"""
    submission.fill("/dev/shm")


@pytest.mark.problem("own", points=1)
def test_own(submission):
    """the submission's own folder"""
    submission.fill(".")
'''


def fill_assignment(folder: Path) -> Path:
    make_assignment(folder, [{"id": p, "points": 1, "module": "filler", "functions": ["fill"]}
                             for p in ("tmp", "shm", "own")],
                    FILL_CHECKS, {"filler.py": "def fill(place):\n    return ''\n"})
    with open(folder / "assignment.toml", "a") as handle:
        handle.write("\n[limits]\ndisk_mb = 8\n")
    return folder


@bwrap_only
@pytest.mark.skipif(not sandbox.disk_bounded(), reason="this bwrap cannot size a tmpfs (before 0.8)")
@pytest.mark.parametrize("how", ["run", "batch"])
def test_disk_is_bounded_and_the_limit_named(tmp_path, how):
    assignment = fill_assignment(tmp_path / "fill")
    subs = write_folder(tmp_path / "subs" / "greedy", {"filler.py": FILLER}).parent
    if how == "run":
        out = tmp_path / "r.json"
        done = cli("run", str(subs / "greedy"), "--assignment", str(assignment), "--json", str(out))
        assert done.returncode == 1, done.stderr
        report = json.loads(out.read_text())
    else:
        batch(subs, assignment, tmp_path / "out")
        report = reports(tmp_path / "out")["greedy"]
    assert report["grader"]["sandbox"] == "bubblewrap"
    for problem in ("tmp", "shm", "own"):
        assert report["problems"][problem]["score"] == 0, report["problems"]
        test = next(t for t in report["tests"] if problem in t["tags"])
        assert "disk limit of 8 MiB exceeded in fill" in json.dumps(test), test


# ------------------------------------------------------------------ 3. every secret hidden

SNOOP = r'''
import os


def probe():
    """Everything this student can list or read of the paths planted in this file."""
    seen = {}
    for path in PATHS:
        try:
            seen[path] = sorted(os.listdir(path)) if os.path.isdir(path) else open(path).read()
        except OSError as exc:
            seen[path] = type(exc).__name__
    return seen
'''


@pytest.fixture(params=["prefix", "site-packages"])
def inside_the_venv(request):
    """A folder inside this interpreter's own prefix or its site-packages (both bound into the
    sandbox), removed afterwards."""
    base = Path(sys.prefix if request.param == "prefix" else sysconfig.get_paths()["purelib"])
    folder = base / f"grader-isolation-test-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


@bwrap_only
def test_no_installed_assignment_nor_the_report_folder_is_visible(tmp_path, inside_the_venv):
    installed = inside_the_venv / "assignments"
    graded = probe_assignment(installed / "probe")
    other = make_assignment(installed / "other", [{"id": "x", "points": 1, "module": "x",
                                                   "functions": ["x"]}],
                            "SECRET_CHECK = 1\n", {"x.py": "SECRET_REFERENCE = 1\n"})
    write_folder(other, {"mutants/wrong.py": "SECRET_MUTANT = 1\n"})
    out = inside_the_venv / "out"
    subs = inside_the_venv / "subs"
    secrets = [str(other / "checks"), str(other / "checks" / "test_checks.py"), str(other / "ref"),
               str(other / "ref" / "x.py"), str(other / "mutants"), str(graded / "checks"),
               str(graded / "ref"), str(out), str(out / "students"), str(subs), str(subs / "alice")]
    snoop = SNOOP.replace("PATHS", repr(secrets))
    for name in ("alice", "bob"):
        write_folder(subs / name, {"probe.py": snoop})
    env = {"GRADER_ASSIGNMENTS": str(installed)}
    batch(subs, "probe", out, env=env)
    everyone = reports(out)
    assert set(everyone) == {"alice", "bob"}
    done = cli("run", str(subs / "alice"), "--assignment", "probe", "--json", str(out / "r.json"),
               env=env)
    assert done.returncode in (0, 1), done.stderr
    everyone["run"] = json.loads((out / "r.json").read_text())
    for student, report in everyone.items():
        seen = found(report)
        leaked = {path: what for path, what in seen.items()
                  if what not in ([], "FileNotFoundError", "PermissionError", "")
                  and not (student == "run" and path.startswith(str(subs)))}  # a class is batch's
        assert not leaked, (student, leaked)


# ------------------------------------------------------------------ 4. the caller's folder

@bwrap_only
def test_a_grader_folder_in_the_working_directory_changes_nothing(tmp_path):
    course = tmp_path / "course"
    marker = tmp_path / "impostor-ran"
    write_folder(course, {"grader/__init__.py": f"open({str(marker)!r}, 'w').close()\n"
                                                "raise SystemExit('impostor grader')\n",
                          "grader/executors.py": "raise SystemExit('impostor')\n"})
    subs = tmp_path / "subs"
    for name in ("alice", "bob"):
        shutil.copytree(FIXTURES / "modules_correct", subs / name)
    out = tmp_path / "out"
    done = cli("batch", str(subs), "--assignment", "nn_basics", "--out", str(out), "-j", "1",
               cwd=course)
    assert done.returncode == 0, done.stdout + done.stderr
    everyone = reports(out)
    assert set(everyone) == {"alice", "bob"}
    assert all(r["score"] == r["max_score"] for r in everyone.values())
    assert not marker.exists()


# ------------------------------------------------------------------ 5. no temporary folder left

@bwrap_only
def test_a_batch_leaves_nothing_in_tmpdir(tmp_path):
    private = tmp_path / "tmpdir"
    private.mkdir()
    subs = tmp_path / "subs"
    for name in ("alice", "bob", "carol"):
        write_folder(subs / name, {"probe.py": "def probe():\n    return {'ok': True}\n"})
    assignment = probe_assignment(tmp_path / "probe")
    batch(subs, assignment, tmp_path / "out", env={"TMPDIR": str(private), "GRADER_ASSIGNMENTS": ""})
    assert len(reports(tmp_path / "out")) == 3
    assert sorted(os.listdir(private)) == []


@bwrap_only
def test_a_killed_grading_process_leaves_nothing_either(tmp_path, monkeypatch):
    """SIGKILL (what a timeout does to a grading process) gives it no chance to clean up: the
    batch removes its temporary folder, warm sandbox included."""
    import signal
    import tempfile

    from grader.executors import GradingProcess, Job

    private = tmp_path / "tmpdir"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    monkeypatch.setenv("TMPDIR", str(private))
    slot = GradingProcess("test", None)
    job = Job(student="alice", path=str(FIXTURES / "modules_correct"), assignment="nn_basics",
              sandbox="bubblewrap", timeout=120)
    try:
        assert slot.grade(job).status == "graded"
        assert list(private.glob("**/grader-zygote-*"))  # the warm sandbox's folder, to be removed
        os.kill(slot.process.pid, signal.SIGKILL)
        slot.process.wait()
    finally:
        slot.stop()
    assert sorted(os.listdir(private)) == []


@bwrap_only
def test_sigterm_to_a_batch_leaves_nothing_in_tmpdir(tmp_path):
    """``kill`` of a batch in the middle of grading: it stops as an exception would, and its
    grading processes' folders (warm sandboxes included) are removed."""
    import signal
    import time

    private = tmp_path / "tmpdir"
    private.mkdir()
    subs = tmp_path / "subs"
    for name in ("alice", "bob"):
        write_folder(subs / name, {"probe.py": "import time\n\ndef probe():\n    time.sleep(30)\n"})
    assignment = probe_assignment(tmp_path / "probe")
    with open(assignment / "assignment.toml", "a") as handle:
        handle.write("\n[limits]\ncall_seconds = 60\n")
    command = [sys.executable, "-P", "-m", "grader", "batch", str(subs), "--assignment",
               str(assignment), "--out", str(tmp_path / "out"), "-j", "1"]
    batch_process = subprocess.Popen(command, env=dict(os.environ, TMPDIR=str(private)),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list(private.glob("**/grader-zygote-*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(private.glob("**/grader-zygote-*")), "the warm sandbox never started"
        batch_process.send_signal(signal.SIGTERM)
        assert batch_process.wait(timeout=30) != 0
    finally:
        batch_process.kill()
    time.sleep(0.5)
    assert sorted(os.listdir(private)) == []


@bwrap_only
def test_a_report_written_straight_into_site_packages_is_hidden_and_grading_works(tmp_path):
    """Hiding the report's folder must not hide the interpreter's: the folder is site-packages
    itself, so the report file alone is covered."""
    assignment = probe_assignment(tmp_path / "probe")
    report = Path(sysconfig.get_paths()["purelib"]) / f"grader-report-{uuid.uuid4().hex[:8]}.json"
    report.write_text("an earlier student's report")
    try:
        student = write_folder(tmp_path / "alice", {"probe.py": SNOOP.replace("PATHS", repr([str(report)]))})
        done = cli("run", str(student), "--assignment", str(assignment), "--json", str(report))
        assert done.returncode == 0, done.stdout + done.stderr
        assert found(json.loads(report.read_text())) == {str(report): ""}
    finally:
        report.unlink()


@bwrap_only
def test_a_batch_removes_what_a_sigkilled_batch_left(tmp_path):
    """SIGKILL to a batch cleans nothing up; the next batch removes the grading processes'
    folders of a batch that no longer runs, and only those."""
    private = tmp_path / "tmpdir"
    private.mkdir()
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = private / f"grader-slot-{gone.pid}-abc"
    (stale / "grader-zygote-x" / "locked").mkdir(parents=True)
    (stale / "grader-zygote-x" / "locked").chmod(0)
    alive = private / f"grader-slot-{os.getpid()}-abc"   # a running batch's: kept
    alive.mkdir()
    subs = write_folder(tmp_path / "subs" / "alice", {"probe.py": "def probe():\n    return {}\n"}).parent
    batch(subs, probe_assignment(tmp_path / "probe"), tmp_path / "out",
          env={"TMPDIR": str(private), "GRADER_ASSIGNMENTS": ""})
    assert sorted(os.listdir(private)) == [alive.name]
