"""Functions the nn_basics checks hand to a student's gradcheck_naive.

This file is copied into the sandbox (the student's code can see it), so it holds no answers:
each factory builds f(x) -> (cost, grad) from parameters the hidden check chooses. The f a
student's code gets is a stub: every call is answered by the grader, which builds f here, so
the parameters (a check's ``error`` or ``scale``) never enter the student's process. An f that
draws random numbers says so (``f.uses_random = True``): it then draws from the student's
``random`` and ``numpy.random`` states, as if it ran in the student's process.

Every f returns what the assignment's own functions return (the classic starter's
``quad = lambda x: (np.sum(x ** 2), x * 2)``): a numpy scalar cost and a numpy array gradient,
never a Python float. A student's checker may rightly read ``fx.shape`` or ``fx.dtype``; it
must not lose points because the grader's f is less numpy than the one it was written for.
"""

import random

import numpy as np


def quadratic(scale=1.0, coordinate=None, error=0.0, sign=1.0):
    """f(x) = sum(x**2). The gradient returned is 2x times ``sign * scale``, with the flat
    ``coordinate`` (if any) off by a relative ``error``: the knobs of a wrong gradient."""

    def f(x):
        grad = 2.0 * x * scale * sign
        if coordinate is not None:
            grad = grad.copy()
            grad.flat[coordinate] *= 1.0 + error
        return np.sum(x ** 2), grad

    return f


def linear(weights):
    """f(x) = sum(w * x): every finite difference with any h is exact here, so a checker that
    passes this but fails curved functions uses a forward difference or a changed h."""
    w = np.asarray(weights, dtype=float)

    def f(x):
        return np.sum(w * x), w.copy()

    return f


def cubic(error=0.0, scale=1.0):
    """f(x) = scale * sum(x**3): a central difference with h = 1e-4 is exact to ~1e-8 here, a
    forward difference is off by about 3*h*x, which the relative error test notices. With a
    large ``scale`` the numerical gradient is off by ~1e-4 in absolute terms (right in relative
    terms), so a checker that compares absolute differences against 1e-5 misjudges it."""

    def f(x):
        return scale * np.sum(x ** 3), scale * 3.0 * x ** 2 * (1.0 + error)

    return f


def cross_terms(matrix, error=0.0):
    """f(x) = x^T A x for 1-D x (gradient (A + A^T) x): coordinates interact."""
    A = np.asarray(matrix, dtype=float)

    def f(x):
        grad = (A + A.T).dot(x)
        return np.float64(x.dot(A).dot(x)), grad * (1.0 + error)

    return f


def random_weighted(error=0.0):
    """f(x) = w * sum(x**2) with w drawn from Python's random at every call: only a checker
    that calls random.setstate before every call of f sees one consistent w."""

    def f(x):
        w = np.float64(1.0 + 9.0 * random.random())
        return w * np.sum(x ** 2), 2.0 * w * x * (1.0 + error)

    f.uses_random = True  # evaluated in the grader with the student's random state, not its own
    return f


def exp_sum(error=0.0):
    """f(x) = sum(exp(x)): large curvature, so a changed h shows as a false failure."""

    def f(x):
        value = np.exp(x)
        return np.sum(value), value * (1.0 + error)

    return f


def steep_exp(a=30.0, error=0.0):
    """f(x) = sum(exp(a*x)) / a with its true gradient exp(a*x).

    A numerical gradient's error shows here: a forward difference with step h is off by a
    relative h*a/2 (1.5e-3 for h = 1e-4), a central difference by (h*a)**2 / 6: 1.5e-6 for
    h = 1e-4 (passes the 1e-5 test), 1.5e-4 for h = 1e-3 (fails it). A smaller step or the
    half-step central difference (f(x + h/2) - f(x - h/2)) / h is only more accurate."""

    def f(x):
        value = np.exp(a * x)
        return np.sum(value) / a, value * (1.0 + error)

    return f
