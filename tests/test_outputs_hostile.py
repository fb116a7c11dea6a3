"""Property-based tests: every output writer that student bytes reach, fed arbitrary text
(surrogates, control characters, CR, backticks, workflow commands, HTML, formulas), bytes
decoded with surrogateescape, and big sizes, in a synthetic report. Each writer must not raise,
and its output must carry no structure the student made (issue 12)."""

from __future__ import annotations

import csv
import html.parser
import io
import json
import math
import re
import types

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from grader import annotations, batch, classreport, feedback_html, junit, markdown, report
from grader.classlist import Entry
from grader.gradebook import Run

TOKENS = ["\x1b[2J", "\x1b]0;title\x07", "\x9b31m", "\x07", "\r", "\n", "\r\n", "\x85", "\u2028",
          "\x00", "\ud800", "\udc80", "`", "```", "````", "~~~", "::error file=a.py::x", "  ::warning::w",
          "\n::set-output name=x::", "##[error]", "<script>alert(1)</script>", "<img src=x>",
          "![i](https://evil.invalid/p.png)", "# heading", "\r## 55 / 55 points", "=cmd|' /C calc'!A0",
          "+1+1", "-2-2", "@SUM(A1)", "\t=1", "|", "&amp;", "]]>", "%0A", "hint: planted", "\u202e"]

any_char = st.characters(codec=None, exclude_categories=())      # surrogates and controls too
hostile = st.one_of(
    st.text(any_char, max_size=40),
    st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.lists(st.one_of(st.sampled_from(TOKENS), st.text(any_char, max_size=6)), max_size=8).map("".join),
)
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10**6))
nested = st.recursive(st.one_of(hostile, numbers, st.none(), st.booleans()),
                      lambda inner: st.one_of(st.lists(inner, max_size=3),
                                              st.dictionaries(hostile, inner, max_size=3)), max_leaves=8)

PROBLEMS = ["softmax", "sigmoid"]


