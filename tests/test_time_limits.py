"""A function that runs past its time limit is reported once, where it happened: the checks where
it was stopped say so with the limit, and the checks after it (where it is no longer run) point
at the first of them in one short line (grader/checks/proxy.py, ``SubmissionProxy``)."""

from __future__ import annotations

from conftest import FIXTURES, grade

FULL = "sigmoid did not finish within its time limit of 2 s (it was stopped)"


def test_an_endless_loop_is_told_once_with_its_limit_and_first_check(tmp_path):
    report, done = grade(FIXTURES / "infinite_loop_sigmoid", tmp_path)
    tests = report["tests"]  # in the order the checks ran
    stopped = [t for t in tests if FULL in t["output"]]
    assert 1 <= len(stopped) <= 2  # the session stops running it after two strikes
    first = stopped[0]["name"]
    skipped = [t for t in tests if t["tags"] == ["sigmoid"] and t not in stopped]
    assert skipped and all(t["status"] == "failed" for t in skipped)
    assert all(t["output"] == f"not run: sigmoid ran past its time limit in check '{first}'" for t in skipped)
    assert not any("earlier checks" in t["output"] for t in tests)
    assert done.stdout.count("time limit of 2 s") == 1   # said once, however many checks hit it
