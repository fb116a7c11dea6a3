"""A failed check shows no more of its input than its visibility allows (grader/checks/plugin.py,
``private_failure_text``):

- visible: message, expected/got, hint and the full input;
- after_due_date / after_published: the one-line summary and the hint, the input as shapes only;
  no value dumps, no student printout or exception text (either can carry the input);
- hidden: the hint only.

Graded through the real CLI with a small assignment whose checks differ only in visibility.
"""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest

from conftest import ROOT, grade

SECRET = "7.654321"  # digits of the hidden input, which must not leak
CHECKS = textwrap.dedent('''
    import numpy as np
    import pytest

    from grader.checks import assert_close, call_student

    X = np.array([[0.123456, 7.654321, -3.141592]])


    def hint(result):
        return "a hint the check gives for an exception"


    def each(problem, *visibilities):
        return [pytest.param(v, id=v, marks=pytest.mark.problem(problem, points=1, visibility=v))
                for v in visibilities]


    @pytest.mark.parametrize("visibility", each("softmax", "visible", "after_due_date",
                                                "after_published", "hidden"))
    def test_values(submission, reference, visibility):
        """softmax of a secret matrix"""
        got = submission.softmax(X)
        assert_close(got, reference.softmax(X), rtol=1e-6, hint="the named bug, in one sentence")


    @pytest.mark.parametrize("visibility", each("sigmoid", "visible", "after_due_date", "hidden"))
    def test_exception(submission, visibility):
        """sigmoid of a secret matrix"""
        call_student(submission, "sigmoid", [X], error_hint=hint)
''')

STUDENT_SOFTMAX = textwrap.dedent('''
    import numpy as np

    def softmax(x):
        print("my input was", x.tolist())
        e = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return e / (e.sum(axis=-1, keepdims=True) + 1e-3)
''')
STUDENT_SIGMOID = textwrap.dedent('''
    import numpy as np

    def sigmoid(x):
        print("leaking", x.tolist())
        raise ValueError("hint: " + repr(x.tolist()))

    def sigmoid_grad(s):
        return s * (1 - s)
''')


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("visibility")
    source = ROOT / "assignments" / "nn_basics"
    folder = tmp / "vis_assignment"
    folder.mkdir()
    toml = (source / "assignment.toml").read_text().replace(
        'sandbox_functions = "sandbox_functions.py"',
        f'sandbox_functions = "{source / "sandbox_functions.py"}"\n'
        f'reference = "{ROOT / "reference_solutions" / "nn_basics"}"')
    (folder / "assignment.toml").write_text(toml)
    (folder / "checks").mkdir()
    (folder / "checks" / "test_visibility.py").write_text(CHECKS)
    submission = tmp / "submission"
    shutil.copytree(ROOT / "reference_solutions" / "nn_basics", submission,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (submission / "q1_softmax.py").write_text(STUDENT_SOFTMAX)
    (submission / "q2_sigmoid.py").write_text(STUDENT_SIGMOID)
    result, done = grade(submission, tmp, "--assignment", str(folder))
    return result, done.stdout


def output_of(report, title, visibility):
    result, _ = report
    [test] = [t for t in result["tests"] if t["name"].endswith(f"{title} [{visibility}]")]
    assert test["status"] == "failed" and test["visibility"] == visibility
    return test["output"]


def test_visible_check_shows_everything(report):
    text = output_of(report, "softmax of a secret matrix", "visible")
    assert SECRET in text and "input: softmax(" in text
    assert "expected:" in text and "got:" in text and "hint: the named bug" in text
    text = output_of(report, "sigmoid of a secret matrix", "visible")
    assert "raised ValueError" in text and "printed:" in text and SECRET in text


@pytest.mark.parametrize("visibility", ["after_due_date", "after_published"])
def test_after_due_date_shows_summary_hint_and_shapes(report, visibility):
    text = output_of(report, "softmax of a secret matrix", visibility)
    assert SECRET not in text and "0.123456" not in text
    assert text.splitlines()[0].startswith("the result differs from the expected values")
    assert "hint: the named bug, in one sentence" in text
    assert "input (values not shown): softmax(array of shape (1, 3))" in text
    assert "expected:" not in text and "got:" not in text


def test_after_due_date_hides_the_students_own_output(report):
    text = output_of(report, "sigmoid of a secret matrix", "after_due_date")
    assert SECRET not in text and "leaking" not in text
    assert text.splitlines()[0] == "sigmoid raised ValueError"
    # the student's exception message starts with "hint:" but is not taken for the check's hint
    assert [line for line in text.splitlines() if line.startswith("hint:")] == \
        ["hint: a hint the check gives for an exception"]


@pytest.mark.parametrize("title", ["softmax of a secret matrix", "sigmoid of a secret matrix"])
def test_hidden_check_shows_only_its_hint(report, title):
    text = output_of(report, title, "hidden")
    assert SECRET not in text and "shape" not in text and "input" not in text.replace("its input", "")
    lines = text.splitlines()
    assert lines[0].startswith("this is a hidden check")
    assert all(line.startswith("hint: ") for line in lines[1:]) and len(lines) == 2


def test_terminal_output_leaks_nothing_from_private_checks(report):
    result, stdout = report
    from_visible = sum(t["output"].count(SECRET) for t in result["tests"] if t["visibility"] == "visible")
    assert from_visible >= 2 and stdout.count(SECRET) == from_visible


LEAK_CHECKS = textwrap.dedent('''
    import pytest

    from grader.checks import assert_close

    X = [0.123456, 7.654321, -3.141592]


    def each(problem, *visibilities):
        return [pytest.param(v, id=v, marks=pytest.mark.problem(problem, points=1, visibility=v))
                for v in visibilities]


    @pytest.mark.parametrize("visibility", each("f", "after_due_date", "after_published", "hidden"))
    def test_raises(submission, visibility):
        """f of a secret list"""
        submission.f(X)


    @pytest.mark.parametrize("visibility", each("g", "after_due_date", "after_published", "hidden"))
    def test_object(submission, visibility):
        """g of a secret list"""
        assert_close(submission.g(X), [1.0, 2.0, 3.0])
''')
LEAK_STUDENT = textwrap.dedent('''
    def f(x):
        raise type(repr(x), (Exception,), {})()


    def g(x):
        return type(repr(x), (), {})()
''')


def test_names_the_student_built_from_the_input_do_not_leak(tmp_path):
    """A student's exception type, or the type of an object it returns, named after the input
    (``type(repr(x), (Exception,), {})``): a check whose visibility hides its input must not
    repeat the name (issue 12), in report.json or on the terminal."""
    from conftest import make_assignment, write_folder

    problems = [{"id": p, "points": 3, "functions": [p], "module": "fg"} for p in ("f", "g")]
    folder = make_assignment(tmp_path / "leak", problems, LEAK_CHECKS,
                             {"fg.py": "def f(x):\n    return x\n\ndef g(x):\n    return [1.0, 2.0, 3.0]\n"})
    student = write_folder(tmp_path / "student", {"fg.py": LEAK_STUDENT})
    result, done = grade(student, tmp_path, "--assignment", str(folder))
    assert [t["status"] for t in result["tests"]] == ["failed"] * 6
    text = json.dumps(result)
    assert SECRET not in text and "7.65" not in text and SECRET not in done.stdout
    outputs = {t["name"]: t["output"].splitlines() for t in result["tests"]}
    assert outputs["f: f of a secret list [after_due_date]"][0] == "f raised an exception of a class of its own"
    assert outputs["g: g of a secret list [after_due_date]"][0].startswith("the result is an object of type")
