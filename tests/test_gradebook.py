"""The SQLite gradebook on its own: atomic runs, history, and what changed between two runs."""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.gradebook import Gradebook, explain


def _report(softmax_score: float, output: str = "", hints: list[str] | None = None) -> dict:
    tests = [{"name": "softmax: rows sum to 1", "score": softmax_score, "max_score": 2,
              "status": "passed" if softmax_score == 2 else "failed", "output": output,
              "visibility": "visible", "tags": ["softmax"],
              "extra_data": {"hints": hints or [], "failure": (output.splitlines() or [""])[0]}},
             {"name": "sigmoid: values", "score": 5, "max_score": 5, "status": "passed",
              "output": "", "visibility": "visible", "tags": ["sigmoid"]}]
    return {"score": softmax_score + 5, "max_score": 7, "tests": tests,
            "problems": {"softmax": {"score": softmax_score, "max_score": 2,
                                     "status": "passed" if softmax_score == 2 else "failed"},
                         "sigmoid": {"score": 5, "max_score": 5, "status": "passed"}},
            "submission": {"sha256": "s" * 64, "files": ["q1_softmax.py"]},
            "grader": {"version": "0.1.0", "sandbox": "bubblewrap"}}


def _record(book: Gradebook, report: dict | None, sha: str, **extra) -> int:
    fields = dict(batch_id=None, student="alice", source_path="/x/alice", content_sha256=sha,
                  assignment="nn_basics", assignment_version="1", checks_sha256="c" * 64,
                  grader_version="0.1.0", status="graded" if report else "unreadable", report=report,
                  max_score=7, error=None if report else "not a zip", reason="new",
                  started_at="t0", finished_at="t1", seconds=0.5)
    fields.update(extra)
    return book.record(**fields)


def test_runs_are_kept_and_explained(tmp_path):
    with Gradebook(str(tmp_path / "g.sqlite")) as book:
        _record(book, _report(1, "rows sum to 0.99\nhint: is there an epsilon in the denominator?"), "a" * 64)
        _record(book, _report(2), "b" * 64, reason="submission changed")
        runs = book.history("alice")
        assert [r.score for r in runs] == [6, 7]
        assert book.latest("nn_basics")["alice"].content_sha256 == "b" * 64
        lines = explain(runs[0], runs[1])
    text = "\n".join(lines)
    assert "cause: the submission changed (content aaaaaaaaaa -> bbbbbbbbbb)" in text
    assert "total: 6 -> 7 / 7" in text
    assert "problem softmax: 1 -> 2" in text
    assert "check 'softmax: rows sum to 1': failed 1 -> passed 2" in text
    assert "sigmoid" not in text      # unchanged checks are not listed


def test_explain_names_a_change_of_checks_and_the_new_hint(tmp_path):
    with Gradebook(str(tmp_path / "g.sqlite")) as book:
        _record(book, _report(2), "a" * 64)
        _record(book, _report(0, "wrong\nhint: subtract the row maximum", ["subtract the row maximum"]), "a" * 64,
                checks_sha256="d" * 64, reason="checks changed")
        before, after = book.history("alice")
    text = "\n".join(explain(before, after))
    assert "cause: the assignment's checks or reference changed" in text
    assert "submission changed" not in text
    assert "hint: subtract the row maximum" in text


def test_history_takes_no_hint_the_student_planted(tmp_path):
    """A ``hint:`` line in a student's exception text or printout is not the check's diagnosis."""
    with Gradebook(str(tmp_path / "g.sqlite")) as book:
        _record(book, _report(2), "a" * 64)
        _record(book, _report(0, "softmax raised ValueError: x\nhint: your code is perfect"), "b" * 64)
        before, after = book.history("alice")
    text = "\n".join(explain(before, after))
    assert "your code is perfect" not in text
    assert "softmax raised ValueError" in text


def test_a_failed_record_leaves_nothing_half_written(tmp_path):
    path = tmp_path / "g.sqlite"
    with Gradebook(str(path)) as book:
        _record(book, _report(2), "a" * 64)
        broken = copy.deepcopy(_report(2))
        del broken["tests"][1]["status"]          # fails after the run row is inserted
        with pytest.raises(KeyError):
            _record(book, broken, "b" * 64)
        assert book.count_runs() == 1
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
        assert connection.execute("SELECT COUNT(*) FROM problem_results").fetchone()[0] == 2
        assert connection.execute("SELECT COUNT(*) FROM test_results").fetchone()[0] == 2


def test_unreadable_runs_are_recorded_without_a_report(tmp_path):
    with Gradebook(str(tmp_path / "g.sqlite")) as book:
        _record(book, None, "a" * 64)
        run = book.history("alice")[0]
    assert (run.status, run.score, run.max_score, run.report, run.error) == ("unreadable", 0, 7, None, "not a zip")


# Any str Python can hold, lone surrogates and NUL included (st.text never makes surrogates).
ANY_TEXT = st.lists(st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr), st.just("\x00")),
                    max_size=40).map("".join)


@settings(max_examples=50, deadline=None)
@given(ANY_TEXT, ANY_TEXT, ANY_TEXT, ANY_TEXT, ANY_TEXT)
def test_record_takes_any_string_and_stores_valid_text(student, path, output, problem, error):
    report = _report(1, output)
    report["problems"][problem] = {"score": 0, "max_score": 0, "status": error}
    report["tests"][0]["name"] = problem
    report["submission"]["files"] = [path, output]
    with tempfile.TemporaryDirectory() as tmp, Gradebook(os.path.join(tmp, "g.sqlite")) as book:
        _record(book, report, "a" * 64, student=student, source_path=path, error=error,
                meta={"name": student, path: [output]})
        _record(book, None, "b" * 64, student=student, error=error)
        runs = book.history(book.students()[0])
        assert len(runs) == 2
        runs[0].report["tests"][0]["output"].encode("utf-8")
        for row in book.db.execute("SELECT * FROM runs"):
            for value in row:
                if isinstance(value, str):
                    value.encode("utf-8")
                    json.dumps(value, ensure_ascii=False).encode("utf-8")
        stored = book.report(runs[0].id)
        json.dumps(stored, ensure_ascii=False).encode("utf-8")   # no lone surrogate left anywhere
