"""Warm sandboxes (grader/zygote.py): same grades as a fresh sandbox, and nothing of one
student's run reaches the next. Grading runs in this test process (as a batch grading process
does); student code still runs only in the sandboxed workers."""

from __future__ import annotations


import pytest

from conftest import FIXTURES, make_assignment, write_folder
from grader import assignment as assignments
from grader import sandbox, zygote
from grader.grading import grade

pytestmark = pytest.mark.skipif(sandbox.bubblewrap_problem() is not None,
                                reason="warm sandboxes exist only in bubblewrap mode")

PROBE = '''
import glob, os, platform, subprocess, sys

KEYCTL = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}[platform.machine()]


def plant():
    """What a hostile student leaves behind for the next one."""
    with open("/tmp/planted.txt", "w") as handle:
        handle.write("left by the previous student")
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    import ctypes
    libc = ctypes.CDLL(None)
    shmid = libc.shmget(0x4752, 4096, 0o1666)  # IPC_CREAT | 0666
    with open("/submission/planted.py", "w") as handle:
        handle.write("x = 1")
    for place in ("/tmp", "/dev/shm", "/submission"):  # folders the sweep cannot enter as they are
        os.makedirs(place + "/locked/inner")
        os.chmod(place + "/locked/inner", 0)
        os.chmod(place + "/locked", 0)
    libc.mq_open(b"/planted", os.O_CREAT | os.O_RDWR, 0o600, None)
    libc.syscall(KEYCTL[0], b"user", b"planted", b"secret", 6, -4)  # add_key to the user keyring
    for place in ("/tmp", "/dev/shm", "/submission"):  # what survives of the folders themselves
        os.setxattr(place, "user.planted", b"secret")
        os.utime(place, (1, 1))
    os.chmod("/tmp", 0)
    os.chmod("/dev/shm", 0)
    return shmid


def observe():
    """What the next student can see."""
    import ctypes
    libc = ctypes.CDLL(None)
    with open("/proc/sysvipc/shm") as handle:
        segments = len(handle.read().splitlines()) - 1
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    return {"tmp": sorted(os.listdir("/tmp")), "segments": segments, "processes": len(pids),
            "submission": sorted(os.listdir("/submission")), "shm": sorted(os.listdir("/dev/shm")),
            "mqueue": libc.mq_open(b"/planted", os.O_RDONLY) >= 0,
            "key": libc.syscall(KEYCTL[2], 10, -4, b"user", b"planted", 0) >= 0,
            "roots": {p: (os.listxattr(p), os.stat(p).st_mode & 0o7777, os.stat(p).st_mtime > 1)
                      for p in ("/tmp", "/dev/shm", "/submission")},
            "init_memory": init_memory()}


def init_memory():
    """Whether the sandbox's PID 1 (alive for every student) lets us write its memory."""
    try:
        open("/proc/1/mem", "rb").close()
        return "open"
    except OSError as exc:
        return type(exc).__name__
'''

KILLER = PROBE.replace("def plant", "def _plant") + '''

def kill_everything():
    os.kill(-1, 9)  # every process this user may signal in the sandbox: the zygote too
'''

CHECKS = '''
import pytest


@pytest.mark.problem("probe", points=1)
def test_probe(submission, feedback):
    """runs"""
    if submission.has("plant"):
        feedback.note("planted %r" % (submission.plant(),))
    if submission.has("observe"):
        feedback.note("observed %r" % (submission.observe(),))
    if submission.has("kill_everything"):
        submission.run("kill_everything", [])
'''


@pytest.fixture
def probe_assignment(tmp_path):
    folder = make_assignment(tmp_path / "probe", [{"id": "probe", "points": 1, "module": "probe",
                                                   "functions": ["plant", "observe", "kill_everything"]}],
                             CHECKS, {"probe.py": "def observe():\n    return {}\n"})
    yield assignments.load(str(folder))
    zygote.close_all()


def student(tmp_path, name, body):
    return str(write_folder(tmp_path / name, {"probe.py": body}))


def note(report, word):
    text = report["tests"][0]["output"]
    start = text.index(word)
    return eval(text[start + len(word) + 1:].splitlines()[0])  # noqa: S307 - our own repr


def test_nothing_of_one_student_reaches_the_next(tmp_path, probe_assignment):
    cold = grade(student(tmp_path, "clean", PROBE.replace("def plant", "def _plant")), probe_assignment)
    baseline = note(cold, "observed")
    planter = student(tmp_path, "planter", PROBE)
    first = grade(planter, probe_assignment, warm=True)
    assert note(first, "planted") >= 0  # the segment really was created
    used = [z for z in zygote._WARM.values() if z.alive]
    assert len(used) == 1, "the warm sandbox was not used"
    observer = student(tmp_path, "observer", PROBE.replace("def plant", "def _plant"))
    second = grade(observer, probe_assignment, warm=True)
    seen = note(second, "observed")
    assert used[0].alive and list(zygote._WARM.values()) == used  # the same zygote served both
    # /tmp as a fresh sandbox has it (empty, or holding only the mount point of the interpreter
    # when that lives under /tmp): the planted file is gone.
    assert seen["tmp"] == baseline["tmp"] and "planted.txt" not in seen["tmp"]
    assert seen["segments"] == baseline["segments"] == 0
    assert len(seen["submission"]) == 1 and "planted.py" not in seen["submission"]  # its own copy only
    assert seen["shm"] == baseline["shm"] == [] and not seen["mqueue"] and not seen["key"]
    assert seen["roots"] == {p: ([], 0o755, True) for p in ("/tmp", "/dev/shm", "/submission")}
    assert seen["init_memory"] == "PermissionError"
    assert seen["processes"] <= baseline["processes"] + 1  # the zygote itself


