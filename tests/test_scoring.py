"""Unit tests for turning pytest-json-report records into points."""

from grader import assignment, scoring


def record(problem, points, outcome, feedback=None, notes=None):
    meta = {"problem": problem, "points": points, "title": f"{problem} check", "visibility": "visible"}
    if feedback:
        meta["feedback"] = feedback
    if notes:
        meta["notes"] = notes
    return {"nodeid": "x", "outcome": outcome, "metadata": meta}


def test_points_per_check_and_problem():
    nn = assignment.find("nn_basics")
    tests = scoring.score_tests({"tests": [
        record("softmax", 2, "passed"),
        record("softmax", 1.5, "failed", feedback="rows sum to 1.00001"),
        record("sigmoid", 1, "error", feedback="boom"),
        record("sigmoid", 1, "passed", notes=["cost convention found: mean"]),
    ]})
    assert [t["score"] for t in tests] == [2, 0, 0, 1]
    assert tests[1]["output"] == "rows sum to 1.00001" and tests[1]["status"] == "failed"
    assert tests[3]["output"] == "cost convention found: mean"
    assert tests[0]["name"] == "softmax: softmax check" and tests[0]["tags"] == ["softmax"]
    problems = scoring.score_problems(tests, nn)
    assert problems["softmax"] == {"score": 2, "max_score": 3.5, "status": "failed", "title": "softmax"}
    assert problems["sigmoid"]["score"] == 1 and problems["sigmoid"]["status"] == "failed"
    assert problems["gradcheck_naive"]["max_score"] == 0


def test_a_check_without_outcome_earns_nothing():
    tests = scoring.score_tests({"tests": [record("softmax", 3, "skipped")]})
    assert tests[0]["score"] == 0 and tests[0]["status"] == "failed"
