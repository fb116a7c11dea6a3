"""``grader validate``: the reference keeps full marks and every mutant of nn_basics is caught in
its own problem only, with the diagnosis that names its bug; a mutant that is not caught, or
that costs points elsewhere, fails validation."""

from __future__ import annotations

import re
import shutil
import time

from conftest import ROOT, run_cli

NN_BASICS = ROOT / "assignments" / "nn_basics"
REFERENCE = ROOT / "reference_solutions" / "nn_basics"


def test_validate_catches_every_mutant():
    started = time.monotonic()
    done = run_cli("validate", "nn_basics")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reproducible: yes" in done.stdout
    assert "reference: 55 / 55" in done.stdout  # hidden and public checks both count
    caught = re.search(r"^mutants caught: (\d+)/(\d+)$", done.stdout, re.M)
    assert caught, done.stdout
    assert caught.group(1) == caught.group(2) and int(caught.group(2)) >= 30, done.stdout
    named = re.search(r"^diagnosis named: (\d+)/(\d+)$", done.stdout, re.M)
    assert named and named.group(1) == named.group(2), done.stdout
    per_problem = re.search(r"^mutants per problem: (.*)$", done.stdout, re.M).group(1)
    counts = dict(item.rsplit(" ", 1) for item in per_problem.split(", "))
    assert set(counts) == {"softmax", "sigmoid", "sigmoid_grad", "gradcheck_naive",
                           "forward_backward_prop"} and all(int(n) >= 4 for n in counts.values())
    assert elapsed < 120, f"validate took {elapsed:.1f} s"


def assignment_with_mutants(tmp_path, mutants: dict[str, tuple]):
    """A copy of nn_basics whose mutants.toml lists only the given ones:
    name -> (problem, file, old, new[, feedback])."""
    folder = tmp_path / "nn_copy"
    shutil.copytree(NN_BASICS, folder, ignore=shutil.ignore_patterns("mutants", "__pycache__"))
    toml = folder / "assignment.toml"
    toml.write_text(toml.read_text().replace(
        'sandbox_functions = "sandbox_functions.py"',
        f'sandbox_functions = "sandbox_functions.py"\nreference = "{REFERENCE}"'))
    (folder / "mutants").mkdir()
    index = []
    for name, (problem, file, old, new, *feedback) in mutants.items():
        index += ["[[mutant]]", f'name = "{name}"', f'problem = "{problem}"', 'bug = "test"']
        index += [f'feedback = "{feedback[0]}"'] if feedback else []
        index += ["[[mutant.change]]", f'file = "{file}"', f"old = '''{old}'''",
                  f"new = '''{new}'''", ""]
    (folder / "mutants" / "mutants.toml").write_text("\n".join(index))
    return folder


EPSILON = ("q1_softmax.py", "return exps / np.sum(exps, axis=1, keepdims=True)",
           "return exps / (np.sum(exps, axis=1, keepdims=True) + 1e-8)")


def test_uncaught_and_misplaced_mutants_fail_validation(tmp_path):
    folder = assignment_with_mutants(tmp_path, {
        # caught: softmax loses points, nothing else does
        "eps": ("softmax", *EPSILON),
        # an equivalent mutant: the checks cannot catch it, so validation must say so
        "same": ("sigmoid", "q2_sigmoid.py", "result = s * (1.0 - s)", "result = s - s * s"),
        # declared in the wrong problem: it costs softmax, not sigmoid
        "misplaced": ("sigmoid", "q1_softmax.py", "shifted = x - np.max(x, axis=1, keepdims=True)",
                      "shifted = x"),
    })
    done = run_cli("validate", str(folder))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "mutants caught: 1/3" in done.stdout
    assert re.search(r"FAIL: mutant same .*kept all points of sigmoid", done.stdout)
    assert re.search(r"FAIL: mutant misplaced .*also lost points in softmax", done.stdout)
    assert "validate: FAILED" in done.stdout


def test_missing_diagnosis_fails_validation(tmp_path):
    folder = assignment_with_mutants(tmp_path, {
        "eps": ("softmax", *EPSILON, "a sentence no check ever writes"),
    })
    done = run_cli("validate", str(folder))
    assert done.returncode == 1
    assert "mutants caught: 1/1" in done.stdout and "diagnosis named: 0/1" in done.stdout


def test_a_change_that_no_longer_matches_the_reference_is_a_request_error(tmp_path):
    folder = assignment_with_mutants(tmp_path, {
        "stale": ("softmax", "q1_softmax.py", "return exps / np.sum(exps, axis=99)", "return exps"),
    })
    done = run_cli("validate", str(folder))
    assert done.returncode == 2
    assert "mutant stale: its change to q1_softmax.py matches the reference 0 times" in done.stderr
