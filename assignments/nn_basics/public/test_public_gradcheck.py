"""Public checks for gradcheck_naive: the f it is handed is built in the sandbox from
sandbox_functions.py, and the verdict is what the checker printed."""

import numpy as np
import pytest

from grader.checks import CheckFailure, FunctionSpec, StudentError, explain


def verdict(submission, f, x):
    result = submission.run("gradcheck_naive", [f, x])
    if not result.ok:
        if result.error.get("type") == "AssertionError":
            return "failed", result.stdout
        raise StudentError(explain(result), result)
    text = result.stdout.lower()
    # the last of the two sentences asked for is the verdict; a line like "0 failed" is not
    said = {text.rfind("gradient check passed"): "passed", text.rfind("gradient check failed"): "failed"}
    if max(said) >= 0:
        return said[max(said)], result.stdout
    if "fail" in text:
        return "failed", result.stdout
    if "pass" in text:
        return "passed", result.stdout
    raise CheckFailure(f"gradcheck_naive printed {result.stdout.strip()[:300]!r}: it must print "
                       "'Gradient check passed!' or 'Gradient check failed.'")


@pytest.mark.problem("gradcheck_naive", points=0.5, visibility="visible")
def test_public_passes_right_gradient(submission):
    """public: passes the right gradient of sum(x**2) at x = [1, -2, 0.5]"""
    said, printed = verdict(submission, FunctionSpec("quadratic"), np.array([1.0, -2.0, 0.5]))
    if said != "passed":
        raise CheckFailure(f"gradcheck_naive said 'failed' for the right gradient 2x\n"
                           f"it printed: {printed.strip()[:300]}")


@pytest.mark.problem("gradcheck_naive", points=0.5, visibility="visible")
def test_public_fails_wrong_gradient(submission):
    """public: fails a gradient of sum(x**2) that is twice too large"""
    said, printed = verdict(submission, FunctionSpec("quadratic", scale=2.0),
                            np.array([1.0, -2.0, 0.5]))
    if said != "failed":
        raise CheckFailure(f"gradcheck_naive said 'passed' for the wrong gradient 4x\n"
                           f"it printed: {printed.strip()[:300]}\n"
                           "hint: compare with the relative error |a - b| / max(1, |a|, |b|) > 1e-5")
