"""Whose fault a failing check is (grader/checks/plugin.py, ``GraderPlugin.fault_of``): a bug in
the check's own code (a typo'd name, a fixture that does not exist, a helper called with the
wrong arguments) or in the grader is exit 3 with one line naming the check's file and line, and
no report; a check that cannot use what the submission returned is the student's lost point.

Each case is a throwaway assignment graded through the real CLI.
"""

from __future__ import annotations

import json

import pytest

from conftest import make_assignment, run_cli, write_folder

HEAD = "import numpy as np\nimport pytest\n\nfrom grader.checks import assert_close\n\n\n"
MARK = "@pytest.mark.problem('f', points=1)\n"
AUTHOR_BUGS = {
    # case: (the check's body after its def line, what stderr names, the line it names)
    "NameError in the body": ("def test_x(submission):\n    got = submission.f()\n"
                              "    assert got == expectd\n", "NameError: name 'expectd'", 10),
    "fixture name typo": ("def test_x(submission, refrence):\n    assert submission.f() == [1, 2]\n",
                          "fixture 'refrence', which does not exist", 8),
    "helper called wrongly": ("def test_x(submission):\n    assert_close(submission.f(), [1, 2], tol=1)\n",
                              "assert_close() got an unexpected keyword argument 'tol'", 9),
    "typo in a numpy name": ("def test_x(submission):\n    assert np.asarry(submission.f()).size == 2\n",
                             "module 'numpy' has no attribute 'asarry'", 9),
}
STUDENT = {"f.py": "def f():\n    return [1, 2]\n"}


def grade_with(tmp_path, check_body: str, student: dict[str, str] = STUDENT):
    folder = make_assignment(tmp_path / "a", [{"id": "f", "points": 1, "functions": ["f"], "module": "f"}],
                             HEAD + MARK + check_body, {"f.py": "def f():\n    return [1, 2]\n"})
    submission = write_folder(tmp_path / "student", student)
    out = tmp_path / "report.json"
    done = run_cli("run", str(submission), "--assignment", str(folder), "--json", str(out))
    return done, out


@pytest.mark.parametrize("case", sorted(AUTHOR_BUGS))
def test_a_bug_in_the_check_is_exit_3_naming_its_file_and_line(case, tmp_path):
    body, said, line = AUTHOR_BUGS[case]
    done, out = grade_with(tmp_path, body)
    assert done.returncode == 3, done.stdout + done.stderr
    [message] = done.stderr.strip().splitlines()
    assert f"checks/test_checks.py, line {line}:" in message and said in message
    assert "could not use what the submission returned" not in message and not out.exists()


STUDENT_FAULTS = {
    # the check expects an array and a pair; the student returned a list and one value
    ".shape of a returned list": ("def test_x(submission):\n    assert submission.f().shape == (2,)\n",
                                  "(AttributeError: 'list' object has no attribute 'shape')"),
    "indexing a short returned tuple": ("def test_x(submission):\n    assert submission.f()[2] == 3\n",
                                        "(IndexError: list index out of range)"),
    "a TypeError from a list read as a dict": ("def test_x(submission):\n    assert submission.f()['W1'] == 1\n",
                                               "(TypeError: list indices must be integers"),
}


@pytest.mark.parametrize("case", sorted(STUDENT_FAULTS))
def test_a_check_that_cannot_use_the_students_result_costs_the_student(case, tmp_path):
    body, said = STUDENT_FAULTS[case]
    done, out = grade_with(tmp_path, body)
    assert done.returncode == 1, done.stdout + done.stderr
    [test] = json.loads(out.read_text())["tests"]
    assert test["score"] == 0 and said in test["output"]


def test_a_failure_inside_the_grader_is_exit_3_not_a_zero(tmp_path):
    """A bug of the grader's own, stood in for by breaking the proxy (grader/checks/proxy.py)
    for one check: the exception is raised in the grader's code, so no student loses for it."""
    body = ("def test_x(submission, monkeypatch):\n"
            "    import grader.checks.proxy as proxy\n"
            "    monkeypatch.setattr(proxy, '_wrap', None)  # a bug of ours, not the student's\n"
            "    assert submission.f() == [1, 2]\n")
    done, out = grade_with(tmp_path, body)
    assert done.returncode == 3, done.stdout + done.stderr
    [message] = done.stderr.strip().splitlines()
    assert "checks/test_checks.py, line 8: the grader failed" in message
    assert "grader/checks/proxy.py" in message and not out.exists()


def test_validate_fails_on_a_bug_in_a_check_naming_its_line(tmp_path):
    """The reference is graded by the same path, so ``grader validate`` stops there too."""
    folder = make_assignment(tmp_path / "a", [{"id": "f", "points": 1, "functions": ["f"], "module": "f"}],
                             HEAD + MARK + AUTHOR_BUGS["NameError in the body"][0],
                             {"f.py": "def f():\n    return [1, 2]\n"})
    done = run_cli("validate", str(folder))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "checks/test_checks.py, line 10: a bug in the check test_x (NameError" in done.stderr


def test_a_batch_marks_a_bug_in_the_check_grader_error(tmp_path):
    folder = make_assignment(tmp_path / "a", [{"id": "f", "points": 1, "functions": ["f"], "module": "f"}],
                             HEAD + MARK + AUTHOR_BUGS["NameError in the body"][0],
                             {"f.py": "def f():\n    return [1, 2]\n"})
    write_folder(tmp_path / "subs" / "alice", STUDENT)
    done = run_cli("batch", str(tmp_path / "subs"), "--assignment", str(folder),
                   "--out", str(tmp_path / "results"), "--jobs", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    grades = (tmp_path / "results" / "grades.csv").read_text()
    assert "grader-error" in grades and not (tmp_path / "results" / "students" / "alice" / "report.json").exists()
