"""What a student reads (issue 14): one diagnosis per problem, one order in every output,
repetition collapsed, cells named as a student counts them, no grader path, no number cut
mid-digit, and a short report for an untouched starter notebook."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from lxml import etree
from markupsafe import escape

from conftest import FIXTURES, ROOT, run_cli

from grader import feedback_html, markdown, report, safetext
from grader import student_view as view
from grader.checks.numeric import show
from grader.submission import SubmissionError, open_submission

STARTER = ROOT / "assignments" / "nn_basics" / "starter" / "nn_basics.ipynb"
Z1_HINT = "sigmoid_grad takes s, not z1"
# a path of the grading machine, or advice for whoever ran the grader
GRADER_SIDE = re.compile(r"/work/|/tmp/|/home/|site-packages|/usr/|pass the folder|--assignment")
CUT_NUMBER = re.compile(r"\d\.\.\.|\d\.{3}")


def sigmoid_grad_on_z1(base: Path, folder: Path) -> Path:
    """The one-bug student of the issue: the hidden error uses sigmoid_grad(z1), not of h."""
    shutil.copytree(base, folder)
    source = (folder / "q2_neural.py").read_text()
    assert "sigmoid_grad(h)" in source
    (folder / "q2_neural.py").write_text(source.replace("sigmoid_grad(h)", "sigmoid_grad(z1)"))
    return folder


def outputs(submission: Path, out: Path) -> dict:
    """Every output of one `grader run`: JSON report, terminal, Markdown, JUnit, feedback page."""
    out.mkdir()
    done = run_cli("run", str(submission), "--assignment", "nn_basics", "--json", str(out / "r.json"),
                   "--markdown", str(out / "r.md"), "--junit", str(out / "r.xml"))
    assert done.returncode == 1, done.stderr
    result = json.loads((out / "r.json").read_text())
    return {"report": result, "terminal": done.stdout, "markdown": (out / "r.md").read_text(),
            "junit": (out / "r.xml").read_text(), "html": feedback_html.page("alice", result),
            "gradescope": result["output"]}


@pytest.fixture(scope="module")
def z1(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("z1")
    return outputs(sigmoid_grad_on_z1(FIXTURES / "modules_correct", base / "student"), base / "out")


@pytest.fixture(scope="module")
def three_bugs(tmp_path_factory) -> dict:
    """Lost points in softmax, gradcheck_naive and forward_backward_prop: the checks run in
    file order (gradcheck, neural, ..., softmax, then public/), the assignment lists softmax first."""
    base = tmp_path_factory.mktemp("three")
    return outputs(sigmoid_grad_on_z1(ROOT / "examples" / "nn_basics" / "buggy", base / "student"), base / "out")


@pytest.fixture(scope="module")
def starter(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("starter")
    shutil.copy(STARTER, base / "nn_basics.ipynb")
    return outputs(base / "nn_basics.ipynb", base / "out")


def in_order(text: str, needles: list[str]) -> bool:
    at = 0
    for needle in needles:
        found = text.find(needle, at)
        if found < 0:
            return False
        at = found + len(needle)
    return True


def test_one_order_in_every_output(three_bugs):
    r = three_bugs["report"]
    problems = list(r["problems"])
    lost = [t for t in r["tests"] if t["status"] != "passed" and view.shown(t)]
    assert [view.problem_of(t) for t in lost] == sorted((view.problem_of(t) for t in lost), key=problems.index)
    assert len({view.problem_of(t) for t in lost}) == 3
    titles = [t["name"].split(": ", 1)[1] for t in lost]
    for kind in ("terminal", "gradescope"):
        assert in_order(three_bugs[kind], titles), kind
    assert in_order(three_bugs["markdown"], [safetext.for_markdown_inline(t) for t in titles])
    assert in_order(three_bugs["html"], [str(escape(t)) for t in titles])
    cases = etree.fromstring(three_bugs["junit"].encode()).iter("testcase")
    assert [c.get("name") for c in cases if c.find("failure") is not None] == [t["name"] for t in lost]
    heads = [p for p in problems if r["problems"][p]["status"] != "passed"]
    assert in_order(three_bugs["terminal"], [f"\n{p} (-" for p in heads])  # after "Lost points:"
    assert in_order(three_bugs["markdown"], [f"- **{safetext.for_markdown_inline(p)}** (−" for p in heads])


def test_the_diagnosis_is_said_once_per_problem(z1):
    for kind in ("terminal", "gradescope", "html"):
        assert z1[kind].count(Z1_HINT) == 1, kind
    assert z1["markdown"].count(safetext.for_markdown_inline(Z1_HINT)) == 1
    assert "(5 of 7 failing checks)" in z1["terminal"]
    headline = next(line for line in z1["terminal"].splitlines() if Z1_HINT in line)
    assert headline.startswith("forward_backward_prop (-14 points): ")
    # every failing check is one line, and only the first shows its values
    assert z1["terminal"].count("\n  - ") == 7
    assert z1["terminal"].count("input: ") == 1
    assert len(z1["terminal"].splitlines()) < 30


def test_no_number_is_cut_mid_digit(z1):
    names = [t["name"] for t in z1["report"]["tests"]]   # authors write "0.7310..." in titles
    names += [part for name in names for part in name.split(": ", 1)]
    for kind in ("terminal", "markdown", "html", "junit", "gradescope"):
        text = z1[kind]
        for name in sorted(names, key=len, reverse=True):
            for form in (name, safetext.for_markdown_inline(name), str(escape(name))):
                text = text.replace(form, "")
        assert not CUT_NUMBER.search(text), (kind, text[CUT_NUMBER.search(text).start() - 80:][:120])
    assert "array with shape (20, 10), first values [" in z1["markdown"]


@pytest.mark.parametrize("value", [np.random.RandomState(0).randn(20, 10) * 1e-3,
                                   np.random.RandomState(1).randn(115), np.arange(500).reshape(5, 100),
                                   (np.ones((30, 30)), [10, 5, 10]), [1.0123456789] * 200])
def test_show_never_cuts_a_number(value):
    text = show(value, 120)
    assert len(text) <= 120 + 80 and "\n" not in text
    assert not CUT_NUMBER.search(text), text
    for number in re.findall(r"-?\d+\.\d*(?:e[+-]\d+)?", text):
        float(number)


def test_untouched_starter_is_a_short_report(starter):
    terminal = starter["terminal"]
    assert len(terminal.splitlines()) <= 25, terminal
    assert terminal.count("NotImplementedError in 5 functions") == 1
    assert starter["markdown"].count("NotImplementedError in 5 functions") == 1
    assert "<p class=\"common\">NotImplementedError in 5 functions" in starter["html"]
    assert "raise NotImplementedError" not in terminal       # no traceback per check
    for kind in ("terminal", "markdown", "html", "gradescope"):
        assert not GRADER_SIDE.search(starter[kind]), (kind, GRADER_SIDE.search(starter[kind]))


def test_cells_are_counted_as_a_student_counts_them(starter):
    cells = json.loads(STARTER.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    softmax_cell = next(i for i, c in enumerate(code, 1) if "def softmax" in "".join(c["source"]))
    everything = next(i for i, c in enumerate(cells, 1) if "def softmax" in "".join(c["source"]))
    assert softmax_cell != everything     # the notebook has markdown cells before it
    assert f"softmax (code cell {softmax_cell} of nn_basics.ipynb)" in starter["terminal"]
    assert starter["report"]["submission"]["functions"]["softmax"]["file"] == f"nn_basics.ipynb [code cell {softmax_cell}]"


def test_a_note_left_by_several_checks_is_said_once(tmp_path):
    done = run_cli("run", str(FIXTURES / "modules_correct"), "--assignment", "nn_basics")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("cost convention found") == 1
    assert "cost convention found: sum over examples (5 checks)" in done.stdout


def test_an_empty_folder_names_no_grader_path(tmp_path):
    empty = tmp_path / "students" / "alice"
    empty.mkdir(parents=True)
    with pytest.raises(SubmissionError) as info:
        open_submission(str(empty))
    assert str(tmp_path) in str(info.value)         # what the grader's log says, for the instructor
    page = feedback_html.page("alice", None, status="unreadable", error=str(info.value))
    md = feedback_html.not_graded_markdown("alice", "unreadable", str(info.value))
    for text in (page, md):
        assert not GRADER_SIDE.search(text), GRADER_SIDE.search(text)
        assert "holds no .py or .ipynb files" in text


def test_public_says_what_it_did_not_cover():
    r = json.loads((ROOT / "tests" / "snapshots" / "report-buggy.json").read_text())
    r["max_score"], r["assignment"]["points"] = 5, 55
    expected = "public checks: 5 of 55 points; the other 50 are graded after submission"
    assert view.coverage(r) == expected
    assert expected.capitalize() in report.terminal(r)
    assert expected.capitalize() in markdown.render(r)
    assert expected.capitalize() in feedback_html.page("alice", r)
    r["max_score"] = 55
    assert view.coverage(r) == "" and "graded after submission" not in report.terminal(r)


def test_details_are_folded_in_the_page(z1):
    page = z1["html"]
    assert page.count("<details>") == 7 and "<details open" not in page
    assert "<script" not in page and "http" not in page.split("<body>")[1]


@pytest.mark.parametrize("error, said", [
    ("/srv/course/subs/alice.zip is not a readable zip file (bad magic); zip it again",
     "alice.zip is not a readable zip file (bad magic); zip it again"),
    ("/srv/course/subs/alice.txt is not a folder, .py, .ipynb or .zip file; pass the folder or file "
     "the student handed in", "Your submission is not a notebook"),
    ("the grader failed at /usr/lib/python3/site-packages/x.py; rerun with --sandbox process", "x.py"),
])
def test_a_not_graded_reason_is_for_the_student(error, said):
    reason = view.not_graded_reason("unreadable", error)
    assert said in reason and not GRADER_SIDE.search(reason), reason
