"""Issues 12 and 13 through the real CLI: what a worker sends is capped, malformed or deep data
costs only the call, big sources load, a killed zygote is the student's crash, and a dict or an
array in all but exact type gets full marks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, grade, make_assignment, run_cli, write_folder
from grader import sandbox

CHECKS = '''
import pytest


@pytest.mark.problem("p", points=1)
def test_plain(submission):
    """a plain function still works"""
    assert submission.plain(2) == 4


@pytest.mark.problem("q", points=1, visibility="after_due_date")
def test_other(submission):
    """the student's other function"""
    assert submission.other(3) == 3
'''

REFERENCE = {"mod.py": "def plain(x):\n    return 2 * x\n\n\ndef other(x):\n    return x\n"}


@pytest.fixture
def small_assignment(tmp_path: Path) -> Path:
    return make_assignment(tmp_path / "tiny", [
        {"id": "p", "points": 1, "functions": ["plain"], "module": "mod"},
        {"id": "q", "points": 1, "functions": ["other"], "module": "mod"}], CHECKS, REFERENCE)


CHANNEL = """
import fcntl, os, struct


def _channel():
    \"\"\"The worker's own write end of the wire (the student can always find it).\"\"\"
    for fd in range(3, 256):
        try:
            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                return fd
        except OSError:
            pass


def _forge(header):
    os.write(_channel(), struct.pack(">I", len(header)) + header)
"""


def student(tmp_path: Path, name: str, other: str, extra: str = "") -> Path:
    source = "def plain(x):\n    return 2 * x\n\n\n" + other + "\n" + extra
    return write_folder(tmp_path / name, {"mod.py": source})


def strict_json(path_or_text) -> dict:
    """JSON as the standard has it: no NaN or Infinity."""
    def refuse(constant: str):
        raise AssertionError(f"{constant} in a JSON output")

    return json.loads(path_or_text, parse_constant=refuse)


def test_a_ten_megabyte_error_message_leaves_the_report_small(tmp_path, small_assignment):
    """finding 1: message, traceback and type name are capped on the grader's side"""
    sub = student(tmp_path, "loud", '''
import sys


def other(x):
    print("P" * 10_000_000)
    raise type("E" * 3_000_000 + "\\nHIDDEN" + str(x), (Exception,), {})("M" * 10_000_000)
''')
    report, _ = grade(sub, tmp_path, "--assignment", str(small_assignment))
    size = len(json.dumps(report))
    assert size < 300_000, size
    assert report["problems"]["p"]["score"] == 1 and report["problems"]["q"]["score"] == 0
    assert "HIDDEN" not in json.dumps(report)  # the type name was cut at one short line


def test_a_value_nested_past_the_limit_comes_back_foreign(tmp_path, small_assignment):
    """finding 3: a deep value costs that value only; the worker stays up"""
    sub = student(tmp_path, "deep", '''
def other(x):
    value = x
    for _ in range(200):
        value = [value]
    return value
''')
    report, _ = grade(sub, tmp_path, "--assignment", str(small_assignment))
    other = [t for t in report["tests"] if "other" in t["name"]][0]
    assert report["problems"]["p"]["score"] == 1 and other["score"] == 0
    assert "restarted" not in json.dumps(report) and "not plain data" not in json.dumps(report)


def test_a_malformed_frame_costs_only_that_call(tmp_path, small_assignment):
    """finding 2: a frame nested past json's recursion limit is a protocol error of the worker"""
    sub = student(tmp_path, "forger", CHANNEL + '''

def other(x):
    _forge(("[" * 100_000 + "]" * 100_000).encode())
    return x
