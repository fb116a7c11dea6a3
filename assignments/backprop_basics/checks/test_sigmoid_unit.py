"""Hidden checks for sigmoid_unit(x, w): f = sigmoid(w0 * x + w1) and (f, dfdx, dfdw).

The return convention: a tuple (f, dfdx, dfdw) with dfdw = [df/dw0, df/dw1]. Values are compared
with the reference at rtol 1e-7, the derivatives also with central differences of the student's
own f, so a derivative that does not belong to its own f is named as such.
"""

import numpy as np
import pytest

from grader.checks import CheckFailure, as_numeric, assert_close, call_student

RTOL = 1e-7
CONVENTION = "return (f, dfdx, dfdw) with dfdw = np.array([df/dw0, df/dw1])"
# (x, w0, w1): signs of x, w0 and of z = w0 * x + w1 all vary; x != w0 so swaps show
POINTS = [(2.0, 3.0, -4.0), (-1.5, 0.7, 0.4), (0.8, -2.2, 1.1), (3.0, 0.25, -0.5), (-0.6, -1.3, -0.9)]


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def unpack(value):
    """(f, dfdx, dfdw) as floats and a length-2 array, or a CheckFailure naming the problem."""
    if not isinstance(value, (tuple, list)):
        raise CheckFailure(f"sigmoid_unit must return a tuple (f, dfdx, dfdw); it returned "
                           f"{getattr(value, 'type_name', type(value).__name__)}\nhint: {CONVENTION}")
    if len(value) == 4:
        raise CheckFailure("sigmoid_unit returned 4 values\nhint: " + CONVENTION
                           + " (df/dw0 and df/dw1 together in one array)")
    if len(value) != 3:
        raise CheckFailure(f"sigmoid_unit must return 3 values (f, dfdx, dfdw); it returned "
                           f"{len(value)}\nhint: {CONVENTION}")
    f, dfdx = as_numeric(value[0], "f"), as_numeric(value[1], "dfdx")
    for what, item in (("f", f), ("dfdx", dfdx)):
        if item.size != 1:
            raise CheckFailure(f"{what} must be a single number; it has shape {item.shape}")
    dfdw = as_numeric(value[2], "dfdw")
    if dfdw.size != 2:
        raise CheckFailure(f"dfdw must hold 2 numbers [df/dw0, df/dw1]; it has shape {dfdw.shape}"
                           f"\nhint: {CONVENTION}")
    return float(f.reshape(())), float(dfdx.reshape(())), dfdw.reshape(2)


def diagnose_f(x, w, f):
    z = w[0] * x + w[1]
    if np.isclose(f, _sigmoid(-z), rtol=1e-6):
        return "sign error in the exponent: f = 1 / (1 + exp(-(w0*x + w1)))"
    if np.isclose(f, _sigmoid(w[0] * x), rtol=1e-6):
        return "the bias is missing: z = w0*x + w1"
    if np.isclose(f, _sigmoid(w[1] * x + w[0]), rtol=1e-6):
        return "w0 multiplies x and w1 is the bias: z = w0*x + w1, not w1*x + w0"
    return None


def diagnose_dfdx(x, w, dfdx):
    f = _sigmoid(w[0] * x + w[1])
    d = f * (1 - f)
    if np.isclose(dfdx, d, rtol=1e-6):
        return "chain rule: df/dx = f(1 - f) * dz/dx, and dz/dx = w0; the factor w0 is missing"
    if np.isclose(dfdx, d * x, rtol=1e-6):
        return "df/dx and df/dw0 are swapped: df/dx = f(1 - f) * w0, df/dw0 = f(1 - f) * x"
    if np.isclose(dfdx, -d * w[0], rtol=1e-6):
        return "df/dx has the wrong sign: the sigmoid's derivative is f(1 - f) >= 0"
    if np.isclose(dfdx, f * w[0], rtol=1e-6) or np.isclose(dfdx, (1 - f) * w[0], rtol=1e-6):
        return "the sigmoid's derivative is f * (1 - f)"
    return None


def diagnose_dfdw(x, w, dfdw):
    f = _sigmoid(w[0] * x + w[1])
    d = f * (1 - f)
    right = np.array([d * x, d])
    if np.allclose(dfdw, right[::-1], rtol=1e-6):
        return "dfdw is in the wrong order: dfdw = [df/dw0, df/dw1]"
    hints = []
    if np.isclose(dfdw[0], d * w[0], rtol=1e-6):
        hints.append("df/dx and df/dw0 are swapped: df/dw0 = f(1 - f) * x, df/dx = f(1 - f) * w0")
    elif np.isclose(dfdw[0], d, rtol=1e-6):
        hints.append("chain rule: df/dw0 = f(1 - f) * x; the factor x is missing")
    if np.isclose(dfdw[1], d * x, rtol=1e-6) and not np.isclose(d * x, d):
        hints.append("df/dw1 = f(1 - f): w1 is the bias, dz/dw1 = 1 (not x)")
    elif np.isclose(dfdw[1], d * w[1], rtol=1e-6):
        hints.append("df/dw1 = f(1 - f): dz/dw1 = 1, not w1")
    if np.allclose(dfdw, -right, rtol=1e-6):
        hints.append("dfdw has the wrong sign: the sigmoid's derivative is f(1 - f) >= 0")
    return "; ".join(hints) or None