@st.composite
def reports(draw) -> dict:
    tests = []
    for _ in range(draw(st.integers(0, 4))):
        problem = draw(st.sampled_from(PROBLEMS))
        passed = draw(st.booleans())
        points = draw(st.sampled_from([0.5, 1, 2]))
        tests.append({"name": draw(hostile), "score": points if passed else 0, "max_score": points,
                      "status": "passed" if passed else "failed", "output": draw(hostile),
                      "visibility": draw(st.sampled_from(["visible", "visible", "hidden", "after_due_date"])),
                      "tags": [problem],
                      "extra_data": {"seed": 0, "hints": draw(st.lists(hostile, max_size=2)),
                                     "failure": draw(hostile), "data": draw(nested)}})
    problems = {}
    for problem in PROBLEMS:
        mine = [t for t in tests if t["tags"] == [problem]]
        problems[problem] = {"score": sum(t["score"] for t in mine), "max_score": sum(t["max_score"] for t in mine),
                             "status": "passed" if all(t["status"] == "passed" for t in mine) else "failed"}
    return {"score": sum(t["score"] for t in tests), "max_score": sum(t["max_score"] for t in tests) or 1,
            "execution_time": 0.5, "output": draw(hostile), "visibility": "visible", "tests": tests,
            "problems": problems, "assignment": {"name": "nn_basics", "title": "Neural network basics", "version": "1"},
            "submission": {"path": "/nonexistent/submission", "files": draw(st.lists(hostile, max_size=3)),
                           "sha256": "0" * 64, "load_errors": draw(st.lists(hostile, max_size=3)),
                           "functions": {"softmax": {"module": draw(hostile), "file": draw(hostile),
                                                     "line": draw(st.one_of(st.none(), st.integers(-5, 99)))}}},
            "grader": {"version": "0", "sandbox": "process"}}


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def big(value: str) -> str:
    return value * (200_000 // max(1, len(value)))


@SETTINGS
@given(reports())
def test_terminal_has_no_control_characters(r):
    text = report.terminal(r)
    assert not CONTROL.search(text), repr(CONTROL.search(text).group())


def strict_loads(text: str):
    def refuse(token):
        raise ValueError(f"non-strict JSON: {token}")

    return json.loads(text, parse_constant=refuse)


@SETTINGS
@given(r=reports())
def test_json_is_strict_and_valid(r, schema):
    loaded = strict_loads(report.render_json(r))
    jsonschema.validate(loaded, schema)
    for test in loaded["tests"]:
        assert json.dumps(test["extra_data"], allow_nan=False)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_json_refuses_a_non_finite_score(bad):
    with pytest.raises(ValueError):
        report.render_json({"score": bad, "max_score": 1, "tests": []})


def rendered_markdown(text: str) -> tuple[list[str], int]:
    """The lines outside the grader's fenced blocks, and how many blocks there were; each block
    must be opened by ``` + "text" and closed by exactly its own fence."""
    outside, fence, blocks = [], None, 0
    for line in text.split("\n"):
        stripped = line.strip()
        if fence is None and stripped.startswith("```"):
            fence = stripped[:len(stripped) - len(stripped.lstrip("`"))]
            assert stripped == fence + "text", line
            blocks += 1
        elif fence is not None and stripped == fence:
            fence = None
        elif fence is None:
            outside.append(line)
    assert fence is None, "a block is left open"
    return outside, blocks


OUR_HEADINGS = ("## Neural network basics: ", "### Lost points", "### While loading your files")


@SETTINGS
@given(reports())
def test_markdown_has_no_student_structure(r):
    text = markdown.render(r)
    assert "\r" not in text and not CONTROL.search(text.replace("\n", ""))
    outside, blocks = rendered_markdown(text)
    shown = [t for t in r["tests"] if t["status"] != "passed" and t["visibility"] == "visible"
             and t["output"]]
    assert blocks <= len(shown)  # a check's values in a block; a check whose line says all has none
    for line in outside:
        assert not line.startswith("#") or line.startswith(OUR_HEADINGS), line
        assert not line.lstrip().startswith(("::", "##[")), line
        for made in (r"(?<!\\)!\[", r"(?<!\\)<[a-zA-Z/!?]", r"(?<!\\)\]\("):
            assert not re.search(made, line), (made, line)
    # a table row keeps its five column separators: no student pipe
    for line in outside:
        if line.startswith("| "):
            assert len(re.findall(r"(?<!\\)\|", line)) == 5, line


@settings(max_examples=5, deadline=None)
@given(st.sampled_from(TOKENS))
def test_markdown_survives_big_output(token):
    r = {"score": 0, "max_score": 1, "problems": {"softmax": {"score": 0, "max_score": 1, "status": "failed"}},
         "tests": [{"name": big(token), "output": big(token + "\n"), "status": "failed", "score": 0, "max_score": 1,
                    "visibility": "visible", "tags": ["softmax"]}],
         "assignment": {"name": "a"}, "submission": {"load_errors": [big(token)]}}
    outside, blocks = rendered_markdown(markdown.render(r))
    assert blocks <= 1  # its values in one block (none when its line says all); no fence left open


class Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)


FEEDBACK_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "table",
                 "tr", "th", "td", "pre", "ul", "li", "details", "summary", "span", "br"}


def tags_of(page: str) -> list[str]:
    parser = Tags()
    parser.feed(page)
    parser.close()
    return parser.tags


@SETTINGS
@given(hostile, reports(), hostile)
def test_feedback_html_has_only_our_tags(student, r, error):
    assert set(tags_of(feedback_html.page(student, r))) <= FEEDBACK_TAGS
    assert set(tags_of(feedback_html.page(student, None, status="timeout", error=error))) <= FEEDBACK_TAGS
    not_graded = feedback_html.not_graded_markdown(student, "timeout", error)
    outside, _ = rendered_markdown(not_graded)
    assert outside[0].startswith("## Feedback for ") and all(not line.startswith("#") for line in outside[1:])


@pytest.fixture
def no_plots(monkeypatch):
    """The plots see only scores and the assignment's problem names; skip matplotlib here."""
    monkeypatch.setattr(classreport, "plots", lambda *a: {"distribution": "AA==", "pass_rate": "AA=="})


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(hostile, st.sampled_from(["graded", "timeout", "grader-error"]), reports(), hostile),
                     max_size=4))
