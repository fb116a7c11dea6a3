"""grader.similarity: normalisation, starter exclusion, rarity weighting, the command end to end,
the page's escaping of hostile student text, and the page as Chromium renders it."""

from __future__ import annotations

import ast
import csv
import html.parser
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from grader.assignment import find
from grader.similarity.compare import compare_class, starter_prints
from grader.similarity.extract import extract_path
from grader.similarity.fingerprint import fingerprints
from grader.similarity.index import Settings, build, score_pairs
from grader.similarity.normalise import Context, function_tokens, module_aliases

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _bench_class():
    spec = importlib.util.spec_from_file_location("similarity_class", os.path.join(ROOT, "bench", "similarity_class.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tokens_of(source: str, name: str = "f") -> list[str]:
    tree = ast.parse(textwrap.dedent(source))
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    helpers = frozenset(n.name for n in tree.body if isinstance(n, ast.FunctionDef)) - {name}
    ctx = Context(aliases=module_aliases(tree), helpers=helpers, required=frozenset({name}))
    return [t.text for t in function_tokens(node, ctx)]


def prints_of(source: str, name: str = "f") -> set[int]:
    tree = ast.parse(textwrap.dedent(source))
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    helpers = frozenset(n.name for n in tree.body if isinstance(n, ast.FunctionDef)) - {name}
    ctx = Context(aliases=module_aliases(tree), helpers=helpers, required=frozenset({name}))
    return set(fingerprints(function_tokens(node, ctx)))


SOFTMAX = """
import numpy as np

def f(x):
    '''Row-wise softmax.'''
    m = np.max(x, axis=1, keepdims=True)  # stability
    e = np.exp(x - m)
    s = np.sum(e, axis=1, keepdims=True)
    return e / s
"""


# ------------------------------------------------------------------ normalisation

def test_renaming_reformatting_and_comments_give_identical_fingerprints():
    disguised = """
    import numpy as npy
    def f(logits):
        # subtract the max
        biggest = npy.max(logits,
                          keepdims = True, axis = 1)
        exps = npy.exp( logits-biggest )
        total = npy.sum(exps, keepdims=True, axis=1)   # normaliser
        return exps/total
    """
    assert tokens_of(disguised) == tokens_of(SOFTMAX)
    assert prints_of(disguised) == prints_of(SOFTMAX)


def test_reordered_independent_statements_and_dead_code_change_nothing():
    disguised = """
    import numpy as np
    def f(x):
        debug = False
        m = np.max(x, axis=1, keepdims=True)
        unused = x * 2
        if False:
            print("never")
        e = np.exp(x - m)
        s = np.sum(e, axis=1, keepdims=True)
        return e / s
        print("after the return")
    """
    assert tokens_of(disguised) == tokens_of(SOFTMAX)
    one = """
    import numpy as np
    def f(a, b):
        p = np.exp(a)
        q = np.log(b)
        return p * q
    """
    other = """
    import numpy as np
    def f(a, b):
        q = np.log(b)
        p = np.exp(a)
        return q * p
    """
    assert tokens_of(one) == tokens_of(other)


def test_dependent_statements_keep_their_order():
    one = """
    def f(x):
        x = x + 1
        x = x * 2
        return x
    """
    swapped = """
    def f(x):
        x = x * 2
        x = x + 1
        return x
    """
    assert tokens_of(one) != tokens_of(swapped)


def test_a_loop_meets_the_vectorised_line_it_stands_for():
    vectorised = """
    import numpy as np
    def f(x):
        return 1 / (1 + np.exp(-x))
    """
    loop = """
    import numpy as np
    def f(x):
        out = np.empty_like(x, dtype=float)
        for i in range(len(x)):
            out[i] = 1 / (1 + np.exp(-x[i]))
        return out
    """
    assert tokens_of(loop) == tokens_of(vectorised)


def test_a_different_algorithm_has_different_fingerprints():
    other = """
    import numpy as np
    def f(x):
        if x.ndim == 1:
            x = x - x.max()
            return np.exp(x) / np.exp(x).sum()
        x = (x.T - x.max(axis=1)).T
        return (np.exp(x).T / np.exp(x).sum(axis=1)).T
    """
    mine, theirs = prints_of(SOFTMAX), prints_of(other)
    assert len(mine & theirs) <= 0.2 * min(len(mine), len(theirs))


def test_helpers_are_placeholders_and_module_paths_are_resolved():
    helper = """
    from numpy import exp
    def stable(v):
        return v
    def f(x):
        return exp(stable(x))
    """
    renamed = """
    import numpy
    def my_helper(v):
        return v
    def f(x):
        return numpy.exp(my_helper(x))
    """
    assert tokens_of(helper) == tokens_of(renamed)
    assert "numpy.exp" in tokens_of(helper) and "F" in tokens_of(helper)


# ------------------------------------------------------------------ extraction, starter, rarity

def write(folder, files: dict[str, str]) -> str:
    os.makedirs(folder, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
            handle.write(textwrap.dedent(text))
    return folder


def test_extraction_finds_what_grading_finds_last_definition_in_a_notebook(tmp_path):
    cells = ["import numpy as np\n", "def softmax(x):\n    return x\n",
             "def softmax(x):\n    e = np.exp(x - x.max())\n    return e / e.sum()\n"]
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": c} for c in cells]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook))
    code = extract_path(str(path), find("nn_basics"), "nb")
    assert "np.exp" in code.problems["softmax"].text and "return x\n" not in code.problems["softmax"].text


def test_code_from_the_starter_is_excluded():
    assignment = find("nn_basics")
    excluded = starter_prints(assignment)
    starter = extract_path(os.path.join(assignment.folder, "starter"), assignment, "starter", starter=True)
    preamble = starter.problems["forward_backward_prop"]
    assert excluded and set(fingerprints(preamble.tokens, 4)) <= excluded
    # Two students of ten kept the starter's preamble (the others rewrote it); apart from it
    # their forward_backward_prop differs. With the starter excluded they share nothing...
    problems = [p.id for p in assignment.problems]
    salt = problems.index("forward_backward_prop")
    preamble_prints = set(fingerprints(preamble.tokens, salt))
    prints = []
    for index in range(10):
        row: list = [None] * len(problems)
        row[salt] = {10_000 * (index + 1) + j for j in range(40)}
        prints.append(row)
    prints[0][salt] |= preamble_prints
    prints[1][salt] |= preamble_prints
    students = [f"s{i}" for i in range(10)]
    settings = Settings(threshold=1.0)
    index = build(students, problems, prints, excluded, settings)
    assert int(index.sizes[0, salt]) == 40 and score_pairs(index, settings) == []
    # ... and without the exclusion the preamble would make them a pair.
    index = build(students, problems, prints, set(), settings)
    assert [(p.a, p.b) for p in score_pairs(index, settings)] == [("s0", "s1")]


def test_a_passage_everyone_shares_scores_nothing_and_a_rare_one_scores():
    problems = ["p"]
    common = set(range(100, 140))
    students = [f"s{i}" for i in range(20)]
    prints = [[common | {1000 * (i + 1) + j for j in range(30)}] for i in range(20)]
    # s0 and s1 share a rare passage of their own beside the common one
    prints[0][0] |= set(range(500, 530))
    prints[1][0] |= set(range(500, 530))
    settings = Settings(threshold=1.0)
    index = build(students, problems, prints, set(), settings)
    pairs = {(p.a, p.b): p.score for p in score_pairs(index, Settings(threshold=1.0, report_fraction=0.0001))}
    assert pairs.get(("s2", "s3"), 0.0) == pytest.approx(0.0, abs=1e-9)
    assert pairs[("s0", "s1")] > 1.0


# ------------------------------------------------------------------ the command end to end

@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    sc = _bench_class()
    folder = str(tmp_path_factory.mktemp("class") / "subs")
    truth = sc.make_class(folder, 16, [["rename", "reorder"], ["comments", "deadcode", "reformat"]], seed=3)
    out = str(tmp_path_factory.mktemp("out"))
    result = subprocess.run([sys.executable, "-m", "grader.similarity", folder, "--assignment", "nn_basics",
                             "--out", out, "--jobs", "1"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    return folder, out, truth, result


def test_planted_copies_rank_first_and_are_flagged(small_class):
    _, out, truth, result = small_class
    assert result.returncode == 0, result.stderr
    with open(os.path.join(out, "similarity.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    planted = {tuple(sorted((p["original"], p["copy"]))) for p in truth["planted"]}
    top = {tuple(sorted((r["student_a"], r["student_b"]))) for r in rows[:2]}
    assert top == planted
    # 18 students: a copy can carry at most 5 * log2(18 / 2) = 15.8 bits against a threshold of
    # log2(153) + 4 = 11.3, so the stronger copy is flagged; no independent pair is.
    assert rows[0]["flagged"] == "yes"
    assert all(r["flagged"] == "no" for r in rows[2:])
    assert float(rows[1]["score"]) > 1.5 * float(rows[2]["score"])
    assert "evidence to weigh, never a verdict" in result.stdout


def test_a_missing_folder_is_a_bad_request_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "grader.similarity", str(tmp_path / "none"),
                             "--assignment", "nn_basics", "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no such folder" in result.stderr


# ------------------------------------------------------------------ hostile text in the page

HOSTILE = """
import numpy as np

def softmax(x):
    '''</pre><script>alert("doc")</script>'''
    tag = "<script>alert('code')</script>"  # <img src=x onerror=alert(1)>
    m = np.max(x, axis=1, keepdims=True) + len(tag) * 0
    e = np.exp(x - m) ** 1.0001 - 0.5 * np.tanh(m) * 0
    return e / np.sum(e, axis=1, keepdims=True) + 1e-300 * len(tag)
"""


def test_hostile_file_names_and_code_are_escaped(tmp_path):
    subs = tmp_path / "subs"
    for student in ("mallory", "trudy"):
        write(str(subs / student), {"<script>alert(1)<\\script>.py": HOSTILE})
    for index in range(4):  # others who wrote something else
        write(str(subs / f"other{index}"), {"q1_softmax.py": f"import numpy as np\ndef softmax(x):\n    return np.exp(x) / {index + 2}\n"})
    result = compare_class(str(subs), find("nn_basics"), str(tmp_path / "out"), Settings(threshold=1.0), jobs=1)
    page = (tmp_path / "out" / "similarity.html").read_text()
    assert result.reported and {result.reported[0].a, result.reported[0].b} == {"mallory", "trudy"}
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#x27;code&#x27;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;\\script&gt;.py" in page
    assert "<mark class='match'" in page


# ------------------------------------------------------------------ the page in a browser

class _Dom(html.parser.HTMLParser):
    """Rows of #pairs (rank, score) and the highlighted lines per pair section."""

    def __init__(self):
        super().__init__()
        self.rows, self.marks, self.section, self.in_score = [], {}, None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-rank" in attrs:
            self.rows.append([int(attrs["data-rank"]), None, []])
        elif tag == "td" and "score" in (attrs.get("class") or ""):
            self.in_score = True
        elif tag == "td" and attrs.get("class") == "student" and self.rows:
            self.rows[-1][2].append("")
        elif tag == "section":
            self.section = attrs.get("id")
        elif tag == "mark" and self.section:
            self.marks[self.section] = self.marks.get(self.section, 0) + 1

    def handle_data(self, data):
        if self.in_score:
            self.rows[-1][1] = float(data)
            self.in_score = False
        elif self.rows and self.rows[-1][2] and self.rows[-1][2][-1] == "" and self.section is None:
            self.rows[-1][2][-1] = data


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="chromium is not installed")
def test_chromium_renders_ranked_pairs_with_highlighted_passages(small_class, tmp_path):
    _, out, truth, _ = small_class
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    page = os.path.join(out, "similarity.html")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          f"--user-data-dir={tmp_path / 'profile'}", "file://" + page],
                         capture_output=True, text=True, timeout=90)
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = _Dom()
    parsed.feed(dom.stdout)
    ranks = [r[0] for r in parsed.rows]
    scores = [r[1] for r in parsed.rows]
    assert ranks == list(range(1, len(ranks) + 1)) and len(ranks) >= 2
    assert scores == sorted(scores, reverse=True)
    planted = {tuple(sorted((p["original"], p["copy"]))) for p in truth["planted"]}
    assert {tuple(sorted(r[2])) for r in parsed.rows[:2]} == planted
    assert parsed.marks.get("pair-1", 0) > 5 and parsed.marks.get("pair-2", 0) > 5


def test_batch_similarity_writes_the_page_and_the_class_report_links_it(tmp_path):
    """``grader batch --similarity``: similarity.html beside report.html, which links to it."""
    from conftest import FIXTURES, run_cli

    subs = tmp_path / "subs"
    for name in ("ann", "bob", "cat"):
        shutil.copytree(FIXTURES / "modules_correct", subs / name)
    out = tmp_path / "out"
    done = run_cli("batch", str(subs), "--assignment", "nn_basics", "--out", str(out), "--jobs", "1",
                   "--similarity")
    assert done.returncode == 0, done.stderr
    assert "similarity:" in done.stdout and (out / "similarity.html").is_file()
    assert (out / "similarity.csv").is_file()
    assert "href=\"similarity.html\"" in (out / "report.html").read_text(encoding="utf-8")
