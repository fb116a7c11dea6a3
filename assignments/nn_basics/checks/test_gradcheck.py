"""Hidden checks for gradcheck_naive: it must pass right gradients, fail wrong ones (even subtly
wrong ones), reset the random state before every call of f, use central differences with
h = 1e-4 and the relative error |a - b| / max(1, |a|, |b|) against 1e-5, and leave x alone.

The f handed to the student's checker is built inside the sandbox from sandbox_functions.py;
what comes back is what the checker printed or raised, and x as it was afterwards. The verdict
may be printed in any case ("Gradient check passed!" / "failed") or, for a failure, raised as
an AssertionError.
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, FunctionSpec, StudentError, explain, show

H_HINT = ("a forward difference or a changed h misjudges this function: use the central "
          "difference (f(x + h) - f(x - h)) / (2h) with h = 1e-4 (a smaller step is fine, a "
          "larger one is not accurate enough)")
RANDOM_HINT = ("the random state is not reset before each call of f: call "
               "random.setstate(rndstate) (Python's random, not np.random) before every call, "
               "so f sees the same random draws each time")
RELATIVE_HINT = ("compare every coordinate with the relative error |a - b| / max(1, |a|, |b|) "
                 "against 1e-5")


def error_hint(result, x):
    """A hint for a checker that raised on x (or None)."""
    message = (result.error or {}).get("message", "")
    if np.ndim(x) == 0 and ("unsized object" in message or "0-d array" in message):
        return ("visit every entry of x with np.nditer(x, flags=['multi_index']): a 0-d x has "
                "no len() and cannot be looped over")
    if np.ndim(x) >= 2 and "truth value of an array" in message:
        return ("visit every entry of x with np.nditer(x, flags=['multi_index']): x[i] of a "
                "matrix is a whole row")
    return None


def raise_student_error(submission, result, x):
    hint = error_hint(result, x)
    message = explain(result, submission.load_problems_for("gradcheck_naive"))
    raise StudentError(message + (f"\nhint: {hint}" if hint else ""), result, [hint] if hint else [])


def verdict(submission, f, x):
    """('passed' or 'failed', the call result), as the student's checker said it."""
    result = submission.run("gradcheck_naive", [f, x], return_args=True)
    if not result.ok:
        if result.error.get("type") == "AssertionError":
            return "failed", result
        raise_student_error(submission, result, x)
    text = result.stdout.lower()
    # The verdict is the last of the two sentences the spec asks for; only a checker that
    # prints neither is read by the words alone (a debug line such as "0 failed" or "fails
    # above 1e-5" beside "Gradient check passed!" is no verdict).
    said = {text.rfind("gradient check passed"): "passed", text.rfind("gradient check failed"): "failed"}
    if max(said) >= 0:
        return said[max(said)], result
    if "fail" in text:
        return "failed", result
    if "pass" in text:
        return "passed", result
    if not result.stdout.strip():
        raise CheckFailure("gradcheck_naive printed nothing, so it gave no verdict\n"
                           "hint: print 'Gradient check passed!' or "
                           "'Gradient check failed.' (or raise AssertionError for a failure); a "
                           "returned value is not read")
    raise CheckFailure("gradcheck_naive gave no verdict: its output says neither 'passed' nor 'failed'\n"
                       "hint: print 'Gradient check passed!' or 'Gradient check failed.'\n"
                       f"it printed: {result.stdout.strip()[:300]}")


def said_quietly(submission, f, x):
    """The checker's verdict on a control case, or None if it gave none; the control call is
    not recorded as the check's input (the feedback shows the case that failed)."""
    recorded = len(submission.calls)
    try:
        return verdict(submission, f, x)[0]
    except CheckFailure:
        return None
    finally:
        del submission.calls[recorded:]


