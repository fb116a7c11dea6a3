"""``grader mutate``: the operators (source in, mutated sources out), the equivalence filter and
an end-to-end run on a tiny assignment, including survivors.toml and a mutant that hangs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, make_assignment
from grader.mutation import equivalence
from grader.mutation.generate import mutate_source
from grader.mutation.operators import BY_NAME


def mutated(source: str, operator: str, name: str = "f") -> set[str]:
    """The body lines that differ from the original, one string per mutant."""
    source = textwrap.dedent(source)
    out = set()
    for m in mutate_source(source, "f.py", {name: "p"}, [BY_NAME[operator]]):
        before, after = source.splitlines(), m.source.splitlines()
        assert len(before) == len(after), m.source  # a one-line splice, the formatting kept
        out.add(" | ".join(a.strip() for b, a in zip(before, after) if a != b))
    return out


def test_arith_swaps_operators_and_forgets_accumulation():
    src = """
    def f(a, b, c):
        c += a * b
        return a - b / 2
    """
    assert mutated(src, "arith") == {
        "c -= a * b", "c = a * b", "c += a / b", "c += a @ b",
        "return a + b / 2", "return a - b * 2", "return a - b // 2"}


def test_compare_swaps_boundaries_and_directions():
    assert mutated("def f(r):\n    if r > 1e-5 and r == r:\n        return 1\n", "compare") == {
        "if r >= 1e-5 and r == r:", "if r < 1e-5 and r == r:", "if r > 1e-5 and r != r:",
        "if r > 1e-5 or r == r:"}


def test_constants_are_nudged_the_way_students_get_them_wrong():
    assert mutated("def f(x):\n    h = 1e-4\n    return 2 * x + 1 + h * 0.5\n", "constant") == {
        "h = 0.001", "return 1 * x + 1 + h * 0.5", "return 2 * x + 0 + h * 0.5", "return 2 * x + 1 + h * 5.0"}


def test_axis_changes_and_keepdims_is_dropped():
    src = "def f(x):\n    return np.sum(x, axis=1, keepdims=True) + x.max(-1)\n"
    assert mutated(src, "axis") == {
        "return np.sum(x, axis=0, keepdims=True) + x.max(-1)",
        "return np.sum(x, keepdims=True) + x.max(-1)",
        "return np.sum(x, axis=1) + x.max(-1)",
        "return np.sum(x, axis=1, keepdims=True) + x.max(0)"}


def test_functions_swapped_and_exp_dropped():
    src = "def f(x):\n    return np.max(x) + np.exp(x).sum()\n"
    assert mutated(src, "function") == {
        "return np.min(x) + np.exp(x).sum()", "return np.max(x) + np.log(x).sum()",
        "return np.max(x) + x.sum()", "return np.max(x) + np.exp(x).mean()"}


def test_transposes_added_removed_and_operands_swapped():
    src = "def f(a, b):\n    return np.dot(a.T, b) + a @ b\n"
    assert mutated(src, "transpose") == {
        "return np.dot(a, b) + a @ b",            # .T removed
        "return np.dot(b, a.T) + a @ b",          # operands swapped
        "return np.dot(a.T, b.T) + a @ b",        # right operand transposed
        "return np.dot(a.T, b) + b @ a", "return np.dot(a.T, b) + a.T @ b", "return np.dot(a.T, b) + a @ b.T"}


def test_a_statement_is_deleted_but_never_the_docstring():
    src = textwrap.dedent('''
    def f(x):
        """Doc."""
        random.setstate(s)
        x[i] = old
        return x
    ''')
    found = mutate_source(src, "f.py", {"f": "p"}, [BY_NAME["delete"]])
    assert [(m.line_text, m.source.splitlines()[m.line - 1].strip()) for m in found] == [
        ("random.setstate(s)", "pass"), ("x[i] = old", "pass")]


def test_in_place_update_made_a_copy_and_the_reverse():
    src = "def f(x, d):\n    x += d\n    y = y + d\n    z = x\n    w = x.copy()\n"
    assert mutated(src, "inplace") == {"x = x + d", "y += d", "z = x.copy()", "w = x"}


def test_index_and_slice_bounds_shift_by_one():
    assert mutated("def f(p, n):\n    return p[0] + p[1:n]\n", "index") == {
        "return p[1] + p[1:n]", "return p[-1] + p[1:n]", "return p[0] + p[2:n]", "return p[0] + p[0:n]",
        "return p[0] + p[1:n + 1]", "return p[0] + p[1:n - 1]"}


def test_signs_flip():
    assert mutated("def f(x, y):\n    d = x - y\n    return -x, d\n", "sign") == {
        "d = -(x - y)", "return x, d", "return (-x, -d)"}


def test_a_term_of_a_sum_is_dropped_with_precedence_kept():
    assert mutated("def f(x, W, b, c):\n    return c * (x @ W + b)\n", "term") == {
        "return c * (x @ W)", "return c * (b)"}


def test_precedence_is_kept_when_an_operator_changes():
    """``c - a * b`` with ``*`` made ``/`` must mean ``c - (a / b)``; ``a - b`` in ``c * (a - b)``
    dropped to ``a`` keeps its meaning; an operand transposed gets parentheses it needs."""
    assert mutated("def f(a, b, c):\n    return c - a * b\n", "arith") == {
        "return c + a * b", "return c - a / b", "return c - a @ b"}
    assert mutated("def f(a, b):\n    return np.dot(a + b, b)\n", "transpose") == {
        "return np.dot(b, a + b)", "return np.dot((a + b).T, b)", "return np.dot(a + b, b.T)"}


def test_only_named_functions_and_class_methods_are_mutated():
    src = "def helper(x):\n    return x + 1\n\nclass Layer:\n    def forward(self, x):\n        return x + 1\n"
    found = mutate_source(src, "f.py", {"Layer": "layer"}, [BY_NAME["arith"]])
    assert [(m.function, m.problem, m.line, m.line_text) for m in found] == [("Layer.forward", "layer", 6, "return x + 1")]


def test_perturbed_inputs_keep_shape_and_structure():
    rng = np.random.default_rng(1)
    labels = np.eye(3)[[0, 2, 1, 0]]
    probs = np.full((2, 4), 0.25)
    x = np.zeros((2, 3))
    new_labels, new_probs, new_x = equivalence.perturb([labels, probs, x], rng)
    assert new_labels.shape == labels.shape and set(new_labels.sum(axis=1)) == {1.0}
    assert np.allclose(new_probs.sum(axis=1), 1) and not np.allclose(new_probs, probs)
    assert new_x.shape == x.shape and np.abs(new_x).max() > 0


def test_same_compares_values_tightly_and_errors_by_type():
    same, Out = equivalence.same, equivalence.Outcome
    assert same(Out(np.array([1.0, 2.0])), Out(np.array([1.0, 2.0 + 1e-13])))
    assert not same(Out(np.array([1.0, 2.0])), Out(np.array([1.0, 2.0 + 1e-6])))
    assert not same(Out(np.ones(3)), Out(1.0))
    assert not same(Out(None, stdout="passed"), Out(None, stdout="failed"))
    assert same(Out(error="ValueError"), Out(error="ValueError")) and not same(Out(error="ValueError"), Out(1))


# ------------------------------------------------------------------ on a tiny assignment

REFERENCE = {"f.py": textwrap.dedent("""\
    import numpy as np


    def scale(x):
        spare = x * 3
        return 2.0 * x + 1.0


    def count(n):
        i = 0
        while i < n:
            i += 1
        return i


    class Acc:
        def __init__(self):
            self.total = 0.0
            self.spare = 1.0

        def add(self, x):
            self.total = self.total + x
            return self.total


    def grow(n):
        kept = [0]
        for _ in range(n):
            kept.append(np.ones(100000))
            kept.pop(0)
        return len(kept)
    """)}

CHECKS = textwrap.dedent("""\
    import numpy as np
    import pytest


    @pytest.mark.problem("scale", points=1)
    def test_scale_of_zeros(submission, reference):
        x = np.zeros(3)
        assert np.allclose(submission.scale(x), reference.scale(x))


    @pytest.mark.problem("count", points=1)
    def test_count(submission, reference):
        assert submission.count(4) == 4


    @pytest.mark.problem("acc", points=1)
    def test_acc(submission):
        acc = submission.Acc()
        acc.add(2.0)
        assert acc.add(3.0) == 5.0


    @pytest.mark.problem("grow", points=1)
    def test_grow(submission, reference):
        assert submission.grow(3000) == 1
    """)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    folder = make_assignment(tmp_path / "tiny", [
        {"id": "scale", "points": 1, "functions": ["scale"], "module": "f"},
        {"id": "count", "points": 1, "functions": ["count"], "module": "f"},
        {"id": "grow", "points": 1, "functions": ["grow"], "module": "f"},
        {"id": "acc", "points": 1, "functions": ["Acc"], "module": "f"}], CHECKS, REFERENCE)
    with open(folder / "assignment.toml", "a") as handle:
        handle.write("\n[limits]\ncall_seconds = 2\nmemory_mb = 1024\n")
    return folder


def mutate_cli(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "grader.mutation", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=240, stdin=subprocess.DEVNULL)
    return done, time.perf_counter() - started


def test_equivalent_mutants_are_set_aside_and_survivors_come_with_their_input(tiny, tmp_path):
    out = tmp_path / "mutate.json"
    done, _ = mutate_cli(str(tiny), "--problem", "scale", "--json", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(out.read_text())
    by_line = {}
    for m in report["mutants"]:
        by_line.setdefault((m["line_text"], m["change"]), m)
    # dead code: deleting it or changing it changes nothing anywhere
    assert by_line[("spare = x * 3", "statement deleted")]["status"] == "equivalent"
    assert by_line[("spare = x * 3", "3 -> 2")]["status"] == "equivalent"
    # the checks use zeros only: 2.0 -> 1.0 survives, told apart on random inputs of shape (3,)
    survivor = by_line[("return 2.0 * x + 1.0", "2.0 -> 1.0")]
    assert survivor["status"] == "survived"
    found = survivor["distinguishing_input"]
    assert found["function"] == "scale" and found["probe"].startswith("random inputs")
    assert "shape (3,)" in found["args"][0]
    x = np.array(json.loads("[" + found["args"][0].split("[")[1].split("]")[0] + "]"))
    assert f"{2 * x[0] + 1:.4f}"[:5] in found["expected"] and f"{x[0] + 1:.4f}"[:5] in found["got"]
    assert "-    return 2.0 * x + 1.0\n+    return 1.0 * x + 1.0" in survivor["diff"]
    # killed on the checks' own input
    assert by_line[("return 2.0 * x + 1.0", "+ -> -")]["status"] == "killed"
    scores = report["problems"]["scale"]
    assert scores["generated"] == len(report["mutants"])
    assert scores["killed"] + scores["survived"] + scores["equivalent"] == scores["generated"]
    assert "SURVIVOR" in done.stdout and "differs from the reference on: scale(" in done.stdout


def test_survivors_judged_harmless_are_not_shown_again(tiny, tmp_path):
    from grader.mutation.generate import mutate_source
    from grader.mutation.run import survivor_entry

    out = tmp_path / "first.json"
    done, _ = mutate_cli(str(tiny), "--problem", "scale", "--json", str(out))
    survivors = [m for m in json.loads(out.read_text())["mutants"] if m["status"] == "survived"]
    assert done.returncode == 1 and survivors
    generated = {m.ident: m for m in mutate_source(REFERENCE["f.py"], "f.py", {"scale": "scale"})}
    (tiny / "mutants").mkdir()
    (tiny / "mutants" / "survivors.toml").write_text(
        "\n".join(survivor_entry(generated[s["id"]], "the check is weak on purpose") for s in survivors))
    done, _ = mutate_cli(str(tiny), "--problem", "scale")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SURVIVOR" not in done.stdout
    assert f"{len(survivors)} survivor(s) judged harmless in survivors.toml not shown" in done.stdout


def test_a_mutant_that_exhausts_memory_costs_only_its_own_grading(tiny, tmp_path):
    out = tmp_path / "grow.json"
    done, _ = mutate_cli(str(tiny), "--problem", "grow", "--operator", "delete", "--json", str(out))
    report = json.loads(out.read_text())
    status = {m["line_text"]: m["status"] for m in report["mutants"]}
    assert status == {"kept = [0]": "killed", "kept.append(np.ones(100000))": "killed",
                      "kept.pop(0)": "killed"}, done.stdout + done.stderr  # the last one: 2.4 GB


def test_a_mutant_that_hangs_costs_only_its_own_grading(tiny, tmp_path):
    out = tmp_path / "count.json"
    done, seconds = mutate_cli(str(tiny), "--problem", "count", "--operator", "arith", "--operator", "constant",
                               "--json", str(out))
    report = json.loads(out.read_text())
    status = {(m["line_text"], m["change"]): m["status"] for m in report["mutants"]}
    assert status[("i += 1", "+= -> -=")] == "killed"    # never ends: stopped at its time limit
    assert status[("i += 1", "1 -> 0")] == "killed"      # never ends either
    assert status[("i = 0", "0 -> 1")] == "equivalent"   # graded on after the hanging ones
    assert seconds < 60, done.stdout


def test_objects_the_checks_build_are_built_again_in_the_replay(tiny, tmp_path):
    """``Acc()`` then ``acc.add(2.0)``: the replay maps the reference's object to the mutant's, so
    a changed method is told apart on its own call and dead state is equivalent."""
    out = tmp_path / "acc.json"
    mutate_cli(str(tiny), "--problem", "acc", "--operator", "delete", "--operator", "arith", "--json", str(out))
    found = {(m["line_text"], m["change"]): m for m in json.loads(out.read_text())["mutants"]}
    assert found[("self.spare = 1.0", "statement deleted")]["status"] == "equivalent"
    changed = found[("self.total = self.total + x", "+ -> -")]
    assert changed["status"] == "killed"
    assert changed["distinguishing_input"]["function"] == "Acc.add"
    # calls 1-2 are scale's and count's; 3 builds Acc, 4 looks up acc.add, 5 is add(2.0)
    assert changed["distinguishing_input"]["probe"] == "the checks' call 5"
    assert (changed["distinguishing_input"]["expected"], changed["distinguishing_input"]["got"]) == ("2.0", "-2.0")


def test_request_errors_are_one_line_exit_2(tiny):
    (tiny / "mutants").mkdir()
    (tiny / "mutants" / "survivors.toml").write_text('[[survivor]]\nfile = "f.py"\n')
    done, _ = mutate_cli(str(tiny), "--problem", "scale")
    assert done.returncode == 2 and "survivor 1 needs function, operator, change, line, node, reason" in done.stderr
    (tiny / "mutants" / "survivors.toml").unlink()
    done, _ = mutate_cli(str(tiny), "--problem", "nope")
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0 and "no problem 'nope'" in done.stderr
    done, _ = mutate_cli(str(tiny), "--operator", "nope")
    assert done.returncode == 2 and "no mutation operator nope" in done.stderr


def test_warnings_compare_by_message_not_by_the_source_line_they_quote():
    Out = equivalence.Outcome
    ref = "m.py:3: RuntimeWarning: overflow encountered in exp\n  e = np.exp(x - x.max())\n"
    mutant = "m.py:3: RuntimeWarning: overflow encountered in exp\n  e = np.exp(x - x.min())\n"
    assert equivalence.same(Out(1.0, stdout=ref), Out(1.0, stdout=mutant))
    assert not equivalence.same(Out(1.0, stdout=ref), Out(1.0, stdout=ref.replace("overflow", "underflow")))
    assert not equivalence.same(Out(1.0, stdout=ref), Out(1.0, stdout=""))