''')
    report, done = grade(sub, tmp_path, "--assignment", str(small_assignment))
    assert report["problems"]["p"]["score"] == 1 and report["problems"]["q"]["score"] == 0
    text = json.dumps(report)
    assert "internal" not in text.lower() and "RecursionError" not in text, text[:3000]


def test_a_five_megabyte_source_with_a_data_literal_is_graded(tmp_path, small_assignment):
    """finding 4: a source larger than the wire's header limit still loads"""
    table = "TABLE = [" + ", ".join(str(i % 1000) for i in range(950_000)) + "]\n"
    sub = student(tmp_path, "big", "def other(x):\n    return x + TABLE[0]\n", table)
    assert 4 * 2**20 < (sub / "mod.py").stat().st_size < 5 * 2**20
    report, done = grade(sub, tmp_path, "--assignment", str(small_assignment))
    assert report["score"] == 2, json.dumps(report)[:2000]


def test_nan_and_infinity_never_reach_text_fields(tmp_path, small_assignment):
    """finding 6: a forged message with NaN and Infinity where names and lines belong leaves
    every output standard JSON, and a NaN result is a float that fails the comparison"""
    forged = (b'{"event": "loaded", "functions": {"plain": {"module": NaN, "file": Infinity, '
              b'"line": NaN}, "other": {"module": -Infinity, "file": "mod.py", "line": 1}}, '
              b'"blob_sizes": []}')
    sub = student(tmp_path, "nan", "def other(x):\n    return float('nan')\n",
                  CHANNEL + f"\n_forge({forged!r})\n")
    out = tmp_path / "nan.json"
    done = run_cli("run", str(sub), "--assignment", str(small_assignment), "--json", str(out))
    assert done.returncode in (0, 1), done.stderr
    strict_json(out.read_text())
    clean = student(tmp_path, "nan2", "def other(x):\n    return float('nan')\n")
    report, _ = grade(clean, tmp_path, "--assignment", str(small_assignment))
    assert report["problems"]["p"]["score"] == 1 and report["problems"]["q"]["score"] == 0


def _backprop_variant(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "variant"
    shutil.copytree(FIXTURES / "backprop_basics" / "correct", folder)
    notebook = folder / "backprop_basics.ipynb"
    text = notebook.read_text()
    assert text.count(old) == 1
    notebook.write_text(text.replace(old, new))
    return folder


@pytest.mark.parametrize("container", ["collections.OrderedDict", "collections.defaultdict",
                                       "collections.Counter"])
def test_fprop_returning_a_dict_subclass_gets_full_marks(tmp_path, container):
    """finding 7: an OrderedDict (defaultdict, Counter) cache is a dict"""
    old = 'cache.update(params)\\n",\n'
    if "defaultdict" in container:
        wrap = "collections.defaultdict(float, cache)"
    else:
        wrap = f"{container}(cache)"
    new = f'cache.update(params)\\n",\n    "    import collections\\n",\n    "    cache = {wrap}\\n",\n'
    folder = _backprop_variant(tmp_path, old, new)
    report, done = grade(folder, tmp_path, "--assignment", "backprop_basics")
    assert report["score"] == report["max_score"], json.dumps(report["problems"])


def test_matrix_and_namedtuple_results_get_full_marks(tmp_path):
    """finding 7: np.matrix is a 2-D array and a namedtuple a tuple"""
    old = '    return loss, dW"'
    new = ('    import collections\\n",\n    "    Out = collections.namedtuple(\'Out\', \'loss dW\')\\n",\n'
           '    "    return Out(np.float64(loss), np.asmatrix(dW))"')
    folder = _backprop_variant(tmp_path, old, new)
    report, done = grade(folder, tmp_path, "--assignment", "backprop_basics")
    assert report["score"] == report["max_score"], json.dumps(report["problems"])


KILL_CHECKS = '''
import pytest


@pytest.mark.problem("p", points=1)
def test_runs(submission):
    """the function runs"""
    assert submission.plain(2) == 4
'''


@pytest.mark.skipif(sandbox.bubblewrap_problem() is not None, reason="warm sandboxes need bubblewrap")
def test_a_worker_that_tries_to_kill_its_zygote_costs_nothing_else(tmp_path):
    """finding 5: in a batch, a worker that kills its zygote was recorded as an internal
    failure (AttributeError). The zygote is now the sandbox's PID 1, which a SIGKILL from inside
    cannot touch (tests/test_zygote.py covers a zygote lost from outside): the killer's call
    simply goes on, nothing is an internal failure, and the next student is graded as usual."""
    assignment = make_assignment(tmp_path / "kz", [{"id": "p", "points": 1, "functions": ["plain"],
                                                    "module": "mod"}], KILL_CHECKS,
                                 {"mod.py": "def plain(x):\n    return 2 * x\n"})
    subs = tmp_path / "subs"
    write_folder(subs / "a_killer", {"mod.py": "import os, time\n\n\ndef plain(x):\n"
                                                "    os.kill(os.getppid(), 9)\n    time.sleep(3)\n    return 2 * x\n"})
    write_folder(subs / "b_next", {"mod.py": "def plain(x):\n    return 2 * x\n"})
    out = tmp_path / "out"
    done = run_cli("batch", str(subs), "--assignment", str(assignment), "--out", str(out), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    killer = json.loads((out / "students" / "a_killer" / "report.json").read_text())
    after = json.loads((out / "students" / "b_next" / "report.json").read_text())
    text = json.dumps(killer)
    assert "internal" not in text.lower() and "AttributeError" not in text, text[:2000]
    assert killer["score"] == 1, text[:2000]
    assert after["score"] == 1


def test_thousands_of_failing_statements_leave_the_report_small(tmp_path, small_assignment):
    """finding 1: load messages are capped for the whole submission, not only one by one"""
    failing = "".join(f"raise ValueError('{i}' + 'v' * 5000)\n" for i in range(2000))
    sub = student(tmp_path, "noisy", "def other(x):\n    return x\n", failing)
    report, _ = grade(sub, tmp_path, "--assignment", str(small_assignment))
    assert report["score"] == 2
    assert len(json.dumps(report)) < 600_000
    assert "load messages are over" in report["output"]


def test_an_exception_named_like_the_graders_own_errors_cannot_leak_a_private_input(tmp_path, small_assignment):
    """finding 1: a private check shows the message of the grader's own error kinds; a student
    exception (or a forged frame) of such a kind brings no text of its own"""
    sub = student(tmp_path, "named", '''
class Crashed(Exception):
    pass


def other(x):
    raise Crashed("SECRET-INPUT-%r" % (x,))
''')
    report, _ = grade(sub, tmp_path, "--assignment", str(small_assignment))
    assert report["problems"]["q"]["score"] == 0
    assert "SECRET-INPUT" not in json.dumps(report), json.dumps(report["tests"])
