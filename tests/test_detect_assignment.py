"""With several assignments installed, `grader run` picks the one the submission's names fit."""

from __future__ import annotations

from conftest import FIXTURES, run_cli


def install_other(tmp_path):
    folder = tmp_path / "assignments" / "other"
    (folder / "checks").mkdir(parents=True)
    (folder / "assignment.toml").write_text(
        'name = "other"\ntitle = "Other"\nreference = "ref"\n\n'
        '[[problems]]\nid = "foo"\npoints = 1\nfunctions = ["foo", "Bar"]\nmodule = "foo"\n')
    (folder / "ref").mkdir()
    (folder / "ref" / "foo.py").write_text("def foo(x):\n    return 2 * x\n\n\nclass Bar:\n    pass\n")
    (folder / "checks" / "test_foo.py").write_text(
        "import pytest\n\n\n@pytest.mark.problem('foo', points=1)\n"
        "def test_doubles(submission, reference):\n"
        "    assert submission.foo(3) == reference.foo(3)\n")
    return {"GRADER_ASSIGNMENTS": str(tmp_path / "assignments")}


def test_submission_names_choose_the_assignment(tmp_path):
    env = install_other(tmp_path)
    student = tmp_path / "student"
    student.mkdir()
    (student / "foo.py").write_text("def foo(x):\n    return x + x\n\n\nclass Bar:\n    pass\n")
    done = run_cli("run", str(student), "-q", env=env)
    assert done.returncode == 0 and done.stdout.strip() == "1 / 1", done.stdout + done.stderr
    nn = run_cli("run", str(FIXTURES / "python2_print"), "-q", env=env)
    assert nn.returncode == 1 and nn.stdout.strip().endswith("/ 55"), nn.stdout + nn.stderr


def test_unrecognisable_submission_asks_for_assignment(tmp_path):
    env = install_other(tmp_path)
    student = tmp_path / "student"
    student.mkdir()
    (student / "main.py").write_text("def unrelated():\n    pass\n")
    done = run_cli("run", str(student), env=env)
    assert done.returncode == 2
    assert "cannot tell from its function names" in done.stderr and "--assignment" in done.stderr