def expect(submission, f, x, wanted, hint=None, control=None, otherwise=None):
    """Fail unless the checker says ``wanted`` for f at x. ``hint`` names the likely bug, but
    only when the checker gets the ``control`` case (f, x) right (else ``otherwise``): a bug
    that breaks everything is not blamed on, say, the random state."""
    said, result = verdict(submission, f, x)
    if said != wanted:
        what = "right" if wanted == "passed" else "wrong"
        message = (f"gradcheck_naive said '{said}' for a {what} gradient ({f!r} at x of shape "
                   f"{np.shape(x)})")
        if hint and control is not None:
            control_f, control_x = control
            if said_quietly(submission, control_f, control_x) != wanted:
                hint = otherwise
        if hint:
            message += f"\nhint: {hint}"
        if result.stdout.strip():
            message += f"\nit printed: {result.stdout.strip()[:500]}"
        raise CheckFailure(message)
    return result


def points(shape, seed):
    return np.random.default_rng(seed).normal(size=shape)


def linear_at(x):
    """A control: a linear function, whose gradient every finite difference gets exactly."""
    return FunctionSpec("linear", weights=np.linspace(-1.5, 2.0, max(np.size(x), 1)).reshape(np.shape(x)))


@pytest.mark.problem("gradcheck_naive", points=1)
def test_passes_quadratic_vector(submission):
    """passes the right gradient of sum(x**2) at a vector"""
    x = points((5,), 20)
    expect(submission, FunctionSpec("quadratic"), x, "passed", H_HINT, control=(linear_at(x), x))


@pytest.mark.problem("gradcheck_naive", points=1.5)
def test_passes_quadratic_matrix(submission):
    """passes the right gradient of sum(x**2) at a 3 x 4 matrix"""
    expect(submission, FunctionSpec("quadratic"), points((3, 4), 21), "passed",
           "visit every entry of a 2-D x (np.nditer with multi_index), not only its rows",
           control=(FunctionSpec("quadratic"), points((5,), 20)))


@pytest.mark.problem("gradcheck_naive", points=1)
def test_passes_scalar_x(submission):
    """passes the right gradient at a 0-d array (a scalar x)"""
    expect(submission, FunctionSpec("quadratic"), np.array(1.5), "passed",
           "a 0-d x has no len() and no rows: np.nditer visits its single entry",
           control=(FunctionSpec("quadratic"), points((5,), 20)))


@pytest.mark.problem("gradcheck_naive", points=1)
def test_passes_cross_terms(submission):
    """passes the right gradient of x^T A x, whose coordinates interact"""
    A = np.random.default_rng(22).normal(size=(4, 4))
    expect(submission, FunctionSpec("cross_terms", matrix=A), points((4,), 23), "passed")


@pytest.mark.problem("gradcheck_naive", points=2)
def test_passes_function_using_random(submission):
    """passes a right gradient of a function that draws from Python's random module"""
    x = points((2, 3), 24)
    expect(submission, FunctionSpec("random_weighted"), x, "passed", RANDOM_HINT,
           control=(FunctionSpec("quadratic"), x))


@pytest.mark.problem("gradcheck_naive", points=1)
def test_passes_large_values(submission):
    """passes the right gradient of a function with large values (relative, not absolute, error)"""
    x = np.array([1.0, -2.0, 3.0])
    expect(submission, FunctionSpec("cubic", scale=1e4), x, "passed",
           "use the relative error, not the absolute difference (~1e-4 here, while the relative "
           "error is ~1e-9): " + RELATIVE_HINT, control=(FunctionSpec("cubic"), x))


@pytest.mark.problem("gradcheck_naive", points=1)
def test_passes_near_zero_gradient(submission):
    """passes the right gradient where some coordinates of the gradient are nearly 0"""
    expect(submission, FunctionSpec("quadratic"), np.array([300.0, 1e-7, -200.0, 2e-6]), "passed",
           "divide by max(1, |a|, |b|), not max(|a|, |b|): near 0 rounding noise is not an error",
           control=(FunctionSpec("quadratic"), np.array([300.0, 0.5, -200.0, 2.0])))