def test_a_student_cannot_kill_the_zygote_and_a_lost_one_costs_nothing(tmp_path, probe_assignment):
    """kill(-1, SIGKILL) from inside spares the sandbox's init, which the zygote is; a zygote
    lost all the same (killed from outside here) is replaced for the next student."""
    killer = student(tmp_path, "killer", KILLER)
    grade(killer, probe_assignment, warm=True)
    survivors = [z for z in zygote._WARM.values() if z.alive and z.process.poll() is None]
    assert len(survivors) == 1
    after = grade(student(tmp_path, "next", PROBE.replace("def plant", "def _plant")),
                  probe_assignment, warm=True)
    assert after["score"] == 1 and list(zygote._WARM.values()) == survivors
    survivors[0].process.kill()
    survivors[0].process.wait()
    last = grade(student(tmp_path, "last", PROBE.replace("def plant", "def _plant")),
                 probe_assignment, warm=True)
    assert last["score"] == 1 and "planted.txt" not in note(last, "observed")["tmp"]
    assert [z for z in zygote._WARM.values() if z.alive] != survivors  # a new one served


@pytest.mark.parametrize("fixture", ["os_exit_softmax", "infinite_loop_sigmoid", "notebook_magics",
                                     "python2_print", "package_imports"])
def test_warm_and_fresh_sandboxes_grade_alike(fixture):
    nn = assignments.find("nn_basics")
    try:
        fresh = grade(str(FIXTURES / fixture), nn)
        warm = grade(str(FIXTURES / fixture), nn, warm=True)
    finally:
        zygote.close_all()
    for report in (fresh, warm):
        report.pop("execution_time")
    assert warm == fresh


DEEP = '''
import os

PLACES = ("/tmp", "/dev/shm", "/submission")


def plant():
    """A 3000-deep chain of folders with a file at the bottom in every writable place (too deep
    for a recursive removal), a file in /dev and a /dev/stdout pointing elsewhere."""
    start = os.getcwd()
    for place in PLACES:
        os.chdir(place)
        for _ in range(3000):
            os.mkdir("d")
            os.chdir("d")
        with open("bottom.bin", "wb") as handle:
            handle.write(b"left by the previous student" * 400000)  # about 11 MiB
        os.chmod(".", 0)
        os.chdir(start)
    tried = {}
    for what, act in (("file", lambda: open("/dev/leak_from_a", "w").write("secret")),
                      ("link", lambda: (os.unlink("/dev/stdout"), os.symlink("/tmp/x", "/dev/stdout")))):
        try:
            act()
            tried[what] = "written"
        except OSError as exc:
            tried[what] = type(exc).__name__
    return tried


def observe():
    """What the next student finds: the places' contents and free space, and /dev."""
    free = {p: os.statvfs(p).f_bavail * os.statvfs(p).f_frsize for p in PLACES}
    return {"places": {p: sorted(os.listdir(p)) for p in PLACES}, "free": free,
            "dev": sorted(os.listdir("/dev")), "stdout": os.readlink("/dev/stdout"),
            "shm_writable": os.access("/dev/shm", os.W_OK)}
'''


def test_deep_folders_and_dev_do_not_reach_the_next_student(tmp_path, probe_assignment):
    """Folders nested deeper than a recursive removal goes, with a file at the bottom, in /tmp,
    /dev/shm and /submission; and /dev, which the sweep does not empty, is read-only."""
    observer_body = DEEP.replace("def plant", "def _plant")
    cold = note(grade(student(tmp_path, "cold", observer_body), probe_assignment), "observed")
    first = grade(student(tmp_path, "planter", DEEP), probe_assignment, warm=True)
    assert note(first, "planted") == {"file": "OSError", "link": "OSError"}  # EROFS
    used = [z for z in zygote._WARM.values() if z.alive]
    assert len(used) == 1, "the warm sandbox was not used"
    seen = note(grade(student(tmp_path, "observer", observer_body), probe_assignment, warm=True),
                "observed")
    assert used[0].alive and list(zygote._WARM.values()) == used  # the same zygote served both
    assert seen["places"] == cold["places"] and "d" not in seen["places"]["/tmp"]
    assert seen["free"] == cold["free"]  # the whole disk back
    assert seen["dev"] == cold["dev"] and "leak_from_a" not in seen["dev"]
    assert seen["stdout"] == cold["stdout"] == "/proc/self/fd/1" and seen["shm_writable"]


def test_a_sweep_that_leaves_something_retires_the_warm_sandbox(tmp_path, probe_assignment,
                                                                 monkeypatch):
    """When the zygote reports that something survived its cleaning, the next student gets a
    new warm sandbox, never that one."""
    real = zygote.Zygote.request

    def leaky(self, message, fds=None):
        answer = real(self, message, fds)
        return {"ok": False, "left": ["/tmp/d"]} if message.get("op") == "sweep" else answer

    monkeypatch.setattr(zygote.Zygote, "request", leaky)
    first = grade(student(tmp_path, "first", PROBE.replace("def plant", "def _plant")),
                  probe_assignment, warm=True)
    monkeypatch.undo()
    assert first["score"] == 1
    retired = list(zygote._WARM.values())
    assert retired and not any(z.alive for z in retired)
    second = grade(student(tmp_path, "second", PROBE.replace("def plant", "def _plant")),
                   probe_assignment, warm=True)
    assert second["score"] == 1
    assert [z for z in zygote._WARM.values() if z.alive and z not in retired]
