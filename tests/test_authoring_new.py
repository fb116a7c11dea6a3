"""``grader new``: a scaffold from a reference the grader has never seen, which ``grader validate``
passes as written, whose starter is stubs and whose checks catch a wrong answer."""

from __future__ import annotations

import json
import re
import tomllib

import pytest

from conftest import run_cli, write_folder

# Unlike nn_basics: a vector function, an elementwise one, and a class with state.
TOOLS = '''"""Small tools."""
import numpy as np


def normalize(v):
    """v scaled to unit Euclidean length."""
    return v / np.linalg.norm(v)


def relu(x):
    """max(x, 0), elementwise."""
    return np.maximum(x, 0.0)


def _private_helper():
    return 1


class Counter:
    """Counts what it is told to."""

    def __init__(self):
        self.count = 0

    def add(self, n):
        """Add n; return the new count."""
        self.count += n
        return self.count

    def value(self):
        return self.count
'''


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory):
    root = tmp_path_factory.mktemp("new")
    write_folder(root / "src", {"tools.py": TOOLS})
    done = run_cli("new", "tools_lab", "--from", str(root / "src" / "tools.py"), "--into", str(root / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "out", done


def test_the_scaffold_validates_as_generated(scaffold):
    out, made = scaffold
    folder = out / "assignments" / "tools_lab"
    assert f"grader validate {folder}" in made.stdout
    done = run_cli("validate", str(folder), "--sandbox", "process")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reference: 6 / 6" in done.stdout and "reproducible: yes" in done.stdout
    assert "starter: 0 / 6, loads, defines all 3 required names" in done.stdout
    assert "validate: ok" in done.stdout


def test_the_scaffold_has_one_problem_per_definition_and_marked_guesses(scaffold):
    out, _ = scaffold
    folder = out / "assignments" / "tools_lab"
    config = tomllib.loads((folder / "assignment.toml").read_text())
    assert [(p["id"], p["functions"], p["module"], p["points"]) for p in config["problems"]] == [
        ("normalize", ["normalize"], "tools", 2), ("relu", ["relu"], "tools", 2), ("Counter", ["Counter"], "tools", 2)]
    assert config["reference"] == "../../reference_solutions/tools_lab"
    assert (out / "reference_solutions" / "tools_lab" / "tools.py").read_text() == TOOLS
    for name in ("normalize", "relu", "Counter"):
        hidden = (folder / "checks" / f"test_{name}.py").read_text()
        public = (folder / "public" / f"test_public_{name}.py").read_text()
        assert "TODO: adjust inputs" in hidden and "TODO: adjust inputs" in public
        assert "reference" in hidden and "reference." not in public  # public checks write values out
    assert "rng.normal(size=(3, 4))" in (folder / "checks" / "test_relu.py").read_text()  # a float array
    assert tomllib.loads((folder / "mutants" / "mutants.toml").read_text()) == {}
    assert tomllib.loads((folder / "variants" / "variants.toml").read_text()) == {}


def test_the_starter_keeps_signatures_and_docstrings_and_drops_the_bodies(scaffold):
    out, _ = scaffold
    notebook = json.loads((out / "assignments" / "tools_lab" / "starter" / "tools_lab.ipynb").read_text())
    assert notebook["nbformat"] == 4
    code = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code[0] == "import numpy as np"
    normalize, relu, counter = code[1:]
    assert normalize.startswith("def normalize(v):\n    \"\"\"v scaled to unit Euclidean length.\"\"\"")
    assert relu.startswith("def relu(x):") and "max(x, 0), elementwise." in relu
    assert "class Counter:" in counter and "def add(self, n):" in counter and "def value(self):" in counter
    text = "\n".join(code)
    assert text.count("raise NotImplementedError") == 5  # two functions, three methods
    for answer in ("np.linalg.norm", "np.maximum", "self.count", "_private_helper"):
        assert answer not in text


def test_the_scaffold_checks_catch_a_wrong_answer(scaffold, tmp_path):
    out, _ = scaffold
    wrong = TOOLS.replace("return np.maximum(x, 0.0)", "return np.abs(x)").replace(
        "self.count += n", "self.count += 2 * n")
    submission = write_folder(tmp_path / "student", {"tools.py": wrong})
    report = tmp_path / "report.json"
    done = run_cli("run", str(submission), "--assignment", str(out / "assignments" / "tools_lab"),
                   "--json", str(report), "--sandbox", "process")
    assert done.returncode == 1, done.stdout + done.stderr
    scores = {p: v["score"] for p, v in json.loads(report.read_text())["problems"].items()}
    assert scores == {"normalize": 2, "relu": 0, "Counter": 0}


def test_new_refuses_what_it_cannot_scaffold(tmp_path, scaffold):
    out, _ = scaffold
    write_folder(tmp_path, {"empty.py": "X = 1\n", "tools.py": TOOLS, "broken.py": "import nosuchmodule\n\n\ndef f(x):\n    return x\n"})
    cases = [
        (("new", "tools_lab", "--from", str(tmp_path / "tools.py"), "--into", str(out)), "already exists"),
        (("new", "x", "--from", str(tmp_path / "missing.py"), "--into", str(tmp_path)), "is not a .py file"),
        (("new", "x", "--from", str(tmp_path / "empty.py"), "--into", str(tmp_path)),
         "defines no public top-level function or class"),
        (("new", "x", "--from", str(tmp_path / "broken.py"), "--into", str(tmp_path)),
         "the reference cannot be imported (ModuleNotFoundError: No module named 'nosuchmodule')"),
        (("new", "bad-name", "--from", str(tmp_path / "tools.py"), "--into", str(tmp_path)), "not a plain identifier"),
    ]
    for args, said in cases:
        done = run_cli(*args)
        assert done.returncode == 2 and said in done.stderr, done.stdout + done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "assignments" / "x").exists() and not (tmp_path / "reference_solutions" / "x").exists()
    assert re.search(r"tools_lab .*already exists", run_cli(*cases[0][0]).stderr)


ODD = '''import random

import numpy as np


def noisy(x):
    """x plus noise: the worker seeds random and numpy.random, so must the check's reference."""
    return x + np.random.normal(size=np.shape(x)) + random.random()


def pick(d):
    """d's value at 'k': every guessed input (arrays, floats, ints) makes it raise."""
    return d["k"]


def maker(n):
    """A function returning n: nothing the checks can compare."""
    return lambda: n
'''


def test_a_reference_the_guesses_do_not_suit_still_validates(tmp_path):
    """Random inside, no accepted input, no comparable result: the scaffold still passes on the
    reference and gives the starter 0, and says which checks to replace."""
    write_folder(tmp_path / "src", {"odd.py": ODD})
    done = run_cli("new", "odd_lab", "--from", str(tmp_path / "src" / "odd.py"), "--into", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    folder = tmp_path / "out" / "assignments" / "odd_lab"
    assert "seeded(reference.noisy, *args)" in (folder / "checks" / "test_noisy.py").read_text()
    assert '.get("type") == "IndexError"' in (folder / "checks" / "test_pick.py").read_text()
    assert "this check only runs maker" in (folder / "public" / "test_public_maker.py").read_text()
    done = run_cli("validate", str(folder), "--sandbox", "process")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reference: 6 / 6" in done.stdout and "starter: 0 / 6" in done.stdout


@pytest.mark.parametrize("shipped", ["softmax_cache", "layers_lab"])
def test_a_scaffold_of_a_shipped_reference_validates(tmp_path, shipped):
    """References written by someone else, classes with state among them (layers_lab's starter
    once crashed the feedback: a class has no file of its own to name)."""
    from conftest import ROOT

    sources = sorted(str(p) for p in (ROOT / "reference_solutions" / shipped).glob("*.py"))
    made = run_cli("new", "scaffolded", "--from", *sources, "--into", str(tmp_path))
    assert made.returncode == 0, made.stderr
    done = run_cli("validate", str(tmp_path / "assignments" / "scaffolded"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^starter: 0 / \d+, loads, defines all \d+ required names$", done.stdout, re.M), done.stdout