@pytest.mark.problem("gradcheck_naive", points=1.5)
def test_central_difference_with_h_1e4(submission):
    """uses a central difference with a step of h = 1e-4 or smaller (cubic and exponential functions)"""
    # Each f returns its true gradient, so only the accuracy of the student's numerical gradient
    # is on trial: a forward difference (O(h) error) or a step of 1e-3 or more (the central
    # difference's O(h**2) error, 1.5e-4 on steep_exp) fails; h = 1e-4, a smaller h and the
    # half-step central difference (f(x + h/2) - f(x - h/2)) / h all pass.
    for name, x in (("cubic", [1.0, -2.0, 3.0]), ("exp_sum", [2.0, 3.0, 4.5]),
                    ("steep_exp", [0.0, 0.005, 0.01, 0.02])):
        x = np.array(x)
        expect(submission, FunctionSpec(name), x, "passed", H_HINT, control=(linear_at(x), x))


@pytest.mark.problem("gradcheck_naive", points=1)
def test_fails_one_coordinate_off(submission):
    """fails a gradient with one coordinate (of six) off by 1%"""
    x = points((2, 3), 25) + 2.0
    expect(submission, FunctionSpec("quadratic", coordinate=3, error=0.01), x, "failed",
           "check every coordinate, not only the first, before saying 'passed'",
           control=(FunctionSpec("quadratic", coordinate=0, error=0.01), x),
           otherwise="a 1% error must fail: " + RELATIVE_HINT)


@pytest.mark.problem("gradcheck_naive", points=1)
def test_fails_small_relative_error(submission):
    """fails a gradient with one coordinate off by 5e-5 (relative), above the 1e-5 tolerance"""
    # sum(x**2) is exact under any central difference (h = 1e-4, smaller, or half steps), so
    # the relative error seen is the planted 5e-5 (rounding adds < 1e-9): five times the 1e-5
    # tolerance, half of a loosened 1e-4.
    x = np.array([2.0, -1.5, 0.5])
    expect(submission, FunctionSpec("quadratic", coordinate=0, error=5e-5), x, "failed",
           "a relative error of 5e-5 must fail: is the tolerance looser than 1e-5? " + RELATIVE_HINT,
           control=(FunctionSpec("quadratic", coordinate=0, error=0.01), x),
           otherwise="a wrong gradient must fail: " + RELATIVE_HINT)


@pytest.mark.problem("gradcheck_naive", points=1)
def test_fails_scaled_gradient(submission):
    """fails a gradient scaled by 1.5% everywhere"""
    expect(submission, FunctionSpec("quadratic", scale=1.015), points((4,), 26) + 2.0, "failed",
           RELATIVE_HINT)


@pytest.mark.problem("gradcheck_naive", points=1)
def test_fails_sign_error(submission):
    """fails a gradient with the wrong sign"""
    expect(submission, FunctionSpec("quadratic", sign=-1.0), points((3,), 27), "failed")


@pytest.mark.problem("gradcheck_naive", points=1)
def test_leaves_x_unchanged(submission):
    """leaves x as it found it"""
    x = points((3, 2), 28)
    result = submission.run("gradcheck_naive", [FunctionSpec("quadratic"), x.copy()], return_args=True)
    if not result.ok and result.error.get("type") != "AssertionError":
        raise_student_error(submission, result, x)
    after = result.args_after[1] if result.args_after and len(result.args_after) > 1 else None
    if isinstance(after, np.ndarray) and after.shape == x.shape and np.allclose(after, x, rtol=1e-12, atol=1e-15):
        return
    if isinstance(after, np.ndarray) and after.shape == x.shape:
        changed = ~np.isclose(after, x, rtol=1e-12, atol=1e-15)
        summary = (f"x was not restored: {int(changed.sum())} of {x.size} entries differ after "
                   f"gradcheck_naive (largest change {float(np.max(np.abs(after - x))):.3g})")
    else:
        summary = "x was not restored: it came back as something else than the array handed in"
    raise CheckFailure(f"{summary}\nhint: set x[ix] back to its old value after evaluating "
                       f"f(x + h) and f(x - h)\nbefore: {show(x)}\nafter:  {show(after)}")
