"""``grader validate``: the reference keeps full marks and every mutant of nn_basics is caught in
its own problem only, with the diagnosis that names its bug; a mutant that is not caught, or
that costs points elsewhere, fails validation."""

from __future__ import annotations

import re
import shutil
import time

import pytest

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

    kept, listed = map(int, re.search(r"^variants with full marks: (\d+)/(\d+)", done.stdout, re.M).groups())
    assert kept == listed and kept >= 12 and "  LOSS " not in done.stdout and "  WAIT " not in done.stdout, done.stdout
    for name in ("sigmoid_tanh", "gradcheck_half_step", "gradcheck_reads_fx_shape"):  # issue 13
        assert re.search(rf"^  ok   {name} .* full marks$", done.stdout, re.M), done.stdout
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


STRICT_CHECK = '''
import numpy as np
import pytest

from grader.checks import assert_close


@pytest.mark.problem("sq", points=2)
def test_square_exactly(submission, reference):
    """square(x), to the last bit (too strict: only the reference's own arithmetic passes)"""
    x = np.array([0.1, 0.7, 3.3])
    assert_close(submission.square(x), reference.square(x), rtol=0, atol=0, scale_atol=0)
'''

VARIANTS = '''
[[variant]]
name = "power"
problems = ["sq"]
why = "x ** 2 is x * x, bit for bit"

[[variant.change]]
file = "sq.py"
old = "return x * x"
new = "return x ** 2"

[[variant]]
name = "via_logs"
problems = ["sq"]
why = "exp(2 log x) is x squared for x > 0, to within rounding"

[[variant.change]]
file = "sq.py"
old = "return x * x"
new = "return np.exp(2 * np.log(x))"

[[variant]]
name = "waiting"
problems = ["sq"]
pending = "a change elsewhere"
why = "the same rounding difference, marked pending"

[[variant.change]]
file = "sq.py"
old = "return x * x"
new = "return np.exp(np.log(x) * 2.0)"
'''


def strict_assignment(tmp_path, variants: str):
    from conftest import make_assignment
    folder = make_assignment(tmp_path / "strict", [{"id": "sq", "points": 2, "functions": ["square"],
                                                    "module": "sq"}],
                             STRICT_CHECK, {"sq.py": "import numpy as np\n\n\ndef square(x):\n    return x * x\n"})
    (folder / "variants").mkdir()
    (folder / "variants" / "variants.toml").write_text(variants)
    return folder


def test_a_variant_that_loses_points_fails_validation(tmp_path):
    """A correct variant the check punishes fails validation, naming the variant, the check and
    the points lost; a variant that keeps full marks and a pending one do not fail it."""
    done = run_cli("validate", str(strict_assignment(tmp_path, VARIANTS)), "--sandbox", "process")
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"^  ok   power .* full marks$", done.stdout, re.M), done.stdout
    assert re.search(r"^  LOSS via_logs .* sq -2$", done.stdout, re.M), done.stdout
    assert re.search(r"^  WAIT waiting .* sq -2  \(pending: a change elsewhere\)$", done.stdout, re.M)
    assert "variants with full marks: 1/3 (1 pending a change elsewhere)" in done.stdout
    failures = [line for line in done.stdout.splitlines() if line.startswith("FAIL: ")]
    assert len(failures) == 1 and failures[0].startswith("FAIL: variant via_logs ") and "sq -2" in failures[0]
    assert re.search(r"^    sq: square\(x\), to the last bit .* -2: ", done.stdout, re.M), done.stdout
    assert "validate: FAILED" in done.stdout


def test_variants_that_keep_full_marks_pass_validation(tmp_path):
    only_power = VARIANTS.split("[[variant]]\nname = \"via_logs\"")[0]
    done = run_cli("validate", str(strict_assignment(tmp_path, only_power)), "--sandbox", "process")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "variants with full marks: 1/1" in done.stdout and "validate: ok" in done.stdout


def test_a_malformed_variant_is_a_request_error(tmp_path):
    stale = VARIANTS.replace('old = "return x * x"\nnew = "return x ** 2"', 'old = "return x*x"\nnew = "return x ** 2"')
    no_why = VARIANTS.replace('why = "x ** 2 is x * x, bit for bit"\n', "")
    for text, message in ((stale, "variant power: its change to sq.py matches the reference 0 times"),
                          (no_why, "variant power: say `why`")):
        done = run_cli("validate", str(strict_assignment(tmp_path / str(len(message)), text)))
        assert done.returncode == 2 and message in done.stderr, done.stdout + done.stderr


# -- author errors: each named by its real cause in one line (exit 2), before any grading

SQ_CHECK = STRICT_CHECK.replace("rtol=0, atol=0, scale_atol=0", "rtol=1e-7")
SQ_REFERENCE = {"sq.py": "import numpy as np\n\n\ndef square(x):\n    \"\"\"x squared, elementwise.\"\"\"\n"
                         "    return x * x\n"}


def sq_assignment(tmp_path, checks: str = SQ_CHECK, functions=("square",), mutants: str = "",
                  starter: dict[str, str] | None = None):
    from conftest import make_assignment, write_folder
    folder = make_assignment(tmp_path / "sq_lab", [{"id": "sq", "points": 2, "functions": list(functions),
                                                    "module": "sq"}], checks, SQ_REFERENCE)
    if mutants:
        write_folder(folder, {"mutants/mutants.toml": mutants})
    if starter is not None:
        write_folder(folder / "starter", starter)
    return folder


def one_line_error(folder, said: str) -> str:
    done = run_cli("validate", str(folder), "--sandbox", "process")
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert said in line and "internal failure" not in line, line
    return line


