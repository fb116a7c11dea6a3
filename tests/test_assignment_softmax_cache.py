"""softmax_cache end to end through the real CLI: a correct and a buggy submission, detection of
the assignment from the submission's function names, the students' copy (public checks only,
no reference), and `grader validate softmax_cache` (the reference keeps full marks, every mutant
is caught in its own problem with the diagnosis that names its bug)."""

from __future__ import annotations

import re
import shutil
import time

import jsonschema

from conftest import FIXTURES, ROOT, grade, problem_scores, run_cli

CORRECT = FIXTURES / "softmax_cache" / "correct"   # a filled-in starter notebook
BUGGY = FIXTURES / "softmax_cache" / "buggy"       # modules with two bugs, see their docstrings
STARTER = ROOT / "assignments" / "softmax_cache" / "starter" / "softmax_cache.ipynb"
FULL = {"softmax_forward": 10, "softmax_backward": 10, "softmax_cross_entropy": 10, "two_layer_loss": 20}
PROBLEMS = set(FULL)


def failed_outputs(report: dict, problem: str) -> str:
    return "\n".join(t["output"] for t in report["tests"]
                     if t["tags"] == [problem] and t["status"] != "passed")


def test_correct_notebook_gets_full_marks(tmp_path, schema):
    report, done = grade(CORRECT, tmp_path, "--assignment", "softmax_cache")
    assert done.returncode == 0, report["output"]
    assert problem_scores(report) == FULL, report["output"]
    assert report["score"] == report["max_score"] == 50
    assert report["grader"]["check_errors"] == []
    jsonschema.validate(report, schema)


def test_buggy_submission_loses_exactly_its_bugs(tmp_path):
    report, done = grade(BUGGY, tmp_path, "--assignment", "softmax_cache")
    assert done.returncode == 1
    # softmax_forward without the row maximum loses the large-logit checks (1.5 hidden + 1 public);
    # two_layer_loss with reg * P for the regulariser's gradient loses every regularised
    # gradient check (3 + 2 + 1 + 2 + 3 + 1 public).
    assert problem_scores(report) == {**FULL, "softmax_forward": 7.5, "two_layer_loss": 8}, report["output"]
    assert "without subtracting the max" in failed_outputs(report, "softmax_forward")
    net = failed_outputs(report, "two_layer_loss")
    assert "missing the factor 2" in net and "2 * reg * P" in net
    # softmax_cross_entropy takes its probabilities from the broken softmax_forward: it keeps its
    # points because the reference softmax_forward stands in, and the student is told so.
    notes = [t["output"] for t in report["tests"]
             if t["tags"] == ["softmax_cross_entropy"] and t["status"] == "passed" and t["output"]]
    assert any("once the reference softmax_forward stands in for yours" in n for n in notes), notes


def test_assignment_is_detected_from_function_names(tmp_path):
    for submission, score in ((CORRECT, 50), (BUGGY, 35.5), (STARTER, 0)):
        report, _ = grade(submission, tmp_path)
        assert report["assignment"]["name"] == "softmax_cache", submission
        assert report["score"] == score and report["max_score"] == 50, report["output"]
    nn, _ = grade(FIXTURES / "modules_correct", tmp_path)  # and nn_basics is still nn_basics
    assert nn["assignment"]["name"] == "nn_basics" and nn["score"] == 55


def test_students_copy_grades_with_public_checks_alone(tmp_path):
    """No checks/, no mutants/, no reference: the public checks run on their written-out values."""
    copy = tmp_path / "softmax_cache"
    shutil.copytree(ROOT / "assignments" / "softmax_cache", copy,
                    ignore=shutil.ignore_patterns("checks", "mutants", "__pycache__"))
    correct, _ = grade(CORRECT, tmp_path, "--assignment", str(copy))
    assert correct["score"] == correct["max_score"] == 4, correct["output"]
    buggy, _ = grade(BUGGY, tmp_path, "--assignment", str(copy))
    # without a reference nothing stands in, but this cross-entropy's public input is small enough
    # for the broken softmax_forward
    assert problem_scores(buggy) == {"softmax_forward": 0, "softmax_backward": 1,
                                     "softmax_cross_entropy": 1, "two_layer_loss": 0}, buggy["output"]


def test_validate_catches_every_mutant():
    started = time.monotonic()
    done = run_cli("validate", "softmax_cache")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reference: 50 / 50" in done.stdout and "reproducible: yes" in done.stdout
    caught = re.search(r"^mutants caught: (\d+)/(\d+)$", done.stdout, re.M)
    assert caught and caught.group(1) == caught.group(2) and int(caught.group(2)) >= 15, done.stdout
    named = re.search(r"^diagnosis named: (\d+)/(\d+)$", done.stdout, re.M)
    assert named and named.group(1) == named.group(2), done.stdout
    per_problem = re.search(r"^mutants per problem: (.*)$", done.stdout, re.M).group(1)
    counts = {name: int(n) for name, n in (item.rsplit(" ", 1) for item in per_problem.split(", "))}
    assert set(counts) == PROBLEMS and all(n >= 5 for n in counts.values()), counts

    kept, listed = map(int, re.search(r"^variants with full marks: (\d+)/(\d+)", done.stdout, re.M).groups())
    assert kept == listed and kept >= 12 and "  LOSS " not in done.stdout and "  WAIT " not in done.stdout, done.stdout
    assert elapsed < 60, f"validate took {elapsed:.1f} s"
