"""layers_lab end to end through the real CLI: objects of the student's classes live in the worker.

- a correct notebook (its own style: einsum, np.where, a Net that caches inputs, fit with
  np.random.shuffle) gets full marks, and is recognised as layers_lab without --assignment;
- a buggy module (ReLU gradient at 0, bce_grad without the mean, Net.backward first layer first)
  loses exactly activations, bce and net, with the hints that name those bugs, while Linear and
  fit keep their points (fit is judged relative to the student's own Net and layers);
- the starter notebook scores 0;
- `grader validate layers_lab` passes: the reference twice identical, at least 15 mutants caught.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "layers_lab")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def grade(path: str, tmp_path, *extra: str) -> tuple[dict, subprocess.CompletedProcess]:
    out = tmp_path / f"{os.path.basename(path)}.json"
    done = cli("run", path, "--json", str(out), *extra)
    assert out.exists(), done.stdout + done.stderr
    return json.loads(out.read_text()), done


def failed_output(report: dict, problem: str) -> str:
    return "\n".join(t["output"] for t in report["tests"] if t["tags"] == [problem] and t["status"] != "passed")


def test_correct_submission_full_marks_and_detected(tmp_path):
    # no --assignment: several assignments are installed, the class names pick layers_lab
    report, done = grade(os.path.join(FIXTURES, "correct"), tmp_path)
    assert report["assignment"]["name"] == "layers_lab", done.stdout + done.stderr
    assert report["score"] == report["max_score"] == 42, done.stdout
    assert done.returncode == 0
    assert set(report["problems"]) == {"linear", "activations", "bce", "net", "fit"}
    notes = " ".join(t["output"] for t in report["tests"])
    accuracy = float(re.search(r"test accuracy (0\.\d+)", notes).group(1))
    assert accuracy >= 0.9


def test_buggy_submission_loses_exactly_its_bugs(tmp_path):
    report, done = grade(os.path.join(FIXTURES, "buggy"), tmp_path, "--assignment", "layers_lab")
    assert done.returncode == 1, done.stdout + done.stderr
    scores = {p: (v["score"], v["max_score"]) for p, v in report["problems"].items()}
    assert scores == {"linear": (11, 11), "activations": (5, 8), "bce": (3, 7), "net": (2, 8),
                      "fit": (8, 8)}, done.stdout
    assert "at x = 0 the gradient must be 0" in failed_output(report, "activations")
    assert "times too large" in failed_output(report, "bce")
    assert "go through the layers in reverse order" in failed_output(report, "net")
    # fit kept its points because the blame lies elsewhere, and the student is told so
    fit_notes = " ".join(t["output"] for t in report["tests"] if t["tags"] == ["fit"])
    assert "your ReLU, Net are wrong" in fit_notes


def test_starter_scores_zero(tmp_path):
    starter = os.path.join(REPO, "assignments", "layers_lab", "starter", "layers_lab.ipynb")
    report, done = grade(starter, tmp_path, "--assignment", "layers_lab")
    assert report["score"] == 0 and report["max_score"] == 42, done.stdout


def test_validate_catches_every_mutant():
    done = cli("validate", "layers_lab")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reference: 42.0 / 42.0" in done.stdout or "reference: 42 / 42" in done.stdout, done.stdout
    assert "reproducible: yes" in done.stdout
    caught, total = map(int, re.search(r"mutants caught: (\d+)/(\d+)", done.stdout).groups())
    assert caught == total >= 15, done.stdout
    named, declared = map(int, re.search(r"diagnosis named: (\d+)/(\d+)", done.stdout).groups())
    assert named == declared, done.stdout

    kept, listed = map(int, re.search(r"^variants with full marks: (\d+)/(\d+)", done.stdout, re.M).groups())
    assert kept == listed and kept >= 12 and "  LOSS " not in done.stdout and "  WAIT " not in done.stdout, done.stdout
