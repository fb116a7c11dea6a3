"""Hidden checks for gradcheck_naive: it must pass right gradients, fail wrong ones, reset the
random state before every call of f, use central differences with h = 1e-4, and leave x alone.

The f handed to the student's checker is built inside the sandbox from sandbox_functions.py;
what comes back is what the checker printed or raised, and x as it was afterwards.
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, FunctionSpec, StudentError, explain

H_HINT = ("use the central difference (f(x + h) - f(x - h)) / (2h) with h = 1e-4; a forward "
          "difference or another h misjudges this function")
RANDOM_HINT = ("call random.setstate(rndstate) before every call of f, including the first, "
               "so f sees the same random draws each time")


def verdict(submission, f, x):
    """'passed' or 'failed', as the student's checker said it (printed, or by AssertionError)."""
    result = submission.run("gradcheck_naive", [f, x], return_args=True)
    if not result.ok:
        if result.error.get("type") == "AssertionError":
            return "failed", result
        raise StudentError(explain(result), result)
    text = result.stdout.lower()
    if "fail" in text:
        return "failed", result
    if "pass" in text:
        return "passed", result
    shown = result.stdout.strip()[:300] or "nothing"
    raise CheckFailure(f"gradcheck_naive printed {shown!r}: it must print 'Gradient check passed!' "
                       "or 'Gradient check failed.' (or raise AssertionError for a failure)")


def expect(submission, f, x, wanted, hint=None):
    said, result = verdict(submission, f, x)
    if said != wanted:
        what = "right" if wanted == "passed" else "wrong"
        message = (f"gradcheck_naive said '{said}' for a {what} gradient ({f!r} at x of shape "
                   f"{np.shape(x)})")
        if result.stdout.strip():
            message += f"\nit printed: {result.stdout.strip()[:500]}"
        if hint:
            message += f"\nhint: {hint}"
        raise CheckFailure(message)
    return result


def points(shape, seed):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.problem("gradcheck_naive", points=2)
def test_passes_quadratic_vector(submission):
    """passes the right gradient of sum(x**2) at a vector"""
    expect(submission, FunctionSpec("quadratic"), points((5,), 20), "passed")


@pytest.mark.problem("gradcheck_naive", points=2)
def test_passes_quadratic_matrix(submission):
    """passes the right gradient of sum(x**2) at a 3 x 4 matrix"""
    expect(submission, FunctionSpec("quadratic"), points((3, 4), 21), "passed")


@pytest.mark.problem("gradcheck_naive", points=1)
def test_passes_scalar_x(submission):
    """passes the right gradient at a 0-d array"""
    expect(submission, FunctionSpec("quadratic"), np.array(1.5), "passed")


@pytest.mark.problem("gradcheck_naive", points=1)
def test_passes_cross_terms(submission):
    """passes the right gradient of x^T A x, whose coordinates interact"""
    A = np.random.default_rng(22).normal(size=(4, 4))
    expect(submission, FunctionSpec("cross_terms", matrix=A), points((4,), 23), "passed")


@pytest.mark.problem("gradcheck_naive", points=2)
def test_passes_function_using_random(submission):
    """passes a right gradient of a function that draws from Python's random module"""
    expect(submission, FunctionSpec("random_weighted"), points((2, 3), 24), "passed", RANDOM_HINT)


@pytest.mark.problem("gradcheck_naive", points=1)
def test_central_difference_with_h_1e4(submission):
    """uses the central difference with h = 1e-4 (cubic and exponential functions)"""
    expect(submission, FunctionSpec("cubic"), np.array([1.0, -2.0, 3.0]), "passed", H_HINT)
    expect(submission, FunctionSpec("exp_sum"), np.array([2.0, 3.0, 4.5]), "passed", H_HINT)
    expect(submission, FunctionSpec("steep_exp"), np.array([0.0, 0.005, 0.01, 0.02]), "passed", H_HINT)


@pytest.mark.problem("gradcheck_naive", points=2)
def test_fails_one_coordinate_off(submission):
    """fails a gradient with one coordinate off by 1%"""
    expect(submission, FunctionSpec("quadratic", coordinate=3, error=0.01),
           points((2, 3), 25) + 2.0, "failed",
           "compare every coordinate, with the relative error |a - b| / max(1, |a|, |b|) against 1e-5")


@pytest.mark.problem("gradcheck_naive", points=1)
def test_fails_scaled_gradient(submission):
    """fails a gradient scaled by 1.5%"""
    expect(submission, FunctionSpec("quadratic", scale=1.015), points((4,), 26) + 2.0, "failed")


@pytest.mark.problem("gradcheck_naive", points=1)
def test_fails_sign_error(submission):
    """fails a gradient with the wrong sign"""
    expect(submission, FunctionSpec("quadratic", sign=-1.0), points((3,), 27), "failed")


@pytest.mark.problem("gradcheck_naive", points=2)
def test_leaves_x_unchanged(submission):
    """leaves x as it found it"""
    x = points((3, 2), 28)
    result = expect(submission, FunctionSpec("quadratic"), x.copy(), "passed")
    after = result.args_after[1] if result.args_after and len(result.args_after) > 1 else None
    if not isinstance(after, np.ndarray) or after.shape != x.shape or not np.allclose(after, x, rtol=1e-12, atol=1e-15):
        raise CheckFailure(f"x was changed by gradcheck_naive: before {x.tolist()}, after "
                           f"{after.tolist() if isinstance(after, np.ndarray) else after!r}; "
                           "restore x[ix] after each pair of evaluations")
