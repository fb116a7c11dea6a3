"""``grade_each``: many submissions in one pytest session (how a batch's grading process works).

The checks are collected once, and then nothing of one submission may reach the next: each
report must be exactly the report ``grader run`` gives for that submission alone. The order is
chosen to catch leaks: a check failing for one submission and passing for the next (a stale
failure would stick), feedback showing the last input (a stale proxy would show the previous
student's), a worker that killed itself, a file that does not parse, and an unreadable path.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import FIXTURES, ROOT, run_cli

ORDER = ["all_wrong", "modules_correct", "os_exit_softmax", "modules_correct", "no-such-folder",
         "syntax_error_softmax", "notebook_magics", "python2_print", "all_wrong"]

SCRIPT = """
import json, sys
from grader import assignment, grading

sessions = []
real_run_checks = grading.run_checks
def counting(*args, **kwargs):
    sessions.append(1)
    return real_run_checks(*args, **kwargs)
grading.run_checks = counting

outcomes = []
paths = json.loads(sys.argv[1])
grading.grade_each(paths, assignment.find("nn_basics"), sandbox_mode="auto", warm=True,
                   on_graded=lambda path, outcome: outcomes.append(
                       outcome if isinstance(outcome, dict) else {"error": type(outcome).__name__}))
print(json.dumps({"sessions": len(sessions), "outcomes": outcomes}))
"""


def comparable(report: dict) -> dict:
    report = dict(report)
    report.pop("execution_time", None)
    return report


def test_one_session_grades_each_submission_as_if_alone(tmp_path):
    paths = [str(FIXTURES / name) for name in ORDER]
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(paths)], capture_output=True,
                          text=True, timeout=600, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["sessions"] == 1  # collected once for all nine
    outcomes = result["outcomes"]
    assert len(outcomes) == len(ORDER)
    alone = {}
    for name in dict.fromkeys(ORDER):
        out = tmp_path / f"{name}.json"
        single = run_cli("run", str(FIXTURES / name), "--assignment", "nn_basics", "--json", str(out))
        alone[name] = json.loads(out.read_text()) if single.returncode in (0, 1) else None
    for name, outcome in zip(ORDER, outcomes):
        if alone[name] is None:
            assert outcome == {"error": "SubmissionError"}, name
            continue
        assert comparable(outcome) == comparable(alone[name]), name
    wrong, correct = outcomes[0], outcomes[1]
    assert wrong["score"] < correct["score"] == correct["max_score"]


def test_ctrl_c_ends_grading_with_130_and_no_worker_left(tmp_path):
    """pytest swallows Ctrl-C inside its session; the grader must still stop, say so (130) and
    leave no sandbox behind."""
    import os
    import signal
    import time

    own_tmp = tmp_path / "tmp"  # the worker's folder, and so its command line, names it
    own_tmp.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "grader", "run", str(FIXTURES / "infinite_loop_sigmoid")],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, env=dict(os.environ, TMPDIR=str(own_tmp)))
    time.sleep(3)  # inside the checks by now: sigmoid's endless loop takes seconds to time out
    assert process.poll() is None
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 130
    left = subprocess.run(["pgrep", "-f", str(own_tmp)], capture_output=True, text=True)
    assert left.stdout.split() == []


BROKEN_CHECKS = {
    "no problem marker": ("def test_unmarked(submission):\n    assert submission.f() == 1\n",
                          "has no @pytest.mark.problem(ID, points=N)"),
    "does not import": ("import pytest\n\ndef test_x(:\n    pass\n", "could not collect"),
    "no checks at all": ("import pytest\n", "no checks were collected"),
    "pytest.exit in a check": ("import pytest\n\n@pytest.mark.problem('f', points=1)\n"
                               "def test_x(submission):\n    pytest.exit('stop')\n",
                               "a check called pytest.exit (stop); checks must not end the session"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_CHECKS))
def test_broken_checks_are_the_graders_failure_not_a_zero(case, tmp_path):
    """An author's mistake in the checks must not turn into a student's zero: exit 3, one line."""
    from conftest import make_assignment, write_folder

    checks, said = BROKEN_CHECKS[case]
    folder = make_assignment(tmp_path / "broken", [{"id": "f", "points": 1, "functions": ["f"], "module": "f"}],
                             checks, {"f.py": "def f():\n    return 1\n"})
    student = write_folder(tmp_path / "student", {"f.py": "def f():\n    return 1\n"})
    out = tmp_path / "report.json"
    done = run_cli("run", str(student), "--assignment", str(folder), "--json", str(out))
    assert done.returncode == 3, done.stdout + done.stderr
    assert said in done.stderr and not out.exists()