def test_class_report_has_only_our_tags_and_no_student_diagnosis(no_plots, rows):
    made = [classreport.Row(student=s, status=status, score=r["score"], max_score=r["max_score"], seconds=1.0,
                            report=r if status == "graded" else None, error=e) for s, status, r, e in rows]
    page = classreport.render(made, title="T", problems=[(p, 1.0) for p in PROBLEMS], max_score=2,
                              generated="now", links={row.student: f"students/{row.student}/feedback.html" for row in made})
    tags = tags_of(page)
    assert set(tags) <= FEEDBACK_TAGS | {"img", "a", "input", "span", "code", "thead", "tbody", "script"}
    assert tags.count("img") == (2 if any(status == "graded" for _, status, _, _ in rows) else 0)
    assert tags.count("script") == 1 and page.count("<script>") == 1        # the roster's, ours
    known = classreport.known_diagnoses([types.SimpleNamespace(problem="softmax", feedback="x", bug="BUG")])
    labels = {label for _, label in classreport.OBSERVED}
    for _, _, r, _ in rows:
        for test in r["tests"]:
            for diagnosis in classreport.diagnose(test, known)[1]:   # never student text
                assert diagnosis == "BUG" or diagnosis in labels, diagnosis


def test_class_report_diagnoses_ignore_the_output():
    known = classreport.known_diagnoses([types.SimpleNamespace(problem="softmax", feedback="planted", bug="BUG")])
    test = {"status": "failed", "tags": ["softmax"], "output": "hint: planted\n" + " \n" * 50_000,
            "extra_data": {"hints": [], "failure": "softmax raised ValueError"}}
    assert classreport.diagnose(test, known) == ("unexplained", [])
    test["extra_data"] = {"hints": ["planted: subtract the row maximum"], "failure": "x"}
    assert classreport.diagnose(test, known) == ("hint", ["BUG"])
    test["extra_data"] = {"failure": "f did not finish within 2 s: ran past its time limit"}
    assert classreport.diagnose(test, known)[1][0].startswith("ran past its time limit")


@SETTINGS
@given(reports())
def test_junit_parses(r):
    etree.fromstring(junit.render(r).encode("utf-8"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(r=reports())
def test_annotations_are_one_command_per_line(r, tmp_path_factory):
    workspace = str(tmp_path_factory.getbasetemp())
    for line in annotations.github(r, {"softmax": ["softmax"], "sigmoid": ["sigmoid"]}, workspace=workspace):
        assert line.startswith(("::error", "::notice")) and "\n" not in line and "\r" not in line
        assert not CONTROL.search(line)
        properties = line.split("::")[1]
        assert properties.count("=") == properties.count(",") + (1 if " " in properties else 0)


formula = re.compile(r"^[=+\-@\t\r\n]")


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(hostile, hostile, hostile, hostile, st.sampled_from(["graded", "timeout", "unreadable"]),
                          st.floats(0, 55)), min_size=1, max_size=5))
def test_csv_round_trips_without_formulas(people):
    assignment = types.SimpleNamespace(problems=[types.SimpleNamespace(id=p) for p in PROBLEMS],
                                       title="T", name="nn_basics", max_score=55)
    current = []
    for i, (student, name, canvas_id, email, status, score) in enumerate(people):
        entry = Entry(student=student, path="x", layout="plain", name=name, canvas_id=canvas_id,
                      members=[{"name": name, "email": email}])
        run = Run(id=i, batch_id=None, student=student, source_path="x", content_sha256="", submission_sha256=None,
                  assignment="nn_basics", assignment_version="1", checks_sha256="", grader_version="0",
                  sandbox=None, status=status, score=score if status == "graded" else 0, max_score=55,
                  error=None, reason=None, started_at="", finished_at="", seconds=0.0, worker=None,
                  report=None, meta={})
        current.append((entry, run))
    grades = list(csv.reader(io.StringIO(batch.grades_csv(assignment, current))))
    canvas = list(csv.reader(io.StringIO(batch.canvas_csv(assignment, current))))
    assert len(grades) == 1 + len(people) and len(canvas) == 2 + len(people)
    for row in grades + canvas:
        for cell in row:
            assert not formula.match(cell) or is_number(cell), cell
    not_graded = sum(1 for _, r in current if r.status != "graded")
    assert sum(1 for row in canvas[2:] if row[5] == "") == not_graded   # no grade, never a 0
    assert all(is_number(row[5]) for row in canvas[2:] if row[5])
