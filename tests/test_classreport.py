"""report.html from synthetic rows: what an instructor reads must be true of the class.

Statistics over the graded students only (and the page says over how many), diagnoses only from
mutant-proven phrases in the grader's own text (one row per bug per student), an unexplained
row for the rest, failures per check, the slowest without warm-ups, no server paths, and an
empty class that says so."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from grader import batch, classreport
from grader.assignment import find
from grader.classreport import Row
from grader.gradebook import Gradebook

PROBLEMS = [("softmax", 10.0), ("sigmoid", 5.0)]
MUTANTS = [
    SimpleNamespace(problem="softmax", feedback="epsilon in the denominator", bug="adds 1e-8 to the denominator"),
    SimpleNamespace(problem="softmax", feedback="keepdims=True", bug="row maximum without keepdims"),
    SimpleNamespace(problem="softmax", feedback="the cost is", bug="a generic phrase"),
    SimpleNamespace(problem="softmax", feedback="cost is averaged over the examples", bug="averages the cost"),
    SimpleNamespace(problem="sigmoid", feedback="sign error", bug="1 / (1 + exp(x))"),
    SimpleNamespace(problem="sigmoid", feedback="Sign error", bug="the same phrase, another mutant"),
    SimpleNamespace(problem="sigmoid", feedback=None, bug="no phrase: proves nothing"),
]
KNOWN = classreport.known_diagnoses(MUTANTS)


def failed(problem: str, name: str, hints=(), failure: str = "", output: str = "") -> dict:
    return {"name": name, "status": "failed", "tags": [problem], "output": output,
            "extra_data": {"hints": list(hints), "failure": failure}}


def graded(student: str, score: float, tests=(), seconds: float = 1.0, **more) -> Row:
    checks = [(t["name"], t["tags"][0]) for t in tests] + [("softmax sums to one", "softmax"),
                                                         ("sigmoid of 0", "sigmoid")]
    return Row(student=student, status="graded", score=score, max_score=15, seconds=seconds,
               report={"problems": {"softmax": {"score": min(score, 10)}, "sigmoid": {"score": max(0, score - 10)}},
                       "tests": list(tests), "checks": checks}, **more)


def not_graded(student: str, status: str, error: str) -> Row:
    return Row(student=student, status=status, score=0, max_score=15, seconds=0.5, report=None, error=error)


class Tables(HTMLParser):
    """Every table of a page by id: a list of rows, each a list of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current: str | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.current = dict(attrs).get("id", "?")
            self.tables[self.current] = []
        elif tag == "tr" and self.current:
            self.tables[self.current].append([])
        elif tag in ("td", "th") and self.current:
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[self.current][-1].append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def tables(page: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(page)
    return parser.tables


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    """The plots are matplotlib's; here only whether they are drawn, and of whom, matters."""
    drawn = []

    def fake(rows, rates, max_score):
        drawn.append([r.student for r in rows])
        return {"distribution": "AA==", "pass_rate": "AA=="}

    monkeypatch.setattr(classreport, "plots", fake)
    return drawn


def render(rows: list[Row], **more) -> str:
    return classreport.render(rows, title="Neural network basics", problems=PROBLEMS, max_score=15,
                              generated="now", links={r.student: f"students/{r.student}/feedback.html" for r in rows},
                              known=KNOWN, **more)


def test_statistics_are_over_the_graded_and_say_how_many(no_plots):
    rows = [graded("ann", 10), graded("bob", 12), graded("cy", 15),
            not_graded("dee", "unreadable", "dee.zip is not a readable zip file"),
            not_graded("eve", "timeout", "grading took longer than 90 s; stopped")]
    page = render(rows)
    stats = dict(tables(page)["stats"])
    assert stats["students"] == "5" and stats["graded"] == "3"
    assert stats["not graded"] == "2 (1 timeout, 1 unreadable)"
    assert stats["mean"] == "12.33" and stats["median"] == "12"       # not 7.4 with two zeros
    assert stats["full marks"] == "1"
    assert "over the 3 graded students" in page and "not counted as 0" in page
    assert no_plots == [["ann", "bob", "cy"]]                           # the plots: graded only
    assert [r[0] for r in tables(page)["not-graded"][1:]] == ["eve", "dee"]
    rates = {r[0]: r[1] for r in tables(page)["pass-rates"][1:]}
    assert rates == {"softmax": "100%", "sigmoid": "33%"}                # of 3, not of 5


def test_roster_has_every_student_with_score_status_and_link():
    rows = [graded("zed", 15), graded("amy", 9), not_graded("kim", "grader-error", "internal failure")]
    page = render(rows)
    roster = tables(page)["roster"]
    assert roster[0][:3] == ["student", "score", "status"]
    assert [(r[0], r[1], r[2]) for r in roster[1:]] == [
        ("amy", "9 / 15", "points lost"), ("kim", "-", "grader-error"), ("zed", "15 / 15", "full marks")]
    for student in ("amy", "kim", "zed"):
        assert f'<a href="students/{student}/feedback.html">{student}</a>' in page
    assert '<input id="search"' in page and "<script>" in page


def test_one_row_per_bug_per_student_from_the_mutant_phrase_only():
    epsilon = "rows sum to 0.99999999, not 1: is there an epsilon in the denominator?"
    ann = graded("ann", 7, [failed("softmax", f"check {i}", hints=[epsilon]) for i in range(3)])
    bob = graded("bob", 9, [failed("softmax", "check 0", failure=f"the check failed: {epsilon}")])
    # the phrase only in the student's own output, and a hint with no proven phrase
    cy = graded("cy", 9, [failed("softmax", "check 0", hints=["work row by row"],
                                 output="hint: epsilon in the denominator")])
    bugs = classreport.common_bugs([ann, bob, cy], KNOWN)
    assert [(b.problem, b.diagnosis, b.kind, b.students) for b in bugs] == [
        ("softmax", "adds 1e-8 to the denominator", "proven", ["ann", "bob"]),
        ("softmax", classreport.UNEXPLAINED, "unexplained", ["cy"])]
    rows = tables(render([ann, bob, cy]))["bugs"]
    assert rows[1][:3] == ["2", "softmax", "adds 1e-8 to the denominator"]
    assert rows[2][:3] == ["1", "softmax", classreport.UNEXPLAINED] and len(rows) == 3


def test_counts_per_problem_say_how_many_lost_points_and_how_many_are_explained():
    epsilon = failed("softmax", "a", hints=["is there an epsilon in the denominator?"])
    rows = [graded("ann", 5, [epsilon]), graded("bob", 5, [failed("softmax", "b", hints=["no idea"])]),
            graded("cy", 15), not_graded("dee", "timeout", "t")]
    assert classreport.problem_counts(rows, PROBLEMS, KNOWN) == {"softmax": (2, 1, 1), "sigmoid": (2, 0, 2)}
    table = tables(render(rows))["pass-rates"]
    assert table[0][3:] == ["lost points", "diagnosed", "unexplained"] and table[1][3:] == ["2", "1", "1"]


def test_a_phrase_counts_only_in_its_own_problem_and_shared_phrases_merge():
    sign = graded("ann", 10, [failed("sigmoid", "s", hints=["sign error: 1 / (1 + exp(-x))"]),
                              failed("softmax", "t", hints=["sign error somewhere"])])
    found = classreport.student_bugs(sign, KNOWN)
    assert found == {("sigmoid", "1 / (1 + exp(x)); or the same phrase, another mutant"): "proven",
                     ("softmax", classreport.UNEXPLAINED): "unexplained"}
    assert len(KNOWN) == 5    # the mutant without a phrase proves nothing


def test_the_leading_phrase_is_the_diagnosis_not_the_advice_after_it():
    advice = failed("softmax", "a", hints=["the cost is averaged over the examples: subtract with keepdims=True"])
    assert classreport.diagnose(advice, KNOWN) == ("hint", ["averages the cost"])
    first = failed("softmax", "c", hints=["use keepdims=True, and is there an epsilon in the denominator?"])
    assert classreport.diagnose(first, KNOWN) == ("hint", ["row maximum without keepdims"])
    plain = failed("softmax", "b", hints=["the cost is 3.2, expected 4"])
    assert classreport.diagnose(plain, KNOWN) == ("hint", ["a generic phrase"])


def test_a_hinted_bug_outranks_a_summary_only_one_in_the_same_problem():
    row = graded("ann", 5, [failed("softmax", "a", hints=["is there an epsilon in the denominator?"]),
                            failed("softmax", "b", hints=["backpropagate exactly"], failure="the cost is 3, not 4")])
    assert classreport.student_bugs(row, KNOWN) == {("softmax", "adds 1e-8 to the denominator"): "proven"}
    alone = graded("bob", 5, [failed("softmax", "b", failure="the cost is 3, not 4")])
    assert classreport.student_bugs(alone, KNOWN) == {("softmax", "a generic phrase"): "proven"}


def test_time_limits_are_observed_not_diagnosed():
    row = graded("ann", 10, [failed("sigmoid", "big x", failure="sigmoid ran past its time limit of 2 s")])
    bugs = classreport.common_bugs([row], KNOWN)
    assert [(b.kind, b.diagnosis[:23]) for b in bugs] == [("observed", "ran past its time limit")]


def test_failures_per_check_count_students_and_list_checks_nobody_failed():
    a = graded("ann", 5, [failed("softmax", "large logits", hints=["x"]), failed("sigmoid", "big x")])
    b = graded("bob", 10, [failed("softmax", "large logits", hints=["y"])])
    c = graded("cy", 15)
    assert classreport.check_failures([a, b, c, not_graded("dee", "timeout", "t")]) == [
        ("large logits", "softmax", 2, 3), ("big x", "sigmoid", 1, 3),
        ("sigmoid of 0", "sigmoid", 0, 3), ("softmax sums to one", "softmax", 0, 3)]
    rows = tables(render([a, b, c]))["checks"]
    assert rows[1] == ["2", "3", "softmax", "large logits"]


def test_slowest_leaves_out_the_warm_ups_and_flags_them():
    rows = [graded("first", 15, seconds=3.0, warmup=True), graded("slow", 15, seconds=1.5),
            graded("fast", 15, seconds=0.2)]
    assert [r.student for r in classreport.slowest(rows)] == ["slow", "fast"]
    page = render(rows)
    assert [r[0] for r in tables(page)["slowest"][1:]] == ["slow", "fast"]
    assert "first (3.00 s)" in page
    roster = {r[0]: r[3] for r in tables(page)["roster"][1:]}
    assert roster["first"] == "3.00 warm-up" and roster["slow"] == "1.50"


def test_warm_ups_are_each_grading_process_first_run(tmp_path):
    with Gradebook(str(tmp_path / "g.sqlite")) as book:
        batch_id = book.begin_batch(submissions_dir="s", assignment="a", executor="local", jobs=2, students=4)
        ids = {}
        for student, worker, started in [("b", "local-0", "12:00:02"), ("a", "local-0", "12:00:01"),
                                         ("c", "local-1", "12:00:01"), ("d", "local-1", "12:00:03")]:
            ids[student] = book.record(batch_id=batch_id, student=student, source_path="p", content_sha256="0",
                                       assignment="a", assignment_version="1", checks_sha256="0",
                                       grader_version="0", status="unreadable", report=None, max_score=1,
                                       error="e", reason="new", started_at=f"2026-01-01T{started}.000",
                                       finished_at="x", seconds=1, worker=worker)
        assert batch.warmup_runs(book, {batch_id}) == {ids["a"], ids["c"]}
        assert batch.warmup_runs(book, {None}) == set()


def test_an_empty_class_says_so_and_draws_nothing(no_plots):
    page = render([])
    assert "No submissions" in page and "<img" not in page and no_plots == []
    assert "id=\"roster\"" not in page
    nobody_graded = render([not_graded("ann", "unreadable", "ann.zip is not a readable zip file")])
    assert "No submission could be graded" in nobody_graded and "<img" not in nobody_graded
    assert no_plots == []


def test_no_server_paths_in_the_page():
    rows = [not_graded("ann", "unreadable", "/srv/course/subs/ann/q1.ipynb is not a valid notebook; open it"),
            not_graded("bob", "grader-error", "cannot read /home/ta/out/.staging/bob/x.py: denied")]
    page = render(rows)
    why = {r[0]: r[2] for r in tables(page)["not-graded"][1:]}
    assert why == {"ann": "q1.ipynb is not a valid notebook; open it", "bob": "cannot read x.py: denied"}
    assert not re.search(r"(/srv|/home|/tmp)/", page)
    assert classreport.no_paths("a ratio 1/2 and and/or stay") == "a ratio 1/2 and and/or stay"


def test_student_text_is_escaped_everywhere():
    evil = "<img src=x onerror=alert(1)>"
    page = render([graded(evil, 5, [failed("softmax", evil, hints=[evil])]), not_graded(evil + "2", "timeout", evil)])
    assert evil not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_assignments_mutants_give_the_known_diagnoses():
    """Loaded by grader validate's own loader; every mutant with a phrase becomes one."""
    from grader import validate

    assignment = find("nn_basics")
    known = batch.known_diagnoses(assignment, log=pytest.fail)
    phrased = {(m.problem, m.feedback.lower()) for m in validate.load_mutants(assignment) if m.feedback}
    assert {(k.problem, k.phrase.lower()) for k in known} == phrased and len(known) > 30


def test_unreadable_mutants_are_no_diagnoses_with_a_warning(tmp_path):
    assignment = find("nn_basics")
    broken = SimpleNamespace(**{**vars(assignment), "folder": str(tmp_path)})
    os.makedirs(tmp_path / "mutants")
    (tmp_path / "mutants" / "mutants.toml").write_text("[[mutant]\n")
    said = []
    assert batch.known_diagnoses(broken, log=said.append) == [] and "mutants.toml" in said[0]