def test_a_missing_reference_folder_is_named_with_its_fix(tmp_path):
    folder = sq_assignment(tmp_path, mutants="[[mutant]]\nname = \"m\"\nproblem = \"sq\"\nbug = \"b\"\n"
                                             "[[mutant.change]]\nfile = \"sq.py\"\nold = \"x * x\"\nnew = \"x\"\n")
    shutil.rmtree(folder / "ref")
    line = one_line_error(folder, f"reference folder {folder / 'ref'} not found: set reference = ")
    assert "in assignment.toml" in line and "matches the reference 0 times" not in line


def test_a_mutant_naming_a_missing_file_is_named(tmp_path):
    folder = sq_assignment(tmp_path, mutants="[[mutant]]\nname = \"m\"\nproblem = \"sq\"\nbug = \"b\"\n"
                                             "[[mutant.change]]\nfile = \"square.py\"\nold = \"x * x\"\nnew = \"x\"\n")
    line = one_line_error(folder, "mutant m: its change names square.py, which the reference")
    assert line.endswith("does not have (fix `file`)") and "0 times" not in line


def test_a_functions_entry_no_check_calls_is_named(tmp_path):
    reference_has_cube = SQ_REFERENCE["sq.py"] + "\n\ndef cube(x):\n    return x ** 3\n"
    folder = sq_assignment(tmp_path, functions=("square", "cube"))
    (folder / "ref" / "sq.py").write_text(reference_has_cube)
    one_line_error(folder, "problem sq: its functions entry 'cube' is called by no check")


def test_a_check_calling_an_unlisted_name_is_named(tmp_path):
    folder = sq_assignment(tmp_path, checks=SQ_CHECK.replace("submission.square(x)", "submission.squared(x)"))
    one_line_error(folder, "the checks call submission.squared, which no problem's functions in "
                           "assignment.toml lists")


@pytest.mark.parametrize("marker, said", [
    ('@pytest.mark.problem("sq", points=2)', "names problem 'sqq', which assignment.toml does not list (sq): "
                                             "fix the marker or add a [[problems]] entry"),
    ("", "has no @pytest.mark.problem(ID, points=N): mark it with the problem it grades"),
])
def test_a_bad_problem_marker_is_the_authors_error_not_an_internal_failure(tmp_path, marker, said):
    broken = SQ_CHECK.replace('@pytest.mark.problem("sq", points=2)',
                              marker.replace('"sq"', '"sqq"'))
    assert broken != SQ_CHECK
    line = one_line_error(sq_assignment(tmp_path, checks=broken), said)
    assert line.startswith("grader: the checks are wrong: ")


def test_a_miss_shows_what_the_feedback_did_say(tmp_path):
    folder = sq_assignment(tmp_path, mutants=(
        "[[mutant]]\nname = \"plus\"\nproblem = \"sq\"\nbug = \"adds x\"\nfeedback = \"a phrase no check writes\"\n"
        "[[mutant.change]]\nfile = \"sq.py\"\nold = \"return x * x\"\nnew = \"return x * x + x\"\n"
        "[[mutant]]\nname = \"same\"\nproblem = \"sq\"\nbug = \"none\"\n"
        "[[mutant.change]]\nfile = \"sq.py\"\nold = \"return x * x\"\nnew = \"return x ** 2\"\n"))
    done = run_cli("validate", str(folder), "--sandbox", "process")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    plus = next(i for i, line in enumerate(lines) if line.startswith("  MISS plus "))
    assert re.match(r"       feedback: sq: square\(x\), to the last bit .*: the result differs from the "
                    r"expected values at index \(\d,\): got .* \| expected: .* \| got: ", lines[plus + 1]), done.stdout
    same = next(i for i, line in enumerate(lines) if line.startswith("  MISS same "))
    assert lines[same + 1] == "       feedback: no check failed (sq and every other problem kept full marks)"


STARTER = "import numpy as np\n\n\ndef square(x):\n    \"\"\"x squared, elementwise.\"\"\"\n    raise NotImplementedError\n"


@pytest.mark.parametrize("starter, said", [
    ({"sq.py": STARTER}, None),
    ({"sq.py": "import numpy as np\nLIMIT = 1 / 0\n" + STARTER[19:]},
     "it does not load cleanly: sq.py, line 2: ZeroDivisionError"),
    ({"sq.py": STARTER.replace("def square", "def squared")}, "it does not define square (problem sq requires it)"),
    ({"sq.py": STARTER.replace("raise NotImplementedError", "return x * x")},
     "it scores 2 / 2: checks that pass on stubs give points away"),
])
def test_validate_grades_the_starter(tmp_path, starter, said):
    done = run_cli("validate", str(sq_assignment(tmp_path, starter=starter)), "--sandbox", "process")
    if said is None:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "starter: 0 / 2, loads, defines all 1 required names" in done.stdout
        return
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(rf"^FAIL: starter \(.*starter\): {re.escape(said)}", done.stdout, re.M), done.stdout


def test_a_functions_entry_the_reference_lacks_and_a_missing_checks_folder_are_named(tmp_path):
    folder = sq_assignment(tmp_path / "a")
    (folder / "ref" / "sq.py").write_text(SQ_REFERENCE["sq.py"].replace("def square", "def squared"))
    one_line_error(folder, "problem sq: the reference (")
    assert "does not define 'square', which its functions entry requires" in run_cli("validate", str(folder)).stderr
    folder = sq_assignment(tmp_path / "b")
    shutil.rmtree(folder / "checks")
    one_line_error(folder, "has no checks/ or public/ folder: add the checks")
