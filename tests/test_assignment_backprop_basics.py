"""backprop_basics end to end through the real CLI: a correct notebook gets full marks, a buggy
module loses exactly the problems its bugs belong to (with the hints that name them), the
assignment is detected from the submission's function names, the students' public copy grades
without a reference, and `grader validate backprop_basics` catches every mutant."""

from __future__ import annotations

import re
import shutil

import jsonschema

from conftest import FIXTURES, ROOT, grade, problem_scores, run_cli

HERE = FIXTURES / "backprop_basics"
FULL = {"sigmoid_unit": 8, "matrix_loss": 10, "fprop": 8, "bprop": 11, "softmax": 6, "softmax_grad": 5}


def outputs(report: dict, problem: str) -> str:
    return "\n".join(t["output"] for t in report["tests"] if t["tags"] == [problem])


def test_correct_notebook_gets_full_marks(tmp_path, schema):
    report, done = grade(HERE / "correct", tmp_path, "--assignment", "backprop_basics")
    assert problem_scores(report) == FULL, report["output"]
    assert report["score"] == report["max_score"] == 48
    assert done.returncode == 0
    assert report["grader"]["check_errors"] == []
    jsonschema.validate(report, schema)


def test_buggy_module_loses_exactly_its_bugs(tmp_path):
    report, done = grade(HERE / "buggy", tmp_path, "--assignment", "backprop_basics")
    assert problem_scores(report) == {**FULL, "matrix_loss": 4, "fprop": 6, "softmax_grad": 0}, report["output"]
    assert done.returncode == 1
    assert "lam * np.sign(W), not lam * W" in outputs(report, "matrix_loss")
    assert "the (1 - y) log(1 - a2) term is missing" in outputs(report, "fprop")
    assert "the diagonal term np.diag(s) is missing" in outputs(report, "softmax_grad")
    # its fprop is wrong for y = 0, its bprop is right: bprop keeps its points on the reference's cache
    assert "bprop was checked on the reference's cache" in outputs(report, "bprop")


def test_detected_without_assignment_name(tmp_path):
    report, _ = grade(HERE / "correct", tmp_path)
    assert report["assignment"]["name"] == "backprop_basics" and report["score"] == 48
    buggy, _ = grade(HERE / "buggy", tmp_path)
    assert buggy["assignment"]["name"] == "backprop_basics"
    # an nn_basics submission (it has a softmax too) is still graded as nn_basics
    nn, _ = grade(FIXTURES / "modules_correct", tmp_path)
    assert nn["assignment"]["name"] == "nn_basics" and nn["score"] == nn["max_score"] == 55


def test_public_copy_grades_without_reference(tmp_path):
    """The students' copy: no checks/, no mutants/, no reference solution next to it."""
    copy = tmp_path / "public_copy" / "assignments" / "backprop_basics"
    shutil.copytree(ROOT / "assignments" / "backprop_basics", copy,
                    ignore=shutil.ignore_patterns("checks", "mutants", "__pycache__"))
    correct, _ = grade(HERE / "correct", tmp_path, "--assignment", str(copy))
    assert correct["score"] == correct["max_score"] == 6, correct["output"]
    buggy, _ = grade(HERE / "buggy", tmp_path, "--assignment", str(copy))
    assert problem_scores(buggy) == {**{p: 1 for p in FULL}, "matrix_loss": 0, "fprop": 0,
                                     "softmax_grad": 0}, buggy["output"]


def test_validate_catches_every_mutant():
    done = run_cli("validate", "backprop_basics")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    caught = re.search(r"mutants caught: (\d+)/(\d+)", done.stdout)
    assert caught and caught.group(1) == caught.group(2) and int(caught.group(2)) >= 15, done.stdout
    assert "reference: 48 / 48" in done.stdout and "reproducible: yes" in done.stdout
    named = re.search(r"diagnosis named: (\d+)/(\d+)", done.stdout)
    assert named and named.group(1) == named.group(2), done.stdout

    kept, listed = map(int, re.search(r"^variants with full marks: (\d+)/(\d+)", done.stdout, re.M).groups())
    assert kept == listed and kept >= 12 and "  LOSS " not in done.stdout and "  WAIT " not in done.stdout, done.stdout
