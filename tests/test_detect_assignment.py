"""With several assignments installed, `grader run` picks the one the submission's names fit."""

from __future__ import annotations

from conftest import FIXTURES, make_assignment, run_cli, write_folder


FOO = "def foo(x):\n    return 2 * x\n\n\nclass Bar:\n    pass\n"


def install_other(tmp_path):
    make_assignment(tmp_path / "assignments" / "other",
                    [{"id": "foo", "points": 1, "functions": ["foo", "Bar"], "module": "foo"}],
                    "import pytest\n\n\n@pytest.mark.problem('foo', points=1)\n"
                    "def test_doubles(submission, reference):\n"
                    "    assert submission.foo(3) == reference.foo(3)\n", {"foo.py": FOO})
    return {"GRADER_ASSIGNMENTS": str(tmp_path / "assignments")}


def test_submission_names_choose_the_assignment(tmp_path):
    env = install_other(tmp_path)
    student = write_folder(tmp_path / "student", {"foo.py": FOO.replace("2 * x", "x + x")})
    done = run_cli("run", str(student), "-q", env=env)
    assert done.returncode == 0 and done.stdout.strip() == "1 / 1", done.stdout + done.stderr
    nn = run_cli("run", str(FIXTURES / "python2_print"), "-q", env=env)
    assert nn.returncode == 1 and nn.stdout.strip().endswith("/ 55"), nn.stdout + nn.stderr


def test_unrecognisable_submission_asks_for_assignment(tmp_path):
    env = install_other(tmp_path)
    student = write_folder(tmp_path / "student", {"main.py": "def unrelated():\n    pass\n"})
    done = run_cli("run", str(student), env=env)
    assert done.returncode == 2
    assert "cannot tell from its function names" in done.stderr and "--assignment" in done.stderr