def overflow_hint(result):
    message = (result.error or {}).get("message", "")
    if (result.error or {}).get("type") == "OverflowError" or "overflow" in message.lower():
        return ("exp overflowed for a large negative w0*x + w1: use np.exp (inf is fine: "
                "1 / (1 + inf) = 0) or exp(z) / (1 + exp(z)) for z < 0")
    return None


def student(submission, x, w):
    return unpack(call_student(submission, "sigmoid_unit", [x, np.array(w)], error_hint=overflow_hint))


@pytest.mark.problem("sigmoid_unit", points=1)
def test_value(submission, reference):
    """f = sigmoid(w0*x + w1) at five points"""
    for x, w0, w1 in POINTS:
        w = [w0, w1]
        f, _, _ = student(submission, x, w)
        assert_close(f, reference.sigmoid_unit(x, np.array(w))[0], rtol=RTOL, what=f"f at x={x}, w={w}",
                     hint=diagnose_f(x, w, f))


@pytest.mark.problem("sigmoid_unit", points=2)
def test_dfdx(submission, reference):
    """df/dx = f(1 - f) * w0 at five points"""
    for x, w0, w1 in POINTS:
        w = [w0, w1]
        _, dfdx, _ = student(submission, x, w)
        assert_close(dfdx, reference.sigmoid_unit(x, np.array(w))[1], rtol=RTOL,
                     what=f"dfdx at x={x}, w={w}", hint=diagnose_dfdx(x, w, dfdx))


@pytest.mark.problem("sigmoid_unit", points=2)
def test_dfdw(submission, reference):
    """dfdw = [df/dw0, df/dw1] = [f(1 - f) * x, f(1 - f)] at five points"""
    for x, w0, w1 in POINTS:
        w = [w0, w1]
        _, _, dfdw = student(submission, x, w)
        assert_close(dfdw, reference.sigmoid_unit(x, np.array(w))[2], rtol=RTOL,
                     what=f"dfdw at x={x}, w={w}", hint=diagnose_dfdw(x, w, dfdw))


@pytest.mark.problem("sigmoid_unit", points=1)
def test_derivatives_match_own_f(submission):
    """the derivatives agree with central differences of your own f"""
    h = 1e-6
    for x, w0, w1 in POINTS[:3]:
        w = np.array([w0, w1])
        _, dfdx, dfdw = student(submission, x, w)
        numeric = {
            "df/dx": (student(submission, x + h, w)[0] - student(submission, x - h, w)[0]) / (2 * h),
            "df/dw0": (student(submission, x, w + [h, 0])[0] - student(submission, x, w - [h, 0])[0]) / (2 * h),
            "df/dw1": (student(submission, x, w + [0, h])[0] - student(submission, x, w - [0, h])[0]) / (2 * h),
        }
        analytic = {"df/dx": dfdx, "df/dw0": dfdw[0], "df/dw1": dfdw[1]}
        wrong = [k for k in numeric if not np.isclose(analytic[k], numeric[k], rtol=1e-5, atol=1e-8)]
        if wrong:
            detail = ", ".join(f"{k}: yours {analytic[k]:.8g}, numerical {numeric[k]:.8g}" for k in wrong)
            raise CheckFailure(f"at x={x}, w={[float(v) for v in w]} the derivatives disagree with the rate of change "
                               f"of your own f (central differences, h={h:g}): {detail}\n"
                               "hint: differentiate exactly the f you return: with z = w0*x + w1, "
                               "df/dz = f(1 - f), dz/dx = w0, dz/dw0 = x, dz/dw1 = 1")


@pytest.mark.problem("sigmoid_unit", points=0.5)
@pytest.mark.parametrize("x", [200.0, -200.0], ids=["z=-800", "z=800"])
def test_large_preactivation_stays_finite(submission, reference, x):
    """f and its derivatives stay finite (and right) when |w0*x + w1| = 800"""
    w = [-4.0, 0.0]
    got = student(submission, x, w)
    want = reference.sigmoid_unit(x, np.array(w))
    values = np.array([got[0], got[1], *got[2]])
    if not np.all(np.isfinite(values)):
        raise CheckFailure(f"at x={x}, w={w} (z = {w[0] * x:g}) sigmoid_unit returned non-finite values "
                           f"(f, dfdx, dfdw) = ({got[0]}, {got[1]}, {list(got[2])})\n"
                           "hint: compute the derivative as f * (1 - f) from f; "
                           "exp(-z) / (1 + exp(-z))**2 overflows to inf / inf = nan for large negative z")
    assert_close(values, np.array([want[0], want[1], *want[2]]), rtol=RTOL,
                 what="(f, dfdx, df/dw0, df/dw1)")
